#![no_main]
//! Fuzz target: see common.rs (`ipc`). Third-party decoder panics are
//! recorded and skipped (guard.rs) until the library catches them itself.

mod common;
mod guard;

use std::path::PathBuf;
use std::sync::OnceLock;

static SCRATCH: OnceLock<PathBuf> = OnceLock::new();

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let scratch = SCRATCH.get_or_init(common::process_scratch);
    guard::run(data, || common::ipc(data, scratch));
    common::clear(scratch);
});
