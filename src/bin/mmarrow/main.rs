//! The `mmarrow` command-line tool: a thin layer over the library.

mod cat;
mod common;
mod convert;
mod create;
mod describe;
mod head;
mod info;
#[cfg(feature = "datafusion")]
mod sql;
mod verify;

use std::io::Write;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use mmarrow::ErrorKind;
use signal_hook::consts::signal::{SIGHUP, SIGINT, SIGQUIT, SIGTERM, SIGXFSZ};

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
    /// Run SQL over arrays, tables and datasets with DataFusion.
    #[cfg(feature = "datafusion")]
    Sql(sql::Args),
    /// Run SQL over arrays, tables and datasets (needs the `datafusion` feature).
    #[cfg(not(feature = "datafusion"))]
    Sql {
        #[arg(trailing_var_arg = true, allow_hyphen_values = true, hide = true)]
        _args: Vec<String>,
    },
}

/// Without the `datafusion` feature, `mmarrow sql` says how to get it.
#[cfg(not(feature = "datafusion"))]
const SQL_NEEDS_FEATURE: &str = "sql needs the datafusion feature: cargo install --path . --features datafusion (or cargo build --release --features datafusion)";

/// What a subcommand can fail with.
pub(crate) enum CliError {
    /// A library error: exit 2 for bad input, 1 otherwise.
    Lib(mmarrow::Error),
    /// Writing the output failed.
    Output(std::io::Error),
    /// A SQL statement failed (`mmarrow sql`): one line; exit 2, or 1 for
    /// DataFusion's internal errors.
    #[cfg_attr(not(feature = "datafusion"), allow(dead_code))]
    Query {
        /// The message, on one line.
        line: String,
        /// A DataFusion bug rather than a bad query.
        internal: bool,
    },
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

/// Panics caught by the library's boundaries (a Parquet or IPC decoder
/// fed a malformed file) print nothing: the error that follows is the one
/// line. Any other panic is an internal error: one line, then exit 101.
fn install_panic_hook() {
    std::panic::set_hook(Box::new(|info| {
        if mmarrow::error::panic_is_caught() {
            return;
        }
        let msg = info
            .payload()
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| info.payload().downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "no message".into());
        let at = info
            .location()
            .map(|l| format!(" at {}:{}", l.file(), l.line()))
            .unwrap_or_default();
        eprintln!(
            "mmarrow: internal error (a bug, please report it): {}{at}",
            common::printable(&msg)
        );
    }));
}

fn main() -> ExitCode {
    install_panic_hook();
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
            eprintln!(
                "mmarrow: {} (see mmarrow --help)",
                common::printable(&clap_line(&e.to_string()))
            );
            return ExitCode::from(2);
        }
    };
    handle_signals(matches!(
        cli.command,
        Command::ToParquet(_) | Command::FromParquet(_) | Command::Convert(_)
    ));
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
        #[cfg(feature = "datafusion")]
        Command::Sql(a) => sql::run(a, &mut out),
        #[cfg(not(feature = "datafusion"))]
        Command::Sql { .. } => Err(CliError::Query {
            line: SQL_NEEDS_FEATURE.into(),
            internal: false,
        }),
    }
    .and_then(|()| out.flush().map_err(CliError::Output));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(CliError::Output(e)) if e.kind() == std::io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(CliError::Output(e)) => {
            eprintln!(
                "mmarrow: writing output: {}",
                common::printable(&e.to_string())
            );
            ExitCode::from(1)
        }
        Err(CliError::Query { line, internal }) => {
            eprintln!("mmarrow: {}", common::printable(&line));
            ExitCode::from(if internal { 1 } else { 2 })
        }
        Err(CliError::Lib(e)) => {
            eprintln!("mmarrow: {}", common::printable(&error_line(&e)));
            ExitCode::from(if e.is_user_error() { 2 } else { 1 })
        }
    }
}

/// One line from clap's message: its first line without the "error: "
/// prefix, and, when that line ends in a colon ("the following required
/// arguments were not provided:"), the indented lines that follow it.
fn clap_line(text: &str) -> String {
    let mut lines = text.lines();
    let first = lines.next().unwrap_or("invalid arguments");
    let mut line = first.strip_prefix("error: ").unwrap_or(first).to_string();
    if line.ends_with(':') {
        let items: Vec<&str> = lines
            .take_while(|l| l.starts_with(' '))
            .map(str::trim)
            .collect();
        line.push(' ');
        line.push_str(&items.join(", "));
    }
    line
}

