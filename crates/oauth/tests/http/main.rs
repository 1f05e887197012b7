//! Integration tests of the token client against a fake token endpoint on
//! loopback, over real HTTP: request shape, answer parsing, error
//! classification, hardening (timeouts, redirects, size caps) and the canary
//! check that no secret reaches an error or a log.

mod exchange;
mod failures;
mod fake_endpoint;
mod refresh;
