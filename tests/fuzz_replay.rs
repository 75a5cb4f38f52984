//! Replays the fuzz corpora (`fuzz/corpus/<target>/`) and every input a fuzzer ever crashed on
//! (`fuzz/regressions/<target>/`, one file per fixed crash) through the same entry points the
//! libFuzzer targets call: on stable, in every `make test`, so a fixed crash stays fixed.

use std::path::{Path, PathBuf};

fn inputs(target: &str) -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz");
    let mut files = Vec::new();
    for dir in ["corpus", "regressions"] {
        if let Ok(entries) = std::fs::read_dir(root.join(dir).join(target)) {
            files.extend(entries.filter_map(|e| e.ok()).map(|e| e.path()));
        }
    }
    files.sort();
    files
}

#[test]
fn every_model_input_loads_or_is_refused_without_a_panic() {
    let files = inputs("model");
    assert!(
        files.len() >= 20,
        "the model corpus is seeded from the fixtures"
    );
    for file in files {
        let bytes = std::fs::read(&file).expect("readable");
        shaplab::fuzzing::model_file(&bytes);
    }
}

#[test]
fn every_table_input_reads_or_is_refused_without_a_panic() {
    let model = shaplab::Ensemble::from_path(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/lgb_cat_binary/model.txt"),
    )
    .expect("the fixture loads");
    let files = inputs("table");
    assert!(
        files.len() >= 10,
        "the table corpus is seeded from the fixtures"
    );
    let scratch = std::env::temp_dir().join(format!("shaplab-fuzz-replay-{}", std::process::id()));
    for file in files {
        let bytes = std::fs::read(&file).expect("readable");
        shaplab::fuzzing::table_file(&bytes, &model, &scratch);
    }
    let _ = std::fs::remove_file(scratch);
}
