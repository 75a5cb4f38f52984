//! The per-batch kernel of the fast path-dependent explainer (see `linear`): up to `BATCH`
//! rows go through one tree together.
//!
//! Why batches: the traversal of Linear TreeSHAP visits every node whatever the row, so one
//! DFS serves all rows of a batch; the tree's precomputed edge data is loaded once per batch
//! instead of once per row, and each per-node step is a branch-free loop over rows. P(t) and
//! G(t) are stored point-major (`(level * Q + q) * stride + b`) so that for a fixed quadrature
//! point consecutive rows are consecutive in memory and the per-edge loops (`lanes`) vectorise
//! across rows, LANES at a time; on x86-64 the DFS is compiled twice more, with AVX2 and with
//! AVX-512, and the widest the CPU has is picked at run time. The per-level buffers start on a
//! cache line (`aligned`), so no lane group's load or store straddles two. (A row-major layout, each row's Q values together, vectorises only
//! across the Q points: 3 for depth-6 trees, a poor fit for 4- or 8-wide registers.)
//! Rows are transposed to columns (feature-major) for contiguous split tests, and SHAP values
//! accumulate in a transposed buffer, written back per row at the end.
//! Each row's arithmetic is exactly what it would be alone, in the same order whatever the
//! instruction set, so batching, threading and the CPU never change a result.

use super::aligned::Aligned;
use super::lanes::{self, LANES};
use super::linear::{Segment, on_segment};
use super::path::{Condition, PathScratch, tree_shap};
use super::prepare::Prepared;
use crate::model::Tree;

/// Most rows per batch (fewer for very wide models, see `PathExplainer`): big enough to
/// amortise a tree's edge data, small enough that the per-level buffers (levels × Q × BATCH
/// f64) stay in L1/L2.
pub const BATCH: usize = 256;

/// Row stride of the per-level buffers (`p`, `g`, `var`), whatever the batch size: a
/// compile-time constant, so once the kernels are inlined every access to quadrature point q
/// is a fixed displacement from one pointer. With a run-time stride each point needed its own
/// pointer, and for Q ≳ 6 they spilled to the stack (callgrind per row and tree: LW 2688 ->
/// 2345, W1 1176 -> 1140).
const PS: usize = BATCH;
const _: () = assert!(PS.is_multiple_of(LANES));

/// One batch of rows and every buffer the kernel needs; reused across batches by a thread.
pub struct Batch {
    /// Most rows per batch.
    cap: usize,
    /// Row stride of `xt` and `phi`: `cap` rounded up to whole lane groups (narrow batches of
    /// wide models keep these small; the per-level buffers use `PS`).
    stride: usize,
    nb: usize,
    /// Rows computed: `nb` rounded up to whole lane groups (the padding is never stored).
    np: usize,
    nf: usize,
    outputs: usize,
    /// Rows transposed: `xt[j * stride + b]` is feature j of row b.
    xt: Aligned<f64>,
    /// SHAP values transposed: `phi[(o * nf + j) * stride + b]`.
    phi: Aligned<f64>,
    /// P(t) per path level, quadrature point and row: `p[(level * Q + q) * PS + b]`.
    p: Aligned<f64>,
    /// G(t), laid out like `p`.
    g: Aligned<f64>,
    /// Edge variant per level and row: 0 row follows, 1 row leaves here, 2 already cold,
    /// encoded as the AVX2 permute index that picks it (`lanes::encode`): u64, the lane width
    /// of the f64 it selects.
    var: Aligned<u64>,
    /// Which copy of the DFS runs (the widest the CPU has).
    isa: Isa,
    classic: PathScratch,
    row: Vec<f64>,
    tmp: Vec<f64>,
}

impl Batch {
    /// Buffers for batches of up to `cap` rows (clamped to 1..=BATCH).
    pub fn new(nf: usize, outputs: usize, cap: usize) -> Self {
        let cap = cap.clamp(1, BATCH);
        let stride = cap.next_multiple_of(LANES);
        Batch {
            cap,
            stride,
            nb: 0,
            np: 0,
            nf,
            outputs,
            xt: Aligned::filled(nf * stride, 0.0),
            phi: Aligned::filled(outputs * nf * stride, 0.0),
            p: Aligned::new(),
            g: Aligned::new(),
            var: Aligned::new(),
            isa: Isa::detect(),
            classic: PathScratch::default(),
            row: vec![0.0; nf],
            tmp: vec![0.0; nf],
        }
    }

