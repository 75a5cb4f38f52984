//! From ONNX's node lists to shaplab trees: one [`TreeBuilder`] per (tree, output).
//!
//! Why an expansion step: ONNX trees are not always trees. onnxmltools writes a LightGBM
//! categorical split `x ∈ {1, 3, 4}` as a chain of `BRANCH_EQ` nodes that all point at the
//! same true child, and `TreeEnsemble` (ml opset 5) lets nodes share leaves. TreeSHAP needs
//! every node to have one parent, so a node reached from several parents is copied under each.
//! The copies compute the same function, so interventional values (a property of the function
//! alone) are unchanged.
//!
//! Tests the engine has no split kind for become small gadgets of exact ones: a double-precision
//! `x == t` is `x <= t` and not `x <= next_down(t)`; `x < t` is `x <= next_down(t)`; a set
//! membership is a chain of equalities. `>`/`>=`/`!=` swap the children of `<=`/`<`/`==`. NaN
//! follows onnxruntime: to the true branch iff `missing_value_tracks_true`, except under
//! `BRANCH_NEQ`, where `NaN != t` is true in C++ and NaN always goes true.

use super::proto::Elem;
use crate::error::{Error, Result};
use crate::model::tree::{MAX_CATEGORY, MAX_DEPTH, MissingType, Split, TreeBuilder, bitset_of};

/// A node test as ONNX states it; the true branch is taken when it holds.
#[derive(Clone, Debug, PartialEq)]
pub enum Test {
    Leq,
    Lt,
    Gte,
    Gt,
    Eq,
    Neq,
    /// `BRANCH_MEMBER` (ml opset 5): x equals one of the values.
    Member(Vec<f64>),
}

#[derive(Clone, Debug, PartialEq)]
pub enum RawNode {
    Branch {
        feature: usize,
        test: Test,
        /// Already rounded to the input's element type.
        threshold: f64,
        nan_true: bool,
        /// Local indices of the true and false children.
        yes: usize,
        no: usize,
    },
    /// Per output, the leaf's weight (already scaled for AVERAGE, at most one per output).
    Leaf { weights: Vec<(usize, f64)> },
}

/// One ONNX tree as a graph of local nodes; node 0 is the root.
#[derive(Clone, Debug)]
pub struct RawTree {
    /// "tree 3" (the ONNX tree id, or the root's position for ml opset 5), for messages.
    pub label: String,
    pub nodes: Vec<RawNode>,
    /// The ONNX id of each local node, for messages.
    pub ids: Vec<i64>,
}

impl RawTree {
    /// The outputs any leaf of this tree carries a weight for, ascending.
    pub fn outputs(&self) -> Vec<usize> {
        let mut out: Vec<usize> = self
            .nodes
            .iter()
            .filter_map(|n| match n {
                RawNode::Leaf { weights } => Some(weights.iter().map(|w| w.0)),
                RawNode::Branch { .. } => None,
            })
            .flatten()
            .collect();
        out.sort_unstable();
        out.dedup();
        out
    }

    /// Refuses a cycle (a node that is its own descendant) and returns how many reachable
    /// nodes have more than one parent.
    pub fn check_acyclic(&self) -> Result<usize> {
        // Iterative DFS with colours: 1 = on the current path, 2 = finished.
        let n = self.nodes.len();
        let mut colour = vec![0u8; n];
        let mut parents = vec![0u32; n];
        let mut stack: Vec<(usize, bool)> = vec![(0, false)];
        while let Some((node, done)) = stack.pop() {
            if done {
                colour[node] = 2;
                continue;
            }
            if colour[node] != 0 {
                continue;
            }
            colour[node] = 1;
            stack.push((node, true));
            if let RawNode::Branch { yes, no, .. } = self.nodes[node] {
                for child in if yes == no { vec![yes] } else { vec![yes, no] } {
                    parents[child] = parents[child].saturating_add(1);
                    match colour[child] {
                        1 => {
                            return Err(Error::model(
                                self.label.clone(),
                                format!(
                                    "node {} leads back to its ancestor {}: the tree has a cycle",
                                    self.ids[node], self.ids[child]
                                ),
                            ));
                        }
                        0 => stack.push((child, false)),
                        _ => {}
                    }
                }
            }
        }
        Ok(parents.iter().filter(|&&p| p > 1).count())
    }

