//! Any bytes as a model file: XGBoost JSON/UBJSON, LightGBM text, CatBoost JSON, skops zip,
//! ONNX protobuf (detected by content), then one row explained.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| shaplab::fuzzing::model_file(data));
