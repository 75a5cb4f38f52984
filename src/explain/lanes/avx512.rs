//! The same kernels, eight rows (one lane group) per AVX-512 instruction. Callers must have
//! checked AVX-512F (these are `target_feature` functions, inlined into the AVX-512 copy of the
//! DFS). A row's variant pick is one `vpermps` over the point's four table slots, as in
//! `avx2` (the encoding's 32-bit index pairs are the same), or for a fresh edge one masked
//! blend on the encoding's sign bit, its mask computed once per lane group. Routing compares
//! eight rows per instruction into a mask (`NumericTest::for_each8`); with four per step (the
//! AVX2 routing) it was 14 % of the LightGBM bench's time.

// Fixed-size loops over quadrature points index several arrays in lockstep.
#![allow(clippy::needless_range_loop)]

use super::super::prepare::{Edge, Table, Twig};
use super::LANES;
use crate::model::{NumericTest, Tree};
use std::arch::x86_64::*;

const W: usize = 8;
const _: () = assert!(LANES.is_multiple_of(W));

/// Eight rows' encoded variants (see `super::HOT`): the permute index of each, and the mask of
/// the rows whose variant is 1 (sign bit), for fresh edges.
#[derive(Clone, Copy)]
struct Index {
    idx: __m512i,
    cold_here: __mmask8,
}

/// # Safety
/// `w` must point to eight readable u64.
#[inline]
#[target_feature(enable = "avx2,avx512f")]
unsafe fn index(w: *const u64) -> Index {
    // SAFETY: the caller guarantees eight u64 at `w` (unaligned load).
    let idx = unsafe { _mm512_loadu_si512(w.cast()) };
    Index {
        idx,
        cold_here: _mm512_cmplt_epi64_mask(idx, _mm512_setzero_si512()),
    }
}

/// `slots[variant]` per row: one permute of the four slots (the upper half of the register
/// is never indexed: only the low four bits of each 32-bit index count, and they are ≤ 5).
#[inline]
#[target_feature(enable = "avx2,avx512f")]
fn pick(m: Index, slots: &[f64; 4]) -> __m512d {
    // SAFETY: `slots` is four f64 (unaligned load).
    let t = unsafe { _mm256_loadu_pd(slots.as_ptr()) };
    let t = _mm512_castpd_ps(_mm512_castpd256_pd512(t));
    _mm512_castps_pd(_mm512_permutexvar_ps(m.idx, t))
}

/// `slots[variant]` per row; for an edge whose feature is new on the path (`FRESH`: only
/// variants 0 and 1) a masked blend, else [`pick`].
#[inline]
#[target_feature(enable = "avx2,avx512f")]
fn select<const FRESH: bool>(m: Index, slots: &[f64; 4]) -> __m512d {
    if FRESH {
        let (a, b) = (_mm512_set1_pd(slots[0]), _mm512_set1_pd(slots[1]));
        _mm512_mask_blend_pd(m.cold_here, a, b)
    } else {
        pick(m, slots)
    }
}

/// As `portable::route`, eight rows per step for numeric splits (categorical splits are
/// set lookups: row by row, as `portable`).
#[inline]
#[target_feature(enable = "avx2,avx512f")]
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
    let vp = var.as_mut_ptr();
    let hot = _mm512_set1_epi64(super::HOT as i64);
    let cold_here = _mm512_set1_epi64(super::COLD_HERE as i64);
    let already = _mm512_set1_epi64(super::ALREADY_COLD as i64);
    test.for_each8(&xs[..np], |c, left| {
        // SAFETY: c + 8 ≤ np, in bounds by the assertions above.
        unsafe {
            // Rows going left: variant 0, the others 1.
            let mut v = _mm512_mask_blend_epi64(left, cold_here, hot);
            if let Some(prev) = prev {
                let prev = _mm512_loadu_si512(prev.as_ptr().add(c).cast());
                let was_hot = _mm512_cmpeq_epi64_mask(prev, hot);
                v = _mm512_mask_blend_epi64(was_hot, already, v);
            }
            _mm512_storeu_si512(vp.add(c).cast(), v);
        }
    });
}

