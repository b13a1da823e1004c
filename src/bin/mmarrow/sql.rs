//! `mmarrow sql`: SQL over arrays, tables and datasets with DataFusion
//! (feature `datafusion`).

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use datafusion::arrow::record_batch::RecordBatch;
use datafusion::dataframe::DataFrame;
use datafusion::error::DataFusionError;
use datafusion::logical_expr::LogicalPlan;
use datafusion::physical_plan::collect;
use datafusion::prelude::SessionContext;
use futures::StreamExt;
use mmarrow::datafusion::{session_context, MmarrowTable};
use mmarrow::ErrorKind;

use crate::CliError;

#[derive(clap::Args, Debug)]
pub(crate) struct Args {
    /// SQL: one statement or several separated by `;` (`-` reads them from stdin).
    pub query: Option<String>,
    /// Register data as a table: NAME=PATH, or PATH (named after its file
    /// stem). PATH is an array file, a table, a directory of either or a glob.
    #[arg(long = "table", short = 't', value_name = "[NAME=]PATH")]
    pub tables: Vec<String>,
    /// Read the statements from FILE (`-`: stdin).
    #[arg(long, short = 'f', value_name = "FILE", conflicts_with = "query")]
    pub file: Option<PathBuf>,
    /// Print each statement's elapsed time (µs: parsing, planning, running,
    /// printing) and row count on stderr.
    #[arg(long)]
    pub timing: bool,
    /// Write the last statement's result to FILE instead of printing it:
    /// Parquet (.parquet), CSV (.csv), JSON lines (.json, .jsonl), Arrow
    /// IPC (.arrow, .feather, .ipc), or an mmarrow table (any other name).
    #[arg(long, short = 'o', value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Replace --output if it exists and is a file of that format or an mmarrow table.
    #[arg(long)]
    pub force: bool,
}

/// An I/O error as the library words them (`NotFound` as its own kind).
fn io_error(op: &'static str, source: std::io::Error) -> mmarrow::Error {
    mmarrow::Error::new(if source.kind() == std::io::ErrorKind::NotFound {
        ErrorKind::NotFound
    } else {
        ErrorKind::Io { op, source }
    })
}

fn user(reason: String) -> CliError {
    CliError::Lib(mmarrow::Error::new(ErrorKind::InvalidRequest { reason }))
}

/// A DataFusion error as the CLI reports it: mmarrow's own errors as
/// they are; query errors as one line (exit 2); DataFusion's internal
/// errors exit 1.
fn query_error(e: DataFusionError) -> CliError {
    let mut inner = &e;
    loop {
        match inner {
            DataFusionError::Context(_, e) => inner = e,
            DataFusionError::Shared(e) => inner = e,
            DataFusionError::External(x) => {
                if let Some(m) = x.downcast_ref::<mmarrow::Error>() {
                    // Rebuild: mmarrow::Error is not Clone; its text and kind are what matter.
                    let reason = m.to_string();
                    let kind = if m.is_user_error() {
                        ErrorKind::InvalidRequest { reason }
                    } else {
                        ErrorKind::Internal { reason }
                    };
                    return CliError::Lib(mmarrow::Error::new(kind));
                }
                break;
            }
            _ => break,
        }
    }
    let internal = matches!(inner, DataFusionError::Internal(_));
    let text = e.strip_backtrace();
    let line = text.split_whitespace().collect::<Vec<_>>().join(" ");
    CliError::Query { line, internal }
}

