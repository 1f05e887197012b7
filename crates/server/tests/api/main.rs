//! Integration tests of the JSON API: each test spawns the real server on port 0
//! with a fresh SQLite database and talks to it over loopback HTTP.

mod access;
mod bounds;
mod browser;
mod credentials;
mod destinations;
mod health;
mod helpers;
mod metrics;
mod oauth;
mod openapi;
mod runs;
mod sharing;
mod webhooks;