/// As `portable::descend`.
#[inline]
#[target_feature(enable = "avx2,avx512f")]
pub fn descend<const Q: usize, const F: bool>(
    src: &[f64],
    dst: &mut [f64],
    var: &[u64],
    ratio: &Table<Q>,
    s: usize,
    np: usize,
) {
    // One bounds check per call instead of one per load: every access below is at
    // `q * s + c` with q < Q and c + 8 ≤ np.
    let end = (Q - 1) * s + np;
    assert!(np.is_multiple_of(W) && var.len() >= np && src.len() >= end && dst.len() >= end);
    let (sp, dp, vp) = (src.as_ptr(), dst.as_mut_ptr(), var.as_ptr());
    for c in (0..np / W).map(|i| i * W) {
        // SAFETY: in bounds by the assertion above.
        unsafe {
            let m = index(vp.add(c));
            for q in 0..Q {
                let r = select::<F>(m, &ratio[q]);
                let x = _mm512_loadu_pd(sp.add(q * s + c));
                _mm512_storeu_pd(dp.add(q * s + c), _mm512_mul_pd(x, r));
            }
        }
    }
}

/// As `portable::credit`.
#[allow(clippy::too_many_arguments)]
#[inline]
#[target_feature(enable = "avx2,avx512f")]
pub fn credit<const Q: usize, const F: bool>(
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
            let mut acc = _mm512_setzero_pd();
            for q in 0..Q {
                let k = select::<F>(m, &coef[q]);
                let x = _mm512_loadu_pd(gp.add(q * s + c));
                let t = _mm512_mul_pd(x, k);
                acc = if q == 0 { t } else { _mm512_add_pd(acc, t) };
                let at = up.add(q * s + c);
                let out = if is_left {
                    x
                } else {
                    _mm512_add_pd(_mm512_loadu_pd(at), x)
                };
                _mm512_storeu_pd(at, out);
            }
            let ph = _mm512_loadu_pd(pp.add(c));
            _mm512_storeu_pd(pp.add(c), _mm512_add_pd(ph, acc));
        }
    }
}

/// As `portable::leaf`.
#[inline]
#[target_feature(enable = "avx2,avx512f")]
pub fn leaf<const Q: usize, const F: bool>(
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
            let mut acc = _mm512_setzero_pd();
            for q in 0..Q {
                let x = _mm512_loadu_pd(pp.add(q * s + c));
                let g1 = _mm512_mul_pd(x, select::<F>(m, &e.ratio[q]));
                let t = _mm512_mul_pd(x, select::<F>(m, &e.coef[q]));
                acc = if q == 0 { t } else { _mm512_add_pd(acc, t) };
                let at = gp.add(q * s + c);
                let out = if is_left {
                    g1
                } else {
                    _mm512_add_pd(_mm512_loadu_pd(at), g1)
                };
                _mm512_storeu_pd(at, out);
            }
            let ph = _mm512_loadu_pd(php.add(c));
            _mm512_storeu_pd(php.add(c), _mm512_add_pd(ph, acc));
        }
    }
}

