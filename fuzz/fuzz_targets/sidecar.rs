#![no_main]
//! Fuzz target: see common.rs (`sidecar`).

mod common;

libfuzzer_sys::fuzz_target!(|data: &[u8]| common::sidecar(data));
