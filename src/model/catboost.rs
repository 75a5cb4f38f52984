//! CatBoost JSON loader (`save_model(path, format="json")`). Not written yet.

use super::Ensemble;
use crate::error::{Error, Result};

pub fn from_document(_doc: &serde_json::Value) -> Result<Ensemble> {
    Err(Error::Unsupported(
        "CatBoost JSON models are not supported yet".into(),
    ))
}
