//! How a node sends a row left or right: [`Tree::goes_left`] for one value, and
//! [`NumericTest`], a numeric split resolved once per node into one uniform form that the
//! batched explainers apply to many rows (four per instruction with AVX2, `for_each4`; eight
//! with AVX-512, `for_each8`).
//!
//! Why a resolved form: the six numeric split kinds differ only in whether the value is first
//! rounded to f32, which comparison is made, and where NaN (and LightGBM's zero band) goes.
//! Deciding those once per node turns the per-row test into a few branch-free vector
//! operations, where matching on the split kind per row kept routing scalar.

use super::tree::{MissingType, Split, Tree};

/// LightGBM's `kZeroThreshold`.
pub(crate) const ZERO_THRESHOLD: f64 = 1e-35;

/// True when the integer part of `x` (truncated toward zero, as both libraries cast) is a
/// member of the LSB-first bitset `words`.
#[inline]
fn in_set(words: &[u32], x: f64) -> bool {
    if x.is_nan() || x < 0.0 {
        return false;
    }
    let code = x as u64;
    let word = (code / 32) as usize;
    word < words.len() && (words[word] >> (code % 32)) & 1 == 1
}

impl Tree {
    #[inline]
    fn category_set(&self, node: usize) -> &[u32] {
        let (start, len) = self.set[node];
        &self.set_words[start as usize..(start + len) as usize]
    }

    /// The child a row with feature value `x` (NaN = missing) goes to from internal `node`.
    #[inline]
    pub fn goes_left(&self, node: usize, x: f64) -> bool {
        let t = self.threshold[node];
        match self.split[node] {
            Split::LessF32 => {
                if x.is_nan() {
                    self.default_left[node]
                } else {
                    ((x as f32) as f64) < t
                }
            }
            Split::LessEqF32 => {
                if x.is_nan() {
                    self.default_left[node]
                } else {
                    ((x as f32) as f64) <= t
                }
            }
            Split::EqF32 => {
                if x.is_nan() {
                    self.default_left[node]
                } else {
                    (x as f32) == (t as f32)
                }
            }
            Split::Lgb(missing) => {
                let mut v = x;
                if v.is_nan() && missing != MissingType::NaN {
                    v = 0.0;
                }
                if (missing == MissingType::Zero && (-ZERO_THRESHOLD..=ZERO_THRESHOLD).contains(&v))
                    || (missing == MissingType::NaN && v.is_nan())
                {
                    self.default_left[node]
                } else {
                    v <= t
                }
            }
            Split::XgbCategory => {
                if x.is_nan() {
                    self.default_left[node]
                } else {
                    !in_set(self.category_set(node), (x as f32) as f64)
                }
            }
            Split::LgbCategory => in_set(self.category_set(node), x),
            Split::InSetF32 => {
                if x.is_nan() {
                    self.default_left[node]
                } else {
                    let v = x as f32;
                    v.fract() == 0.0 && in_set(self.category_set(node), v as f64)
                }
            }
        }
    }
}

/// The comparison a numeric split makes, value on the left: `value < threshold` and so on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Cmp {
    Lt,
    Le,
    Eq,
}

/// The compiled loop for `$test`'s kind: `$run!(round_f32, predicate)`. The predicate sends
/// NaN where it belongs (see `NumericTest::for_each4`); one table for every vector width.
#[cfg(target_arch = "x86_64")]
macro_rules! by_kind {
    ($test:ident, $run:ident) => {
        match ($test.round_f32, $test.cmp, $test.special_left) {
            (true, Cmp::Lt, false) => $run!(true, _CMP_LT_OQ),
            (true, Cmp::Lt, true) => $run!(true, _CMP_NGE_UQ),
            (true, Cmp::Le, false) => $run!(true, _CMP_LE_OQ),
            (true, Cmp::Le, true) => $run!(true, _CMP_NGT_UQ),
            (true, Cmp::Eq, false) => $run!(true, _CMP_EQ_OQ),
            (true, Cmp::Eq, true) => $run!(true, _CMP_EQ_UQ),
            (false, Cmp::Lt, false) => $run!(false, _CMP_LT_OQ),
            (false, Cmp::Lt, true) => $run!(false, _CMP_NGE_UQ),
            (false, Cmp::Le, false) => $run!(false, _CMP_LE_OQ),
            (false, Cmp::Le, true) => $run!(false, _CMP_NGT_UQ),
            (false, Cmp::Eq, false) => $run!(false, _CMP_EQ_OQ),
            (false, Cmp::Eq, true) => $run!(false, _CMP_EQ_UQ),
        }
    };
}

