//! `gatepost`: evaluate Deployment Gates from any pipeline.
//!
//! A thin host over `gatepost-core`: this binary parses arguments, builds the engine's options,
//! performs the HTTP requests the engine asks for, sleeps when it is told to, and prints what the
//! engine reports. Every decision (retries, timeouts, pass or fail) is the engine's, so the CLI
//! decides exactly what the Python and Node packages decide. See README.md for every command, flag,
//! environment variable and exit code.

mod cli;
mod driver;
#[cfg(feature = "emulator")]
mod emulator;
mod files;
mod gate;
mod gates;
mod http;
mod output;
mod state;

use clap::Parser;
use std::process::ExitCode;

/// Exit code for usage and config errors (datadog-ci uses 1, which a pipeline cannot tell apart
/// from a failed gate).
pub const EXIT_USAGE: u8 = 2;

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    let code = match cli.command {
        cli::Command::Gate(args)
        | cli::Command::Deployment {
            command: cli::DeploymentCommand::Gate(args),
        } => gate::gate(&args),
        cli::Command::Validate(args) => gate::validate(&args),
        cli::Command::Status(args) => gate::status(&args),
        cli::Command::Wait(args) => gate::wait(&args),
        cli::Command::Emulator(args) => serve_emulator(&args),
        cli::Command::Gates(command) => gates::main(command),
        cli::Command::Schema => {
            let schema = gatepost_core::config::json_schema();
            println!(
                "{}",
                serde_json::to_string_pretty(&schema).expect("a schema serialises")
            );
            0
        }
    };
    ExitCode::from(code)
}

#[cfg(feature = "emulator")]
fn serve_emulator(args: &cli::EmulatorArgs) -> u8 {
    match emulator::serve(args) {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("error: {e}");
            EXIT_USAGE
        }
    }
}

#[cfg(not(feature = "emulator"))]
fn serve_emulator(_args: &cli::EmulatorArgs) -> u8 {
    eprintln!(
        "error: this gatepost was built without the emulator (cargo feature `emulator`); \
         reinstall with default features to use it"
    );
    EXIT_USAGE
}
