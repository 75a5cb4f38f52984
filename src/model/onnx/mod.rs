//! ONNX tree ensembles (skl2onnx, onnxmltools): the `.onnx` file is the model, so shaplab
//! explains what onnxruntime computes from it — the raw score before `post_transform`.
//!
//! Layout:
//! - `proto`: hand-written prost messages for the few `onnx.proto` types needed, and typed
//!   access to attributes and tensors.
//! - `graph`: which graphs are accepted (ensembles plus harmless output operators), the input's
//!   element type, and which ensemble nodes make the score.
//! - `ensemble`: `TreeEnsembleRegressor`/`TreeEnsembleClassifier` (ml opsets 1 and 3), with
//!   onnxruntime's rules for outputs, base values and binary classifiers.
//! - `opset5`: `TreeEnsemble` (ml opset 5).
//! - `expand`: from ONNX node lists to shaplab trees, copying shared nodes and writing tests the
//!   engine has no kind for as exact small subtrees.
//!
//! ONNX stores no node covers (`nodes_hitrates` is 1.0 from every converter), so the ensemble
//! is marked [`Covers::None`]: interventional TreeSHAP against background rows is exact, while
//! path-dependent TreeSHAP first needs [`Ensemble::recompute_covers`].

mod ensemble;
mod expand;
mod graph;
mod opset5;
mod proto;

use super::{Covers, Ensemble, Link, ModelFormat};
use crate::error::{Error, Result};
use expand::RawNode;
use prost::Message;
use proto::ModelProto;

/// Largest ONNX file decoded. prost materialises every repeated field at once (an int64 list
/// takes up to 8 bytes per file byte), so the cap bounds memory at a few GiB even for a hostile
/// file; real tree models are tens of MB.
pub const MAX_ONNX_BYTES: usize = 1 << 28;

/// Most nodes (or leaves, or outputs) one ensemble node may declare.
pub const MAX_NODES: usize = 1 << 22;

/// Most shaplab tree nodes a model may expand to (one tree per output, shared nodes copied).
pub const MAX_EXPANDED_NODES: usize = 1 << 23;

/// `post_transform`: what onnxruntime applies to the raw scores.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PostTransform {
    None,
    Logistic,
    Softmax,
    SoftmaxZero,
    Probit,
}

impl PostTransform {
    fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "NONE" => PostTransform::None,
            "LOGISTIC" => PostTransform::Logistic,
            "SOFTMAX" => PostTransform::Softmax,
            "SOFTMAX_ZERO" => PostTransform::SoftmaxZero,
            "PROBIT" => PostTransform::Probit,
            _ => return None,
        })
    }

    fn name(self) -> &'static str {
        match self {
            PostTransform::None => "NONE",
            PostTransform::Logistic => "LOGISTIC",
            PostTransform::Softmax => "SOFTMAX",
            PostTransform::SoftmaxZero => "SOFTMAX_ZERO",
            PostTransform::Probit => "PROBIT",
        }
    }
}

/// One ensemble node, read: its trees with leaf weights mapped to outputs.
#[derive(Debug)]
pub struct Part {
    pub op: String,
    pub trees: Vec<expand::RawTree>,
    pub num_outputs: usize,
    /// Base value per output (0 when the node has none).
    pub base: Vec<f64>,
    pub post: PostTransform,
    /// One-target regression: onnxruntime applies no post_transform but PROBIT to it.
    pub single_target: bool,
    pub notes: Vec<String>,
}

/// A serialized `ModelProto` starts with field 1 (`ir_version`, tag byte 0x08) and a small
/// version, followed by another ModelProto field (or nothing).
pub fn looks_like_onnx(bytes: &[u8]) -> bool {
    let [0x08, rest @ ..] = bytes else {
        return false;
    };
    // The varint: ONNX IR versions are 1..=12 today; allow headroom.
    let Some(end) = rest.iter().take(10).position(|b| b & 0x80 == 0) else {
        return false;
    };
    let version = rest[..=end]
        .iter()
        .rev()
        .fold(0u64, |v, b| (v << 7) | (b & 0x7f) as u64);
    if !(1..=64).contains(&version) {
        return false;
    }
    match rest.get(end + 1) {
        None => true,
        // producer_name..doc_string (2–6), graph (7), opset_import (8) are length-delimited;
        // model_version (5) is a varint; metadata_props (14) and later fields use two-byte
        // tags starting 0x72, 0xa2, 0xca.
        Some(&tag) => {
            matches!(
                tag,
                0x12 | 0x1a | 0x22 | 0x28 | 0x32 | 0x3a | 0x42 | 0x72 | 0xa2 | 0xca
            )
        }
    }
}

