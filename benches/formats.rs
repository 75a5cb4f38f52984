//! `make bench` Rust half for the format workloads (run by scripts/bench.sh after W1/LW):
//! CW (XGBoost with categorical partition splits), CL (LightGBM categorical) and RF
//! (scikit-learn RandomForestClassifier from a skops file), at 1 and 2 threads.
//!
//! `cargo bench -p shaplab --bench formats -- DIR` reads DIR/{cw.json,cl.txt,rf.skops} and the
//! rows DIR/{xc.csv,xr.csv} (written by `scripts/bench_formats.py gen`; xc.csv holds category
//! words, read through the model's own category names as the CLI reads them), and writes
//! DIR/rust_formats.json and DIR/{CW,CL,RF}_shaplab.csv, which `bench_formats.py report`
//! compares with the libraries' values. There is no treeshap-crate column here: it reads
//! neither categorical splits nor skops files.

use shaplab::{CsvRows, Ensemble};
use std::path::{Path, PathBuf};
use std::time::Instant;

/// (workload, model file, rows file, output compared). A forest classifier explains
/// predict_proba per class; shap's class-1 values are the peer, so output 1.
const WORKLOADS: [(&str, &str, &str, usize); 3] = [
    ("CW", "cw.json", "xc.csv", 0),
    ("CL", "cl.txt", "xc.csv", 0),
    ("RF", "rf.skops", "xr.csv", 1),
];

type Results = serde_json::Map<String, serde_json::Value>;

fn main() {
    let Some(dir) = std::env::args()
        .skip(1)
        .find(|a| !a.starts_with('-'))
        .map(PathBuf::from)
    else {
        eprintln!("usage: cargo bench -p shaplab --bench formats -- DIR   (see scripts/bench.sh)");
        return;
    };
    let mut results = Results::new();
    for (name, file, rows, output) in WORKLOADS {
        if let Err(e) = run(&dir, name, file, rows, output, &mut results) {
            eprintln!("{name}: {e}");
            std::process::exit(1);
        }
    }
    let json = serde_json::to_string_pretty(&results).unwrap_or_default();
    if let Err(e) = std::fs::write(dir.join("rust_formats.json"), json) {
        eprintln!("cannot write rust_formats.json: {e}");
        std::process::exit(1);
    }
}

fn run(
    dir: &Path,
    name: &str,
    file: &str,
    rows_file: &str,
    output: usize,
    results: &mut Results,
) -> Result<(), String> {
    let model = Ensemble::from_path(&dir.join(file)).map_err(|e| format!("{file}: {e}"))?;
    let mut reader = CsvRows::open(&dir.join(rows_file), &model).map_err(|e| e.to_string())?;
    let rows = reader.read_all().map_err(|e| e.to_string())?;
    // A word the model does not know would be read as "unseen" and silently change the
    // workload; the generator only writes known words, so any here is a bug worth stopping on.
    let unseen = reader.unseen();
    if !unseen.is_empty() {
        return Err(format!(
            "{rows_file} has categories the model never saw: {unseen:?}"
        ));
    }
    if output >= model.num_outputs {
        return Err(format!(
            "{file} has {} outputs, not {}",
            model.num_outputs,
            output + 1
        ));
    }
    let categorical = (0..model.num_features)
        .filter(|&i| model.categories_of(i).is_some())
        .count();
    println!(
        "{name}: {} trees, {} features ({categorical} categorical), {} outputs, {} rows",
        model.trees.len(),
        model.num_features,
        model.num_outputs,
        rows.rows
    );
    // Timed as W1 is: `shap_values`, model-only precomputation included, like the peers'
    // calls that also prepare the model each time.
    let mut ours = None;
    for threads in [1usize, 2] {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .map_err(|e| e.to_string())?;
        // Best of 3, to damp noise on a shared 2-core machine.
        let mut best = f64::INFINITY;
        for _ in 0..3 {
            let t = Instant::now();
            let ex = pool
                .install(|| shaplab::shap_values(&model, &rows))
                .map_err(|e| e.to_string())?;
            best = best.min(t.elapsed().as_secs_f64());
            ours = Some(ex);
        }
        let rate = rows.rows as f64 / best;
        println!(
            "{name}/shaplab/{threads:<10} rows={} {rate:9.0} rows/s",
            rows.rows
        );
        results.insert(
            format!("{name}/shaplab/{threads}"),
            serde_json::json!({ "rows": rows.rows, "secs": best, "rows_per_s": rate }),
        );
    }
    let ours = ours.ok_or("no run")?;
    // SHAP values then the base value, per row: the layout of pred_contribs, so the report
    // compares whole blocks (the base value is checked too).
    let mut csv = String::from("header\n");
    for r in 0..ours.rows {
        let line: Vec<String> = ours
            .block(r, output)
            .iter()
            .map(|v| format!("{v:?}"))
            .collect();
        csv.push_str(&line.join(","));
        csv.push('\n');
    }
    std::fs::write(dir.join(format!("{name}_shaplab.csv")), csv).map_err(|e| e.to_string())
}
