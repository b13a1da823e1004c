//! What an array file can hold of an Arrow column, the one rule for when a
//! Parquet column stores exactly the bytes of an array, and opening a
//! conversion's input and picking its column.

use std::fs::File;
use std::path::Path;

use arrow_schema::{DataType, Field, Fields, Schema, TimeUnit};
use parquet::arrow::arrow_reader::{ArrowReaderMetadata, ArrowReaderOptions};
use parquet::basic::Type as PhysicalType;

use super::options::ConvertOptions;
use crate::dtype::{Dtype, Kind, EXTENSION_NAME_KEY};
use crate::error::{Error, ErrorKind, Result};
use crate::format::tensor::TensorMetadata;

/// What an array file can hold of a Parquet/Arrow column.
#[derive(Clone)]
pub(crate) struct ArraySpec {
    pub dtype: Dtype,
    /// The row shape; a leading 0 is a list length learnt from the data.
    pub row_shape: Vec<u64>,
    /// Elements per row of the leaf type (row shape × 2 for complex).
    pub leaf_per_row: u64,
}

impl ArraySpec {
    /// The row shape with lengths still to be learnt as 1.
    pub fn fixed_row_shape(&self) -> Vec<u64> {
        self.row_shape.iter().map(|&d| d.max(1)).collect()
    }

    /// Bytes of values per row (at least one element), for progress.
    pub fn row_bytes_hint(&self) -> u64 {
        self.leaf_per_row.max(1) * self.dtype.itemsize() as u64
    }
}

/// Maps an Arrow field to the dtype and row shape of an array file; the
/// error completes "column NAME ...".
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
    let bool8 = field
        .metadata()
        .get(EXTENSION_NAME_KEY)
        .is_some_and(|n| n == "arrow.bool8");
    let bool_dtype = || Dtype::new(Kind::Bool, 1, crate::dtype::ByteOrder::NotApplicable);
    let dtype = match &t {
        // arrow.bool8's storage, and Arrow's bit-packed booleans (turned
        // into one byte per value by `sink::fixed_lists`).
        DataType::Int8 if bool8 => bool_dtype().map_err(|e| e.to_string())?,
        DataType::Boolean => bool_dtype().map_err(|e| e.to_string())?,
        DataType::Timestamp(_, Some(tz)) => {
            return Err(format!(
                "has time zone {tz}; numpy datetime64 has none, so an array file cannot record it"
            ))
        }
        other => match Dtype::from_arrow(other) {
            Some(d) => d,
            None => return Err(format!("has type {other}, which an array file cannot hold")),
        },
    };
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

/// Whether a Parquet column of physical type `physical` (and `type_length`,
/// for fixed-length byte arrays) stores values of `dtype` as exactly the
/// bytes of an array file, PLAIN-encoded: the condition of both page-level
/// paths (the writer copies the mapped bytes into pages, the reader copies
/// page bytes into the output).
pub(crate) fn stores_mapped_bytes(dtype: &Dtype, physical: PhysicalType, type_length: i32) -> bool {
    // The width of one Parquet value: complex numbers are pairs of floats.
    let width = dtype.itemsize() / if dtype.kind() == Kind::Complex { 2 } else { 1 };
    let raw = match (physical, dtype.kind(), width) {
        (PhysicalType::FLOAT, Kind::Float | Kind::Complex, 4) => true,
        (PhysicalType::DOUBLE, Kind::Float | Kind::Complex, 8) => true,
        (PhysicalType::INT32, Kind::Int | Kind::UInt, 4) => true,
        (PhysicalType::INT64, Kind::Int | Kind::UInt | Kind::Timedelta(_), 8) => true,
        // Parquet writers store seconds as milliseconds.
        (PhysicalType::INT64, Kind::Datetime(u), 8) => u != TimeUnit::Second,
        // float16 and byte strings.
        (PhysicalType::FIXED_LEN_BYTE_ARRAY, Kind::Float | Kind::Bytes | Kind::Void, w) => {
            usize::try_from(type_length) == Ok(w)
        }
        _ => false,
    };
    raw && dtype.is_native()
}

/// Opens a Parquet file and reads its footer.
pub(crate) fn open_parquet(src: &Path) -> Result<(File, ArrowReaderMetadata)> {
    let file = open_input(src)?;
    check_footer(src, &file)?;
    let bounded = file
        .try_clone()
        .and_then(super::bounded::BoundedFile::new)
        .map_err(|e| Error::io(src, "open", e))?;
    let unreadable = |e: parquet::errors::ParquetError| {
        ErrorKind::Format {
            reason: format!("not a readable Parquet file: {e}"),
        }
        .at(src)
    };
    let meta =
        ArrowReaderMetadata::load(&bounded, ArrowReaderOptions::new()).map_err(unreadable)?;
    let meta = match rows_of_row_groups(&meta) {
        Some(rows) => ArrowReaderMetadata::try_new(
            std::sync::Arc::new(with_file_rows(meta.metadata(), rows)),
            ArrowReaderOptions::new(),
        )
        .map_err(unreadable)?,
        None => meta,
    };
    Ok((file, meta))
}