    /// Reads each chain of `BRANCH_EQ` tests on one feature that share their true child (how
    /// onnxmltools writes LightGBM's `x ∈ {1, 3, 4}`) as one membership test, and returns how
    /// many chains it merged. The function is unchanged; the structure becomes the source
    /// model's one set split again, which is what path-dependent TreeSHAP weighs by covers
    /// (LightGBM's own values are those of the set split). A chain link is absorbed only when
    /// the previous link is its one parent. NaN reaches the true child iff some link tracks it
    /// there. Must run after [`RawTree::check_acyclic`].
    pub fn collapse_eq_chains(&mut self) -> usize {
        let n = self.nodes.len();
        let mut parents = vec![0u32; n];
        let mut order = Vec::new();
        let mut seen = vec![false; n];
        let mut stack = vec![0usize];
        while let Some(node) = stack.pop() {
            if std::mem::replace(&mut seen[node], true) {
                continue;
            }
            order.push(node);
            if let RawNode::Branch { yes, no, .. } = self.nodes[node] {
                parents[yes] += 1;
                parents[no] += 1;
                stack.push(no);
                stack.push(yes);
            }
        }
        let link = |nodes: &[RawNode], i: usize| match &nodes[i] {
            RawNode::Branch {
                feature,
                test: Test::Eq,
                threshold,
                nan_true,
                yes,
                no,
            } => Some((*feature, *threshold, *nan_true, *yes, *no)),
            _ => None,
        };
        let mut merged = 0;
        // Preorder: a chain's head is met before its links.
        for &head in &order {
            let Some((feature, t, nan, yes, mut no)) = link(&self.nodes, head) else {
                continue;
            };
            let (mut values, mut nan_true) = (vec![t], nan);
            while let Some((f, t2, nan2, yes2, no2)) = link(&self.nodes, no) {
                if f != feature || yes2 != yes || parents[no] != 1 || no == yes {
                    break;
                }
                values.push(t2);
                nan_true |= nan2;
                no = no2;
            }
            if values.len() > 1 {
                values.sort_by(f64::total_cmp);
                values.dedup();
                self.nodes[head] = RawNode::Branch {
                    feature,
                    test: Test::Member(values),
                    threshold: 0.0,
                    nan_true,
                    yes,
                    no,
                };
                merged += 1;
            }
        }
        merged
    }

    /// The shaplab tree of output `output`: shared nodes copied, tests mapped to split kinds,
    /// covers a placeholder (half the parent's per child: ONNX stores none). Each emitted node
    /// takes one unit of `budget`.
    pub fn build(
        &self,
        output: usize,
        elem: Elem,
        budget: &mut usize,
        index: usize,
        num_features: usize,
    ) -> Result<crate::model::Tree> {
        let mut e = Emitter {
            tree: self,
            output,
            elem,
            b: TreeBuilder::default(),
            budget,
            index,
        };
        e.go(Next::Raw(0), 0)?;
        if !e.b.sets.is_empty() {
            let n = e.b.left.len();
            e.b.sets.resize(n, Vec::new());
        }
        e.b.build(index, num_features)
    }
}

/// What a child slot leads to: a node of the ONNX tree, or the rest of a membership chain.
#[derive(Clone, Copy)]
enum Next<'v> {
    Raw(usize),
    Chain {
        feature: usize,
        values: &'v [f64],
        nan_true: bool,
        yes: usize,
        no: usize,
    },
}

struct Emitter<'a> {
    tree: &'a RawTree,
    output: usize,
    elem: Elem,
    b: TreeBuilder,
    budget: &'a mut usize,
    index: usize,
}

impl<'a> Emitter<'a> {
    /// A new node (a leaf of value 0 until set) at `depth`.
    fn push(&mut self, depth: usize) -> Result<usize> {
        if depth > MAX_DEPTH {
            return Err(Error::InvalidTree {
                tree: self.index,
                node: self.b.left.len(),
                message: format!(
                    "{} is deeper than {MAX_DEPTH} levels once its tests are written as binary \
                     splits",
                    self.tree.label
                ),
            });
        }
        if *self.budget == 0 {
            return Err(Error::Unsupported(format!(
                "the model expands to more than {} tree nodes (one tree per output, shared \
                 subtrees copied under each parent)",
                super::MAX_EXPANDED_NODES
            )));
        }
        *self.budget -= 1;
        let b = &mut self.b;
        b.left.push(-1);
        b.right.push(-1);
        b.feature.push(0);
        b.threshold.push(0.0);
        b.default_left.push(false);
        b.split.push(Split::LessEqF32);
        b.cover.push(0.5f64.powi(depth as i32));
        b.value.push(0.0);
        Ok(b.left.len() - 1)
    }

