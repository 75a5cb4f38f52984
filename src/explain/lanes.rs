//! The per-edge row loops of the batched Linear TreeSHAP kernel (`batch`), written so the
//! compiler vectorises them across rows.
//!
//! Layout: every per-row buffer has a row stride `s` (a multiple of [`LANES`]), and P(t) / G(t)
//! of one path level are Q rows of `s` values, one per quadrature point (`q * s + b`), so for a
//! fixed point the rows are contiguous. Two implementations with one interface: `portable`, row by row,
//! and `avx2`, four rows per instruction with explicit intrinsics (the auto-vectoriser kept the
//! per-row variant pick as branches and scalar code, measured slower than the row-major
//! original under callgrind). Both do the same IEEE operations in the same order per row, so
//! the results do not depend on the instruction set or on the batch a row lands in.
//!
//! A row's edge variant (0 follows the edge, 1 leaves the feature's path here, 2 already cold)
//! picks one of three model-only constants per point; in `avx2` that pick is two compares and
//! two blends per four rows rather than an indexed load, which would be a gather.
//!
//! Padding rows (from the batch's row count up to a multiple of LANES) are computed like the
//! others and never read back; their inputs are finite or NaN left-overs, which cannot trap.

// Fixed-size loops over quadrature points index several arrays in lockstep.
#![allow(clippy::needless_range_loop)]

/// Rows per group: every row count is padded to a multiple (two AVX2 registers of f64).
pub const LANES: usize = 8;

/// Each row's variant for the edge into a child: 1 when the row goes the other way, and, when
/// the feature was met before on this path (`prev` = that edge's variants), 2 where the row had
/// already left it there. (Byte loops the compiler vectorises well on its own.)
#[inline(always)]
pub fn variants(var: &mut [u64], left: &[bool], prev: Option<&[u64]>, is_left: bool) {
    match prev {
        None => {
            for (v, &lf) in var.iter_mut().zip(left) {
                *v = (lf != is_left) as u64;
            }
        }
        Some(prev) => {
            for ((v, &lf), &h) in var.iter_mut().zip(left).zip(prev) {
                // The previous edge is hot iff its variant there was 0 (branch-free).
                let cold = (h != 0) as u64;
                *v = cold * 2 + (1 - cold) * (lf != is_left) as u64;
            }
        }
    }
}

