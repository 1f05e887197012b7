//! Pinion's sync: reads a Pinterest account's streams (user account, boards,
//! sections, pins, ad accounts and their analytics) into JSON Lines files,
//! SQLite, PostgreSQL or stdout, with checkpoints after every durable commit
//! so a killed run resumes with every record exactly once; and publishes
//! pins and boards from files through a ledger so nothing is created twice.
//!
//! - [`run`]: the sync engine ([`run::run`], [`SyncJob`], [`SyncOptions`],
//!   [`SyncReport`]).
//! - [`destination`]: the [`Destination`] trait and its implementations.
//! - [`state`]: run state and the publish ledger, which are Pinion's
//!   store's ([`SyncStateStore`], also named [`RunStateStore`] and
//!   [`PublishLedger`] here), in the store or in a standalone SQLite file or
//!   PostgreSQL database ([`state::open`]).
//! - [`publish`]: creating pins and boards from JSON Lines.
//! - [`custom`]: any GET operation of Pinterest's OpenAPI spec as a stream.
//! - [`custom_write`]: any POST or PATCH operation of the spec, fed from
//!   JSON Lines rows through a field mapping, validated before sending.
//! - [`command`]: the `pinion sync` and `pinion publish` commands as library
//!   calls with plain requests; the binary parses and prints.
#![warn(missing_docs)]
// `ApiError` (held by `SyncError`) is large by design; errors are returned
// once per failed run.
#![allow(clippy::result_large_err)]

pub mod command;
pub mod custom;
pub mod custom_write;
pub mod destination;
pub mod error;
pub mod publish;
pub mod run;
pub mod source;
pub mod state;
pub mod stream;

pub use custom::{CustomError, CustomPlan, CustomRequest};
pub use destination::{Destination, StreamSink};
pub use error::{DestinationError, StateError, SyncError};
pub use run::{ProgressObserver, StreamOutcome, StreamReport, SyncJob, SyncOptions, SyncReport};
pub use source::AnalyticsWindow;
pub use state::{PublishLedger, RunStateStore, SyncStateStore};
pub use stream::{StreamName, SyncRecord};
