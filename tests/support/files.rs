//! Where tests find fixtures and put scratch files, and the small readers and argument
//! builders several test binaries would otherwise each spell out.

use shaplab::{DataRows, Ensemble, ExplainArgs, Matrix, Output};
use std::path::{Path, PathBuf};

/// The fixtures directory (written by scripts/gen_fixtures.py; no Python needed to read it).
pub fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures")
}

/// One file of one fixture case.
pub fn fixture(case: &str, file: &str) -> PathBuf {
    fixtures().join(case).join(file)
}

/// A scratch directory of its own under the system temp dir. The test binary's name and
/// process id keep binaries running at the same time apart; `tag` keeps a test that deletes
/// its directory when done from deleting files another test of the binary is using.
pub fn scratch_dir(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "shaplab-{}-{tag}-{}",
        env!("CARGO_CRATE_NAME"),
        std::process::id()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A file in the binary's shared scratch directory, which is left behind: each test uses
/// names of its own, so nothing needs cleaning up between tests.
pub fn scratch(name: &str) -> PathBuf {
    scratch_dir("files").join(name)
}

/// Rows of a data file as the CLI reads them: CSV or Parquet, chosen by content.
pub fn read_rows(path: &Path, model: &Ensemble) -> Result<Matrix, String> {
    DataRows::open(path, model)
        .and_then(|mut r| r.read_all())
        .map_err(|e| format!("{}: {e}", path.display()))
}

/// The cells of a simple CSV file (no quoted commas): the header, then rows of cells, an
/// empty cell as `None` (a null, or a missing value).
pub fn read_csv_cells(path: &Path) -> (Vec<String>, Vec<Vec<Option<String>>>) {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut lines = text.lines();
    let header = lines
        .next()
        .unwrap()
        .split(',')
        .map(str::to_string)
        .collect();
    let rows = lines
        .map(|l| {
            l.split(',')
                .map(|c| (!c.is_empty()).then(|| c.to_string()))
                .collect()
        })
        .collect();
    (header, rows)
}

/// `shaplab explain` of `data` with `model` into `out` with every option at its default,
/// on two threads so the parallel path is the one under test.
pub fn explain_args(model: PathBuf, data: PathBuf, out: PathBuf) -> ExplainArgs {
    ExplainArgs {
        model,
        data,
        out,
        output: Output::Raw,
        background: None,
        background_rows: None,
        interactions: None,
        covers_from_data: false,
        threads: Some(2),
    }
}

/// Asserts that one of `notes` (a model's or a run's) mentions `part`, showing them all if not.
pub fn assert_note(notes: &[String], part: &str) {
    assert!(
        notes.iter().any(|n| n.contains(part)),
        "no note mentions {part:?}: {notes:?}"
    );
}
