//! Integration tests: one crate so the test binaries link once.

mod bad_input;
mod cli;
mod common;
mod convert;
mod crash;
mod table;
mod views;
mod write;
