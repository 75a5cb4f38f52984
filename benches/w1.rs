//! `make bench` Rust half (run by scripts/bench.sh): shaplab against the `treeshap` crate's
//! `linear` backend on the same model, rows and thread count, plus a value cross-check.
//!
//! `cargo bench -p shaplab --bench w1 -- DIR` reads DIR/w1.json, DIR/lgb.txt and DIR/x.csv
//! (written by scripts/bench_w1.py) and writes DIR/rust.json and DIR/{W1,LW}_shaplab.csv.

use shaplab::{CsvRows, Ensemble};
use std::path::{Path, PathBuf};
use std::time::Instant;

fn main() {
    let Some(dir) = std::env::args()
        .skip(1)
        .find(|a| !a.starts_with('-'))
        .map(PathBuf::from)
    else {
        eprintln!("usage: cargo bench -p shaplab --bench w1 -- DIR   (see scripts/bench.sh)");
        return;
    };
    let mut results = serde_json::Map::new();
    for (name, file) in [("W1", "w1.json"), ("LW", "lgb.txt")] {
        if let Err(e) = run(&dir, name, file, &mut results) {
            eprintln!("{name}: {e}");
            std::process::exit(1);
        }
    }
    if let Err(e) = extras(&dir, &mut results) {
        eprintln!("extras: {e}");
        std::process::exit(1);
    }
    let out = dir.join("rust.json");
    std::fs::write(
        &out,
        serde_json::to_string_pretty(&results).unwrap_or_default(),
    )
    .ok();
}

fn run(
    dir: &Path,
    name: &str,
    file: &str,
    results: &mut serde_json::Map<String, serde_json::Value>,
) -> Result<(), String> {
    let model = Ensemble::from_path(&dir.join(file)).map_err(|e| e.to_string())?;
    let rows = CsvRows::open(&dir.join("x.csv"), &model)
        .and_then(|mut r| r.read_all())
        .map_err(|e| e.to_string())?;
    let bytes = std::fs::read(dir.join(file)).map_err(|e| e.to_string())?;
    let peer = if file.ends_with(".json") {
        treeshap::TreeModel::from_xgboost_json(&bytes)
    } else {
        treeshap::TreeModel::from_lightgbm_text(&String::from_utf8_lossy(&bytes))
    }
    .map_err(|e| format!("treeshap cannot load {file}: {e:?}"))?;
    let linear = treeshap::TreeExplainer::linear(&peer).map_err(|e| format!("{e:?}"))?;
    let n = rows.rows;
    let f = model.num_features;
    let mut ours = None;
    let mut theirs = Vec::new();
    for threads in [1usize, 2] {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .map_err(|e| e.to_string())?;
        // Best of 3 for both engines, to damp noise on a shared machine.
        let mut best = f64::INFINITY;
        for _ in 0..3 {
            let t = Instant::now();
            let ex = pool
                .install(|| shaplab::shap_values(&model, &rows))
                .map_err(|e| e.to_string())?;
            best = best.min(t.elapsed().as_secs_f64());
            ours = Some(ex);
        }
        report(results, &format!("{name}/shaplab/{threads}"), n, best);
        let mut best = f64::INFINITY;
        for _ in 0..3 {
            let t = Instant::now();
            theirs = linear
                .shap_values_batch_parallel(&rows.values, 0, Some(threads))
                .map_err(|e| format!("{e:?}"))?;
            best = best.min(t.elapsed().as_secs_f64());
        }
        report(results, &format!("{name}/treeshap/{threads}"), n, best);
    }
    let ours = ours.ok_or("no run")?;
    let mut max_diff = 0.0f64;
    for r in 0..n {
        for j in 0..f {
            max_diff = max_diff.max((ours.block(r, 0)[j] - theirs[r * f + j]).abs());
        }
    }
    results.insert(format!("{name}/max_diff_vs_treeshap"), max_diff.into());
    // Values for the cross-check against the library in bench_w1.py report.
    let mut csv = String::from("header\n");
    for r in 0..n {
        let line: Vec<String> = ours.block(r, 0).iter().map(|v| format!("{v:?}")).collect();
        csv.push_str(&line.join(","));
        csv.push('\n');
    }
    std::fs::write(dir.join(format!("{name}_shaplab.csv")), csv).map_err(|e| e.to_string())?;
    Ok(())
}

/// Interaction values and interventional (probability, 100 background rows) on W1, 1 thread.
fn extras(
    dir: &Path,
    results: &mut serde_json::Map<String, serde_json::Value>,
) -> Result<(), String> {
    let model = Ensemble::from_path(&dir.join("w1.json")).map_err(|e| e.to_string())?;
    let rows = CsvRows::open(&dir.join("x.csv"), &model)
        .and_then(|mut r| r.read_all())
        .map_err(|e| e.to_string())?;
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .map_err(|e| e.to_string())?;
    let some = rows.slice(0, 500);
    // Best of 3, as for the path-dependent runs: one slow run on a shared machine is noise.
    let best_of_3 = |run: &dyn Fn() -> Result<(), String>| -> Result<f64, String> {
        let mut best = f64::INFINITY;
        for _ in 0..3 {
            let t = Instant::now();
            run()?;
            best = best.min(t.elapsed().as_secs_f64());
        }
        Ok(best)
    };
    let secs = best_of_3(&|| {
        pool.install(|| shaplab::interaction_values(&model, &some))
            .map(|_| ())
            .map_err(|e| e.to_string())
    })?;
    report(results, "W1/interactions/1", some.rows, secs);
    // Prepared once per job by the service, so timed apart.
    let t = Instant::now();
    let background =
        shaplab::Background::sample(&model, &rows, 100, 1).map_err(|e| e.to_string())?;
    results.insert(
        "W1/interventional/background_secs".into(),
        t.elapsed().as_secs_f64().into(),
    );
    let secs = best_of_3(&|| {
        pool.install(|| {
            shaplab::interventional_values(&model, &some, &background, shaplab::Output::Probability)
        })
        .map(|_| ())
        .map_err(|e| e.to_string())
    })?;
    report(results, "W1/interventional/1", some.rows, secs);
    Ok(())
}

fn report(
    results: &mut serde_json::Map<String, serde_json::Value>,
    key: &str,
    rows: usize,
    secs: f64,
) {
    let rate = rows as f64 / secs;
    println!("{key:<20} rows={rows} {rate:9.0} rows/s");
    results.insert(
        key.into(),
        serde_json::json!({ "rows": rows, "secs": secs, "rows_per_s": rate }),
    );
}
