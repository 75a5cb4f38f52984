//! scikit-learn models saved with skops. Not written yet.

use super::Ensemble;
use crate::error::{Error, Result};

pub fn from_zip(_bytes: &[u8]) -> Result<Ensemble> {
    Err(Error::Unsupported(
        "skops files are not supported yet".into(),
    ))
}
