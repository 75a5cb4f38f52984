//! Cohorts: a filter on a job's rows that every view can apply (`?cohort=` on the summary,
//! the ranking and the cohort comparison), so an analyst can ask "why does the model say what
//! it says for customers over 60 in Paris".
//!
//! The expression is conditions joined by `;`, all of which must hold (AND):
//! - `age>=60`, `income<20000`, `tenure=3` — a numeric feature against a number
//!   (`>`, `>=`, `<`, `<=`, `=`, `!=`); a missing value satisfies no comparison;
//! - `city=paris|lima`, `city!=paris` — a categorical feature against category names (or
//!   codes), any of them;
//! - `age=missing`, `age!=missing`;
//! - `prediction>0.5` — base value + ΣSHAP of output 0 (the job's own scale), `prediction@2`
//!   for output 2;
//! - `shap(age)>0.1` — one feature's SHAP value (of output 0, or `shap(age)@2`).
//!
//! Parsing checks every name against the model, so a typo is a 422 naming it rather than an
//! empty cohort. Why text rather than JSON: it lives in the page's URL, where a copied link
//! must reopen the same cohort and a person can read and edit it.

use super::read::ReadError;
use shaplab::Ensemble;
use shaplab::cells::CellReader;

/// Most conditions in one cohort (a URL is no place for a query language).
const MAX_CONDITIONS: usize = 20;

#[derive(Debug, Clone, Copy, PartialEq)]
enum Op {
    Lt,
    Le,
    Gt,
    Ge,
    Eq,
    Ne,
}