pub(crate) fn run(args: Args, out: &mut impl Write) -> Result<(), CliError> {
    let text = match (&args.query, &args.file) {
        (Some(q), None) if q == "-" => read_stdin()?,
        (Some(q), None) => q.clone(),
        (None, Some(f)) if f.as_os_str() == "-" => read_stdin()?,
        (None, Some(f)) => {
            std::fs::read_to_string(f).map_err(|e| CliError::Lib(io_error("read", e).in_file(f)))?
        }
        (None, None) => read_stdin()?,
        (Some(_), Some(_)) => unreachable!("clap: conflicts_with"),
    };
    // `FROM 'file.parquet'` works too, as in datafusion-cli.
    let ctx = session_context().enable_url_table();
    for spec in &args.tables {
        let (name, path) = table_spec(spec)?;
        let table = MmarrowTable::open(&path)?;
        ctx.register_table(name.as_str(), Arc::new(table))
            .map_err(query_error)?;
    }
    if let Some(o) = &args.output {
        check_output(o, args.force)?;
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(CliError::Output)?;
    rt.block_on(run_statements(&ctx, &text, &args, out))
}

fn read_stdin() -> Result<String, CliError> {
    let mut s = String::new();
    std::io::stdin()
        .read_to_string(&mut s)
        .map_err(|e| CliError::Lib(io_error("read stdin", e)))?;
    Ok(s)
}

/// `NAME=PATH`, or `PATH` named after its file stem.
fn table_spec(spec: &str) -> Result<(String, PathBuf), CliError> {
    if let Some((name, path)) = spec.split_once('=') {
        if !name.is_empty() && !name.contains('/') {
            return Ok((name.to_string(), PathBuf::from(path)));
        }
    }
    let path = PathBuf::from(spec);
    let stem = path
        .file_name()
        .and_then(|n| n.to_str())
        .map(|n| n.split(['.', '*', '?', '[']).next().unwrap_or(""))
        .unwrap_or("");
    if stem.is_empty() {
        return Err(user(format!(
            "--table {spec}: no name to register it under (write NAME={spec})"
        )));
    }
    Ok((stem.to_string(), path))
}

async fn run_statements(
    ctx: &SessionContext,
    text: &str,
    args: &Args,
    out: &mut impl Write,
) -> Result<(), CliError> {
    let dialect = ctx.state().config().options().sql_parser.dialect;
    let dialect = datafusion::logical_expr::sqlparser::dialect::dialect_from_str(dialect.as_ref())
        .ok_or_else(|| user(format!("unknown SQL dialect {:?}", dialect.as_ref())))?;
    let statements = parse_statements(text, dialect.as_ref())?;
    if statements.is_empty() {
        return Err(user("no SQL statement given".into()));
    }
    let n = statements.len();
    // Queries are planned and run on one snapshot of the session, taken
    // again only after a statement that changes it (DDL, SET): cloning the
    // session state and its task context for every statement, as
    // `SessionContext::sql` does, costs more than planning a point query.
    let mut state = ctx.state();
    let mut task = state.task_ctx();
    for (i, (statement, parsing)) in statements.into_iter().enumerate() {
        let start = Instant::now();
        let plan = state
            .statement_to_plan(statement)
            .await
            .map_err(query_error)?;
        let last = i + 1 == n;
        let changes_session = matches!(plan, LogicalPlan::Ddl(_) | LogicalPlan::Statement(_));
        let rows = match (&args.output, last) {
            (Some(path), true) => {
                let df = if changes_session {
                    ctx.execute_logical_plan(plan).await.map_err(query_error)?
                } else {
                    DataFrame::new(state.clone(), plan)
                };
                write_output(df, path, args.force).await?
            }
            _ => {
                let batches = if changes_session {
                    let df = ctx.execute_logical_plan(plan).await.map_err(query_error)?;
                    df.collect().await.map_err(query_error)?
                } else {
                    let physical = state
                        .create_physical_plan(&plan)
                        .await
                        .map_err(query_error)?;
                    collect(physical, task.clone()).await.map_err(query_error)?
                };
                print_batches(&batches, out)?
            }
        };
        if changes_session {
            state = ctx.state();
            task = state.task_ctx();
        }
        if args.timing {
            eprintln!(
                "statement {}: {rows} rows in {} µs",
                i + 1,
                (parsing + start.elapsed()).as_micros()
            );
        }
    }
    Ok(())
}

/// The statements of `text`, each with an equal share of the time parsing
/// the whole text took, so that `--timing` counts parsing as an engine
/// handed one statement at a time would.
fn parse_statements(
    text: &str,
    dialect: &dyn datafusion::logical_expr::sqlparser::dialect::Dialect,
) -> Result<Vec<(datafusion::sql::parser::Statement, Duration)>, CliError> {
    let start = Instant::now();
    let statements = datafusion::sql::parser::DFParser::parse_sql_with_dialect(text, dialect)
        .map_err(query_error)?;
    let share = start.elapsed() / u32::try_from(statements.len().max(1)).unwrap_or(u32::MAX);
    Ok(statements.into_iter().map(|s| (s, share)).collect())
}

/// Prints a result as a table (nothing for a result without columns);
/// returns its row count.
fn print_batches(batches: &[RecordBatch], out: &mut impl Write) -> Result<usize, CliError> {
    let rows: usize = batches.iter().map(|b| b.num_rows()).sum();
    if !batches.is_empty() && !batches[0].schema().fields().is_empty() {
        let table = datafusion::arrow::util::pretty::pretty_format_batches(batches)
            .map_err(|e| query_error(e.into()))?;
        writeln!(out, "{table}")?;
    }
    Ok(rows)
}

/// The output formats, by extension.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum OutFormat {
    Parquet,
    Csv,
    Json,
    Ipc,
    Table,
}

