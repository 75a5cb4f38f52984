//! Feature groups (`?groups=` on the summary and the SHAP download): columns that are one
//! thing to an analyst — the one-hot siblings `color_red`, `color_blue`, … of a pandas
//! `get_dummies`, or columns the analyst names — shown as one feature whose SHAP value is the
//! sum of its members' (exact: SHAP values are additive, so a group's value is the Shapley
//! value of the coalition that moves all its members together).
//!
//! `groups=auto` finds one-hot siblings: columns whose name shares a prefix up to the last `_`
//! or `=`, that hold only 0, 1 or missing in the data's first rows, and of which at most one is
//! 1 in any row — the signature of one-hot encoding (so `mean_radius` and `mean_texture`, which
//! share a prefix but hold measurements, stay apart). `groups=size:a,b;colour:c,d` names them;
//! the two can be combined (`auto;size:a,b`). A group has no single value, so its beeswarm dots
//! are grey and it has no dependence plot.

use super::read::{DataFile, ReadError};
use shaplab::{DataRows, Ensemble};

/// Rows of the data read to recognise one-hot columns.
const AUTO_ROWS: usize = 2_000;

/// The features a grouped view shows: each is one source feature or a named group of them.
#[derive(Debug, Clone, PartialEq)]
pub struct Grouping {
    /// In the order shown: (name, source feature indices).
    pub shown: Vec<(String, Vec<usize>)>,
    /// The groups as given, for the summary (`name:a,b; …`).
    pub expression: String,
}

impl Grouping {
    /// Parses `text` against `model` (reading the data's first rows for `auto`); `Ok(None)`
    /// when it names no group.
    pub fn parse(
        text: &str,
        model: &Ensemble,
        data: Option<&DataFile>,
    ) -> Result<Option<Grouping>, ReadError> {
        let names: Vec<String> = (0..model.num_features)
            .map(|j| model.feature_name(j))
            .collect();
        let mut groups: Vec<(String, Vec<usize>)> = Vec::new();
        for part in text.split(';').map(str::trim).filter(|p| !p.is_empty()) {
            if part == "auto" {
                if let Some(data) = data {
                    groups.extend(one_hot_groups(model, &names, data)?);
                }
                continue;
            }
            let (name, members) = part.split_once(':').ok_or_else(|| {
                ReadError::Invalid(format!(
                    "group {part:?}: write name:feature,feature (or auto for one-hot siblings)"
                ))
            })?;
            let members = members
                .split(',')
                .map(str::trim)
                .filter(|m| !m.is_empty())
                .map(|m| {
                    names.iter().position(|n| n == m).ok_or_else(|| {
                        ReadError::Invalid(format!(
                            "group {name:?}: the model has no feature {m:?}"
                        ))
                    })
                })
                .collect::<Result<Vec<_>, _>>()?;
            if members.len() < 2 {
                return Err(ReadError::Invalid(format!(
                    "group {name:?} needs at least two features"
                )));
            }
            groups.push((name.trim().to_owned(), members));
        }
        // A feature belongs to one group: the first that names it.
        let mut owner: Vec<Option<usize>> = vec![None; names.len()];
        let mut kept: Vec<(String, Vec<usize>)> = Vec::new();
        for (name, members) in groups {
            if names.contains(&name) || kept.iter().any(|(n, _)| *n == name) {
                return Err(ReadError::Invalid(format!(
                    "group {name:?}: the name is already a feature or another group's"
                )));
            }
            let free: Vec<usize> = members
                .into_iter()
                .filter(|&j| owner[j].is_none())
                .collect();
            if free.len() >= 2 {
                free.iter().for_each(|&j| owner[j] = Some(kept.len()));
                kept.push((name, free));
            }
        }
        if kept.is_empty() {
            return Ok(None);
        }
        // Shown in model order, each group where its first member stands.
        let mut shown = Vec::new();
        let mut placed = vec![false; kept.len()];
        for (j, name) in names.iter().enumerate() {
            match owner[j] {
                None => shown.push((name.clone(), vec![j])),
                Some(g) if !placed[g] => {
                    placed[g] = true;
                    shown.push(kept[g].clone());
                }
                Some(_) => {}
            }
        }
        let expression = kept
            .iter()
            .map(|(n, m)| {
                let members: Vec<&str> = m.iter().map(|&j| names[j].as_str()).collect();
                format!("{n}:{}", members.join(","))
            })
            .collect::<Vec<_>>()
            .join("; ");
        Ok(Some(Grouping { shown, expression }))
    }

