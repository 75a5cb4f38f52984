//! Interventional TreeSHAP by leaf: each leaf's background rows grouped once by which of the
//! leaf's path features they satisfy, so explaining a row costs a pass over leaves and groups,
//! not a walk per background row.
//!
//! Why it works: for one pair (x, r) and one leaf L, call a feature on L's path *passed* by a
//! row when the row satisfies every split on that feature along the path. L is reached under
//! coalition S (features from x, the rest from r) iff each path feature is passed by the row it
//! is taken from. With P_x, P_r the passed sets, L is reached iff P_x ∪ P_r covers the path's
//! features, and then it is the game `v·[A ⊆ S, B ∩ S = ∅]` with A = P_x ∖ P_r and
//! B = P_r ∖ P_x (features both pass are irrelevant) — closed-form Shapley values (see
//! `interventional`). Since x must be covered by r on the features x fails, B is exactly the
//! features x fails, whatever r; only A varies with r, through P_r.
//!
//! P_r per leaf depends on the background alone: computed once here, as a bit mask over the
//! leaf's path features, and the background rows grouped by it. Bits are assigned per path by a
//! feature's first appearance from the root, so a node's bit is the same for every leaf below
//! it and the failed set of a row is one top-down pass: a child inherits its parent's failed
//! bits plus the node's bit when the row goes the other way. Per x and leaf, each group whose
//! mask covers x's failed bits contributes with its size (raw output) or the sum of its rows'
//! rescale factors (probability), for all of its background rows at once.
//!
//! Paths with more than 64 distinct features, or backgrounds too large to group within
//! `MAX_MEMBERS`, are left to the per-row walk in `interventional`.
//!
//! Layout: this file holds the grouped background and how it is built; `block` explains a
//! block of rows tree by tree; `kernels` holds the two inner loops (a node's routing for a
//! block, a group's rescale sum) portable and with AVX2.

mod block;
mod kernels;

pub(super) use block::Rescale;

use crate::model::{Ensemble, NumericTest, Tree};

/// Most (leaf, background row) memberships kept: 32 MiB of u16 row numbers (and at most as
/// many groups). W1 (21,500 leaves) with 100 background rows holds 2.2 million.
const MAX_MEMBERS: usize = 1 << 24;

/// Most list entries kept (32 MiB); past it, further leaves scan their groups instead. W1 with
/// 100 background rows lists 5.4 million.
const MAX_ENTRIES: usize = 1 << 24;

/// Most distinct path features for which a leaf lists its groups per failed set of x: 2^6 + 1
/// list bounds per leaf, and a leaf has at most 64 groups, so an entry fits in two bytes.
const MAX_LISTED: usize = 6;

/// One leaf: its value, path features and groups of background rows.
#[derive(Clone, Debug)]
struct Leaf {
    node: u32,
    value: f64,
    /// Mask of all the path's distinct features.
    full: u64,
    /// Union of the groups' masks: x's failed bits outside it mean no group can cover them.
    any: u64,
    /// For paths of at most `MAX_LISTED` features: `lists[lists_at..][..2^bits + 1]` bound,
    /// for each failed set b of x, the entries of `entries[entries_at..]` naming the groups
    /// that reach this leaf with such an x. `u32::MAX` for longer paths (groups scanned).
    lists_at: u32,
    entries_at: u32,
    /// `features[features_at..]`: the feature of each bit; listed leaves have `MAX_LISTED`
    /// entries, padded with the number of features (the base value's slot, written last).
    features_at: u32,
    bits: u32,
    /// `groups[groups_at..groups_at + groups_len]`.
    groups_at: u32,
    groups_len: u32,
}

/// A group (index among its leaf's groups) that reaches the leaf with x's failed set b, and the
/// set A of features x passes and the group fails.
#[derive(Clone, Copy, Debug)]
struct Entry {
    group: u8,
    a: u8,
}

/// Background rows passing the same features of one leaf's path.
#[derive(Clone, Copy, Debug)]
struct Group {
    mask: u64,
    /// `members[at..at + 4 * len.div_ceil(4)]`: the rows, in increasing order, padded to a
    /// multiple of four with the row number `nb` (whose rescale factor is 0).
    at: u32,
    len: u32,
}

/// Every tree's leaves with the background grouped per leaf; see the module doc.
#[derive(Clone, Debug)]
pub(super) struct LeafGroups {
    /// Per tree, its range of `leaves`.
    tree_leaves: Vec<(u32, u32)>,
    /// Per tree, its internal nodes parents first, in `order[tree_order[t].0..].1`.
    tree_order: Vec<(u32, u32)>,
    order: Vec<u32>,
    /// Per node (flattened numbering), the bit of its split feature on its path.
    bit: Vec<u8>,
    /// Per node (flattened numbering), its numeric split resolved; `None` for categorical
    /// splits (and leaves), routed by `Tree::goes_left`.
    tests: Vec<Option<NumericTest>>,
    leaves: Vec<Leaf>,
    features: Vec<u32>,
    groups: Vec<Group>,
    lists: Vec<u16>,
    entries: Vec<Entry>,
    members: Vec<u16>,
    /// Most distinct features on any path (sizes the weight table).
    max_bits: usize,
    num_features: usize,
    background_rows: usize,
    /// `weights[a * (max_bits + 1) + b] = (a−1)!·b!/(a+b)!` for a ≥ 1.
    weights: Vec<f64>,
    /// The same weights for listed leaves, `[|B|][|A|] = [gain of A, loss of B]`, small
    /// enough to index without bounds checks.
    listed_weights: [[[f64; 2]; 8]; 8],
}

