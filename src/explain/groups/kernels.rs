//! The two inner loops of explaining a block of rows against leaf groups: a node's routing of
//! the block into its children's failed bits (portable, and four rows per step with AVX2: the
//! same comparisons, so the same bits), and the sum of a group's rescale factors. The sum has
//! no AVX2 version on purpose: gathers measured 30 % slower than scalar loads here (groups are
//! a few rows, and a gather's latency is not hidden).

use super::block::BLOCK;
use crate::model::{CategoryTest, NumericTest, Tree};

/// The failed bits of `node`'s children for a block: a row's bit `bit` is set in the child it
/// does not go to. `xs` are the rows' values of the node's feature.
#[inline(always)]
pub(super) fn split(
    tree: &Tree,
    node: usize,
    test: Option<&NumericTest>,
    xs: &[f64],
    parent: &[u64; BLOCK],
    bit: u64,
    (left, right): (&mut [u64], &mut [u64]),
) {
    let (xs, left, right) = (&xs[..BLOCK], &mut left[..BLOCK], &mut right[..BLOCK]);
    // A categorical split resolved once, for a branch-free test per row (`CategoryTest`).
    let category = test.map_or_else(|| CategoryTest::of(tree, node), |_| None);
    for i in 0..BLOCK {
        let goes_left = match (test, &category) {
            (Some(test), _) => test.goes_left(xs[i]),
            (None, Some(category)) => category.goes_left(xs[i]),
            (None, None) => tree.goes_left(node, xs[i]),
        };
        // All ones when the row goes left.
        let l = (goes_left as u64).wrapping_neg();
        left[i] = parent[i] | (!l & bit);
        right[i] = parent[i] | (l & bit);
    }
}

/// [`split`] for a numeric split, four rows per step.
#[cfg(target_arch = "x86_64")]
#[inline]
#[target_feature(enable = "avx2")]
pub(super) fn split_avx2(
    test: &NumericTest,
    xs: &[f64],
    parent: &[u64; BLOCK],
    bit: u64,
    (left, right): (&mut [u64], &mut [u64]),
) {
    use std::arch::x86_64::*;
    let (xs, left, right) = (&xs[..BLOCK], &mut left[..BLOCK], &mut right[..BLOCK]);
    let bit = _mm256_set1_epi64x(bit as i64);
    test.for_each4(xs, |c, l| {
        let l = _mm256_castpd_si256(l);
        // SAFETY: c + 4 ≤ BLOCK, and every slice above has BLOCK elements (unaligned loads
        // and stores).
        unsafe {
            let p = _mm256_loadu_si256(parent.as_ptr().add(c).cast());
            let to_left = _mm256_or_si256(p, _mm256_andnot_si256(l, bit));
            let to_right = _mm256_or_si256(p, _mm256_and_si256(l, bit));
            _mm256_storeu_si256(left.as_mut_ptr().add(c).cast(), to_left);
            _mm256_storeu_si256(right.as_mut_ptr().add(c).cast(), to_right);
        }
    });
}

/// `Σ values[i]` over `at` (a multiple of four indices) in four running sums, one per lane of
/// a quad: a single sum would wait on each addition's latency.
///
/// # Safety
/// Every index in `at` is below `values.len()` (checked once, when the groups were built).
#[inline(always)]
pub(super) unsafe fn sum_quads(values: &[f64], at: &[u16]) -> f64 {
    let mut sums = [0.0f64; 4];
    for q in at.chunks_exact(4) {
        for (s, &i) in sums.iter_mut().zip(q) {
            // SAFETY: in bounds by the caller's contract.
            *s += unsafe { *values.get_unchecked(i as usize) };
        }
    }
    (sums[0] + sums[1]) + (sums[2] + sums[3])
}
