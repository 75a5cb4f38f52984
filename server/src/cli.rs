//! The command line.

use clap::{Args, Parser, Subcommand};
use std::net::IpAddr;

/// shaplab — exact SHAP explanations for XGBoost and LightGBM models.
#[derive(Parser, Debug)]
#[command(name = "shaplab", version, about)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Serve the web app and API. Starts a private Redis when REDIS_URL is unset.
    Serve(ServeArgs),
    /// Check the Redis named by REDIS_URL: reachability, latency, version and settings that
    /// put queued work at risk. Exits non-zero when Redis is unreachable or misconfigured.
    CheckRedis,
    /// Run workers only (no web server): claim chunk tasks from the Redis in REDIS_URL and
    /// compute them. Run as many as you like, on any machine sharing the blob store.
    Worker(WorkerArgs),
    /// Give failed jobs with dead-letter tasks another go: their unfinished chunks go back to
    /// the queue with fresh attempt counts. Every such job, or only `--job ID`.
    RequeueDead(RequeueDeadArgs),
    /// Local accounts for SHAPLAB_AUTH=users: add, remove, list.
    User(UserArgs),
    /// API keys for scripts: create, list, revoke.
    Key(KeyArgs),
    /// Explain every row of a CSV with the SHAP engine and write the values as CSV (no Redis).
    Explain(shaplab::ExplainArgs),
}

#[derive(Args, Debug, Clone)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "SHAPLAB_HOST", default_value = "127.0.0.1")]
    pub host: IpAddr,
    /// Port to listen on.
    #[arg(long, env = "PORT", default_value_t = 3000)]
    pub port: u16,
    /// Where the private Redis keeps its data when REDIS_URL is unset.
    #[arg(long, env = "SHAPLAB_DATA_DIR", default_value = ".shaplab")]
    pub data_dir: std::path::PathBuf,
    /// Embedded workers computing SHAP chunks (default: one per core; 0 disables them, e.g.
    /// when separate `shaplab worker` processes do the work).
    #[arg(long, env = "SHAPLAB_WORKERS")]
    pub workers: Option<usize>,
}

#[derive(Args, Debug, Clone)]
pub struct WorkerArgs {
    /// Workers in this process (default: one per core).
    #[arg(long, env = "SHAPLAB_WORKERS")]
    pub workers: Option<usize>,
    /// Local scratch space (downloads being parsed, chunk files being written) and the
    /// default blob store (`DATA_DIR/blobs`) when BLOB_STORE_URL is unset.
    #[arg(long, env = "SHAPLAB_DATA_DIR", default_value = ".shaplab")]
    pub data_dir: std::path::PathBuf,
}

#[derive(Args, Debug, Clone)]
pub struct RequeueDeadArgs {
    /// Requeue this job only (it must have failed).
    #[arg(long = "job", value_name = "ID")]
    pub job: Option<String>,
}

#[derive(Args, Debug, Clone)]
pub struct UserArgs {
    #[command(subcommand)]
    pub action: UserAction,
    /// Where the private Redis keeps its data when REDIS_URL is unset (as for `serve`).
    #[arg(
        long,
        env = "SHAPLAB_DATA_DIR",
        default_value = ".shaplab",
        global = true
    )]
    pub data_dir: std::path::PathBuf,
}

#[derive(Subcommand, Debug, Clone)]
pub enum UserAction {
    /// Add a local account (SHAPLAB_AUTH=users). The password is read from the first line of
    /// standard input: `echo 'a long password' | shaplab user add alice`.
    Add {
        name: String,
        /// Make the user an admin: sees every job and may requeue dead tasks.
        #[arg(long)]
        admin: bool,
    },
    /// Remove an account and end its sessions and API keys (its jobs stay until they expire).
    Remove { name: String },
    /// List the accounts.
    List,
}

#[derive(Args, Debug, Clone)]
pub struct KeyArgs {
    #[command(subcommand)]
    pub action: KeyAction,
    /// Where the private Redis keeps its data when REDIS_URL is unset (as for `serve`).
    #[arg(
        long,
        env = "SHAPLAB_DATA_DIR",
        default_value = ".shaplab",
        global = true
    )]
    pub data_dir: std::path::PathBuf,
}

#[derive(Subcommand, Debug, Clone)]
pub enum KeyAction {
    /// Make an API key for a user's scripts (`Authorization: Bearer <key>`); printed once.
    Create {
        #[arg(long)]
        user: String,
        #[arg(long, default_value = "")]
        label: String,
    },
    /// List a user's keys (ids and labels; secrets are never stored).
    List {
        #[arg(long)]
        user: String,
    },
    /// Revoke a user's key by id.
    Revoke {
        #[arg(long)]
        user: String,
        id: String,
    },
}