impl LeafGroups {
    /// Groups `nb` background rows whose directions `goes_left(tree, node, row)` tells
    /// (`offsets`/`total`: the flattened node numbering); `None` when the model or the
    /// background is outside this method's limits.
    pub(super) fn new(
        model: &Ensemble,
        offsets: &[usize],
        total: usize,
        nb: usize,
        goes_left: impl Fn(usize, usize, usize) -> bool,
    ) -> Option<Self> {
        let leaves_total = model.total_leaves();
        if nb == 0 || nb >= 1 << 16 || leaves_total.saturating_mul(nb) > MAX_MEMBERS {
            return None;
        }
        let mut g = LeafGroups {
            tree_leaves: Vec::with_capacity(model.trees.len()),
            tree_order: Vec::with_capacity(model.trees.len()),
            order: Vec::new(),
            bit: vec![0; total],
            tests: vec![None; total],
            leaves: Vec::with_capacity(leaves_total),
            features: Vec::new(),
            groups: Vec::new(),
            lists: Vec::new(),
            entries: Vec::new(),
            members: Vec::with_capacity(leaves_total * nb * 5 / 4),
            max_bits: 0,
            num_features: model.num_features,
            background_rows: nb,
            weights: Vec::new(),
            listed_weights: [[[0.0; 2]; 8]; 8],
        };
        let mut failed = Vec::new();
        let mut masks: Vec<(u64, u16)> = Vec::new();
        for (t, (tree, &off)) in model.trees.iter().zip(offsets).enumerate() {
            let first_leaf = g.leaves.len();
            let first_node = g.order.len();
            g.walk(tree, off, 0, &mut Vec::new())?;
            g.tree_order
                .push((first_node as u32, (g.order.len() - first_node) as u32));
            g.tree_leaves
                .push((first_leaf as u32, (g.leaves.len() - first_leaf) as u32));
            // Each background row's failed bits at every leaf, then the groups per leaf.
            let n_leaves = g.leaves.len() - first_leaf;
            masks.clear();
            masks.resize(n_leaves * nb, (0, 0));
            failed.resize(tree.num_nodes(), 0);
            let order = &g.order[first_node..];
            for j in 0..nb {
                failed[0] = 0;
                for &n in order {
                    let n = n as usize;
                    let (l, r) = tree.children(n);
                    let bit = 1u64 << g.bit[off + n];
                    let left = goes_left(t, n, j);
                    failed[l] = failed[n] | if left { 0 } else { bit };
                    failed[r] = failed[n] | if left { bit } else { 0 };
                }
                for (i, leaf) in g.leaves[first_leaf..].iter().enumerate() {
                    let passed = leaf.full & !failed[leaf.node as usize];
                    masks[i * nb + j] = (passed, j as u16);
                }
            }
            for (i, rows) in masks.chunks_mut(nb).enumerate() {
                rows.sort_unstable();
                let leaf = &mut g.leaves[first_leaf + i];
                leaf.groups_at = g.groups.len() as u32;
                for run in rows.chunk_by(|a, b| a.0 == b.0) {
                    g.groups.push(Group {
                        mask: run[0].0,
                        at: g.members.len() as u32,
                        len: run.len() as u32,
                    });
                    leaf.any |= run[0].0;
                    g.members.extend(run.iter().map(|m| m.1));
                    let padded = run.len().next_multiple_of(4) - run.len();
                    g.members.extend(std::iter::repeat_n(nb as u16, padded));
                }
                leaf.groups_len = g.groups.len() as u32 - leaf.groups_at;
                // A listed leaf names each group once per subset of the path features it passes.
                let listing = || -> usize {
                    g.groups[leaf.groups_at as usize..]
                        .iter()
                        .map(|grp| 1usize << grp.mask.count_ones())
                        .sum()
                };
                if leaf.bits as usize <= MAX_LISTED && g.entries.len() + listing() <= MAX_ENTRIES {
                    let groups = &g.groups[leaf.groups_at as usize..];
                    leaf.lists_at = g.lists.len() as u32;
                    leaf.entries_at = g.entries.len() as u32;
                    g.lists.push(0);
                    for b in 0..=leaf.full {
                        for (i, grp) in groups.iter().enumerate() {
                            let a = leaf.full & !b & !grp.mask;
                            if grp.mask & b == b && a | b != 0 {
                                g.entries.push(Entry {
                                    group: i as u8,
                                    a: a as u8,
                                });
                            }
                        }
                        g.lists
                            .push((g.entries.len() - leaf.entries_at as usize) as u16);
                    }
                }
            }
        }
        g.weights = weight_table(g.max_bits);
        let w = weight_table(MAX_LISTED);
        let stride = MAX_LISTED + 1;
        for nb in 0..=MAX_LISTED {
            for na in 0..=MAX_LISTED {
                g.listed_weights[nb][na] = [w[na * stride + nb], w[nb * stride + na]];
            }
        }
        // The explainer's hottest loop indexes by these without bounds checks.
        g.validate().then_some(g)
    }

