//! scikit-learn tree models saved with skops (`skops.io.dump(model, "model.skops")`), loaded
//! without executing anything.
//!
//! A `.skops` file is a zip of `schema.json` (the object tree as skops nodes) and one `.npy`
//! per numeric array. Loading never runs Python or any code the file names: the zip is read
//! in memory under caps (`archive`), every node of the schema is checked against an
//! allowlist of classes (`allowlist`, `schema`), and only then are the fitted attributes of
//! the root estimator read as data (`npy`, with its header literals in `pylit`).
//!
//! # Layout
//! - `archive`: the zip, with entry-count, per-entry and total inflate caps.
//! - `npy`, `pylit`: `.npy` arrays (v1–v3 headers, plain and structured dtypes).
//! - `schema`: skops nodes with attribute paths for errors, and the allowlist walk.
//! - `allowlist`: the classes and node kinds a file may contain.
//! - `sklearn_tree`: `sklearn.tree._tree.Tree` → the engine's tree builder.
//! - `forest`: DecisionTree*, ExtraTree*, RandomForest*, ExtraTrees*.
//! - `gradient_boosting`: GradientBoosting* with their init estimators.
//! - `hist_gradient_boosting`, `hgb_layout`: HistGradientBoosting*, including the column
//!   order and category names of its categorical preprocessor.
//! - `common`: attributes all families read alike (features, classes, names).

mod allowlist;
mod archive;
mod common;
mod forest;
mod gradient_boosting;
mod hgb_layout;
mod hist_gradient_boosting;
mod npy;
mod pylit;
mod schema;
mod sklearn_tree;

pub use archive::ZipLimits;

use super::Ensemble;
use crate::error::{Error, Result};
use archive::Archive;
use schema::Node;

/// Load a skops file with the default caps.
pub fn from_zip(bytes: &[u8]) -> Result<Ensemble> {
    from_zip_with_limits(bytes, ZipLimits::default())
}

/// Load a skops file, inflating no more than `limits` allow.
pub fn from_zip_with_limits(bytes: &[u8], limits: ZipLimits) -> Result<Ensemble> {
    let zip = Archive::open(bytes, limits)?;
    let doc = schema::parse(&zip.read(archive::SCHEMA)?)?;
    let root = Node::root(&doc, &zip);
    let (module, class) = (root.module(), root.class());
    // The root first, so a file holding another estimator is named as such.
    if !(allowlist::ESTIMATORS.contains(&class) && allowlist::allowed(module, class)) {
        return Err(Error::Unsupported(format!(
            "the skops file holds a {module}.{class}, which shaplab does not explain. {}",
            allowlist::accepted()
        )));
    }
    schema::check(&doc, &mut String::new())?;
    let mut ensemble = match class {
        c if c.starts_with("HistGradientBoosting") => hist_gradient_boosting::load(&root, c)?,
        c if c.starts_with("GradientBoosting") => gradient_boosting::load(&root, c)?,
        c => forest::load(&root, c)?,
    };
    if let Some(v) = root.attr("_sklearn_version").and_then(|v| v.as_str().ok()) {
        ensemble.notes.push(format!("saved by scikit-learn {v}"));
    }
    Ok(ensemble)
}
