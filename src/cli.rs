//! `shaplab explain`: the engine from the command line, streaming CSV or Parquet in and CSV out.
//!
//! The server binary embeds [`ExplainArgs`] in its own clap parser and calls [`run_explain`];
//! `examples/explain.rs` does the same for benchmarks without the server.

use crate::data::Matrix;
use crate::error::{Error, Result};
use crate::explain::{
    Background, Output, PathExplainer, interaction_values, interventional_values,
};
use crate::model::Ensemble;
use crate::output::{RowWriter, interaction_header, shap_header};
use crate::rng::SplitMix64;
use crate::rows::{DataRows, RowBlocks};
use std::io::IsTerminal;
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// Default size of the background sample drawn from the data.
pub const DEFAULT_BACKGROUND_ROWS: usize = 100;
/// Seed of the background sample, fixed so reruns give the same values.
pub const BACKGROUND_SEED: u64 = 0x5EED_0005_4A9B;
/// Most rows accepted in a `--background` file: interventional cost grows linearly with them,
/// and shap's own default is a sample of 100.
pub const MAX_BACKGROUND_ROWS: usize = 10_000;
/// Values held in memory per streamed block (rows × values per row), about 64 MB of f64.
const BLOCK_VALUES: usize = 8 << 20;

/// Arguments of `shaplab explain`.
#[derive(clap::Args, Debug, Clone)]
pub struct ExplainArgs {
    /// Model file: XGBoost JSON or UBJSON (save_model), or LightGBM text.
    #[arg(long)]
    pub model: PathBuf,
    /// Data file: CSV with a header row, or Parquet (recognised by content, not by name);
    /// columns are matched to the model's features by name.
    #[arg(long)]
    pub data: PathBuf,
    /// Where to write the SHAP values CSV.
    #[arg(long)]
    pub out: PathBuf,
    /// Explain the raw margin or the probability (probability needs background rows).
    #[arg(long, value_enum, default_value_t = Output::Raw)]
    pub output: Output,
    /// Background rows (CSV or Parquet): switches to interventional TreeSHAP against these rows.
    #[arg(long, conflicts_with = "background_rows")]
    pub background: Option<PathBuf>,
    /// Interventional TreeSHAP against a seeded sample of this many data rows
    /// (default 100 when `--output probability` is asked without a background).
    #[arg(long)]
    pub background_rows: Option<usize>,
    /// Also write path-dependent interaction values to this CSV.
    #[arg(long)]
    pub interactions: Option<PathBuf>,
    /// Recompute the model's node covers from the --data rows before path-dependent
    /// TreeSHAP: for models that store none (ONNX), whose values are then labelled as such.
    #[arg(long, conflicts_with_all = ["background", "background_rows"])]
    pub covers_from_data: bool,
    /// Worker threads (default: all cores).
    #[arg(long)]
    pub threads: Option<usize>,
}

/// Which algorithm a run used.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Method {
    PathDependent,
    Interventional { background_rows: usize },
}

/// What a run did, for the caller and the summary line.
#[derive(Clone, Debug)]
pub struct RunSummary {
    pub rows: usize,
    pub features: usize,
    pub outputs: usize,
    pub seconds: f64,
    pub rows_per_second: f64,
    pub method: Method,
    pub output: Output,
    /// How columns were matched, and any notes from the model loader.
    pub notes: Vec<String>,
}

impl std::fmt::Display for RunSummary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let method = match &self.method {
            Method::PathDependent => "path-dependent TreeSHAP".to_string(),
            Method::Interventional { background_rows } => {
                format!("interventional TreeSHAP ({background_rows} background rows)")
            }
        };
        let output = match self.output {
            Output::Raw => "raw",
            Output::Probability => "probability",
        };
        write!(
            f,
            "explained {} rows × {} features × {} output(s) in {:.3} s ({:.0} rows/s), {method}, {output} output",
            self.rows, self.features, self.outputs, self.seconds, self.rows_per_second
        )?;
        for n in &self.notes {
            write!(f, "; {n}")?;
        }
        Ok(())
    }
}

/// Run `shaplab explain` and print the one-line summary on stderr.
pub fn run_explain(args: &ExplainArgs) -> Result<RunSummary> {
    let mut builder = rayon::ThreadPoolBuilder::new();
    if let Some(n) = args.threads {
        if n == 0 {
            return Err(Error::InvalidArgs("--threads must be at least 1".into()));
        }
        builder = builder.num_threads(n);
    }
    let pool = builder
        .build()
        .map_err(|e| Error::InvalidArgs(format!("cannot start {:?} threads: {e}", args.threads)))?;
    let summary = pool.install(|| explain(args))?;
    eprintln!("{summary}");
    Ok(summary)
}

