//! The per-edge row loops of the batched Linear TreeSHAP kernel (`batch`), written so the
//! compiler vectorises them across rows.
//!
//! Layout: every per-row buffer has a row stride `s` (a multiple of [`LANES`]; the batch passes a
//! compile-time constant so that, inlined, each point's rows are a fixed displacement away), and
//! P(t) / G(t) of one path level are Q rows of `s` values, one per quadrature point (`q * s + b`),
//! so for a fixed point the rows are contiguous. Two implementations with one interface:
//! `portable`, row by row, and `avx2`, four rows per instruction with explicit intrinsics (the
//! auto-vectoriser kept the per-row variant pick as branches and scalar code, measured slower than
//! the row-major original under callgrind). Both do the same IEEE operations in the same order per
//! row, so the results do not depend on the instruction set or on the batch a row lands in.
//!
//! A row's edge variant (0 follows the edge, 1 leaves the feature's path here, 2 already cold)
//! picks one of three model-only constants per point; in `avx2` that pick is one lane permute of
//! the point's four table slots per four rows (an indexed load would be a gather; compare and blend
//! took five instructions per pick: callgrind W1 1433 -> 1176 per row and tree). Variants come
//! straight from routing (`route`, the node's split test applied four rows at a time for numeric
//! splits) for the left child and are flipped in place for the right child, and each child's credit
//! pass also merges its G into the parent's, so no pass over rows exists only to move data.
//!
//! Padding rows (from the batch's row count up to a multiple of LANES) are computed like the
//! others and never read back; their inputs are finite or NaN left-overs, which cannot trap.

// Fixed-size loops over quadrature points index several arrays in lockstep.
#![allow(clippy::needless_range_loop)]

/// Rows per group: every row count is padded to a multiple (two AVX2 registers of f64).
pub const LANES: usize = 8;

/// A row's edge variant (0 follows the edge, 1 leaves the feature's path here, 2 already cold),
/// stored as the 32-bit lane pair (2v, 2v + 1) that `avx2`'s permute uses to pick the variant's
/// f64 out of a point's four table slots: storing the permute index itself saves rebuilding it
/// from v in every kernel (five instructions per four rows and kernel).
#[inline(always)]
pub const fn encode(v: u64) -> u64 {
    (2 * v) | ((2 * v + 1) << 32)
}

/// The variant of an encoded `w`: 0, 1 or 2.
#[inline(always)]
pub fn variant(w: u64) -> usize {
    ((w & 0xF) >> 1) as usize
}

/// Encoded variant 0: the row follows the edge (the root's level holds it too).
pub const HOT: u64 = encode(0);
const COLD_HERE: u64 = encode(1);
const ALREADY_COLD: u64 = encode(2);

/// The right child's variant from the left child's: a row that goes left (0) leaves the right
/// edge's feature path (1) and vice versa; already cold (2) stays cold. On the encoding, each
/// 32-bit half flips bit 1 unless bit 2 is set (0 ↔ 2, 1 ↔ 3, 4 and 5 stay).
#[inline(always)]
pub const fn flip_one(w: u64) -> u64 {
    w ^ (0x2_0000_0002 & !(w >> 1))
}

/// [`flip_one`] over a level's rows, in place. Routing once per node and flipping saves a
/// second pass over the feature column.
#[inline(always)]
pub fn flip(var: &mut [u64]) {
    for v in var {
        *v = flip_one(*v);
    }
}

/// Where `prev` (the variants of the previous edge on the same feature along the path) is
/// not hot, the row had already left that feature's path: variant 2 (branch-free).
#[inline(always)]
fn mark_cold(var: &mut [u64], prev: &[u64]) {
    for (v, &h) in var.iter_mut().zip(prev) {
        *v = if h == HOT { *v } else { ALREADY_COLD };
    }
}

/// G at a leaf reached directly (only when a leaf is visited as a node): v·P.
#[inline(always)]
pub fn leaf_node(v: f64, p: &[f64], g: &mut [f64]) {
    for (g, &p) in g.iter_mut().zip(p) {
        *g = v * p;
    }
}

