//! The pages: the start page (uploads, options, submit), the job page (status, results) and
//! the comparison of two jobs.

pub mod cohorts;
pub mod compare;
pub mod exports;
pub mod job;
pub mod results;
pub mod row_explorer;
pub mod start;
pub mod uploads;
pub mod views;
pub mod whatif;
