//! Explaining rows against leaf groups, a block of rows at a time and tree by tree: the block
//! is routed through a tree node by node (a vector of rows per node), then each leaf credits
//! the rows that can reach it with some background rows. A tree's leaves, groups and lists
//! are read once per block rather than once per row.

use super::kernels;
use super::{Group, Leaf, LeafGroups, MAX_LISTED};
use crate::data::Matrix;
use crate::model::{Ensemble, Tree};
use rayon::prelude::*;

/// Per-bit sums of a listed leaf: `MAX_LISTED` rounded up to whole AVX2 vectors.
const LANES: usize = 8;

/// `KEEP[a][i]` is all ones when bit i of `a` is set, else 0: `pos & KEEP[a][i]` is pos on A's
/// bits and +0 elsewhere, a select without a branch per bit (and, unlike `pos · 0`, no NaN
/// from an infinite pos).
const KEEP: [[u64; LANES]; 1 << MAX_LISTED] = {
    let mut t = [[0; LANES]; 1 << MAX_LISTED];
    let mut a = 0;
    while a < 1 << MAX_LISTED {
        let mut i = 0;
        while i < MAX_LISTED {
            if (a >> i) & 1 == 1 {
                t[a][i] = u64::MAX;
            }
            i += 1;
        }
        a += 1;
    }
    t
};

/// Rows explained together (a multiple of 4, the AVX2 lanes).
pub(super) const BLOCK: usize = 32;

/// A rescale function: x's margins → one factor per (output, background row).
pub(crate) type Rescale<'a> = &'a (dyn Fn(&[f64], &mut [f64]) + Sync);

/// What a block of rows is explained with: the model, its flattened node offsets, the rows,
/// the block's first row and the rescale function.
type Job<'a> = (
    &'a Ensemble,
    &'a [usize],
    &'a Matrix,
    usize,
    Option<Rescale<'a>>,
);

/// True when [`LeafGroups::block_native`] can run here (checked once per explanation).
fn has_native() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::arch::is_x86_feature_detected!("avx2")
            && std::arch::is_x86_feature_detected!("bmi1")
            && std::arch::is_x86_feature_detected!("popcnt")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// Per-thread scratch.
#[derive(Default)]
struct Scratch {
    /// The block's rows transposed: feature-major, `BLOCK` values per feature.
    xt: Vec<f64>,
    /// The rows' failed bits at each node of the current tree: node-major, `BLOCK` per node.
    failed: Vec<u64>,
    /// Raw margins per (row, output).
    margin: Vec<f64>,
    /// Rescale factors per (row, output): `nb + 1` each, the last 0 (the members' padding).
    scale: Vec<f64>,
    /// One row's factors as the rescale function writes them.
    factors: Vec<f64>,
}

impl LeafGroups {
    /// Interventional values of `rows`, summed over background rows (not yet averaged), into
    /// `values` (rows × outputs × (features + 1); each base value's slot is scratch, to be
    /// overwritten). With `rescale`, each pair's values are scaled by the factor
    /// `rescale(x's margins, out)` writes per (output, background row). `native` runs the AVX2
    /// block where the CPU has it (tests compare it with the portable one).
    pub(in crate::explain) fn explain(
        &self,
        model: &Ensemble,
        offsets: &[usize],
        rows: &Matrix,
        rescale: Option<Rescale>,
        values: &mut [f64],
        native: bool,
    ) {
        let stride = model.num_outputs * (model.num_features + 1);
        let native = native && has_native();
        values
            .par_chunks_mut((stride * BLOCK).max(1))
            .enumerate()
            .for_each_init(Scratch::default, |s, (c, out)| {
                let job = (model, offsets, rows, c * BLOCK, rescale);
                #[cfg(target_arch = "x86_64")]
                if native {
                    // SAFETY: the CPU has the features `block_native` is compiled for.
                    return unsafe { self.block_native(job, out, s) };
                }
                let _ = native;
                self.block::<false>(job, out, s)
            });
    }

