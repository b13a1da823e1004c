#![no_main]
//! Fuzz target: see common.rs (`manifest`).

mod common;

libfuzzer_sys::fuzz_target!(|data: &[u8]| common::manifest(data));
