//! The API's other inputs: the first byte picks a JSON body type (job, what-if, sign-in,
//! share, requeue), a cohort or feature-group expression, or a `/ranked` query string; the
//! rest is parsed as that, against a small categorical LightGBM model.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = server::fuzzing::api_input(data);
});
