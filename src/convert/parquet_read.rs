//! Parquet → array file: row groups decoded on all threads, each written
//! straight to its place in the output (reserved through the array writer),
//! or, for lists whose length is learnt from the data, decoded in parallel
//! and appended in order.

use std::fs::File;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use arrow_array::{
    Array, ArrayRef, BooleanArray, FixedSizeListArray, GenericListArray, OffsetSizeTrait,
};
use arrow_schema::{DataType, Field, FieldRef, TimeUnit};
use parquet::arrow::arrow_reader::{
    ArrowReaderMetadata, ArrowReaderOptions, ParquetRecordBatchReaderBuilder,
};
use parquet::arrow::ProjectionMask;
use parquet::basic::{Encoding, Type as PhysicalType};
use parquet::column::page::Page;
use parquet::column::page::PageReader;
use parquet::file::serialized_reader::SerializedPageReader;

use super::options::ConvertOptions;
use super::output::Output;
use super::ConvertSummary;
use crate::dtype::{ByteOrder, Dtype, Kind, EXTENSION_NAME_KEY};
use crate::error::{Error, ErrorKind, Result};
use crate::tensor::TensorMetadata;
use crate::write::{ArrayWriter, Durability, WriterOptions};

/// What an array file can hold of a Parquet/Arrow column.
pub(crate) struct ArraySpec {
    pub dtype: Dtype,
    pub row_shape: Vec<u64>,
    /// Elements per row of the leaf type (row shape × 2 for complex).
    pub leaf_per_row: u64,
}

/// Maps an Arrow field to the dtype and row shape of an array file.
pub(crate) fn array_spec(field: &Field) -> std::result::Result<ArraySpec, String> {
    let mut dims = Vec::new();
    let mut t = field.data_type().clone();
    loop {
        match t {
            DataType::FixedSizeList(item, n) => {
                dims.push(n as u64);
                t = item.data_type().clone();
            }
            DataType::List(ref item) | DataType::LargeList(ref item) if dims.is_empty() => {
                // Variable lists whose rows turn out to be equal in length
                // (e.g. written without the Arrow schema); the length is
                // learnt from the data.
                dims.push(0);
                t = item.data_type().clone();
            }
            _ => break,
        }
    }
    let leaf = t;
    let dtype = match &leaf {
        DataType::Int8
            if field
                .metadata()
                .get(EXTENSION_NAME_KEY)
                .is_some_and(|n| n == "arrow.bool8") =>
        {
            "|b1".into()
        }
        DataType::Boolean => "|b1".into(),
        DataType::Int8 => "|i1".into(),
        DataType::Int16 => "<i2".into(),
        DataType::Int32 => "<i4".into(),
        DataType::Int64 => "<i8".into(),
        DataType::UInt8 => "|u1".into(),
        DataType::UInt16 => "<u2".into(),
        DataType::UInt32 => "<u4".into(),
        DataType::UInt64 => "<u8".into(),
        DataType::Float16 => "<f2".into(),
        DataType::Float32 => "<f4".into(),
        DataType::Float64 => "<f8".into(),
        DataType::Timestamp(u, None) => format!("<M8[{}]", crate::dtype::unit_name(*u)),
        DataType::Timestamp(_, Some(tz)) => {
            return Err(format!(
                "has time zone {tz}; numpy datetime64 has none, so an array file cannot record it"
            ))
        }
        DataType::Duration(u) => format!("<m8[{}]", crate::dtype::unit_name(*u)),
        DataType::FixedSizeBinary(n) => format!("|S{n}"),
        other => return Err(format!("has type {other}, which an array file cannot hold")),
    };
    let dtype = Dtype::parse(&dtype).map_err(|e| e.to_string())?;
    // The tensor extension names the row shape; otherwise the list sizes do.
    let row_shape = match TensorMetadata::from_field(field) {
        Ok(Some(m)) if m.size() == Some(dims.iter().product()) && !dims.is_empty() => m.shape,
        Err(e) => return Err(e.to_string()),
        _ => dims,
    };
    let leaf_per_row = row_shape.iter().product();
    Ok(ArraySpec {
        dtype,
        row_shape,
        leaf_per_row,
    })
}

