//! `alpes`: the one binary of the platform.

mod bench;
mod cli;
mod projections;
mod telemetry;

use std::process::ExitCode;

use clap::Parser;

#[tokio::main]
async fn main() -> ExitCode {
    telemetry::init();
    let outcome = match cli::Cli::parse().command {
        cli::Command::Bench(cli::BenchCommand::Store(arguments)) => bench::store(arguments).await,
        cli::Command::Bench(cli::BenchCommand::Project(arguments)) => {
            projections::bench(arguments).await
        }
        cli::Command::Projections(command) => projections::run(command).await,
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}
