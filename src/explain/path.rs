//! Path-dependent TreeSHAP (Lundberg et al. 2020, Algorithm 2), as XGBoost's `pred_contribs`
//! and LightGBM's `pred_contrib` compute it, in f64.
//!
//! The recursion keeps, per root-to-node path, the unique features met so far with the fraction
//! of training cover that follows the path ("zero fraction") and whether this row follows it
//! ("one fraction"), plus the permutation weights of every subset size. The optional
//! `condition` fixes one feature on (+1) or off (−1): interaction values are half the
//! difference of the two.

use crate::model::Tree;

#[derive(Clone, Copy, Default)]
struct PathElement {
    feature: i64,
    zero_fraction: f64,
    one_fraction: f64,
    pweight: f64,
}

/// Reusable scratch for one thread: the path buffer grows to the deepest tree seen.
#[derive(Default)]
pub struct PathScratch {
    path: Vec<PathElement>,
}

impl PathScratch {
    fn ensure(&mut self, depth: usize) {
        // Each recursion level copies the path (at most depth + 2 long) into a fresh slot.
        let d = depth + 2;
        let need = (d + 1) * (d + 2) / 2 + d;
        if self.path.len() < need {
            self.path.resize(need, PathElement::default());
        }
    }
}

/// Conditioning for interaction values: `Off` for plain SHAP values.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Condition {
    Off,
    On(usize),
    Excluded(usize),
}

/// Add the SHAP values of `tree` for `row` into `phi` (length ≥ number of features; the bias is
/// not touched).
pub fn tree_shap(
    tree: &Tree,
    row: &[f64],
    phi: &mut [f64],
    condition: Condition,
    scratch: &mut PathScratch,
) {
    if tree.is_leaf(0) {
        return;
    }
    scratch.ensure(tree.depth());
    let mut ctx = Ctx {
        tree,
        row,
        phi,
        condition,
    };
    ctx.recurse(&mut scratch.path, 0, 0, 1.0, 1.0, -1, 1.0);
}

struct Ctx<'a> {
    tree: &'a Tree,
    row: &'a [f64],
    phi: &'a mut [f64],
    condition: Condition,
}

impl Ctx<'_> {
    #[allow(clippy::too_many_arguments)]
    fn recurse(
        &mut self,
        buf: &mut [PathElement],
        node: usize,
        mut depth: usize,
        parent_zero: f64,
        parent_one: f64,
        parent_feature: i64,
        condition_fraction: f64,
    ) {
        if condition_fraction == 0.0 {
            return;
        }
        // This level's path lives at buf[..=depth]; the child's copy goes right after it.
        let (path, rest) = buf.split_at_mut(depth + 1);
        let (cond_feature, cond_sign) = match self.condition {
            Condition::Off => (-1i64, 0),
            Condition::On(f) => (f as i64, 1),
            Condition::Excluded(f) => (f as i64, -1),
        };
        if cond_sign == 0 || cond_feature != parent_feature {
            extend(path, depth, parent_zero, parent_one, parent_feature);
        }
        let tree = self.tree;
        if tree.is_leaf(node) {
            let v = tree.value[node] * condition_fraction;
            for i in 1..=depth {
                let w = unwound_sum(path, depth, i);
                let e = path[i];
                self.phi[e.feature as usize] += w * (e.one_fraction - e.zero_fraction) * v;
            }
            return;
        }
        let feature = tree.feature[node] as i64;
        let (l, r) = (tree.left[node] as usize, tree.right[node] as usize);
        let (hot, cold) = if tree.goes_left(node, self.row[feature as usize]) {
            (l, r)
        } else {
            (r, l)
        };
        let w = tree.cover[node];
        let hot_zero = tree.cover[hot] / w;
        let cold_zero = tree.cover[cold] / w;
        let mut incoming_zero = 1.0;
        let mut incoming_one = 1.0;
        // A feature already on the path is unwound and re-entered with combined fractions.
        if let Some(k) = (1..=depth).find(|&k| path[k].feature == feature) {
            incoming_zero = path[k].zero_fraction;
            incoming_one = path[k].one_fraction;
            unwind(path, depth, k);
            depth -= 1;
        }
        let mut hot_cf = condition_fraction;
        let mut cold_cf = condition_fraction;
        if cond_feature == feature {
            if cond_sign > 0 {
                cold_cf = 0.0;
            } else {
                hot_cf *= hot_zero;
                cold_cf *= cold_zero;
            }
            depth = depth.wrapping_sub(1);
        }
        let child_depth = depth.wrapping_add(1);
        // The child starts from a copy of this level's path (as XGBoost copies its slot).
        let n = path.len();
        rest[..n].copy_from_slice(path);
        self.recurse(
            rest,
            hot,
            child_depth,
            hot_zero * incoming_zero,
            incoming_one,
            feature,
            hot_cf,
        );
        rest[..n].copy_from_slice(path);
        self.recurse(
            rest,
            cold,
            child_depth,
            cold_zero * incoming_zero,
            0.0,
            feature,
            cold_cf,
        );
    }
}

fn extend(path: &mut [PathElement], depth: usize, zero: f64, one: f64, feature: i64) {
    path[depth] = PathElement {
        feature,
        zero_fraction: zero,
        one_fraction: one,
        pweight: if depth == 0 { 1.0 } else { 0.0 },
    };
    let d1 = (depth + 1) as f64;
    for i in (0..depth).rev() {
        path[i + 1].pweight += one * path[i].pweight * (i + 1) as f64 / d1;
        path[i].pweight = zero * path[i].pweight * (depth - i) as f64 / d1;
    }
}

fn unwind(path: &mut [PathElement], depth: usize, index: usize) {
    let one = path[index].one_fraction;
    let zero = path[index].zero_fraction;
    let mut next_one = path[depth].pweight;
    let d1 = (depth + 1) as f64;
    for i in (0..depth).rev() {
        if one != 0.0 {
            let tmp = path[i].pweight;
            path[i].pweight = next_one * d1 / ((i + 1) as f64 * one);
            next_one = tmp - path[i].pweight * zero * (depth - i) as f64 / d1;
        } else {
            path[i].pweight = path[i].pweight * d1 / (zero * (depth - i) as f64);
        }
    }
    for i in index..depth {
        path[i].feature = path[i + 1].feature;
        path[i].zero_fraction = path[i + 1].zero_fraction;
        path[i].one_fraction = path[i + 1].one_fraction;
    }
}

fn unwound_sum(path: &[PathElement], depth: usize, index: usize) -> f64 {
    let one = path[index].one_fraction;
    let zero = path[index].zero_fraction;
    let mut next_one = path[depth].pweight;
    let mut total = 0.0;
    let d1 = (depth + 1) as f64;
    for i in (0..depth).rev() {
        if one != 0.0 {
            let tmp = next_one * d1 / ((i + 1) as f64 * one);
            total += tmp;
            next_one = path[i].pweight - tmp * zero * (depth - i) as f64 / d1;
        } else if zero != 0.0 {
            total += path[i].pweight / zero / ((depth - i) as f64 / d1);
        }
    }
    total
}
