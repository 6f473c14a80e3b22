//! Fuzz target `exposition`: see `obs_fuzz::exposition` for what it checks.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| obs_fuzz::exposition(data));
