//! Any bytes as a data file (CSV or Parquet, detected by content), read against a small
//! LightGBM model with a categorical feature (fixtures/lgb_cat_binary) and explained.
#![no_main]

use std::sync::OnceLock;

static MODEL: OnceLock<shaplab::Ensemble> = OnceLock::new();

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let model = MODEL.get_or_init(|| {
        // The engine catches the parquet crate's panics on damaged files
        // (`src/parquet/column.rs`, `guarded`); libFuzzer's panic hook would abort on them
        // before the catch, so the default hook is restored. A panic that escapes the engine
        // still aborts the run: libfuzzer-sys checks every call.
        drop(std::panic::take_hook());
        let bytes = include_bytes!("../../fixtures/lgb_cat_binary/model.txt");
        shaplab::Ensemble::from_bytes(bytes).expect("the fixture loads")
    });
    let scratch = std::env::temp_dir().join(format!("shaplab-fuzz-table-{}", std::process::id()));
    shaplab::fuzzing::table_file(data, model, &scratch);
});
