//! GradientBoostingRegressor / GradientBoostingClassifier.
//!
//! `estimators_` is an object array of shape (stages, K) of DecisionTreeRegressors: K = 1 for
//! regression and binary classification, one tree per class per stage for multiclass. The raw
//! margin is `init + learning_rate × Σ trees`, the init coming from the `init_` estimator as
//! `_raw_predict_init` computes it: 0 for `init='zero'`, a DummyRegressor's constant, or the
//! loss's link applied to a DummyClassifier's class probabilities (clipped to [ε, 1 − ε]):
//! logit for binary log-loss, half logit for the exponential loss, and for multiclass the
//! symmetric multinomial logit log(p_k / geometric mean(p)) of scikit-learn ≥ 1.3 (`_loss`),
//! or plain log(p_k) with float32 ε for the older `loss_` objects.
//!
//! Binary classifiers have one output with a logistic link (a scale of 2 for the exponential
//! loss, whose probability is expit(2·raw)); multiclass ones K outputs with softmax, which
//! shap refuses but is exact here. GradientBoosting's own predict refuses NaN; a missing value
//! here follows each tree's `missing_go_to_left`, as a DecisionTreeRegressor would route it.

use super::common;
use super::schema::Node;
use super::sklearn_tree::SkTree;
use crate::error::{Error, Result};
use crate::model::{Ensemble, Link};

pub fn load(root: &Node, class: &str) -> Result<Ensemble> {
    let classifier = class.ends_with("Classifier");
    let stages = root.req("estimators_")?.items()?;
    if stages.is_empty() {
        return Err(root.err("the model has no boosting stages"));
    }
    let grid: Vec<Vec<Node>> = stages.iter().map(Node::items).collect::<Result<_>>()?;
    let k = grid[0].len();
    if k == 0 || grid.iter().any(|row| row.len() != k) {
        return Err(root.err("estimators_ is not a (stages, K) grid of trees"));
    }
    let learning_rate = root.req("learning_rate")?.as_f64()?;
    if !learning_rate.is_finite() {
        return Err(root.err(format!("learning_rate {learning_rate} is not finite")));
    }
    let loss = root.req("loss")?.as_str()?;
    let new_losses = root.attr("_loss").is_some();

    let (classes, link) = if classifier {
        let classes = common::classes(root)?;
        let want = if classes.len() == 2 { 1 } else { classes.len() };
        if k != want {
            return Err(root.err(format!(
                "{} classes need {want} trees per stage, estimators_ has {k}",
                classes.len()
            )));
        }
        let link = match (loss.as_str(), k) {
            ("log_loss" | "deviance", 1) => Link::Logistic { scale: 1.0 },
            ("log_loss" | "deviance", _) => Link::Softmax,
            ("exponential", 1) => Link::Logistic { scale: 2.0 },
            (other, _) => {
                return Err(Error::Unsupported(format!(
                    "GradientBoostingClassifier loss {other:?} is not supported"
                )));
            }
        };
        (Some(classes), link)
    } else {
        if k != 1 {
            return Err(root.err(format!("a regressor with {k} trees per stage")));
        }
        if !matches!(
            loss.as_str(),
            "squared_error" | "ls" | "absolute_error" | "lad" | "huber" | "quantile"
        ) {
            return Err(Error::Unsupported(format!(
                "GradientBoostingRegressor loss {loss:?} is not supported"
            )));
        }
        (None, Link::Identity)
    };

    let base_margin = init_margin(root, &loss, classes.as_deref(), new_losses)?;

    let mut sk = Vec::with_capacity(stages.len() * k);
    for row in &grid {
        for member in row {
            sk.push(SkTree::of_estimator(member)?);
        }
    }
    let num_features = common::num_features(root, sk[0].n_features)?;
    let mut trees = Vec::with_capacity(sk.len());
    let mut tree_output = Vec::with_capacity(sk.len());
    for (i, t) in sk.iter().enumerate() {
        if t.n_classes != 1 {
            return Err(root.err(format!("tree {i} is not a regression tree")));
        }
        trees.push(
            t.builder(|n| t.value(n, 0) * learning_rate)
                .build(i, num_features)?,
        );
        tree_output.push(i % k);
    }
    let mut ensemble = common::boosted_ensemble(
        root,
        class,
        num_features,
        base_margin,
        link,
        trees,
        tree_output,
        classes.as_deref(),
    )?;
    ensemble.notes.push(
        "GradientBoosting's predict refuses missing values; here a missing value follows each \
         tree's missing_go_to_left"
            .into(),
    );
    common::note_old_trees(&mut ensemble, &sk);
    Ok(ensemble)
}

