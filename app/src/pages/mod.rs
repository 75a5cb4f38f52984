//! The pages: the start page (uploads, options, submit), the job page (status, results,
//! share links) and the comparison of two jobs; and the team service's pages: sign-in, the
//! user's jobs and their API keys.

pub mod account;
pub mod cohorts;
pub mod compare;
pub mod copy;
pub mod exports;
pub mod job;
pub mod job_inputs;
pub mod my_jobs;
pub mod results;
pub mod row_explorer;
pub mod share;
pub mod signin;
pub mod start;
pub mod uploads;
pub mod views;
pub mod whatif;
