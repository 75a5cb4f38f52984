//! The kernels shared by `avx2` and `avx512`, written once: each module defines its vector
//! type `V` (W rows of f64), `W`, and the primitives `load`, `store`, `mul`, `add`, `zero`,
//! `index` (a lane group's encoded variants), `pick` and `select` (see `avx2`), then expands
//! [`simd_kernels!`] with its target features. The primitives are `target_feature` functions
//! inlined into these, so each ISA gets the code it had when the kernels were written out twice.

/// `descend`, `credit`, `leaf`, `twig`, `restart` and `flush` (as `portable`'s) for the
/// calling module's vector primitives, compiled with `$features`.
macro_rules! simd_kernels {
    ($features:literal) => {
        /// As `portable::descend`.
        #[inline]
        #[target_feature(enable = $features)]
        pub fn descend<const Q: usize, const F: bool>(
            src: &[f64],
            dst: &mut [f64],
            var: &[u64],
            ratio: &Table<Q>,
            s: usize,
            np: usize,
        ) {
            // One bounds check per call instead of one per load: every access below is at
            // `q * s + c` with q < Q and c + W ≤ np.
            let end = (Q - 1) * s + np;
            assert!(
                np.is_multiple_of(W) && var.len() >= np && src.len() >= end && dst.len() >= end
            );
            let (sp, dp, vp) = (src.as_ptr(), dst.as_mut_ptr(), var.as_ptr());
            for c in (0..np / W).map(|i| i * W) {
                // SAFETY: in bounds by the assertion above.
                unsafe {
                    let m = index(vp.add(c));
                    for q in 0..Q {
                        let r = select::<F>(m, &ratio[q]);
                        let x = load(sp.add(q * s + c));
                        store(dp.add(q * s + c), mul(x, r));
                    }
                }
            }
        }

        /// As `portable::credit`.
        #[allow(clippy::too_many_arguments)]
        #[inline]
        #[target_feature(enable = $features)]
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
                    let mut acc = zero();
                    for q in 0..Q {
                        let k = select::<F>(m, &coef[q]);
                        let x = load(gp.add(q * s + c));
                        let t = mul(x, k);
                        acc = if q == 0 { t } else { add(acc, t) };
                        let at = up.add(q * s + c);
                        let out = if is_left { x } else { add(load(at), x) };
                        store(at, out);
                    }
                    let ph = load(pp.add(c));
                    store(pp.add(c), add(ph, acc));
                }
            }
        }

        /// As `portable::leaf`.
        #[inline]
        #[target_feature(enable = $features)]
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
                    let mut acc = zero();
                    for q in 0..Q {
                        let x = load(pp.add(q * s + c));
                        let g1 = mul(x, select::<F>(m, &e.ratio[q]));
                        let t = mul(x, select::<F>(m, &e.coef[q]));
                        acc = if q == 0 { t } else { add(acc, t) };
                        let at = gp.add(q * s + c);
                        let out = if is_left { g1 } else { add(load(at), g1) };
                        store(at, out);
                    }
                    let ph = load(php.add(c));
                    store(php.add(c), add(ph, acc));
                }
            }
        }

        /// As `portable::twig`.
        #[allow(clippy::too_many_arguments)]
        #[inline]
        #[target_feature(enable = $features)]
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
                    let mut acc_c = zero();
                    let mut acc_e = zero();
                    for q in 0..Q {
                        let x = load(pp.add(q * s + c));
                        let pc = mul(x, select::<FE>(me, &e.ratio[q]));
                        let gc = mul(pc, select::<FC>(ml, &t.g[q]));
                        let tc = mul(pc, select::<FC>(ml, &t.credit[q]));
                        let te = mul(gc, select::<FE>(me, &e.coef[q]));
                        if q == 0 {
                            (acc_c, acc_e) = (tc, te);
                        } else {
                            acc_c = add(acc_c, tc);
                            acc_e = add(acc_e, te);
                        }
                        let at = gp.add(q * s + c);
                        let out = if is_left { gc } else { add(load(at), gc) };
                        store(at, out);
                    }
                    let pc = php.add(at_c + c);
                    store(pc, add(load(pc), acc_c));
                    let pe = php.add(at_e + c);
                    store(pe, add(load(pe), acc_e));
                }
            }
        }

        /// As `portable::restart`.
        #[inline]
        #[target_feature(enable = $features)]
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
                let mut x = [zero(); Q];
                for (a, (e, _)) in path.iter().enumerate() {
                    // SAFETY: in bounds by the assertions above.
                    let m = unsafe { index(vp.add((a + 1) * s + c)) };
                    for q in 0..Q {
                        let r = pick(m, &e.ratio[q]);
                        x[q] = if a == 0 { r } else { mul(x[q], r) };
                    }
                }
                for q in 0..Q {
                    // SAFETY: in bounds by the assertions above.
                    unsafe { store(pp.add(q * s + c), x[q]) };
                }
            }
        }

        /// As `portable::flush`.
        #[inline]
        #[target_feature(enable = $features)]
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
                let mut x = [zero(); Q];
                for q in 0..Q {
                    // SAFETY: in bounds by the assertions above.
                    x[q] = unsafe { load(gp.add(q * s + c)) };
                }
                for (a, (e, f)) in path.iter().enumerate() {
                    // SAFETY: in bounds by the assertions above.
                    unsafe {
                        let m = index(vp.add((a + 1) * s + c));
                        let mut acc = zero();
                        for q in 0..Q {
                            let t = mul(x[q], pick(m, &e.coef[q]));
                            acc = if q == 0 { t } else { add(acc, t) };
                        }
                        let at = php.add(phi_at + f * stride + c);
                        store(at, add(load(at), acc));
                    }
                }
            }
        }
    };
}

pub(super) use simd_kernels;