/// As `portable::twig`.
#[allow(clippy::too_many_arguments)]
#[inline]
#[target_feature(enable = "avx2,avx512f")]
pub fn twig<const Q: usize, const FE: bool, const FC: bool>(
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
            let mut acc_c = _mm512_setzero_pd();
            let mut acc_e = _mm512_setzero_pd();
            for q in 0..Q {
                let x = _mm512_loadu_pd(pp.add(q * s + c));
                let pc = _mm512_mul_pd(x, select::<FE>(me, &e.ratio[q]));
                let gc = _mm512_mul_pd(pc, select::<FC>(ml, &t.g[q]));
                let tc = _mm512_mul_pd(pc, select::<FC>(ml, &t.credit[q]));
                let te = _mm512_mul_pd(gc, select::<FE>(me, &e.coef[q]));
                if q == 0 {
                    (acc_c, acc_e) = (tc, te);
                } else {
                    acc_c = _mm512_add_pd(acc_c, tc);
                    acc_e = _mm512_add_pd(acc_e, te);
                }
                let at = gp.add(q * s + c);
                let out = if is_left {
                    gc
                } else {
                    _mm512_add_pd(_mm512_loadu_pd(at), gc)
                };
                _mm512_storeu_pd(at, out);
            }
            let pc = php.add(at_c + c);
            _mm512_storeu_pd(pc, _mm512_add_pd(_mm512_loadu_pd(pc), acc_c));
            let pe = php.add(at_e + c);
            _mm512_storeu_pd(pe, _mm512_add_pd(_mm512_loadu_pd(pe), acc_e));
        }
    }
}

/// As `portable::restart`.
#[inline]
#[target_feature(enable = "avx2,avx512f")]
pub fn restart<const Q: usize>(
    path: &[(Edge<Q>, usize)],
    var: &[u64],
    p: &mut [f64],
    s: usize,
    np: usize,
) {
    // One bounds check per call (see `descend`).
    assert!(np.is_multiple_of(W) && var.len() >= path.len() * s + np);
    assert!(p.len() >= (Q - 1) * s + np);
    let (vp, pp) = (var.as_ptr(), p.as_mut_ptr());
    for c in (0..np / W).map(|i| i * W) {
        let mut x = [_mm512_setzero_pd(); Q];
        for (a, (e, _)) in path.iter().enumerate() {
            // SAFETY: in bounds by the assertions above.
            let m = unsafe { index(vp.add((a + 1) * s + c)) };
            for q in 0..Q {
                let r = pick(m, &e.ratio[q]);
                x[q] = if a == 0 { r } else { _mm512_mul_pd(x[q], r) };
            }
        }
        for q in 0..Q {
            // SAFETY: in bounds by the assertions above.
            unsafe { _mm512_storeu_pd(pp.add(q * s + c), x[q]) };
        }
    }
}

/// As `portable::flush`.
#[inline]
#[target_feature(enable = "avx2,avx512f")]
pub fn flush<const Q: usize>(
    path: &[(Edge<Q>, usize)],
    var: &[u64],
    g: &[f64],
    phi: &mut [f64],
    (phi_at, stride): (usize, usize),
    s: usize,
    np: usize,
) {
    // One bounds check per call (see `descend`).
    let top = path.iter().map(|(_, f)| *f).max().unwrap_or(0);
    assert!(np.is_multiple_of(W) && var.len() >= path.len() * s + np);
    assert!(g.len() >= (Q - 1) * s + np && phi.len() >= phi_at + top * stride + np);
    let (vp, gp, php) = (var.as_ptr(), g.as_ptr(), phi.as_mut_ptr());
    for c in (0..np / W).map(|i| i * W) {
        let mut x = [_mm512_setzero_pd(); Q];
        for q in 0..Q {
            // SAFETY: in bounds by the assertions above.
            x[q] = unsafe { _mm512_loadu_pd(gp.add(q * s + c)) };
        }
        for (a, (e, f)) in path.iter().enumerate() {
            // SAFETY: in bounds by the assertions above.
            unsafe {
                let m = index(vp.add((a + 1) * s + c));
                let mut acc = _mm512_setzero_pd();
                for q in 0..Q {
                    let t = _mm512_mul_pd(x[q], pick(m, &e.coef[q]));
                    acc = if q == 0 { t } else { _mm512_add_pd(acc, t) };
                }
                let at = php.add(phi_at + f * stride + c);
                _mm512_storeu_pd(at, _mm512_add_pd(_mm512_loadu_pd(at), acc));
            }
        }
    }
}
