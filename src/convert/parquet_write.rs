//! Array file → Parquet: the page-level fast path (`parquet_fast`) for
//! fixed-width columns; otherwise one zero-copy row group slice at a time
//! through the parquet crate's Arrow writer, row groups encoded in
//! parallel and appended in order.

use std::fs::File;
use std::io::BufWriter;
use std::ops::Range;
use std::path::Path;
use std::sync::Arc;

use arrow_array::RecordBatch;
use arrow_schema::{DataType, Field, Schema, SchemaRef, TimeUnit};
use parquet::arrow::arrow_writer::{compute_leaves, ArrowColumnChunk, ArrowRowGroupWriterFactory};
use parquet::arrow::{add_encoded_arrow_schema_to_metadata, ArrowSchemaConverter};
use parquet::file::properties::{WriterProperties, WriterVersion};
use parquet::file::writer::SerializedFileWriter;
use parquet::schema::types::SchemaDescriptor;

use super::options::{check_row_group_rows, ConvertOptions, DEFAULT_ROW_GROUP_BYTES};
use super::output::Output;
use super::Source;
use super::{parquet_fast, ConvertSummary};
use crate::array::MmArray;
use crate::error::{Error, ErrorKind, Result};
use crate::table::Table;

/// Writes `source` to the Parquet file `dst`.
///
/// The Arrow schema (tensor extension, timestamp units, user metadata) is
/// stored in the file, so pyarrow and arrow-rs read back the same types.
/// Little-endian fixed-width columns (float32/64, int32/64, uint32/64,
/// float16, timestamps in ms/us/ns, durations, byte strings, and tensors and
/// complex numbers of those, aligned or not) take a page-level fast path:
/// PLAIN pages of about 1 MiB are cut from the map, compressed on
/// [`ConvertOptions::threads`] threads and written in order at their offsets
/// (uncompressed pages straight from the map), so memory is a few pages per
/// thread whatever the input size, and the output is the same whatever the
/// thread count. Flat numeric, timestamp and duration columns get row-group
/// statistics (min and max, NaN left out; no nulls), so that engines can
/// skip row groups. Other types go through the parquet crate's Arrow writer,
/// one zero-copy row group slice at a time, row groups encoded in parallel
/// and appended in order (memory: a few row groups). Big-endian sources are
/// copied one row group at a time.
///
/// The output is written to a temporary name next to `dst`, fsynced (unless
/// [`ConvertOptions::durable`] is off) and renamed at the end: a failure
/// leaves no partial `dst`.
///
/// # Errors
/// [`ErrorKind::AlreadyExists`](crate::ErrorKind::AlreadyExists) without [`ConvertOptions::overwrite`],
/// [`ErrorKind::IsDirectory`](crate::ErrorKind::IsDirectory), I/O errors (a destination directory that is not
/// writable), [`ErrorKind::FortranTensor`](crate::ErrorKind::FortranTensor)-style errors for arrays with no Arrow
/// form.
///
/// ```
/// # fn main() -> mmarrow::Result<()> {
/// # let dir = tempfile::tempdir().unwrap();
/// # let src = dir.path().join("emb.f32");
/// # std::fs::write(&src, vec![0u8; 4 * 8 * 100]).unwrap();
/// # mmarrow::describe(&src, &mmarrow::OpenOptions::new().dtype("f4")?.shape("-1,8")?, false)?;
/// use mmarrow::{Compression, ConvertOptions};
/// let array = mmarrow::open(&src)?;
/// let dst = dir.path().join("emb.parquet");
/// let s = mmarrow::to_parquet(&array, &dst, &ConvertOptions::new().compression(Compression::Snappy))?;
/// assert_eq!(s.rows, 100);
/// assert!(s.fast_path);
/// # Ok(()) }
/// ```
pub fn to_parquet(source: &MmArray, dst: &Path, o: &ConvertOptions) -> Result<ConvertSummary> {
    write_parquet(Source::Array(source), dst, o).map_err(|e| super::output::name_dst(e, dst))
}

/// Writes the table `table` to the Parquet file `dst`, as [`to_parquet`]
/// does for arrays: row groups of zero-copy slices, encoded in parallel by
/// the parquet crate's Arrow column writers, appended in order; the Arrow
/// schema (time zones, decimals, tensor metadata) is stored in the file.
///
/// # Errors
/// As [`to_parquet`].
pub fn table_to_parquet(table: &Table, dst: &Path, o: &ConvertOptions) -> Result<ConvertSummary> {
    write_parquet(Source::Table(table), dst, o).map_err(|e| super::output::name_dst(e, dst))
}

