//! Fuzz target: command templates and input values, through the CLI's
//! replacement-string parser and command rendering.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| dummymp_fuzz::cli_template(data));