/// Converts one column of the Parquet file `src` to the array file `dst`
/// (raw + sidecar, or `.npy` by extension).
///
/// The column is the file's only one, or the one named by
/// [`ConvertOptions::column`]. Numeric, timestamp, duration, fixed-size
/// binary, `FixedSizeList` and `arrow.fixed_shape_tensor` columns (and lists
/// whose rows all have one length) convert; columns with nulls or other types
/// give a clear error. Row groups are decoded on all threads — v1 PLAIN and
/// dictionary-encoded pages without nulls by copying (or gathering) their
/// values straight out of the decompressed page, anything else by the
/// parquet crate's Arrow reader — and each is
/// written at its place in the output, which is created under a temporary
/// name by [`ArrayWriter`] and renamed at the end. Memory is a few pages per
/// thread for the page-level path, a row group per thread otherwise.
///
/// # Errors
/// [`ErrorKind::Format`](crate::ErrorKind::Format) for a corrupt or truncated file or an unsupported
/// column, [`ErrorKind::HasNulls`](crate::ErrorKind::HasNulls), [`ErrorKind::AlreadyExists`](crate::ErrorKind::AlreadyExists), I/O errors.
///
/// ```
/// # fn main() -> mmarrow::Result<()> {
/// # let dir = tempfile::tempdir().unwrap();
/// # let src = dir.path().join("v.f8");
/// # std::fs::write(&src, (0..10).flat_map(|v| (v as f64).to_le_bytes()).collect::<Vec<u8>>()).unwrap();
/// # let a = mmarrow::OpenOptions::new().dtype("f8")?.open(&src)?;
/// # mmarrow::to_parquet(&a, &dir.path().join("v.parquet"), &Default::default())?;
/// let back = dir.path().join("back.npy");
/// mmarrow::from_parquet(&dir.path().join("v.parquet"), &back, &Default::default())?;
/// assert_eq!(mmarrow::open(&back)?.shape(), &[10]);
/// # Ok(()) }
/// ```
pub fn from_parquet(src: &Path, dst: &Path, o: &ConvertOptions) -> Result<ConvertSummary> {
    from_parquet_inner(src, dst, o).map_err(|e| super::output::name_dst(e, dst))
}

fn from_parquet_inner(src: &Path, dst: &Path, o: &ConvertOptions) -> Result<ConvertSummary> {
    let bad = |reason: String| ErrorKind::Format { reason }.at(src);
    let (_, meta) = open_parquet(src)?;
    let schema = meta.schema().clone();
    let col = pick_column(&schema, o, &bad)?;
    let field = schema.field(col).clone();
    let spec = array_spec(&field).map_err(|r| bad(format!("column {:?} {r}", field.name())))?;
    let pq_meta = meta.metadata().clone();
    let groups = pq_meta.num_row_groups();
    let total_rows: u64 = pq_meta
        .row_groups()
        .iter()
        .fold(0u64, |n, g| n.saturating_add(g.num_rows().max(0) as u64));

    let out = Output::new(dst, o)?;
    let format = output_format(dst);
    let mut wo = WriterOptions::new(spec.dtype, &fixed_row_shape(&spec))
        .durability(Durability::Process)
        .name(field.name().clone())
        .format(format);
    // The row shape of variable lists is learnt from the first rows.
    let mut writer: Option<ArrayWriter> = None;
    let mut learnt = spec.row_shape.clone();
    let threads = o.thread_count();
    let leaves = leaves_of(&pq_meta, col, &schema);
    let row_bytes_hint = spec.leaf_per_row.max(1) * spec.dtype.itemsize() as u64;
    o.start(total_rows, total_rows.saturating_mul(row_bytes_hint));
    // A known row shape: every row group goes straight to its place.
    if let ([leaf], false) = (&leaves[..], spec.row_shape.contains(&0)) {
        let w = open_writer(&mut writer, &wo, out.path())?;
        let all_fast = positioned(src, &meta, col, *leaf, &spec, w, o)?;
        return finish_array_output(writer, &wo, out, groups, all_fast && groups > 0);
    }
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .map_err(|e| bad(format!("starting threads: {e}")))?;
    let decode = |k: usize| -> Result<Vec<ArrayRef>> {
        // Each decoder needs its own file description: a cloned handle
        // shares the read position between threads.
        let f = File::open(src).map_err(|e| Error::io(src, "open", e))?;
        decode_group(&f, src, &meta, col, k, 1 << 20)?.collect::<Result<Vec<_>>>()
    };
    let tmp = out.path().to_path_buf();
    let mut flusher: Option<super::parquet_write::Flusher> = None;
    pool.install(|| -> Result<()> {
        use rayon::prelude::*;
        let mut k = 0;
        while k < groups {
            let end = (k + threads).min(groups);
            let wave: Vec<Result<Vec<ArrayRef>>> = (k..end).into_par_iter().map(&decode).collect();
            for arrays in wave {
                for a in arrays? {
                    let a = fixed_lists(&a, &mut learnt)
                        .map_err(|r| bad(format!("column {:?} {r}", field.name())))?;
                    if writer.is_none() && learnt != spec.row_shape {
                        wo = WriterOptions::new(spec.dtype, &learnt)
                            .durability(Durability::Process)
                            .name(field.name().clone())
                            .format(format);
                    }
                    let w = open_writer(&mut writer, &wo, &tmp)?;
                    append_checked(w, &a, &field, src)?;
                    o.advance(a.len() as u64, a.len() as u64 * row_bytes_hint);
                }
            }
            k = end;
            // Start writeback of this wave while the next is decoded.
            if flusher.is_none() {
                flusher = File::open(&tmp)
                    .ok()
                    .map(|f| super::parquet_write::Flusher::start(&f, o.durable));
            }
            if let Some(f) = &flusher {
                f.nudge();
            }
        }
        Ok(())
    })?;
    if let Some(f) = flusher {
        f.stop();
    }
    finish_array_output(writer, &wo, out, groups, false)
}