/// A numeric split of one node, resolved: a row goes left iff its value is "special" (NaN, or
/// inside LightGBM's zero band) and `special_left`, or it is not special and
/// `value <cmp> threshold`, the value first rounded to f32 when `round_f32`.
#[derive(Clone, Copy, Debug)]
pub(crate) struct NumericTest {
    /// XGBoost, scikit-learn and ONNX compare `x as f32`; LightGBM compares the f64.
    round_f32: bool,
    cmp: Cmp,
    /// Already rounded to f32 for `Cmp::Eq`, which compares two f32 (exact in f64).
    threshold: f64,
    /// LightGBM `MissingType::Zero`: |x| ≤ 1e-35 is routed like NaN.
    zero_band: bool,
    /// Where NaN (and the zero band) goes: the default side, or for LightGBM
    /// `MissingType::None`, wherever 0.0 goes (NaN is read as 0).
    special_left: bool,
}

impl NumericTest {
    /// Node `node`'s split resolved, or `None` for a categorical split (a set lookup).
    pub(crate) fn of(tree: &Tree, node: usize) -> Option<Self> {
        let t = tree.threshold[node];
        let dl = tree.default_left[node];
        let (round_f32, cmp, threshold, zero_band, special_left) = match tree.split[node] {
            Split::LessF32 => (true, Cmp::Lt, t, false, dl),
            Split::LessEqF32 => (true, Cmp::Le, t, false, dl),
            Split::EqF32 => (true, Cmp::Eq, (t as f32) as f64, false, dl),
            Split::Lgb(MissingType::NaN) => (false, Cmp::Le, t, false, dl),
            Split::Lgb(MissingType::Zero) => (false, Cmp::Le, t, true, dl),
            Split::Lgb(MissingType::None) => (false, Cmp::Le, t, false, 0.0 <= t),
            Split::XgbCategory | Split::LgbCategory | Split::InSetF32 => return None,
        };
        Some(NumericTest {
            round_f32,
            cmp,
            threshold,
            zero_band,
            special_left,
        })
    }

    /// The test for one value: what [`Tree::goes_left`] answers for this node.
    #[inline]
    pub(crate) fn goes_left(&self, x: f64) -> bool {
        if x.is_nan() || (self.zero_band && (-ZERO_THRESHOLD..=ZERO_THRESHOLD).contains(&x)) {
            return self.special_left;
        }
        let v = if self.round_f32 { (x as f32) as f64 } else { x };
        match self.cmp {
            Cmp::Lt => v < self.threshold,
            Cmp::Le => v <= self.threshold,
            Cmp::Eq => v == self.threshold,
        }
    }

    /// `each(i, left)` for every four values `xs[i..i + 4]` (`xs.len()` a multiple of four),
    /// in order: all-ones lanes of `left` go left. The same IEEE operations as
    /// [`goes_left`](Self::goes_left): `vcvtpd2ps` rounds to nearest-even like `as f32`
    /// (overflowing to ±inf, NaN staying NaN), and NaN goes to `special_left` through the
    /// compare's own predicate: ordered (false on NaN) when NaN goes right, the negated
    /// unordered one (true on NaN) when it goes left. LightGBM's zero band takes its own test
    /// and blend. The test's kind is fixed per compiled loop, matched once per call: matching
    /// per four values kept a branch chain, both roundings and a NaN blend in routing's loop
    /// (a quarter of W1's instructions).
    #[cfg(target_arch = "x86_64")]
    #[inline]
    #[target_feature(enable = "avx2")]
    pub(crate) fn for_each4(
        &self,
        xs: &[f64],
        each: impl FnMut(usize, std::arch::x86_64::__m256d),
    ) {
        use std::arch::x86_64::*;
        macro_rules! run {
            ($round:literal, $p:ident) => {
                if self.zero_band {
                    self.run4::<$round, $p, true>(xs, each)
                } else {
                    self.run4::<$round, $p, false>(xs, each)
                }
            };
        }
        by_kind!(self, run)
    }