/// Row-by-row kernels: any CPU. The reference for the arithmetic order of `avx2`.
pub mod portable {
    use super::super::linear::Table;
    use super::super::linear::{Edge, Twig};
    use super::{COLD_HERE, HOT};
    use crate::model::{NumericTest, Tree};

    /// The variants of the edge into `node`'s left child for the first `np` rows, `xs` their
    /// values of its split feature: 0 the row goes left, 1 right, 2 where `prev` says the
    /// feature had already gone cold (see [`super::flip`] for the right child).
    #[inline(always)]
    pub fn route(
        tree: &Tree,
        node: usize,
        xs: &[f64],
        prev: Option<&[u64]>,
        var: &mut [u64],
        np: usize,
    ) {
        let (xs, var) = (&xs[..np], &mut var[..np]);
        match NumericTest::of(tree, node) {
            Some(test) => {
                for (v, &x) in var.iter_mut().zip(xs) {
                    *v = if test.goes_left(x) { HOT } else { COLD_HERE };
                }
            }
            None => {
                for (v, &x) in var.iter_mut().zip(xs) {
                    *v = if tree.goes_left(node, x) {
                        HOT
                    } else {
                        COLD_HERE
                    };
                }
            }
        }
        if let Some(prev) = prev {
            super::mark_cold(var, prev);
        }
    }
    /// P at the child level: `dst[q] = src[q] · ratio[variant][q]` for the first `np` rows.
    #[inline(always)]
    pub fn descend<const Q: usize>(
        src: &[f64],
        dst: &mut [f64],
        var: &[u64],
        ratio: &Table<Q>,
        s: usize,
        np: usize,
    ) {
        for q in 0..Q {
            let (src, dst) = (&src[q * s..q * s + np], &mut dst[q * s..q * s + np]);
            for ((d, &p), &w) in dst.iter_mut().zip(src).zip(var) {
                *d = p * ratio[q][super::variant(w)];
            }
        }
    }

    /// The child's credit to its split feature, `phi += Σ_q G(t_q)·c(t_q)` summed from q = 0,
    /// fused with the merge of the child's G into the parent's (`parent`, written for the left
    /// child, added for the right): one pass over the child's G instead of two.
    #[allow(clippy::too_many_arguments)]
    #[inline(always)]
    pub fn credit<const Q: usize>(
        g: &[f64],
        var: &[u64],
        coef: &Table<Q>,
        phi: &mut [f64],
        parent: &mut [f64],
        is_left: bool,
        s: usize,
        np: usize,
    ) {
        for (b, (ph, &w)) in phi[..np].iter_mut().zip(var).enumerate() {
            let w = super::variant(w);
            let mut acc = 0.0;
            for q in 0..Q {
                let (x, k) = (g[q * s + b], coef[q][w]);
                acc = if q == 0 { x * k } else { acc + x * k };
                let pq = &mut parent[q * s + b];
                *pq = if is_left { x } else { *pq + x };
            }
            *ph += acc;
        }
    }

    /// A leaf child in one pass: v·P at the leaf (`p` · v·ratio), its credit to `phi`
    /// (`p` · v·ratio·c, see `linear::Edge`), and G of the parent (`g`, written for the left
    /// child, added for the right) — what `descend`, the leaf, `credit` and `merge` would do,
    /// without the round trip through the child's level.
    #[allow(clippy::too_many_arguments)]
    #[inline(always)]
    pub fn leaf<const Q: usize>(
        e: &Edge<Q>,
        is_left: bool,
        p: &[f64],
        g: &mut [f64],
        var: &[u64],
        phi: &mut [f64],
        (s, np): (usize, usize),
    ) {
        for (b, (ph, &w)) in phi[..np].iter_mut().zip(var).enumerate() {
            let w = super::variant(w);
            let mut acc = 0.0;
            for q in 0..Q {
                let x = p[q * s + b];
                let (g1, t) = (x * e.ratio[q][w], x * e.coef[q][w]);
                acc = if q == 0 { t } else { acc + t };
                let gq = &mut g[q * s + b];
                *gq = if is_left { g1 } else { *gq + g1 };
            }
            *ph += acc;
        }
    }