    pub fn len(&self) -> usize {
        self.shown.len()
    }

    pub fn is_empty(&self) -> bool {
        self.shown.is_empty()
    }

    /// A SHAP line (per output `features` values then the base) in the grouped layout.
    pub fn line(&self, line: &[f64], features: usize, outputs: usize) -> Vec<f64> {
        let mut out = Vec::with_capacity(outputs * (self.shown.len() + 1));
        for o in 0..outputs {
            let part = &line[o * (features + 1)..(o + 1) * (features + 1)];
            out.extend(
                self.shown
                    .iter()
                    .map(|(_, m)| m.iter().map(|&j| part[j]).sum::<f64>()),
            );
            out.push(part[features]);
        }
        out
    }

    /// A row's values in the grouped layout: a group has none (NaN).
    pub fn values(&self, values: &[f64]) -> Vec<f64> {
        self.shown
            .iter()
            .map(|(_, m)| match m.as_slice() {
                [j] => values[*j],
                _ => f64::NAN,
            })
            .collect()
    }

    pub fn names(&self) -> Vec<String> {
        self.shown.iter().map(|(n, _)| n.clone()).collect()
    }
}

/// One-hot siblings among the first rows of the data (see the module doc).
fn one_hot_groups(
    model: &Ensemble,
    names: &[String],
    data: &DataFile,
) -> Result<Vec<(String, Vec<usize>)>, ReadError> {
    let internal = |e: shaplab::Error| ReadError::Internal(format!("the data: {e}"));
    let mut rows = DataRows::open(&data.path, model).map_err(internal)?;
    let sample = rows.next_block(AUTO_ROWS).map_err(internal)?;
    let f = names.len();
    let binary: Vec<bool> = (0..f)
        .map(|j| {
            model.categories_of(j).is_none()
                && sample.as_ref().is_some_and(|m| {
                    (0..m.rows)
                        .all(|r| matches!(m.row(r)[j], v if v.is_nan() || v == 0.0 || v == 1.0))
                })
        })
        .collect();
    let prefix = |name: &str| name.rfind(['_', '=']).map(|at| name[..at].to_owned());
    let mut groups: Vec<(String, Vec<usize>)> = Vec::new();
    for (j, name) in names.iter().enumerate() {
        let Some(p) = prefix(name).filter(|p| !p.is_empty() && binary[j]) else {
            continue;
        };
        match groups.iter_mut().find(|(n, _)| *n == p) {
            Some((_, m)) => m.push(j),
            None => groups.push((p, vec![j])),
        }
    }
    groups.retain(|(_, members)| {
        members.len() >= 2
            && sample.as_ref().is_some_and(|m| {
                (0..m.rows).all(|r| members.iter().filter(|&&j| m.row(r)[j] == 1.0).count() <= 1)
            })
    });
    Ok(groups)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn model() -> Ensemble {
        // Features age, sex, bmi, bp, s1..s6.
        Ensemble::from_bytes(include_bytes!("../../../fixtures/xgb_reg_d3/model.json"))
            .expect("fixture model parses")
    }

    #[test]
    fn a_named_group_sums_its_members_and_stands_where_its_first_member_stood() {
        let g = Grouping::parse("body: bmi, bp ; blood:s1,s2,s3", &model(), None)
            .expect("parses")
            .expect("groups");
        assert_eq!(g.names(), ["age", "sex", "body", "blood", "s4", "s5", "s6"]);
        assert_eq!(g.expression, "body:bmi,bp; blood:s1,s2,s3");
        // One output: 10 SHAP values then the base.
        let line: Vec<f64> = (0..11).map(f64::from).collect();
        // body = bmi + bp = 2 + 3; blood = 4 + 5 + 6.
        assert_eq!(
            g.line(&line, 10, 1),
            vec![0.0, 1.0, 5.0, 15.0, 7.0, 8.0, 9.0, 10.0]
        );
        let values = g.values(&line[..10]);
        assert_eq!(values[0], 0.0);
        assert!(values[2].is_nan() && values[3].is_nan());
    }

    #[test]
    fn bad_groups_are_named() {
        let m = model();
        let err = |t: &str| Grouping::parse(t, &m, None).unwrap_err().to_string();
        assert!(err("body:bmi,height").contains("no feature \"height\""));
        assert!(err("body:bmi").contains("at least two"));
        assert!(err("age:bmi,bp").contains("already a feature"));
        assert!(err("bmi").contains("write name:feature,feature"));
        assert_eq!(Grouping::parse(" ; ", &m, None).unwrap(), None);
    }
}
