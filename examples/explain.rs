//! `cargo run -p shaplab --release --example explain -- --model M --data D.csv --out OUT.csv`
//! — the engine's CLI without the server, for benchmarks and manual checks.

use clap::Parser;

#[derive(Parser)]
#[command(about = "Explain a tree model's predictions with exact TreeSHAP")]
struct Cli {
    #[command(flatten)]
    args: shaplab::ExplainArgs,
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    match shaplab::run_explain(&cli.args) {
        Ok(_) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}
