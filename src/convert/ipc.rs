//! Arrow IPC files ↔ array files.

use std::fs::File;
use std::io::BufWriter;
use std::path::Path;

use arrow_ipc::reader::FileReader;
use arrow_ipc::writer::FileWriter;

use super::options::{check_row_group_rows, ConvertOptions, DEFAULT_ROW_GROUP_BYTES};
use super::output::{ConvertSummary, Output, Writes};
use super::sink::ArraySink;
use super::source::Source;
use super::spec::{array_spec, open_input, pick_column};
use crate::array::MmArray;
use crate::error::{name_panic, Error, ErrorKind, Result};
use crate::table::Table;

/// Writes `source` as an Arrow IPC file (`.arrow`/`.feather` v2) of record
/// batches of [`ConvertOptions::row_group_rows`] rows (default: about
/// 64 MiB each), with the tensor extension and user metadata in its schema.
/// Written under a temporary name and renamed at the end.
///
/// # Errors
/// As [`to_parquet`](super::to_parquet).
///
/// ```
/// # fn main() -> mmarrow::Result<()> {
/// # let dir = tempfile::tempdir().unwrap();
/// # let src = dir.path().join("v.i8");
/// # std::fs::write(&src, (0..6i64).flat_map(|v| v.to_le_bytes()).collect::<Vec<u8>>()).unwrap();
/// let a = mmarrow::OpenOptions::new().try_with_dtype("int64")?.try_with_shape("-1,2")?.open(&src)?;
/// let s = mmarrow::convert::to_ipc(&a, dir.path().join("v.arrow"), &Default::default())?;
/// assert_eq!(s.rows, 3);
/// # Ok(()) }
/// ```
pub fn to_ipc(
    source: &MmArray,
    dst: impl AsRef<Path>,
    o: &ConvertOptions,
) -> Result<ConvertSummary> {
    name_panic(source.path(), "writing Arrow IPC", || {
        write_ipc(Source::Array(source), dst.as_ref(), o)
    })
}

/// Writes the table `table` as an Arrow IPC file, as [`to_ipc`] does for arrays.
///
/// # Errors
/// As [`to_ipc`].
pub fn table_to_ipc(
    table: &Table,
    dst: impl AsRef<Path>,
    o: &ConvertOptions,
) -> Result<ConvertSummary> {
    name_panic(table.path(), "writing Arrow IPC", || {
        write_ipc(Source::Table(table), dst.as_ref(), o)
    })
}

fn write_ipc(source: Source<'_>, dst: &Path, o: &ConvertOptions) -> Result<ConvertSummary> {
    check_row_group_rows(o.row_group_rows)?;
    Output::file(dst, Writes::Ipc, source.path(), o)?.write(|out| {
        let schema = source.schema()?;
        let row_bytes = source.row_bytes();
        let batch_rows = o
            .row_group_rows
            .unwrap_or((DEFAULT_ROW_GROUP_BYTES / row_bytes).max(1));
        let file = File::create(out.path()).map_err(|e| Error::io(out.path(), "create", e))?;
        // Arrow's writer reports the output's I/O errors without a file:
        // name the output (the user's destination, once Output relocates it).
        let wr = |e: arrow_schema::ArrowError| match e {
            arrow_schema::ArrowError::IoError(_, io) => Error::io(out.path(), "write", io),
            e => Error::from(e).in_file(out.path()),
        };
        let mut w =
            FileWriter::try_new(BufWriter::with_capacity(4 << 20, file), &schema).map_err(wr)?;
        let n = source.rows();
        o.start(n, n * row_bytes);
        let mut start = 0;
        let mut groups = 0;
        while start < n {
            let end = (start + batch_rows).min(n);
            let batch = source.batch(start..end)?;
            w.write(&batch).map_err(wr)?;
            o.advance(end - start, (end - start) * row_bytes);
            groups += 1;
            start = end;
        }
        w.finish().map_err(wr)?;
        let file = w
            .into_inner()
            .map_err(wr)?
            .into_inner()
            .map_err(|e| Error::io(out.path(), "write", e.into_error()))?;
        out.sync(&file)?;
        let output_bytes = file
            .metadata()
            .map_err(|e| Error::io(out.path(), "stat", e))?
            .len();
        Ok(ConvertSummary {
            rows: n,
            data_bytes: n * row_bytes,
            output_bytes,
            groups,
            fast_path: false,
            up_to_date: false,
        })
    })
}

