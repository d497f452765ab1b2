//! `alpes`: the one binary of the platform.

mod bench;
mod cli;
mod telemetry;

use std::process::ExitCode;

use clap::Parser;

#[tokio::main]
async fn main() -> ExitCode {
    telemetry::init();
    let outcome = match cli::Cli::parse().command {
        cli::Command::Bench(cli::BenchCommand::Store(arguments)) => bench::store(arguments).await,
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}
