//! Any bytes as the body of `POST /api/uploads` (multipart/form-data, boundary `fuzz`):
//! received, checked, described and stored exactly as the route does.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = server::fuzzing::upload(data);
});
