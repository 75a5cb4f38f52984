//! Which ONNX graphs are tree ensembles shaplab can explain, and what their score is.
//!
//! Converters never emit a bare ensemble node: skl2onnx puts `Cast` on the label and `ZipMap`
//! on the probabilities, onnxmltools adds `Identity`, a `Mul` by a constant 1, an `Exp` for
//! LightGBM's log-link objectives, and may split one model into several ensemble nodes whose
//! scores a `Sum` adds. Those are accepted; anything else (a `Scaler`, a `Normalizer`, a
//! `MatMul`) changes what the trees see or what the model returns, and an explanation of the
//! trees alone would silently describe another model — so it is refused, naming the operators.
//!
//! The check walks back from every graph output to the ensembles: outputs that come from a
//! classifier's label are ignored, and all others must be the same score.

use super::proto::{Elem, GraphProto, ModelProto, NodeProto, TensorProto, data_type};
use crate::error::{Error, Result};
use std::cell::RefCell;
use std::collections::{BTreeSet, HashMap};

/// Operators that hold trees.
pub const ENSEMBLE_OPS: [&str; 3] = [
    "TreeEnsembleRegressor",
    "TreeEnsembleClassifier",
    "TreeEnsemble",
];

/// Longest chain of operators between an output and an ensemble (a cycle in a hostile graph
/// would otherwise recurse forever).
const MAX_CHAIN: usize = 64;

/// What the graph computes, as far as the explainer cares.
#[derive(Debug)]
pub struct Plan {
    /// Element type of the one input tensor: every comparison happens in it.
    pub elem: Elem,
    /// Columns of the input, when its shape states them.
    pub num_features: Option<usize>,
    /// Indices (in `graph.node`) of the ensemble nodes whose scores are added.
    pub ensembles: Vec<usize>,
    /// The score passes through `Exp` (onnxmltools' poisson/gamma/tweedie): a log link.
    pub exp: bool,
    /// The `ai.onnx.ml` opset version imported.
    pub ml_opset: i64,
    pub notes: Vec<String>,
}

/// What a tensor in the graph is.
#[derive(Clone, Debug, PartialEq)]
enum Val {
    Input,
    /// A classifier's predicted label (ignored).
    Label,
    /// The sum of these ensembles' scores, through `Exp` when `exp`.
    Score {
        ensembles: BTreeSet<usize>,
        exp: bool,
    },
    /// A constant, with its single value when it has exactly one.
    Const(Option<f64>),
}

fn is_ml(domain: &str) -> bool {
    domain == "ai.onnx.ml"
}

fn is_default(domain: &str) -> bool {
    domain.is_empty() || domain == "ai.onnx"
}

/// True for an operator the walk knows; others are reported.
fn known(node: &NodeProto) -> bool {
    let op = node.op_type.as_str();
    (is_ml(&node.domain) && (ENSEMBLE_OPS.contains(&op) || op == "ZipMap"))
        || (is_default(&node.domain)
            && matches!(
                op,
                "Identity" | "Cast" | "Sum" | "Exp" | "Mul" | "Div" | "Constant"
            ))
}

/// The single value of a one-element float/double/int tensor.
fn scalar(t: &TensorProto) -> Option<f64> {
    match t.data_type {
        data_type::INT64 | data_type::INT32 => match t.integers("constant").ok()?.as_slice() {
            [v] => Some(*v as f64),
            _ => None,
        },
        _ => match t.floats("constant").ok()?.0.as_slice() {
            [v] => Some(*v),
            _ => None,
        },
    }
}

