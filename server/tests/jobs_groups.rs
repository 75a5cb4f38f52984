//! Feature groups: `?groups=auto` finds pandas.get_dummies siblings (and leaves apart columns
//! that only share a prefix), a group's SHAP value is the sum of its members' — checked against
//! xgboost's own pred_contribs — in the summary and in the grouped SHAP download; named groups,
//! groups with a cohort, and bad groups refused naming the mistake.

mod support;

use reqwest::StatusCode;
use serde_json::{Value, json};
use support::backend::Backend;
use support::fixture;
use support::jobs::{app, fixture_job, get, get_json};

const DIR: &str = "xgb_onehot_groups";

fn header() -> Vec<String> {
    let text = std::fs::read_to_string(fixture(&format!("{DIR}/data.csv"))).unwrap();
    text.lines()
        .next()
        .unwrap()
        .split(',')
        .map(str::to_owned)
        .collect()
}

/// xgboost's own SHAP values (rows × (features + 1)).
fn contribs() -> Vec<Vec<f64>> {
    std::fs::read_to_string(fixture(&format!("{DIR}/contribs.csv")))
        .unwrap()
        .lines()
        .map(|l| l.split(',').map(|c| c.parse().unwrap()).collect())
        .collect()
}

/// Mean over rows of |Σ members' SHAP|, members named by column.
fn mean_abs_of(members: &[&str]) -> f64 {
    let names = header();
    let at: Vec<usize> = members
        .iter()
        .map(|m| names.iter().position(|n| n == m).unwrap())
        .collect();
    let rows = contribs();
    rows.iter()
        .map(|r| at.iter().map(|&j| r[j]).sum::<f64>().abs())
        .sum::<f64>()
        / rows.len() as f64
}

fn value_of(summary: &Value, feature: &str) -> f64 {
    let at = summary["features"]
        .as_array()
        .unwrap()
        .iter()
        .position(|f| f == feature)
        .unwrap_or_else(|| panic!("no feature {feature}: {}", summary["features"]));
    summary["mean_abs_shap"][0][at].as_f64().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_hot_siblings_are_found_and_summed_like_the_librarys_own_values() {
    let redis = Backend::start();
    let app = app(&redis, 25, 2).await;
    let id = fixture_job(&app, DIR, "model.json", json!({})).await;
    let (status, s) = get_json(&app, &format!("/api/jobs/{id}/summary?groups=auto")).await;
    assert_eq!(status, StatusCode::OK, "{s}");
    assert_eq!(
        s["features"],
        json!(["mean_a", "mean_b", "x", "flag_x", "color", "size"]),
        "mean_a/mean_b share a prefix but are measurements; flag_x has no sibling"
    );
    assert_eq!(
        s["groups"],
        "color:color_blue,color_green,color_red; size:size_L,size_M,size_S,size_XL"
    );
    // xgboost computes in float32.
    let close = |a: f64, b: f64| (a - b).abs() <= 1e-5 * (1.0 + b.abs());
    for (feature, members) in [
        ("color", &["color_blue", "color_green", "color_red"][..]),
        ("size", &["size_L", "size_M", "size_S", "size_XL"][..]),
        ("mean_a", &["mean_a"][..]),
    ] {
        let (got, want) = (value_of(&s, feature), mean_abs_of(members));
        assert!(close(got, want), "{feature}: {got} vs {want}");
    }
    // A group has no value to plot against: no dependence scatter, grey beeswarm dots.
    let groups_at = [4u64, 5];
    for d in s["dependence"]["features"].as_array().unwrap() {
        assert!(
            !groups_at.contains(&d["feature"].as_u64().unwrap()),
            "{}",
            d["feature"]
        );
    }
    // Groups with a cohort on a member column (read from the data, before grouping).
    let (status, c) = get_json(
        &app,
        &format!("/api/jobs/{id}/summary?groups=auto&cohort=color_red%3D1"),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{c}");
    let reds = std::fs::read_to_string(fixture(&format!("{DIR}/data.csv")))
        .unwrap()
        .lines()
        .skip(1)
        .filter(|l| l.split(',').nth(6) == Some("1"))
        .count();
    assert_eq!(c["cohort"]["rows"], reds as u64);
    assert_eq!(c["features"][4], "color");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_grouped_download_sums_each_groups_columns_of_the_plain_one() {
    let redis = Backend::start();
    let app = app(&redis, 25, 2).await;
    let id = fixture_job(&app, DIR, "model.json", json!({})).await;
    let (status, plain) = get(&app, &format!("/api/jobs/{id}/shap.csv")).await;
    assert_eq!(status, StatusCode::OK);
    let (status, grouped) = get(
        &app,
        &format!("/api/jobs/{id}/shap.csv?groups=warm%3Acolor_red%2Ccolor_green"),
    )
    .await;
    assert_eq!(
        status,
        StatusCode::OK,
        "{}",
        String::from_utf8_lossy(&grouped)
    );
    let (plain, grouped) = (
        String::from_utf8(plain).unwrap(),
        String::from_utf8(grouped).unwrap(),
    );
    let mut p = plain.lines();
    let mut g = grouped.lines();
    assert_eq!(
        g.next().unwrap(),
        "mean_a,mean_b,x,flag_x,color_blue,warm,size_L,size_M,size_S,size_XL,base_value"
    );
    let names: Vec<&str> = p.next().unwrap().split(',').collect();
    let (red, green) = (
        names.iter().position(|n| *n == "color_red").unwrap(),
        names.iter().position(|n| *n == "color_green").unwrap(),
    );
    let mut rows = 0;
    for (pl, gl) in p.zip(g) {
        let pv: Vec<f64> = pl.split(',').map(|c| c.parse().unwrap()).collect();
        let gv: Vec<f64> = gl.split(',').map(|c| c.parse().unwrap()).collect();
        assert_eq!(gv.len(), pv.len() - 1);
        assert!(
            (gv[5] - (pv[red] + pv[green])).abs() < 1e-12,
            "{gl} vs {pl}"
        );
        assert_eq!(gv[0], pv[0]);
        assert_eq!(gv[10], pv[11], "the base value");
        rows += 1;
    }
    assert_eq!(rows, 60);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_groups_are_refused_naming_the_mistake() {
    let redis = Backend::start();
    let app = app(&redis, 25, 2).await;
    let id = fixture_job(&app, DIR, "model.json", json!({})).await;
    for (groups, words) in [
        ("warm%3Acolor_red%2Cheight", "no feature \"height\""),
        ("warm%3Acolor_red", "at least two features"),
        ("color_red", "write name:feature,feature"),
        ("x%3Acolor_red%2Ccolor_blue", "already a feature"),
    ] {
        for path in ["summary", "shap.csv"] {
            let (status, e) =
                get_json(&app, &format!("/api/jobs/{id}/{path}?groups={groups}")).await;
            assert_eq!(
                status,
                StatusCode::UNPROCESSABLE_ENTITY,
                "{path} {groups}: {e}"
            );
            assert!(
                e["message"].as_str().unwrap().contains(words),
                "{path} {groups}: {e}"
            );
        }
    }
}
