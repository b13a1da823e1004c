//! Integration tests: one crate so the test binaries link once.

mod bad_input;
#[cfg(feature = "cli")] // runs the `mmarrow` binary, built only with `cli`
mod cli;
mod common;
mod convert;
mod crash;
mod table;
mod views;
mod write;