/// The row groups' total, when the footer's row count differs from it
/// (some writers leave it 0: parquet-testing's `repeated_no_annotation`).
/// The parquet crate's reader stops at the footer's count, so such a file
/// would read as fewer rows than it holds; readers that read every row
/// group (pyarrow) read them all.
fn rows_of_row_groups(meta: &ArrowReaderMetadata) -> Option<i64> {
    let md = meta.metadata();
    let total = md
        .row_groups()
        .iter()
        .try_fold(0i64, |n, g| n.checked_add(g.num_rows().max(0)))?;
    (total != md.file_metadata().num_rows()).then_some(total)
}

/// `md` with the footer's row count replaced by `rows`.
fn with_file_rows(
    md: &parquet::file::metadata::ParquetMetaData,
    rows: i64,
) -> parquet::file::metadata::ParquetMetaData {
    use parquet::file::metadata::{FileMetaData, ParquetMetaDataBuilder};
    let f = md.file_metadata();
    let fixed = FileMetaData::new(
        f.version(),
        rows,
        f.created_by().map(str::to_string),
        f.key_value_metadata().cloned(),
        f.schema_descr_ptr(),
        f.column_orders().cloned(),
    );
    ParquetMetaDataBuilder::new(fixed)
        .set_row_groups(md.row_groups().to_vec())
        .set_column_index(md.column_index().cloned())
        .set_offset_index(md.offset_index().cloned())
        .build()
}

/// Walks the footer's thrift before the parquet crate decodes it
/// (`parquet::footer`); a file without a plain footer is left to the crate
/// to report.
fn check_footer(src: &Path, file: &File) -> Result<()> {
    use crate::fsutil::FileExt;
    let io = |e| Error::io(src, "read", e);
    let len = file.metadata().map_err(io)?.len();
    if len < 12 {
        return Ok(());
    }
    let mut tail = [0u8; 8];
    file.read_exact_at(&mut tail, len - 8).map_err(io)?;
    let footer_len = u64::from(u32::from_le_bytes(tail[..4].try_into().expect("4 bytes")));
    if &tail[4..] != b"PAR1" || footer_len + 8 > len {
        return Ok(());
    }
    let mut footer = vec![0u8; footer_len as usize];
    file.read_exact_at(&mut footer, len - 8 - footer_len)
        .map_err(io)?;
    super::parquet::footer::check(&footer).map_err(|r| {
        ErrorKind::Format {
            reason: format!("not a readable Parquet file: {r}"),
        }
        .at(src)
    })
}

/// [`open_parquet`] for a conversion that reads the values: INT96
/// timestamps are read in [`ConvertOptions::int96_unit`], or else as
/// nanoseconds after a check that every value fits them.
pub(crate) fn open_parquet_for_reading(
    src: &Path,
    o: &ConvertOptions,
) -> Result<(File, ArrowReaderMetadata)> {
    let (file, meta) = open_parquet(src)?;
    let int96 = int96_columns(&meta);
    if int96.is_empty() {
        return Ok((file, meta));
    }
    // Arrow's reading wraps values its unit cannot hold: checked first,
    // in the unit asked for.
    check_int96_range(src, &file, &meta, &int96, o.int96_unit)?;
    let Some(unit) = o.int96_unit else {
        return Ok((file, meta));
    };
    let meta = with_int96_unit(&meta, &int96, unit).map_err(|e| {
        ErrorKind::Format {
            reason: format!("reading INT96 as {unit:?}: {e}"),
        }
        .at(src)
    })?;
    Ok((file, meta))
}

/// The top-level columns (arrow field indices) stored as Parquet INT96.
fn int96_columns(meta: &ArrowReaderMetadata) -> Vec<usize> {
    let descr = meta.metadata().file_metadata().schema_descr();
    meta.schema()
        .fields()
        .iter()
        .enumerate()
        .filter(|(_, f)| {
            descr.columns().iter().any(|c| {
                c.physical_type() == PhysicalType::INT96
                    && c.path().parts().len() == 1
                    && c.path().parts()[0] == *f.name()
            })
        })
        .map(|(i, _)| i)
        .collect()
}

/// `meta` with the INT96 columns `cols` read as timestamps of `unit`.
fn with_int96_unit(
    meta: &ArrowReaderMetadata,
    cols: &[usize],
    unit: TimeUnit,
) -> std::result::Result<ArrowReaderMetadata, parquet::errors::ParquetError> {
    let fields: Vec<arrow_schema::FieldRef> = meta
        .schema()
        .fields()
        .iter()
        .enumerate()
        .map(|(i, f)| {
            if cols.contains(&i) {
                std::sync::Arc::new(
                    f.as_ref()
                        .clone()
                        .with_data_type(arrow_schema::DataType::Timestamp(unit, None)),
                )
            } else {
                f.clone()
            }
        })
        .collect();
    let schema = arrow_schema::Schema::new(fields).with_metadata(meta.schema().metadata().clone());
    ArrowReaderMetadata::try_new(
        meta.metadata().clone(),
        ArrowReaderOptions::new().with_schema(std::sync::Arc::new(schema)),
    )
}

