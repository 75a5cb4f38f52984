//! Cohorts through the service: `GET /api/jobs/{id}/summary?cohort=…` aggregates only the
//! cohort's rows (checked against the CLI's SHAP values filtered here by the data's own
//! cells), categorical cohorts by name, cohorts on predictions and SHAP values, the cohort
//! comparison with its bootstrap intervals, and bad cohorts refused naming the mistake.

mod support;

use reqwest::StatusCode;
use serde_json::{Value, json};
use support::backend::Backend;
use support::jobs::{app, cli_rows, fixture_job, get_json};
use support::{TestApp, fixture};

/// The data file's cells by column name, row by row.
fn cells(dir: &str) -> (Vec<String>, Vec<Vec<String>>) {
    let text = std::fs::read_to_string(fixture(&format!("{dir}/data.csv"))).unwrap();
    let mut lines = text.lines();
    let header = lines
        .next()
        .unwrap()
        .split(',')
        .map(str::to_owned)
        .collect();
    let rows = lines
        .map(|l| l.split(',').map(str::to_owned).collect())
        .collect();
    (header, rows)
}

/// Mean |SHAP| per feature (output 0) of the CLI's rows that `keep` accepts, and their count.
fn mean_abs(rows: &[Vec<f64>], keep: impl Fn(usize, &[f64]) -> bool) -> (Vec<f64>, u64) {
    let kept: Vec<&Vec<f64>> = rows
        .iter()
        .enumerate()
        .filter(|(i, r)| keep(*i, r))
        .map(|(_, r)| r)
        .collect();
    let f = rows[0].len() - 1;
    let n = kept.len() as f64;
    let means = (0..f)
        .map(|j| kept.iter().map(|r| r[j].abs()).sum::<f64>() / n)
        .collect();
    (means, kept.len() as u64)
}

fn assert_means(got: &Value, want: &[f64], what: &str) {
    let got: Vec<f64> = got
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_f64().unwrap())
        .collect();
    assert_eq!(got.len(), want.len(), "{what}");
    for (j, (g, w)) in got.iter().zip(want).enumerate() {
        assert!(
            (g - w).abs() <= 1e-9 * (1.0 + w.abs()),
            "{what}: feature {j}: {g} vs {w}"
        );
    }
}

/// Whether row `i` (with its CLI SHAP line) belongs to a cohort, decided from the files.
type Keep<'a> = Box<dyn Fn(usize, &[f64]) -> bool + 'a>;

