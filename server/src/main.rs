//! `shaplab`: parse the command line, set up logging, run the subcommand.

use clap::Parser;
use server::cli::{Cli, Command};
use std::fmt::Display;
use std::future::Future;
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("SHAPLAB_LOG")
                .unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .init();

    match cli.command {
        Command::Serve(args) => on_runtime(server::commands::serve::run(args)),
        Command::Worker(args) => on_runtime(server::commands::worker::run(args)),
        Command::RequeueDead(args) => on_runtime(server::commands::requeue_dead::run(args)),
        Command::User(args) => on_runtime(server::commands::accounts::user(args)),
        Command::Key(args) => on_runtime(server::commands::accounts::key(args)),
        Command::CheckRedis => on_runtime(async {
            Ok::<_, std::convert::Infallible>(server::commands::check_redis::run().await)
        }),
        // The engine needs no async runtime: it parallelises with rayon.
        Command::Explain(args) => report(shaplab::run_explain(&args).map(|_| ExitCode::SUCCESS)),
    }
}

/// Runs an async subcommand on a fresh tokio runtime.
fn on_runtime<E: Display>(command: impl Future<Output = Result<ExitCode, E>>) -> ExitCode {
    match tokio::runtime::Runtime::new() {
        Ok(runtime) => report(runtime.block_on(command)),
        Err(e) => report(Err(format!("cannot start the async runtime: {e}"))),
    }
}

/// One line a person can act on (the cause chain is in the message), and a failing exit code.
fn report<E: Display>(outcome: Result<ExitCode, E>) -> ExitCode {
    outcome.unwrap_or_else(|e| {
        eprintln!("shaplab: {e}");
        ExitCode::FAILURE
    })
}