    /// Make `id` a split; its children are emitted one level down.
    #[allow(clippy::too_many_arguments)]
    fn split(
        &mut self,
        id: usize,
        kind: Split,
        feature: usize,
        threshold: f64,
        default_left: bool,
        left: Next<'a>,
        right: Next<'a>,
        depth: usize,
    ) -> Result<i64> {
        self.b.split[id] = kind;
        self.b.feature[id] = feature as i64;
        self.b.threshold[id] = threshold;
        self.b.default_left[id] = default_left;
        let l = self.go(left, depth + 1)?;
        let r = self.go(right, depth + 1)?;
        self.b.left[id] = l;
        self.b.right[id] = r;
        Ok(id as i64)
    }

    fn go(&mut self, next: Next<'a>, depth: usize) -> Result<i64> {
        match next {
            Next::Raw(raw) => self.node(raw, depth),
            Next::Chain {
                feature,
                values,
                nan_true,
                yes,
                no,
            } => self.member(feature, values, nan_true, yes, no, depth),
        }
    }

    fn node(&mut self, mut raw: usize, depth: usize) -> Result<i64> {
        let tree = self.tree;
        // Both branches lead to the same node: the test decides nothing. (A loop, not
        // recursion: a hostile file may chain millions of such nodes; the tree is acyclic.)
        while let RawNode::Branch { yes, no, .. } = tree.nodes[raw]
            && yes == no
        {
            raw = yes;
        }
        match &tree.nodes[raw] {
            RawNode::Leaf { weights } => {
                let id = self.push(depth)?;
                self.b.value[id] = weights
                    .iter()
                    .filter(|w| w.0 == self.output)
                    .map(|w| w.1)
                    .sum();
                Ok(id as i64)
            }
            RawNode::Branch {
                feature,
                test,
                threshold,
                nan_true,
                yes,
                no,
            } => {
                let (f, t, nt) = (*feature, *threshold, *nan_true);
                let (yes, no) = (Next::Raw(*yes), Next::Raw(*no));
                match test {
                    Test::Member(values) => {
                        let (Next::Raw(y), Next::Raw(n)) = (yes, no) else {
                            unreachable!("raw children")
                        };
                        self.member(f, values, nt, y, n, depth)
                    }
                    test => self.compare(test, f, t, nt, yes, no, depth),
                }
            }
        }
    }

    /// One comparison test as one split (or, for f64 (in)equality, two).
    #[allow(clippy::too_many_arguments)]
    fn compare(
        &mut self,
        test: &Test,
        f: usize,
        t: f64,
        nan_true: bool,
        yes: Next<'a>,
        no: Next<'a>,
        depth: usize,
    ) -> Result<i64> {
        // f64 `<=` with NaN to the default side is LightGBM's NaN-missing split.
        let le64 = Split::Lgb(MissingType::NaN);
        let id = self.push(depth)?;
        match (test, self.elem) {
            (Test::Leq, Elem::F32) => {
                self.split(id, Split::LessEqF32, f, t, nan_true, yes, no, depth)
            }
            (Test::Lt, Elem::F32) => self.split(id, Split::LessF32, f, t, nan_true, yes, no, depth),
            (Test::Gt, Elem::F32) => {
                self.split(id, Split::LessEqF32, f, t, !nan_true, no, yes, depth)
            }
            (Test::Gte, Elem::F32) => {
                self.split(id, Split::LessF32, f, t, !nan_true, no, yes, depth)
            }
            (Test::Eq, Elem::F32) => self.split(id, Split::EqF32, f, t, nan_true, yes, no, depth),
            (Test::Neq, Elem::F32) => self.split(id, Split::EqF32, f, t, false, no, yes, depth),
            (Test::Leq, Elem::F64) => self.split(id, le64, f, t, nan_true, yes, no, depth),
            (Test::Lt, Elem::F64) => {
                self.split(id, le64, f, t.next_down(), nan_true, yes, no, depth)
            }
            (Test::Gt, Elem::F64) => self.split(id, le64, f, t, !nan_true, no, yes, depth),
            (Test::Gte, Elem::F64) => {
                self.split(id, le64, f, t.next_down(), !nan_true, no, yes, depth)
            }
            (Test::Eq | Test::Neq, Elem::F64) => {
                // x == t  ⟺  x <= t and not x <= next_down(t).
                let eq = *test == Test::Eq;
                let (on_eq, on_ne) = if eq { (yes, no) } else { (no, yes) };
                let nan_goes_true = nan_true || !eq;
                // Inner node, reached by x <= t (and by NaN when NaN goes to the equal side).
                let inner = self.push(depth + 1)?;
                let nan_to_inner = nan_goes_true == eq;
                self.b.split[id] = le64;
                self.b.feature[id] = f as i64;
                self.b.threshold[id] = t;
                self.b.default_left[id] = nan_to_inner;
                let l = self.split(
                    inner,
                    le64,
                    f,
                    t.next_down(),
                    false,
                    on_ne,
                    on_eq,
                    depth + 1,
                )?;
                let r = self.go(on_ne, depth + 1)?;
                self.b.left[id] = l;
                self.b.right[id] = r;
                Ok(id as i64)
            }
            (Test::Member(_), _) => unreachable!("membership is a chain"),
        }
    }

