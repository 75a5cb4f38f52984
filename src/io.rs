//! File reading with a size cap, so an upload cannot make the engine swallow a disk.

use crate::error::{Error, Result};
use std::io::Read;
use std::path::Path;

/// Read a whole file, refusing files larger than `cap` bytes. `what` names the file in errors.
pub fn read_capped(path: &Path, cap: u64, what: &'static str) -> Result<Vec<u8>> {
    let io = |source| Error::Io {
        action: "cannot read",
        path: path.to_path_buf(),
        source,
    };
    let file = std::fs::File::open(path).map_err(io)?;
    let mut bytes = Vec::new();
    file.take(cap + 1).read_to_end(&mut bytes).map_err(io)?;
    if bytes.len() as u64 > cap {
        return Err(Error::InvalidArgs(format!(
            "{what} file {} is larger than the {cap}-byte limit",
            path.display()
        )));
    }
    Ok(bytes)
}
