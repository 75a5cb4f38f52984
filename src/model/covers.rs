//! Node covers recomputed from data, for models that store none (ONNX).
//!
//! Path-dependent TreeSHAP weighs each branch by the share of training rows that took it. An
//! ONNX file keeps no such counts, so the only honest stand-in is a dataset the user names:
//! route its rows through every tree and count. The values then describe that dataset's
//! distribution; they equal the training library's own only for count covers (LightGBM,
//! scikit-learn's unweighted trees) on the same unbagged rows — hence the label.

use crate::data::Matrix;
use crate::error::{Error, Result};
use crate::model::{Covers, Ensemble};

/// Cover given to a node no row reaches: positive, so TreeSHAP never divides by zero, and far
/// below one row, so it does not move the values of reached nodes.
pub const UNREACHED_COVER: f64 = 1e-9;

impl Ensemble {
    /// Replace every node's cover by the number of `rows` reaching it (a node no row reaches
    /// gets [`UNREACHED_COVER`], halved per level below the first such node, so that children
    /// still add up to their parent). `source` names the rows in the label and notes.
    pub fn recompute_covers(&mut self, rows: &Matrix, source: &str) -> Result<()> {
        crate::explain::check_shape(self, rows)?;
        if rows.rows == 0 {
            return Err(Error::InvalidData(format!(
                "{source} has no rows to recompute covers from"
            )));
        }
        let mut unreached = 0usize;
        let mut total = 0usize;
        for (t, tree) in self.trees.iter_mut().enumerate() {
            let n = tree.num_nodes();
            let mut count = vec![0.0f64; n];
            for r in 0..rows.rows {
                let row = rows.row(r);
                let mut node = 0;
                count[0] += 1.0;
                while !tree.is_leaf(node) {
                    node = tree.next(node, row);
                    count[node] += 1.0;
                }
            }
            // Top-down over reachable nodes: an unreached node's cover is a share of its
            // parent's (half each), starting from UNREACHED_COVER.
            let mut cover = vec![0.0f64; n];
            let mut stack = vec![(0usize, UNREACHED_COVER)];
            while let Some((node, share)) = stack.pop() {
                total += 1;
                cover[node] = if count[node] > 0.0 {
                    count[node]
                } else {
                    unreached += 1;
                    share
                };
                if !tree.is_leaf(node) {
                    let (l, r) = tree.children(node);
                    let half = if count[node] > 0.0 {
                        UNREACHED_COVER
                    } else {
                        share / 2.0
                    };
                    stack.push((l, half));
                    stack.push((r, half));
                }
            }
            if !tree.set_covers(cover) {
                return Err(Error::model(
                    format!("tree {t}"),
                    "recomputed covers were rejected (an internal node without cover)",
                ));
            }
        }
        self.covers = Covers::Recomputed {
            rows: rows.rows,
            source: source.to_string(),
        };
        self.notes
            .retain(|n| !n.starts_with("node covers recomputed"));
        self.notes.push(format!(
            "node covers recomputed from {} rows of {source}: path-dependent SHAP values describe \
             that data's distribution, not the training data's",
            rows.rows
        ));
        if unreached > 0 {
            self.notes.push(format!(
                "node covers recomputed: {unreached} of {total} tree nodes were reached by no row \
                 of {source} and got a tiny cover ({UNREACHED_COVER:e}) so TreeSHAP stays defined"
            ));
        }
        Ok(())
    }
}
