//! `CsvRows::open_at_row`: the row explorer's jump to one row must read exactly the row a
//! full parse would give, however the file is written.

use shaplab::{CsvRows, Ensemble};
use std::path::PathBuf;

fn fixture(file: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures")
        .join("xgb_reg_d3")
        .join(file)
}

/// Every row read by a full parse, then each one again by seeking straight to it.
fn seeks_match_a_full_parse(csv: &std::path::Path, model: &Ensemble) {
    let all = CsvRows::open(csv, model).unwrap().read_all().unwrap();
    for row in 0..all.rows {
        let mut rows = CsvRows::open_at_row(csv, model, row as u64)
            .unwrap()
            .unwrap_or_else(|| panic!("row {row} not found"));
        let block = rows.next_block(1).unwrap().unwrap();
        let (got, want) = (block.row(0), all.row(row));
        assert!(
            got.iter()
                .zip(want)
                .all(|(a, b)| a == b || (a.is_nan() && b.is_nan())),
            "row {row}: {got:?} != {want:?}"
        );
    }
    // Past the end: either no offset at all, or one at the very end that reads no row.
    let past = CsvRows::open_at_row(csv, model, all.rows as u64).unwrap();
    assert!(past.is_none_or(|mut r| r.next_block(1).unwrap().is_none()));
    assert!(
        CsvRows::open_at_row(csv, model, all.rows as u64 + 1)
            .unwrap()
            .is_none()
    );
}

#[test]
fn seeking_to_a_row_reads_what_a_full_parse_reads() {
    let model = Ensemble::from_path(&fixture("model.json")).unwrap();
    seeks_match_a_full_parse(&fixture("data.csv"), &model);
}

#[test]
fn quoted_newlines_blank_lines_and_crlf_do_not_shift_the_rows() {
    let model = Ensemble::from_path(&fixture("model.json")).unwrap();
    let text = std::fs::read_to_string(fixture("data.csv")).unwrap();
    let mut lines = text.lines();
    // A quoted header cell with a newline in an extra column, CRLF endings, blank lines.
    let header = format!("{},\"note\nwith newline\"", lines.next().unwrap());
    let mut out = format!("{header}\r\n\r\n");
    for (i, line) in lines.enumerate() {
        let note = if i % 3 == 0 {
            "\"a \"\"quoted\"\"\nnote\""
        } else {
            "plain"
        };
        out.push_str(&format!("{line},{note}\r\n"));
        if i % 5 == 0 {
            out.push_str("\r\n");
        }
    }
    let dir = std::env::temp_dir().join(format!("shaplab-row-seek-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let csv = dir.join("awkward.csv");
    std::fs::write(&csv, out).unwrap();
    seeks_match_a_full_parse(&csv, &model);
    std::fs::remove_dir_all(&dir).unwrap();
}