/// The init estimator's raw prediction, per output.
fn init_margin(
    root: &Node,
    loss: &str,
    classes: Option<&[String]>,
    new_losses: bool,
) -> Result<Vec<f64>> {
    let init = root.req("init_")?;
    if init.loader() == "JsonNode" {
        return match init.as_str()?.as_str() {
            "zero" => Ok(vec![
                0.0;
                classes.map_or(1, |c| if c.len() == 2 {
                    1
                } else {
                    c.len()
                })
            ]),
            other => Err(init.err(format!("init_ {other:?} is not an estimator or 'zero'"))),
        };
    }
    let Some(classes) = classes else {
        if init.class() != "DummyRegressor" {
            return Err(Error::Unsupported(format!(
                "GradientBoostingRegressor with init estimator {}",
                init.class()
            )));
        }
        common::single_output(&init)?;
        let constant = init.req("constant_")?;
        let c = match constant.loader() {
            "NdArrayNode" => constant.array()?.f64s()?,
            _ => vec![constant.as_f64()?],
        };
        return match c.as_slice() {
            [c] if c.is_finite() => Ok(vec![*c]),
            _ => Err(constant.err("expected one finite constant")),
        };
    };
    if init.class() != "DummyClassifier" {
        return Err(Error::Unsupported(format!(
            "GradientBoostingClassifier with init estimator {}",
            init.class()
        )));
    }
    common::single_output(&init)?;
    let prior = init.req("class_prior_")?.array()?.f64s()?;
    if prior.len() != classes.len() {
        return Err(init.err(format!(
            "class_prior_ has {} entries for {} classes",
            prior.len(),
            classes.len()
        )));
    }
    let strategy = match init.attr("_strategy") {
        Some(s) => s.as_str()?,
        None => init.req("strategy")?.as_str()?,
    };
    // DummyClassifier.predict_proba for the deterministic strategies.
    let proba: Vec<f64> = match strategy.as_str() {
        "prior" => prior,
        "uniform" => vec![1.0 / prior.len() as f64; prior.len()],
        "most_frequent" => {
            let top = (0..prior.len()).fold(0, |b, i| if prior[i] > prior[b] { i } else { b });
            (0..prior.len())
                .map(|i| f64::from(u8::from(i == top)))
                .collect()
        }
        other => {
            return Err(Error::Unsupported(format!(
                "an init DummyClassifier with strategy {other:?} (only prior, uniform and \
                 most_frequent predict fixed probabilities)"
            )));
        }
    };
    // scikit-learn ≥ 1.3 clips with float64 ε; the older loss objects used float32 ε.
    let eps = if new_losses {
        f64::EPSILON
    } else {
        f32::EPSILON as f64
    };
    let clip = |p: f64| p.clamp(eps, 1.0 - eps);
    let logit = |p: f64| (p / (1.0 - p)).ln();
    if classes.len() == 2 {
        let p = clip(proba[1]);
        return Ok(vec![if loss == "exponential" {
            0.5 * logit(p)
        } else {
            logit(p)
        }]);
    }
    let p: Vec<f64> = proba.into_iter().map(clip).collect();
    if !new_losses {
        return Ok(p.iter().map(|x| x.ln()).collect());
    }
    // scipy's gmean: exp(mean(log p)); then log(p / gm), as MultinomialLogit.link computes.
    let gm = (p.iter().map(|x| x.ln()).sum::<f64>() / p.len() as f64).exp();
    Ok(p.iter().map(|x| (x / gm).ln()).collect())
}
