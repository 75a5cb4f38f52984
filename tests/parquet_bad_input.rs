//! Parquet input that cannot be explained is refused with a message a person can act on:
//! truncated or damaged files (never a panic), columns missing, words in numeric features,
//! nested and timestamp columns.

mod parquet_table;

use parquet_table::Layout;
use parquet_table::Values;
use parquet_table::cases::{fixture, mixed_table, scratch, write_both};
use shaplab::describe::describe_data;
use shaplab::{DataRows, Ensemble, Error};
use std::path::{Path, PathBuf};

/// A valid Parquet file's bytes (the mixed table).
fn valid_parquet_bytes() -> Vec<u8> {
    let (parquet, _) = write_both(&mixed_table(), "valid", Layout::default());
    std::fs::read(parquet).unwrap()
}

fn assert_not_parquet_or_truncated(path: &Path, model: &Ensemble) {
    for err in [
        DataRows::open(path, model).err().unwrap(),
        describe_data(path).unwrap_err(),
    ] {
        match err {
            Error::InvalidData(m) => assert!(m.contains("not a Parquet file or truncated"), "{m}"),
            other => panic!("{other}"),
        }
    }
}

#[test]
fn a_truncated_parquet_file_or_one_with_the_magic_only_at_its_start_is_refused_plainly() {
    let model = Ensemble::from_path(&fixture("xgb_reg_d3", "model.json")).unwrap();
    let bytes = valid_parquet_bytes();
    for cut in [bytes.len() - 1, bytes.len() - 40, bytes.len() / 2, 5] {
        let p = scratch(&format!("truncated_{cut}.bin"));
        std::fs::write(&p, &bytes[..cut]).unwrap();
        assert!(shaplab::is_parquet(&p).unwrap(), "cut at {cut}");
        assert_not_parquet_or_truncated(&p, &model);
    }
    let p = scratch("magic_at_start_only.bin");
    std::fs::write(
        &p,
        b"PAR1\x15\x04\x15\x80\x01\x00garbage that is not parquet",
    )
    .unwrap();
    assert_not_parquet_or_truncated(&p, &model);
    // Only text after the letters PAR1: a CSV whose first column is named PAR1.
    let p = scratch("par1_header.csv");
    std::fs::write(&p, "PAR1,x\n1,2\n").unwrap();
    assert!(!shaplab::is_parquet(&p).unwrap());
    assert_eq!(describe_data(&p).unwrap().columns, ["PAR1", "x"]);
}

#[test]
fn a_parquet_file_lacking_model_columns_lists_them() {
    let model = Ensemble::from_path(&fixture("xgb_reg_d3", "model.json")).unwrap();
    let mut table = mixed_table();
    table
        .columns
        .retain(|c| ["age", "sex", "bmi"].contains(&c.name.as_str()));
    let (parquet, _) = write_both(&table, "missing", Layout::default());
    match DataRows::open(&parquet, &model).err().unwrap() {
        Error::MissingColumns(cols) => {
            assert_eq!(cols.len(), 7);
            assert!(cols.contains(&"bp".to_string()));
        }
        other => panic!("{other}"),
    }
}

#[test]
fn a_word_in_a_numeric_feature_names_its_row_and_column() {
    let model = Ensemble::from_path(&fixture("xgb_reg_d3", "model.json")).unwrap();
    let mut table = mixed_table();
    if let Values::Text(cells) = &mut table.columns[5].values {
        cells[16] = Some("oops".into());
    }
    let (parquet, _) = write_both(&table, "word", Layout::default());
    let mut rows = DataRows::open(&parquet, &model).unwrap();
    match rows.read_all().unwrap_err() {
        Error::NotANumber { row, column, value } => {
            assert_eq!((row, column.as_str(), value.as_str()), (17, "s2", "oops"));
        }
        other => panic!("{other}"),
    }
    // The columns now stand at different rows: the reader refuses to go on.
    let err = rows.next_block(10).unwrap_err();
    assert!(err.to_string().contains("open the file again"), "{err}");
}