    /// [`block`](Self::block) compiled for CPUs with AVX2, BMI1 and POPCNT: routing four rows
    /// per instruction, and single-instruction bit counts and scans.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2,bmi1,popcnt")]
    fn block_native(&self, job: Job, out: &mut [f64], s: &mut Scratch) {
        self.block::<true>(job, out, s)
    }

    /// Explains one block of rows into `out`; `NATIVE` only inside `block_native`.
    #[inline(always)]
    fn block<const NATIVE: bool>(&self, job: Job, out: &mut [f64], s: &mut Scratch) {
        let (model, offsets, rows, first, rescale) = job;
        let (f, k, nb) = (model.num_features, model.num_outputs, self.background_rows);
        let stride = k * (f + 1);
        let n = out.len() / stride.max(1);
        // Transposed, padded with zeros: routing reads a feature's values for the whole block.
        s.xt.clear();
        s.xt.resize(f * BLOCK, 0.0);
        for r in 0..n {
            for (j, &v) in rows.row(first + r).iter().enumerate() {
                s.xt[j * BLOCK + r] = v;
            }
        }
        if let Some(rescale) = rescale {
            self.margins::<NATIVE>(model, offsets, s);
            s.scale.resize(n * k * (nb + 1), 0.0);
            s.factors.resize(k * nb, 0.0);
            for r in 0..n {
                rescale(&s.margin[r * k..(r + 1) * k], &mut s.factors);
                for o in 0..k {
                    let at = (r * k + o) * (nb + 1);
                    s.scale[at..at + nb].copy_from_slice(&s.factors[o * nb..(o + 1) * nb]);
                    s.scale[at + nb] = 0.0;
                }
            }
        }
        for (t, (tree, &o)) in model.trees.iter().zip(&model.tree_output).enumerate() {
            self.route::<NATIVE>(t, offsets[t], tree, &s.xt, &mut s.failed);
            let (at, len) = self.tree_leaves[t];
            for leaf in &self.leaves[at as usize..(at + len) as usize] {
                let failed = &s.failed[leaf.node as usize * BLOCK..][..n];
                let listed = leaf.lists_at != u32::MAX;
                for (r, &failed) in failed.iter().enumerate() {
                    let b = leaf.full & failed;
                    // Most rows reach a leaf with no background row: skip them first.
                    let entries = if listed {
                        let at = leaf.lists_at as usize + b as usize;
                        let (lo, hi) = (self.lists[at] as usize, self.lists[at + 1] as usize);
                        if lo == hi {
                            continue;
                        }
                        Some(lo..hi)
                    } else if b & !leaf.any != 0 {
                        continue;
                    } else {
                        None
                    };
                    let phi = &mut out[r * stride + o * (f + 1)..][..f + 1];
                    let scale = rescale.map(|_| &s.scale[(r * k + o) * (nb + 1)..][..nb + 1]);
                    match entries {
                        Some(entries) => self.credit_listed(leaf, b, entries, scale, phi),
                        None => self.credit_scanned(leaf, b, scale, phi),
                    }
                }
            }
        }
    }

    /// The block's raw margins, summed per row in `Ensemble::predict_margin`'s order (base,
    /// then the trees in order), so they are the same numbers: a row's leaf in a tree is the
    /// one where it failed nothing.
    #[inline(always)]
    fn margins<const NATIVE: bool>(&self, model: &Ensemble, offsets: &[usize], s: &mut Scratch) {
        let k = model.num_outputs;
        s.margin.clear();
        for _ in 0..BLOCK {
            s.margin.extend_from_slice(&model.base_margin);
        }
        for (t, (tree, &o)) in model.trees.iter().zip(&model.tree_output).enumerate() {
            self.route::<NATIVE>(t, offsets[t], tree, &s.xt, &mut s.failed);
            let (at, len) = self.tree_leaves[t];
            for leaf in &self.leaves[at as usize..(at + len) as usize] {
                let failed = &s.failed[leaf.node as usize * BLOCK..][..BLOCK];
                for (r, &failed) in failed.iter().enumerate() {
                    if failed == 0 {
                        s.margin[r * k + o] += leaf.value;
                    }
                }
            }
        }
    }

