//! Dev-only support for Pinion's tests. Nothing here ships in the `pinion`
//! binary: crates take this as a `[dev-dependencies]` entry only.
//!
//! - [`Relay`]: a TCP relay between a client and a server that the test
//!   controls, to cut a database (or any peer) away, or to make it accept
//!   connections and never answer, while real processes talk through it.

mod relay;

pub use relay::{Relay, RelayMode};
