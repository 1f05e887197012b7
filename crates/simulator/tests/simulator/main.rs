//! Integration tests of the simulator over real HTTP on loopback: the OAuth flows, the
//! strictness table, spec conformance of every implemented operation, pagination, writes,
//! faults, statistics and the control API.

mod browser;
mod canary;
mod conformance;
mod control;
mod data;
mod helpers;
mod strictness;
mod tidy;
mod tls;
mod tokens;