    /// A child that is a twig (both its children leaves) and its edge in one pass: the twig's
    /// P, G and credit to its own feature from the folded tables (`linear::Twig`), its edge's
    /// credit to the parent's feature, and the merge into the parent's G — what `descend`, two
    /// `leaf` calls and `credit` would do, without the round trips through the twig's level.
    /// `var` is the edge into the twig, `var2` the edge into its left leaf.
    #[allow(clippy::too_many_arguments)]
    #[inline(always)]
    pub fn twig<const Q: usize>(
        (e, t): (&Edge<Q>, &Twig<Q>),
        is_left: bool,
        p: &[f64],
        g: &mut [f64],
        (var, var2): (&[u64], &[u64]),
        phi: &mut [f64],
        (at_e, at_c): (usize, usize),
        (s, np): (usize, usize),
    ) {
        for (b, (&we, &wl)) in var[..np].iter().zip(&var2[..np]).enumerate() {
            let (we, wl) = (super::variant(we), super::variant(wl));
            let (mut acc_c, mut acc_e) = (0.0, 0.0);
            for q in 0..Q {
                let pc = p[q * s + b] * e.ratio[q][we];
                let (gc, tc) = (pc * t.g[q][wl], pc * t.credit[q][wl]);
                let te = gc * e.coef[q][we];
                (acc_c, acc_e) = if q == 0 {
                    (tc, te)
                } else {
                    (acc_c + tc, acc_e + te)
                };
                let gq = &mut g[q * s + b];
                *gq = if is_left { gc } else { *gq + gc };
            }
            phi[at_c + b] += acc_c;
            phi[at_e + b] += acc_e;
        }
    }
}

/// The same kernels, four rows per AVX2 instruction. Callers must have checked AVX2 (these are
/// `target_feature` functions, inlined into the AVX2 copy of the DFS). Loads and stores are
/// unaligned; each kernel asserts its bounds once, up front, then uses raw pointers.
#[cfg(target_arch = "x86_64")]
pub mod avx2 {
    use super::super::linear::Table;
    use super::super::linear::{Edge, Twig};
    use super::LANES;
    use crate::model::{NumericTest, Tree};
    use std::arch::x86_64::*;

    const W: usize = 4;
    const _: () = assert!(LANES.is_multiple_of(W));

    /// Four rows' encoded variants (see [`super::encode`]): the permute index of each.
    ///
    /// # Safety
    /// `w` must point to four readable u64.
    #[inline]
    #[target_feature(enable = "avx2")]
    unsafe fn index(w: *const u64) -> __m256i {
        // SAFETY: the caller guarantees four u64 at `w` (unaligned load).
        unsafe { _mm256_loadu_si256(w.cast()) }
    }

    /// `slots[variant]` per row: one permute across the register (vpermps) instead of the
    /// three broadcasts and two blends of compare-and-select. Only the low three bits of each
    /// index are used, so no index can reach outside the register.
    #[inline]
    #[target_feature(enable = "avx2")]
    fn pick(idx: __m256i, slots: &[f64; 4]) -> __m256d {
        // SAFETY: `slots` is four f64 (unaligned load).
        let t = unsafe { _mm256_loadu_pd(slots.as_ptr()) };
        _mm256_castps_pd(_mm256_permutevar8x32_ps(_mm256_castpd_ps(t), idx))
    }

