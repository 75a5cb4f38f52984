//! Bad input: every malformed model or data file is a typed error — no panic, no unbounded
//! allocation.

use shaplab::{CsvRows, Ensemble, Error, Matrix};
use std::path::{Path, PathBuf};

fn fixture(case: &str, file: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures")
        .join(case)
        .join(file)
}

fn bytes(case: &str, file: &str) -> Vec<u8> {
    std::fs::read(fixture(case, file)).unwrap()
}

fn json_model() -> serde_json::Value {
    serde_json::from_slice(&bytes("xgb_reg_d3", "model.json")).unwrap()
}

fn load_json(doc: &serde_json::Value) -> shaplab::Result<Ensemble> {
    Ensemble::from_bytes(&serde_json::to_vec(doc).unwrap())
}

fn first_tree(doc: &mut serde_json::Value) -> &mut serde_json::Value {
    &mut doc["learner"]["gradient_booster"]["model"]["trees"][0]
}

fn lgb_text() -> String {
    String::from_utf8(bytes("lgb_reg_d3", "model.txt")).unwrap()
}

/// Replace the first `key=` line of tree 0 in a LightGBM model.
fn lgb_with(key: &str, value: &str) -> Vec<u8> {
    let text = lgb_text();
    let start = text.find("Tree=0").unwrap();
    let at = start + text[start..].find(&format!("\n{key}=")).unwrap() + 1;
    let end = at + text[at..].find('\n').unwrap();
    format!("{}{key}={value}{}", &text[..at], &text[end..]).into_bytes()
}

#[test]
fn a_truncated_json_model_is_a_syntax_error() {
    let b = bytes("xgb_reg_d3", "model.json");
    for cut in [1, 10, b.len() / 2, b.len() - 1] {
        let err = Ensemble::from_bytes(&b[..cut]).unwrap_err();
        assert!(
            matches!(err, Error::Syntax { .. } | Error::UnknownFormat(_)),
            "cut {cut}: {err}"
        );
    }
}

#[test]
fn a_corrupt_json_model_is_a_syntax_error() {
    let mut b = bytes("xgb_reg_d3", "model.json");
    let mid = b.len() / 2;
    b[mid..mid + 8].copy_from_slice(b"}}]]{{[[");
    assert!(matches!(
        Ensemble::from_bytes(&b).unwrap_err(),
        Error::Syntax { .. }
    ));
}

#[test]
fn a_truncated_ubjson_model_is_a_syntax_error_at_every_cut() {
    let b = bytes("xgb_multi_d4", "model.ubj");
    for cut in (1..b.len()).step_by(97) {
        match Ensemble::from_bytes(&b[..cut]) {
            Err(Error::Syntax { .. }) => {}
            other => panic!("cut {cut}: {other:?}"),
        }
    }
}

#[test]
fn random_byte_flips_in_a_ubjson_model_never_panic() {
    let original = bytes("xgb_reg_d3", "model.ubj");
    let mut state = shaplab::rng::SplitMix64(9);
    for _ in 0..300 {
        let mut b = original.clone();
        for _ in 0..3 {
            let i = (state.next_u64() % b.len() as u64) as usize;
            b[i] = state.next_u64() as u8;
        }
        // Any outcome but a panic is acceptable: a flip inside a float may still load.
        let _ = Ensemble::from_bytes(&b);
    }
}