/// Converts one column of an Arrow IPC file to an array file (raw +
/// sidecar, or `.npy` by extension), batch by batch, through
/// [`ArrayWriter`](crate::ArrayWriter); the same column rules as
/// [`from_parquet`](super::from_parquet).
///
/// # Errors
/// [`ErrorKind::Format`] for a file that is not Arrow IPC or an unsupported
/// column, [`ErrorKind::HasNulls`], [`ErrorKind::AlreadyExists`], I/O errors.
pub fn from_ipc(
    src: impl AsRef<Path>,
    dst: impl AsRef<Path>,
    o: &ConvertOptions,
) -> Result<ConvertSummary> {
    let (src, dst) = (src.as_ref(), dst.as_ref());
    name_panic(src, "reading Arrow IPC", || from_ipc_at(src, dst, o))
}

fn from_ipc_at(src: &Path, dst: &Path, o: &ConvertOptions) -> Result<ConvertSummary> {
    let bad = |reason: String| ErrorKind::Format { reason }.at(src);
    let reader = ipc_reader(src)?;
    let schema = reader.schema();
    let col = pick_column(&schema, o, &bad)?;
    let field = schema.field(col).clone();
    let spec = array_spec(&field).map_err(|r| bad(format!("column {:?} {r}", field.name())))?;
    Output::file(dst, Writes::Array, src, o)?.write(|out| {
        let mut sink = ArraySink::new(src, field, spec, out, dst);
        // IPC files do not say their row count up front.
        o.start(0, 0);
        let mut groups = 0;
        for batch in reader {
            let batch = batch.map_err(|e| bad(format!("batch {groups}: {e}")))?;
            sink.append(batch.column(col), o)?;
            groups += 1;
        }
        sink.finish(out, groups, false)
    })
}

/// Opens the Arrow IPC file `src` for reading.
/// Checks the file's trailer before arrow-ipc trusts it: `ARROW1` at both
/// ends and a footer length that fits inside the file (arrow-ipc allocates
/// the footer length it reads, so a corrupt one would allocate gigabytes).
fn check_footer(src: &Path, file: &File) -> Result<()> {
    const MAGIC: &[u8; 6] = b"ARROW1";
    let bad = |reason: String| {
        ErrorKind::Format {
            reason: format!("not a readable Arrow IPC file: {reason}"),
        }
        .at(src)
    };
    let len = file
        .metadata()
        .map_err(|e| Error::io(src, "stat", e))?
        .len();
    // "ARROW1" + 2 padding bytes, the body, footer, i32 footer length, "ARROW1".
    if len < 8 + 4 + 6 {
        return Err(bad(format!("{len} bytes are too few for an IPC file")));
    }
    let mut head = [0u8; 6];
    let mut tail = [0u8; 10];
    let (h, t) = (
        crate::fsutil::read_at_most(file, &mut head, 0),
        crate::fsutil::read_at_most(file, &mut tail, len - 10),
    );
    let (h, t) = (
        h.map_err(|e| Error::io(src, "read", e))?,
        t.map_err(|e| Error::io(src, "read", e))?,
    );
    if h < 6 || &head != MAGIC || t < 10 || &tail[4..] != MAGIC {
        return Err(bad("it does not start and end with ARROW1".into()));
    }
    let footer = i32::from_le_bytes([tail[0], tail[1], tail[2], tail[3]]);
    if footer <= 0 || footer as u64 > len - 8 - 10 {
        return Err(bad(format!(
            "its footer length {footer} does not fit in its {len} bytes"
        )));
    }
    // Every block the footer lists must lie inside the file: arrow-ipc
    // allocates a block's lengths before reading it.
    let mut buf = vec![0u8; footer as usize];
    let start = len - 10 - footer as u64;
    let n = crate::fsutil::read_at_most(file, &mut buf, start)
        .map_err(|e| Error::io(src, "read", e))?;
    if n < buf.len() {
        return Err(bad("its footer is truncated".into()));
    }
    let f = arrow_ipc::root_as_footer(&buf)
        .map_err(|e| bad(format!("its footer is malformed: {e}")))?;
    if f.schema()
        .is_some_and(|s| s.endianness() == arrow_ipc::Endianness::Big)
    {
        return Err(bad("it is big-endian (written on a big-endian machine) and mmarrow maps little-endian data only;              rewrite it on this machine first, e.g. with pyarrow, which byte-swaps on read:              pa.ipc.new_file(out, t.schema).write_table(t) for t = pa.ipc.open_file(src).read_all()"
            .into()));
    }
    let blocks = f
        .dictionaries()
        .into_iter()
        .flatten()
        .chain(f.recordBatches().into_iter().flatten());
    for (i, b) in blocks.enumerate() {
        let end = u64::try_from(b.offset())
            .ok()
            .zip(u64::try_from(b.metaDataLength()).ok())
            .zip(u64::try_from(b.bodyLength()).ok())
            .and_then(|((o, m), body)| o.checked_add(m)?.checked_add(body));
        if end.is_none_or(|e| e > start) {
            return Err(bad(format!(
                "block {i} of its footer (offset {}, {} + {} bytes) lies outside its {len} bytes",
                b.offset(),
                b.metaDataLength(),
                b.bodyLength()
            )));
        }
        check_compressed_lengths(file, b, src).map_err(|r| bad(format!("block {i}: {r}")))?;
    }
    Ok(())
}