    /// `x ∈ values` (sorted, distinct) as a chain of tests, each sending a match to a copy of
    /// `yes`. In f32 a chain of equalities; in f64, where an equality takes two splits, a ladder
    /// over the sorted values (`x <= v ? (x < v ? no : yes) : next`), which copies `yes` and `no`
    /// once per value instead of doubling the rest of the chain.
    fn member(
        &mut self,
        feature: usize,
        values: &'a [f64],
        nan_true: bool,
        yes: usize,
        no: usize,
        depth: usize,
    ) -> Result<i64> {
        let le64 = Split::Lgb(MissingType::NaN);
        let Some((&first, rest)) = values.split_first() else {
            if !nan_true {
                return self.node(no, depth);
            }
            // The empty set: only NaN (tracked true) goes to `yes`; `x <= inf` holds otherwise.
            let id = self.push(depth)?;
            let inf = f64::INFINITY;
            return self.split(
                id,
                le64,
                feature,
                inf,
                false,
                Next::Raw(no),
                Next::Raw(yes),
                depth,
            );
        };
        let otherwise = if rest.is_empty() {
            Next::Raw(no)
        } else {
            Next::Chain {
                feature,
                values: rest,
                nan_true,
                yes,
                no,
            }
        };
        if self.elem == Elem::F32 {
            // Whole non-negative codes: one set split, as the source model had.
            let codes: Option<Vec<i64>> = values
                .iter()
                .map(|&v| {
                    (v.fract() == 0.0 && v >= 0.0 && v < MAX_CATEGORY as f64).then_some(v as i64)
                })
                .collect();
            if let Some(words) = codes.and_then(|c| bitset_of(c).ok()) {
                let id = self.push(depth)?;
                self.b.set_categories(id, words);
                let (y, n) = (Next::Raw(yes), Next::Raw(no));
                return self.split(id, Split::InSetF32, feature, 0.0, nan_true, y, n, depth);
            }
        }
        let t = self.elem.round(first);
        if self.elem == Elem::F32 {
            return self.compare(
                &Test::Eq,
                feature,
                t,
                nan_true,
                Next::Raw(yes),
                otherwise,
                depth,
            );
        }
        // NaN tracked true goes left at the first rung and right (to `yes`) at its inner test;
        // otherwise it goes right at every rung and ends at `no`.
        let id = self.push(depth)?;
        let inner = self.push(depth + 1)?;
        self.b.split[id] = le64;
        self.b.feature[id] = feature as i64;
        self.b.threshold[id] = t;
        self.b.default_left[id] = nan_true;
        let (y, n) = (Next::Raw(yes), Next::Raw(no));
        let l = self.split(inner, le64, feature, t.next_down(), false, n, y, depth + 1)?;
        let r = self.go(otherwise, depth + 1)?;
        self.b.left[id] = l;
        self.b.right[id] = r;
        Ok(id as i64)
    }
}
