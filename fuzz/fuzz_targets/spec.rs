//! Fuzz target `spec`: see `obs_fuzz::spec` for what it checks.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| obs_fuzz::spec(data));
