//! Integration tests: one crate so the test binaries link once.

mod bad_corpus;
mod bad_input;
#[cfg(feature = "cli")] // runs the `mmarrow` binary, built only with `cli`
mod cli;
#[cfg(feature = "cli")] // runs the `mmarrow` binary
mod cli_messages;
mod common;
mod concurrency;
mod convert;
mod crash;
#[cfg(feature = "datafusion")]
mod datafusion;
#[cfg(feature = "fault-injection")] // needs the named failure points
mod faults;
mod hardening_inputs;
mod hardening_output;
#[cfg(feature = "cli")] // runs the `mmarrow` binary
mod signals;
mod table;
mod table_stats;
mod table_types;
mod views;
mod write;