fn write_parquet(source: Source<'_>, dst: &Path, o: &ConvertOptions) -> Result<ConvertSummary> {
    check_row_group_rows(o.row_group_rows)?;
    let out = Output::new(dst, o)?;
    let given = source.schema()?;
    // Parquet has no seconds unit: like pyarrow, store seconds as milliseconds.
    let schema = coerce_schema(&given);
    let coerced = schema != given;
    let row_bytes = source.row_bytes();
    let rg_rows = o
        .row_group_rows
        .unwrap_or((DEFAULT_ROW_GROUP_BYTES / row_bytes).max(1));
    let n = source.rows();
    let groups: Vec<Range<u64>> = (0..n.div_ceil(rg_rows))
        .map(|k| k * rg_rows..((k + 1) * rg_rows).min(n))
        .collect();

    let pq_err = |e: parquet::errors::ParquetError| {
        ErrorKind::Internal {
            reason: format!("writing Parquet: {e}"),
        }
        .at(dst)
    };
    let mut props = WriterProperties::builder()
        .set_compression(o.compression.to_parquet())
        .set_dictionary_enabled(false)
        .set_writer_version(WriterVersion::PARQUET_1_0)
        .set_created_by(format!("mmarrow version {}", env!("CARGO_PKG_VERSION")))
        .build();
    // The stored Arrow schema says milliseconds too: pyarrow drops a column's
    // Arrow type (and its tensor extension) when it disagrees with the data.
    add_encoded_arrow_schema_to_metadata(&schema, &mut props);
    let descr: SchemaDescriptor = ArrowSchemaConverter::new()
        .with_coerce_types(false)
        .convert(&schema)
        .map_err(pq_err)?;
    let fast = match source {
        Source::Array(a) => o.fast_path && !coerced && parquet_fast::supports(a, &schema, &descr),
        Source::Table(_) => false,
    };
    let file = File::create(out.path()).map_err(|e| Error::io(out.path(), "create", e))?;
    let flusher = Flusher::start(&file, out.durable());
    o.start(n, n * row_bytes);
    if let (true, Source::Array(a)) = (fast, &source) {
        let target = parquet_fast::Target {
            file: &file,
            path: out.path(),
            descr: &descr,
            key_value: props.key_value_metadata().cloned(),
            created_by: props.created_by().to_string(),
            groups: &groups,
            flusher: &flusher,
            arrow_type: schema.field(0).data_type(),
        };
        let output_bytes = parquet_fast::write(a, &target, o)?;
        flusher.stop();
        out.sync(&file)?;
        out.commit()?;
        return Ok(ConvertSummary {
            rows: n,
            data_bytes: n * row_bytes,
            output_bytes,
            groups: groups.len(),
            fast_path: true,
        });
    }
    let mut writer = SerializedFileWriter::new(
        BufWriter::with_capacity(4 << 20, file),
        descr.root_schema_ptr(),
        Arc::new(props),
    )
    .map_err(pq_err)?;
    let factory = ArrowRowGroupWriterFactory::new(&writer, schema.clone());
    let threads = o.thread_count();

    let encode = |k: usize| -> Result<Vec<ArrowColumnChunk>> {
        let mut batch = source.batch(groups[k].clone())?;
        if coerced {
            batch = coerce_batch(&batch, &schema)?;
        }
        encode_generic(&batch, &schema, &factory, k).map_err(|e| match e.kind() {
            ErrorKind::Arrow(a) => ErrorKind::Internal {
                reason: format!("encoding row group {k}: {a}"),
            }
            .at(dst),
            _ => e,
        })
    };
    let encode_wave = |start: usize| -> Result<Vec<Vec<ArrowColumnChunk>>> {
        use rayon::prelude::*;
        let end = (start + threads).min(groups.len());
        (start..end).into_par_iter().map(encode).collect()
    };
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .map_err(|e| {
            ErrorKind::Internal {
                reason: format!("starting threads: {e}"),
            }
            .at(dst)
        })?;
    pool.install(|| -> Result<()> {
        let mut next = 0;
        let mut ready = encode_wave(0)?;
        while !ready.is_empty() {
            next += ready.len();
            let done = &groups[next - ready.len()..next];
            // Append this wave while the next one is encoded.
            let (appended, encoded) = rayon::join(
                || append_wave(&mut writer, ready, done, row_bytes, o).map_err(pq_err),
                || encode_wave(next),
            );
            appended?;
            ready = encoded?;
            flusher.nudge();
        }
        Ok(())
    })?;
    let buf = writer.into_inner().map_err(pq_err)?;
    flusher.stop();
    let file = buf
        .into_inner()
        .map_err(|e| Error::io(out.path(), "write", e.into_error()))?;
    out.sync(&file)?;
    let output_bytes = file
        .metadata()
        .map_err(|e| Error::io(out.path(), "stat", e))?
        .len();
    out.commit()?;
    Ok(ConvertSummary {
        rows: n,
        data_bytes: n * row_bytes,
        output_bytes,
        groups: groups.len(),
        fast_path: false,
    })
}

