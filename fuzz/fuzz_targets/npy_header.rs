#![no_main]
//! Fuzz target: see common.rs (`npy_header`).

mod common;

libfuzzer_sys::fuzz_target!(|data: &[u8]| common::npy_header(data));
