//! Attributes every estimator family reads the same way.

use super::schema::Node;
use super::sklearn_tree::SkTree;
use crate::error::{Error, Result};
use crate::model::Ensemble;

/// Multi-output estimators (y with several columns) have no single margin to explain.
pub fn single_output(root: &Node) -> Result<()> {
    if let Some(n) = root.attr("n_outputs_") {
        let n = n.as_usize()?;
        if n != 1 {
            return Err(Error::Unsupported(format!(
                "{} was fitted on {n} targets; shaplab explains single-target estimators",
                root.class()
            )));
        }
    }
    Ok(())
}

/// `n_features_in_`, or what the trees say when it is absent.
pub fn num_features(root: &Node, fallback: usize) -> Result<usize> {
    let n = match root.attr("n_features_in_") {
        Some(n) => n.as_usize()?,
        None => fallback,
    };
    if n == 0 || n > 1 << 24 {
        return Err(root.err(format!("{n} features is implausible")));
    }
    Ok(n)
}

/// The class labels, as text.
pub fn classes(root: &Node) -> Result<Vec<String>> {
    let classes = root.req("classes_")?.strings()?;
    if classes.len() < 2 || classes.len() > 1 << 16 {
        return Err(root.err(format!("{} classes is implausible", classes.len())));
    }
    Ok(classes)
}

/// Feature names from `feature_names_in_` (set when the model was fitted on a DataFrame).
pub fn feature_names(root: &Node, num_features: usize) -> Result<Option<Vec<String>>> {
    let Some(names) = root.attr("feature_names_in_") else {
        return Ok(None);
    };
    let names = names.strings()?;
    if names.len() != num_features {
        return Err(root.err(format!(
            "feature_names_in_ has {} names for {num_features} features",
            names.len()
        )));
    }
    Ok(Some(names))
}

/// Trees saved before scikit-learn 1.3 store no missing-value routing.
pub fn note_old_trees(ensemble: &mut Ensemble, trees: &[SkTree]) {
    if trees.iter().any(|t| !t.has_missing_routing) {
        ensemble.notes.push(
            "trees saved by scikit-learn < 1.3 store no missing-value routing: a missing value \
             goes right, as NaN <= threshold is false"
                .into(),
        );
    }
}

/// The ensemble of a gradient-boosting estimator (classic or histogram), with the note that
/// says which raw score a classifier's values explain: the log-odds of the positive class
/// (`decision_function`) for binary, each class's margin (softmaxed by `predict_proba`) else.
#[allow(clippy::too_many_arguments)]
pub fn boosted_ensemble(
    root: &Node,
    class: &str,
    num_features: usize,
    base_margin: Vec<f64>,
    link: crate::model::Link,
    trees: Vec<crate::model::Tree>,
    tree_output: Vec<usize>,
    classes: Option<&[String]>,
) -> Result<Ensemble> {
    let k = base_margin.len();
    let mut ensemble = Ensemble::new(
        crate::model::ModelFormat::Skops,
        class.to_string(),
        num_features,
        k,
        feature_names(root, num_features)?,
        base_margin,
        link,
        trees,
        tree_output,
    )?;
    if let Some(classes) = classes {
        ensemble.notes.push(match (k, classes.get(1)) {
            (1, Some(positive)) => {
                format!("explains the raw log-odds of class {positive} (decision_function)")
            }
            _ => format!(
                "explains the raw margin of each class ({}); predict_proba is their softmax",
                classes.join(", ")
            ),
        });
    }
    Ok(ensemble)
}
