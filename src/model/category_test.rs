//! [`CategoryTest`]: a categorical split resolved once per node, so that routing many rows
//! through it is a branch-free loop.
//!
//! Why: which side a row takes at a categorical split is as random as the data, so
//! [`Tree::goes_left`]'s branches on the split kind, NaN and set membership were mispredicted
//! about half the time. Profiled on the categorical bench models (`perf record …
//! profile_engine path target/bench/cw.json target/bench/xc.csv 6000 1`), that per-row call
//! was 52 % of CW's and 41 % of CL's time. The three categorical kinds differ only in whether
//! the value is first rounded to f32, whether it must be a whole number, which side the set
//! sends a row to and where NaN goes; deciding those once per node leaves a load, a shift
//! and a few bit operations per row.

use super::tree::{Split, Tree};

/// A categorical split of one node, resolved: a NaN row goes left iff `nan_left`; any other
/// goes left iff its value (rounded to f32 first when `round_f32`) is a member of `words`
/// (only whole values count when `whole_only`) exactly when `member_left`.
#[derive(Clone, Copy, Debug)]
pub(crate) struct CategoryTest<'a> {
    words: &'a [u32],
    /// XGBoost and scikit-learn/ONNX set splits compare `x as f32`; LightGBM the f64.
    round_f32: bool,
    /// ONNX/scikit-learn "in set" splits: 2.5 is no member even when 2 is.
    whole_only: bool,
    /// LightGBM's and the set splits' members go left; XGBoost lists the categories going
    /// right.
    member_left: bool,
    nan_left: bool,
}

impl<'a> CategoryTest<'a> {
    /// Node `node`'s split resolved, or `None` for a numeric split (see `NumericTest`).
    pub(crate) fn of(tree: &'a Tree, node: usize) -> Option<Self> {
        let (start, len) = tree.set[node];
        let words = &tree.set_words[start as usize..(start + len) as usize];
        let dl = tree.default_left[node];
        let (round_f32, whole_only, member_left, nan_left) = match tree.split[node] {
            Split::XgbCategory => (true, false, false, dl),
            // LightGBM reads NaN as no member: it goes right.
            Split::LgbCategory => (false, false, true, false),
            Split::InSetF32 => (true, true, true, dl),
            Split::LessF32 | Split::LessEqF32 | Split::EqF32 | Split::Lgb(_) => return None,
        };
        Some(CategoryTest {
            words,
            round_f32,
            whole_only,
            member_left,
            nan_left,
        })
    }

    /// Whether a row with value `x` goes left: [`Tree::goes_left`]'s answer, without a branch
    /// on the value (the one bounds check is taken only by codes past the set's last word).
    #[inline(always)]
    pub(crate) fn goes_left(&self, x: f64) -> bool {
        let v = if self.round_f32 { (x as f32) as f64 } else { x };
        // `as u64` saturates: NaN and negatives give 0 (excluded by `v >= 0.0`), values past
        // u64 give u64::MAX, whose word is past any set.
        let code = v as u64;
        let word = self
            .words
            .get((code >> 5) as usize)
            .copied()
            .unwrap_or_default();
        let member = (v >= 0.0) & ((word >> (code & 31)) & 1 == 1);
        let member = member & (!self.whole_only | (v.fract() == 0.0));
        let nan = x.is_nan();
        (nan & self.nan_left) | (!nan & (member == self.member_left))
    }
}

/// Sets of at most this many words (512 categories) fit one AVX-512 register, for
/// [`CategoryTest::for_each8`]; larger sets are routed row by row.
#[cfg(target_arch = "x86_64")]
const VECTOR_WORDS: usize = 16;
/// The same for an AVX2 register (256 categories), for [`CategoryTest::for_each4`].
#[cfg(target_arch = "x86_64")]
const AVX2_WORDS: usize = 8;

