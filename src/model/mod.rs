//! The one in-memory tree-ensemble form every explainer uses, and the loaders that build it.
//!
//! A loader's job ends at [`Ensemble::new`], which checks the cross-tree invariants; each tree
//! was already checked by [`TreeBuilder::build`]. After that, explainers trust the structure.

mod catboost;
mod category_test;
mod covers;
mod lightgbm;
mod onnx;
mod route;
mod skops;
mod tree;
mod ubjson;
mod value;
mod xgboost;

pub use covers::UNREACHED_COVER;
pub use skops::{ZipLimits as SkopsLimits, from_zip_with_limits as from_skops_with_limits};
pub use tree::{MAX_CATEGORY, MAX_DEPTH, MissingType, Split, Tree, TreeBuilder, bitset_of};

pub(crate) use catboost::cat_feature_hash;
pub(crate) use category_test::CategoryTest;
pub(crate) use route::NumericTest;

use crate::error::{Error, Result};
use std::path::Path;

/// Largest model file read into memory. A 500-tree depth-8 model is a few MB; 1 GiB leaves
/// room for huge real models while refusing to swallow a disk.
pub const MAX_MODEL_BYTES: u64 = 1 << 30;

/// Where a model came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ModelFormat {
    XgboostJson,
    XgboostUbjson,
    LightgbmText,
    CatboostJson,
    /// A scikit-learn estimator saved with skops (a zip of `schema.json` + `.npy` arrays).
    Skops,
    Onnx,
}

impl ModelFormat {
    pub fn name(self) -> &'static str {
        match self {
            ModelFormat::XgboostJson => "XGBoost JSON",
            ModelFormat::XgboostUbjson => "XGBoost UBJSON",
            ModelFormat::LightgbmText => "LightGBM text",
            ModelFormat::CatboostJson => "CatBoost JSON",
            ModelFormat::Skops => "scikit-learn (skops)",
            ModelFormat::Onnx => "ONNX",
        }
    }
}

/// What the loaders accept, for the message when nothing fits.
pub const ACCEPTED: &str = "shaplab reads XGBoost JSON or UBJSON (save_model(\"model.json\")), \
LightGBM text (save_model(\"model.txt\")), CatBoost JSON (save_model(\"model.json\", format=\"json\")), \
scikit-learn tree models saved with skops (skops.io.dump(model, \"model.skops\")) and ONNX tree \
ensembles (skl2onnx, onnxmltools)";

/// Why a pickle is refused, and the one line that converts it.
pub const PICKLE_REFUSED: &str = "this is a Python pickle (.pkl/.joblib): loading one runs \
arbitrary code, so shaplab never does. Convert it once with skops, where you trust the file: \
python -c \"import joblib, skops.io; skops.io.dump(joblib.load('model.pkl'), 'model.skops')\"";

/// Why a compressed file is refused: joblib compresses its pickles (`compress=`) with these.
pub const COMPRESSED_REFUSED: &str = "this file is compressed (gzip, bz2, xz or lz4), as joblib \
writes pickles with compress=: if it is a pickle, shaplab never loads one (it runs arbitrary \
code); convert it once with skops, where you trust the file: python -c \"import joblib, \
skops.io; skops.io.dump(joblib.load('model.pkl'), 'model.skops')\". If it is a compressed \
model file, decompress it and upload the file inside";

/// Pickle protocol 2+ starts with 0x80 and the protocol number; joblib's zlib-compressed
/// pickles with a zlib header. Protocols 0 and 1 are opcodes in text: a tuple, list, dict or
/// global first and the STOP opcode `.` last.
fn is_pickle(bytes: &[u8]) -> bool {
    let last = bytes.iter().rposition(|b| !b.is_ascii_whitespace());
    matches!(bytes, [0x80, 2..=5, ..])
        || matches!(bytes, [0x78, 0x01 | 0x5e | 0x9c | 0xda, ..])
        || (matches!(bytes, [b'(' | b']' | b'}' | b'c', ..])
            && last.is_some_and(|i| bytes[i] == b'.'))
}

/// gzip, bz2, xz and lz4 frames: what joblib's other `compress=` methods write.
fn is_compressed(bytes: &[u8]) -> bool {
    bytes.starts_with(&[0x1f, 0x8b])
        || bytes.starts_with(b"BZh")
        || bytes.starts_with(&[0xfd, b'7', b'z', b'X', b'Z', 0x00])
        || bytes.starts_with(&[0x04, 0x22, 0x4d, 0x18])
}

/// A JSON model: XGBoost has a `learner`, CatBoost `oblivious_trees` or `trees` with
/// `features_info`.
fn from_json(bytes: &[u8]) -> Result<Ensemble> {
    let doc: serde_json::Value = serde_json::from_slice(bytes).map_err(|e| Error::Syntax {
        format: "JSON",
        location: format!("line {}, column {}", e.line(), e.column()),
        message: e.to_string(),
    })?;
    if doc.get("learner").is_some() {
        xgboost::from_value(doc)
    } else if doc.get("features_info").is_some()
        || doc.get("oblivious_trees").is_some()
        || doc.get("model_info").is_some()
    {
        catboost::from_document(doc)
    } else {
        Err(Error::UnknownFormat(format!(
            "a JSON file that is neither an XGBoost model (no \"learner\") nor a CatBoost model \
             (no \"features_info\"). {ACCEPTED}"
        )))
    }
}