    /// As `portable::route`, four rows per step for numeric splits (categorical splits are
    /// set lookups: row by row, as `portable`).
    #[inline]
    #[target_feature(enable = "avx2")]
    pub fn route(
        tree: &Tree,
        node: usize,
        xs: &[f64],
        prev: Option<&[u64]>,
        var: &mut [u64],
        np: usize,
    ) {
        let Some(test) = NumericTest::of(tree, node) else {
            return super::portable::route(tree, node, xs, prev, var, np);
        };
        // One bounds check per call (see `descend`).
        assert!(np.is_multiple_of(W) && xs.len() >= np && var.len() >= np);
        assert!(prev.is_none_or(|p| p.len() >= np));
        let (xp, vp) = (xs.as_ptr(), var.as_mut_ptr());
        let hot = _mm256_set1_epi64x(super::HOT as i64);
        let cold_here = _mm256_set1_epi64x(super::COLD_HERE as i64);
        let already = _mm256_set1_epi64x(super::ALREADY_COLD as i64);
        let mut c = 0;
        while c < np {
            // SAFETY: in bounds by the assertions above.
            unsafe {
                let left = _mm256_castpd_si256(test.left4(_mm256_loadu_pd(xp.add(c))));
                // All-ones lanes go left (variant 0), the others right (1).
                let mut v = _mm256_blendv_epi8(cold_here, hot, left);
                if let Some(prev) = prev {
                    let was_hot =
                        _mm256_cmpeq_epi64(_mm256_loadu_si256(prev.as_ptr().add(c).cast()), hot);
                    v = _mm256_blendv_epi8(already, v, was_hot);
                }
                _mm256_storeu_si256(vp.add(c).cast(), v);
            }
            c += W;
        }
    }

    /// As `portable::descend`.
    #[inline]
    #[target_feature(enable = "avx2")]
    pub fn descend<const Q: usize>(
        src: &[f64],
        dst: &mut [f64],
        var: &[u64],
        ratio: &Table<Q>,
        s: usize,
        np: usize,
    ) {
        // One bounds check per call instead of one per load: every access below is at
        // `q * s + c` with q < Q and c + 4 ≤ np.
        let end = (Q - 1) * s + np;
        assert!(np.is_multiple_of(W) && var.len() >= np && src.len() >= end && dst.len() >= end);
        let (sp, dp, vp) = (src.as_ptr(), dst.as_mut_ptr(), var.as_ptr());
        for c in (0..np / W).map(|i| i * W) {
            // SAFETY: in bounds by the assertion above.
            unsafe {
                let m = index(vp.add(c));
                for q in 0..Q {
                    let r = pick(m, &ratio[q]);
                    let x = _mm256_loadu_pd(sp.add(q * s + c));
                    _mm256_storeu_pd(dp.add(q * s + c), _mm256_mul_pd(x, r));
                }
            }
        }
    }

    /// As `portable::credit`.
    #[allow(clippy::too_many_arguments)]
    #[inline]
    #[target_feature(enable = "avx2")]
    pub fn credit<const Q: usize>(
        g: &[f64],
        var: &[u64],
        coef: &Table<Q>,
        phi: &mut [f64],
        parent: &mut [f64],
        is_left: bool,
        s: usize,
        np: usize,
    ) {
        // One bounds check per call (see `descend`).
        let end = (Q - 1) * s + np;
        assert!(np.is_multiple_of(W) && var.len() >= np && phi.len() >= np);
        assert!(g.len() >= end && parent.len() >= end);
        let (gp, vp, pp) = (g.as_ptr(), var.as_ptr(), phi.as_mut_ptr());
        let up = parent.as_mut_ptr();
        for c in (0..np / W).map(|i| i * W) {
            // SAFETY: in bounds by the assertions above.
            unsafe {
                let m = index(vp.add(c));
                let mut acc = _mm256_setzero_pd();
                for q in 0..Q {
                    let k = pick(m, &coef[q]);
                    let x = _mm256_loadu_pd(gp.add(q * s + c));
                    let t = _mm256_mul_pd(x, k);
                    acc = if q == 0 { t } else { _mm256_add_pd(acc, t) };
                    let at = up.add(q * s + c);
                    let out = if is_left {
                        x
                    } else {
                        _mm256_add_pd(_mm256_loadu_pd(at), x)
                    };
                    _mm256_storeu_pd(at, out);
                }
                let ph = _mm256_loadu_pd(pp.add(c));
                _mm256_storeu_pd(pp.add(c), _mm256_add_pd(ph, acc));
            }
        }
    }

