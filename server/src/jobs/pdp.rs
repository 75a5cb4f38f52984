//! Partial dependence with ICE lines (`GET /api/jobs/{id}/pdp?feature=F`): the engine
//! evaluates the model in the API process on a grid of one feature's values, for each row of
//! a seeded sample of the job's data, on the scale the job explains (raw margin, or the
//! probability). Each row's curve is an ICE line; their mean is the partial dependence.
//!
//! It reuses the what-if's prepared inputs ([`super::whatif::WhatIfCache`]): the model and
//! each feature's observed range. The grid spans that range evenly (a categorical feature:
//! each of its categories). Cost: rows × grid predictions (50 × 20 × 500 trees on W1 is a few
//! milliseconds), plus one pass over the data for the sample.

use super::read::ReadError;
use super::summary::sample_rows;
use super::whatif::WhatIfInputs;
use app::wire::PartialDependence;
use shaplab::Output;

/// Rows in the ICE sample (the summary's seeded bottom-k rule: the same job gives the same
/// lines).
pub const ICE_ROWS: usize = 50;
/// Default and largest grid.
pub const GRID: usize = 20;
pub const MAX_GRID: usize = 100;
/// Most categories on a categorical feature's grid.
const MAX_CATEGORIES: usize = 50;

/// The partial dependence of `feature` (index) for `output`, with `grid` points.
pub fn partial_dependence(
    inputs: &WhatIfInputs,
    feature: usize,
    output: usize,
    grid: usize,
) -> Result<PartialDependence, ReadError> {
    let model = &inputs.model;
    if feature >= model.num_features {
        return Err(ReadError::Invalid(format!(
            "feature {feature} is out of range: the model has {} features",
            model.num_features
        )));
    }
    if output >= model.num_outputs {
        return Err(ReadError::Invalid(format!(
            "output={output} is out of range: the model has {} output(s)",
            model.num_outputs
        )));
    }
    let categories = model.categories_of(feature).map(|c| c.names.clone());
    let (points, method_grid) = match (&categories, inputs.ranges[feature]) {
        (Some(names), _) if !names.is_empty() => {
            let n = names.len().min(MAX_CATEGORIES);
            (
                (0..n).map(|c| c as f64).collect::<Vec<_>>(),
                format!("each of its {n} categories"),
            )
        }
        (_, Some((lo, hi))) => {
            let g = grid.clamp(2, MAX_GRID);
            let step = (hi - lo) / (g - 1) as f64;
            (
                (0..g).map(|i| lo + step * i as f64).collect(),
                format!("{g} evenly spaced values over the range the data holds"),
            )
        }
        _ => {
            return Err(ReadError::Invalid(format!(
                "{} has no values in the data to build a grid from",
                model.feature_name(feature)
            )));
        }
    };
    // The rows with the smallest seeded hashes of their index, as the summary samples, so the
    // answer names them.
    let rows = sample_rows([(0, inputs.rows)].into_iter(), ICE_ROWS);
    let mut sample: Vec<Vec<f64>> = Vec::with_capacity(rows.len());
    inputs
        .data
        .visit_rows(model, &rows, |_, v| sample.push(v.to_vec()))?;
    let mut ice = Vec::with_capacity(sample.len());
    let mut margin = vec![0.0; model.num_outputs];
    for mut row in sample {
        let line = points
            .iter()
            .map(|&v| {
                row[feature] = v;
                match inputs.output {
                    Output::Raw => {
                        model.predict_margin(&row, &mut margin);
                        margin[output]
                    }
                    Output::Probability => model.predict(&row)[output],
                }
            })
            .collect::<Vec<f64>>();
        ice.push(line);
    }
    let average = (0..points.len())
        .map(|g| ice.iter().map(|l| l[g]).sum::<f64>() / ice.len().max(1) as f64)
        .collect();
    let n = ice.len();
    Ok(PartialDependence {
        feature,
        name: model.feature_name(feature),
        output,
        grid: points,
        categories: categories.filter(|c| !c.is_empty()),
        rows,
        ice,
        average,
        method: format!(
            "the model evaluated at {method_grid}, for each of {} rows sampled from the data \
             (those with the smallest seeded hashes of their index); the thick line is their \
             mean (partial dependence)",
            n
        ),
    })
}