    /// The block's failed bits at every node of tree `t`, top-down from the root's none.
    #[inline(always)]
    fn route<const NATIVE: bool>(
        &self,
        t: usize,
        off: usize,
        tree: &Tree,
        xt: &[f64],
        failed: &mut Vec<u64>,
    ) {
        failed.resize(tree.num_nodes() * BLOCK, 0);
        failed[..BLOCK].fill(0);
        let (at, len) = self.tree_order[t];
        for &n in &self.order[at as usize..(at + len) as usize] {
            let n = n as usize;
            let (l, r) = tree.children(n);
            let mut parent = [0u64; BLOCK];
            parent.copy_from_slice(&failed[n * BLOCK..(n + 1) * BLOCK]);
            let (left, right) = two_rows(failed, l, r);
            let bit = 1u64 << self.bit[off + n];
            let xs = &xt[tree.split_feature(n) * BLOCK..][..BLOCK];
            let test = self.tests[off + n].as_ref();
            #[cfg(target_arch = "x86_64")]
            if let (true, Some(test)) = (NATIVE, test) {
                // SAFETY: NATIVE is only set inside `block_native` (AVX2).
                unsafe { kernels::split_avx2(test, xs, &parent, bit, (left, right)) };
                continue;
            }
            kernels::split(tree, n, test, xs, &parent, bit, (left, right));
        }
    }

    /// Credits one row at a listed leaf with failed set `b`: the groups reaching the leaf with
    /// it are `entries` of the leaf's list, with no test per group (and no mispredicted branch
    /// on it); the leaf's per-bit sums go to `phi` at the end. The hottest loop of the
    /// explainer: its indices were all checked once in `LeafGroups::validate`.
    #[inline(always)]
    fn credit_listed(
        &self,
        leaf: &Leaf,
        b: u64,
        entries: std::ops::Range<usize>,
        scale: Option<&[f64]>,
        phi: &mut [f64],
    ) {
        debug_assert!(scale.is_none_or(|s| s.len() == self.background_rows + 1));
        debug_assert_eq!(phi.len(), self.num_features + 1);
        let w = &self.listed_weights[(b.count_ones() & 7) as usize];
        let mut sums = [0.0f64; LANES];
        let mut neg = 0.0;
        for e in &self.entries[leaf.entries_at as usize..][entries] {
            // SAFETY: `validate` checked that every listed group is one of its leaf's groups.
            let g = unsafe {
                self.groups
                    .get_unchecked(leaf.groups_at as usize + e.group as usize)
            };
            let weight = self.group_weight(g, scale);
            let v = leaf.value * weight;
            let [gain, loss] = w[(e.a.count_ones() & 7) as usize];
            let pos = v * gain;
            // pos on A's bits, +0 elsewhere (x + 0 = x): the sums of adding pos on A's bits.
            for (s, &keep) in sums.iter_mut().zip(&KEEP[(e.a & 63) as usize]) {
                *s += f64::from_bits(pos.to_bits() & keep);
            }
            neg -= v * loss;
        }
        // SAFETY: `validate` checked that a listed leaf has MAX_LISTED features, each at most
        // the number of features (`phi` has one more slot: the base value's, written last).
        unsafe {
            let features = self
                .features
                .get_unchecked(leaf.features_at as usize..leaf.features_at as usize + MAX_LISTED);
            for (i, (&feature, &s)) in features.iter().zip(&sums).enumerate() {
                *phi.get_unchecked_mut(feature as usize) +=
                    s + if b >> i & 1 == 1 { neg } else { 0.0 };
            }
        }
    }

