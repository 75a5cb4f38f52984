//! The golden harness: the engine against values the real libraries computed, read from the
//! manifests scripts/gen_fixtures.py writes — `fixtures/manifest.json` for the numeric
//! XGBoost/LightGBM suite, `fixtures/manifest-<family>.json` for every other family. The
//! checks all families run (values, margins, predictions, interactions, interventional
//! values) live here once; each family's binary adds the checks only it has.
//!
//! Tolerance: 1e-5 × the reference's scale (its largest |value|, at least 1). XGBoost and
//! onnxruntime compute in float32 (~1e-7 relative rounding per tree); the engine, CatBoost
//! and scikit-learn in f64, where the real differences are ~1e-14.

use super::files::{fixtures, read_rows};
use super::reference::{compare, read_matrix, sums_and_margins};
use serde_json::Value;
use shaplab::{Background, Ensemble, Link, Matrix, Output};
use std::path::{Path, PathBuf};

/// Relative tolerance of every golden comparison (see the module notes).
pub const TOLERANCE: f64 = 1e-5;

/// One manifest: its cases, and the files it says a loader must refuse.
pub struct Manifest {
    root: PathBuf,
    json: Value,
}

impl Manifest {
    /// `fixtures/manifest-<family>.json`.
    pub fn family(family: &str) -> Self {
        Self::read(fixtures(), &format!("manifest-{family}.json"))
    }

    /// The manifest `file` in `root`, the directory its cases' directories are in.
    pub fn read(root: PathBuf, file: &str) -> Self {
        let path = root.join(file);
        let text =
            std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let json = serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("{} is not JSON: {e}", path.display()));
        Manifest { root, json }
    }

    /// Every case in manifest order. An empty list fails here: a family with nothing to
    /// check must not pass.
    pub fn cases(&self) -> Vec<Case> {
        let cases: Vec<Case> = self.json["cases"]
            .as_array()
            .expect("the manifest has cases")
            .iter()
            .map(|c| Case {
                dir: self
                    .root
                    .join(c["name"].as_str().expect("every case has a name")),
                json: c.clone(),
            })
            .collect();
        assert!(!cases.is_empty(), "the manifest lists no cases");
        cases
    }

    /// The case called `name`.
    pub fn case(&self, name: &str) -> Case {
        self.cases()
            .into_iter()
            .find(|c| c.name() == name)
            .unwrap_or_else(|| panic!("the manifest has no case {name}"))
    }

    /// The files listed under "refusals"; none fails, for the same reason as [`cases`].
    ///
    /// [`cases`]: Manifest::cases
    pub fn refusals(&self) -> Vec<PathBuf> {
        let files: Vec<PathBuf> = self.json["refusals"]
            .as_array()
            .expect("the manifest has refusals")
            .iter()
            .map(|r| {
                self.root
                    .join(r["file"].as_str().expect("a refusal names its file"))
            })
            .collect();
        assert!(!files.is_empty(), "the manifest lists no refusals");
        files
    }
}

/// One case of a manifest, kept as JSON: the families' cases carry different fields, and a
/// check reads the ones it needs.
pub struct Case {
    pub dir: PathBuf,
    pub json: Value,
}

impl Case {
    pub fn name(&self) -> &str {
        self.json["name"].as_str().unwrap_or("?")
    }

    /// Whether the manifest gives the case `key` (a reference file only some cases have).
    pub fn has(&self, key: &str) -> bool {
        self.json.get(key).is_some_and(|v| !v.is_null())
    }

    /// The case's file for `key`: the name the manifest gives, else `<key>.csv`, the name the
    /// numeric suite's generator gives every file (data, contribs, margin, prediction, …).
    pub fn file(&self, key: &str) -> PathBuf {
        match self.json[key].as_str() {
            Some(name) => self.dir.join(name),
            None => self.dir.join(format!("{key}.csv")),
        }
    }

    /// The case's model files, the main one first; a manifest that lists none (one written
    /// by hand while developing) has only model.json.
    pub fn model_files(&self) -> Vec<String> {
        match self.json["models"].as_array() {
            Some(files) => files
                .iter()
                .filter_map(|m| m.as_str().map(String::from))
                .collect(),
            None => vec!["model.json".into()],
        }
    }

    pub fn model(&self, file: &str) -> Result<Ensemble, String> {
        Ensemble::from_path(&self.dir.join(file))
            .map_err(|e| format!("{}/{file}: {e}", self.name()))
    }

    pub fn first_model(&self) -> Result<Ensemble, String> {
        let files = self.model_files();
        self.model(
            files
                .first()
                .ok_or(format!("{}: no model files", self.name()))?,
        )
    }

    /// The rows of the case's data file for `key` ("data", "background", …).
    pub fn rows(&self, key: &str, model: &Ensemble) -> Result<Matrix, String> {
        read_rows(&self.file(key), model)
    }

    /// The interventional references as (output, file): the numeric suite lists outputs and
    /// names the file `interventional_<output>.csv`, the family manifests map output → file.
    pub fn interventional(&self) -> Vec<(String, PathBuf)> {
        match &self.json["interventional"] {
            Value::Array(outputs) => outputs
                .iter()
                .filter_map(Value::as_str)
                .map(|o| {
                    (
                        o.to_string(),
                        self.dir.join(format!("interventional_{o}.csv")),
                    )
                })
                .collect(),
            Value::Object(files) => files
                .iter()
                .filter_map(|(o, f)| Some((o.clone(), self.dir.join(f.as_str()?))))
                .collect(),
            _ => Vec::new(),
        }
    }
}

