//! `mmarrow info`: what an array file holds and how Arrow sees it.

use std::io::Write;

use mmarrow::array::ArrowOptions;
use mmarrow::format::{sidecar_path, HeaderSource, EXTENSION_METADATA_KEY, EXTENSION_NAME_KEY};
use mmarrow::MmArray;
use serde_json::json;

use crate::common::{printable, printable_path, ArrayArgs, Layout};
use crate::CliError;

/// Arguments of `mmarrow info`.
#[derive(clap::Args, Debug)]
pub(crate) struct Args {
    #[command(flatten)]
    pub array: ArrayArgs,
    /// Print one JSON document instead of text.
    #[arg(long)]
    pub json: bool,
    /// Arrow layout of N-D arrays.
    #[arg(long, value_enum, default_value_t = Layout::Tensor)]
    pub layout: Layout,
}

pub(crate) fn shape_text(shape: &[u64]) -> String {
    let dims: Vec<String> = shape.iter().map(u64::to_string).collect();
    if dims.len() == 1 {
        format!("({},)", dims[0])
    } else {
        format!("({})", dims.join(", "))
    }
}

fn source_text(a: &MmArray) -> String {
    match a.source() {
        HeaderSource::Sidecar => format!("sidecar {}", printable_path(&sidecar_path(a.path()))),
        HeaderSource::Npy { version } => {
            format!(".npy header (format {}.{})", version.0, version.1)
        }
        _ => "command-line options".into(),
    }
}

pub(crate) fn run(a: Args, out: &mut impl Write) -> Result<(), CliError> {
    if mmarrow::table::is_table(&a.array.path) {
        return table_info(&a, out);
    }
    if a.array.is_unannotated() && is_parquet_or_ipc(&a.array.path) {
        return file_info(&a, out);
    }
    let array = a.array.options()?.open(&a.array.path)?;
    let options = ArrowOptions::new().tensor(a.layout.into());
    let blocker = array.zero_copy_blocker();
    let field = array.field_with(options).ok();
    let arrow_type = field.as_ref().map(|f| f.data_type().to_string());
    let ext_name = field
        .as_ref()
        .and_then(|f| f.metadata().get(EXTENSION_NAME_KEY).cloned());
    let ext_meta = field
        .as_ref()
        .and_then(|f| f.metadata().get(EXTENSION_METADATA_KEY).cloned());
    if a.json {
        let doc = json!({
            "kind": "array",
            "path": array.path().display().to_string(),
            "source": source_text(&array),
            "name": array.name(),
            "dtype": array.dtype().typestr(),
            "dtype_name": array.dtype().name(),
            "shape": array.shape(),
            "order": array.order().to_string(),
            "offset": array.offset(),
            "nbytes": array.nbytes(),
            "rows": array.len(),
            "arrow_type": arrow_type,
            "arrow_extension_name": ext_name,
            "arrow_extension_metadata": ext_meta,
            "zero_copy": blocker.is_none(),
            "zero_copy_blocker": blocker.as_ref().map(|e| e.to_string()),
            "metadata": array.metadata(),
        });
        writeln!(out, "{doc}")?;
        return Ok(());
    }
    writeln!(out, "path:      {}", printable_path(array.path()))?;
    writeln!(out, "described: {}", source_text(&array))?;
    writeln!(out, "name:      {}", printable(&array.name()))?;
    writeln!(
        out,
        "dtype:     {} ({})",
        array.dtype(),
        array.dtype().name()
    )?;
    writeln!(out, "shape:     {}", shape_text(array.shape()))?;
    writeln!(out, "order:     {}", array.order())?;
    writeln!(out, "offset:    {}", array.offset())?;
    writeln!(out, "bytes:     {}", array.nbytes())?;
    match (&arrow_type, &ext_name) {
        (Some(t), Some(n)) => writeln!(
            out,
            "arrow:     {t} [{}{}]",
            printable(n),
            ext_meta
                .as_deref()
                .filter(|m| !m.is_empty())
                .map(|m| format!(" {}", printable(m)))
                .unwrap_or_default()
        )?,
        (Some(t), None) => writeln!(out, "arrow:     {t}")?,
        _ => writeln!(out, "arrow:     none without a copy")?,
    }
    match &blocker {
        None => writeln!(out, "zero-copy: yes")?,
        Some(e) => writeln!(out, "zero-copy: no: {}", printable(&e.to_string()))?,
    }
    for (k, v) in array.metadata() {
        writeln!(
            out,
            "meta:      {} = {}",
            printable(k),
            printable(&v.to_string())
        )?;
    }
    Ok(())
}

