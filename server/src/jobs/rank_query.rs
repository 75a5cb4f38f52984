//! The query of a ranking (`GET /api/jobs/{id}/ranked?by=…&feature=…&output=…&order=…&limit=…`),
//! parsed into a [`RankQuery`] before anything is read. What can only be checked against the
//! model (the feature and output ranges) is checked by [`super::ranked`].

use super::read::ReadError;

/// Rows returned when `limit` is not given.
pub const DEFAULT_LIMIT: usize = 20;
/// Most rows one ranking returns (a larger `limit` is cut to this).
pub const MAX_LIMIT: usize = 200;

/// What a row is ranked by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RankBy {
    Prediction,
    Shap,
}

/// Largest first, or smallest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Order {
    Desc,
    Asc,
}

/// A feature as the query names it: its index, or its name (resolved against the model).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FeatureRef {
    Index(usize),
    Name(String),
}

/// A ranking request, parsed from the query string (ranges are checked against the model).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RankQuery {
    pub by: RankBy,
    /// Required when `by` is `Shap`; with `Prediction` each row also carries its SHAP value.
    pub feature: Option<FeatureRef>,
    pub output: usize,
    pub order: Order,
    pub limit: usize,
    /// Only rows of this cohort are ranked (conditions, see [`super::cohort`]; empty: all).
    pub cohort: String,
}

impl RankQuery {
    /// Parses `by`, `feature`, `output`, `order`, `limit` and `cohort` from `key=value` pairs (already
    /// percent-decoded). Unknown or repeated parameters are refused rather than ignored: a
    /// typo such as `oder=asc` must not silently give the default ranking.
    pub fn parse<'a>(
        pairs: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Result<Self, ReadError> {
        let invalid = |m: String| ReadError::Invalid(m);
        let mut seen: Vec<&str> = Vec::new();
        let mut query = RankQuery {
            by: RankBy::Prediction,
            feature: None,
            output: 0,
            order: Order::Desc,
            limit: DEFAULT_LIMIT,
            cohort: String::new(),
        };
        for (key, value) in pairs {
            if seen.contains(&key) {
                return Err(invalid(format!("`{key}` is given more than once")));
            }
            seen.push(key);
            let value = value.trim();
            match key {
                "by" => {
                    query.by = match value {
                        "prediction" => RankBy::Prediction,
                        "shap" => RankBy::Shap,
                        other => {
                            return Err(invalid(format!(
                                "by={other:?}: rank by `prediction` or `shap`"
                            )));
                        }
                    }
                }
                "order" => {
                    query.order = match value {
                        "desc" => Order::Desc,
                        "asc" => Order::Asc,
                        other => {
                            return Err(invalid(format!(
                                "order={other:?}: use `desc` (largest first) or `asc`"
                            )));
                        }
                    }
                }
                "output" => {
                    query.output = value.parse().map_err(|_| {
                        invalid(format!(
                            "output={value:?}: an output index (0 for regression and binary \
                             models, 0 to classes − 1 for multiclass)"
                        ))
                    })?
                }
                "limit" => {
                    let n: usize = value.parse().map_err(|_| {
                        invalid(format!(
                            "limit={value:?}: a whole number of rows from 1 to {MAX_LIMIT}"
                        ))
                    })?;
                    if n == 0 {
                        return Err(invalid(format!(
                            "limit=0: ask for at least one row (at most {MAX_LIMIT})"
                        )));
                    }
                    query.limit = n.min(MAX_LIMIT);
                }
                "cohort" => query.cohort = value.to_owned(),
                "feature" => {
                    if value.is_empty() {
                        return Err(invalid(
                            "feature is empty: give a feature's index or name".into(),
                        ));
                    }
                    query.feature = Some(match value.parse() {
                        Ok(j) => FeatureRef::Index(j),
                        Err(_) => FeatureRef::Name(value.to_owned()),
                    });
                }
                other => {
                    return Err(invalid(format!(
                        "unknown parameter `{other}`; the ranking takes by, feature, output, \
                         order and limit"
                    )));
                }
            }
        }
        if query.by == RankBy::Shap && query.feature.is_none() {
            return Err(invalid(
                "by=shap ranks one feature's SHAP values: add feature=<index or name>".into(),
            ));
        }
        Ok(query)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(q: &[(&str, &str)]) -> Result<RankQuery, ReadError> {
        RankQuery::parse(q.iter().copied())
    }

    #[test]
    fn an_empty_query_ranks_the_top_twenty_predictions_of_output_zero() {
        let q = parse(&[]).expect("defaults");
        assert_eq!(
            q,
            RankQuery {
                by: RankBy::Prediction,
                feature: None,
                output: 0,
                order: Order::Desc,
                limit: DEFAULT_LIMIT,
                cohort: String::new(),
            }
        );
        let q = parse(&[("limit", "5000"), ("feature", "age"), ("by", "shap")]).expect("valid");
        assert_eq!(q.limit, MAX_LIMIT);
        assert_eq!(q.feature, Some(FeatureRef::Name("age".into())));
    }

    #[test]
    fn bad_parameters_are_refused_with_a_reason() {
        for bad in [
            &[("by", "size")][..],
            &[("order", "up")],
            &[("limit", "0")],
            &[("limit", "-3")],
            &[("output", "first")],
            &[("by", "shap")],
            &[("oder", "asc")],
            &[("limit", "3"), ("limit", "4")],
        ] {
            assert!(
                matches!(parse(bad), Err(ReadError::Invalid(_))),
                "{bad:?} was accepted"
            );
        }
    }
}
