//! Fuzz target `label_value`: see `obs_fuzz::label_value` for what it checks.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| obs_fuzz::label_value(data));