/// Commits the array written under `out`'s temporary name (creating it
/// empty if no rows came), fsyncs it and renames it into place.
pub(crate) fn finish_array_output(
    mut writer: Option<ArrayWriter>,
    wo: &WriterOptions,
    out: Output,
    groups: usize,
    fast_path: bool,
) -> Result<ConvertSummary> {
    let tmp = out.path().to_path_buf();
    let w = open_writer(&mut writer, wo, &tmp)?;
    w.commit()?;
    let rows = w.committed_rows();
    let row_bytes = w.row_shape().iter().product::<u64>() * w.dtype().itemsize() as u64;
    drop(writer);
    if out.durable() {
        sync_file(&tmp)?;
    }
    let output_bytes = std::fs::metadata(&tmp)
        .map_err(|e| Error::io(&tmp, "stat", e))?
        .len();
    out.commit()?;
    Ok(ConvertSummary {
        rows,
        data_bytes: rows * row_bytes,
        output_bytes,
        groups,
        fast_path,
    })
}

/// Decodes column `col` of row group `k` with the parquet crate's Arrow
/// reader, `batch_rows` rows at a time.
fn decode_group<'a>(
    file: &File,
    src: &'a Path,
    meta: &ArrowReaderMetadata,
    col: usize,
    k: usize,
    batch_rows: usize,
) -> Result<impl Iterator<Item = Result<ArrayRef>> + 'a> {
    let bad = move |e: &dyn std::fmt::Display| {
        ErrorKind::Format {
            reason: format!("row group {k}: {e}"),
        }
        .at(src)
    };
    let f = file.try_clone().map_err(|e| Error::io(src, "open", e))?;
    let pq_meta = meta.metadata();
    let rows = pq_meta.row_group(k).num_rows().max(1) as usize;
    let reader = ParquetRecordBatchReaderBuilder::new_with_metadata(f, meta.clone())
        .with_row_groups(vec![k])
        .with_projection(ProjectionMask::roots(
            pq_meta.file_metadata().schema_descr(),
            [col],
        ))
        .with_batch_size(rows.min(batch_rows.max(1)))
        .build()
        .map_err(|e| bad(&e))?;
    Ok(reader.map(move |b| b.map(|b| b.column(0).clone()).map_err(|e| bad(&e))))
}

/// Rows per batch of the generic reader: about 8 MiB of values.
fn batch_rows(spec: &ArraySpec) -> usize {
    let row_bytes = spec.leaf_per_row.max(1) * spec.dtype.itemsize() as u64;
    ((8 << 20) / row_bytes).clamp(1, 1 << 20) as usize
}

