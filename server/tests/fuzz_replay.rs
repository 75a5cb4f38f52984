//! Replays the server's fuzz corpora (`fuzz/corpus/{upload,api}/`) and any input a fuzzer
//! crashed on (`fuzz/regressions/{upload,api}/`) through the entry points the libFuzzer
//! targets call, on stable, in every `make test`.

use std::path::{Path, PathBuf};

fn inputs(target: &str) -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz");
    let mut files = Vec::new();
    for dir in ["corpus", "regressions"] {
        if let Ok(entries) = std::fs::read_dir(root.join(dir).join(target)) {
            files.extend(entries.filter_map(|e| e.ok()).map(|e| e.path()));
        }
    }
    files.sort();
    files
}

fn name(file: &Path) -> &str {
    file.file_name().and_then(|n| n.to_str()).unwrap_or("")
}

#[test]
fn every_upload_body_is_stored_or_refused_without_a_panic() {
    let files = inputs("upload");
    assert!(files.len() >= 8, "the upload corpus is seeded");
    for file in &files {
        let outcome = server::fuzzing::upload(&std::fs::read(file).expect("readable"));
        // The seeds say what they are, so the harness is seen to reach both ends.
        let expected = match name(file) {
            "model_lightgbm" | "data_csv_file_first" | "unknown_field" => Some(Ok(())),
            "empty_file" => Some(Err("empty_file")),
            "missing_file" => Some(Err("invalid_request")),
            _ => None,
        };
        if let Some(expected) = expected {
            assert_eq!(outcome, expected, "{}", file.display());
        }
    }
}

#[test]
fn every_api_input_parses_or_is_refused_without_a_panic() {
    let files = inputs("api");
    assert!(files.len() >= 9, "the api corpus is seeded");
    for file in &files {
        let accepted = server::fuzzing::api_input(&std::fs::read(file).expect("readable"));
        if file.parent().is_some_and(|d| d.ends_with("corpus/api")) {
            // Every seed is a valid input of its parser (regressions need not be).
            assert!(accepted, "{} was refused", file.display());
        }
    }
}
