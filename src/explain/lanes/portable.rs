//! Row-by-row kernels: any CPU. The reference for the arithmetic order of `avx2`.

// Fixed-size loops over quadrature points index several arrays in lockstep.
#![allow(clippy::needless_range_loop)]

use super::super::prepare::{Edge, Table, Twig};
use super::{COLD_HERE, HOT};
use crate::model::{CategoryTest, NumericTest, Tree};

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
        None => match CategoryTest::of(tree, node) {
            // An index, not a branch: a categorical side is as random as the data.
            Some(test) => {
                for (v, &x) in var.iter_mut().zip(xs) {
                    *v = [COLD_HERE, HOT][test.goes_left(x) as usize];
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
        },
    }
    if let Some(prev) = prev {
        super::mark_cold(var, prev);
    }
}
/// P at the child level: `dst[q] = src[q] · ratio[variant][q]` for the first `np` rows.
#[inline(always)]
pub fn descend<const Q: usize, const F: bool>(
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
pub fn leaf<const Q: usize, const F: bool>(
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

/// P at a segment's root, rebuilt at the segment's points: the product of the path's
/// edge ratios, top-down (`path[a]` is the edge into level a + 1, whose variants are at
/// `var[(a + 1) * s..]`).
#[inline(always)]
pub fn restart<const Q: usize>(
    path: &[(Edge<Q>, usize)],
    var: &[u64],
    p: &mut [f64],
    s: usize,
    np: usize,
) {
    for b in 0..np {
        for q in 0..Q {
            let mut x = 1.0;
            for (a, (e, _)) in path.iter().enumerate() {
                let r = e.ratio[q][super::variant(var[(a + 1) * s + b])];
                x = if a == 0 { r } else { x * r };
            }
            p[q * s + b] = x;
        }
    }
}

/// A segment's G credited to every edge on the path above it, at the segment's points:
/// `phi[feature] += Σ_q G(t_q)·c(t_q)` per edge (`phi` rows at `phi_at + feature · stride`).
#[inline(always)]
pub fn flush<const Q: usize>(
    path: &[(Edge<Q>, usize)],
    var: &[u64],
    g: &[f64],
    phi: &mut [f64],
    (phi_at, stride): (usize, usize),
    s: usize,
    np: usize,
) {
    for b in 0..np {
        for (a, (e, f)) in path.iter().enumerate() {
            let w = super::variant(var[(a + 1) * s + b]);
            let mut acc = 0.0;
            for q in 0..Q {
                let t = g[q * s + b] * e.coef[q][w];
                acc = if q == 0 { t } else { acc + t };
            }
            phi[phi_at + f * stride + b] += acc;
        }
    }
}
