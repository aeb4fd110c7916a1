//! The command line: `serve` (the default) and administrative commands on a stopped server's store.

mod args;
mod commands;
mod keys;

use std::process::ExitCode;

use crate::app::{Application, open_service};
use crate::config::Settings;
use crate::error::AppError;

pub use args::{ApiKeyCommand, AssetCommand, Cli, Command, CreateAsset, UserCommand};

/// Run the parsed command line; the process exit code.
pub fn run(cli: Cli) -> ExitCode {
    let result = match cli.command {
        None | Some(Command::Serve) => serve(cli.settings),
        Some(Command::Rekey { new_key_file }) => {
            keys::rekey(&cli.settings, new_key_file).map_err(|e| e.to_string())
        }
        Some(cmd) => admin(&cli.settings, cmd),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}

fn serve(settings: Settings) -> Result<(), String> {
    actix_web::rt::System::new().block_on(async move {
        let app = Application::build(settings).map_err(|e| e.to_string())?;
        app.run_until_stopped().await.map_err(|e| e.to_string())
    })
}

fn admin(settings: &Settings, cmd: Command) -> Result<(), String> {
    let service = open_service(settings).map_err(|e| e.to_string())?;
    let result = commands::execute(&service, cmd).map_err(|e| describe(&e));
    service.shutdown().map_err(|e| e.to_string())?;
    result
}

fn describe(e: &AppError) -> String {
    match e {
        AppError::NotFound => "not found".into(),
        other => other.to_string(),
    }
}
