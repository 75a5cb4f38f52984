//! ONNX tree ensembles. Not written yet.

use super::Ensemble;
use crate::error::{Error, Result};

/// ONNX `ModelProto` starts with field 1 (`ir_version`, a varint): tag byte 0x08.
pub fn looks_like_onnx(bytes: &[u8]) -> bool {
    bytes.first() == Some(&0x08)
}

pub fn from_protobuf(_bytes: &[u8]) -> Result<Ensemble> {
    Err(Error::Unsupported(
        "ONNX models are not supported yet".into(),
    ))
}