#[cfg(target_arch = "x86_64")]
impl CategoryTest<'_> {
    /// Whether [`for_each8`](Self::for_each8) can take this set.
    pub(crate) fn fits_avx512(&self) -> bool {
        self.words.len() <= VECTOR_WORDS
    }

    /// Whether [`for_each4`](Self::for_each4) can take this set.
    pub(crate) fn fits_avx2(&self) -> bool {
        self.words.len() <= AVX2_WORDS
    }

    /// [`for_each8`](Self::for_each8) four values at a time with AVX2 (the set fits
    /// [`fits_avx2`](Self::fits_avx2)): all-ones lanes of `left` go left, as
    /// `NumericTest::for_each4`.
    #[inline]
    #[target_feature(enable = "avx2")]
    pub(crate) fn for_each4(
        &self,
        xs: &[f64],
        mut each: impl FnMut(usize, std::arch::x86_64::__m256d),
    ) {
        use std::arch::x86_64::*;
        let n = self.words.len().min(AVX2_WORDS);
        let mut table = [0u32; AVX2_WORDS];
        table[..n].copy_from_slice(&self.words[..n]);
        // SAFETY: `table` is eight u32 (unaligned load).
        let words = unsafe { _mm256_loadu_si256(table.as_ptr().cast()) };
        let end = _mm256_set1_pd((32 * n) as f64);
        let zero = _mm256_setzero_pd();
        let (low5, one) = (_mm256_set1_epi32(31), _mm256_set1_epi32(1));
        let all = _mm256_castsi256_pd(_mm256_set1_epi64x(-1));
        let nan_side = if self.nan_left { all } else { zero };
        let flip = if self.member_left { zero } else { all };
        for (i, four) in xs.chunks_exact(4).enumerate() {
            // SAFETY: `four` is four f64 (unaligned load).
            let x = unsafe { _mm256_loadu_pd(four.as_ptr()) };
            let v = if self.round_f32 {
                _mm256_cvtps_pd(_mm256_cvtpd_ps(x))
            } else {
                x
            };
            let mut member = _mm256_and_pd(
                _mm256_cmp_pd::<_CMP_GE_OQ>(v, zero),
                _mm256_cmp_pd::<_CMP_LT_OQ>(v, end),
            );
            if self.whole_only {
                let whole = _mm256_round_pd::<{ _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC }>(v);
                member = _mm256_and_pd(member, _mm256_cmp_pd::<_CMP_EQ_OQ>(v, whole));
            }
            // Four codes in the low half; the upper lanes are never read.
            let code = _mm256_castsi128_si256(_mm256_cvttpd_epi32(v));
            let word = _mm256_permutevar8x32_epi32(words, _mm256_srli_epi32::<5>(code));
            let bit = _mm256_and_si256(_mm256_srlv_epi32(word, _mm256_and_si256(code, low5)), one);
            // 32-bit all-ones lanes, widened to the four f64 lanes by sign extension.
            let bit = _mm256_cvtepi32_epi64(_mm256_castsi256_si128(_mm256_cmpeq_epi32(bit, one)));
            member = _mm256_and_pd(member, _mm256_castsi256_pd(bit));
            let nan = _mm256_cmp_pd::<_CMP_UNORD_Q>(x, x);
            let left = _mm256_or_pd(
                _mm256_and_pd(nan, nan_side),
                _mm256_andnot_pd(nan, _mm256_xor_pd(member, flip)),
            );
            each(i * 4, left);
        }
    }

    /// `each(i, left)` for every eight values `xs[i..i + 8]` (`xs.len()` a multiple of eight,
    /// the set [`fits_avx512`](Self::fits_avx512)), bit k of `left` set when `xs[i + k]` goes
    /// left: [`goes_left`](Self::goes_left)'s answers. The set is one register, a row's word
    /// a `vpermd` of it by the row's code / 32, and membership that word's bit code % 32. A
    /// value is a member only when it is at least 0 and below the set's end (both compares are
    /// false on NaN), where truncation to i32 is exact; outside, the code is junk and masked out.
    #[inline]
    #[target_feature(enable = "avx2,avx512f")]
    pub(crate) fn for_each8(
        &self,
        xs: &[f64],
        mut each: impl FnMut(usize, std::arch::x86_64::__mmask8),
    ) {
        use std::arch::x86_64::*;
        let n = self.words.len().min(VECTOR_WORDS);
        let mut table = [0u32; VECTOR_WORDS];
        table[..n].copy_from_slice(&self.words[..n]);
        // SAFETY: `table` is sixteen u32 (unaligned load).
        let words = unsafe { _mm512_loadu_si512(table.as_ptr().cast()) };
        let end = _mm512_set1_pd((32 * n) as f64);
        let zero = _mm512_setzero_pd();
        let (low5, one) = (_mm512_set1_epi32(31), _mm512_set1_epi32(1));
        let nan_side: __mmask8 = if self.nan_left { 0xFF } else { 0 };
        let flip: __mmask8 = if self.member_left { 0 } else { 0xFF };
        for (i, eight) in xs.chunks_exact(8).enumerate() {
            // SAFETY: `eight` is eight f64 (unaligned load).
            let x = unsafe { _mm512_loadu_pd(eight.as_ptr()) };
            let v = if self.round_f32 {
                _mm512_cvtps_pd(_mm512_cvtpd_ps(x))
            } else {
                x
            };
            let mut member = _mm512_cmp_pd_mask::<_CMP_GE_OQ>(v, zero)
                & _mm512_cmp_pd_mask::<_CMP_LT_OQ>(v, end);
            if self.whole_only {
                let whole = _mm512_roundscale_pd::<{ _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC }>(v);
                member &= _mm512_cmp_pd_mask::<_CMP_EQ_OQ>(v, whole);
            }
            // Eight codes in the low half; the upper lanes are never read.
            let code = _mm512_castsi256_si512(_mm512_cvttpd_epi32(v));
            let word = _mm512_permutexvar_epi32(_mm512_srli_epi32::<5>(code), words);
            let bit = _mm512_srlv_epi32(word, _mm512_and_si512(code, low5));
            member &= _mm512_test_epi32_mask(bit, one) as __mmask8;
            let nan = _mm512_cmp_pd_mask::<_CMP_UNORD_Q>(x, x);
            each(i * 8, (nan & nan_side) | (!nan & (member ^ flip)));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{MissingType, TreeBuilder, bitset_of};

    #[test]
    fn a_resolved_category_test_routes_every_value_as_the_tree_does() {
        let mut xs = vec![
            f64::NAN,
            0.0,
            -0.0,
            -0.5,
            -1.0,
            f64::INFINITY,
            f64::NEG_INFINITY,
            f64::MAX,
            3.5e38,
            1e20,
            4294967296.0,
            1e-300,
        ];
        // Every code near the set's members and its word boundaries, whole and not, and values
        // that become whole only when rounded to f32.
        for c in 0..70 {
            let c = c as f64;
            xs.extend([c, c + 0.5, c - 1e-9, c + 1e-9, c + 0.999_999_999_9]);
        }
        // Up to sixteen words: the most one AVX-512 register holds (code 511).
        for c in [
            199.0, 200.0, 254.0, 255.0, 255.5, 256.0, 479.0, 480.0, 510.0, 511.0, 511.5, 512.0,
        ] {
            xs.push(c);
        }
        let sets: [&[i64]; 6] = [
            &[],
            &[0],
            &[1, 3, 31, 32, 33],
            &[5, 63, 64],
            &[2, 200, 255],
            &[0, 480, 511],
        ];
        for split in [Split::XgbCategory, Split::LgbCategory, Split::InSetF32] {
            for set in sets {
                for dl in [false, true] {
                    let mut b = TreeBuilder::with_nodes(3, split);
                    (b.left[0], b.right[0]) = (1, 2);
                    b.default_left[0] = dl;
                    b.cover = vec![2.0, 1.0, 1.0];
                    b.set_categories(0, bitset_of(set.iter().copied()).expect("codes"));
                    let tree = b.build(0, 1).expect("tree");
                    let test = CategoryTest::of(&tree, 0).expect("categorical");
                    for &x in &xs {
                        let want = tree.goes_left(0, x);
                        assert_eq!(test.goes_left(x), want, "{split:?} {set:?} dl={dl} x={x:e}");
                    }
                    #[cfg(target_arch = "x86_64")]
                    if std::arch::is_x86_feature_detected!("avx2") && test.fits_avx2() {
                        for x in xs.chunks(4) {
                            let mut four = [f64::NAN; 4];
                            four[..x.len()].copy_from_slice(x);
                            let mut got = 0;
                            // SAFETY: AVX2 was detected just above.
                            unsafe {
                                test.for_each4(&four, |_, left| {
                                    got = std::arch::x86_64::_mm256_movemask_pd(left)
                                })
                            };
                            for (lane, &v) in four.iter().enumerate() {
                                let want = tree.goes_left(0, v);
                                let bit = got >> lane & 1 == 1;
                                assert_eq!(bit, want, "AVX2 {split:?} {set:?} dl={dl} x={v:e}");
                            }
                        }
                    }
                    #[cfg(target_arch = "x86_64")]
                    if std::arch::is_x86_feature_detected!("avx512f")
                        && std::arch::is_x86_feature_detected!("avx2")
                    {
                        assert!(test.fits_avx512());
                        for x in xs.chunks(8) {
                            let mut eight = [f64::NAN; 8];
                            eight[..x.len()].copy_from_slice(x);
                            let mut got = 0u8;
                            // SAFETY: AVX-512F and AVX2 were detected just above.
                            unsafe { test.for_each8(&eight, |_, left| got = left) };
                            for (lane, &v) in eight.iter().enumerate() {
                                let want = tree.goes_left(0, v);
                                let bit = got >> lane & 1 == 1;
                                assert_eq!(bit, want, "AVX-512 {split:?} {set:?} dl={dl} x={v:e}");
                            }
                        }
                    }
                }
            }
        }
        let mut numeric = TreeBuilder::with_nodes(3, Split::Lgb(MissingType::NaN));
        (numeric.left[0], numeric.right[0]) = (1, 2);
        numeric.cover = vec![2.0, 1.0, 1.0];
        let tree = numeric.build(0, 1).expect("tree");
        assert!(CategoryTest::of(&tree, 0).is_none());
    }
}
