//! Files a skops loader must refuse, each built from a fixture with one thing broken: a
//! pickle, classes and node kinds off the allowlist, truncated zips, zip bombs (claimed and
//! hidden), lying `.npy` headers, cyclic trees, entries outside the zip. Every refusal is a
//! typed error whose message says what is wrong; none may panic.

use super::support::files::{assert_note, fixture};
use super::{cases, load};
use shaplab::model::{SkopsLimits, from_skops_with_limits};
use shaplab::{Ensemble, Error};
use std::io::{Cursor, Read, Write};

fn skops_bytes(case: &str) -> Vec<u8> {
    std::fs::read(fixture(case, "model.skops")).unwrap()
}

/// Every entry of a zip, in order.
fn entries(zip: &[u8]) -> Vec<(String, Vec<u8>)> {
    let mut a = zip::ZipArchive::new(Cursor::new(zip)).unwrap();
    (0..a.len())
        .map(|i| {
            let mut f = a.by_index(i).unwrap();
            let mut b = Vec::new();
            f.read_to_end(&mut b).unwrap();
            (f.name().unwrap().to_string(), b)
        })
        .collect()
}

fn write_zip(entries: &[(String, Vec<u8>)], method: zip::CompressionMethod) -> Vec<u8> {
    let mut w = zip::ZipWriter::new(Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default().compression_method(method);
    for (name, bytes) in entries {
        w.start_file(name.as_str(), options).unwrap();
        w.write_all(bytes).unwrap();
    }
    w.finish().unwrap().into_inner()
}

/// A fixture's zip with one entry replaced by `edit` of it.
fn with_entry(case: &str, name: &str, edit: impl Fn(&mut Vec<u8>)) -> Vec<u8> {
    let mut all = entries(&skops_bytes(case));
    let e = all.iter_mut().find(|(n, _)| n == name).expect("entry");
    edit(&mut e.1);
    write_zip(&all, zip::CompressionMethod::Stored)
}

fn schema(case: &str) -> serde_json::Value {
    let all = entries(&skops_bytes(case));
    let s = &all.iter().find(|(n, _)| n == "schema.json").unwrap().1;
    serde_json::from_slice(s).unwrap()
}

/// The `.npy` entry holding the single tree's nodes of a DecisionTree fixture.
fn nodes_entry(case: &str) -> String {
    let s = schema(case);
    s["content"]["content"]["tree_"]["content"]["content"]["nodes"]["file"]
        .as_str()
        .unwrap()
        .to_string()
}

fn message(r: shaplab::Result<Ensemble>) -> (Error, String) {
    let e = r.expect_err("the file must be refused");
    let m = e.to_string();
    (e, m)
}

/// Asserts the file is refused as malformed (a syntax error), the message holding `parts`.
fn assert_syntax_error(r: shaplab::Result<Ensemble>, parts: &[&str]) {
    let (e, m) = message(r);
    assert!(matches!(e, Error::Syntax { .. }), "{m}");
    for part in parts {
        assert!(m.contains(part), "{part:?} missing from: {m}");
    }
}

/// Asserts a fixture's (valid) skops file is refused under tighter `caps`, the message
/// holding `parts`.
fn assert_refused_under(case: &str, caps: SkopsLimits, parts: &[&str]) {
    let (_, m) = message(from_skops_with_limits(&skops_bytes(case), caps));
    for part in parts {
        assert!(m.contains(part), "{part:?} missing from: {m}");
    }
}

#[test]
fn a_pickle_is_refused_without_being_unpickled() {
    let b = std::fs::read(fixture("sklearn_refusal", "model.pkl")).unwrap();
    let (e, m) = message(Ensemble::from_bytes(&b));
    assert!(matches!(e, Error::Unsupported(_)), "{m}");
    assert!(m.contains("pickle") && m.contains("skops.io.dump"), "{m}");
}

#[test]
fn a_pipeline_is_refused_by_name_with_the_estimators_accepted() {
    let b = std::fs::read(fixture("sklearn_refusal", "unknown_class.skops")).unwrap();
    let (e, m) = message(Ensemble::from_bytes(&b));
    assert!(matches!(e, Error::Unsupported(_)), "{m}");
    assert!(m.contains("sklearn.pipeline.Pipeline"), "{m}");
    assert!(
        m.contains("RandomForestClassifier") && m.contains("HistGradientBoostingRegressor"),
        "{m}"
    );
}

#[test]
fn an_unknown_class_deep_inside_an_estimator_is_refused_naming_class_and_module() {
    let b = with_entry("sk_dt_reg", "schema.json", |s| {
        let mut doc: serde_json::Value = serde_json::from_slice(s).unwrap();
        doc["content"]["content"]["splitter"] = serde_json::json!({
            "__class__": "system", "__module__": "os", "__loader__": "FunctionNode",
            "__id__": 1
        });
        *s = serde_json::to_vec(&doc).unwrap();
    });
    let (e, m) = message(Ensemble::from_bytes(&b));
    assert!(matches!(e, Error::Unsupported(_)), "{m}");
    assert!(
        m.contains("class system (module os)") && m.contains("splitter"),
        "{m}"
    );
    assert!(m.contains("DecisionTreeRegressor"), "{m}");
}

#[test]
fn a_node_kind_that_would_construct_objects_is_refused() {
    let b = with_entry("sk_dt_reg", "schema.json", |s| {
        let mut doc: serde_json::Value = serde_json::from_slice(s).unwrap();
        doc["content"]["content"]["splitter"] = serde_json::json!({
            "__class__": "str", "__module__": "builtins",
            "__loader__": "ConstructorFromReduceNode", "content": {}
        });
        *s = serde_json::to_vec(&doc).unwrap();
    });
    let (_, m) = message(Ensemble::from_bytes(&b));
    assert!(m.contains("ConstructorFromReduceNode"), "{m}");
}

#[test]
fn a_truncated_skops_zip_is_a_syntax_error_at_every_cut() {
    let b = skops_bytes("sk_gb_clf2");
    for cut in (4..b.len()).step_by(997) {
        match Ensemble::from_bytes(&b[..cut]) {
            Err(Error::Syntax { message, .. }) => {
                assert!(message.contains("truncated"), "cut {cut}: {message}")
            }
            other => panic!("cut {cut}: {other:?}"),
        }
    }
}

#[test]
fn random_byte_flips_in_a_skops_zip_never_panic() {
    let original = skops_bytes("sk_rf_clf2");
    let mut state = shaplab::rng::SplitMix64(11);
    for _ in 0..300 {
        let mut b = original.clone();
        for _ in 0..4 {
            let at = (state.next_u64() as usize) % b.len();
            b[at] ^= 1 << (state.next_u64() % 8);
        }
        let _ = Ensemble::from_bytes(&b);
    }
}

#[test]
fn random_byte_flips_inside_the_arrays_and_the_schema_never_panic() {
    // Flipping bytes of the zip mostly trips its CRC; flipping the entries' content and
    // re-zipping reaches the `.npy` and schema readers and the tree checks.
    for case in ["sk_hgb_clf2_cat", "sk_gb_clf3", "sk_rf_clf2"] {
        let all = entries(&skops_bytes(case));
        let mut state = shaplab::rng::SplitMix64(case.len() as u64);
        for _ in 0..60 {
            let mut edited = all.clone();
            let pick = (state.next_u64() as usize) % edited.len();
            let entry = &mut edited[pick].1;
            for _ in 0..3 {
                let at = (state.next_u64() as usize) % entry.len();
                entry[at] ^= 1 << (state.next_u64() % 8);
            }
            let b = write_zip(&edited, zip::CompressionMethod::Stored);
            if let Ok(model) = Ensemble::from_bytes(&b) {
                let f = model.num_features;
                let rows = shaplab::Matrix::new(2, f, [vec![0.25; f], vec![f64::NAN; f]].concat())
                    .unwrap();
                let _ = shaplab::shap_values(&model, &rows);
            }
        }
    }
}

/// 4 MiB of zeros deflate to ~4 KB: a small bomb for small caps.
fn bomb() -> Vec<u8> {
    write_zip(
        &[("schema.json".to_string(), vec![b' '; 4 << 20])],
        zip::CompressionMethod::Deflated,
    )
}

fn small_caps() -> SkopsLimits {
    SkopsLimits {
        max_entry_bytes: 1 << 20,
        max_schema_bytes: 1 << 20,
        ..SkopsLimits::default()
    }
}

#[test]
fn a_zip_bomb_entry_claiming_more_than_the_cap_is_refused_before_inflating() {
    let b = bomb();
    assert!(b.len() < 64 << 10);
    assert_syntax_error(
        from_skops_with_limits(&b, small_caps()),
        &["claims 4194304 uncompressed bytes"],
    );
}

#[test]
fn a_zip_bomb_lying_about_its_size_stops_inflating_at_the_cap() {
    // Patch the claimed uncompressed size (local header offset 22, central header offset
    // 24) down to 100 bytes: the content still inflates to 4 MiB.
    let mut b = bomb();
    let local = 0;
    let central = b
        .windows(4)
        .position(|w| w == b"PK\x01\x02")
        .expect("central directory");
    b[local + 22..local + 26].copy_from_slice(&100u32.to_le_bytes());
    b[central + 24..central + 28].copy_from_slice(&100u32.to_le_bytes());
    assert_syntax_error(from_skops_with_limits(&b, small_caps()), &["schema.json"]);
}

#[test]
fn a_zip_with_more_entries_than_the_cap_is_refused() {
    let caps = SkopsLimits {
        max_entries: 2,
        ..SkopsLimits::default()
    };
    assert_refused_under(
        "sk_dt_reg",
        caps,
        &["more than the 2 a skops file may hold"],
    );
}

#[test]
fn an_npy_header_claiming_more_nodes_than_it_holds_is_refused() {
    let name = nodes_entry("sk_dt_reg");
    let b = with_entry("sk_dt_reg", &name, |npy| {
        let key = b"'shape': (";
        let start = npy.windows(key.len()).position(|w| w == key).unwrap() + key.len();
        let end = start + npy[start..].iter().position(|&c| c == b',').unwrap();
        let n: usize = std::str::from_utf8(&npy[start..end])
            .unwrap()
            .parse()
            .unwrap();
        // Same width, so the header length stays valid: only its claim changes.
        let lie = format!("{:0width$}", n + 1, width = end - start);
        npy.splice(start..end, lie.bytes());
    });
    assert_syntax_error(
        Ensemble::from_bytes(&b),
        &["64-byte items", "bytes follow it"],
    );
}

#[test]
fn a_tree_whose_child_points_back_to_the_root_is_rejected_as_a_cycle() {
    let name = nodes_entry("sk_dt_reg");
    let b = with_entry("sk_dt_reg", &name, |npy| {
        let body = npy.iter().position(|&c| c == b'\n').unwrap() + 1;
        // Node 1 is the root's left child and internal in a depth-limited tree; its
        // left_child (the record's first i8) now points at the root.
        let at = body + 64;
        assert!(i64::from_le_bytes(npy[at..at + 8].try_into().unwrap()) > 0);
        npy[at..at + 8].copy_from_slice(&0i64.to_le_bytes());
    });
    let (e, m) = message(Ensemble::from_bytes(&b));
    assert!(matches!(e, Error::InvalidTree { .. }), "{m}");
    assert!(m.contains("cycle"), "{m}");
}

#[test]
fn a_schema_naming_an_entry_outside_the_zip_or_a_path_is_refused() {
    for file in ["../../etc/passwd", "nope.npy"] {
        let name = nodes_entry("sk_dt_reg");
        let b = with_entry("sk_dt_reg", "schema.json", |s| {
            let text = String::from_utf8(s.clone()).unwrap();
            *s = text.replace(&name, file).into_bytes();
        });
        let (e, m) = message(Ensemble::from_bytes(&b));
        assert!(matches!(e, Error::Syntax { .. }), "{file}: {m}");
    }
}

#[test]
fn a_zip_without_schema_json_is_a_syntax_error() {
    let b = write_zip(
        &[("data.npy".to_string(), vec![0; 10])],
        zip::CompressionMethod::Stored,
    );
    assert_syntax_error(Ensemble::from_bytes(&b), &["no schema.json"]);
}

#[test]
fn reading_past_the_total_inflate_cap_is_refused() {
    let caps = SkopsLimits {
        max_total_bytes: 20_000,
        ..SkopsLimits::default()
    };
    assert_refused_under("sk_rf_reg", caps, &["20000-byte total cap"]);
}

#[test]
fn a_schema_json_larger_than_its_cap_is_refused() {
    let caps = SkopsLimits {
        max_schema_bytes: 1000,
        ..SkopsLimits::default()
    };
    assert_refused_under("sk_dt_reg", caps, &["schema.json", "1000-byte cap"]);
}

/// The nodes of a tree as scikit-learn < 1.3 saved them: 56-byte records, no
/// missing_go_to_left.
fn without_missing_routing(npy: &mut Vec<u8>) {
    let body = npy.iter().position(|&c| c == b'\n').unwrap() + 1;
    let n = (npy.len() - body) / 64;
    let fields: Vec<String> = [
        ("left_child", "<i8"),
        ("right_child", "<i8"),
        ("feature", "<i8"),
        ("threshold", "<f8"),
        ("impurity", "<f8"),
        ("n_node_samples", "<i8"),
        ("weighted_n_node_samples", "<f8"),
    ]
    .iter()
    .map(|(f, t)| format!("('{f}', '{t}')"))
    .collect();
    let mut header = format!(
        "{{'descr': [{}], 'fortran_order': False, 'shape': ({n},), }}",
        fields.join(", ")
    );
    while !(10 + header.len() + 1).is_multiple_of(64) {
        header.push(' ');
    }
    header.push('\n');
    let mut out = b"\x93NUMPY\x01\x00".to_vec();
    out.extend((header.len() as u16).to_le_bytes());
    out.extend(header.as_bytes());
    for i in 0..n {
        out.extend(&npy[body + 64 * i..body + 64 * i + 56]);
    }
    *npy = out;
}

#[test]
fn a_tree_saved_before_sklearn_1_3_loads_and_sends_missing_values_right() {
    let case = &cases()[0];
    assert_eq!(case.name(), "sk_dt_reg");
    let old = Ensemble::from_bytes(&with_entry(
        "sk_dt_reg",
        &nodes_entry("sk_dt_reg"),
        without_missing_routing,
    ))
    .unwrap();
    assert_note(&old.notes, "< 1.3");
    let (new, rows) = load(case).unwrap();
    for r in 0..rows.rows {
        assert_eq!(
            old.predict(rows.row(r)),
            new.predict(rows.row(r)),
            "row {r}"
        );
    }
    let mut row = rows.row(0).to_vec();
    row.iter_mut().for_each(|x| *x = f64::NAN);
    // With every feature missing, each split goes right: the root's rightmost leaf.
    let tree = &old.trees[0];
    let mut node = 0;
    while !tree.is_leaf(node) {
        node = tree.children(node).1;
    }
    assert_eq!(old.predict(&row), vec![tree.predict_leaf_value(node)]);
}