    /// As `portable::leaf`.
    #[inline]
    #[target_feature(enable = "avx2")]
    pub fn leaf<const Q: usize>(
        e: &Edge<Q>,
        is_left: bool,
        p: &[f64],
        g: &mut [f64],
        var: &[u64],
        phi: &mut [f64],
        (s, np): (usize, usize),
    ) {
        // One bounds check per call (see `descend`).
        let end = (Q - 1) * s + np;
        assert!(np.is_multiple_of(W) && var.len() >= np && phi.len() >= np);
        assert!(p.len() >= end && g.len() >= end);
        let (pp, gp, vp, php) = (p.as_ptr(), g.as_mut_ptr(), var.as_ptr(), phi.as_mut_ptr());
        for c in (0..np / W).map(|i| i * W) {
            // SAFETY: in bounds by the assertions above.
            unsafe {
                let m = index(vp.add(c));
                let mut acc = _mm256_setzero_pd();
                for q in 0..Q {
                    let x = _mm256_loadu_pd(pp.add(q * s + c));
                    let g1 = _mm256_mul_pd(x, pick(m, &e.ratio[q]));
                    let t = _mm256_mul_pd(x, pick(m, &e.coef[q]));
                    acc = if q == 0 { t } else { _mm256_add_pd(acc, t) };
                    let at = gp.add(q * s + c);
                    let out = if is_left {
                        g1
                    } else {
                        _mm256_add_pd(_mm256_loadu_pd(at), g1)
                    };
                    _mm256_storeu_pd(at, out);
                }
                let ph = _mm256_loadu_pd(php.add(c));
                _mm256_storeu_pd(php.add(c), _mm256_add_pd(ph, acc));
            }
        }
    }

    /// As `portable::twig`.
    #[allow(clippy::too_many_arguments)]
    #[inline]
    #[target_feature(enable = "avx2")]
    pub fn twig<const Q: usize>(
        (e, t): (&Edge<Q>, &Twig<Q>),
        is_left: bool,
        p: &[f64],
        g: &mut [f64],
        (var, var2): (&[u64], &[u64]),
        phi: &mut [f64],
        (at_e, at_c): (usize, usize),
        (s, np): (usize, usize),
    ) {
        // One bounds check per call (see `descend`).
        let end = (Q - 1) * s + np;
        assert!(np.is_multiple_of(W) && var.len() >= np && var2.len() >= np);
        assert!(p.len() >= end && g.len() >= end);
        assert!(phi.len() >= at_e.max(at_c) + np);
        let (pp, gp, vp, v2p) = (p.as_ptr(), g.as_mut_ptr(), var.as_ptr(), var2.as_ptr());
        // Both feature rows of `phi` through one pointer: they are the same row when the twig
        // splits on its parent's feature again.
        let php = phi.as_mut_ptr();
        for c in (0..np / W).map(|i| i * W) {
            // SAFETY: in bounds by the assertions above.
            unsafe {
                let (me, ml) = (index(vp.add(c)), index(v2p.add(c)));
                let mut acc_c = _mm256_setzero_pd();
                let mut acc_e = _mm256_setzero_pd();
                for q in 0..Q {
                    let x = _mm256_loadu_pd(pp.add(q * s + c));
                    let pc = _mm256_mul_pd(x, pick(me, &e.ratio[q]));
                    let gc = _mm256_mul_pd(pc, pick(ml, &t.g[q]));
                    let tc = _mm256_mul_pd(pc, pick(ml, &t.credit[q]));
                    let te = _mm256_mul_pd(gc, pick(me, &e.coef[q]));
                    if q == 0 {
                        (acc_c, acc_e) = (tc, te);
                    } else {
                        acc_c = _mm256_add_pd(acc_c, tc);
                        acc_e = _mm256_add_pd(acc_e, te);
                    }
                    let at = gp.add(q * s + c);
                    let out = if is_left {
                        gc
                    } else {
                        _mm256_add_pd(_mm256_loadu_pd(at), gc)
                    };
                    _mm256_storeu_pd(at, out);
                }
                let pc = php.add(at_c + c);
                _mm256_storeu_pd(pc, _mm256_add_pd(_mm256_loadu_pd(pc), acc_c));
                let pe = php.add(at_e + c);
                _mm256_storeu_pd(pe, _mm256_add_pd(_mm256_loadu_pd(pe), acc_e));
            }
        }
    }
}