/// The map from the raw margin to the model's prediction scale.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Link {
    /// Prediction = margin (regression, `binary:logitraw`, …).
    Identity,
    /// Prediction = 1 / (1 + exp(-scale · margin)), per output.
    Logistic { scale: f64 },
    /// Prediction = exp(margin) (poisson, gamma, tweedie, cox).
    Log,
    /// Prediction = softmax over the outputs (multiclass).
    Softmax,
}

impl Link {
    /// Margin → prediction for one output; `None` for links that mix outputs (softmax).
    pub fn transform(self, margin: f64) -> Option<f64> {
        match self {
            Link::Identity => Some(margin),
            Link::Logistic { scale } => Some(1.0 / (1.0 + (-scale * margin).exp())),
            Link::Log => Some(margin.exp()),
            Link::Softmax => None,
        }
    }
}

/// What a categorical feature holds: its categories' names in code order (empty when the model
/// stores only integer codes), and the value a name the model never saw becomes.
#[derive(Clone, Debug, PartialEq)]
pub struct Categories {
    pub names: Vec<String>,
    /// NaN (missing, LightGBM's pandas rule) or a code no split's set holds (XGBoost routes an
    /// unknown code as "not in the set"; its Python API refuses unseen names instead).
    pub unseen: f64,
    /// How the unseen rule reads in words, for notes and reports.
    pub unseen_rule: &'static str,
    /// CatBoost only: a cell's code is the position of its hash (`cat_feature_hash`) in this
    /// list, because CatBoost routes by the hash of the text and its file may store no names;
    /// `names` then only label the codes. `None` for every other library.
    pub hashed: Option<Vec<u32>>,
}

/// A validated tree ensemble: per-output trees, a base margin per output, and the link.
#[derive(Clone, Debug)]
pub struct Ensemble {
    pub format: ModelFormat,
    /// The objective as the file names it (e.g. `binary:logistic`, `multiclass`).
    pub objective: String,
    pub num_features: usize,
    pub num_outputs: usize,
    /// Feature names from the model, when it stores them.
    pub feature_names: Option<Vec<String>>,
    /// Margin-space intercept of each output (XGBoost's transformed base_score; 0 for LightGBM,
    /// whose init score lives in the first trees).
    pub base_margin: Vec<f64>,
    pub link: Link,
    /// Factor between the raw margin and the link's input: 1, except for LightGBM random
    /// forests, whose raw margin is the sum of the trees but whose prediction uses their mean.
    pub margin_scale: f64,
    pub trees: Vec<Tree>,
    /// Output index of each tree.
    pub tree_output: Vec<usize>,
    /// Facts the user should know about how the model was read (e.g. best_iteration ignored).
    pub notes: Vec<String>,
    /// Per feature: `Some` for a categorical feature, `None` for a numeric one.
    pub categories: Vec<Option<Categories>>,
    /// Where the covers path-dependent TreeSHAP uses came from.
    pub covers: Covers,
}

/// Where a model's node covers (TreeSHAP's conditional-expectation weights) come from.
#[derive(Clone, Debug, PartialEq)]
pub enum Covers {
    /// Stored in the model file by the library that trained it.
    Model,
    /// Recomputed by routing a dataset through the trees (the file stores none).
    Recomputed { rows: usize, source: String },
    /// The file stores none: only interventional TreeSHAP (against background rows) is exact.
    None,
}

