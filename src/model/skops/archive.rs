//! The skops zip, read in memory with caps.
//!
//! A zip states each entry's uncompressed size, but a hostile file can lie, and deflate turns
//! a few kilobytes into gigabytes. So every cap is checked twice: against the size the entry
//! claims, before anything is inflated, and against what inflating actually yields, read
//! through `take(cap + 1)` so no more than one byte past the cap is ever produced. An entry
//! whose content differs from its claimed size is refused as corrupt.

use crate::error::{Error, Result};
use std::cell::RefCell;
use std::io::{Cursor, Read};
use zip::ZipArchive;

/// How much of a zip the loader is willing to inflate.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ZipLimits {
    /// Entries in the archive. skops writes one `.npy` per array: a 1000-iteration,
    /// 10-class HistGradientBoosting model holds ~30,000.
    pub max_entries: usize,
    /// Uncompressed bytes of one entry. A forest tree of a million nodes is 64 MB of nodes.
    pub max_entry_bytes: u64,
    /// Uncompressed bytes read over the whole load (an entry read twice counts twice).
    pub max_total_bytes: u64,
    /// Uncompressed bytes of `schema.json`. Parsed JSON takes several times its text in
    /// memory; a 1000-iteration, 10-class HistGradientBoosting schema is ~12 MB.
    pub max_schema_bytes: u64,
}

impl Default for ZipLimits {
    fn default() -> Self {
        ZipLimits {
            max_entries: 1 << 18,
            max_entry_bytes: 512 << 20,
            max_total_bytes: 2 << 30,
            max_schema_bytes: 64 << 20,
        }
    }
}

/// The entry skops describes the object in.
pub const SCHEMA: &str = "schema.json";

/// Longest entry name accepted; skops names arrays by a decimal object id.
const MAX_NAME: usize = 255;

pub(crate) fn syntax(location: impl Into<String>, message: impl Into<String>) -> Error {
    Error::Syntax {
        format: "skops",
        location: location.into(),
        message: message.into(),
    }
}

/// An opened archive. Entries are inflated on demand, so only the arrays the estimator needs
/// are ever decompressed; `RefCell` because the schema walk reads through shared references.
pub struct Archive<'b> {
    zip: RefCell<ZipArchive<Cursor<&'b [u8]>>>,
    limits: ZipLimits,
    /// Uncompressed bytes read so far.
    total: RefCell<u64>,
}

fn zip_error(e: zip::result::ZipError) -> Error {
    let message = match &e {
        zip::result::ZipError::Io(io) if io.kind() == std::io::ErrorKind::UnexpectedEof => {
            "the zip is truncated".to_string()
        }
        other => format!("not a readable zip ({other}); the file may be truncated or corrupt"),
    };
    syntax("the zip", message)
}

impl<'b> Archive<'b> {
    pub fn open(bytes: &'b [u8], limits: ZipLimits) -> Result<Self> {
        let zip = ZipArchive::new(Cursor::new(bytes)).map_err(zip_error)?;
        if zip.len() > limits.max_entries {
            return Err(syntax(
                "the zip",
                format!(
                    "{} entries, more than the {} a skops file may hold",
                    zip.len(),
                    limits.max_entries
                ),
            ));
        }
        // Two entries of one name would let the schema and a reader disagree on which is meant.
        if zip.has_duplicate_names() {
            return Err(syntax("the zip", "two entries have the same name"));
        }
        Ok(Archive {
            zip: RefCell::new(zip),
            limits,
            total: RefCell::new(0),
        })
    }

    /// The whole content of entry `name`, within the caps.
    pub fn read(&self, name: &str) -> Result<Vec<u8>> {
        if name.is_empty()
            || name.len() > MAX_NAME
            || name.contains(['/', '\\'])
            || name.starts_with('.')
        {
            return Err(syntax(
                format!("entry {name:?}"),
                "a skops entry name is a plain file name",
            ));
        }
        let mut zip = self.zip.borrow_mut();
        let mut entry = match zip.by_name(name) {
            Ok(e) => e,
            Err(zip::result::ZipError::FileNotFound) if name == SCHEMA => {
                return Err(syntax(
                    "the zip",
                    "it has no schema.json, so it is not a skops file",
                ));
            }
            Err(zip::result::ZipError::FileNotFound) => {
                return Err(syntax(
                    format!("entry {name:?}"),
                    "schema.json refers to an entry the zip does not hold",
                ));
            }
            Err(e) => return Err(zip_error(e)),
        };
        let at = || format!("entry {name:?}");
        if entry.encrypted() {
            return Err(syntax(at(), "the entry is encrypted"));
        }
        let cap = if name == SCHEMA {
            self.limits.max_schema_bytes
        } else {
            self.limits.max_entry_bytes
        };
        let claimed = entry.size();
        if claimed > cap {
            return Err(syntax(
                at(),
                format!(
                    "the entry claims {claimed} uncompressed bytes, more than the {cap}-byte cap"
                ),
            ));
        }
        let total_cap = self.limits.max_total_bytes;
        let before = *self.total.borrow();
        // `got == claimed` is checked below, so checking the claim here bounds the total.
        if before.saturating_add(claimed) > total_cap {
            return Err(syntax(
                "the zip",
                format!("the entries read inflate past the {total_cap}-byte total cap"),
            ));
        }
        // No preallocation from the claim: a lying header would get its memory for free.
        let mut out = Vec::new();
        (&mut entry)
            .take(cap + 1)
            .read_to_end(&mut out)
            .map_err(|e| {
                syntax(
                    at(),
                    format!("cannot inflate the entry ({e}); the file may be truncated or corrupt"),
                )
            })?;
        let got = out.len() as u64;
        if got > cap {
            return Err(syntax(
                at(),
                format!("the entry inflates past the {cap}-byte cap (it claims {claimed} bytes)"),
            ));
        }
        if got != claimed {
            return Err(syntax(
                at(),
                format!("the entry holds {got} bytes but claims {claimed}"),
            ));
        }
        *self.total.borrow_mut() = before + got;
        Ok(out)
    }
}
