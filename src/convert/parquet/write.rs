//! Array file or table → Parquet: the page-level writer
//! ([`write_pages`](super::write_pages)) for fixed-width columns; otherwise
//! one zero-copy row group slice at a time through the parquet crate's
//! Arrow writer, row groups encoded in parallel and appended in order
//! ([`pipeline::ordered`]).

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

use super::write_pages;
use crate::array::MmArray;
use crate::convert::options::{check_row_group_rows, ConvertOptions, DEFAULT_ROW_GROUP_BYTES};
use crate::convert::output::{ConvertSummary, Flusher, Output, Writes};
use crate::convert::pipeline;
use crate::convert::source::Source;
use crate::error::{name_panic, Error, ErrorKind, Result};
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
/// and appended in order (memory: a row group per thread). Big-endian
/// sources are copied one row group at a time.
///
/// The output is written to a temporary name next to `dst`, fsynced (unless
/// [`ConvertOptions::durable`] is off) and renamed at the end: a failure
/// leaves no partial `dst`.
///
/// # Errors
/// [`ErrorKind::AlreadyExists`] without [`ConvertOptions::overwrite`],
/// [`ErrorKind::IsDirectory`], I/O errors (a destination directory that is not
/// writable), [`ErrorKind::FortranTensor`]-style errors for arrays with no Arrow
/// form.
///
/// ```
/// # fn main() -> mmarrow::Result<()> {
/// # let dir = tempfile::tempdir().unwrap();
/// # let src = dir.path().join("emb.f32");
/// # std::fs::write(&src, vec![0u8; 4 * 8 * 100]).unwrap();
/// # mmarrow::describe(&src, &mmarrow::OpenOptions::new().try_with_dtype("f4")?.try_with_shape("-1,8")?)?;
/// use mmarrow::convert::{to_parquet, Compression, ConvertOptions};
/// let array = mmarrow::open(&src)?;
/// let dst = dir.path().join("emb.parquet");
/// let s = to_parquet(&array, &dst, &ConvertOptions::new().compression(Compression::Snappy))?;
/// assert_eq!(s.rows, 100);
/// # Ok(()) }
/// ```
pub fn to_parquet(
    source: &MmArray,
    dst: impl AsRef<Path>,
    o: &ConvertOptions,
) -> Result<ConvertSummary> {
    name_panic(source.path(), "writing Parquet", || {
        write_parquet(Source::Array(source), dst.as_ref(), o)
    })
}

/// Writes the table `table` to the Parquet file `dst`, as [`to_parquet`]
/// does for arrays: row groups of zero-copy slices, encoded in parallel by
/// the parquet crate's Arrow column writers, appended in order; the Arrow
/// schema (time zones, decimals, tensor metadata) is stored in the file.
///
/// # Errors
/// As [`to_parquet`].
pub fn table_to_parquet(
    table: &Table,
    dst: impl AsRef<Path>,
    o: &ConvertOptions,
) -> Result<ConvertSummary> {
    name_panic(table.path(), "writing Parquet", || {
        write_parquet(Source::Table(table), dst.as_ref(), o)
    })
}