/// Fails, naming the column and row, when an INT96 value of `cols` does
/// not fit int64 in `unit` (default nanoseconds; arrow's reading wraps it
/// silently). Reads those columns once as seconds, which hold every INT96
/// value.
fn check_int96_range(
    src: &Path,
    file: &File,
    meta: &ArrowReaderMetadata,
    cols: &[usize],
    unit: Option<TimeUnit>,
) -> Result<()> {
    use arrow_array::cast::AsArray;
    use arrow_array::types::TimestampSecondType;
    use arrow_array::Array;
    use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
    use parquet::arrow::ProjectionMask;
    // Seconds whose value in `unit` fits i64 whatever their fraction.
    let (per_second, unit_name, coarser) = match unit.unwrap_or(TimeUnit::Nanosecond) {
        TimeUnit::Second => return Ok(()),
        TimeUnit::Millisecond => (1_000, "milliseconds", "--int96-unit s"),
        TimeUnit::Microsecond => (1_000_000, "microseconds", "--int96-unit ms or s"),
        TimeUnit::Nanosecond => (
            1_000_000_000,
            "nanoseconds (1677-2262)",
            "--int96-unit us, ms or s",
        ),
    };
    let limit = i64::MAX / per_second - 1;
    let bad = |e: &dyn std::fmt::Display| {
        ErrorKind::Format {
            reason: format!("checking INT96 timestamps: {e}"),
        }
        .at(src)
    };
    let secs = with_int96_unit(meta, cols, TimeUnit::Second).map_err(|e| bad(&e))?;
    let f = file
        .try_clone()
        .and_then(super::bounded::BoundedFile::new)
        .map_err(|e| Error::io(src, "open", e))?;
    let mask = ProjectionMask::roots(
        secs.metadata().file_metadata().schema_descr(),
        cols.iter().copied(),
    );
    let reader = ParquetRecordBatchReaderBuilder::new_with_metadata(f, secs.clone())
        .with_projection(mask)
        .build()
        .map_err(|e| bad(&e))?;
    let mut row0 = 0u64;
    for batch in reader {
        let batch = batch.map_err(|e| bad(&e))?;
        for (c, field) in batch.columns().iter().zip(batch.schema().fields()) {
            let v = c.as_primitive::<TimestampSecondType>();
            if let Some(i) =
                (0..v.len()).find(|&i| v.is_valid(i) && v.value(i).unsigned_abs() > limit as u64)
            {
                return Err(ErrorKind::Format {
                    reason: format!(
                        "column {:?} row {}: INT96 timestamp {} s from 1970 does not fit int64 {unit_name}; read it with a coarser unit ({coarser})",
                        field.name(),
                        row0 + i as u64,
                        v.value(i)
                    ),
                }
                .at(src));
            }
        }
        row0 += batch.num_rows() as u64;
    }
    Ok(())
}

/// Opens a conversion's input file, refusing directories.
pub(crate) fn open_input(src: &Path) -> Result<File> {
    let file = crate::fsutil::open_regular(src, false)?;
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
    schema: &Schema,
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

fn column_list(fields: &Fields) -> String {
    fields
        .iter()
        .map(|f| f.name().as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

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
        for t in [DataType::Boolean, DataType::Int8] {
            let f = Field::new("b", t, true).with_metadata(
                [(EXTENSION_NAME_KEY.to_string(), "arrow.bool8".to_string())].into(),
            );
            assert_eq!(array_spec(&f).unwrap().dtype.typestr(), "|b1");
        }
        assert!(array_spec(&Field::new("d", DataType::Date32, true)).is_err());
    }

    #[test]
    fn mapped_bytes_need_the_same_width_and_little_endian() {
        let d = |s: &str| Dtype::parse(s).unwrap();
        assert!(stores_mapped_bytes(&d("<f4"), PhysicalType::FLOAT, 0));
        assert!(stores_mapped_bytes(&d("<c16"), PhysicalType::DOUBLE, 0));
        assert!(!stores_mapped_bytes(&d(">f4"), PhysicalType::FLOAT, 0));
        assert!(!stores_mapped_bytes(&d("<i2"), PhysicalType::INT32, 0));
        assert!(!stores_mapped_bytes(&d("<M8[s]"), PhysicalType::INT64, 0));
        assert!(stores_mapped_bytes(&d("<M8[ms]"), PhysicalType::INT64, 0));
        assert!(stores_mapped_bytes(
            &d("|S7"),
            PhysicalType::FIXED_LEN_BYTE_ARRAY,
            7
        ));
        assert!(!stores_mapped_bytes(
            &d("|S7"),
            PhysicalType::FIXED_LEN_BYTE_ARRAY,
            8
        ));
        assert!(stores_mapped_bytes(
            &d("<f2"),
            PhysicalType::FIXED_LEN_BYTE_ARRAY,
            2
        ));
    }
}
