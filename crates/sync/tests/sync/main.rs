//! Integration tests of the sync and the publisher against the simulator
//! over real HTTP on loopback.

#[path = "../support/sim.rs"]
mod sim;

mod helpers;

mod cli;
mod crash;
mod custom;
mod exactness;
mod faults;
mod pacing;
mod publish;
