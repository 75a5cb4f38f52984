//! The per-batch kernel of the fast path-dependent explainer (see `linear`): up to `BATCH`
//! rows go through one tree together.
//!
//! Why batches: the traversal of Linear TreeSHAP visits every node whatever the row, so one
//! DFS serves all rows of a batch; the tree's precomputed edge data is loaded once per batch
//! instead of once per row, and each per-node step is a branch-free loop over rows. Each row
//! keeps its Q quadrature values together and picks its edge variant's Q-vector once, so the
//! Q-wide products vectorise (this layout measured 20–35% faster than Q-major rows). Rows are
//! transposed to columns (feature-major) for contiguous split tests, and SHAP values
//! accumulate in a transposed buffer, written back per row at the end.
//! Each row's arithmetic is exactly what it would be alone, so batching and threading never
//! change a result.

use super::linear::Prepared;
use super::path::{Condition, PathScratch, tree_shap};
use crate::model::Tree;

/// Most rows per batch (fewer for very wide models, see `PathExplainer`): big enough to
/// amortise a tree's edge data, small enough that the per-level buffers (levels × Q × BATCH
/// f64) stay in L1/L2.
pub const BATCH: usize = 256;

/// One batch of rows and every buffer the kernel needs; reused across batches by a thread.
pub struct Batch {
    /// Rows per batch: the stride of every per-row buffer.
    cap: usize,
    nb: usize,
    nf: usize,
    outputs: usize,
    /// Rows transposed: `xt[j * cap + b]` is feature j of row b.
    xt: Vec<f64>,
    /// SHAP values transposed: `phi[(o * nf + j) * cap + b]`.
    phi: Vec<f64>,
    /// P(t) per path level, row and quadrature point: `p[(level * cap + b) * Q + q]`.
    p: Vec<f64>,
    /// G(t), laid out like `p`.
    g: Vec<f64>,
    /// Edge variant per level and row: 0 row follows, 1 row leaves here, 2 already cold.
    var: Vec<u8>,
    /// Split direction per level and row.
    left: Vec<bool>,
    classic: PathScratch,
    row: Vec<f64>,
    tmp: Vec<f64>,
}

impl Batch {
    /// Buffers for batches of up to `cap` rows (clamped to 1..=BATCH).
    pub fn new(nf: usize, outputs: usize, cap: usize) -> Self {
        let cap = cap.clamp(1, BATCH);
        Batch {
            cap,
            nb: 0,
            nf,
            outputs,
            xt: vec![0.0; nf * cap],
            phi: vec![0.0; outputs * nf * cap],
            p: Vec::new(),
            g: Vec::new(),
            var: Vec::new(),
            left: Vec::new(),
            classic: PathScratch::default(),
            row: vec![0.0; nf],
            tmp: vec![0.0; nf],
        }
    }

    /// Start a batch of `nb ≤ cap` rows (`x` row-major).
    pub fn load(&mut self, x: &[f64], nb: usize) {
        let cap = self.cap;
        self.nb = nb.min(cap);
        for (b, row) in x.chunks_exact(self.nf).take(self.nb).enumerate() {
            for (j, &v) in row.iter().enumerate() {
                self.xt[j * cap + b] = v;
            }
        }
        self.phi.fill(0.0);
    }

    /// Write the batch's SHAP values into `out` (rows of `stride` values, output blocks of
    /// `nf + 1`; the base-value slots are left alone).
    pub fn store(&self, out: &mut [f64], stride: usize) {
        let cap = self.cap;
        let nf = self.nf;
        for (b, row) in out.chunks_exact_mut(stride).take(self.nb).enumerate() {
            for o in 0..self.outputs {
                for j in 0..nf {
                    row[o * (nf + 1) + j] = self.phi[(o * nf + j) * cap + b];
                }
            }
        }
    }

    /// Run one prepared tree over the batch, adding into output `output`.
    pub(super) fn run<const Q: usize>(&mut self, pt: &Prepared<Q>, tree: &Tree, output: usize) {
        let cap = self.cap;
        let levels = tree.depth() + 1;
        if self.p.len() < levels * Q * cap {
            self.p.resize(levels * Q * cap, 0.0);
            self.g.resize(levels * Q * cap, 0.0);
        }
        if self.var.len() < levels * cap {
            self.var.resize(levels * cap, 0);
            self.left.resize(levels * cap, false);
        }
        self.p[..cap * Q].fill(1.0);
        self.var[..cap].fill(0);
        self.visit(pt, tree, 0, 0, output * self.nf * cap);
    }

    /// Trees too deep for the quadrature sizes: the classic algorithm, row by row.
    pub(super) fn run_classic(&mut self, tree: &Tree, output: usize) {
        let cap = self.cap;
        let nf = self.nf;
        for b in 0..self.nb {
            for j in 0..nf {
                self.row[j] = self.xt[j * cap + b];
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
                self.phi[(output * nf + j) * cap + b] += self.tmp[j];
            }
        }
    }

