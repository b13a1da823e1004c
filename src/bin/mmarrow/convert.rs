//! `mmarrow to-parquet`, `from-parquet` and `convert`.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use indicatif::{ProgressBar, ProgressStyle};
use mmarrow::convert::{Compression, ConvertOptions, ConvertSummary, Format, Progress};

use crate::CliError;

/// Options shared by the conversion commands.
#[derive(clap::Args, Debug)]
pub(crate) struct ConvertArgs {
    /// Source file.
    pub src: PathBuf,
    /// Destination file (written under a temporary name, renamed at the end).
    pub dst: PathBuf,
    /// Parquet codec: none, snappy, zstd (level 1), zstd:N (1-22), lz4, gzip, gzip:N (0-9).
    #[arg(long, default_value = "zstd")]
    pub compression: String,
    /// Rows per Parquet row group (default: about 64 MiB of data per row group).
    #[arg(long)]
    pub row_group_size: Option<u64>,
    /// Threads to encode or decode with (default: all cores; uncompressed
    /// pages are written by one, as writes to one file are serialized).
    #[arg(long, default_value_t = 0)]
    pub threads: usize,
    /// Replace an existing destination.
    #[arg(long)]
    pub force: bool,
    /// No progress bar.
    #[arg(long, short)]
    pub quiet: bool,
    /// Skip the fsyncs before the rename: faster, still never a partial
    /// destination after an error or Ctrl-C, but a machine crash soon after
    /// may leave it empty or partial.
    #[arg(long)]
    pub no_fsync: bool,
    /// Do nothing when the destination table was built from the source as
    /// it is now (its manifest records the source's path, size,
    /// modification time and footer checksum); otherwise build it,
    /// replacing an existing mmarrow table. For table destinations.
    #[arg(long)]
    pub if_stale: bool,
    /// Store string and binary columns of a table destination as Arrow
    /// views (utf8_view, binary_view), the layout Polars and DataFusion
    /// work on: Polars then maps them with no conversion.
    #[arg(long)]
    pub string_view: bool,
    /// Use only the parquet crate's generic Arrow reader/writer (slower; for comparison).
    #[arg(long, hide = true)]
    pub generic: bool,
    /// Column to extract from a wider Parquet or IPC file into an array file.
    #[arg(long)]
    pub column: Option<String>,
    /// Write a table directory (from-parquet does so by itself for several columns).
    #[arg(long)]
    pub table: bool,
    /// Read Parquet INT96 timestamps (Spark's legacy type) in this unit: ns,
    /// us, ms or s (default ns, and an error for values ns cannot hold).
    #[arg(long, value_name = "UNIT", value_parser = ["ns", "us", "ms", "s"])]
    pub int96_unit: Option<String>,
}

/// Which conversion to run.
#[derive(Clone, Copy)]
pub(crate) enum Direction {
    ToParquet,
    FromParquet,
    ByExtension,
}

struct Bar {
    bar: Mutex<Option<ProgressBar>>,
    /// Rows done and in all.
    rows: Mutex<(u64, u64)>,
}

impl Progress for Bar {
    fn start(&self, rows: u64, bytes: u64) {
        // Without a known size (Arrow IPC input), a spinner with the count.
        let (bar, template) = if bytes == 0 {
            (
                ProgressBar::new_spinner(),
                "{spinner} {bytes}  {binary_bytes_per_sec}  {msg}",
            )
        } else {
            (
                ProgressBar::new(bytes),
                "{bar:30} {bytes}/{total_bytes}  {binary_bytes_per_sec}  eta {eta}  {msg}",
            )
        };
        bar.set_style(ProgressStyle::with_template(template).expect("valid template"));
        bar.set_message(format!("0/{rows} rows"));
        *self.bar.lock().expect("progress lock") = Some(bar);
        *self.rows.lock().expect("progress lock") = (0, rows);
    }
    fn advance(&self, rows: u64, bytes: u64) {
        let mut r = self.rows.lock().expect("progress lock");
        r.0 += rows;
        if let Some(b) = self.bar.lock().expect("progress lock").as_ref() {
            b.inc(bytes);
            b.set_message(format!("{}/{} rows", r.0, r.1));
        }
    }
}

pub(crate) fn run(a: ConvertArgs, dir: Direction, out: &mut impl Write) -> Result<(), CliError> {
    let compression: Compression = a.compression.parse()?;
    let mut o = ConvertOptions::new()
        .compression(compression)
        .threads(a.threads)
        .overwrite(a.force)
        .fast_path(!a.generic)
        .durable(!a.no_fsync)
        .if_stale(a.if_stale)
        .string_view(a.string_view)
        .table(a.table);
    if let Some(r) = a.row_group_size {
        o = o.row_group_rows(r);
    }
    if let Some(c) = &a.column {
        o = o.column(c.clone());
    }
    if let Some(u) = &a.int96_unit {
        use arrow_schema::TimeUnit;
        o = o.int96_unit(match u.as_str() {
            "s" => TimeUnit::Second,
            "ms" => TimeUnit::Millisecond,
            "us" => TimeUnit::Microsecond,
            _ => TimeUnit::Nanosecond,
        });
    }
    o = match dir {
        Direction::ToParquet => o.destination_format(Format::Parquet),
        Direction::FromParquet => o.source_format(Format::Parquet),
        Direction::ByExtension => o,
    };
    let bar = Arc::new(Bar {
        bar: Mutex::new(None),
        rows: Mutex::new((0, 0)),
    });
    if !a.quiet && std::io::stderr().is_terminal() {
        o = o.progress(bar.clone());
    }
    let t = Instant::now();
    let result = mmarrow::convert::convert(&a.src, &a.dst, &o);
    if let Some(b) = bar.bar.lock().expect("progress lock").take() {
        b.finish_and_clear();
    }
    let s: ConvertSummary = result?;
    let secs = t.elapsed().as_secs_f64();
    if s.up_to_date {
        writeln!(
            out,
            "{}: up to date with {} ({} rows), nothing to do ({:.1} ms)",
            a.dst.display(),
            a.src.display(),
            s.rows,
            secs * 1e3
        )?;
        return Ok(());
    }
    writeln!(
        out,
        "{} -> {}: {} rows, {:.1} MB of data in {:.2} s ({:.0} MB/s), {} bytes written, {} groups{}",
        a.src.display(),
        a.dst.display(),
        s.rows,
        s.data_bytes as f64 / 1e6,
        secs,
        s.data_bytes as f64 / 1e6 / secs.max(1e-9),
        s.output_bytes,
        s.groups,
        if s.fast_path { ", fast path" } else { "" }
    )?;
    Ok(())
}
