//! Single decision trees and the averaging forests (RandomForest*, ExtraTrees*).
//!
//! A forest predicts the mean of its trees, so each leaf is divided by the number of trees.
//! A classifier is explained the way `shap.TreeExplainer` explains it: `predict_proba`, one
//! output per class (two for a binary problem), identity link. Each tree's leaf holds the
//! class fractions `predict_proba` computes (scikit-learn ≥ 1.4 stores fractions, older
//! versions weighted counts; normalising per leaf gives the same for both). The engine's trees
//! carry one value per leaf, so a K-class forest becomes K copies of each tree, one per class.

use super::common;
use super::schema::Node;
use super::sklearn_tree::SkTree;
use crate::error::{Error, Result};
use crate::model::{Ensemble, Link, ModelFormat};

/// Most tree nodes a forest may expand to (trees × nodes × classes), about 3 GB as engine trees:
/// a hostile file could otherwise declare thousands of classes over one large tree.
const MAX_NODE_COPIES: usize = 1 << 26;

pub fn load(root: &Node, class: &str) -> Result<Ensemble> {
    let single = class.starts_with("DecisionTree")
        || matches!(class, "ExtraTreeRegressor" | "ExtraTreeClassifier");
    let classifier = class.ends_with("Classifier");
    let members = if single {
        vec![root.clone()]
    } else {
        root.req("estimators_")?.items()?
    };
    if members.is_empty() {
        return Err(root.err("the forest has no trees"));
    }
    common::single_output(root)?;
    let trees: Vec<SkTree> = members
        .iter()
        .map(SkTree::of_estimator)
        .collect::<Result<_>>()?;
    let num_features = common::num_features(root, trees[0].n_features)?;
    let weight = 1.0 / trees.len() as f64;

    let classes = if classifier {
        Some(common::classes(root)?)
    } else {
        None
    };
    let outputs = classes.as_ref().map_or(1, Vec::len);
    let copies: usize = trees
        .iter()
        .map(|t| t.num_nodes().saturating_mul(outputs))
        .sum();
    if copies > MAX_NODE_COPIES {
        return Err(Error::Unsupported(format!(
            "the forest needs {copies} tree nodes in memory (one copy of every tree per class), \
             more than the {MAX_NODE_COPIES} shaplab holds"
        )));
    }
    let mut built = Vec::with_capacity(trees.len() * outputs);
    let mut tree_output = Vec::with_capacity(trees.len() * outputs);
    for (i, t) in trees.iter().enumerate() {
        let expected = if classifier { outputs } else { 1 };
        if t.n_classes != expected {
            return Err(members[i].err(format!(
                "the tree stores {} values per node, but the estimator has {expected} {}",
                t.n_classes,
                if classifier { "classes" } else { "output" }
            )));
        }
        for k in 0..outputs {
            let b = if classifier {
                t.builder(|n| t.fraction(n, k) * weight)
            } else {
                t.builder(|n| t.value(n, 0) * weight)
            };
            built.push(b.build(built.len(), num_features)?);
            tree_output.push(k);
        }
    }
    let mut ensemble = Ensemble::new(
        ModelFormat::Skops,
        class.to_string(),
        num_features,
        outputs,
        common::feature_names(root, num_features)?,
        vec![0.0; outputs],
        Link::Identity,
        built,
        tree_output,
    )?;
    if let Some(classes) = &classes {
        ensemble.notes.push(format!(
            "explains predict_proba: one output per class ({}), as shap.TreeExplainer does",
            classes.join(", ")
        ));
    }
    if !single {
        ensemble.notes.push(format!(
            "the {} trees are averaged: each leaf is divided by {}",
            trees.len(),
            trees.len()
        ));
    }
    common::note_old_trees(&mut ensemble, &trees);
    Ok(ensemble)
}