    /// Leaves G(t) = Σ over leaves below `node` of v·P(t) at level `d` of `g`.
    ///
    /// P and G are stored per level, row and quadrature point (`(level * cap + b) * Q + q`), so
    /// each row's Q values are contiguous: a row picks its edge variant's Q-vector once and
    /// the Q-wide products vectorise.
    fn visit<const Q: usize>(
        &mut self,
        pt: &Prepared<Q>,
        tree: &Tree,
        node: usize,
        d: usize,
        phi_at: usize,
    ) {
        let cap = self.cap;
        let nb = self.nb;
        // Start of level `d`'s rows in `p` / `g`.
        let lvl = |d: usize| d * cap * Q;
        if tree.is_leaf(node) {
            let v = pt.leaf_value[node];
            let at = lvl(d);
            for (g, p) in self.g[at..at + nb * Q]
                .iter_mut()
                .zip(&self.p[at..at + nb * Q])
            {
                *g = v * p;
            }
            return;
        }
        let feature = tree.split_feature(node);
        let (l, r) = tree.children(node);
        tree.route_batch(
            node,
            &self.xt[feature * cap..feature * cap + nb],
            &mut self.left[d * cap..d * cap + nb],
        );
        for (child, is_left) in [(l, true), (r, false)] {
            let e = &pt.edges[child];
            {
                let (upper, lower) = self.var.split_at_mut((d + 1) * cap);
                let var = &mut lower[..nb];
                let left = &self.left[d * cap..d * cap + nb];
                if e.prev == u16::MAX {
                    for (v, &lf) in var.iter_mut().zip(left) {
                        *v = (lf != is_left) as u8;
                    }
                } else {
                    // The feature's previous edge is hot iff its variant there was 0.
                    let prev = &upper[e.prev as usize * cap..e.prev as usize * cap + nb];
                    for ((v, &lf), &h) in var.iter_mut().zip(left).zip(prev) {
                        // 2 when already cold, else 0/1 by direction (branch-free).
                        let cold = (h != 0) as u8;
                        *v = cold * 2 + (1 - cold) * (lf != is_left) as u8;
                    }
                }
            }
            let var = &self.var[(d + 1) * cap..(d + 1) * cap + nb];
            if tree.is_leaf(child) {
                // A leaf child fused into one pass: P, v·P, its credit and G(node), exactly
                // the operations the general path performs, without the round trip through the
                // child's level.
                let v = pt.leaf_value[child];
                let src = &self.p[lvl(d)..lvl(d) + nb * Q];
                let dst = &mut self.g[lvl(d)..lvl(d) + nb * Q];
                let at = phi_at + feature * cap;
                let phi = &mut self.phi[at..at + nb];
                for (((p0, g), &w), ph) in src
                    .chunks_exact(Q)
                    .zip(dst.chunks_exact_mut(Q))
                    .zip(var)
                    .zip(phi)
                {
                    let w = (w as usize).min(2);
                    let (rt, ct) = (&e.ratio[w], &e.coef[w]);
                    let mut acc = 0.0;
                    for q in 0..Q {
                        let g1 = v * (p0[q] * rt[q]);
                        acc = if q == 0 { g1 * ct[q] } else { acc + g1 * ct[q] };
                        g[q] = if is_left { g1 } else { g[q] + g1 };
                    }
                    *ph += acc;
                }
                continue;
            }
            {
                let (upper, lower) = self.p.split_at_mut(lvl(d + 1));
                let src = &upper[lvl(d)..lvl(d) + nb * Q];
                let dst = &mut lower[..nb * Q];
                for ((p0, p1), &w) in src.chunks_exact(Q).zip(dst.chunks_exact_mut(Q)).zip(var) {
                    let rt = &e.ratio[(w as usize).min(2)];
                    for q in 0..Q {
                        p1[q] = p0[q] * rt[q];
                    }
                }
            }
            self.visit(pt, tree, child, d + 1, phi_at);
            let var = &self.var[(d + 1) * cap..(d + 1) * cap + nb];
            // The child's credit: Σ_q G(t_q)·c(t_q), summed from q = 0.
            let at = phi_at + feature * cap;
            let (upper, lower) = self.g.split_at_mut(lvl(d + 1));
            let gc = &lower[..nb * Q];
            for ((g1, &w), ph) in gc.chunks_exact(Q).zip(var).zip(&mut self.phi[at..at + nb]) {
                let ct = &e.coef[(w as usize).min(2)];
                let mut acc = g1[0] * ct[0];
                for q in 1..Q {
                    acc += g1[q] * ct[q];
                }
                *ph += acc;
            }
            // G(node) = G(left) + G(right): the left child's is copied, the right's added.
            let dst = &mut upper[lvl(d)..lvl(d) + nb * Q];
            if is_left {
                dst.copy_from_slice(gc);
            } else {
                for (dst, src) in dst.iter_mut().zip(gc) {
                    *dst += src;
                }
            }
        }
    }
}