/// G(node) from a child's G: copied for the left child, added for the right.
#[inline(always)]
pub fn merge<const Q: usize>(dst: &mut [f64], src: &[f64], is_left: bool, s: usize, np: usize) {
    for q in 0..Q {
        let dst = &mut dst[q * s..q * s + np];
        let src = &src[q * s..q * s + np];
        if is_left {
            dst.copy_from_slice(src);
        } else {
            for (d, &x) in dst.iter_mut().zip(src) {
                *d += x;
            }
        }
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
    /// P at the child level: `dst[q] = src[q] · ratio[variant][q]` for the first `np` rows.
    #[inline(always)]
    pub fn descend<const Q: usize>(
        src: &[f64],
        dst: &mut [f64],
        var: &[u64],
        ratio: &[[f64; Q]; 3],
        s: usize,
        np: usize,
    ) {
        for q in 0..Q {
            let (src, dst) = (&src[q * s..q * s + np], &mut dst[q * s..q * s + np]);
            for ((d, &p), &w) in dst.iter_mut().zip(src).zip(var) {
                *d = p * ratio[(w as usize).min(2)][q];
            }
        }
    }

    /// The child's credit to its split feature: `phi += Σ_q G(t_q)·c(t_q)`, summed from q = 0.
    #[inline(always)]
    pub fn credit<const Q: usize>(
        g: &[f64],
        var: &[u64],
        coef: &[[f64; Q]; 3],
        phi: &mut [f64],
        s: usize,
        np: usize,
    ) {
        for (b, (ph, &w)) in phi[..np].iter_mut().zip(var).enumerate() {
            let k = &coef[(w as usize).min(2)];
            let mut acc = g[b] * k[0];
            for q in 1..Q {
                acc += g[q * s + b] * k[q];
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
        (ratio, coef): (&[[f64; Q]; 3], &[[f64; Q]; 3]),
        is_left: bool,
        p: &[f64],
        g: &mut [f64],
        var: &[u64],
        phi: &mut [f64],
        (s, np): (usize, usize),
    ) {
        for (b, (ph, &w)) in phi[..np].iter_mut().zip(var).enumerate() {
            let w = (w as usize).min(2);
            let (rt, ct) = (&ratio[w], &coef[w]);
            let mut acc = 0.0;
            for q in 0..Q {
                let g1 = v * (p[q * s + b] * rt[q]);
                acc = if q == 0 { g1 * ct[q] } else { acc + g1 * ct[q] };
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
    use super::LANES;
    use std::arch::x86_64::*;

    const W: usize = 4;
    const _: () = assert!(LANES.is_multiple_of(W));

    /// Lane masks (all ones) for variant 0 and variant 1 of the four rows at `w`.
    ///
    /// # Safety
    /// `w` must point to four readable u64.
    #[inline]
    #[target_feature(enable = "avx2")]
    unsafe fn masks(w: *const u64) -> (__m256d, __m256d) {
        // SAFETY: the caller guarantees four u64 at `w` (unaligned load).
        let w = unsafe { _mm256_loadu_si256(w.cast()) };
        let m0 = _mm256_cmpeq_epi64(w, _mm256_setzero_si256());
        let m1 = _mm256_cmpeq_epi64(w, _mm256_set1_epi64x(1));
        (_mm256_castsi256_pd(m0), _mm256_castsi256_pd(m1))
    }

    /// `v[variant]` per lane; variant 2 where neither mask is set.
    #[inline]
    #[target_feature(enable = "avx2")]
    fn pick(m: (__m256d, __m256d), v0: f64, v1: f64, v2: f64) -> __m256d {
        let x = _mm256_blendv_pd(_mm256_set1_pd(v2), _mm256_set1_pd(v1), m.1);
        _mm256_blendv_pd(x, _mm256_set1_pd(v0), m.0)
    }

    /// As `portable::descend`.
    #[inline]
    #[target_feature(enable = "avx2")]
    pub fn descend<const Q: usize>(
        src: &[f64],
        dst: &mut [f64],
        var: &[u64],
        ratio: &[[f64; Q]; 3],
        s: usize,
        np: usize,
    ) {
        // One bounds check per call instead of one per load: every access below is at
        // `q * s + c` with q < Q and c + 4 ≤ np.
        let end = (Q - 1) * s + np;
        assert!(np.is_multiple_of(W) && var.len() >= np && src.len() >= end && dst.len() >= end);
        let (sp, dp, vp) = (src.as_ptr(), dst.as_mut_ptr(), var.as_ptr());
        for c in (0..np).step_by(W) {
            // SAFETY: in bounds by the assertion above.
            unsafe {
                let m = masks(vp.add(c));
                for q in 0..Q {
                    let r = pick(m, ratio[0][q], ratio[1][q], ratio[2][q]);
                    let x = _mm256_loadu_pd(sp.add(q * s + c));
                    _mm256_storeu_pd(dp.add(q * s + c), _mm256_mul_pd(x, r));
                }
            }
        }
    }

    /// As `portable::credit`.
    #[inline]
    #[target_feature(enable = "avx2")]
    pub fn credit<const Q: usize>(
        g: &[f64],
        var: &[u64],
        coef: &[[f64; Q]; 3],
        phi: &mut [f64],
        s: usize,
        np: usize,
    ) {
        // One bounds check per call (see `descend`).
        assert!(np.is_multiple_of(W) && var.len() >= np && phi.len() >= np);
        assert!(g.len() >= (Q - 1) * s + np);
        let (gp, vp, pp) = (g.as_ptr(), var.as_ptr(), phi.as_mut_ptr());
        for c in (0..np).step_by(W) {
            // SAFETY: in bounds by the assertion above.
            unsafe {
                let m = masks(vp.add(c));
                let k = pick(m, coef[0][0], coef[1][0], coef[2][0]);
                let mut acc = _mm256_mul_pd(_mm256_loadu_pd(gp.add(c)), k);
                for q in 1..Q {
                    let k = pick(m, coef[0][q], coef[1][q], coef[2][q]);
                    let x = _mm256_loadu_pd(gp.add(q * s + c));
                    acc = _mm256_add_pd(acc, _mm256_mul_pd(x, k));
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
        (ratio, coef): (&[[f64; Q]; 3], &[[f64; Q]; 3]),
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
        for c in (0..np).step_by(W) {
            // SAFETY: in bounds by the assertions above.
            unsafe {
                let m = masks(vp.add(c));
                let mut acc = _mm256_setzero_pd();
                for q in 0..Q {
                    let r = pick(m, ratio[0][q], ratio[1][q], ratio[2][q]);
                    let k = pick(m, coef[0][q], coef[1][q], coef[2][q]);
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