/// Converts row groups on all threads, each written straight to its place
/// in the output (reserved up front): v1 PLAIN and dictionary-encoded pages
/// by the page-level reader, other row groups through the generic reader.
/// Returns whether every row group took the page-level path.
fn positioned(
    src: &Path,
    meta: &ArrowReaderMetadata,
    col: usize,
    leaf: usize,
    spec: &ArraySpec,
    writer: &mut ArrayWriter,
    o: &ConvertOptions,
) -> Result<bool> {
    let pq_meta = meta.metadata();
    let field = meta.schema().field(col).clone();
    let groups = pq_meta.num_row_groups();
    let mut starts = Vec::with_capacity(groups + 1);
    starts.push(0u64);
    for g in pq_meta.row_groups() {
        let rows = u64::try_from(g.num_rows()).map_err(|_| {
            ErrorKind::Format {
                reason: format!("a row group has {} rows", g.num_rows()),
            }
            .at(src)
        })?;
        starts.push(starts.last().copied().unwrap_or(0).saturating_add(rows));
    }
    let total = starts[groups];
    if total.checked_mul(writer.row_bytes()).is_none() {
        return Err(ErrorKind::Format {
            reason: format!("its metadata claims {total} rows, more than a file can hold"),
        }
        .at(src));
    }
    writer.reserve(total)?;
    let writer: &ArrayWriter = writer;
    let row_bytes = writer.row_bytes();
    let descr = pq_meta.file_metadata().schema_descr().column(leaf);
    let flusher = File::open(writer.path())
        .ok()
        .map(|f| super::parquet_write::Flusher::start(&f, o.durable));
    let next = AtomicUsize::new(0);
    let failed = AtomicBool::new(false);
    let slow = AtomicBool::new(false);
    let group = |file: &Arc<File>, k: usize| -> Result<()> {
        let (start, rows) = (starts[k], starts[k + 1] - starts[k]);
        let base = start * row_bytes;
        let limit = rows * row_bytes;
        let mut advanced = 0;
        if o.fast_path {
            let sink = |at: u64, bytes: &[u8]| {
                if at + bytes.len() as u64 > limit {
                    return Ok(false);
                }
                writer.write_at(base + at, bytes)?;
                let n = bytes.len() as u64;
                o.advance((at + n) / row_bytes - at / row_bytes, n);
                advanced = at + n;
                Ok(true)
            };
            let fast = read_plain_pages(file, src, k, leaf, &descr, spec, pq_meta, sink)?;
            if fast == Some(limit) {
                return Ok(());
            }
        }
        // The generic reader (re)writes the whole group.
        slow.store(true, Ordering::Relaxed);
        let mut at = 0u64;
        let mut shape = spec.row_shape.clone();
        for a in decode_group(file, src, meta, col, k, batch_rows(spec))? {
            let a = a?;
            let a = fixed_lists(&a, &mut shape).map_err(|r| {
                ErrorKind::Format {
                    reason: format!("column {:?} {r}", field.name()),
                }
                .at(src)
            })?;
            let data = a.to_data();
            let bytes = writer
                .array_bytes(&data)
                .map_err(|e| nulls_error(e, &field, src))?;
            let bytes = bytes.as_slice();
            if at + bytes.len() as u64 > limit {
                at = u64::MAX;
                break;
            }
            writer.write_at(base + at, bytes)?;
            at += bytes.len() as u64;
        }
        if at != limit {
            return Err(ErrorKind::Format {
                reason: format!("row group {k} does not hold the {rows} rows its metadata says"),
            }
            .at(src));
        }
        if limit > advanced {
            o.advance(rows - advanced / row_bytes, limit - advanced);
        }
        Ok(())
    };
    let first_error: Mutex<Option<Error>> = Mutex::new(None);
    let fail = |e: Error| {
        failed.store(true, Ordering::Relaxed);
        if let Ok(mut f) = first_error.lock() {
            f.get_or_insert(e);
        }
    };
    let worker = || {
        // Each worker needs its own file description: a cloned handle
        // shares the read position between threads.
        let file = match File::open(src) {
            Ok(f) => Arc::new(f),
            Err(e) => return fail(Error::io(src, "open", e)),
        };
        while !failed.load(Ordering::Relaxed) {
            let k = next.fetch_add(1, Ordering::Relaxed);
            if k >= groups {
                return;
            }
            if let Err(e) = group(&file, k) {
                return fail(e);
            }
            if let Some(f) = &flusher {
                f.nudge();
            }
        }
    };
    std::thread::scope(|s| {
        for _ in 1..o.thread_count().min(groups).max(1) {
            s.spawn(worker);
        }
        worker();
    });
    if let Some(f) = flusher {
        f.stop();
    }
    if let Some(e) = first_error.into_inner().ok().flatten() {
        return Err(e);
    }
    Ok(!slow.load(Ordering::Relaxed))
}

/// Opens a Parquet file and reads its footer.
pub(crate) fn open_parquet(src: &Path) -> Result<(File, ArrowReaderMetadata)> {
    let file = open_input(src)?;
    let meta = ArrowReaderMetadata::load(&file, ArrowReaderOptions::new()).map_err(|e| {
        ErrorKind::Format {
            reason: format!("not a readable Parquet file: {e}"),
        }
        .at(src)
    })?;
    Ok((file, meta))
}

/// Opens a conversion's input file, refusing directories.
pub(crate) fn open_input(src: &Path) -> Result<File> {
    let file = File::open(src).map_err(|e| Error::io(src, "open", e))?;
    if file
        .metadata()
        .map_err(|e| Error::io(src, "stat", e))?
        .is_dir()
    {
        return Err(ErrorKind::IsDirectory.at(src));
    }
    Ok(file)
}

/// The column to convert to an array file: the one named by
/// [`ConvertOptions::column`], or the only one.
pub(crate) fn pick_column(
    schema: &arrow_schema::Schema,
    o: &ConvertOptions,
    bad: &dyn Fn(String) -> Error,
) -> Result<usize> {
    Ok(match &o.column {
        Some(name) => schema.index_of(name).map_err(|_| {
            bad(format!(
                "no column {name:?} (columns: {})",
                column_list(schema.fields())
            ))
        })?,
        None if schema.fields().len() == 1 => 0,
        None => {
            return Err(bad(format!(
                "has {} columns ({}); an array file holds one: pick it with --column, or convert to a table (a directory destination)",
                schema.fields().len(),
                column_list(schema.fields())
            )))
        }
    })
}