/// The columns of `schema` that Parquet cannot store (unions, and
/// month-day-nanosecond intervals, at any depth), listed with their types
/// and what to do instead; `None` when every column can be written.
fn parquet_cannot_hold(schema: &arrow_schema::Schema) -> Option<String> {
    fn why(t: &DataType) -> Option<&'static str> {
        match t {
            DataType::Union(..) => Some("Parquet has no union type"),
            DataType::Interval(arrow_schema::IntervalUnit::MonthDayNano) => {
                Some("Parquet's INTERVAL holds milliseconds, not nanoseconds")
            }
            DataType::List(f)
            | DataType::LargeList(f)
            | DataType::ListView(f)
            | DataType::LargeListView(f)
            | DataType::FixedSizeList(f, _)
            | DataType::Map(f, _) => why(f.data_type()),
            DataType::Struct(fields) => fields.iter().find_map(|f| why(f.data_type())),
            // The parquet crate's writer takes dictionaries of flat values
            // only, and says "NYI" mid-write for others.
            DataType::Dictionary(_, v) if is_nested(v) => {
                Some("the parquet crate cannot write a dictionary of nested values")
            }
            DataType::Dictionary(_, v) => why(v),
            DataType::RunEndEncoded(_, v) => why(v.data_type()),
            _ => None,
        }
    }
    fn is_nested(t: &DataType) -> bool {
        matches!(
            t,
            DataType::List(_)
                | DataType::LargeList(_)
                | DataType::ListView(_)
                | DataType::LargeListView(_)
                | DataType::FixedSizeList(..)
                | DataType::Map(..)
                | DataType::Struct(_)
                | DataType::Union(..)
                | DataType::Dictionary(..)
                | DataType::RunEndEncoded(..)
        )
    }
    let bad: Vec<String> = schema
        .fields()
        .iter()
        .filter_map(|f| {
            why(f.data_type()).map(|w| format!("{:?} ({}): {w}", f.name(), f.data_type()))
        })
        .collect();
    (!bad.is_empty()).then(|| {
        format!(
            "{} column{} Parquet cannot hold: {}; convert to Arrow IPC (.arrow) instead",
            bad.len(),
            if bad.len() == 1 { "" } else { "s" },
            bad.join("; ")
        )
    })
}

/// Everything both writers share: the stored schema, row groups, writer
/// properties.
struct Plan {
    /// The schema as stored (seconds as milliseconds), and whether it
    /// differs from the source's.
    schema: SchemaRef,
    coerced: bool,
    descr: SchemaDescriptor,
    props: WriterProperties,
    groups: Vec<Range<u64>>,
    rows: u64,
    row_bytes: u64,
}

impl Plan {
    fn new(source: &Source<'_>, o: &ConvertOptions, dst: &Path) -> Result<Plan> {
        let given = source.schema()?;
        if let Some(reason) = parquet_cannot_hold(&given) {
            return Err(ErrorKind::InvalidRequest { reason }.at(source.path()));
        }
        // Parquet has no seconds unit: like pyarrow, store seconds as milliseconds.
        let schema = coerce_schema(&given, false);
        let coerced = schema != given;
        let row_bytes = source.row_bytes();
        let rg_rows = o
            .row_group_rows
            .unwrap_or((DEFAULT_ROW_GROUP_BYTES / row_bytes).max(1));
        let rows = source.rows();
        let groups = (0..rows.div_ceil(rg_rows))
            .map(|k| k * rg_rows..((k + 1) * rg_rows).min(rows))
            .collect();
        let mut props = WriterProperties::builder()
            .set_compression(o.compression.to_parquet())
            .set_dictionary_enabled(false)
            .set_writer_version(WriterVersion::PARQUET_1_0)
            .set_created_by(format!("mmarrow version {}", env!("CARGO_PKG_VERSION")))
            .build();
        // The stored Arrow schema says milliseconds too: pyarrow drops a column's
        // Arrow type (and its tensor extension) when it disagrees with the data.
        add_encoded_arrow_schema_to_metadata(&coerce_schema(&given, true), &mut props);
        let descr = ArrowSchemaConverter::new()
            .with_coerce_types(false)
            .convert(&schema)
            .map_err(|e| pq_err(e, dst))?;
        Ok(Plan {
            schema,
            coerced,
            descr,
            props,
            groups,
            rows,
            row_bytes,
        })
    }

    fn summary(&self, output_bytes: u64, fast_path: bool) -> ConvertSummary {
        ConvertSummary {
            rows: self.rows,
            data_bytes: self.rows * self.row_bytes,
            output_bytes,
            groups: self.groups.len(),
            fast_path,
            up_to_date: false,
        }
    }
}

fn pq_err(e: parquet::errors::ParquetError, path: &Path) -> Error {
    ErrorKind::Internal {
        reason: format!("writing Parquet: {e}"),
    }
    .at(path)
}