    /// True when every index the explainer's unchecked loop uses is in bounds: each listed
    /// entry names one of its leaf's groups, each group's members (padded to a multiple of
    /// four) lie inside `members` and are at most nb (the padding's zero factor), and each
    /// listed leaf has `MAX_LISTED` features, each at most the number of features.
    fn validate(&self) -> bool {
        let nb = self.background_rows;
        let groups_ok = self.groups.iter().all(|g| {
            let end = (g.at + g.len.next_multiple_of(4)) as usize;
            end <= self.members.len()
                && self.members[g.at as usize..end]
                    .iter()
                    .all(|&j| j as usize <= nb)
        });
        let leaves_ok = self.leaves.iter().all(|leaf| {
            let groups_end = leaf.groups_at as usize + leaf.groups_len as usize;
            if groups_end > self.groups.len() {
                return false;
            }
            if leaf.lists_at == u32::MAX {
                return true;
            }
            let lists = self
                .lists
                .get(leaf.lists_at as usize..leaf.lists_at as usize + (1 << leaf.bits) + 1);
            let features = self
                .features
                .get(leaf.features_at as usize..leaf.features_at as usize + MAX_LISTED);
            let (Some(lists), Some(features)) = (lists, features) else {
                return false;
            };
            let entries = self.entries.get(
                leaf.entries_at as usize
                    ..leaf.entries_at as usize + lists[lists.len() - 1] as usize,
            );
            lists.is_sorted()
                && entries.is_some_and(|e| e.iter().all(|e| (e.group as u32) < leaf.groups_len))
                && features.iter().all(|&f| f as usize <= self.num_features)
        });
        groups_ok && leaves_ok
    }

    /// Records `node`'s subtree: bits of split nodes (`path` holds the distinct features from
    /// the root), parents-first order, leaves. `None` past 64 distinct features on a path.
    fn walk(&mut self, tree: &Tree, off: usize, node: usize, path: &mut Vec<u32>) -> Option<()> {
        if tree.is_leaf(node) {
            let k = path.len();
            self.max_bits = self.max_bits.max(k);
            self.leaves.push(Leaf {
                node: node as u32,
                value: tree.predict_leaf_value(node),
                full: if k == 64 { u64::MAX } else { (1u64 << k) - 1 },
                any: 0,
                lists_at: u32::MAX,
                entries_at: 0,
                features_at: self.features.len() as u32,
                bits: k as u32,
                groups_at: 0,
                groups_len: 0,
            });
            self.features.extend_from_slice(path);
            if k <= MAX_LISTED {
                let pad = self.num_features as u32;
                self.features
                    .extend(std::iter::repeat_n(pad, MAX_LISTED - k));
            }
            return Some(());
        }
        let feature = tree.split_feature(node) as u32;
        let known = path.iter().position(|&f| f == feature);
        let bit = known.unwrap_or(path.len());
        if bit >= 64 {
            return None;
        }
        self.bit[off + node] = bit as u8;
        self.tests[off + node] = NumericTest::of(tree, node);
        self.order.push(node as u32);
        if known.is_none() {
            path.push(feature);
        }
        let (l, r) = tree.children(node);
        self.walk(tree, off, l, path)?;
        self.walk(tree, off, r, path)?;
        if known.is_none() {
            path.pop();
        }
        Some(())
    }

    /// Bytes held, for cache accounting.
    pub(super) fn heap_bytes(&self) -> usize {
        self.leaves.len() * size_of::<Leaf>()
            + self.groups.len() * size_of::<Group>()
            + self.members.len() * 2
            + self.features.len() * 4
            + self.order.len() * 4
            + self.bit.len()
            + self.lists.len() * 2
            + self.entries.len() * size_of::<Entry>()
            + self.tests.len() * size_of::<Option<NumericTest>>()
    }
}

/// `w[a * (max + 1) + b] = (a−1)!·b!/(a+b)!` for 1 ≤ a ≤ max, 0 ≤ b ≤ max: the Shapley weight
/// of a feature in A when |A| = a and |B| = b.
pub(super) fn weight_table(max: usize) -> Vec<f64> {
    let stride = max + 1;
    let mut w = vec![0.0; stride * stride];
    for a in 1..=max {
        for b in 0..=max {
            // (a−1)! b! / (a+b)! = 1 / ((a+b) · C(a+b−1, b))
            let n = a + b - 1;
            let mut c = 1.0f64;
            for i in 0..b {
                c = c * (n - i) as f64 / (i + 1) as f64;
            }
            w[a * stride + b] = 1.0 / ((a + b) as f64 * c);
        }
    }
    w
}