/// `.npy` by the destination's extension, raw + sidecar otherwise.
pub(crate) fn output_format(dst: &Path) -> crate::write::OutputFormat {
    if dst
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("npy"))
    {
        crate::write::OutputFormat::Npy
    } else {
        crate::write::OutputFormat::Raw
    }
}

pub(crate) fn column_list(fields: &arrow_schema::Fields) -> String {
    fields
        .iter()
        .map(|f| f.name().as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

pub(crate) fn fixed_row_shape(spec: &ArraySpec) -> Vec<u64> {
    spec.row_shape.iter().map(|&d| d.max(1)).collect()
}

pub(crate) fn open_writer<'a>(
    writer: &'a mut Option<ArrayWriter>,
    wo: &WriterOptions,
    tmp: &Path,
) -> Result<&'a mut ArrayWriter> {
    if writer.is_none() {
        *writer = Some(wo.clone().overwrite(true).create(tmp)?);
    }
    Ok(writer.as_mut().expect("just created"))
}

pub(crate) fn sync_file(path: &Path) -> Result<()> {
    File::open(path)
        .and_then(|f| f.sync_all())
        .map_err(|e| Error::io(path, "fsync", e))?;
    let sc = crate::sidecar::sidecar_path(path);
    if sc.exists() {
        File::open(&sc)
            .and_then(|f| f.sync_all())
            .map_err(|e| Error::io(&sc, "fsync", e))?;
    }
    Ok(())
}

/// Appends an array, turning nulls into a typed error that names the source.
pub(crate) fn append_checked(
    w: &mut ArrayWriter,
    a: &ArrayRef,
    field: &Field,
    src: &Path,
) -> Result<()> {
    w.append_array(a.as_ref())
        .map_err(|e| nulls_error(e, field, src))
}

/// Turns the writer's null error into one that names the source column.
fn nulls_error(e: Error, field: &Field, src: &Path) -> Error {
    match e.kind() {
        ErrorKind::HasNulls { nulls } => ErrorKind::Format { reason: format!(
                "column {:?} has {nulls} nulls in a row group; an array file cannot hold nulls (convert it to a table instead)",
                field.name()
            ) }.at(src),
        _ => e,
    }
}

/// Turns variable lists whose rows all have one length into fixed-size
/// lists (zero-copy), learning the length from the first non-empty data.
pub(crate) fn fixed_lists(
    a: &ArrayRef,
    row_shape: &mut [u64],
) -> std::result::Result<ArrayRef, String> {
    fn convert<O: OffsetSizeTrait>(
        l: &GenericListArray<O>,
        row_shape: &mut [u64],
    ) -> std::result::Result<ArrayRef, String> {
        if l.null_count() > 0 {
            return Err(format!(
                "has {} null lists, which an array file cannot hold",
                l.null_count()
            ));
        }
        let offsets = l.value_offsets();
        let first = offsets.first().map_or(0, |o| o.as_usize());
        let len = if l.is_empty() {
            row_shape[0] as usize
        } else {
            offsets[1].as_usize() - first
        };
        if row_shape[0] == 0 {
            if len == 0 {
                return Err(
                    "holds empty lists; an array file needs rows of one non-zero length".into(),
                );
            }
            row_shape[0] = len as u64;
        }
        let n = row_shape[0] as usize;
        if offsets
            .windows(2)
            .any(|w| w[1].as_usize() - w[0].as_usize() != n)
        {
            return Err(format!(
                "holds lists of different lengths (expected {n} per row)"
            ));
        }
        let values = l.values().slice(first, l.len() * n);
        let item: FieldRef = Arc::new(Field::new("item", values.data_type().clone(), true));
        let fsl =
            FixedSizeListArray::try_new(item, n as i32, values, None).map_err(|e| e.to_string())?;
        Ok(Arc::new(fsl))
    }
    match a.data_type() {
        DataType::List(_) => convert(
            a.as_any()
                .downcast_ref::<GenericListArray<i32>>()
                .expect("list"),
            row_shape,
        ),
        DataType::LargeList(_) => convert(
            a.as_any()
                .downcast_ref::<GenericListArray<i64>>()
                .expect("large list"),
            row_shape,
        ),
        DataType::Boolean => {
            // Bit-packed booleans become numpy's one byte per value.
            let b = a.as_any().downcast_ref::<BooleanArray>().expect("boolean");
            if b.null_count() > 0 {
                return Ok(a.clone()); // reported as nulls by the writer
            }
            let bytes: Vec<i8> = b.values().iter().map(i8::from).collect();
            Ok(Arc::new(arrow_array::Int8Array::from(bytes)))
        }
        _ => Ok(a.clone()),
    }
}