fn out_format(path: &Path) -> OutFormat {
    match path
        .extension()
        .and_then(|e| e.to_str())
        .map(|e| e.to_ascii_lowercase())
        .as_deref()
    {
        Some("parquet") => OutFormat::Parquet,
        Some("csv") => OutFormat::Csv,
        Some("json" | "jsonl" | "ndjson") => OutFormat::Json,
        Some("arrow" | "feather" | "ipc") => OutFormat::Ipc,
        _ => OutFormat::Table,
    }
}

/// Refuses an existing output unless `force` and it is what this command
/// would write (a file of that format, an mmarrow table).
fn check_output(path: &Path, force: bool) -> Result<(), CliError> {
    let Ok(meta) = std::fs::symlink_metadata(path) else {
        return Ok(());
    };
    let replaceable = match out_format(path) {
        OutFormat::Table => meta.is_dir() && mmarrow::table::is_table(path),
        _ => meta.is_file(),
    };
    let kind = match (force, replaceable) {
        (false, _) => ErrorKind::AlreadyExists,
        (true, true) => return Ok(()),
        (true, false) => ErrorKind::NotReplaceable {
            reason: "it is not a file of that format or an mmarrow table".into(),
        },
    };
    Err(CliError::Lib(kind.at(path)))
}

/// A sibling name for the output while it is written.
fn temporary(path: &Path) -> PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    path.with_file_name(format!(".{name}.mmarrow-sql-{}", std::process::id()))
}

/// Streams the result into a temporary sibling of `path`, then renames
/// it into place: a failed query leaves nothing behind.
async fn write_output(
    df: datafusion::dataframe::DataFrame,
    path: &Path,
    force: bool,
) -> Result<usize, CliError> {
    let schema = Arc::new(df.schema().as_arrow().clone());
    let mut stream = df.execute_stream().await.map_err(query_error)?;
    let tmp = temporary(path);
    let format = out_format(path);
    let result = async {
        let mut sink = Sink::create(format, &tmp, schema)?;
        let mut rows = 0;
        while let Some(batch) = stream.next().await {
            let batch = batch.map_err(query_error)?;
            rows += batch.num_rows();
            sink.write(&batch)?;
        }
        sink.finish()?;
        Ok::<usize, CliError>(rows)
    }
    .await;
    let rows = match result {
        Ok(rows) => rows,
        Err(e) => {
            remove(&tmp);
            return Err(e);
        }
    };
    if force && format == OutFormat::Table && path.is_dir() {
        std::fs::remove_dir_all(path)
            .map_err(|e| CliError::Lib(io_error("remove", e).in_file(path)))?;
    }
    std::fs::rename(&tmp, path).map_err(|e| {
        remove(&tmp);
        CliError::Lib(io_error("rename", e).in_file(path))
    })?;
    Ok(rows)
}

