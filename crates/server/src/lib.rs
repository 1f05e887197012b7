//! Pinion's HTTP surface: the JSON API under `/api/v1`, health and readiness
//! probes, the OAuth callback and its landing page (in `oauth`), all from one
//! axum router, plus the background token refresher.
//!
//! This crate is an adapter: handlers translate HTTP into calls to
//! `pinion-service` and results back into HTTP. It holds no business rules.

pub mod api;
pub mod config;
pub mod connections;
mod headers;
mod health;
pub mod limits;
pub mod metrics;
pub mod oauth;
pub mod startup;
mod state;
pub mod web;

pub use config::Settings;
pub use startup::Application;
pub use state::{AppState, Services};