/// The Parquet leaf columns under Arrow column `col`.
fn leaves_of(
    meta: &parquet::file::metadata::ParquetMetaData,
    col: usize,
    schema: &arrow_schema::Schema,
) -> Vec<usize> {
    let descr = meta.file_metadata().schema_descr();
    let name = schema.field(col).name();
    (0..descr.num_columns())
        .filter(|&i| descr.column(i).path().parts().first() == Some(name))
        .collect()
}

/// Reads row group `k` of leaf `leaf` from its v1 data pages: PLAIN values
/// are copied out of the page, dictionary-encoded ones (RLE_DICTIONARY or
/// PLAIN_DICTIONARY indices into a PLAIN dictionary page) gathered from the
/// dictionary, after checking that every level says "present", that every
/// row holds `spec.leaf_per_row` values and that every index is in the
/// dictionary. Returns `None` (use the generic reader) for anything else:
/// other encodings, v2 pages, nulls, a physical type that is not the raw
/// bytes.
///
/// Each page's values go to `sink(byte offset in the row group, bytes)`,
/// which returns false to give up. Returns the bytes passed to `sink` when
/// every page was read this way.
#[allow(clippy::too_many_arguments)]
fn read_plain_pages(
    file: &Arc<File>,
    src: &Path,
    k: usize,
    leaf: usize,
    descr: &parquet::schema::types::ColumnDescPtr,
    spec: &ArraySpec,
    meta: &parquet::file::metadata::ParquetMetaData,
    mut sink: impl FnMut(u64, &[u8]) -> Result<bool>,
) -> Result<Option<u64>> {
    let width = spec.dtype.itemsize()
        / if spec.dtype.kind() == Kind::Complex {
            2
        } else {
            1
        };
    let raw = match (descr.physical_type(), spec.dtype.kind(), width) {
        (PhysicalType::FLOAT, Kind::Float | Kind::Complex, 4) => true,
        (PhysicalType::DOUBLE, Kind::Float | Kind::Complex, 8) => true,
        (PhysicalType::INT32, Kind::Int | Kind::UInt, 4) => true,
        (PhysicalType::INT64, Kind::Int | Kind::UInt | Kind::Timedelta(_), 8) => true,
        (PhysicalType::INT64, Kind::Datetime(u), 8) => u != TimeUnit::Second,
        (PhysicalType::FIXED_LEN_BYTE_ARRAY, Kind::Float | Kind::Bytes, w) => {
            descr.type_length() as usize == w
        }
        _ => false,
    };
    if !raw || spec.dtype.byte_order() == ByteOrder::Big {
        return Ok(None);
    }
    let (max_rep, max_def) = (descr.max_rep_level(), descr.max_def_level());
    if max_rep > 1 {
        return Ok(None);
    }
    let per_row = if max_rep == 1 { spec.leaf_per_row } else { 1 };
    let group = meta.row_group(k);
    let bad = |reason: String| ErrorKind::Format { reason }.at(src);
    let mut pages = SerializedPageReader::new(
        file.clone(),
        group.column(leaf),
        group.num_rows().max(0) as usize,
        None,
    )
    .map_err(|e| bad(format!("row group {k}: {e}")))?;
    let mut at = 0u64;
    // Position within the current row.
    let mut pos = 0u64;
    // The chunk's dictionary (PLAIN values), if it has one, and the buffers
    // dictionary-encoded pages are decoded into.
    let mut dictionary: Option<bytes::Bytes> = None;
    let (mut indices, mut gathered) = (Vec::new(), Vec::new());
    while let Some(page) = pages
        .get_next_page()
        .map_err(|e| bad(format!("row group {k}: {e}")))?
    {
        let (buf, num_values, encoding, def_level_encoding, rep_level_encoding) = match page {
            Page::DataPage {
                buf,
                num_values,
                encoding,
                def_level_encoding,
                rep_level_encoding,
                ..
            } => (
                buf,
                num_values,
                encoding,
                def_level_encoding,
                rep_level_encoding,
            ),
            Page::DictionaryPage {
                buf,
                num_values,
                encoding: Encoding::PLAIN | Encoding::PLAIN_DICTIONARY,
                ..
            } if dictionary.is_none() && buf.len() == num_values as usize * width => {
                dictionary = Some(buf);
                continue;
            }
            _ => return Ok(None),
        };
        let dictionary_encoded = matches!(
            encoding,
            Encoding::RLE_DICTIONARY | Encoding::PLAIN_DICTIONARY
        );
        if (encoding != Encoding::PLAIN && !dictionary_encoded)
            || (max_rep > 0 && rep_level_encoding != Encoding::RLE)
            || (max_def > 0 && def_level_encoding != Encoding::RLE)
        {
            return Ok(None);
        }
        let mut body: &[u8] = &buf;
        if max_rep > 0 {
            let Some((levels, rest)) = split_levels(body) else {
                return Ok(None);
            };
            if !check_rep(levels, num_values as u64, per_row, &mut pos) {
                return Ok(None);
            }
            body = rest;
        }
        if max_def > 0 {
            let Some((levels, rest)) = split_levels(body) else {
                return Ok(None);
            };
            if !check_all(
                levels,
                num_values as u64,
                max_def as u8,
                bit_width(max_def as u8),
            ) {
                return Ok(None);
            }
            body = rest;
        }
        if dictionary_encoded {
            // A bit width, then the indices into the dictionary.
            let Some(dict) = &dictionary else {
                return Ok(None);
            };
            let (Some(&bits), Some(rest)) = (body.first(), body.get(1..)) else {
                return Ok(None);
            };
            let entries = dict.len() / width.max(1);
            if !decode_indices(rest, num_values as usize, bits, &mut indices)
                || indices.iter().any(|&i| i as usize >= entries)
            {
                return Ok(None);
            }
            gathered.resize(indices.len() * width, 0);
            for (dst, &i) in gathered.chunks_exact_mut(width).zip(&indices) {
                let i = i as usize * width;
                dst.copy_from_slice(&dict[i..i + width]);
            }
            body = &gathered;
        }
        if body.len() != num_values as usize * width || !sink(at, body)? {
            return Ok(None);
        }
        at += body.len() as u64;
    }
    if pos != 0 {
        return Ok(None);
    }
    Ok(Some(at))
}

