//! The per-edge row loops of the batched Linear TreeSHAP kernel (`batch`), written so the
//! compiler vectorises them across rows.
//!
//! Layout: every per-row buffer has a row stride `s` (a multiple of [`LANES`]; the batch passes a
//! compile-time constant so that, inlined, each point's rows are a fixed displacement away), and
//! P(t) / G(t) of one path level are Q rows of `s` values, one per quadrature point (`q * s + b`),
//! so for a fixed point the rows are contiguous. Three implementations with one interface:
//! `portable`, row by row; `avx2`, four rows per instruction with explicit intrinsics (the
//! auto-vectoriser kept the per-row variant pick as branches and scalar code, measured slower than
//! the row-major original under callgrind); `avx512`, eight rows (one lane group) per
//! instruction (on a Xeon with AVX-512, W1 and LW 1.5× faster than the AVX2 kernels on unaligned
//! buffers; the cache-line-aligned buffers alone gave AVX2 1.14× / 1.2×). The two SIMD sets
//! share their kernels' text (`simd`), each with its own vector primitives. All do the same IEEE
//! operations in the same order per row, so the results do not depend on the instruction set or
//! on the batch a row lands in.
//!
//! A row's edge variant (0 follows the edge, 1 leaves the feature's path here, 2 already cold)
//! picks one of three model-only constants per point; in `avx2` that pick is one lane permute of
//! the point's four table slots per four rows (an indexed load would be a gather; compare and blend
//! took five instructions per pick: callgrind W1 1433 -> 1176 per row and tree), or, on an edge
//! whose feature is new on the path (~90 % of edges: only variants 0 and 1), one blend. Variants come
//! straight from routing (`route`, the node's split test applied four rows at a time for numeric
//! splits) for the left child and are flipped in place for the right child, and each child's credit
//! pass also merges its G into the parent's, so no pass over rows exists only to move data.
//! Fused kernels cover the commonest shapes: a leaf child in one pass (`leaf`), a twig child (both
//! its children leaves) with its edge in one pass (`twig`, tables folded per twig in `prepare`).
//! A segment of a tree at fewer points starts from P rebuilt along its path (`restart`) and
//! credits its G to that path's edges at the end (`flush`).
//!
//! Measured and rejected on the Zen 1 machine this was tuned on (alternating runs): FMA for the
//! credit sums (no gain: the sums are short chains and FMA's latency is longer), fusing a lone
//! leaf into its internal sibling's credit pass (no gain), batches of 64, 128 or 512 rows (256
//! is best; 512 halves LW, whose deeper levels then leave L2).
//!
//! Padding rows (from the batch's row count up to a multiple of LANES) are computed like the
//! others and never read back; their inputs are finite or NaN left-overs, which cannot trap.

// Fixed-size loops over quadrature points index several arrays in lockstep.
#![allow(clippy::needless_range_loop)]

/// Rows per group: every row count is padded to a multiple (two AVX2 registers of f64).
pub const LANES: usize = 8;

/// A row's edge variant (0 follows the edge, 1 leaves the feature's path here, 2 already cold),
/// stored as the 32-bit lane pair (2v, 2v + 1) that `avx2`'s permute uses to pick the variant's
/// f64 out of a point's four table slots (storing the permute index itself saves rebuilding it
/// from v in every kernel), with the sign bit set for variant 1: on an edge whose feature is new
/// on the path only variants 0 and 1 occur, and a blend on the sign bit picks between them
/// (cheaper than the permute, which is three µops on Zen 1: W1 1.35× faster when every pick
/// was a blend).
pub const HOT: u64 = 0x0000_0001_0000_0000;
const COLD_HERE: u64 = 0x8000_0003_0000_0002;
const ALREADY_COLD: u64 = 0x0000_0005_0000_0004;

/// The variant of an encoded `w`: 0, 1 or 2.
#[inline(always)]
pub fn variant(w: u64) -> usize {
    ((w & 0xF) >> 1) as usize
}

/// The right child's variant from the left child's: a row that goes left (0) leaves the right
/// edge's feature path (1) and vice versa; already cold (2) stays cold (bit 2 set).
#[inline(always)]
pub const fn flip_one(w: u64) -> u64 {
    let not_cold = ((w & 4) >> 2).wrapping_sub(1);
    w ^ ((HOT ^ COLD_HERE) & not_cold)
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

pub mod portable;

#[cfg(target_arch = "x86_64")]
mod simd;

#[cfg(target_arch = "x86_64")]
pub mod avx2;

#[cfg(target_arch = "x86_64")]
pub mod avx512;
