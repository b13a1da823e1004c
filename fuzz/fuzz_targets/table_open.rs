#![no_main]
//! Fuzz target: see common.rs (`table_open`).

mod common;

use std::path::PathBuf;
use std::sync::OnceLock;

static SCRATCH: OnceLock<PathBuf> = OnceLock::new();

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    common::table_open(data, SCRATCH.get_or_init(common::process_scratch))
});