/// Decodes `n` values of `bits` bits each (at most 32) from an RLE /
/// bit-packed hybrid stream into `out`; false on malformed data.
fn decode_indices(b: &[u8], n: usize, bits: u8, out: &mut Vec<u32>) -> bool {
    out.clear();
    if bits > 32 {
        return false;
    }
    let vbytes = bits.div_ceil(8) as usize;
    let mask = if bits == 32 {
        u64::from(u32::MAX)
    } else {
        (1u64 << bits) - 1
    };
    let mut i = 0;
    while out.len() < n {
        let Some(h) = read_varint(b, &mut i) else {
            return false;
        };
        let left = n - out.len();
        if h & 1 == 0 {
            let count = (h >> 1) as usize;
            let Some(v) = b.get(i..i + vbytes) else {
                return false;
            };
            i += vbytes;
            let mut le = [0u8; 4];
            le[..vbytes].copy_from_slice(v);
            if count == 0 {
                return false;
            }
            out.extend(std::iter::repeat_n(u32::from_le_bytes(le), count.min(left)));
        } else {
            let groups = (h >> 1) as usize;
            let nbytes = groups * bits as usize;
            let Some(packed) = b.get(i..i + nbytes) else {
                return false;
            };
            i += nbytes;
            let total = (groups * 8).min(left);
            for j in 0..total {
                let bit = j * bits as usize;
                let mut w = [0u8; 8];
                let start = bit / 8;
                let end = (start + 8).min(packed.len());
                w[..end - start].copy_from_slice(&packed[start..end]);
                out.push(((u64::from_le_bytes(w) >> (bit % 8)) & mask) as u32);
            }
        }
    }
    true
}

fn split_levels(body: &[u8]) -> Option<(&[u8], &[u8])> {
    let len = u32::from_le_bytes(body.get(..4)?.try_into().ok()?) as usize;
    let levels = body.get(4..4 + len)?;
    Some((levels, &body[4 + len..]))
}

fn bit_width(max: u8) -> u8 {
    (8 - max.leading_zeros()) as u8
}

fn read_varint(b: &[u8], i: &mut usize) -> Option<u64> {
    let mut v = 0u64;
    for shift in (0..64).step_by(7) {
        let byte = *b.get(*i)?;
        *i += 1;
        v |= u64::from(byte & 0x7f) << shift;
        if byte & 0x80 == 0 {
            return Some(v);
        }
    }
    None
}