/// Most bytes a compressed buffer of `c` bytes may declare it expands to:
/// zstd's best ratio (a run of one byte) is about 32,000:1, LZ4's 255:1;
/// and never more than this machine's memory, past which the allocation
/// would abort the process.
fn max_uncompressed(c: u64, zstd: bool) -> u64 {
    let ratio = if zstd { 1 << 15 } else { 256 };
    c.saturating_mul(ratio)
        .saturating_add(1 << 20)
        .min(physical_memory())
}

/// Bytes of physical memory (1 TiB when unknown).
fn physical_memory() -> u64 {
    #[allow(unsafe_code)]
    // SAFETY: sysconf has no preconditions; it only reads system values.
    let (pages, size) = unsafe {
        (
            libc::sysconf(libc::_SC_PHYS_PAGES),
            libc::sysconf(libc::_SC_PAGESIZE),
        )
    };
    match (u64::try_from(pages), u64::try_from(size)) {
        (Ok(p), Ok(s)) if p > 0 && s > 0 => p.saturating_mul(s),
        _ => 1 << 40,
    }
}

/// A compressed record batch's buffers each start with the length they
/// decompress to, which arrow-ipc allocates before decompressing (a
/// crafted length aborted the process, found by fuzzing): each must be
/// plausible for its compressed size.
fn check_compressed_lengths(
    file: &File,
    b: &arrow_ipc::Block,
    src: &Path,
) -> std::result::Result<(), String> {
    let read = |at: u64, n: usize| -> std::result::Result<Vec<u8>, String> {
        let mut buf = vec![0u8; n];
        match crate::fsutil::read_at_most(file, &mut buf, at) {
            Ok(k) if k == n => Ok(buf),
            Ok(_) => Err("it is truncated".into()),
            Err(e) => Err(Error::io(src, "read", e).to_string()),
        }
    };
    let (offset, meta_len) = (b.offset() as u64, b.metaDataLength() as usize);
    if meta_len < 8 {
        return Ok(()); // arrow-ipc reports it
    }
    let meta = read(offset, meta_len)?;
    // A continuation marker and the flatbuffer's length, then the
    // flatbuffer. arrow-ipc parses from there to the end of the block,
    // body included, whatever the declared length: so does this, reading
    // the body only when the metadata alone does not parse (a crafted
    // file; a well-formed one's message fits its metadata).
    let skip = if meta[..4] == [0xff; 4] { 8 } else { 4 };
    let whole;
    let message = match arrow_ipc::root_as_message(&meta[skip..]) {
        Ok(m) => m,
        Err(_) => {
            let body_len = usize::try_from(b.bodyLength())
                .map_err(|_| "its body length is negative".to_string())?;
            whole = read(offset, meta_len + body_len)?;
            match arrow_ipc::root_as_message(&whole[skip..]) {
                Ok(m) => m,
                Err(_) => return Ok(()), // arrow-ipc reports it
            }
        }
    };
    let batch = message
        .header_as_record_batch()
        .or_else(|| message.header_as_dictionary_batch().and_then(|d| d.data()));
    let Some(batch) = batch else { return Ok(()) };
    let Some(compression) = batch.compression() else {
        return Ok(());
    };
    let zstd = compression.codec() == arrow_ipc::CompressionType::ZSTD;
    let body = offset + meta_len as u64;
    for (k, buf) in batch.buffers().into_iter().flatten().enumerate() {
        let (o, l) = (buf.offset(), buf.length());
        if l < 8 || o < 0 || o.checked_add(l).is_none_or(|e| e > b.bodyLength()) {
            continue; // empty, or arrow-ipc reports it
        }
        let head = read(body + o as u64, 8)?;
        let declared = i64::from_le_bytes(head.try_into().expect("8 bytes"));
        if declared == -1 {
            continue; // stored uncompressed
        }
        let compressed = l as u64 - 8;
        if declared < 0 || declared as u64 > max_uncompressed(compressed, zstd) {
            return Err(format!(
                "buffer {k} says it decompresses to {declared} bytes from {compressed}"
            ));
        }
    }
    Ok(())
}

pub(crate) fn ipc_reader(src: &Path) -> Result<FileReader<std::io::BufReader<File>>> {
    let file = open_input(src)?;
    check_footer(src, &file)?;
    FileReader::try_new(std::io::BufReader::new(file), None).map_err(|e| {
        ErrorKind::Format {
            reason: format!("not a readable Arrow IPC file: {e}"),
        }
        .at(src)
    })
}