    /// Start a batch of `nb ≤ cap` rows (`x` row-major).
    pub fn load(&mut self, x: &[f64], nb: usize) {
        let s = self.stride;
        self.nb = nb.min(self.cap);
        self.np = self.nb.next_multiple_of(LANES);
        for (b, row) in x.chunks_exact(self.nf).take(self.nb).enumerate() {
            for (j, &v) in row.iter().enumerate() {
                self.xt[j * s + b] = v;
            }
        }
        self.phi.fill(0.0);
    }

    /// Write the batch's SHAP values into `out` (rows of `stride` values, output blocks of
    /// `nf + 1`; the base-value slots are left alone).
    pub fn store(&self, out: &mut [f64], stride: usize) {
        let s = self.stride;
        let nf = self.nf;
        for (b, row) in out.chunks_exact_mut(stride).take(self.nb).enumerate() {
            for o in 0..self.outputs {
                for j in 0..nf {
                    row[o * (nf + 1) + j] = self.phi[(o * nf + j) * s + b];
                }
            }
        }
    }

    /// Run one prepared tree (its segments, the root's first) over the batch, adding into
    /// output `output`.
    pub(super) fn run(&mut self, segments: &[Segment], tree: &Tree, output: usize) {
        // Segments below the root use fewer points than the root's, so this bounds them all.
        let q = segments[0].points();
        let levels = tree.depth() + 1;
        if self.p.len() < levels * q * PS {
            self.p.resize(levels * q * PS, 0.0);
            self.g.resize(levels * q * PS, 0.0);
        }
        if self.var.len() < levels * PS {
            self.var.resize(levels * PS, 0);
        }
        self.var[..PS].fill(lanes::HOT);
        let phi_at = output * self.nf * self.stride;
        match self.isa {
            // SAFETY: `isa` is only ever what `Isa::detect` found the CPU to have (or less).
            #[cfg(target_arch = "x86_64")]
            Isa::Avx512 => unsafe { enter_avx512(self, segments, 0, tree, (0, 0), phi_at) },
            // SAFETY: as above.
            #[cfg(target_arch = "x86_64")]
            Isa::Avx2 => unsafe { enter_avx2(self, segments, 0, tree, (0, 0), phi_at) },
            _ => enter_portable(self, segments, 0, tree, (0, 0), phi_at),
        }
    }

    /// Trees too deep for the quadrature sizes: the classic algorithm, row by row.
    pub(super) fn run_classic(&mut self, tree: &Tree, output: usize) {
        let s = self.stride;
        let nf = self.nf;
        for b in 0..self.nb {
            for j in 0..nf {
                self.row[j] = self.xt[j * s + b];
            }
            self.tmp.fill(0.0);
            tree_shap(
                tree,
                &self.row,
                &mut self.tmp,
                Condition::Off,
                &mut self.classic,
            );
            for j in 0..nf {
                self.phi[(output * nf + j) * s + b] += self.tmp[j];
            }
        }
    }
}

/// The instruction sets the kernels come in, narrowest first. All give the same bits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Isa {
    Portable,
    Avx2,
    Avx512,
}

impl Isa {
    /// Runtime CPU detection, done once per batch buffer.
    fn detect() -> Isa {
        #[cfg(target_arch = "x86_64")]
        {
            use std::arch::is_x86_feature_detected as has;
            if has!("avx512f") && has!("avx2") {
                return Isa::Avx512;
            }
            if has!("avx2") {
                return Isa::Avx2;
            }
        }
        Isa::Portable
    }
}

/// Calls kernel `$f` with its last const parameter set to `$fresh`: the edge's feature is new on
/// the path, so only variants 0 and 1 occur and the AVX2 kernels pick them with a blend.
macro_rules! fresh {
    ($fresh:expr, $($f:ident)::+ ::<$q:ident>($($arg:expr),* $(,)?)) => {
        if $fresh {
            $($f)::+::<$q, true>($($arg),*)
        } else {
            $($f)::+::<$q, false>($($arg),*)
        }
    };
    // Two flags: the twig's own edge, then its leaves' edges.
    ($fe:expr, $fc:expr, $($f:ident)::+ ::<$q:ident>($($arg:expr),* $(,)?)) => {
        match ($fe, $fc) {
            (true, true) => $($f)::+::<$q, true, true>($($arg),*),
            (true, false) => $($f)::+::<$q, true, false>($($arg),*),
            (false, true) => $($f)::+::<$q, false, true>($($arg),*),
            (false, false) => $($f)::+::<$q, false, false>($($arg),*),
        }
    };
}

