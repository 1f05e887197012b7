//! The web UI end to end: sign-in and sessions, access control on every
//! route, CSRF refusal on every form, security headers, secrets never in a
//! page, the overlay's error handling, the authorization flow over HTTP, and
//! the whole flow in headless Chromium against the simulator's real pages.

mod access;
mod api;
mod browser;
mod destinations;
mod flow;
mod helpers;
mod pages;
mod revoked;
mod runs;
mod settings;
mod setup;
mod sharing;
mod sources;
mod tokens;