    /// [`for_each4`](Self::for_each4) eight values at a time with AVX-512: `left` is a mask,
    /// bit i set when `xs[i]` goes left (`xs.len()` a multiple of eight).
    #[cfg(target_arch = "x86_64")]
    #[inline]
    #[target_feature(enable = "avx2,avx512f")]
    pub(crate) fn for_each8(
        &self,
        xs: &[f64],
        each: impl FnMut(usize, std::arch::x86_64::__mmask8),
    ) {
        use std::arch::x86_64::*;
        macro_rules! run {
            ($round:literal, $p:ident) => {
                if self.zero_band {
                    self.run8::<$round, $p, true>(xs, each)
                } else {
                    self.run8::<$round, $p, false>(xs, each)
                }
            };
        }
        by_kind!(self, run)
    }

    /// [`for_each8`](Self::for_each8) for one kind of test.
    #[cfg(target_arch = "x86_64")]
    #[inline]
    #[target_feature(enable = "avx2,avx512f")]
    fn run8<const ROUND: bool, const P: i32, const BAND: bool>(
        &self,
        xs: &[f64],
        mut each: impl FnMut(usize, std::arch::x86_64::__mmask8),
    ) {
        use std::arch::x86_64::*;
        let t = _mm512_set1_pd(self.threshold);
        let (lo, hi) = (
            _mm512_set1_pd(-ZERO_THRESHOLD),
            _mm512_set1_pd(ZERO_THRESHOLD),
        );
        let side: __mmask8 = if self.special_left { 0xFF } else { 0 };
        for (i, eight) in xs.chunks_exact(8).enumerate() {
            // SAFETY: `eight` is eight f64 (unaligned load).
            let x = unsafe { _mm512_loadu_pd(eight.as_ptr()) };
            let v = if ROUND {
                _mm512_cvtps_pd(_mm512_cvtpd_ps(x))
            } else {
                x
            };
            let mut left = _mm512_cmp_pd_mask::<P>(v, t);
            if BAND {
                let inside = _mm512_cmp_pd_mask::<_CMP_GE_OQ>(x, lo)
                    & _mm512_cmp_pd_mask::<_CMP_LE_OQ>(x, hi);
                left = (left & !inside) | (side & inside);
            }
            each(8 * i, left);
        }
    }

