//! Parquet input that cannot be explained is refused with a message a person can act on:
//! truncated or damaged files (never a panic), columns missing, words in numeric features,
//! nested and timestamp columns.

mod parquet_table;
mod support;

use parquet::file::writer::SerializedColumnWriter;
use parquet_table::Layout;
use parquet_table::Values;
use parquet_table::cases::{mixed_model, mixed_table, write_both};
use shaplab::describe::describe_data;
use shaplab::{DataRows, Ensemble, Error};
use std::path::{Path, PathBuf};
use support::files::scratch;

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
    let model = mixed_model();
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
    let model = mixed_model();
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
    let model = mixed_model();
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

/// xgb_reg_d3's features, in order.
const FEATURES: [&str; 10] = [
    "age", "sex", "bmi", "bp", "s1", "s2", "s3", "s4", "s5", "s6",
];

/// A one-row-group file of two rows holding the model's ten features as required doubles,
/// except that `first` declares the first feature's column and `extra` adds columns after
/// them; `write_special` fills column `special`, every other column gets two doubles.
fn write_features(
    name: &str,
    first: &str,
    extra: &str,
    special: usize,
    write_special: impl Fn(&mut SerializedColumnWriter<'_>),
) -> PathBuf {
    use parquet::data_type::DoubleType;
    use std::sync::Arc;
    let rest: Vec<String> = FEATURES[1..]
        .iter()
        .map(|f| format!("required double {f};"))
        .collect();
    let message = format!("message m {{ {first} {} {extra} }}", rest.join(" "));
    let path = scratch(name);
    let schema = Arc::new(parquet::schema::parser::parse_message_type(&message).unwrap());
    let props = Arc::new(parquet::file::properties::WriterProperties::builder().build());
    let file = std::fs::File::create(&path).unwrap();
    let mut writer = parquet::file::writer::SerializedFileWriter::new(file, schema, props).unwrap();
    let mut group = writer.next_row_group().unwrap();
    let mut i = 0;
    while let Some(mut column) = group.next_column().unwrap() {
        if i == special {
            write_special(&mut column);
        } else {
            column
                .typed::<DoubleType>()
                .write_batch(&[0.01, 0.02], None, None)
                .unwrap();
        }
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
    let model = mixed_model();
    // `age` as a struct: refused, naming the column.
    let p = write_features(
        "nested.parquet",
        "optional group age { optional double value; }",
        "",
        0,
        |c| {
            c.typed::<DoubleType>()
                .write_batch(&[0.01], Some(&[2, 0]), None)
                .unwrap();
        },
    );
    let err = DataRows::open(&p, &model).err().unwrap();
    assert!(err.to_string().contains("\"age\" is nested"), "{err}");
    // A timestamp feeding `age`: refused with its type.
    let p = write_features(
        "timestamp.parquet",
        "required int64 age (TIMESTAMP_MILLIS);",
        "",
        0,
        |c| {
            c.typed::<Int64Type>()
                .write_batch(&[1, 2], None, None)
                .unwrap();
        },
    );
    let err = DataRows::open(&p, &model).err().unwrap();
    assert!(
        err.to_string().contains("\"age\" holds dates and times"),
        "{err}"
    );
    // An unused list column is ignored when explaining and listed when describing.
    let p = write_features(
        "unused_list.parquet",
        "required double age;",
        "repeated int32 tags;",
        FEATURES.len(),
        |c| {
            c.typed::<Int32Type>()
                .write_batch(&[1, 2, 3], Some(&[1, 1, 1]), Some(&[0, 1, 0]))
                .unwrap();
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
    let model = mixed_model();
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
