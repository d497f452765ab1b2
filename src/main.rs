//! `alpes`: the one binary of the platform.

mod audit;
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
        cli::Command::Audit(cli::AuditCommand::Export(arguments)) => {
            audit::export_command(arguments).await
        }
        cli::Command::Audit(cli::AuditCommand::Verify(arguments)) => {
            audit::verify_command(arguments)
        }
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}
