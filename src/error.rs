//! The engine's one error type.
//!
//! Variants separate "your input is wrong" (a model, data or argument problem the user can fix)
//! from "we failed" (I/O). Every message names what is wrong and where, because the server shows
//! these messages verbatim to the person who uploaded the file.

use std::path::PathBuf;

/// Everything that can go wrong in the engine.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A model file is not in a recognised format (wrong magic, not JSON/UBJSON/LightGBM text).
    #[error("unrecognised model format: {0}")]
    UnknownFormat(String),

    /// A model file could not be parsed at the syntax level (truncated, corrupt).
    #[error("malformed {format} model at {location}: {message}")]
    Syntax {
        format: &'static str,
        location: String,
        message: String,
    },

    /// The model parsed but its content is inconsistent or unsupported.
    #[error("invalid model ({location}): {message}")]
    InvalidModel { location: String, message: String },

    /// A tree's structure is broken: cycles, out-of-range children, shared nodes, too deep.
    #[error("invalid tree {tree}, node {node}: {message}")]
    InvalidTree {
        tree: usize,
        node: usize,
        message: String,
    },

    /// The model uses a feature this engine does not explain correctly (categorical splits, …).
    #[error("unsupported model: {0}")]
    Unsupported(String),

    /// The data file is malformed or does not fit the model.
    #[error("invalid data: {0}")]
    InvalidData(String),

    /// A data cell could not be read as a number.
    #[error("invalid data at row {row}, column {column:?}: {value:?} is not a number")]
    NotANumber {
        /// 1-based data row (the header is row 0).
        row: usize,
        column: String,
        value: String,
    },

    /// The data lacks columns the model needs.
    #[error("data is missing {} model feature column(s): {}", .0.len(), .0.join(", "))]
    MissingColumns(Vec<String>),

    /// Options that cannot be combined or are out of range.
    #[error("invalid arguments: {0}")]
    InvalidArgs(String),

    /// Reading or writing a file failed.
    #[error("{action} {path}: {source}")]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

impl Error {
    /// True when the problem is in the user's input (model, data, arguments), false when the
    /// engine or the machine failed. The server maps the first to 4xx, the second to 5xx.
    pub fn is_user_error(&self) -> bool {
        !matches!(self, Error::Io { .. })
    }

    pub(crate) fn model(location: impl Into<String>, message: impl Into<String>) -> Self {
        Error::InvalidModel {
            location: location.into(),
            message: message.into(),
        }
    }
}

/// The engine's result type.
pub type Result<T> = std::result::Result<T, Error>;