fn explain(args: &ExplainArgs) -> Result<RunSummary> {
    let start = Instant::now();
    let mut model = Ensemble::from_path(&args.model)?;
    if args.covers_from_data {
        let rows = DataRows::open(&args.data, &model)?.read_all()?;
        model.recompute_covers(&rows, "the data file")?;
    }
    let model = model;
    let interventional = args.background.is_some()
        || args.background_rows.is_some()
        || args.output == Output::Probability;
    if interventional && args.interactions.is_some() {
        return Err(Error::InvalidArgs(
            "interaction values are path-dependent only (as in shap); drop --interactions or the \
             background/probability options"
                .into(),
        ));
    }
    let background = if interventional {
        let bg = match &args.background {
            Some(path) => {
                let mut rows = DataRows::open(path, &model)?;
                let mut all = Matrix::new(0, model.num_features, Vec::new())?;
                while let Some(block) = rows.next_block(4096)? {
                    all.rows += block.rows;
                    all.values.extend_from_slice(&block.values);
                    if all.rows > MAX_BACKGROUND_ROWS {
                        return Err(Error::InvalidArgs(format!(
                            "the background file has more than {MAX_BACKGROUND_ROWS} rows; pass a \
                             smaller sample, or use --background-rows N to sample the data"
                        )));
                    }
                }
                all
            }
            None => {
                let n = args.background_rows.unwrap_or(DEFAULT_BACKGROUND_ROWS);
                if n == 0 {
                    return Err(Error::InvalidArgs(
                        "--background-rows must be at least 1".into(),
                    ));
                }
                reservoir_sample(&mut DataRows::open(&args.data, &model)?, n, BACKGROUND_SEED)?
            }
        };
        Some(Background::new(&model, bg)?)
    } else {
        None
    };

    let mut data = DataRows::open(&args.data, &model)?;
    let names = data.map().names.clone();
    let f = model.num_features;
    let k = model.num_outputs;
    let mut out = RowWriter::create(&args.out, &shap_header(&names, k))?;
    let mut inter = match &args.interactions {
        Some(p) => Some(RowWriter::create(p, &interaction_header(&names, k))?),
        None => None,
    };
    let width = k * (f + 1);
    let inter_width = k * (f + 1) * (f + 1);
    let per_row = if inter.is_some() {
        width + inter_width
    } else {
        width
    };
    let block_rows = (BLOCK_VALUES / per_row.max(1)).clamp(1, 1 << 14);
    let progress = std::io::stderr().is_terminal();
    let mut last_progress = Instant::now();
    let mut rows = 0;
    let path = PathExplainer::new(&model);
    while let Some(block) = data.next_block(block_rows)? {
        let values = match &background {
            Some(bg) => interventional_values(&model, &block, bg, args.output)?,
            None => path.explain(&block)?,
        };
        out.rows(&values.values, width)?;
        if let Some(w) = inter.as_mut() {
            w.rows(&interaction_values(&model, &block)?, inter_width)?;
        }
        rows += block.rows;
        if progress && last_progress.elapsed() > Duration::from_millis(500) {
            last_progress = Instant::now();
            let secs = start.elapsed().as_secs_f64();
            eprint!(
                "\r{rows} rows explained ({:.0} rows/s)…",
                rows as f64 / secs
            );
        }
    }
    if progress && rows > 0 {
        eprint!("\r\x1b[K");
    }
    out.finish()?;
    if let Some(w) = inter {
        w.finish()?;
    }
    let seconds = start.elapsed().as_secs_f64();
    let mut notes = vec![data.map().describe()];
    notes.extend(model.notes.iter().cloned());
    Ok(RunSummary {
        rows,
        features: f,
        outputs: k,
        seconds,
        rows_per_second: if seconds > 0.0 {
            rows as f64 / seconds
        } else {
            0.0
        },
        method: match &background {
            Some(bg) => Method::Interventional {
                background_rows: bg.rows.rows,
            },
            None => Method::PathDependent,
        },
        output: args.output,
        notes,
    })
}

/// A seeded uniform sample of at most `n` rows in one streaming pass (reservoir sampling), kept
/// in file order so the background does not depend on how the file was chunked. Generic over
/// the reader so a caller holding a `CsvRows` (the server) and one holding `DataRows` both fit.
pub fn reservoir_sample<R: RowBlocks + ?Sized>(
    rows: &mut R,
    n: usize,
    seed: u64,
) -> Result<Matrix> {
    let mut rng = SplitMix64(seed);
    let mut kept: Vec<(usize, Vec<f64>)> = Vec::with_capacity(n);
    let mut seen = 0usize;
    let mut cols = 0;
    while let Some(block) = rows.next_block(4096)? {
        cols = block.cols;
        for i in 0..block.rows {
            if kept.len() < n {
                kept.push((seen, block.row(i).to_vec()));
            } else {
                let j = rng.below(seen + 1);
                if j < n {
                    kept[j] = (seen, block.row(i).to_vec());
                }
            }
            seen += 1;
        }
    }
    if kept.is_empty() {
        return Err(Error::InvalidData(
            "the data has no rows to sample a background from".into(),
        ));
    }
    kept.sort_by_key(|(i, _)| *i);
    let count = kept.len();
    Matrix::new(count, cols, kept.into_iter().flat_map(|(_, r)| r).collect())
}