fn append_wave(
    writer: &mut SerializedFileWriter<BufWriter<File>>,
    wave: Vec<Vec<ArrowColumnChunk>>,
    ranges: &[Range<u64>],
    row_bytes: u64,
    o: &ConvertOptions,
) -> parquet::errors::Result<()> {
    for (chunks, range) in wave.into_iter().zip(ranges) {
        let mut rg = writer.next_row_group()?;
        for c in chunks {
            c.append_to_row_group(&mut rg)?;
        }
        rg.close()?;
        let rows = range.end - range.start;
        o.advance(rows, rows * row_bytes);
    }
    Ok(())
}

/// Encodes one row group with the parquet crate's Arrow column writers.
fn encode_generic(
    batch: &RecordBatch,
    schema: &SchemaRef,
    factory: &ArrowRowGroupWriterFactory,
    k: usize,
) -> Result<Vec<ArrowColumnChunk>> {
    let pq = |e: parquet::errors::ParquetError| {
        Error::new(ErrorKind::Arrow(arrow_schema::ArrowError::ExternalError(
            Box::new(e),
        )))
    };
    let mut writers = factory.create_column_writers(k).map_err(pq)?;
    let mut next = writers.iter_mut();
    for (field, column) in schema.fields().iter().zip(batch.columns()) {
        for leaf in compute_leaves(field, column).map_err(pq)? {
            let w = next.next().expect("one writer per leaf");
            w.write(&leaf).map_err(pq)?;
        }
    }
    writers.into_iter().map(|w| w.close().map_err(pq)).collect()
}

fn coerce_type(t: &DataType) -> DataType {
    match t {
        DataType::Timestamp(TimeUnit::Second, tz) => {
            DataType::Timestamp(TimeUnit::Millisecond, tz.clone())
        }
        DataType::FixedSizeList(item, n) => DataType::FixedSizeList(
            Arc::new(
                item.as_ref()
                    .clone()
                    .with_data_type(coerce_type(item.data_type())),
            ),
            *n,
        ),
        t => t.clone(),
    }
}

/// The schema as it is stored in Parquet (seconds become milliseconds).
fn coerce_schema(s: &Schema) -> SchemaRef {
    let fields: Vec<Field> = s
        .fields()
        .iter()
        .map(|f| {
            f.as_ref()
                .clone()
                .with_data_type(coerce_type(f.data_type()))
        })
        .collect();
    Arc::new(Schema::new(fields).with_metadata(s.metadata().clone()))
}

/// Casts the columns whose stored type differs (a copy of those columns only).
fn coerce_batch(batch: &RecordBatch, schema: &SchemaRef) -> Result<RecordBatch> {
    let columns = batch
        .columns()
        .iter()
        .zip(schema.fields())
        .map(|(c, f)| {
            if c.data_type() == f.data_type() {
                Ok(c.clone())
            } else {
                arrow_cast::cast(c, f.data_type())
            }
        })
        .collect::<std::result::Result<Vec<_>, _>>()?;
    let opts = arrow_array::RecordBatchOptions::new().with_row_count(Some(batch.num_rows()));
    Ok(RecordBatch::try_new_with_options(
        schema.clone(),
        columns,
        &opts,
    )?)
}

/// Starts writeback of what has been written so far on a background thread,
/// so that the final fsync has little left to do. Each nudge runs one
/// `fdatasync` on a second handle of the output file (nudges coalesce).
pub(crate) struct Flusher {
    tx: Option<std::sync::mpsc::SyncSender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Flusher {
    /// Starts the thread (none when `enabled` is false: nudges do nothing).
    pub(crate) fn start(file: &File, enabled: bool) -> Flusher {
        let clone = if enabled { file.try_clone().ok() } else { None };
        let Some(clone) = clone else {
            return Flusher {
                tx: None,
                thread: None,
            };
        };
        let (tx, rx) = std::sync::mpsc::sync_channel::<()>(1);
        let thread = std::thread::spawn(move || {
            while rx.recv().is_ok() {
                // Errors surface at the final fsync, which is checked.
                let _ = clone.sync_data();
            }
        });
        Flusher {
            tx: Some(tx),
            thread: Some(thread),
        }
    }

    pub(crate) fn nudge(&self) {
        if let Some(tx) = &self.tx {
            let _ = tx.try_send(());
        }
    }

    pub(crate) fn stop(mut self) {
        drop(self.tx.take());
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
