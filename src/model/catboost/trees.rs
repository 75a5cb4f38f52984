//! CatBoost trees → the engine's binary trees, one per output.
//!
//! Both CatBoost tree kinds first become a [`Raw`] tree (nodes with a [`Test`], the children
//! for CatBoost's bit 0 and bit 1, and leaf values and weights), which one routine turns into
//! engine trees:
//!
//! - **Oblivious** (`oblivious_trees`, the default SymmetricTree policy): every level asks the
//!   same question and leaf `Σ bit_d << d` holds the values (`splits[0]` is bit 0). For
//!   routing, the order of levels is irrelevant; for path-dependent TreeSHAP it is not (the
//!   cover fractions of a path depend on which split comes first). CatBoost 1.2's ShapValues
//!   walks the **last** split first (`remainingDepth = depth − level − 1`), so the expansion
//!   puts `splits[depth − 1]` at the root; with `splits[0]` at the root (as CatBoost's early
//!   versions walked them) the golden values miss by up to 0.17.
//! - **Non-symmetric** (`trees`, Depthwise and Lossguide): nested `{split, left, right}` objects
//!   with `{value, weight}` leaves; `right` is taken when the split's condition holds.
//!
//! Covers are the leaf weights summed up the tree, as CatBoost's `CalcSubtreeWeightsForTree`
//! does. CatBoost's SHAP skips every branch of zero weight; the engine needs a positive cover
//! at every internal node, so a zero-weight subtree whose leaves agree (CatBoost leaves no
//! training row reached are 0) becomes one leaf, which gives CatBoost's values. If they do not
//! agree, the tree's empty leaves get a vanishing weight instead, and values still add up.
//! (For MultiClass, CatBoost also subtracts the tree's class-averaged mean from every leaf
//! before crediting it, which only matters for skipped branches; its MultiClass leaves are
//! centred across classes, so that mean is 0 up to rounding.) Zero-weight leaves holding
//! non-zero values are flagged: for such models CatBoost's own
//! ShapValues mixes the leaf counts of the rows being explained into the weights (its values
//! for a row change with the batch it is explained in; checked with catboost 1.2.10), which
//! no loader can reproduce.

use super::super::tree::{Split, TreeBuilder};
use super::super::value::{At, Value};
use super::super::{MAX_DEPTH, Tree};
use super::features::{Features, Test};
use crate::error::Result;

/// Deepest oblivious tree: CatBoost's own limit for SymmetricTree. A full expansion has
/// 2^(depth+1) − 1 nodes, so the cap also bounds what one tree can cost.
pub(super) const MAX_OBLIVIOUS_DEPTH: usize = 16;

/// Most outputs (classes): every output costs a copy of every tree, and a file with more is
/// corrupt rather than a real classifier.
const MAX_OUTPUTS: usize = 1 << 16;

/// The number of outputs, checked against [`MAX_OUTPUTS`].
fn check_dims(at: &At, index: usize, dims: usize) -> Result<usize> {
    if dims == 0 || dims > MAX_OUTPUTS {
        return Err(at.err(format!(
            "tree {index}: {dims} values per leaf (outputs) is implausible"
        )));
    }
    Ok(dims)
}

/// A CatBoost tree before it becomes one engine tree per output.
pub(super) struct Raw {
    /// `None` for leaves.
    pub test: Vec<Option<Test>>,
    /// Children for CatBoost's bit 0 (condition false) and bit 1 (true).
    pub child: Vec<[usize; 2]>,
    /// Leaf values, `dims` per node (zero for internal nodes).
    pub value: Vec<f64>,
    /// Leaf weights; internal nodes get their subtree's sum in [`finish`].
    pub weight: Vec<f64>,
}

impl Raw {
    fn with_capacity(n: usize, dims: usize) -> Self {
        Raw {
            test: Vec::with_capacity(n),
            child: Vec::with_capacity(n),
            value: Vec::with_capacity(n * dims),
            weight: Vec::with_capacity(n),
        }
    }