pub fn from_protobuf(bytes: &[u8]) -> Result<Ensemble> {
    if bytes.len() > MAX_ONNX_BYTES {
        return Err(Error::Unsupported(format!(
            "the ONNX file has {} bytes; shaplab reads ONNX models up to {} MiB",
            bytes.len(),
            MAX_ONNX_BYTES >> 20
        )));
    }
    let model = ModelProto::decode(bytes).map_err(|e| Error::Syntax {
        format: "ONNX",
        location: "protobuf".into(),
        message: e.to_string(),
    })?;
    let plan = graph::plan(&model)?;
    let graph = model.graph.as_ref().ok_or_else(|| Error::Syntax {
        format: "ONNX",
        location: "graph".into(),
        message: "the model has no graph".into(),
    })?;
    let mut parts: Vec<Part> = Vec::with_capacity(plan.ensembles.len());
    for &i in &plan.ensembles {
        let node = &graph.node[i];
        parts.push(match node.op_type.as_str() {
            "TreeEnsemble" => opset5::from_v5(node, plan.elem)?,
            _ => ensemble::from_v3(node, plan.elem)?,
        });
    }
    let mut notes = Vec::new();
    if !model.producer_name.is_empty() {
        notes.push(format!(
            "ONNX model written by {} {} (ir_version {}, ai.onnx.ml opset {})",
            model.producer_name, model.producer_version, model.ir_version, plan.ml_opset
        ));
    }
    notes.extend(plan.notes.iter().cloned());
    let (link, num_outputs, base, objective) = combine(&parts, plan.exp, &mut notes)?;
    notes.push(format!(
        "thresholds are compared in {}, the element type of the graph input, as onnxruntime does",
        plan.elem.name()
    ));

    let max_feature = parts
        .iter()
        .flat_map(|p| &p.trees)
        .flat_map(|t| &t.nodes)
        .filter_map(|n| match n {
            RawNode::Branch { feature, .. } => Some(*feature),
            RawNode::Leaf { .. } => None,
        })
        .max();
    let num_features = match (plan.num_features, max_feature) {
        (Some(f), Some(m)) if m >= f => {
            return Err(Error::model(
                "graph input",
                format!("a node splits on feature {m}, but the input has {f} columns"),
            ));
        }
        (Some(f), _) => f,
        (None, m) => m.map_or(1, |m| m + 1),
    };

    let mut trees = Vec::new();
    let mut tree_output = Vec::new();
    let mut budget = MAX_EXPANDED_NODES;
    let (mut shared, mut chains) = (0, 0);
    for raw in parts.iter_mut().flat_map(|p| &mut p.trees) {
        raw.check_acyclic()?;
        chains += raw.collapse_eq_chains();
        shared += raw.check_acyclic()?;
        for o in raw.outputs() {
            let index = trees.len();
            trees.push(raw.build(o, plan.elem, &mut budget, index, num_features)?);
            tree_output.push(o);
        }
    }
    if chains > 0 {
        notes.push(format!(
            "{chains} chains of BRANCH_EQ tests sharing their true branch (onnxmltools writes a \
             categorical split so) are read as one set split each"
        ));
    }
    if shared > 0 {
        notes.push(format!(
            "{shared} tree nodes have several parents; each parent got its own copy"
        ));
    }
    notes.push(
        "ONNX stores no node covers: interventional TreeSHAP against background rows is exact; \
         path-dependent TreeSHAP needs covers recomputed from a dataset"
            .into(),
    );
    let mut ensemble = Ensemble::new(
        ModelFormat::Onnx,
        objective,
        num_features,
        num_outputs,
        None,
        base,
        link,
        trees,
        tree_output,
    )?;
    ensemble.covers = Covers::None;
    ensemble.notes = notes;
    Ok(ensemble)
}

/// One score from all ensemble nodes: their outputs, summed base values, the link, and the
/// objective's name.
fn combine(
    parts: &[Part],
    exp: bool,
    notes: &mut Vec<String>,
) -> Result<(Link, usize, Vec<f64>, String)> {
    let first = &parts[0];
    let k = first.num_outputs;
    if parts.len() > 1 {
        if let Some(p) = parts
            .iter()
            .find(|p| p.post != PostTransform::None || p.num_outputs != k)
        {
            return Err(Error::Unsupported(format!(
                "the graph adds {} tree ensembles, but one has {} outputs and post_transform {}: \
                 only raw scores (post_transform NONE) of equal width add up to one ensemble",
                parts.len(),
                p.num_outputs,
                p.post.name()
            )));
        }
        notes.push(format!(
            "{} ensemble nodes joined by Sum are explained as one ensemble",
            parts.len()
        ));
    }
    let mut base = vec![0.0; k];
    for p in parts {
        for (b, v) in base.iter_mut().zip(&p.base) {
            *b += v;
        }
        notes.extend(p.notes.iter().cloned());
    }
    let post = first.post;
    let objective = format!("{} post_transform {}", first.op, post.name());
    let raw_only = |notes: &mut Vec<String>, why: String| {
        notes.push(format!(
            "{why}: shaplab explains the raw score, and predictions are raw scores"
        ));
        Link::Identity
    };
    let link = if exp {
        if post != PostTransform::None {
            return Err(Error::Unsupported(format!(
                "the score goes through post_transform {} and then Exp; shaplab explains one link",
                post.name()
            )));
        }
        notes.push("the graph applies Exp to the score: a log link".into());
        Link::Log
    } else {
        match post {
            PostTransform::None => Link::Identity,
            PostTransform::Logistic | PostTransform::Softmax if first.single_target => raw_only(
                notes,
                format!(
                    "onnxruntime ignores post_transform {} on a single-target regressor",
                    post.name()
                ),
            ),
            PostTransform::Logistic => Link::Logistic { scale: 1.0 },
            PostTransform::Softmax if k >= 2 => Link::Softmax,
            other => raw_only(
                notes,
                format!(
                    "post_transform {} on {k} output(s) has no shaplab link",
                    other.name()
                ),
            ),
        }
    };
    Ok((link, k, base, objective))
}
