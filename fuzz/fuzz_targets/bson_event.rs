#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| stream_fuzzing::bson_event(data));
