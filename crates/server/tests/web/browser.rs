//! The browser test lives here.
