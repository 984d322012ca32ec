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
mod shared;
mod state;
mod status;
mod validate;
mod wait;

use clap::Parser;
use std::process::ExitCode;

/// Exit code for usage and config errors (datadog-ci uses 1, which a pipeline cannot tell apart
/// from a failed gate).
pub const EXIT_USAGE: u8 = 2;

fn main() -> ExitCode {
    let cli = match cli::Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => return ExitCode::from(usage_error(e)),
    };
    let code = match cli.command {
        cli::Command::Gate(args)
        | cli::Command::Deployment {
            command: cli::DeploymentCommand::Gate(args),
        } => gate::gate(&args),
        cli::Command::Validate(args) => validate::validate(&args),
        cli::Command::Status(args) => status::status(&args),
        cli::Command::Wait(args) => wait::wait(&args),
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

/// A command line clap refuses: clap's own message and exit code, and with `--output json` also
/// the JSON error document on stdout that every other exit of a JSON run prints.
fn usage_error(e: clap::Error) -> u8 {
    use clap::error::ErrorKind;
    let code = u8::try_from(e.exit_code()).unwrap_or(EXIT_USAGE);
    let informational = matches!(
        e.kind(),
        ErrorKind::DisplayHelp
            | ErrorKind::DisplayVersion
            | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
    );
    if !informational && wants_json(std::env::args_os().skip(1)) {
        let text = e.render().to_string();
        let message = text
            .lines()
            .next()
            .unwrap_or("")
            .trim_start_matches("error: ")
            .to_string();
        let error = gatepost_core::Error::with_problems(
            gatepost_core::ErrorCode::InvalidOptions,
            format!("invalid options: {message}"),
            vec![gatepost_core::Problem::new("", message)],
        );
        println!("{}", output::error_document(&error, None, code));
    }
    let _ = e.print();
    code
}

/// Whether the command line asks for `--output json` (read before clap could parse it).
fn wants_json(args: impl Iterator<Item = std::ffi::OsString>) -> bool {
    let args: Vec<String> = args.map(|a| a.to_string_lossy().into_owned()).collect();
    args.iter().enumerate().any(|(i, a)| {
        a == "--output=json" || (a == "--output" && args.get(i + 1).is_some_and(|v| v == "json"))
    })
}
