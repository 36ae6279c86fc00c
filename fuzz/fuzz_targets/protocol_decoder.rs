//! Fuzz target: bytes a hostile worker (or parent) could send, through the
//! protocol's frame buffer, frame reader and message decoders.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| dummymp_fuzz::protocol_decoder(data));