/// Walks an RLE/bit-packed hybrid level stream of `n` values, calling
/// `f(value, count)` for each run; false on malformed data or when `f` does.
fn walk_levels(b: &[u8], n: u64, width: u8, mut f: impl FnMut(u8, u64) -> bool) -> bool {
    let mut i = 0;
    let mut seen = 0u64;
    let vbytes = width.div_ceil(8) as usize;
    while seen < n {
        let Some(h) = read_varint(b, &mut i) else {
            return false;
        };
        if h & 1 == 0 {
            let count = (h >> 1).min(n - seen);
            let Some(v) = b.get(i..i + vbytes) else {
                return false;
            };
            i += vbytes;
            if count == 0 || !f(v.first().copied().unwrap_or(0), count) {
                return false;
            }
            seen += count;
        } else {
            let groups = (h >> 1) as usize;
            let nbytes = groups * width as usize;
            let Some(packed) = b.get(i..i + nbytes) else {
                return false;
            };
            i += nbytes;
            let total = (groups as u64 * 8).min(n - seen);
            for j in 0..total as usize {
                let bit = j * width as usize;
                let mut v = 0u16;
                for w in 0..width as usize {
                    let p = bit + w;
                    v |= (((packed[p / 8] >> (p % 8)) & 1) as u16) << w;
                }
                if !f(v as u8, 1) {
                    return false;
                }
            }
            seen += total;
        }
    }
    true
}

/// True when all `n` levels equal `value`.
fn check_all(b: &[u8], n: u64, value: u8, width: u8) -> bool {
    walk_levels(b, n, width, |v, _| v == value)
}

/// True when the repetition levels describe rows of exactly `per_row`
/// values (a 0, then `per_row - 1` ones); `pos` carries the position within
/// a row across pages.
fn check_rep(b: &[u8], n: u64, per_row: u64, pos: &mut u64) -> bool {
    walk_levels(b, n, 1, |v, count| {
        if v == 0 {
            if per_row == 1 {
                return *pos == 0;
            }
            if *pos != 0 || count != 1 {
                return false;
            }
            *pos = 1;
        } else {
            if *pos == 0 || *pos + count > per_row {
                return false;
            }
            *pos = (*pos + count) % per_row;
        }
        true
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checks_repetition_levels_of_fixed_rows() {
        // Rows of 3: runs (1 x 0), (2 x 1), twice.
        let b = [2u8, 0, 4, 1, 2, 0, 4, 1];
        let mut pos = 0;
        assert!(check_rep(&b, 6, 3, &mut pos));
        assert_eq!(pos, 0);
        let mut pos = 0;
        assert!(!check_rep(&b, 6, 2, &mut pos));
        // Bit-packed: one group of 8 values 0,1,1,0,1,1,0,1 (LSB first) = 0b1011_0110.
        let packed = [3u8, 0b1011_0110];
        let mut pos = 0;
        assert!(check_rep(&packed, 8, 3, &mut pos));
        assert_eq!(pos, 2);
    }

    #[test]
    fn decodes_dictionary_indices() {
        let mut out = Vec::new();
        // An RLE run of 5 x 300 (bit width 9: two value bytes).
        assert!(decode_indices(&[10, 0x2c, 0x01], 5, 9, &mut out));
        assert_eq!(out, vec![300; 5]);
        // One bit-packed group of 8 values of 3 bits: 0..8, LSB first.
        let values: Vec<u32> = (0..8).collect();
        let mut packed = 0u32;
        for (j, v) in values.iter().enumerate() {
            packed |= v << (3 * j);
        }
        let mut b = vec![3u8];
        b.extend_from_slice(&packed.to_le_bytes()[..3]);
        assert!(decode_indices(&b, 8, 3, &mut out));
        assert_eq!(out, values);
        // Fewer values wanted than packed: the group is cut.
        assert!(decode_indices(&b, 6, 3, &mut out));
        assert_eq!(out, &values[..6]);
        // Truncated streams and widths over 32 bits are refused.
        assert!(!decode_indices(&b[..2], 8, 3, &mut out));
        assert!(!decode_indices(&[2, 1], 1, 33, &mut out));
        // Bit width 0: a dictionary of one value.
        assert!(decode_indices(&[8], 4, 0, &mut out));
        assert_eq!(out, vec![0; 4]);
    }

    #[test]
    fn checks_definition_levels() {
        assert!(check_all(&[8, 3], 4, 3, 2));
        assert!(!check_all(&[8, 2], 4, 3, 2));
        assert!(!check_all(&[8], 4, 3, 2));
    }

    #[test]
    fn maps_arrow_fields_to_array_specs() {
        let f = Field::new("x", DataType::Float32, true);
        let s = array_spec(&f).unwrap();
        assert_eq!(
            (s.dtype.typestr(), s.row_shape.len()),
            ("<f4".to_string(), 0)
        );
        let item = Arc::new(Field::new("item", DataType::Float64, true));
        let f = Field::new("t", DataType::FixedSizeList(item, 6), true)
            .with_metadata(TensorMetadata::new(vec![2, 3]).field_metadata());
        assert_eq!(array_spec(&f).unwrap().row_shape, vec![2, 3]);
        assert!(array_spec(&Field::new("s", DataType::Utf8, true)).is_err());
        assert!(array_spec(&Field::new(
            "z",
            DataType::Timestamp(TimeUnit::Second, Some("UTC".into())),
            true
        ))
        .is_err());
    }
}