    fn push(&mut self, dims: usize) -> usize {
        self.test.push(None);
        self.child.push([0, 0]);
        self.value.extend(std::iter::repeat_n(0.0, dims));
        self.weight.push(0.0);
        self.test.len() - 1
    }

    pub fn len(&self) -> usize {
        self.test.len()
    }
}

/// The leaf values and weights of a tree, checked: finite values, finite non-negative weights.
fn leaf_numbers(at: &At, field: &str, n: usize, tree: usize) -> Result<Vec<f64>> {
    let f = at.req(field)?;
    let v = f.as_f64s()?;
    if v.len() != n {
        return Err(f.err(format!(
            "tree {tree}: {field} has {} entries, expected {n}",
            v.len()
        )));
    }
    if let Some(i) = v.iter().position(|x| !x.is_finite()) {
        return Err(f.err(format!("tree {tree}: {field}[{i}] is not finite")));
    }
    Ok(v)
}

/// One entry of `oblivious_trees`. `dims` is the number of outputs (fixed by the first tree
/// when `None`, then returned).
pub(super) fn oblivious(
    t: &At,
    index: usize,
    dims: Option<usize>,
    features: &mut Features,
    weighted: &mut bool,
) -> Result<(Raw, usize)> {
    let splits = t.req("splits")?;
    let depth = splits.as_array()?.len();
    if depth > MAX_OBLIVIOUS_DEPTH {
        return Err(splits.err(format!(
            "tree {index} has depth {depth}; CatBoost's symmetric trees are at most \
             {MAX_OBLIVIOUS_DEPTH} deep"
        )));
    }
    let leaves = 1usize << depth;
    let values_at = t.req("leaf_values")?;
    let count = values_at.as_array()?.len();
    let dims = match dims {
        Some(d) => d,
        None if count > 0 && count % leaves == 0 => count / leaves,
        None => {
            return Err(values_at.err(format!(
                "tree {index}: {count} leaf_values do not fill 2^{depth} = {leaves} leaves"
            )));
        }
    };
    let dims = check_dims(&values_at, index, dims)?;
    let values = leaf_numbers(t, "leaf_values", leaves * dims, index)?;
    let weights = match t.get("leaf_weights") {
        Some(_) => leaf_numbers(t, "leaf_weights", leaves, index)?,
        None => {
            *weighted = false;
            vec![1.0; leaves]
        }
    };
    if let Some(i) = weights.iter().position(|&w| w < 0.0) {
        return Err(t.err(format!("tree {index}: leaf_weights[{i}] is negative")));
    }
    let tests = (0..depth)
        .map(|d| features.test(&splits.index(d)?))
        .collect::<Result<Vec<_>>>()?;

    // Preorder expansion, level l testing splits[depth − 1 − l] (the last split is the root);
    // a node's prefix holds the bits decided above it, so the leaf reached is the prefix.
    let mut raw = Raw::with_capacity(2 * leaves - 1, dims);
    let mut stack = vec![(0usize, 0usize, usize::MAX, 0usize)]; // (level, prefix, parent, bit)
    while let Some((level, prefix, parent, bit)) = stack.pop() {
        let id = raw.push(dims);
        if parent != usize::MAX {
            raw.child[parent][bit] = id;
        }
        if level == depth {
            raw.value[id * dims..(id + 1) * dims]
                .copy_from_slice(&values[prefix * dims..(prefix + 1) * dims]);
            raw.weight[id] = weights[prefix];
        } else {
            let bit_of_level = depth - 1 - level;
            raw.test[id] = Some(tests[bit_of_level]);
            stack.push((level + 1, prefix | 1 << bit_of_level, id, 1));
            stack.push((level + 1, prefix, id, 0));
        }
    }
    Ok((raw, dims))
}

/// A JSON number as f64.
fn number(at: &At) -> Result<f64> {
    match at.value {
        Value::Float(x) => Ok(*x),
        Value::Int(x) => Ok(*x as f64),
        _ => Err(at.err("expected a number")),
    }
}

