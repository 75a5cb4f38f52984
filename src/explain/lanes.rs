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

/// The right child's variants from the left child's, in place: a row that goes left (0) leaves
/// the right edge's feature path (1) and vice versa; already cold (2) stays cold. Routing
/// once per node and flipping saves a second pass over the feature column.
#[inline(always)]
pub fn flip(var: &mut [u64]) {
    for v in var {
        *v ^= 1 ^ (*v >> 1);
    }
}

/// Where `prev` (the variants of the previous edge on the same feature along the path) is
/// not 0, the row had already left that feature's path: variant 2 (branch-free).
#[inline(always)]
fn mark_cold(var: &mut [u64], prev: &[u64]) {
    for (v, &h) in var.iter_mut().zip(prev) {
        let cold = (h != 0) as u64;
        *v = cold * 2 + (1 - cold) * *v;
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
                    *v = !test.goes_left(x) as u64;
                }
            }
            None => {
                for (v, &x) in var.iter_mut().zip(xs) {
                    *v = !tree.goes_left(node, x) as u64;
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
                *d = p * ratio[q][(w as usize).min(2)];
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
            let w = (w as usize).min(2);
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

    /// A leaf child in one pass: its P (`p` · ratio), v·P, its credit to `phi`, and G of the
    /// parent (`g`, written for the left child, added for the right) — what `descend`, the
    /// leaf, `credit` and `merge` would do, without the round trip through the child's level.
    #[allow(clippy::too_many_arguments)]
    #[inline(always)]
    pub fn leaf<const Q: usize>(
        v: f64,
        (ratio, coef): (&Table<Q>, &Table<Q>),
        is_left: bool,
        p: &[f64],
        g: &mut [f64],
        var: &[u64],
        phi: &mut [f64],
        (s, np): (usize, usize),
    ) {
        for (b, (ph, &w)) in phi[..np].iter_mut().zip(var).enumerate() {
            let w = (w as usize).min(2);
            let mut acc = 0.0;
            for q in 0..Q {
                let g1 = v * (p[q * s + b] * ratio[q][w]);
                acc = if q == 0 {
                    g1 * coef[q][w]
                } else {
                    acc + g1 * coef[q][w]
                };
                let gq = &mut g[q * s + b];
                *gq = if is_left { g1 } else { *gq + g1 };
            }
            *ph += acc;
        }
    }
}

/// The same kernels, four rows per AVX2 instruction. Callers must have checked AVX2 (these are
/// `target_feature` functions, inlined into the AVX2 copy of the DFS). Loads and stores are
/// unaligned; each kernel asserts its bounds once, up front, then uses raw pointers.
#[cfg(target_arch = "x86_64")]
pub mod avx2 {
    use super::super::linear::Table;
    use super::LANES;
    use crate::model::{NumericTest, Tree};
    use std::arch::x86_64::*;

    const W: usize = 4;
    const _: () = assert!(LANES.is_multiple_of(W));

    /// Permute indices that pick each of the four rows' variant at `w` from a register
    /// holding one point's four table slots: 32-bit lanes (2v, 2v + 1) for variant v.
    ///
    /// # Safety
    /// `w` must point to four readable u64.
    #[inline]
    #[target_feature(enable = "avx2")]
    unsafe fn index(w: *const u64) -> __m256i {
        // SAFETY: the caller guarantees four u64 at `w` (unaligned load).
        let w = unsafe { _mm256_loadu_si256(w.cast()) };
        let lo = _mm256_slli_epi64::<1>(w);
        let both = _mm256_or_si256(lo, _mm256_slli_epi64::<32>(lo));
        _mm256_or_si256(both, _mm256_set1_epi64x(1 << 32))
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
        let (one, two) = (_mm256_set1_epi64x(1), _mm256_set1_epi64x(2));
        let mut c = 0;
        while c < np {
            // SAFETY: in bounds by the assertions above.
            unsafe {
                let left = _mm256_castpd_si256(test.left4(_mm256_loadu_pd(xp.add(c))));
                // All-ones lanes go left (variant 0), the others right (1).
                let mut v = _mm256_andnot_si256(left, one);
                if let Some(prev) = prev {
                    let hot = _mm256_cmpeq_epi64(
                        _mm256_loadu_si256(prev.as_ptr().add(c).cast()),
                        _mm256_setzero_si256(),
                    );
                    v = _mm256_blendv_epi8(two, v, hot);
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
    #[allow(clippy::too_many_arguments)]
    #[inline]
    #[target_feature(enable = "avx2")]
    pub fn leaf<const Q: usize>(
        v: f64,
        (ratio, coef): (&Table<Q>, &Table<Q>),
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
        let vv = _mm256_set1_pd(v);
        for c in (0..np / W).map(|i| i * W) {
            // SAFETY: in bounds by the assertions above.
            unsafe {
                let m = index(vp.add(c));
                let mut acc = _mm256_setzero_pd();
                for q in 0..Q {
                    let r = pick(m, &ratio[q]);
                    let k = pick(m, &coef[q]);
                    let x = _mm256_loadu_pd(pp.add(q * s + c));
                    let g1 = _mm256_mul_pd(vv, _mm256_mul_pd(x, r));
                    let t = _mm256_mul_pd(g1, k);
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
}