/// Runs `check` on every case and fails once, listing every case that failed: one run shows
/// the whole family's state, not just its first miss.
pub fn run_all(cases: &[Case], check: impl Fn(&Case) -> Result<(), String>) {
    let failures: Vec<String> = cases.iter().filter_map(|c| check(c).err()).collect();
    assert!(
        failures.is_empty(),
        "{} of {} case(s) failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}

/// `check` on each model file of the case (labelled `case/file`), so the same model saved in
/// several formats is held to the same reference; every file is checked even after a miss.
pub fn every_model(
    case: &Case,
    check: impl Fn(&Case, &str, &Ensemble) -> Result<(), String>,
) -> Result<(), String> {
    let files = case.model_files();
    if files.is_empty() {
        return Err(format!("{}: no model files", case.name()));
    }
    let failures: Vec<String> = files
        .iter()
        .filter_map(|file| {
            let label = format!("{}/{file}", case.name());
            case.model(file)
                .and_then(|model| check(case, &label, &model))
                .err()
        })
        .collect();
    if failures.is_empty() {
        Ok(())
    } else {
        Err(failures.join("\n"))
    }
}

/// `check` on the case's main model, labelled with the case's name.
pub fn first_model(
    case: &Case,
    check: impl Fn(&Case, &str, &Ensemble) -> Result<(), String>,
) -> Result<(), String> {
    check(case, case.name(), &case.first_model()?)
}

/// `ours` against the reference matrix in `reference`. Prints the worst difference, so a
/// passing run (with --nocapture) still shows how close each case came.
pub fn check(label: &str, ours: &[f64], reference: &Path) -> Result<(), String> {
    let worst = compare(label, ours, &read_matrix(reference), TOLERANCE)?;
    println!("{label}: worst |diff| {worst:e}");
    Ok(())
}

/// Path-dependent values of `rows` against the reference contributions in `contribs`.
pub fn shap_against(
    label: &str,
    model: &Ensemble,
    rows: &Matrix,
    contribs: &Path,
) -> Result<(), String> {
    let ex = shaplab::shap_values(model, rows).map_err(|e| format!("{label}: {e}"))?;
    check(label, &ex.values, contribs)
}

/// The case's data explained path-dependently against its contributions.
pub fn path_dependent(case: &Case, label: &str, model: &Ensemble) -> Result<(), String> {
    let rows = case.rows("data", model)?;
    shap_against(label, model, &rows, &case.file("contribs"))
}

/// Σφ + base against the library's raw margin. Each sum must first equal the engine's own
/// margin to f64 rounding (1e-9 relative): additivity is exact, so a gap there is a bug in
/// the explainer, whatever the library says.
pub fn margin(case: &Case, label: &str, model: &Ensemble) -> Result<(), String> {
    let rows = case.rows("data", model)?;
    let ex = shaplab::shap_values(model, &rows).map_err(|e| format!("{label}: {e}"))?;
    let mut sums = Vec::new();
    for s in sums_and_margins(model, &rows, &ex) {
        if (s.sum - s.margin).abs() > 1e-9 * (1.0 + s.sum.abs()) {
            return Err(format!(
                "{label}: row {} output {}: Σφ+base {} vs margin {}",
                s.row, s.output, s.sum, s.margin
            ));
        }
        sums.push(s.sum);
    }
    check(&format!("{label} margin"), &sums, &case.file("margin"))
}

/// The model's predictions (through its link) against the library's predict or
/// predict_proba. A binary classifier's one logistic output is P(class 1); where the
/// reference also lists P(class 0), ours is laid out the same way, [1 − p, p].
pub fn prediction(case: &Case, label: &str, model: &Ensemble) -> Result<(), String> {
    let rows = case.rows("data", model)?;
    let reference = case.file("prediction");
    let two_columns = read_matrix(&reference)
        .first()
        .is_some_and(|row| row.len() == 2);
    let both = model.num_outputs == 1 && two_columns && matches!(model.link, Link::Logistic { .. });
    let ours: Vec<f64> = (0..rows.rows)
        .flat_map(|r| {
            let p = model.predict(rows.row(r));
            if both { vec![1.0 - p[0], p[0]] } else { p }
        })
        .collect();
    check(&format!("{label} prediction"), &ours, &reference)
}

/// Interaction values against the case's reference, for the cases that have one.
pub fn interactions(case: &Case) -> Result<(), String> {
    if !case.has("interactions") {
        return Ok(());
    }
    let model = case.first_model()?;
    let rows = case.rows("data", &model)?;
    let ours =
        shaplab::interaction_values(&model, &rows).map_err(|e| format!("{}: {e}", case.name()))?;
    check(
        &format!("{} interactions", case.name()),
        &ours,
        &case.file("interactions"),
    )
}

/// Interventional values over the case's background against each reference it lists.
pub fn interventional(case: &Case) -> Result<(), String> {
    for (output, reference) in case.interventional() {
        let label = format!("{} interventional {output}", case.name());
        let kind = match output.as_str() {
            "raw" => Output::Raw,
            "probability" => Output::Probability,
            other => return Err(format!("{label}: unknown output {other:?}")),
        };
        let model = case.first_model()?;
        let rows = case.rows("data", &model)?;
        let background = Background::new(&model, case.rows("background", &model)?)
            .map_err(|e| format!("{label}: {e}"))?;
        let ex = shaplab::interventional_values(&model, &rows, &background, kind)
            .map_err(|e| format!("{label}: {e}"))?;
        check(&label, &ex.values, &reference)?;
    }
    Ok(())
}
