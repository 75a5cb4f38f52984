//! The pages: the start page (uploads, options, submit) and the job page (status, results).

pub mod exports;
pub mod job;
pub mod results;
pub mod row_explorer;
pub mod start;
pub mod uploads;