/// Routes `node`'s rows (split on `feature`) into the variants of level `level`, marking rows
/// cold where the previous edge on the feature (its level `prev`, `u16::MAX` for none) had.
macro_rules! route {
    ($k:ident, $b:ident, $tree:ident, $node:expr, $feature:expr, $prev:expr, $level:expr) => {{
        let np = $b.np;
        let (upper, lower) = $b.var.split_at_mut($level * PS);
        let at = $prev as usize * PS;
        let prev = ($prev != u16::MAX).then(|| &upper[at..at + np]);
        $k::route(
            $tree,
            $node,
            &$b.xt[$feature * $b.stride..],
            prev,
            lower,
            np,
        );
    }};
}

/// Defines the DFS under a name and extra attributes: once portable, once with AVX2. The
/// recursion must call its own copy (a function with `target_feature` is compiled for those
/// features only, and the `lanes` loops are `inline(always)` so they inherit them). Three
/// functions per copy:
///
/// - `enter`: segment `i` of a tree (see `linear::plan`) rooted at `node`, level `d`, its P / G
///   blocks starting at `start`: dispatches on the segment's number of points to `segment`.
/// - `segment`: P at the segment's root (all ones at the tree's root, else rebuilt from the
///   path's edges at this segment's points), the DFS below it, and below the tree's root the
///   segment's G credited to the path's edges (it is not merged into the parent's G).
/// - `visit`: leaves G(t) = Σ over leaves below `node` of v·P(t) at level `d` of `g` (levels of
///   `p` / `g` at `off + d · Q · PS`), and adds the credits of every edge below `node` into `phi`.
macro_rules! define_visit {
    ($(#[$attr:meta])* fn $enter:ident, $segment:ident, $visit:ident, $k:path) => {
        $(#[$attr])*
        fn $enter(
            b: &mut Batch,
            segs: &[Segment],
            i: usize,
            tree: &Tree,
            at: (usize, usize),
            phi_at: usize,
        ) {
            on_segment!(&segs[i], pt => $segment(b, segs, pt, tree, at, phi_at))
        }

        $(#[$attr])*
        fn $segment<const Q: usize>(
            b: &mut Batch,
            segs: &[Segment],
            pt: &Prepared<Q>,
            tree: &Tree,
            (d, start): (usize, usize),
            phi_at: usize,
        ) {
            use $k as k;
            let (s, np) = (b.stride, b.np);
            let block = start..start + Q * PS;
            if d == 0 {
                b.p[block.clone()].fill(1.0);
            } else {
                k::restart(&pt.path, &b.var, &mut b.p[block.clone()], PS, np);
            }
            $visit(b, segs, pt, tree, pt.base, d, phi_at, start.wrapping_sub(d * Q * PS));
            if d > 0 {
                k::flush(&pt.path, &b.var, &b.g[block], &mut b.phi, (phi_at, s), PS, np);
            }
        }

        $(#[$attr])*
        #[allow(clippy::too_many_arguments)]
        fn $visit<const Q: usize>(
            b: &mut Batch,
            segs: &[Segment],
            pt: &Prepared<Q>,
            tree: &Tree,
            node: usize,
            d: usize,
            phi_at: usize,
            off: usize,
        ) {
            use $k as k;
            let (s, np, base) = (b.stride, b.np, pt.base);
            // Start of level `d`'s block (Q rows of `PS`) in `p` / `g`.
            let lvl = |d: usize| off.wrapping_add(d * Q * PS);
            if tree.is_leaf(node) {
                let at = lvl(d);
                let v = tree.predict_leaf_value(node);
                lanes::leaf_node(v, &b.p[at..at + Q * PS], &mut b.g[at..at + Q * PS]);
                return;
            }
            let feature = tree.split_feature(node);
            let (l, r) = tree.children(node);
            let at = phi_at + feature * s;
            // Both edges have the same previous edge on this feature (if any).
            let prev = pt.edges[l - base].prev;
            route!(k, b, tree, node, feature, prev, d + 1);
            // A child entering a segment keeps its G to itself: the other child then writes
            // this node's G (the right one when the left entered); both entering leaves it 0.
            let entered = [l, r].map(|c| pt.enter[c - base] != u32::MAX);
            if entered == [true, true] {
                b.g[lvl(d)..lvl(d + 1)].fill(0.0);
            }
            // Only variants 0 and 1 where the feature is new on the path (see `lanes::HOT`).
            let fresh = prev == u16::MAX;
            for (child, is_left) in [(l, true), (r, false)] {
                let e = &pt.edges[child - base];
                let write = is_left || entered[0];
                if !is_left {
                    lanes::flip(&mut b.var[(d + 1) * PS..(d + 1) * PS + np]);
                }
                let segment = pt.enter[child - base];
                if segment != u32::MAX {
                    $enter(b, segs, segment as usize, tree, (d + 1, lvl(d + 1)), phi_at);
                    continue;
                }
                let var = &b.var[(d + 1) * PS..(d + 1) * PS + np];
                if tree.is_leaf(child) {
                    fresh!(fresh, k::leaf::<Q>(
                        e,
                        write,
                        &b.p[lvl(d)..lvl(d + 1)],
                        &mut b.g[lvl(d)..lvl(d + 1)],
                        var,
                        &mut b.phi[at..at + np],
                        (PS, np),
                    ));
                    continue;
                }
                let twig = pt.twig_of[child - base];
                if twig != u32::MAX {
                    // A twig (the most common subtree of depth-wise trees): route its rows,
                    // then the twig and its edge in one pass.
                    let (cl, _) = tree.children(child);
                    let fc = tree.split_feature(child);
                    let prev = pt.edges[cl - base].prev;
                    route!(k, b, tree, child, fc, prev, d + 2);
                    let (var, leaves) = b.var.split_at((d + 2) * PS);
                    fresh!(fresh, prev == u16::MAX, k::twig::<Q>(
                        (e, &pt.twigs[twig as usize]),
                        write,
                        &b.p[lvl(d)..lvl(d + 1)],
                        &mut b.g[lvl(d)..lvl(d + 1)],
                        (&var[(d + 1) * PS..(d + 1) * PS + np], &leaves[..np]),
                        &mut b.phi,
                        (at, phi_at + fc * s),
                        (PS, np),
                    ));
                    continue;
                }
                {
                    let (upper, lower) = b.p.split_at_mut(lvl(d + 1));
                    let (src, dst) = (&upper[lvl(d)..], &mut lower[..Q * PS]);
                    fresh!(fresh, k::descend::<Q>(src, dst, var, &e.ratio, PS, np));
                }
                $visit(b, segs, pt, tree, child, d + 1, phi_at, off);
                let var = &b.var[(d + 1) * PS..(d + 1) * PS + np];
                let (upper, lower) = b.g.split_at_mut(lvl(d + 1));
                let gc = &lower[..Q * PS];
                let parent = &mut upper[lvl(d)..];
                let phi = &mut b.phi[at..at + np];
                fresh!(fresh, k::credit::<Q>(gc, var, &e.coef, phi, parent, write, PS, np));
            }
        }
    };
}

define_visit!(fn enter_portable, segment_portable, visit_portable, lanes::portable);

define_visit!(
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2")]
    fn enter_avx2,
    segment_avx2,
    visit_avx2,
    lanes::avx2
);

define_visit!(
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2,avx512f")]
    fn enter_avx512,
    segment_avx512,
    visit_avx512,
    lanes::avx512
);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::explain::linear::{LinearTrees, lopsided};

    /// Every tree of `model` through one batch, with the kernels of `isa` (if the CPU has
    /// it, else the widest it has); the SHAP values of each row as stored.
    fn explain(model: &crate::Ensemble, rows: &crate::Matrix, isa: Isa) -> Vec<f64> {
        let (f, k) = (model.num_features, model.num_outputs);
        let prepared = LinearTrees::new(&model.trees);
        let n = rows.rows.min(BATCH);
        let mut batch = Batch::new(f, k, n);
        batch.isa = isa.min(Isa::detect());
        batch.load(&rows.values[..n * f], n);
        for (t, &o) in model.tree_output.iter().enumerate() {
            prepared.add(t, o, &mut batch);
        }
        let mut out = vec![0.0; n * k * (f + 1)];
        batch.store(&mut out, k * (f + 1));
        out
    }

    #[test]
    fn the_avx2_and_avx512_kernels_give_the_portable_kernels_results_bit_for_bit() {
        let fixtures = ["xgb_binary_d6", "lgb_binary_d8", "lgb_cat_multi"]
            .map(|dir| (dir.to_string(), crate::explain::fixture(dir)));
        // Lopsided trees: segments at fewer points (rebuilt P, flushed G), 37 rows (padding).
        let lopsided = ("lopsided".into(), lopsided::model_and_rows(5, 30, 37));
        for (name, (model, rows)) in fixtures.into_iter().chain([lopsided]) {
            let portable = explain(&model, &rows, Isa::Portable);
            assert!(portable.iter().any(|&v| v != 0.0), "{name}: no values");
            for isa in [Isa::Avx2, Isa::Avx512] {
                let fast = explain(&model, &rows, isa);
                let same = portable
                    .iter()
                    .zip(&fast)
                    .all(|(a, b)| a.to_bits() == b.to_bits());
                assert!(same, "{name}: {isa:?} and portable kernels differ");
            }
        }
    }
}
