//! `shaplab`: parse the command line, set up logging, run the subcommand.

use clap::Parser;
use server::cli::{Cli, Command};
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("SHAPLAB_LOG")
                .unwrap_or_else(|_| "info,server=info".into()),
        )
        .with_writer(std::io::stderr)
        .init();

    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("shaplab: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let outcome = runtime.block_on(async {
        match cli.command {
            Command::Serve(args) => server::commands::serve::run(args).await,
            Command::CheckRedis => Ok(server::commands::check_redis::run().await),
        }
    });
    match outcome {
        Ok(code) => code,
        Err(e) => {
            // One line a person can act on; the cause chain is in the message.
            eprintln!("shaplab: {e}");
            ExitCode::FAILURE
        }
    }
}
