//! CSV writers for SHAP values and interaction values.
//!
//! Numbers are written with `ryu` (shortest representation that parses back to the same f64),
//! so a reader recovers every bit the engine computed.

use crate::error::{Error, Result};
use std::io::Write;
use std::path::{Path, PathBuf};

/// Quote a header cell when CSV requires it.
fn quote(name: &str) -> String {
    if name.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", name.replace('"', "\"\""))
    } else {
        name.to_string()
    }
}

/// The OUT.csv header: per output the feature names then `base_value`; with K > 1 outputs every
/// column carries `[k]`.
pub fn shap_header(names: &[String], outputs: usize) -> String {
    let mut cols = Vec::with_capacity(outputs * (names.len() + 1));
    for k in 0..outputs {
        let suffix = if outputs > 1 {
            format!("[{k}]")
        } else {
            String::new()
        };
        for n in names {
            cols.push(quote(&format!("{n}{suffix}")));
        }
        cols.push(format!("base_value{suffix}"));
    }
    cols.join(",")
}

/// The INTER.csv header: per output the (F+1)² cells `a:b` (R's interaction notation),
/// row-major, `bias` last.
pub fn interaction_header(names: &[String], outputs: usize) -> String {
    let mut all: Vec<String> = names.to_vec();
    all.push("bias".into());
    let mut cols = Vec::with_capacity(outputs * all.len() * all.len());
    for k in 0..outputs {
        let suffix = if outputs > 1 {
            format!("[{k}]")
        } else {
            String::new()
        };
        for a in &all {
            for b in &all {
                cols.push(quote(&format!("{a}:{b}{suffix}")));
            }
        }
    }
    cols.join(",")
}

/// A buffered CSV file that writes rows of f64.
pub struct RowWriter {
    out: std::io::BufWriter<std::fs::File>,
    path: PathBuf,
    buf: ryu::Buffer,
}

impl RowWriter {
    pub fn create(path: &Path, header: &str) -> Result<Self> {
        let file = std::fs::File::create(path).map_err(|source| Error::Io {
            action: "cannot create",
            path: path.to_path_buf(),
            source,
        })?;
        let mut w = RowWriter {
            out: std::io::BufWriter::with_capacity(1 << 20, file),
            path: path.to_path_buf(),
            buf: ryu::Buffer::new(),
        };
        w.raw(header.as_bytes())?;
        w.raw(b"\n")?;
        Ok(w)
    }

    fn raw(&mut self, bytes: &[u8]) -> Result<()> {
        self.out.write_all(bytes).map_err(|source| Error::Io {
            action: "cannot write",
            path: self.path.clone(),
            source,
        })
    }

    /// Write `values` as consecutive lines of `width` numbers.
    pub fn rows(&mut self, values: &[f64], width: usize) -> Result<()> {
        let RowWriter { out, path, buf } = self;
        let mut write = || -> std::io::Result<()> {
            for row in values.chunks(width.max(1)) {
                for (i, v) in row.iter().enumerate() {
                    if i > 0 {
                        out.write_all(b",")?;
                    }
                    if v.is_finite() {
                        out.write_all(buf.format_finite(*v).as_bytes())?;
                    } else {
                        write!(out, "{v}")?;
                    }
                }
                out.write_all(b"\n")?;
            }
            Ok(())
        };
        write().map_err(|source| Error::Io {
            action: "cannot write",
            path: path.clone(),
            source,
        })
    }

    pub fn finish(mut self) -> Result<()> {
        self.out.flush().map_err(|source| Error::Io {
            action: "cannot write",
            path: self.path.clone(),
            source,
        })
    }
}
