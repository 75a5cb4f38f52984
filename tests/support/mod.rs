//! Helpers the engine's integration tests share. Several test binaries include this module
//! (`mod support;`, or `#[path = "../support/mod.rs"]` from a binary in its own folder), and
//! each uses a part of it.
//!
//! Layout:
//! - `files`: where fixtures live, scratch files, headered CSV text, run arguments, notes.
//! - `golden`: the golden harness: a manifest's cases, their models and data, and the checks
//!   against the libraries' reference files that every model family runs.
//! - `oracle`: seeded random trees and rows, and brute-force Shapley values from the
//!   definitions (the oracle every explainer is held to).
//! - `reference`: reading reference matrices, comparing values with them, additivity.
#![allow(dead_code)] // each test binary uses its own subset

pub mod files;
pub mod golden;
pub mod oracle;
pub mod reference;