async fn summary(app: &TestApp, id: &str, cohort: &str) -> (StatusCode, Value) {
    let query: String = url::form_urlencoded::byte_serialize(cohort.as_bytes()).collect();
    get_json(app, &format!("/api/jobs/{id}/summary?cohort={query}")).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cohort_summary_aggregates_only_its_rows_by_value_prediction_and_shap() {
    let redis = Backend::start();
    let app = app(&redis, 25, 2).await;
    let id = fixture_job(&app, "xgb_reg_d3", "model.json", json!({})).await;
    let cli = cli_rows(
        &fixture("xgb_reg_d3/model.json"),
        &fixture("xgb_reg_d3/data.csv"),
    )
    .await;
    let (header, data) = cells("xgb_reg_d3");
    let age = header.iter().position(|h| h == "age").unwrap();
    let bmi = header.iter().position(|h| h == "bmi").unwrap();
    let prediction = |r: &[f64]| r.iter().sum::<f64>();

    let cases: Vec<(&str, Keep)> = vec![
        (
            "age>=0",
            Box::new(|i, _| data[i][age].parse::<f64>().is_ok_and(|v| v >= 0.0)),
        ),
        ("age=missing", Box::new(|i, _| data[i][age].is_empty())),
        (
            "prediction>150; shap(bmi)>0",
            Box::new(move |_, r| prediction(r) > 150.0 && r[bmi] > 0.0),
        ),
    ];
    for (cohort, keep) in cases {
        let (status, s) = summary(&app, &id, cohort).await;
        assert_eq!(status, StatusCode::OK, "{cohort}: {s}");
        let (want, rows) = mean_abs(&cli, &keep);
        assert!(rows > 0 && rows < cli.len() as u64, "{cohort}: {rows} rows");
        assert_eq!(s["cohort"], json!({"expression": cohort, "rows": rows}));
        assert_means(&s["mean_abs_shap"][0], &want, cohort);
        let counts: u64 = s["predictions"][0]["counts"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c.as_u64().unwrap())
            .sum();
        assert_eq!(
            counts, rows,
            "{cohort}: the histogram holds the cohort's rows"
        );
        // The sample is drawn from the cohort: every sampled row belongs to it.
        let sampled = s["beeswarm"]["rows"].as_array().unwrap();
        assert_eq!(sampled.len() as u64, rows.min(2_000), "{cohort}");
        for row in sampled {
            let i = row.as_u64().unwrap() as usize;
            assert!(
                keep(i, &cli[i]),
                "{cohort}: sampled row {i} is not in the cohort"
            );
        }
    }
    // Without a cohort: every row, no cohort field.
    let (_, all) = get_json(&app, &format!("/api/jobs/{id}/summary")).await;
    assert!(all.get("cohort").is_none(), "{}", all["cohort"]);
    let (want, _) = mean_abs(&cli, |_, _| true);
    assert_means(&all["mean_abs_shap"][0], &want, "all rows");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_categorical_cohort_is_named_by_its_categories() {
    let redis = Backend::start();
    let app = app(&redis, 25, 2).await;
    let id = fixture_job(&app, "lgb_cat_binary", "model.txt", json!({})).await;
    let cli = cli_rows(
        &fixture("lgb_cat_binary/model.txt"),
        &fixture("lgb_cat_binary/data.csv"),
    )
    .await;
    let (header, data) = cells("lgb_cat_binary");
    let city = header.iter().position(|h| h == "city").unwrap();
    let (status, s) = summary(&app, &id, "city=paris|lima").await;
    assert_eq!(status, StatusCode::OK, "{s}");
    let (want, rows) = mean_abs(&cli, |i, _| {
        ["paris", "lima"].contains(&data[i][city].as_str())
    });
    assert_eq!(s["cohort"]["rows"], rows);
    assert_means(&s["mean_abs_shap"][0], &want, "city=paris|lima");
    let (status, s) = summary(&app, &id, "city!=paris").await;
    assert_eq!(status, StatusCode::OK, "{s}");
    let (_, rows) = mean_abs(&cli, |i, _| data[i][city] != "paris");
    assert_eq!(s["cohort"]["rows"], rows);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_cohorts_compare_with_intervals_around_their_means() {
    let redis = Backend::start();
    let app = app(&redis, 25, 2).await;
    let id = fixture_job(&app, "xgb_reg_d3", "model.json", json!({})).await;
    let cli = cli_rows(
        &fixture("xgb_reg_d3/model.json"),
        &fixture("xgb_reg_d3/data.csv"),
    )
    .await;
    let (header, data) = cells("xgb_reg_d3");
    let sex = header.iter().position(|h| h == "sex").unwrap();
    let value = |i: usize| data[i][sex].parse::<f64>().ok();
    let (status, c) = get_json(&app, &format!("/api/jobs/{id}/cohorts?a=sex%3E0&b=sex%3C0")).await;
    assert_eq!(status, StatusCode::OK, "{c}");
    for (side, keep) in [("a", 1.0), ("b", -1.0)] {
        let (want, rows) = mean_abs(&cli, |i, _| value(i).is_some_and(|v| v * keep > 0.0));
        assert_eq!(c[side]["rows"], rows, "{side}");
        assert_means(&c[side]["mean_abs"][0], &want, side);
        for j in 0..want.len() {
            let (lo, hi) = (
                c[side]["low"][0][j].as_f64().unwrap(),
                c[side]["high"][0][j].as_f64().unwrap(),
            );
            assert!(
                lo <= want[j] + 1e-12 && want[j] <= hi + 1e-12,
                "{side} {j}: {lo} {} {hi}",
                want[j]
            );
        }
    }
    assert_eq!(c["a"]["expression"], "sex>0");
    // b left out: every row.
    let (_, c) = get_json(&app, &format!("/api/jobs/{id}/cohorts?a=sex%3E0")).await;
    assert_eq!(c["b"]["rows"], cli.len() as u64);
    assert_eq!(c["b"]["expression"], "");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_cohort_is_refused_naming_the_mistake() {
    let redis = Backend::start();
    let app = app(&redis, 25, 2).await;
    let id = fixture_job(&app, "lgb_cat_binary", "model.txt", json!({})).await;
    for (cohort, words) in [
        ("height>1", "no feature \"height\""),
        ("city>paris", "city is categorical: use = or !="),
        ("city=atlantis", "city has no category \"atlantis\""),
        ("prediction>high", "\"high\" is not a number"),
    ] {
        let (status, e) = summary(&app, &id, cohort).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{cohort}: {e}");
        assert_eq!(e["code"], "invalid_request");
        assert!(
            e["message"].as_str().unwrap().contains(words),
            "{cohort}: {e}"
        );
    }
    let (status, e) = get_json(&app, &format!("/api/jobs/{id}/summary?colour=1")).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{e}");
    let (status, e) = get_json(&app, &format!("/api/jobs/{id}/cohorts?a=height%3E1")).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{e}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_ranking_within_a_cohort_holds_only_its_rows_best_first() {
    let redis = Backend::start();
    let app = app(&redis, 25, 2).await;
    let id = fixture_job(&app, "lgb_cat_binary", "model.txt", json!({})).await;
    let cli = cli_rows(
        &fixture("lgb_cat_binary/model.txt"),
        &fixture("lgb_cat_binary/data.csv"),
    )
    .await;
    let (header, data) = cells("lgb_cat_binary");
    let city = header.iter().position(|h| h == "city").unwrap();
    let mut want: Vec<(f64, usize)> = (0..cli.len())
        .filter(|&i| data[i][city] == "paris")
        .map(|i| (cli[i].iter().sum::<f64>(), i))
        .collect();
    want.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
    want.truncate(5);
    let (status, r) = get_json(
        &app,
        &format!("/api/jobs/{id}/ranked?limit=5&cohort=city%3Dparis"),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{r}");
    let rows: Vec<usize> = r["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["row"].as_u64().unwrap() as usize)
        .collect();
    assert_eq!(rows, want.iter().map(|w| w.1).collect::<Vec<_>>());
    for (x, (p, _)) in r["rows"].as_array().unwrap().iter().zip(&want) {
        assert!((x["prediction"].as_f64().unwrap() - p).abs() < 1e-9);
    }
}