/// A one-row-group file with a hand-written schema: `write` fills the columns in order.
fn write_raw(
    name: &str,
    message: &str,
    write: impl Fn(usize, &mut parquet::file::writer::SerializedColumnWriter<'_>),
) -> PathBuf {
    use std::sync::Arc;
    let path = scratch(name);
    let schema = Arc::new(parquet::schema::parser::parse_message_type(message).unwrap());
    let props = Arc::new(parquet::file::properties::WriterProperties::builder().build());
    let file = std::fs::File::create(&path).unwrap();
    let mut writer = parquet::file::writer::SerializedFileWriter::new(file, schema, props).unwrap();
    let mut group = writer.next_row_group().unwrap();
    let mut i = 0;
    while let Some(mut column) = group.next_column().unwrap() {
        write(i, &mut column);
        column.close().unwrap();
        i += 1;
    }
    group.close().unwrap();
    writer.close().unwrap();
    path
}

#[test]
fn nested_and_timestamp_columns_feeding_a_feature_are_refused_by_name_and_ignored_otherwise() {
    use parquet::data_type::{DoubleType, Int32Type, Int64Type};
    let model = Ensemble::from_path(&fixture("xgb_reg_d3", "model.json")).unwrap();
    let features = [
        "age", "sex", "bmi", "bp", "s1", "s2", "s3", "s4", "s5", "s6",
    ];
    let message = |first: &str, extra: &str| {
        let rest: Vec<String> = features[1..]
            .iter()
            .map(|f| format!("required double {f};"))
            .collect();
        format!("message m {{ {first} {} {extra} }}", rest.join(" "))
    };
    let doubles = |c: &mut parquet::file::writer::SerializedColumnWriter<'_>| {
        c.typed::<DoubleType>()
            .write_batch(&[0.01, 0.02], None, None)
            .unwrap();
    };
    // `age` as a struct: refused, naming the column.
    let p = write_raw(
        "nested.parquet",
        &message("optional group age { optional double value; }", ""),
        |i, c| {
            if i == 0 {
                c.typed::<DoubleType>()
                    .write_batch(&[0.01], Some(&[2, 0]), None)
                    .unwrap();
            } else {
                doubles(c);
            }
        },
    );
    let err = DataRows::open(&p, &model).err().unwrap();
    assert!(err.to_string().contains("\"age\" is nested"), "{err}");
    // A timestamp feeding `age`: refused with its type.
    let p = write_raw(
        "timestamp.parquet",
        &message("required int64 age (TIMESTAMP_MILLIS);", ""),
        |i, c| {
            if i == 0 {
                c.typed::<Int64Type>()
                    .write_batch(&[1, 2], None, None)
                    .unwrap();
            } else {
                doubles(c);
            }
        },
    );
    let err = DataRows::open(&p, &model).err().unwrap();
    assert!(
        err.to_string().contains("\"age\" holds dates and times"),
        "{err}"
    );
    // An unused list column is ignored when explaining and listed when describing.
    let p = write_raw(
        "unused_list.parquet",
        &message("required double age;", "repeated int32 tags;"),
        |i, c| {
            if i == features.len() {
                c.typed::<Int32Type>()
                    .write_batch(&[1, 2, 3], Some(&[1, 1, 1]), Some(&[0, 1, 0]))
                    .unwrap();
            } else {
                doubles(c);
            }
        },
    );
    let rows = DataRows::open(&p, &model).unwrap().read_all().unwrap();
    assert_eq!((rows.rows, rows.row(1)[0]), (2, 0.02));
    let summary = describe_data(&p).unwrap();
    assert_eq!(summary.columns.last().map(String::as_str), Some("tags"));
    assert_eq!(summary.rows, 2);
}

/// Random byte edits anywhere in a valid file. The parquet crate panics on some of them (a
/// dictionary page missing, a negative offset); the engine must turn every one into an error.
/// More rounds: `SHAPLAB_FUZZ_ROUNDS=5000` (5000 rounds found the panics the reader guards).
#[test]
fn damaged_parquet_bytes_give_errors_never_panics() {
    let model = Ensemble::from_path(&fixture("xgb_reg_d3", "model.json")).unwrap();
    let original = valid_parquet_bytes();
    let mut rng = shaplab::rng::SplitMix64(7);
    let p = scratch("fuzzed.parquet");
    let rounds = std::env::var("SHAPLAB_FUZZ_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(300);
    let mut refused = 0;
    for _ in 0..rounds {
        let mut bytes = original.clone();
        for _ in 0..1 + rng.below(4) {
            let i = rng.below(bytes.len());
            bytes[i] = rng.below(256) as u8;
        }
        std::fs::write(&p, &bytes).unwrap();
        // A flipped value byte can read as another number: only damage to structure is seen.
        if let Err(e) = DataRows::open(&p, &model).and_then(|mut rows| rows.read_all()) {
            assert!(e.is_user_error(), "{e}");
            refused += 1;
        }
        let _ = DataRows::open_at_row(&p, &model, 17).map(|r| r.map(|mut r| r.read_all()));
        let _ = describe_data(&p);
    }
    assert!(
        refused > rounds / 2,
        "{refused} of {rounds} damaged files refused"
    );
}
