//! Fuzz target `request_id`: see `obs_fuzz::request_id` for what it checks.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| obs_fuzz::request_id(data));