    /// [`for_each4`](Self::for_each4) for one kind of test.
    #[cfg(target_arch = "x86_64")]
    #[inline]
    #[target_feature(enable = "avx2")]
    fn run4<const ROUND: bool, const P: i32, const BAND: bool>(
        &self,
        xs: &[f64],
        mut each: impl FnMut(usize, std::arch::x86_64::__m256d),
    ) {
        use std::arch::x86_64::*;
        let t = _mm256_set1_pd(self.threshold);
        let (lo, hi) = (
            _mm256_set1_pd(-ZERO_THRESHOLD),
            _mm256_set1_pd(ZERO_THRESHOLD),
        );
        let side = _mm256_castsi256_pd(_mm256_set1_epi64x(-(self.special_left as i64)));
        for (i, four) in xs.chunks_exact(4).enumerate() {
            // SAFETY: `four` is four f64 (unaligned load).
            let x = unsafe { _mm256_loadu_pd(four.as_ptr()) };
            let v = if ROUND {
                _mm256_cvtps_pd(_mm256_cvtpd_ps(x))
            } else {
                x
            };
            let mut left = _mm256_cmp_pd::<P>(v, t);
            if BAND {
                let inside = _mm256_and_pd(
                    _mm256_cmp_pd::<_CMP_GE_OQ>(x, lo),
                    _mm256_cmp_pd::<_CMP_LE_OQ>(x, hi),
                );
                left = _mm256_blendv_pd(left, side, inside);
            }
            each(4 * i, left);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::TreeBuilder;

    /// Values around the thresholds used below and every awkward case: NaN, ±0, ±inf, the zero
    /// band's edges, values that round to the threshold in f32, and values overflowing f32.
    fn awkward_values(t: f64) -> Vec<f64> {
        let mut xs = vec![
            f64::NAN,
            0.0,
            -0.0,
            f64::INFINITY,
            f64::NEG_INFINITY,
            1e-35,
            -1e-35,
            1.0000001e-35,
            -1.0000001e-35,
            1e-300,
            f64::MAX,
            -f64::MAX,
            3.5e38,
            -3.5e38,
        ];
        let tf = (t as f32) as f64;
        for base in [t, tf] {
            for k in -3i64..=3 {
                xs.push(f64::from_bits(base.to_bits().wrapping_add_signed(k)));
            }
        }
        xs
    }

    #[test]
    fn a_resolved_numeric_test_routes_every_value_as_the_tree_does() {
        let kinds = [
            Split::LessF32,
            Split::LessEqF32,
            Split::EqF32,
            Split::Lgb(MissingType::NaN),
            Split::Lgb(MissingType::Zero),
            Split::Lgb(MissingType::None),
        ];
        // 0.1 is not an f32, 0.5 is, -0.0 sits in the zero band, -2.0 puts 0.0 on the right.
        for split in kinds {
            for t in [0.1, 0.5, -0.0, -2.0, 1e-36] {
                for dl in [false, true] {
                    let mut b = TreeBuilder::with_nodes(3, split);
                    (b.left[0], b.right[0]) = (1, 2);
                    b.threshold[0] = t;
                    b.default_left[0] = dl;
                    b.cover = vec![2.0, 1.0, 1.0];
                    let tree = b.build(0, 1).expect("tree");
                    let test = NumericTest::of(&tree, 0).expect("numeric");
                    let xs = awkward_values(t);
                    for &x in &xs {
                        let want = tree.goes_left(0, x);
                        assert_eq!(test.goes_left(x), want, "{split:?} t={t} dl={dl} x={x:e}");
                    }
                    #[cfg(target_arch = "x86_64")]
                    if std::arch::is_x86_feature_detected!("avx2") {
                        for x in xs.chunks(4) {
                            let mut four = [f64::NAN; 4];
                            four[..x.len()].copy_from_slice(x);
                            // SAFETY: AVX2 was detected just above.
                            let got = unsafe { left4_bits(&test, four) };
                            for (lane, &v) in four.iter().enumerate() {
                                let want = tree.goes_left(0, v);
                                assert_eq!(got[lane], want, "{split:?} t={t} dl={dl} x={v:e}");
                            }
                        }
                    }
                    #[cfg(target_arch = "x86_64")]
                    if std::arch::is_x86_feature_detected!("avx512f")
                        && std::arch::is_x86_feature_detected!("avx2")
                    {
                        for x in xs.chunks(8) {
                            let mut eight = [f64::NAN; 8];
                            eight[..x.len()].copy_from_slice(x);
                            // SAFETY: AVX-512F was detected just above (AVX2 with it).
                            let got = unsafe { test.left8_bits(eight) };
                            for (lane, &v) in eight.iter().enumerate() {
                                let want = tree.goes_left(0, v);
                                let bit = got >> lane & 1 == 1;
                                assert_eq!(bit, want, "AVX-512 {split:?} t={t} dl={dl} x={v:e}");
                            }
                        }
                    }
                }
            }
        }
    }

    /// `for_each4` on four values, as booleans.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2")]
    fn left4_bits(test: &NumericTest, x: [f64; 4]) -> [bool; 4] {
        use std::arch::x86_64::*;
        let mut bits = 0;
        test.for_each4(&x, |_, m| bits = _mm256_movemask_pd(m));
        [0, 1, 2, 3].map(|i| bits >> i & 1 == 1)
    }

    impl NumericTest {
        /// `for_each8` on eight values: the mask.
        #[cfg(target_arch = "x86_64")]
        #[target_feature(enable = "avx2,avx512f")]
        fn left8_bits(&self, x: [f64; 8]) -> u8 {
            let mut bits = 0;
            self.for_each8(&x, |_, m| bits = m);
            bits
        }
    }

    #[test]
    fn categorical_splits_have_no_numeric_test() {
        let mut b = TreeBuilder::with_nodes(3, Split::LgbCategory);
        (b.left[0], b.right[0]) = (1, 2);
        b.cover = vec![2.0, 1.0, 1.0];
        b.set_categories(0, vec![0b101]);
        let tree = b.build(0, 1).expect("tree");
        assert!(NumericTest::of(&tree, 0).is_none());
    }
}