pub fn plan(model: &ModelProto) -> Result<Plan> {
    let graph = model
        .graph
        .as_ref()
        .ok_or_else(|| Error::model("ModelProto", "the model has no graph"))?;
    let mut notes = Vec::new();

    // Operators first: the message should name everything that is not a tree ensemble.
    let mut others: Vec<String> = Vec::new();
    for n in &graph.node {
        if !known(n) {
            let name = if is_default(&n.domain) {
                n.op_type.clone()
            } else {
                format!("{}.{}", n.domain, n.op_type)
            };
            if !others.contains(&name) {
                others.push(name);
            }
        }
    }
    if !others.is_empty() {
        return Err(Error::Unsupported(format!(
            "the ONNX graph contains {} ({}): shaplab explains only tree ensembles \
             (TreeEnsembleRegressor, TreeEnsembleClassifier, TreeEnsemble), with at most Identity, \
             Cast, ZipMap, Sum or Exp after them. Convert the estimator without its preprocessing \
             and explain it on the preprocessed data",
            if others.len() == 1 {
                "an operator that is not a tree ensemble"
            } else {
                "operators that are not tree ensembles"
            },
            others.join(", ")
        )));
    }

    let ml_opset = model
        .opset_import
        .iter()
        .filter(|o| is_ml(&o.domain))
        .map(|o| o.version)
        .max();
    let ensembles_in_graph: Vec<usize> = (0..graph.node.len())
        .filter(|&i| ENSEMBLE_OPS.contains(&graph.node[i].op_type.as_str()))
        .collect();
    if ensembles_in_graph.is_empty() {
        return Err(Error::Unsupported(
            "the ONNX graph has no tree ensemble (TreeEnsembleRegressor, TreeEnsembleClassifier \
             or TreeEnsemble)"
                .into(),
        ));
    }
    let ml_opset = ml_opset.ok_or_else(|| {
        Error::model(
            "opset_import",
            "the graph uses ai.onnx.ml operators but does not import the ai.onnx.ml opset",
        )
    })?;
    for &i in &ensembles_in_graph {
        let op = graph.node[i].op_type.as_str();
        if op == "TreeEnsemble" && ml_opset < 5 {
            return Err(Error::model(
                "opset_import",
                format!("TreeEnsemble needs ai.onnx.ml opset 5, the model imports {ml_opset}"),
            ));
        }
        if op != "TreeEnsemble" && ml_opset >= 5 {
            let note =
                format!("{op} is deprecated in ai.onnx.ml opset {ml_opset}; read as opset 3");
            if !notes.contains(&note) {
                notes.push(note);
            }
        }
    }
    if ml_opset > 5 {
        notes.push(format!(
            "ai.onnx.ml opset {ml_opset} is newer than the opset 5 shaplab knows; read as opset 5"
        ));
    }

    let (input, elem, num_features) = the_input(graph)?;
    let walk = Walk::new(graph, &input)?;
    let mut score: Option<Val> = None;
    for out in &graph.output {
        match walk.trace(&out.name, 0)? {
            v @ Val::Score { .. } => match &score {
                None => score = Some(v),
                Some(s) if *s == v => {}
                Some(_) => {
                    return Err(Error::Unsupported(format!(
                        "the graph's outputs compute different scores (output {:?} differs): \
                         shaplab explains one ensemble score",
                        out.name
                    )));
                }
            },
            Val::Label | Val::Input | Val::Const(_) => {}
        }
    }
    let Some(Val::Score { ensembles, exp }) = score else {
        return Err(Error::Unsupported(
            "no graph output carries a tree ensemble's score (only labels)".into(),
        ));
    };
    if ensembles.len() < ensembles_in_graph.len() {
        notes.push(format!(
            "{} of the graph's {} tree ensemble nodes feed no output and are ignored",
            ensembles_in_graph.len() - ensembles.len(),
            ensembles_in_graph.len()
        ));
    }
    Ok(Plan {
        elem,
        num_features,
        ensembles: ensembles.into_iter().collect(),
        exp,
        ml_opset,
        notes,
    })
}

/// The one graph input that is not an initializer: a float or double tensor [N, F].
fn the_input(graph: &GraphProto) -> Result<(String, Elem, Option<usize>)> {
    let inits: BTreeSet<&str> = graph.initializer.iter().map(|t| t.name.as_str()).collect();
    let inputs: Vec<_> = graph
        .input
        .iter()
        .filter(|i| !inits.contains(i.name.as_str()))
        .collect();
    let [input] = inputs.as_slice() else {
        return Err(Error::Unsupported(format!(
            "the ONNX graph has {} inputs ({}); shaplab explains models with one input tensor of \
             shape [N, features]",
            inputs.len(),
            inputs
                .iter()
                .map(|i| i.name.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        )));
    };
    let tensor = input
        .r#type
        .as_ref()
        .and_then(|t| t.tensor_type.as_ref())
        .ok_or_else(|| {
            Error::Unsupported(format!("the graph input {:?} is not a tensor", input.name))
        })?;
    let elem = match tensor.elem_type {
        data_type::FLOAT => Elem::F32,
        data_type::DOUBLE => Elem::F64,
        other => {
            return Err(Error::Unsupported(format!(
                "the graph input {:?} has element type {other}; shaplab reads float (1) or \
                 double (11) inputs",
                input.name
            )));
        }
    };
    let dims = tensor
        .shape
        .as_ref()
        .map(|s| s.dim.as_slice())
        .unwrap_or(&[]);
    let num_features =
        match dims {
            [] => None,
            [_, d] => match d.dim_value {
                Some(v) if v > 0 => Some(usize::try_from(v).map_err(|_| {
                    Error::model("graph input", format!("{v} features is too many"))
                })?),
                _ => None,
            },
            _ => {
                return Err(Error::Unsupported(format!(
                    "the graph input {:?} has {} dimensions; shaplab explains [N, features] inputs",
                    input.name,
                    dims.len()
                )));
            }
        };
    Ok((input.name.clone(), elem, num_features))
}

struct Walk<'g> {
    graph: &'g GraphProto,
    input: &'g str,
    /// Tensor name → (producing node, output position).
    producer: HashMap<&'g str, (usize, usize)>,
    inits: HashMap<&'g str, &'g TensorProto>,
    /// Tensors already traced: a graph of diamonds would otherwise be walked exponentially.
    memo: RefCell<HashMap<String, Val>>,
}