/// Refuses columns that Parquet cannot hold before anything is written, with
/// the column named (the parquet crate would panic on some of them).
fn check_writable(schema: &arrow_schema::Schema) -> std::result::Result<(), String> {
    fn zero_width(t: &arrow_schema::DataType) -> bool {
        use arrow_schema::DataType as T;
        match t {
            T::FixedSizeBinary(0) => true,
            T::List(f)
            | T::LargeList(f)
            | T::FixedSizeList(f, _)
            | T::ListView(f)
            | T::LargeListView(f)
            | T::Map(f, _) => zero_width(f.data_type()),
            T::Struct(fs) => fs.iter().any(|f| zero_width(f.data_type())),
            T::Dictionary(_, v) => zero_width(v),
            _ => false,
        }
    }
    let bad: Vec<String> = schema
        .fields()
        .iter()
        .filter(|f| zero_width(f.data_type()))
        .map(|f| format!("{:?} ({})", f.name(), f.data_type()))
        .collect();
    if bad.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "cannot write to Parquet: fixed_size_binary(0) has no Parquet form (FIXED_LEN_BYTE_ARRAY needs a length of at least 1); columns: {}",
            bad.join(", ")
        ))
    }
}

fn write_parquet(source: Source<'_>, dst: &Path, o: &ConvertOptions) -> Result<ConvertSummary> {
    check_row_group_rows(o.row_group_rows)?;
    check_writable(source.schema()?.as_ref())
        .map_err(|reason| ErrorKind::Format { reason }.at(source.path()))?;
    Output::file(dst, Writes::Parquet, source.path(), o)?.write(|out| {
        let plan = Plan::new(&source, o, out.path())?;
        let fast = match source {
            Source::Array(a) => {
                o.fast_path && !plan.coerced && write_pages::supports(a, &plan.schema, &plan.descr)
            }
            Source::Table(_) => false,
        };
        let file = File::create(out.path()).map_err(|e| Error::io(out.path(), "create", e))?;
        let flusher = Flusher::start(&file, out.durable());
        o.start(plan.rows, plan.rows * plan.row_bytes);
        let (file, output_bytes) = match (fast, &source) {
            (true, Source::Array(a)) => {
                let target = write_pages::Target {
                    file: &file,
                    path: out.path(),
                    descr: &plan.descr,
                    key_value: plan.props.key_value_metadata().cloned(),
                    created_by: plan.props.created_by().to_string(),
                    groups: &plan.groups,
                    flusher: &flusher,
                    arrow_type: plan.schema.field(0).data_type(),
                };
                let n = write_pages::write(a, &target, o)?;
                (file, n)
            }
            _ => {
                let file = write_generic(&source, &plan, file, &flusher, out.path(), o)?;
                let n = file
                    .metadata()
                    .map_err(|e| Error::io(out.path(), "stat", e))?
                    .len();
                (file, n)
            }
        };
        flusher.stop();
        out.sync(&file)?;
        Ok(plan.summary(output_bytes, fast))
    })
}