fn remove(p: &Path) {
    let _ = if p.is_dir() {
        std::fs::remove_dir_all(p)
    } else {
        std::fs::remove_file(p)
    };
}

enum Sink {
    Parquet(parquet::arrow::ArrowWriter<std::fs::File>),
    Csv(datafusion::arrow::csv::Writer<std::io::BufWriter<std::fs::File>>),
    Json(datafusion::arrow::json::LineDelimitedWriter<std::io::BufWriter<std::fs::File>>),
    Ipc(datafusion::arrow::ipc::writer::FileWriter<std::io::BufWriter<std::fs::File>>),
    Table(Box<mmarrow::TableWriter>),
}

impl Sink {
    fn create(
        format: OutFormat,
        tmp: &Path,
        schema: datafusion::arrow::datatypes::SchemaRef,
    ) -> Result<Sink, CliError> {
        if format == OutFormat::Table {
            return Ok(Sink::Table(Box::new(mmarrow::TableWriter::create(
                tmp, schema,
            )?)));
        }
        let file = std::fs::File::create_new(tmp)
            .map_err(|e| CliError::Lib(io_error("create", e).in_file(tmp)))?;
        let arrow = |e: datafusion::arrow::error::ArrowError| query_error(e.into());
        Ok(match format {
            OutFormat::Parquet => {
                let props = parquet::file::properties::WriterProperties::builder()
                    .set_compression(parquet::basic::Compression::ZSTD(Default::default()))
                    .build();
                Sink::Parquet(
                    parquet::arrow::ArrowWriter::try_new(file, schema, Some(props))
                        .map_err(|e| query_error(e.into()))?,
                )
            }
            OutFormat::Csv => Sink::Csv(datafusion::arrow::csv::Writer::new(
                std::io::BufWriter::new(file),
            )),
            OutFormat::Json => Sink::Json(datafusion::arrow::json::LineDelimitedWriter::new(
                std::io::BufWriter::new(file),
            )),
            OutFormat::Ipc => Sink::Ipc(
                datafusion::arrow::ipc::writer::FileWriter::try_new(
                    std::io::BufWriter::new(file),
                    &schema,
                )
                .map_err(arrow)?,
            ),
            OutFormat::Table => unreachable!(),
        })
    }

    fn write(&mut self, b: &RecordBatch) -> Result<(), CliError> {
        let arrow = |e: datafusion::arrow::error::ArrowError| query_error(e.into());
        match self {
            Sink::Parquet(w) => w.write(b).map_err(|e| query_error(e.into())),
            Sink::Csv(w) => w.write(b).map_err(arrow),
            Sink::Json(w) => w.write(b).map_err(arrow),
            Sink::Ipc(w) => w.write(b).map_err(arrow),
            Sink::Table(w) => w.append(b).map_err(CliError::Lib),
        }
    }

    fn finish(self) -> Result<(), CliError> {
        let arrow = |e: datafusion::arrow::error::ArrowError| query_error(e.into());
        let sync = |f: &std::fs::File| f.sync_all().map_err(CliError::Output);
        match self {
            Sink::Parquet(w) => {
                let f = w.into_inner().map_err(|e| query_error(e.into()))?;
                sync(&f)
            }
            Sink::Csv(w) => {
                let f = w
                    .into_inner()
                    .into_inner()
                    .map_err(|e| CliError::Output(e.into_error()))?;
                sync(&f)
            }
            Sink::Json(mut w) => {
                w.finish().map_err(arrow)?;
                let f = w
                    .into_inner()
                    .into_inner()
                    .map_err(|e| CliError::Output(e.into_error()))?;
                sync(&f)
            }
            Sink::Ipc(mut w) => {
                w.finish().map_err(arrow)?;
                let f = w
                    .into_inner()
                    .map_err(arrow)?
                    .into_inner()
                    .map_err(|e| CliError::Output(e.into_error()))?;
                sync(&f)
            }
            Sink::Table(w) => w.finish().map(|_| ()).map_err(CliError::Lib),
        }
    }
}
