//! The `mmarrow` command-line tool: a thin layer over the library.

mod cat;
mod common;
mod convert;
mod create;
mod describe;
mod head;
mod info;
mod verify;

use std::io::Write;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Map flat array files (numpy.memmap, .npy, raw C/Fortran dumps) into Arrow without copying.
#[derive(Parser)]
#[command(name = "mmarrow", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Show dtype, shape, order, offset, size and Arrow type of an array file.
    Info(info::Args),
    /// Print the first rows of an array file as a table.
    Head(head::Args),
    /// Write the sidecar that records dtype and shape of an existing raw file.
    Describe(describe::Args),
    /// Create a zero-filled array file (numpy.memmap mode w+).
    Create(create::Args),
    /// Concatenate array files with the same dtype and row shape along the first axis.
    Cat(cat::Args),
    /// Convert an array file to Parquet (streaming, parallel).
    ToParquet(convert::ConvertArgs),
    /// Convert a one-column Parquet file to an array file (raw + sidecar, or .npy).
    FromParquet(convert::ConvertArgs),
    /// Convert between array files, tables, Parquet (.parquet) and Arrow IPC (.arrow, .feather), by extension.
    Convert(convert::ConvertArgs),
    /// Check every offset, UTF-8 string and null count of a table (or an array file).
    Verify(verify::Args),
}

/// What a subcommand can fail with.
pub(crate) enum CliError {
    /// A library error: exit 2 for bad input, 1 otherwise.
    Lib(mmarrow::Error),
    /// Writing the output failed.
    Output(std::io::Error),
}

impl From<mmarrow::Error> for CliError {
    fn from(e: mmarrow::Error) -> Self {
        CliError::Lib(e)
    }
}

impl From<std::io::Error> for CliError {
    fn from(e: std::io::Error) -> Self {
        CliError::Output(e)
    }
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            use clap::error::ErrorKind;
            if matches!(e.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion)
                || e.kind() == ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
            {
                let _ = e.print();
                return if e.kind() == ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand {
                    ExitCode::from(2)
                } else {
                    ExitCode::SUCCESS
                };
            }
            // One line: clap's first line without its "error: " prefix.
            let text = e.to_string();
            let first = text.lines().next().unwrap_or("invalid arguments");
            let first = first.strip_prefix("error: ").unwrap_or(first);
            eprintln!("mmarrow: {first} (see mmarrow --help)");
            return ExitCode::from(2);
        }
    };
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let result = match cli.command {
        Command::Info(a) => info::run(a, &mut out),
        Command::Head(a) => head::run(a, &mut out),
        Command::Describe(a) => describe::run(a, &mut out),
        Command::Create(a) => create::run(a, &mut out),
        Command::Cat(a) => cat::run(a, &mut out),
        Command::ToParquet(a) => convert::run(a, convert::Direction::ToParquet, &mut out),
        Command::FromParquet(a) => convert::run(a, convert::Direction::FromParquet, &mut out),
        Command::Convert(a) => convert::run(a, convert::Direction::ByExtension, &mut out),
        Command::Verify(a) => verify::run(a, &mut out),
    }
    .and_then(|()| out.flush().map_err(CliError::Output));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(CliError::Output(e)) if e.kind() == std::io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(CliError::Output(e)) => {
            eprintln!("mmarrow: writing output: {e}");
            ExitCode::from(1)
        }
        Err(CliError::Lib(e)) => {
            eprintln!("mmarrow: {e}");
            ExitCode::from(if e.is_user_error() { 2 } else { 1 })
        }
    }
}
