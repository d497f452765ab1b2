//! `alpes`: the one binary of the platform.

use std::process::ExitCode;

use alpes::{audit, bench, cli, projections, startup, telemetry};
use clap::Parser;

// glibc's allocator spent a fifth of the server's time under load (many small, short-lived
// JSON values and strings across threads); mimalloc's thread-local free lists do not.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    let log_format = telemetry::init(cli.log_format);
    let outcome = match cli.command {
        cli::Command::Serve(arguments) => startup::serve(arguments).await,
        cli::Command::Bench(cli::BenchCommand::Store(arguments)) => bench::store(arguments).await,
        cli::Command::Bench(cli::BenchCommand::Project(arguments)) => {
            projections::bench(arguments).await
        }
        cli::Command::Bench(cli::BenchCommand::Ingest(arguments)) => bench::ingest(arguments).await,
        cli::Command::Bench(cli::BenchCommand::Saga(arguments)) => bench::saga(arguments).await,
        cli::Command::Projections(command) => projections::run(command).await,
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
            // A log collector reading JSON gets the failure as one more JSON line.
            match log_format {
                telemetry::LogFormat::Json => {
                    tracing::error!(error = %format!("{error:#}"), "alpes failed")
                }
                _ => eprintln!("error: {error:#}"),
            }
            ExitCode::FAILURE
        }
    }
}