impl Op {
    /// The operators, two-character ones first so `>=` is not read as `>`.
    const ALL: [(&'static str, Op); 6] = [
        (">=", Op::Ge),
        ("<=", Op::Le),
        ("!=", Op::Ne),
        (">", Op::Gt),
        ("<", Op::Lt),
        ("=", Op::Eq),
    ];

    fn holds(self, x: f64, y: f64) -> bool {
        match self {
            Op::Lt => x < y,
            Op::Le => x <= y,
            Op::Gt => x > y,
            Op::Ge => x >= y,
            Op::Eq => x == y,
            Op::Ne => x != y,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Target {
    Value(usize),
    Shap { feature: usize, output: usize },
    Prediction(usize),
}

#[derive(Debug, Clone, PartialEq)]
enum Test {
    Compare(Op, f64),
    /// The value is one of these codes (`negate`: none of them).
    OneOf {
        codes: Vec<f64>,
        negate: bool,
    },
    Missing {
        negate: bool,
    },
}

#[derive(Debug, Clone, PartialEq)]
struct Condition {
    target: Target,
    test: Test,
}

/// A parsed cohort, checked against one model.
#[derive(Debug, Clone, PartialEq)]
pub struct Cohort {
    /// The expression as given, conditions trimmed and joined by `; `.
    pub expression: String,
    conditions: Vec<Condition>,
    features: usize,
}

impl Cohort {
    /// Parses `text` against `model`. An empty expression is `Ok(None)`: every row.
    pub fn parse(text: &str, model: &Ensemble) -> Result<Option<Cohort>, ReadError> {
        let parts: Vec<&str> = text
            .split(';')
            .map(str::trim)
            .filter(|p| !p.is_empty())
            .collect();
        if parts.is_empty() {
            return Ok(None);
        }
        if parts.len() > MAX_CONDITIONS {
            return Err(ReadError::Invalid(format!(
                "the cohort has {} conditions; at most {MAX_CONDITIONS} are allowed",
                parts.len()
            )));
        }
        let names: Vec<String> = (0..model.num_features)
            .map(|j| model.feature_name(j))
            .collect();
        let conditions = parts
            .iter()
            .map(|p| condition(p, model, &names))
            .collect::<Result<_, _>>()?;
        Ok(Some(Cohort {
            expression: parts.join("; "),
            conditions,
            features: model.num_features,
        }))
    }

    /// Whether a condition reads feature values (then the data file is streamed too).
    pub fn needs_values(&self) -> bool {
        self.conditions
            .iter()
            .any(|c| matches!(c.target, Target::Value(_)))
    }

    /// Whether a row belongs: `values` in model feature order (`None` when
    /// [`Cohort::needs_values`] is false), `line` its SHAP line (per output the features'
    /// values, then the base value).
    pub fn matches(&self, values: Option<&[f64]>, line: &[f64]) -> bool {
        let f1 = self.features + 1;
        self.conditions.iter().all(|c| {
            let x = match c.target {
                Target::Value(j) => values.and_then(|v| v.get(j)).copied().unwrap_or(f64::NAN),
                Target::Shap { feature, output } => {
                    line.get(output * f1 + feature).copied().unwrap_or(f64::NAN)
                }
                Target::Prediction(k) => line
                    .get(k * f1..(k + 1) * f1)
                    .map_or(f64::NAN, |part| part.iter().sum()),
            };
            match &c.test {
                Test::Compare(op, y) => !x.is_nan() && op.holds(x, *y),
                Test::OneOf { codes, negate } => codes.contains(&x) != *negate,
                Test::Missing { negate } => x.is_nan() != *negate,
            }
        })
    }
}

/// One condition, e.g. `shap(age)@1>=0.2`.
fn condition(text: &str, model: &Ensemble, names: &[String]) -> Result<Condition, ReadError> {
    let bad = |why: String| ReadError::Invalid(format!("cohort condition {text:?}: {why}"));
    // The first operator in the text (two-character ones win at the same place).
    let (at, sym, op) = Op::ALL
        .iter()
        .filter_map(|&(sym, op)| text.find(sym).map(|at| (at, sym, op)))
        .min_by_key(|&(at, sym, _)| (at, std::cmp::Reverse(sym.len())))
        .ok_or_else(|| bad("no comparison; write e.g. age>=60 or city=paris".into()))?;
    let (lhs, rhs) = (text[..at].trim(), text[at + sym.len()..].trim());
    if rhs.is_empty() {
        return Err(bad("nothing to compare with".into()));
    }
    let (lhs, output) = match lhs.rsplit_once('@') {
        Some((l, k)) if k.trim().parse::<usize>().is_ok() => {
            (l.trim(), k.trim().parse::<usize>().unwrap_or(0))
        }
        _ => (lhs, 0),
    };
    if output >= model.num_outputs {
        return Err(bad(format!(
            "output {output} is out of range: the model has {} output(s)",
            model.num_outputs
        )));
    }
    let feature = |name: &str| {
        names.iter().position(|n| n == name).ok_or_else(|| {
            bad(format!(
                "the model has no feature {name:?}; its features are {}",
                names.join(", ")
            ))
        })
    };
    let number = |what: &str| {
        rhs.parse::<f64>()
            .ok()
            .filter(|v| v.is_finite())
            .ok_or_else(|| {
                bad(format!(
                    "{rhs:?} is not a number ({what} compares with numbers)"
                ))
            })
    };
    let target = if lhs == "prediction" {
        Target::Prediction(output)
    } else if let Some(name) = lhs.strip_prefix("shap(").and_then(|r| r.strip_suffix(')')) {
        Target::Shap {
            feature: feature(name.trim())?,
            output,
        }
    } else {
        Target::Value(feature(lhs)?)
    };
    let test = match (&target, op, rhs) {
        (Target::Value(_), Op::Eq | Op::Ne, "missing") => Test::Missing {
            negate: op == Op::Ne,
        },
        (Target::Value(j), _, _) if model.categories_of(*j).is_some() => {
            if !matches!(op, Op::Eq | Op::Ne) {
                return Err(bad(format!(
                    "{lhs} is categorical: use = or != with category names, e.g. {lhs}=a|b"
                )));
            }
            let reader = CellReader::new(model.categories_of(*j));
            let codes = rhs
                .split('|')
                .map(|name| {
                    let name = name.trim();
                    reader
                        .code_of(name)
                        .or_else(|| name.parse::<f64>().ok().filter(|v| v.fract() == 0.0))
                        .ok_or_else(|| bad(format!("{lhs} has no category {name:?}")))
                })
                .collect::<Result<_, _>>()?;
            Test::OneOf {
                codes,
                negate: op == Op::Ne,
            }
        }
        (Target::Value(_), _, _) => Test::Compare(op, number("a numeric feature")?),
        (_, _, _) => Test::Compare(op, number("a prediction or SHAP value")?),
    };
    Ok(Condition { target, test })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn model() -> Ensemble {
        // Features age, sex, bmi, bp, s1..s6 (the diabetes regression fixture).
        Ensemble::from_bytes(include_bytes!("../../../fixtures/xgb_reg_d3/model.json"))
            .expect("fixture model parses")
    }

    fn line(shap: &[f64], base: f64) -> Vec<f64> {
        let mut l = shap.to_vec();
        l.push(base);
        l
    }

    #[test]
    fn conditions_on_values_predictions_and_shap_must_all_hold() {
        let m = model();
        let c = Cohort::parse(" age>=0.01 ;prediction<200; shap(bmi)>0 ", &m)
            .expect("parses")
            .expect("a cohort");
        assert_eq!(c.expression, "age>=0.01; prediction<200; shap(bmi)>0");
        assert!(c.needs_values());
        let mut shap = vec![0.0; 10];
        shap[2] = 5.0; // bmi
        let mut values = vec![0.0; 10];
        values[0] = 0.02;
        // prediction = 150 + 5 = 155 < 200.
        assert!(c.matches(Some(&values), &line(&shap, 150.0)));
        assert!(
            !c.matches(Some(&values), &line(&shap, 196.0)),
            "prediction 201"
        );
        values[0] = f64::NAN;
        assert!(
            !c.matches(Some(&values), &line(&shap, 150.0)),
            "missing age"
        );
        let missing = Cohort::parse("age=missing", &m).unwrap().unwrap();
        assert!(missing.matches(Some(&values), &line(&shap, 150.0)));
    }

    #[test]
    fn an_empty_cohort_is_every_row_and_mistakes_are_named() {
        let m = model();
        assert_eq!(Cohort::parse(" ; ", &m).unwrap(), None);
        let err = |t: &str| Cohort::parse(t, &m).unwrap_err().to_string();
        assert!(err("height>1").contains("no feature \"height\""));
        assert!(err("age>old").contains("\"old\" is not a number"));
        assert!(err("age").contains("no comparison"));
        assert!(err("prediction@3>1").contains("output 3 is out of range"));
        assert!(err("shap(nope)>1").contains("no feature \"nope\""));
    }
}