/// A non-symmetric leaf's `value`: a number for one output, an array for several.
fn leaf_value(at: &At) -> Result<Vec<f64>> {
    match at.value {
        Value::Array(_) => at.as_f64s(),
        _ => Ok(vec![number(at)?]),
    }
}

/// One entry of `trees` (non-symmetric). Walked with an explicit stack, so a deep tree costs
/// no native recursion here (serde_json's nesting limit bounds the file anyway).
pub(super) fn non_symmetric(
    t: &At,
    index: usize,
    dims: Option<usize>,
    features: &mut Features,
    weighted: &mut bool,
) -> Result<(Raw, usize)> {
    let dims = match dims {
        Some(d) => d,
        None => {
            // The first leaf (leftmost) fixes the number of outputs.
            let mut node = t.clone();
            for _ in 0..=MAX_DEPTH {
                match node.get("left") {
                    Some(l) if node.get("split").is_some() => node = l,
                    _ => break,
                }
            }
            leaf_value(&node.req("value")?)?.len()
        }
    };
    let dims = check_dims(t, index, dims)?;
    let mut raw = Raw::with_capacity(64, dims);
    let mut stack = vec![(t.clone(), usize::MAX, 0usize, 0usize)]; // (node, parent, bit, depth)
    while let Some((node, parent, bit, depth)) = stack.pop() {
        if depth > MAX_DEPTH {
            return Err(node.err(format!("tree {index} is deeper than {MAX_DEPTH} levels")));
        }
        let id = raw.push(dims);
        if parent != usize::MAX {
            raw.child[parent][bit] = id;
        }
        if let Some(split) = node.get("split") {
            raw.test[id] = Some(features.test(&split)?);
            // `right` is where CatBoost goes when the condition holds (bit 1).
            stack.push((node.req("right")?, id, 1, depth + 1));
            stack.push((node.req("left")?, id, 0, depth + 1));
            continue;
        }
        let value = node.req("value")?;
        let v = leaf_value(&value)?;
        if v.len() != dims {
            return Err(value.err(format!(
                "tree {index}: a leaf has {} values, expected {dims}",
                v.len()
            )));
        }
        if v.iter().any(|x| !x.is_finite()) {
            return Err(value.err(format!("tree {index}: a leaf value is not finite")));
        }
        raw.value[id * dims..(id + 1) * dims].copy_from_slice(&v);
        raw.weight[id] = match node.get("weight") {
            Some(w) => {
                let w = number(&w)?;
                if !(w.is_finite() && w >= 0.0) {
                    return Err(node.err(format!(
                        "tree {index}: leaf weight {w} is not a finite non-negative number"
                    )));
                }
                w
            }
            None => {
                *weighted = false;
                1.0
            }
        };
    }
    Ok((raw, dims))
}

/// A finished tree's engine trees, and what the analyst should hear about.
#[derive(Default)]
pub(super) struct Finished {
    pub trees: Vec<Tree>,
    /// Some leaf of weight 0 holds a non-zero value.
    pub empty_nonzero: bool,
    /// Empty leaves disagreed under a zero-weight node and got a vanishing weight.
    pub epsilon: bool,
}

