//! The reference algorithm for interaction values, kept as the oracle the fast one
//! (`explain/pairs`) is tested against: classic TreeSHAP rerun with each feature a tree splits
//! on fixed on and fixed off (as shap's C++ does; XGBoost reruns every column).
//!
//! Off-diagonal (i, j) is half the difference of feature j's SHAP value with feature i fixed on
//! and fixed off; the diagonal makes each matrix row sum to feature i's SHAP value.

use super::path::{Condition, PathScratch, tree_shap};
use super::{check_shape, shap_values};
use crate::data::Matrix;
use crate::error::Result;
use crate::model::Ensemble;
use rayon::prelude::*;

/// Interaction values for a block of rows: rows × outputs × (F+1)², by the classic algorithm
/// (about 250× slower than [`super::interaction_values`]; for tests and cross-checks).
pub fn classic_interaction_values(model: &Ensemble, rows: &Matrix) -> Result<Vec<f64>> {
    check_shape(model, rows)?;
    let phi = shap_values(model, rows)?;
    let f = model.num_features;
    let f1 = f + 1;
    let k = model.num_outputs;
    let stride = k * f1 * f1;
    let used: Vec<Vec<usize>> = model.trees.iter().map(|t| t.used_features()).collect();
    let mut out = vec![0.0; rows.rows * stride];
    out.par_chunks_mut(stride.max(1)).enumerate().for_each_init(
        || (PathScratch::default(), vec![0.0; f], vec![0.0; f]),
        |(scratch, on, off), (r, inter)| {
            let row = rows.row(r);
            for ((tree, &o), feats) in model.trees.iter().zip(&model.tree_output).zip(&used) {
                let m = &mut inter[o * f1 * f1..(o + 1) * f1 * f1];
                for &i in feats {
                    for &j in feats {
                        on[j] = 0.0;
                        off[j] = 0.0;
                    }
                    tree_shap(tree, row, on, Condition::On(i), scratch);
                    tree_shap(tree, row, off, Condition::Excluded(i), scratch);
                    for &j in feats {
                        if j != i {
                            m[i * f1 + j] += (on[j] - off[j]) / 2.0;
                        }
                    }
                }
            }
            for o in 0..k {
                let m = &mut inter[o * f1 * f1..(o + 1) * f1 * f1];
                let p = phi.block(r, o);
                for i in 0..f {
                    let off_diag: f64 = (0..f).filter(|&j| j != i).map(|j| m[i * f1 + j]).sum();
                    m[i * f1 + i] = p[i] - off_diag;
                }
                m[f * f1 + f] = p[f];
            }
        },
    );
    Ok(out)
}