impl Ensemble {
    /// Check cross-tree invariants and build the ensemble.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        format: ModelFormat,
        objective: String,
        num_features: usize,
        num_outputs: usize,
        feature_names: Option<Vec<String>>,
        base_margin: Vec<f64>,
        link: Link,
        trees: Vec<Tree>,
        tree_output: Vec<usize>,
    ) -> Result<Self> {
        if num_outputs == 0 {
            return Err(Error::model("model", "model has zero outputs"));
        }
        if num_features == 0 {
            return Err(Error::model("model", "model has zero features"));
        }
        if base_margin.len() != num_outputs {
            return Err(Error::model(
                "base_score",
                format!(
                    "{} base scores for {num_outputs} outputs",
                    base_margin.len()
                ),
            ));
        }
        if let Some(bad) = base_margin.iter().find(|b| !b.is_finite()) {
            return Err(Error::model(
                "base_score",
                format!("base margin {bad} is not finite"),
            ));
        }
        if tree_output.len() != trees.len() {
            return Err(Error::model(
                "tree_info",
                format!(
                    "{} tree output indices for {} trees",
                    tree_output.len(),
                    trees.len()
                ),
            ));
        }
        if let Some((i, o)) = tree_output
            .iter()
            .enumerate()
            .find(|(_, o)| **o >= num_outputs)
        {
            return Err(Error::model(
                "tree_info",
                format!("tree {i} belongs to output {o}, but the model has {num_outputs} outputs"),
            ));
        }
        if let Some(names) = &feature_names
            && names.len() != num_features
        {
            return Err(Error::model(
                "feature_names",
                format!("{} feature names for {num_features} features", names.len()),
            ));
        }
        if link == Link::Softmax && num_outputs < 2 {
            return Err(Error::model(
                "objective",
                "softmax link needs at least two outputs",
            ));
        }
        Ok(Ensemble {
            format,
            objective,
            num_features,
            num_outputs,
            feature_names,
            base_margin,
            link,
            margin_scale: 1.0,
            trees,
            tree_output,
            notes: Vec::new(),
            categories: vec![None; num_features],
            covers: Covers::Model,
        })
    }

    /// Detect the format from the bytes (never from a file name) and load.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
        let start = bytes
            .iter()
            .position(|b| !b.is_ascii_whitespace())
            .ok_or_else(|| Error::UnknownFormat("the model file is empty".into()))?;
        let head = &bytes[start..];
        if let Some(rest) = head.strip_prefix(b"{") {
            // UBJSON follows `{` with a key-length marker or a container marker; JSON with
            // whitespace, a quote or `}`.
            match rest.first() {
                Some(b'i' | b'U' | b'I' | b'l' | b'L' | b'$' | b'#') => xgboost::from_ubjson(bytes),
                _ => from_json(bytes),
            }
        } else if head.starts_with(b"tree\n") || head.starts_with(b"tree\r\n") {
            lightgbm::from_text(bytes)
        } else if bytes.starts_with(b"PK\x03\x04") {
            skops::from_zip(bytes)
        } else if is_pickle(bytes) {
            Err(Error::Unsupported(PICKLE_REFUSED.into()))
        } else if is_compressed(bytes) {
            Err(Error::Unsupported(COMPRESSED_REFUSED.into()))
        } else if onnx::looks_like_onnx(bytes) {
            onnx::from_protobuf(bytes)
        } else {
            let shown: String = head
                .iter()
                .take(16)
                .map(|&b| if b.is_ascii_graphic() { b as char } else { '.' })
                .collect();
            Err(Error::UnknownFormat(format!(
                "the file starts with {shown:?}. {ACCEPTED}"
            )))
        }
    }

    /// Read and load a model file.
    pub fn from_path(path: &Path) -> Result<Self> {
        let bytes = crate::io::read_capped(path, MAX_MODEL_BYTES, "model")?;
        Self::from_bytes(&bytes)
    }

    /// Name of feature `i`: the model's own, or `f{i}`.
    pub fn feature_name(&self, i: usize) -> String {
        match &self.feature_names {
            Some(names) => names[i].clone(),
            None => format!("f{i}"),
        }
    }

    /// Expected raw margin per output: the base values of path-dependent TreeSHAP.
    pub fn expected_values(&self) -> Vec<f64> {
        let mut out = self.base_margin.clone();
        for (tree, &o) in self.trees.iter().zip(&self.tree_output) {
            out[o] += tree.expected;
        }
        out
    }

    /// Raw margins of one row, one per output.
    pub fn predict_margin(&self, row: &[f64], out: &mut [f64]) {
        out.copy_from_slice(&self.base_margin);
        for (tree, &o) in self.trees.iter().zip(&self.tree_output) {
            out[o] += tree.predict(row);
        }
    }

    /// Map one output's raw margin to the prediction scale; `None` for softmax models, whose
    /// outputs mix (see [`Ensemble::predict`]).
    pub fn transform(&self, margin: f64) -> Option<f64> {
        self.link.transform(margin * self.margin_scale)
    }

    /// The model's predictions for one row (probabilities, counts, …), as the library's own
    /// `predict` returns them (class probabilities for multiclass models).
    pub fn predict(&self, row: &[f64]) -> Vec<f64> {
        let mut m = vec![0.0; self.num_outputs];
        self.predict_margin(row, &mut m);
        if self.link == Link::Softmax {
            let top = m
                .iter()
                .fold(f64::NEG_INFINITY, |a, &b| a.max(b * self.margin_scale));
            let exps: Vec<f64> = m
                .iter()
                .map(|&x| (x * self.margin_scale - top).exp())
                .collect();
            let total: f64 = exps.iter().sum();
            exps.into_iter().map(|e| e / total).collect()
        } else {
            m.iter().map(|&x| self.transform(x).unwrap_or(x)).collect()
        }
    }

    /// The categories of feature `i`, when it is categorical.
    pub fn categories_of(&self, i: usize) -> Option<&Categories> {
        self.categories.get(i).and_then(Option::as_ref)
    }

    /// True when any feature is categorical.
    pub fn has_categories(&self) -> bool {
        self.categories.iter().any(Option::is_some)
    }

    /// Deepest tree.
    pub fn max_depth(&self) -> usize {
        self.trees.iter().map(|t| t.depth).max().unwrap_or(0)
    }

    /// Leaves over all trees: path-dependent TreeSHAP visits each of them once per row.
    pub fn total_leaves(&self) -> usize {
        self.trees
            .iter()
            .map(|t| (0..t.num_nodes()).filter(|&n| t.is_leaf(n)).count())
            .sum()
    }
}