fn table_info(a: &Args, out: &mut impl Write) -> Result<(), CliError> {
    let dir = &a.array.path;
    let m = mmarrow::table::check_structure(dir)?;
    let files = |c: &mmarrow::format::ColumnEntry| {
        c.node
            .files()
            .into_iter()
            .map(str::to_string)
            .collect::<Vec<_>>()
    };
    if a.json {
        let cols: Vec<_> = m
            .columns
            .iter()
            .map(|c| {
                json!({
                    "name": c.field.name(),
                    "arrow_type": c.field.data_type().to_string(),
                    "nullable": c.field.is_nullable(),
                    "null_count": c.null_count(),
                    "files": files(c),
                    "metadata": c.field.metadata(),
                })
            })
            .collect();
        let log = m.log.as_ref().map(|l| {
            json!({
                "file": l.file,
                "bytes": l.length,
                "chunk_rows": l.chunk_rows,
                "rows_before_log": l.since,
            })
        });
        let doc = json!({
            "kind": "table",
            "path": dir.display().to_string(),
            "format_version": m.version,
            "rows": m.rows,
            "columns": cols,
            "metadata": m.metadata,
            "commit_log": log,
            "source": m.source.as_ref().map(|s| s.to_json()),
        });
        writeln!(out, "{doc}")?;
        return Ok(());
    }
    writeln!(out, "path:      {}", printable_path(dir))?;
    writeln!(
        out,
        "table:     {} rows, {} columns",
        m.rows,
        m.columns.len()
    )?;
    let width = m
        .columns
        .iter()
        .map(|c| printable(c.field.name()).chars().count())
        .max()
        .unwrap_or(4);
    let twidth = m
        .columns
        .iter()
        .map(|c| printable(&c.field.data_type().to_string()).chars().count())
        .max()
        .unwrap_or(4);
    for c in &m.columns {
        let nulls = if c.field.is_nullable() {
            format!("{} nulls", c.null_count())
        } else {
            "not null".to_string()
        };
        writeln!(
            out,
            "  {:width$}  {:twidth$}  {:22}  {}",
            printable(c.field.name()),
            printable(&c.field.data_type().to_string()),
            nulls,
            printable(&files(c).join(" ")),
        )?;
    }
    for (k, v) in &m.metadata {
        writeln!(out, "meta:      {} = {}", printable(k), printable(v))?;
    }
    match &m.log {
        Some(l) => {
            let before = match l.since {
                0 => String::new(),
                n => format!("; the first {n} rows have none (written before the log)"),
            };
            writeln!(
                out,
                "log:       {} ({} bytes): checksums and statistics per {} rows{before}",
                printable(&l.file),
                l.length,
                l.chunk_rows
            )?;
        }
        None => writeln!(
            out,
            "log:       none (no checksums or statistics: written before format v2's log)"
        )?,
    }
    if let Some(s) = &m.source {
        let now = mmarrow::convert::source_fingerprint(
            &s.path,
            if s.format == "ipc" {
                mmarrow::convert::Format::Ipc
            } else {
                mmarrow::convert::Format::Parquet
            },
        );
        let state = match now {
            Some(n) if n == *s => "unchanged since",
            Some(_) => "changed since: `--if-stale` rebuilds",
            None => "gone or unreadable now",
        };
        writeln!(
            out,
            "source:    {} ({}, {} bytes, footer crc32c {:08x}; {state})",
            printable(&s.path),
            s.format,
            s.size,
            s.footer_crc32c,
        )?;
    }
    Ok(())
}

/// A Parquet or Arrow IPC file (by its first bytes) without a sidecar.
fn is_parquet_or_ipc(path: &std::path::Path) -> bool {
    use std::io::Read;
    // Only a regular file is opened here (a FIFO would block the open):
    // anything else goes to the array path, which refuses it clearly.
    if sidecar_path(path).exists() || !std::fs::metadata(path).is_ok_and(|m| m.is_file()) {
        return false;
    }
    let mut head = [0u8; 6];
    let n = std::fs::File::open(path)
        .and_then(|mut f| f.read(&mut head))
        .unwrap_or(0);
    (n >= 4 && &head[..4] == b"PAR1") || (n == 6 && &head == b"ARROW1")
}

/// `mmarrow info` of a Parquet or Arrow IPC file: format, rows, row groups
/// (or batches), codecs and the Arrow schema.
fn file_info(a: &Args, out: &mut impl Write) -> Result<(), CliError> {
    let s = mmarrow::convert::inspect(&a.array.path)?;
    let format = match s.format {
        mmarrow::convert::Format::Parquet => "parquet",
        _ => "arrow-ipc",
    };
    let fields: Vec<(String, String, bool)> = s
        .schema
        .fields()
        .iter()
        .map(|f| (f.name().clone(), f.data_type().to_string(), f.is_nullable()))
        .collect();
    if a.json {
        let doc = json!({
            "kind": format,
            "path": a.array.path.display().to_string(),
            "rows": s.rows,
            "groups": s.groups,
            "codecs": s.codecs,
            "columns": fields.iter().map(|(n, t, nullable)| json!({"name": n, "type": t, "nullable": nullable})).collect::<Vec<_>>(),
        });
        writeln!(out, "{doc}")?;
        return Ok(());
    }
    let groups = if format == "parquet" {
        "row groups"
    } else {
        "batches"
    };
    writeln!(out, "path:      {}", printable_path(&a.array.path))?;
    writeln!(
        out,
        "{format}: {} rows, {} {groups}, {} columns",
        s.rows,
        s.groups,
        fields.len()
    )?;
    if !s.codecs.is_empty() {
        writeln!(out, "codecs:    {}", s.codecs.join(", "))?;
    }
    for (name, t, nullable) in &fields {
        writeln!(
            out,
            "  {}: {}{}",
            printable(name),
            printable(t),
            if *nullable { "" } else { " not null" }
        )?;
    }
    Ok(())
}