/// Signals that end a command, with their names: each removes the
/// temporary outputs of a conversion in progress and exits with 128 + the
/// signal's number. SIGPIPE is not among them: it stays ignored (Rust's
/// default), so a closed stdout is a write error, which exits 0.
const TERMINATING: [(i32, &str); 4] = [
    (SIGINT, "SIGINT"),
    (SIGTERM, "SIGTERM"),
    (SIGHUP, "SIGHUP"),
    (SIGQUIT, "SIGQUIT"),
];

/// Installs the handlers of the terminating signals, SIGXFSZ and SIGBUS.
/// `converting`: the command writes under a temporary name (the message
/// then says that no output was written).
fn handle_signals(converting: bool) {
    // A file truncated under a live map: named, temporary outputs removed, exit 2.
    let _ = mmarrow::sigbus::install_handler(2);
    // SIGXFSZ is caught (and ignored by the thread below) rather than left
    // to kill the process: a write past `ulimit -f` then fails with EFBIG,
    // which the library reports as an error about the file and cleans up.
    let signals = TERMINATING.iter().map(|&(n, _)| n).chain([SIGXFSZ]);
    let Ok(mut signals) = signal_hook::iterator::Signals::new(signals) else {
        return;
    };
    // The clean-up runs on an ordinary thread, not in a signal handler, so
    // it may lock and allocate.
    std::thread::spawn(move || {
        for sig in signals.forever() {
            let Some(&(_, name)) = TERMINATING.iter().find(|&&(n, _)| n == sig) else {
                continue; // SIGXFSZ
            };
            mmarrow::convert::remove_temporary_outputs();
            if converting {
                eprintln!("mmarrow: interrupted by {name}; no output written");
            } else {
                eprintln!("mmarrow: interrupted by {name}");
            }
            std::process::exit(128 + sig);
        }
    });
}

/// The message of a library error: its own message, then each source in
/// its chain not already part of it. Arrow's errors are worded as what
/// went wrong for mmarrow, with arrow's text as the source.
fn error_line(e: &mmarrow::Error) -> String {
    use std::error::Error as _;
    let mut line = match e.kind() {
        ErrorKind::Arrow(a) => {
            let what = arrow_words(a);
            match e.path() {
                Some(p) => format!("{}: {what}", p.display()),
                None => what.to_string(),
            }
        }
        _ => e.to_string(),
    };
    let mut source = e.source();
    while let Some(s) = source {
        let text = s.to_string();
        if !line.contains(&text) {
            line.push_str(": ");
            line.push_str(&text);
        }
        source = s.source();
    }
    line
}

/// What an arrow-rs error means for a command of mmarrow.
fn arrow_words(e: &arrow_schema::ArrowError) -> &'static str {
    use arrow_schema::ArrowError as A;
    match e {
        A::IoError(..) => "input/output error",
        A::IpcError(_) => "invalid Arrow IPC data",
        A::ParseError(_) | A::CastError(_) => "cannot convert the values",
        A::SchemaError(_) => "the columns do not match",
        A::InvalidArgumentError(_) => "invalid Arrow data",
        A::NotYetImplemented(_) => "not supported by the Arrow library",
        A::MemoryError(_) => "out of memory",
        A::ParquetError(_) => "invalid Parquet data",
        A::OffsetOverflowError(_)
        | A::DictionaryKeyOverflowError
        | A::RunEndIndexOverflowError
        | A::ArithmeticOverflow(_) => "values too large for Arrow",
        _ => "the Arrow library failed",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arrow_errors_say_what_is_wrong_with_arrow_text_as_the_source() {
        let e = mmarrow::Error::from(arrow_schema::ArrowError::InvalidArgumentError(
            "column lengths differ".into(),
        ))
        .in_file("t/x.values");
        assert_eq!(
            error_line(&e),
            "t/x.values: invalid Arrow data: Invalid argument error: column lengths differ"
        );
    }

    #[test]
    fn the_source_chain_is_printed_once() {
        let io = std::io::Error::other("disk full");
        let e = mmarrow::Error::from(arrow_schema::ArrowError::IoError("write".into(), io));
        let line = error_line(&e);
        assert_eq!(line.matches("disk full").count(), 1, "{line}");
        assert!(line.starts_with("input/output error: "), "{line}");
    }

    #[test]
    fn a_missing_argument_list_joins_the_line() {
        let text = "error: the following required arguments were not provided:\n  <PATH>\n  --dtype <DTYPE>\n\nUsage: mmarrow describe --dtype <DTYPE> <PATH>\n";
        assert_eq!(
            clap_line(text),
            "the following required arguments were not provided: <PATH>, --dtype <DTYPE>"
        );
    }
}
