//! Ceilings on what one job may ask for, checked at submit with a message naming the limit and
//! the variable that raises it: a model or table too large for this deployment is refused at
//! once, not after hours of work or a worker out of memory.
//!
//! Work is estimated as rows × leaves over all trees (× background rows when interventional):
//! path-dependent TreeSHAP visits every leaf of every tree for each row. W1 (500 trees, 43
//! leaves each) runs ~8,000 rows/s per thread, ~1.7·10⁸ leaf visits a second, so the default
//! ceiling of 10¹³ is about 16 core-hours.

use crate::config::ConfigError;
use app::wire::{DataSummary, ModelSummary};

/// The ceilings (`SHAPLAB_MAX_*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub rows: u64,
    pub columns: u64,
    pub trees: u64,
    pub depth: u64,
    pub work: u64,
    /// Jobs one owner may have queued or running at once (`SHAPLAB_MAX_ACTIVE_JOBS`).
    pub active_jobs: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            rows: 100_000_000,
            columns: 20_000,
            trees: 100_000,
            depth: 256,
            work: 10_000_000_000_000,
            active_jobs: 50,
        }
    }
}

/// One refused request: which limit, how far over, and how to raise it.
pub fn over(what: &str, value: u64, limit: u64, var: &str) -> String {
    format!(
        "{what} is {value}, over this server's limit of {limit}; use a smaller model or table, \
         or ask the operator to raise {var}"
    )
}

impl Limits {
    pub fn from_lookup(lookup: &impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let d = Limits::default();
        let get = |var, default| {
            crate::config::positive_number(lookup, var, default, "a whole number, at least 1")
        };
        Ok(Limits {
            rows: get("SHAPLAB_MAX_ROWS", d.rows)?,
            columns: get("SHAPLAB_MAX_COLUMNS", d.columns)?,
            trees: get("SHAPLAB_MAX_TREES", d.trees)?,
            depth: get("SHAPLAB_MAX_DEPTH", d.depth)?,
            work: get("SHAPLAB_MAX_WORK", d.work)?,
            active_jobs: get("SHAPLAB_MAX_ACTIVE_JOBS", d.active_jobs)?,
        })
    }

    /// The first limit the job would break, as a message; `background_rows` makes it
    /// interventional (work × background rows).
    pub fn check(
        &self,
        model: &ModelSummary,
        data: &DataSummary,
        background_rows: Option<u64>,
    ) -> Result<(), String> {
        let leaves = if model.leaves > 0 {
            model.leaves as u64
        } else {
            // A record from before leaves were counted: the deepest full tree's leaves.
            (model.trees as u64).saturating_mul(1u64 << model.max_depth.min(20))
        };
        let work = data
            .rows
            .saturating_mul(leaves)
            .saturating_mul(background_rows.unwrap_or(1).max(1));
        let checks = [
            (
                "the data's row count",
                data.rows,
                self.rows,
                "SHAPLAB_MAX_ROWS",
            ),
            (
                "the data's column count",
                data.columns.len() as u64,
                self.columns,
                "SHAPLAB_MAX_COLUMNS",
            ),
            (
                "the model's tree count",
                model.trees as u64,
                self.trees,
                "SHAPLAB_MAX_TREES",
            ),
            (
                "the model's depth",
                model.max_depth as u64,
                self.depth,
                "SHAPLAB_MAX_DEPTH",
            ),
            (
                "the estimated work (rows × leaves over all trees × background rows)",
                work,
                self.work,
                "SHAPLAB_MAX_WORK",
            ),
        ];
        match checks.iter().find(|(_, value, limit, _)| value > limit) {
            Some((what, value, limit, var)) => Err(over(what, *value, *limit, var)),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn model(trees: usize, depth: usize, leaves: usize) -> ModelSummary {
        ModelSummary {
            format: "XGBoost JSON".into(),
            objective: "reg:squarederror".into(),
            outputs: 1,
            trees,
            max_depth: depth,
            leaves,
            features: 2,
            feature_names: None,
            notes: Vec::new(),
            categorical: Vec::new(),
            covers: "model".into(),
        }
    }

    fn data(rows: u64, columns: usize) -> DataSummary {
        serde_json::from_value(serde_json::json!({
            "rows": rows,
            "columns": (0..columns).map(|j| format!("c{j}")).collect::<Vec<_>>(),
            "missing_cells": 0,
        }))
        .unwrap()
    }

    #[test]
    fn each_limit_names_itself_and_its_variable() {
        let limits = Limits {
            rows: 1_000,
            columns: 10,
            trees: 100,
            depth: 8,
            work: 1_000_000,
            active_jobs: 5,
        };
        assert!(
            limits
                .check(&model(100, 8, 1_000), &data(1_000, 10), None)
                .is_ok()
        );
        let refused = |m, d, bg| limits.check(&m, &d, bg).unwrap_err();
        assert!(refused(model(1, 1, 2), data(1_001, 2), None).contains("SHAPLAB_MAX_ROWS"));
        assert!(refused(model(1, 1, 2), data(5, 11), None).contains("SHAPLAB_MAX_COLUMNS"));
        assert!(refused(model(101, 1, 2), data(5, 2), None).contains("SHAPLAB_MAX_TREES"));
        assert!(refused(model(1, 9, 2), data(5, 2), None).contains("SHAPLAB_MAX_DEPTH"));
        let work = refused(model(10, 3, 80), data(1_000, 2), Some(100));
        assert!(
            work.contains("SHAPLAB_MAX_WORK") && work.contains("8000000"),
            "{work}"
        );
    }

    #[test]
    fn settings_are_read_and_bad_ones_named() {
        let l =
            Limits::from_lookup(&|v: &str| (v == "SHAPLAB_MAX_ROWS").then(|| "42".into())).unwrap();
        assert_eq!((l.rows, l.trees), (42, Limits::default().trees));
        let e = Limits::from_lookup(&|v: &str| (v == "SHAPLAB_MAX_WORK").then(|| "lots".into()));
        assert_eq!(e.unwrap_err().var, "SHAPLAB_MAX_WORK");
    }
}