#[test]
fn a_file_with_the_wrong_magic_is_an_unknown_format() {
    for b in [&b""[..], b"   \n", b"\x89PNG\r\n", b"version=v4\n"] {
        assert!(
            matches!(
                Ensemble::from_bytes(b).unwrap_err(),
                Error::UnknownFormat(_)
            ),
            "{b:?}"
        );
    }
    // The message lists what is accepted, with the call that saves each.
    let err = Ensemble::from_bytes(b"\x89PNG\r\n")
        .unwrap_err()
        .to_string();
    for accepted in ["XGBoost", "LightGBM", "CatBoost", "skops", "ONNX"] {
        assert!(err.contains(accepted), "{err}");
    }
    let err = Ensemble::from_bytes(br#"{"hello": 1}"#)
        .unwrap_err()
        .to_string();
    assert!(err.contains("neither an XGBoost model"), "{err}");
}

#[test]
fn a_pickle_is_refused_with_the_line_that_converts_it_to_skops() {
    // Protocol 4, joblib's zlib, and protocols 0 and 1 (text opcodes ending in STOP).
    let protocol0 = b"ccopy_reg\n_reconstructor\np0\n(csklearn.tree\nTree\np1\ntR.\n";
    let protocol1 = b"(dp0\nS'a'\np1\nI1\ns.";
    for b in [
        &b"\x80\x04\x95\x00"[..],
        b"\x78\x9c\x00\x00",
        protocol0,
        protocol1,
    ] {
        let err = Ensemble::from_bytes(b).unwrap_err().to_string();
        assert!(err.contains("never does"), "{err}");
        assert!(
            err.contains("skops.io.dump(joblib.load('model.pkl'), 'model.skops')"),
            "{err}"
        );
    }
}

#[test]
fn a_compressed_joblib_file_is_refused_with_the_skops_line_and_the_decompress_hint() {
    let gzip = b"\x1f\x8b\x08\x00\x00\x00\x00\x00";
    let xz = b"\xfd7zXZ\x00\x00\x04";
    for b in [&gzip[..], b"BZh91AY&SY", xz, b"\x04\x22\x4d\x18\x64"] {
        let err = Ensemble::from_bytes(b).unwrap_err().to_string();
        assert!(err.contains("compressed (gzip, bz2, xz or lz4)"), "{err}");
        assert!(
            err.contains("skops.io.dump(joblib.load('model.pkl'), 'model.skops')"),
            "{err}"
        );
        assert!(err.contains("decompress it"), "{err}");
    }
}

#[test]
fn a_two_gigabyte_length_claim_in_ubjson_is_rejected_without_allocating() {
    let claims: [&[u8]; 4] = [
        // Object key of 2^31 bytes.
        b"{L\x00\x00\x00\x00\x80\x00\x00\x00abc",
        // Typed float32 array claiming 2^31 elements (8 GB).
        b"{U\x01a[$d#L\x00\x00\x00\x00\x80\x00\x00\x00\x00\x00\x00\x00}",
        // String value of 2^40 bytes.
        b"{U\x01aSL\x00\x00\x01\x00\x00\x00\x00\x00}",
        // Counted untyped array of 2^62 elements.
        b"{U\x01a[#L\x40\x00\x00\x00\x00\x00\x00\x00Z}",
    ];
    for c in claims {
        match Ensemble::from_bytes(c) {
            Err(Error::Syntax { message, .. }) => assert!(message.contains("remain"), "{message}"),
            other => panic!("{c:?}: {other:?}"),
        }
    }
}

#[test]
fn deeply_nested_ubjson_is_rejected_without_overflowing_the_stack() {
    let mut b = b"{U\x01a".to_vec();
    b.extend(std::iter::repeat_n(b'[', 100_000));
    assert!(matches!(
        Ensemble::from_bytes(&b).unwrap_err(),
        Error::Syntax { .. }
    ));
}

#[test]
fn a_nan_threshold_in_ubjson_is_rejected() {
    let mut b = bytes("xgb_reg_d3", "model.ubj");
    let key = b"split_conditions[$d#L";
    let at = b.windows(key.len()).position(|w| w == key).unwrap() + key.len() + 8;
    b[at..at + 4].copy_from_slice(&f32::NAN.to_be_bytes());
    match Ensemble::from_bytes(&b).unwrap_err() {
        Error::InvalidTree { message, .. } => assert!(message.contains("NaN"), "{message}"),
        other => panic!("{other}"),
    }
}

#[test]
fn a_nan_threshold_in_lightgbm_is_rejected() {
    let text = lgb_text();
    let start = text.find("Tree=0").unwrap();
    let line = start + text[start..].find("\nthreshold=").unwrap() + 11;
    let b = format!("{}nan {}", &text[..line], &text[line..]).into_bytes();
    // The first value became NaN and the list grew by one: either is a typed error.
    assert!(matches!(
        Ensemble::from_bytes(&b).unwrap_err(),
        Error::InvalidTree { .. } | Error::InvalidModel { .. }
    ));
    let b = lgb_with("threshold", "nan nan nan nan nan nan nan");
    match Ensemble::from_bytes(&b).unwrap_err() {
        Error::InvalidTree { message, .. } => assert!(message.contains("NaN"), "{message}"),
        other => panic!("{other}"),
    }
}

#[test]
fn a_cyclic_tree_is_rejected() {
    let mut doc = json_model();
    first_tree(&mut doc)["left_children"][1] = 0.into();
    match load_json(&doc).unwrap_err() {
        Error::InvalidTree {
            tree: 0, message, ..
        } => assert!(message.contains("reachable twice"), "{message}"),
        other => panic!("{other}"),
    }
}

#[test]
fn a_tree_sharing_a_node_between_two_parents_is_rejected() {
    let mut doc = json_model();
    let t = first_tree(&mut doc);
    let r = t["right_children"][1].clone();
    t["left_children"][2] = r;
    assert!(matches!(
        load_json(&doc).unwrap_err(),
        Error::InvalidTree { tree: 0, .. }
    ));
}

#[test]
fn an_out_of_range_child_is_rejected() {
    for bad in [9999i64, -7, i64::MAX] {
        let mut doc = json_model();
        first_tree(&mut doc)["right_children"][0] = bad.into();
        let err = load_json(&doc).unwrap_err();
        assert!(
            matches!(
                err,
                Error::InvalidTree {
                    tree: 0,
                    node: 0,
                    ..
                }
            ),
            "{bad}: {err}"
        );
    }
    let b = lgb_with("left_child", "1 -9999 -3 -4 5 -5 -6");
    assert!(matches!(
        Ensemble::from_bytes(&b).unwrap_err(),
        Error::InvalidTree { .. }
    ));
}

#[test]
fn an_out_of_range_split_feature_is_rejected() {
    let mut doc = json_model();
    first_tree(&mut doc)["split_indices"][0] = 10_000.into();
    match load_json(&doc).unwrap_err() {
        Error::InvalidTree { message, .. } => {
            assert!(message.contains("out of range"), "{message}")
        }
        other => panic!("{other}"),
    }
}

#[test]
fn an_infinite_leaf_is_rejected() {
    let b = lgb_with("leaf_value", "1 2 3 inf 5 6 7 8");
    match Ensemble::from_bytes(&b).unwrap_err() {
        Error::InvalidTree { message, .. } => assert!(message.contains("not finite"), "{message}"),
        other => panic!("{other}"),
    }
}

#[test]
fn arrays_of_mismatched_lengths_are_rejected() {
    let mut doc = json_model();
    first_tree(&mut doc)["sum_hessian"]
        .as_array_mut()
        .unwrap()
        .pop();
    assert!(matches!(
        load_json(&doc).unwrap_err(),
        Error::InvalidTree { .. }
    ));
    let b = lgb_with("decision_type", "2 2");
    assert!(matches!(
        Ensemble::from_bytes(&b).unwrap_err(),
        Error::InvalidModel { .. }
    ));
}

#[test]
fn a_categorical_split_without_its_category_set_is_rejected_naming_the_node() {
    let mut doc = json_model();
    let tree = first_tree(&mut doc);
    tree["split_type"][0] = 1.into();
    tree["categories_nodes"] = serde_json::json!([0]);
    tree["categories_segments"] = serde_json::json!([0]);
    tree["categories_sizes"] = serde_json::json!([5]);
    tree["categories"] = serde_json::json!([1, 2]);
    let err = load_json(&doc).unwrap_err();
    assert!(
        err.to_string()
            .contains("node 0: category segment 0+5 is outside the 2 categories"),
        "{err}"
    );
    // A code past the cap would make a huge bitset: refused, not allocated.
    let tree = first_tree(&mut doc);
    tree["categories_sizes"] = serde_json::json!([1]);
    tree["categories"] = serde_json::json!([1 << 30]);
    let err = load_json(&doc).unwrap_err();
    assert!(
        err.to_string()
            .contains("category code 1073741824 is outside"),
        "{err}"
    );
    // LightGBM: a categorical node whose threshold names no bitset.
    let b = lgb_with("decision_type", "1 2 2 2 2 2 2");
    let err = Ensemble::from_bytes(&b).unwrap_err();
    assert!(err.to_string().contains("cat_boundaries"), "{err}");
}

#[test]
fn a_truncated_lightgbm_model_is_a_syntax_error() {
    let text = lgb_text();
    let cut = text.find("end of trees").unwrap();
    assert!(matches!(
        Ensemble::from_bytes(&text.as_bytes()[..cut]).unwrap_err(),
        Error::Syntax { .. }
    ));
}

#[test]
fn an_unknown_objective_is_unsupported() {
    let mut doc = json_model();
    doc["learner"]["objective"]["name"] = "reg:mystery".into();
    assert!(matches!(
        load_json(&doc).unwrap_err(),
        Error::Unsupported(_)
    ));
}

#[test]
fn a_vector_base_score_of_the_wrong_length_is_rejected() {
    let mut doc = json_model();
    doc["learner"]["learner_model_param"]["base_score"] = "[1,2]".into();
    assert!(matches!(
        load_json(&doc).unwrap_err(),
        Error::InvalidModel { .. }
    ));
}

#[test]
fn rows_with_the_wrong_number_of_features_are_rejected() {
    let model = Ensemble::from_path(&fixture("xgb_reg_d3", "model.json")).unwrap();
    let rows = Matrix::new(1, 3, vec![0.0; 3]).unwrap();
    assert!(matches!(
        shaplab::shap_values(&model, &rows).unwrap_err(),
        Error::InvalidData(_)
    ));
    assert!(matches!(
        shaplab::interaction_values(&model, &rows).unwrap_err(),
        Error::InvalidData(_)
    ));
    assert!(Matrix::new(2, 3, vec![0.0; 5]).is_err());
}

fn csv_file(name: &str, content: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("shaplab-bad-input-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let p = dir.join(name);
    std::fs::write(&p, content).unwrap();
    p
}

#[test]
fn data_missing_model_columns_lists_them() {
    let model = Ensemble::from_path(&fixture("xgb_reg_d3", "model.json")).unwrap();
    let p = csv_file("missing.csv", "age,sex,bmi\n1,2,3\n");
    match CsvRows::open(&p, &model).err().unwrap() {
        Error::MissingColumns(cols) => {
            assert_eq!(cols.len(), 7);
            assert!(cols.contains(&"bp".to_string()));
        }
        other => panic!("{other}"),
    }
}

#[test]
fn a_non_numeric_cell_names_its_row_and_column() {
    let model = Ensemble::from_path(&fixture("xgb_reg_d3", "model.json")).unwrap();
    let header = "age,sex,bmi,bp,s1,s2,s3,s4,s5,s6";
    let p = csv_file(
        "text.csv",
        &format!("{header}\n1,2,3,4,5,6,7,8,9,10\n1,2,3,4,oops,6,7,8,9,10\n"),
    );
    let mut rows = CsvRows::open(&p, &model).unwrap();
    match rows.read_all().unwrap_err() {
        Error::NotANumber { row, column, value } => {
            assert_eq!((row, column.as_str(), value.as_str()), (2, "s1", "oops"));
        }
        other => panic!("{other}"),
    }
}

#[test]
fn a_row_with_too_few_fields_is_an_error_naming_the_row() {
    let model = Ensemble::from_path(&fixture("xgb_reg_d3", "model.json")).unwrap();
    let p = csv_file(
        "short.csv",
        "age,sex,bmi,bp,s1,s2,s3,s4,s5,s6\n1,2,3,4,5,6,7,8,9,10\n1,2\n",
    );
    let err = CsvRows::open(&p, &model).unwrap().read_all().unwrap_err();
    assert!(err.to_string().contains("row 2"), "{err}");
}

#[test]
fn a_ubjson_file_of_tiny_values_cannot_inflate_memory() {
    // 1 MB of one-byte nulls in an untyped array: refused by the value budget.
    let mut b = b"{U\x01a[".to_vec();
    b.extend(std::iter::repeat_n(b'Z', 1 << 20));
    b.extend(b"]}");
    match Ensemble::from_bytes(&b).unwrap_err() {
        Error::Syntax { message, .. } => assert!(message.contains("more values"), "{message}"),
        other => panic!("{other}"),
    }
}

#[test]
fn random_edits_to_lightgbm_and_json_models_never_panic() {
    let mut state = shaplab::rng::SplitMix64(11);
    let alphabet = b"0123456789-.e =\nTreNan,[]{}\"";
    for original in [
        bytes("lgb_reg_d3", "model.txt"),
        bytes("xgb_multi_d4", "model.json"),
    ] {
        for _ in 0..300 {
            let mut b = original.clone();
            for _ in 0..4 {
                let i = state.below(b.len());
                b[i] = alphabet[state.below(alphabet.len())];
            }
            // Loading may succeed (a digit changed) or fail with a typed error; if it loads,
            // explaining a row must not panic either.
            if let Ok(model) = Ensemble::from_bytes(&b) {
                let rows =
                    Matrix::new(1, model.num_features, vec![0.5; model.num_features]).unwrap();
                let _ = shaplab::shap_values(&model, &rows);
                let _ = shaplab::interaction_values(&model, &rows);
            }
        }
    }
}