/// Weights summed up the tree, zero-weight subtrees handled, one engine tree per output with
/// leaf values multiplied by `scale`.
pub(super) fn finish(
    mut raw: Raw,
    dims: usize,
    scale: f64,
    index: usize,
    num_features: usize,
) -> Result<Finished> {
    let n = raw.len();
    // Children always come after their parent in `raw`, so a reverse sweep is bottom-up.
    let sum_up = |raw: &mut Raw| {
        for i in (0..n).rev() {
            if raw.test[i].is_some() {
                let [a, b] = raw.child[i];
                raw.weight[i] = raw.weight[a] + raw.weight[b];
            }
        }
    };
    sum_up(&mut raw);
    // Per node and output, whether every leaf below holds the same value (min == max).
    let mut lo = raw.value.clone();
    let mut hi = raw.value.clone();
    for i in (0..n).rev() {
        if raw.test[i].is_some() {
            let [a, b] = raw.child[i];
            for k in 0..dims {
                lo[i * dims + k] = lo[a * dims + k].min(lo[b * dims + k]);
                hi[i * dims + k] = hi[a * dims + k].max(hi[b * dims + k]);
            }
        }
    }
    let uniform = |i: usize| (0..dims).all(|k| lo[i * dims + k] == hi[i * dims + k]);
    let empty_nonzero = (0..n).any(|i| {
        raw.test[i].is_none()
            && raw.weight[i] == 0.0
            && raw.value[i * dims..(i + 1) * dims]
                .iter()
                .any(|&v| v != 0.0)
    });
    let empty_disagree =
        (0..n).any(|i| raw.test[i].is_some() && raw.weight[i] == 0.0 && !uniform(i));
    if empty_disagree {
        let total = raw.weight[0];
        let leaves = raw.test.iter().filter(|t| t.is_none()).count().max(1);
        let eps = if total > 0.0 {
            total * 1e-9 / leaves as f64
        } else {
            1.0
        };
        for i in 0..n {
            if raw.test[i].is_none() && raw.weight[i] == 0.0 {
                raw.weight[i] = eps;
            }
        }
        sum_up(&mut raw);
    }

    // The structure once (zero-weight subtrees cut to a leaf), then one copy per output.
    let mut b = TreeBuilder::default();
    let mut source = Vec::new(); // raw node of each builder node
    let mut stack = vec![(0usize, usize::MAX, false)]; // (raw node, builder parent, is_left)
    while let Some((r, parent, is_left)) = stack.pop() {
        let id = b.left.len();
        source.push(r);
        b.left.push(-1);
        b.right.push(-1);
        b.feature.push(0);
        b.threshold.push(0.0);
        b.default_left.push(false);
        b.split.push(Split::LessEqF32);
        b.cover.push(raw.weight[r]);
        b.value.push(0.0);
        if parent != usize::MAX {
            if is_left {
                b.left[parent] = id as i64;
            } else {
                b.right[parent] = id as i64;
            }
        }
        let Some(test) = raw.test[r].filter(|_| raw.weight[r] > 0.0) else {
            continue; // a leaf, or a zero-weight subtree whose leaves agree
        };
        let [off, on] = raw.child[r];
        // Which CatBoost bit goes left in the engine's split kind.
        let left_is_on = match test {
            Test::Float {
                feature,
                border,
                nan_true,
            } => {
                // x > border is bit 1: left iff (x as f32) <= border.
                b.feature[id] = feature as i64;
                b.threshold[id] = border;
                b.default_left[id] = !nan_true;
                false
            }
            Test::OneHot { feature, code } => {
                // Equal is bit 1 and EqF32 sends equal left; NaN matches nothing.
                b.feature[id] = feature as i64;
                b.threshold[id] = code;
                b.split[id] = Split::EqF32;
                b.default_left[id] = false;
                true
            }
        };
        let (l, rgt) = if left_is_on { (on, off) } else { (off, on) };
        stack.push((rgt, id, false));
        stack.push((l, id, true));
    }
    let mut trees = Vec::with_capacity(dims);
    for k in 0..dims {
        let mut bk = if k + 1 == dims {
            std::mem::take(&mut b)
        } else {
            b.clone()
        };
        for (node, &r) in source.iter().enumerate() {
            if bk.left[node] < 0 {
                // A leaf, or a cut subtree whose leaves all hold this value (lo == hi).
                bk.value[node] = lo[r * dims + k] * scale;
            }
        }
        trees.push(bk.build(index, num_features)?);
    }
    Ok(Finished {
        trees,
        empty_nonzero,
        epsilon: empty_disagree,
    })
}