impl<'g> Walk<'g> {
    fn new(graph: &'g GraphProto, input: &'g str) -> Result<Self> {
        let mut producer = HashMap::new();
        for (i, n) in graph.node.iter().enumerate() {
            for (k, o) in n.output.iter().enumerate() {
                if o.is_empty() {
                    continue;
                }
                if producer.insert(o.as_str(), (i, k)).is_some() {
                    return Err(Error::model(
                        "graph",
                        format!("tensor {o:?} is produced by two nodes"),
                    ));
                }
            }
        }
        let inits = graph
            .initializer
            .iter()
            .map(|t| (t.name.as_str(), t))
            .collect();
        Ok(Walk {
            graph,
            input,
            producer,
            inits,
            memo: RefCell::new(HashMap::new()),
        })
    }

    fn refuse(node: &NodeProto, why: &str) -> Error {
        Error::Unsupported(format!(
            "the graph's {} node {:?} {why}; shaplab explains a tree ensemble's score with at \
             most Identity, Cast, ZipMap, Sum or Exp after it",
            node.op_type, node.name
        ))
    }

    fn trace(&self, name: &str, depth: usize) -> Result<Val> {
        if let Some(v) = self.memo.borrow().get(name) {
            return Ok(v.clone());
        }
        let v = self.trace_uncached(name, depth)?;
        self.memo.borrow_mut().insert(name.to_string(), v.clone());
        Ok(v)
    }

    fn trace_uncached(&self, name: &str, depth: usize) -> Result<Val> {
        if depth > MAX_CHAIN {
            return Err(Error::model(
                "graph",
                format!(
                    "more than {MAX_CHAIN} operators lead to {name:?} (or the graph has a cycle)"
                ),
            ));
        }
        if name == self.input {
            return Ok(Val::Input);
        }
        if let Some(t) = self.inits.get(name) {
            return Ok(Val::Const(scalar(t)));
        }
        let Some(&(i, k)) = self.producer.get(name) else {
            return Err(Error::model(
                "graph",
                format!("tensor {name:?} is used but neither an input nor produced by a node"),
            ));
        };
        let node = &self.graph.node[i];
        let arg = |j: usize| -> Result<Val> {
            match node.input.get(j) {
                Some(n) if !n.is_empty() => self.trace(n, depth + 1),
                _ => Err(Error::model(
                    "graph",
                    format!("{} node {:?} lacks input {j}", node.op_type, node.name),
                )),
            }
        };
        let op = node.op_type.as_str();
        match op {
            "TreeEnsembleRegressor" | "TreeEnsembleClassifier" | "TreeEnsemble" => {
                if arg(0)? != Val::Input {
                    return Err(Self::refuse(
                        node,
                        "reads something other than the graph input (preprocessing before the \
                         trees)",
                    ));
                }
                if op == "TreeEnsembleClassifier" && k == 0 {
                    Ok(Val::Label)
                } else {
                    Ok(Val::Score {
                        ensembles: BTreeSet::from([i]),
                        exp: false,
                    })
                }
            }
            "Identity" | "ZipMap" => arg(0),
            "Cast" => {
                let v = arg(0)?;
                if let Val::Score { .. } = v {
                    let to = node
                        .attribute
                        .iter()
                        .find(|a| a.name == "to")
                        .map(|a| a.i as i32);
                    if !matches!(to, Some(data_type::FLOAT | data_type::DOUBLE)) {
                        return Err(Self::refuse(node, "casts the score to a non-float type"));
                    }
                }
                Ok(v)
            }
            "Constant" => Ok(Val::Const(
                node.attribute
                    .iter()
                    .find(|a| a.name == "value")
                    .and_then(|a| a.t.as_ref())
                    .and_then(scalar),
            )),
            "Exp" => match arg(0)? {
                Val::Score {
                    ensembles,
                    exp: false,
                } => Ok(Val::Score {
                    ensembles,
                    exp: true,
                }),
                _ => Err(Self::refuse(node, "is not the score's only transform")),
            },
            "Sum" => {
                let mut all = BTreeSet::new();
                for j in 0..node.input.len() {
                    match arg(j)? {
                        Val::Score {
                            ensembles,
                            exp: false,
                        } => all.extend(ensembles),
                        _ => {
                            return Err(Self::refuse(node, "adds something other than raw scores"));
                        }
                    }
                }
                if all.is_empty() {
                    return Err(Self::refuse(node, "has no inputs"));
                }
                Ok(Val::Score {
                    ensembles: all,
                    exp: false,
                })
            }
            // `x * 1`, `1 * x`, `x / 1`: onnxmltools multiplies LightGBM probabilities by one.
            "Mul" | "Div" => {
                let (a, b) = (arg(0)?, arg(1)?);
                match (a, b) {
                    (v, Val::Const(Some(1.0))) => Ok(v),
                    (Val::Const(Some(c)), v) if c == 1.0 && op == "Mul" => Ok(v),
                    (Val::Const(_), Val::Const(_)) => Ok(Val::Const(None)),
                    _ => Err(Self::refuse(
                        node,
                        "scales the score by something other than 1",
                    )),
                }
            }
            _ => Err(Self::refuse(node, "is not supported")),
        }
    }
}
