//! The `jwt-asset-server` binary: parse the command line, set up logging, run.

use std::process::ExitCode;

use clap::Parser;
use jwt_asset_server::cli::{Cli, run};

fn main() -> ExitCode {
    let cli = Cli::parse();
    jwt_asset_server::telemetry::init(&cli.settings.log, cli.settings.log_format);
    run(cli)
}