    /// Credits one row at a leaf with a long path: every group is tested against `b`.
    #[inline(always)]
    fn credit_scanned(&self, leaf: &Leaf, b: u64, scale: Option<&[f64]>, phi: &mut [f64]) {
        if b & !leaf.any != 0 {
            return;
        }
        let groups = &self.groups[leaf.groups_at as usize..][..leaf.groups_len as usize];
        let features = &self.features[leaf.features_at as usize..][..leaf.bits as usize];
        let nb = b.count_ones() as usize;
        let mut neg = 0.0;
        for g in groups {
            // A: the features x passes and this group fails.
            let a = leaf.full & !b & !g.mask;
            if g.mask & b != b || a | b == 0 {
                continue;
            }
            let v = leaf.value * self.group_weight(g, scale);
            let na = a.count_ones() as usize;
            let stride = self.max_bits + 1;
            let (pos, lost) = (
                v * self.weights[na * stride + nb],
                v * self.weights[nb * stride + na],
            );
            let mut bits = a;
            while bits != 0 {
                phi[features[bits.trailing_zeros() as usize] as usize] += pos;
                bits &= bits - 1;
            }
            neg -= lost;
        }
        let mut bits = b;
        while bits != 0 {
            phi[features[bits.trailing_zeros() as usize] as usize] += neg;
            bits &= bits - 1;
        }
    }

    /// What a group of background rows weighs at a leaf: its size (raw output) or the sum of
    /// its rows' rescale factors (`scale`: nb + 1 factors, the last the padding's 0).
    #[inline(always)]
    fn group_weight(&self, g: &Group, scale: Option<&[f64]>) -> f64 {
        match scale {
            None => g.len as f64,
            Some(scale) => {
                assert_eq!(scale.len(), self.background_rows + 1);
                // SAFETY: `validate` checked that every group's members (padding included)
                // lie inside `members` and are at most nb, and `scale` has nb + 1 factors
                // (asserted just above).
                unsafe {
                    let at = self
                        .members
                        .get_unchecked(g.at as usize..(g.at + g.len.next_multiple_of(4)) as usize);
                    kernels::sum_quads(scale, at)
                }
            }
        }
    }
}

/// Rows `a` and `b` (distinct) of a node-major `BLOCK`-wide buffer, both mutable.
fn two_rows(buf: &mut [u64], a: usize, b: usize) -> (&mut [u64], &mut [u64]) {
    let (lo, hi) = (a.min(b), a.max(b));
    let (head, tail) = buf.split_at_mut(hi * BLOCK);
    let (x, y) = (&mut head[lo * BLOCK..(lo + 1) * BLOCK], &mut tail[..BLOCK]);
    if a < b { (x, y) } else { (y, x) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::explain::Background;

    /// Interventional values of a fixture's rows against its first 60 rows, raw and on the
    /// probability scale, with or without the AVX2 block.
    fn explain(dir: &str, native: bool) -> Vec<f64> {
        let (model, rows) = crate::explain::fixture(dir);
        let background = Background::new(&model, rows.slice(0, 60.min(rows.rows))).expect("bg");
        let groups = background.groups.as_ref().expect("grouped");
        let nb = background.rows.rows;
        let k = model.num_outputs;
        let rescale = |margin: &[f64], out: &mut [f64]| {
            for o in 0..k {
                for j in 0..nb {
                    let (fx, fr) = (margin[o], background.margins[j * k + o]);
                    out[o * nb + j] = 1.0 + (fx - fr).tanh();
                }
            }
        };
        let mut all = Vec::new();
        for rescale in [None, Some(&rescale as Rescale)] {
            let mut values = vec![0.0; rows.rows * k * (model.num_features + 1)];
            let offsets = &background.offsets;
            groups.explain(&model, offsets, &rows, rescale, &mut values, native);
            all.extend(values);
        }
        all
    }

    #[test]
    fn the_avx2_block_gives_the_portable_blocks_values_bit_for_bit() {
        // Depth-wise and leaf-wise trees (listed and scanned leaves), categorical splits,
        // several outputs.
        for dir in [
            "xgb_binary_d6",
            "lgb_binary_d8",
            "lgb_cat_multi",
            "xgb_cat_partition_multi",
        ] {
            let portable = explain(dir, false);
            let fast = explain(dir, true);
            assert!(portable.iter().any(|&v| v != 0.0), "{dir}: no values");
            let same = portable
                .iter()
                .zip(&fast)
                .all(|(a, b)| a.to_bits() == b.to_bits());
            assert!(same, "{dir}: AVX2 and portable blocks differ");
        }
    }
}