/// Writes through the parquet crate's Arrow column writers: row groups
/// encoded in parallel, appended in order. Returns the written file.
fn write_generic(
    source: &Source<'_>,
    plan: &Plan,
    file: File,
    flusher: &Flusher,
    path: &Path,
    o: &ConvertOptions,
) -> Result<File> {
    let mut writer = SerializedFileWriter::new(
        BufWriter::with_capacity(4 << 20, file),
        plan.descr.root_schema_ptr(),
        Arc::new(plan.props.clone()),
    )
    .map_err(|e| pq_err(e, path))?;
    let factory = ArrowRowGroupWriterFactory::new(&writer, plan.schema.clone());
    let encode = |k: usize| -> Result<Vec<ArrowColumnChunk>> {
        let mut batch = source.batch(plan.groups[k].clone())?;
        if plan.coerced {
            batch = coerce_batch(&batch, &plan.schema)?;
        }
        encode_generic(&batch, &plan.schema, &factory, k).map_err(|e| match e.kind() {
            ErrorKind::Arrow(a) => ErrorKind::Internal {
                reason: format!("encoding row group {k}: {a}"),
            }
            .at(path),
            _ => e,
        })
    };
    let append = |k: usize, chunks: Vec<ArrowColumnChunk>| -> Result<()> {
        let append = || -> parquet::errors::Result<()> {
            let mut rg = writer.next_row_group()?;
            for c in chunks {
                c.append_to_row_group(&mut rg)?;
            }
            rg.close()?;
            Ok(())
        };
        append().map_err(|e| pq_err(e, path))?;
        let rows = plan.groups[k].end - plan.groups[k].start;
        o.advance(rows, rows * plan.row_bytes);
        flusher.nudge();
        Ok(())
    };
    pipeline::ordered(o.thread_count(), plan.groups.len(), encode, append)?;
    let buf = writer.into_inner().map_err(|e| pq_err(e, path))?;
    buf.into_inner()
        .map_err(|e| Error::io(path, "write", e.into_error()))
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

/// The type a column of type `t` is stored as: what Parquet has no type
/// for becomes what pyarrow stores it as (and reads back): timestamps and
/// time32 in seconds as milliseconds, date64 as date32 (whole days: see
/// [`check_whole_days`]), nested types' children likewise.
///
/// `for_arrow_schema`: the type the Arrow schema stored in the file
/// records, which keeps date64 (as pyarrow's does: readers that apply the
/// stored schema, like polars and the parquet crate, read date64 back).
fn coerce_type(t: &DataType, for_arrow_schema: bool) -> DataType {
    let field = |f: &arrow_schema::FieldRef| {
        Arc::new(
            f.as_ref()
                .clone()
                .with_data_type(coerce_type(f.data_type(), for_arrow_schema)),
        )
    };
    match t {
        DataType::Timestamp(TimeUnit::Second, tz) => {
            DataType::Timestamp(TimeUnit::Millisecond, tz.clone())
        }
        DataType::Time32(TimeUnit::Second) => DataType::Time32(TimeUnit::Millisecond),
        DataType::Date64 if !for_arrow_schema => DataType::Date32,
        DataType::FixedSizeList(item, n) => DataType::FixedSizeList(field(item), *n),
        DataType::List(item) => DataType::List(field(item)),
        DataType::LargeList(item) => DataType::LargeList(field(item)),
        DataType::Struct(fields) => DataType::Struct(fields.iter().map(field).collect()),
        DataType::Map(entries, sorted) => DataType::Map(field(entries), *sorted),
        t => t.clone(),
    }
}

/// Refuses a date64 value that is not a whole number of days (Arrow's
/// date64 should be, but nothing enforces it): Parquet's DATE holds days,
/// and the cast to date32 would drop the rest silently.
fn check_whole_days(name: &str, data: &arrow_data::ArrayData) -> Result<()> {
    if *data.data_type() == DataType::Date64 {
        use arrow_array::Array;
        let a = arrow_array::Date64Array::from(data.clone());
        if let Some(i) = (0..a.len()).find(|&i| a.is_valid(i) && a.value(i) % 86_400_000 != 0) {
            return Err(Error::new(ErrorKind::InvalidRequest {
                reason: format!(
                    "column {name:?}: date64 value {} (row {i}) is not a whole day; Parquet's DATE holds days",
                    a.value(i)
                ),
            }));
        }
    }
    data.child_data()
        .iter()
        .try_for_each(|c| check_whole_days(name, c))
}

/// The schema as it is stored in Parquet ([`coerce_type`]).
fn coerce_schema(s: &Schema, for_arrow_schema: bool) -> SchemaRef {
    let fields: Vec<Field> = s
        .fields()
        .iter()
        .map(|f| {
            f.as_ref()
                .clone()
                .with_data_type(coerce_type(f.data_type(), for_arrow_schema))
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
                check_whole_days(f.name(), &c.to_data())?;
                Ok(arrow_cast::cast(c, f.data_type())?)
            }
        })
        .collect::<Result<Vec<_>>>()?;
    let opts = arrow_array::RecordBatchOptions::new().with_row_count(Some(batch.num_rows()));
    Ok(RecordBatch::try_new_with_options(
        schema.clone(),
        columns,
        &opts,
    )?)
}
