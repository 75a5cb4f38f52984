//! The same kernels, four rows per AVX2 instruction. Callers must have checked AVX2 (these are
//! `target_feature` functions, inlined into the AVX2 copy of the DFS). Loads and stores are
//! unaligned; each kernel asserts its bounds once, up front, then uses raw pointers.

// Fixed-size loops over quadrature points index several arrays in lockstep.
#![allow(clippy::needless_range_loop)]

use super::super::prepare::{Edge, Table, Twig};
use super::LANES;
use crate::model::{CategoryTest, NumericTest, Tree};
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

/// `slots[variant]` per row, for an edge whose feature is new on the path when `FRESH` (then
/// only variants 0 and 1 occur: a blend on the encoding's sign bit, see `super::HOT`), else
/// by [`pick`].
#[inline]
#[target_feature(enable = "avx2")]
fn select<const FRESH: bool>(idx: __m256i, slots: &[f64; 4]) -> __m256d {
    if FRESH {
        let (a, b) = (_mm256_set1_pd(slots[0]), _mm256_set1_pd(slots[1]));
        _mm256_blendv_pd(a, b, _mm256_castsi256_pd(idx))
    } else {
        pick(idx, slots)
    }
}

/// As `portable::route`, four rows per step: numeric splits by compares
/// (`NumericTest::for_each4`), categorical ones by a lookup in the set held in a register
/// (`CategoryTest::for_each4`; sets over 256 categories go row by row, as `portable`).
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
    // One bounds check per call (see `descend`).
    assert!(np.is_multiple_of(W) && xs.len() >= np && var.len() >= np);
    assert!(prev.is_none_or(|p| p.len() >= np));
    let vp = var.as_mut_ptr();
    let hot = _mm256_set1_epi64x(super::HOT as i64);
    let cold_here = _mm256_set1_epi64x(super::COLD_HERE as i64);
    let already = _mm256_set1_epi64x(super::ALREADY_COLD as i64);
    let store = |c: usize, left: __m256d| {
        // SAFETY: c + 4 ≤ np, in bounds by the assertions above.
        unsafe {
            // All-ones lanes go left (variant 0), the others right (1).
            let mut v = _mm256_blendv_epi8(cold_here, hot, _mm256_castpd_si256(left));
            if let Some(prev) = prev {
                let was_hot =
                    _mm256_cmpeq_epi64(_mm256_loadu_si256(prev.as_ptr().add(c).cast()), hot);
                v = _mm256_blendv_epi8(already, v, was_hot);
            }
            _mm256_storeu_si256(vp.add(c).cast(), v);
        }
    };
    if let Some(test) = NumericTest::of(tree, node) {
        test.for_each4(&xs[..np], store);
    } else if let Some(test) = CategoryTest::of(tree, node).filter(CategoryTest::fits_avx2) {
        test.for_each4(&xs[..np], store);
    } else {
        super::portable::route(tree, node, xs, prev, var, np);
    }
}

/// A lane group's worth of rows.
type V = __m256d;

/// # Safety
/// `p` must point to 4 readable f64 (unaligned load).
#[inline]
#[target_feature(enable = "avx2")]
unsafe fn load(p: *const f64) -> V {
    // SAFETY: as the caller guarantees.
    unsafe { _mm256_loadu_pd(p) }
}

/// # Safety
/// `p` must point to 4 writable f64 (unaligned store).
#[inline]
#[target_feature(enable = "avx2")]
unsafe fn store(p: *mut f64, v: V) {
    // SAFETY: as the caller guarantees.
    unsafe { _mm256_storeu_pd(p, v) }
}

#[inline]
#[target_feature(enable = "avx2")]
fn mul(a: V, b: V) -> V {
    _mm256_mul_pd(a, b)
}

#[inline]
#[target_feature(enable = "avx2")]
fn add(a: V, b: V) -> V {
    _mm256_add_pd(a, b)
}

#[inline]
#[target_feature(enable = "avx2")]
fn zero() -> V {
    _mm256_setzero_pd()
}

super::simd::simd_kernels!("avx2");
