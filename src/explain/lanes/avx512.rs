//! The same kernels, eight rows (one lane group) per AVX-512 instruction. Callers must have
//! checked AVX-512F (these are `target_feature` functions, inlined into the AVX-512 copy of the
//! DFS). A row's variant pick is one `vpermps` over the point's four table slots, as in
//! `avx2` (the encoding's 32-bit index pairs are the same), or for a fresh edge one masked
//! blend on the encoding's sign bit, its mask computed once per lane group. Routing compares
//! eight rows per instruction into a mask (`NumericTest::for_each8`); with four per step (the
//! AVX2 routing) it was 14 % of the LightGBM bench's time. A categorical split looks eight rows
//! up in its set at once (`CategoryTest::for_each8`): row by row, it was most of the
//! categorical bench models' time.

// Fixed-size loops over quadrature points index several arrays in lockstep.
#![allow(clippy::needless_range_loop)]

use super::super::prepare::{Edge, Table, Twig};
use super::LANES;
use crate::model::{CategoryTest, NumericTest, Tree};
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

/// As `portable::route`, eight rows per step: numeric splits by compares
/// (`NumericTest::for_each8`), categorical ones by a lookup in the set held in a register
/// (`CategoryTest::for_each8`; sets over 512 categories go row by row, as `portable`).
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
    // One bounds check per call (see `descend`).
    assert!(np.is_multiple_of(W) && xs.len() >= np && var.len() >= np);
    assert!(prev.is_none_or(|p| p.len() >= np));
    let vp = var.as_mut_ptr();
    let hot = _mm512_set1_epi64(super::HOT as i64);
    let cold_here = _mm512_set1_epi64(super::COLD_HERE as i64);
    let already = _mm512_set1_epi64(super::ALREADY_COLD as i64);
    let store = |c: usize, left: __mmask8| {
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
    };
    if let Some(test) = NumericTest::of(tree, node) {
        test.for_each8(&xs[..np], store);
    } else if let Some(test) = CategoryTest::of(tree, node).filter(CategoryTest::fits_avx512) {
        test.for_each8(&xs[..np], store);
    } else {
        super::portable::route(tree, node, xs, prev, var, np);
    }
}

/// A lane group's worth of rows.
type V = __m512d;

/// # Safety
/// `p` must point to 8 readable f64 (unaligned load).
#[inline]
#[target_feature(enable = "avx2,avx512f")]
unsafe fn load(p: *const f64) -> V {
    // SAFETY: as the caller guarantees.
    unsafe { _mm512_loadu_pd(p) }
}

/// # Safety
/// `p` must point to 8 writable f64 (unaligned store).
#[inline]
#[target_feature(enable = "avx2,avx512f")]
unsafe fn store(p: *mut f64, v: V) {
    // SAFETY: as the caller guarantees.
    unsafe { _mm512_storeu_pd(p, v) }
}

#[inline]
#[target_feature(enable = "avx2,avx512f")]
fn mul(a: V, b: V) -> V {
    _mm512_mul_pd(a, b)
}

#[inline]
#[target_feature(enable = "avx2,avx512f")]
fn add(a: V, b: V) -> V {
    _mm512_add_pd(a, b)
}

#[inline]
#[target_feature(enable = "avx2,avx512f")]
fn zero() -> V {
    _mm512_setzero_pd()
}

super::simd::simd_kernels!("avx2,avx512f");
