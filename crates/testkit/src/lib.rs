//! Dev-only support for Pinion's tests and benchmarks. Nothing here ships in
//! the `pinion` binary: crates take this as a `[dev-dependencies]` entry
//! only, and no library crate's unit tests use it (it depends on them).
//!
//! - [`simulator`]: a simulator on port 0 with one app and one user.
//! - [`authorization`]: the headless authorization flow, through the
//!   service library, against a simulator whose user auto-approves.
//! - [`database`]: fresh databases: [`TestDatabase`] (a uniquely named
//!   PostgreSQL database, dropped at the end) and [`TestDb`] (that, or a
//!   SQLite file in a temporary directory, with a keyring), and the store
//!   of a data directory as the binary opens it.
//! - [`process`]: waiting for a condition, a free port, and reading a
//!   started server's address from its banner.
//! - [`Relay`]: a TCP relay between a client and a server that the test
//!   controls, to cut a database (or any peer) away, or to make it accept
//!   connections and never answer, while real processes talk through it.

pub mod authorization;
pub mod database;
pub mod process;
mod relay;
pub mod simulator;

pub use authorization::{authorize, create_credential, headless_consent, make_due, oauth};
pub use database::{POSTGRES_ENV, TestDatabase, TestDb, open_data_dir};
pub use process::{ServerOutput, free_port, wait_for};
pub use relay::{Relay, RelayMode};
pub use simulator::{
    PINNER, REDIRECT, no_redirects, pinion_on, pinterest_user, simulator, simulator_with,
};
