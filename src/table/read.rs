//! Opening tables: each projected column's files mapped, zero-copy arrays.

use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow_array::{make_array, ArrayRef, RecordBatch, RecordBatchOptions};
use arrow_buffer::{BooleanBuffer, Buffer, NullBuffer};
use arrow_data::{ArrayData, ArrayDataBuilder};
use arrow_schema::{DataType, Schema, SchemaRef};

use super::manifest::{layout_of, resolve_in, ColumnEntry, Layout, Manifest};
use crate::error::{Error, ErrorKind, Result};
use crate::map;

/// How much of a table's data is checked when it is opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
enum Validation {
    /// Everything Arrow requires: offsets monotonic and in range, UTF-8,
    /// null counts. O(rows) for variable-length and nullable columns.
    #[default]
    Full,
    /// Sizes and the ends of offsets only: O(columns). See [`TableOptions::trusted`].
    Ends(map::Trusted),
    /// The checks of [`Validation::Ends`], building no array (safe: nothing
    /// unvalidated is ever handed out). See [`check_structure`].
    Structure,
}

/// Options for opening a table: a projection, and how much to validate.
///
/// ```
/// # fn main() -> mmarrow::Result<()> {
/// # let dir = tempfile::tempdir().unwrap();
/// # let path = dir.path().join("t");
/// # use std::sync::Arc;
/// # use arrow_array::{Int64Array, StringArray, RecordBatch};
/// # let batch = RecordBatch::try_from_iter([
/// #     ("id", Arc::new(Int64Array::from(vec![1, 2, 3])) as _),
/// #     ("name", Arc::new(StringArray::from(vec![Some("a"), None, Some("c")])) as _),
/// # ])?;
/// # let mut w = mmarrow::TableWriter::create(&path, batch.schema())?;
/// # w.append(&batch)?;
/// # w.finish()?;
/// use mmarrow::TableOptions;
/// let t = TableOptions::new().project(&["name"]).open(&path)?;
/// assert_eq!(t.schema().fields().len(), 1);
/// assert_eq!(t.to_record_batch()?.num_rows(), 3);
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, Default)]
pub struct TableOptions {
    projection: Option<Vec<String>>,
    validation: Validation,
}

impl TableOptions {
    /// All columns, fully validated.
    pub fn new() -> Self {
        Self::default()
    }

    /// Only these columns (in this order) are mapped.
    pub fn project(mut self, names: &[&str]) -> Self {
        self.projection = Some(names.iter().map(|s| s.to_string()).collect());
        self
    }

    /// Opens in time independent of the row count: file sizes and the first
    /// and last offsets are checked, but not every offset, not UTF-8, and
    /// null counts are taken from the manifest.
    ///
    /// # Safety
    /// The table's files must hold what mmarrow's [`crate::TableWriter`]
    /// wrote (or have passed [`crate::table::verify_table`]): offsets that are
    /// not monotonic, invalid UTF-8 or a wrong null count would make the
    /// resulting Arrow arrays unsound. That is this method's whole contract:
    /// files changing while they are mapped is the crate-level mapping
    /// hazard, which every open shares, safe or not (see the crate docs,
    /// "Soundness and the mapping hazard").
    #[allow(unsafe_code)] // an unsafe API: the caller vouches for the files
    pub unsafe fn trusted(mut self) -> Self {
        // SAFETY: forwarded to our caller (this function's contract).
        self.validation = Validation::Ends(unsafe { map::Trusted::vouch() });
        self
    }

    /// Opens the table in directory `dir`.
    ///
    /// # Errors
    /// [`ErrorKind::InvalidManifest`] for a bad manifest, a file outside the
    /// directory, a missing or short column file, offsets out of range;
    /// [`ErrorKind::UnsupportedVersion`]; [`ErrorKind::InvalidRequest`] for a
    /// projection naming an unknown column; Arrow validation errors.
    pub fn open(&self, dir: impl AsRef<Path>) -> Result<Table> {
        let dir = dir.as_ref();
        let manifest = Manifest::read(dir)?;
        let canonical = dir
            .canonicalize()
            .map_err(|e| Error::io(dir, "resolve directory", e))?;
        let entries: Vec<&ColumnEntry> = match &self.projection {
            None => manifest.columns.iter().collect(),
            Some(names) => names
                .iter()
                .map(|n| {
                    manifest
                        .columns
                        .iter()
                        .find(|c| c.field.name() == n)
                        .ok_or_else(|| {
                            ErrorKind::InvalidRequest {
                                reason: format!("no column {n:?} in the table"),
                            }
                            .at(dir)
                        })
                })
                .collect::<Result<_>>()?,
        };
        let rows = manifest.rows as usize;
        let mut columns = Vec::with_capacity(entries.len());
        for c in &entries {
            columns.extend(open_column(dir, &canonical, c, rows, self.validation)?);
        }
        let schema = Arc::new(
            Schema::new(entries.iter().map(|c| c.field.clone()).collect::<Vec<_>>())
                .with_metadata(manifest.metadata.clone()),
        );
        Ok(Table {
            dir: dir.to_path_buf(),
            schema,
            rows: manifest.rows,
            columns,
        })
    }
}

/// A table opened from its directory: zero-copy Arrow columns over the
/// mapped files.
#[derive(Debug, Clone)]
pub struct Table {
    dir: PathBuf,
    schema: SchemaRef,
    rows: u64,
    columns: Vec<ArrayRef>,
}

impl Table {
    /// Opens all columns of the table in `dir`, fully validated.
    ///
    /// # Errors
    /// As [`TableOptions::open`].
    pub fn open(dir: impl AsRef<Path>) -> Result<Table> {
        TableOptions::new().open(dir)
    }

    /// The table directory.
    pub fn path(&self) -> &Path {
        &self.dir
    }

    /// The schema of the opened columns.
    pub fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    /// Committed rows.
    pub fn num_rows(&self) -> u64 {
        self.rows
    }

    /// The opened columns.
    pub fn columns(&self) -> &[ArrayRef] {
        &self.columns
    }

    /// All rows as one record batch (no copy).
    ///
    /// # Errors
    /// Arrow errors (none for a table opened successfully).
    pub fn to_record_batch(&self) -> Result<RecordBatch> {
        let opts = RecordBatchOptions::new().with_row_count(Some(self.rows as usize));
        Ok(RecordBatch::try_new_with_options(
            self.schema.clone(),
            self.columns.clone(),
            &opts,
        )?)
    }

    /// Rows `range` as a record batch (no copy).
    ///
    /// # Errors
    /// [`ErrorKind::InvalidRequest`] for a range outside the table.
    pub fn slice(&self, range: Range<u64>) -> Result<RecordBatch> {
        if range.start > range.end || range.end > self.rows {
            return Err(ErrorKind::InvalidRequest {
                reason: format!(
                    "row range {}..{} is outside the {} rows",
                    range.start, range.end, self.rows
                ),
            }
            .at(self.dir.clone()));
        }
        Ok(self
            .to_record_batch()?
            .slice(range.start as usize, (range.end - range.start) as usize))
    }

    /// Zero-copy record batches of at most `rows` rows.
    ///
    /// # Errors
    /// [`ErrorKind::InvalidRequest`] for `rows == 0`.
    pub fn batches(&self, rows: u64) -> Result<impl Iterator<Item = RecordBatch> + '_> {
        if rows == 0 {
            return Err(ErrorKind::InvalidRequest {
                reason: "batch size must be at least 1 row".into(),
            }
            .at(self.dir.clone()));
        }
        let all = self.to_record_batch()?;
        let n = self.rows;
        Ok((0..n.div_ceil(rows)).map(move |i| {
            let start = i * rows;
            all.slice(start as usize, ((start + rows).min(n) - start) as usize)
        }))
    }
}

/// Checks every offset, UTF-8 and null count of every column of the table
/// in `dir` (what [`TableOptions::trusted`] skips).
///
/// # Errors
/// The first problem found, as [`Table::open`] reports it.
pub fn verify_table(dir: impl AsRef<Path>) -> Result<Table> {
    let dir = dir.as_ref();
    let table = TableOptions::new().open(dir)?;
    let schema = table.schema();
    for (field, column) in schema.fields().iter().zip(table.columns()) {
        check_values(field.name(), column)
            .map_err(|reason| ErrorKind::InvalidManifest { reason }.at(dir))?;
    }
    Ok(table)
}

/// Runs the checks of a table open that take time independent of the row
/// count — the manifest's every field; every file it names exists inside
/// the directory, is a regular file and is long enough for the committed
/// rows; the ends of every offsets file — without building any array.
/// Returns the manifest. `mmarrow info` runs it; [`verify_table`] runs
/// everything.
///
/// ```
/// # fn main() -> mmarrow::Result<()> {
/// # let dir = tempfile::tempdir().unwrap();
/// # let t = dir.path().join("t");
/// # let batch = arrow_array::RecordBatch::try_from_iter([("x", std::sync::Arc::new(arrow_array::Int64Array::from(vec![1, 2])) as _)])?;
/// # let mut w = mmarrow::TableWriter::create(&t, batch.schema())?;
/// # w.append(&batch)?; w.commit()?; drop(w);
/// let m = mmarrow::table::check_structure(&t)?;
/// assert_eq!(m.rows, 2);
/// # Ok(()) }
/// ```
///
/// # Errors
/// As [`Table::open`], for the checks above.
pub fn check_structure(dir: impl AsRef<Path>) -> Result<Manifest> {
    let dir = dir.as_ref();
    let manifest = Manifest::read(dir)?;
    let canonical = dir
        .canonicalize()
        .map_err(|e| Error::io(dir, "resolve directory", e))?;
    for c in &manifest.columns {
        open_column(
            dir,
            &canonical,
            c,
            manifest.rows as usize,
            Validation::Structure,
        )?;
    }
    Ok(manifest)
}

/// Checks what Arrow's own validation leaves to the reader: decimal values
/// that fit their declared precision.
fn check_values(name: &str, column: &ArrayRef) -> std::result::Result<(), String> {
    use arrow_array::cast::AsArray;
    use arrow_array::types::{Decimal128Type, Decimal256Type, DecimalType};
    use arrow_array::{Array, ArrowPrimitiveType, PrimitiveArray};
    fn first_too_wide<T: DecimalType + ArrowPrimitiveType>(
        a: &PrimitiveArray<T>,
        precision: u8,
    ) -> Option<usize> {
        (0..a.len())
            .find(|&i| a.is_valid(i) && !T::is_valid_decimal_precision(a.value(i), precision))
    }
    let bad = match column.data_type() {
        DataType::Decimal128(p, _) => {
            first_too_wide(column.as_primitive::<Decimal128Type>(), *p).map(|i| (i, *p))
        }
        DataType::Decimal256(p, _) => {
            first_too_wide(column.as_primitive::<Decimal256Type>(), *p).map(|i| (i, *p))
        }
        _ => None,
    };
    match bad {
        Some((row, p)) => Err(format!(
            "column {name:?} row {row}: value has more than the {p} digits its type declares"
        )),
        None => Ok(()),
    }
}

fn short(path: &Path, what: &str, need: u64, have: u64) -> Error {
    ErrorKind::InvalidManifest {
        reason: format!("{what} file has {have} bytes, the committed rows need {need}"),
    }
    .at(path)
}

/// A row count whose bytes overflow the address space: no file can hold it.
fn too_many(path: &Path, rows: usize) -> Error {
    ErrorKind::InvalidManifest {
        reason: format!("{rows} rows of this column need more bytes than a file can hold"),
    }
    .at(path)
}

/// Maps a whole column file.
fn map_file(dir: &Path, canonical: &Path, name: &str) -> Result<(PathBuf, Buffer)> {
    let path = resolve_in(dir, canonical, name)?;
    let file = crate::fsutil::open_regular(&path, false)?;
    let len = file
        .metadata()
        .map_err(|e| Error::io(&path, "stat", e))?
        .len();
    let buf = map::map_prefix(&file, &path, len)?;
    Ok((path, buf))
}

fn open_column(
    dir: &Path,
    canonical: &Path,
    c: &ColumnEntry,
    rows: usize,
    validation: Validation,
) -> Result<Option<ArrayRef>> {
    let layout = layout_of(c.field.data_type()).map_err(|r| {
        ErrorKind::InvalidManifest {
            reason: format!("column {:?}: {r}", c.field.name()),
        }
        .at(dir)
    })?;
    let nulls = match &c.files.validity {
        Some(v) => {
            let (path, buf) = map_file(dir, canonical, v)?;
            let need = rows.div_ceil(8);
            if buf.len() < need {
                return Err(short(&path, "validity", need as u64, buf.len() as u64));
            }
            Some((
                path,
                BooleanBuffer::new(buf.slice_with_length(0, need), 0, rows),
            ))
        }
        None => None,
    };
    let (values_path, values) = map_file(dir, canonical, &c.files.values)?;
    let mut err_path = values_path.clone();
    let builder = match layout {
        Layout::Fixed { width } => {
            let need = rows
                .checked_mul(width)
                .ok_or_else(|| too_many(&values_path, rows))?;
            if values.len() < need {
                return Err(short(
                    &values_path,
                    "values",
                    need as u64,
                    values.len() as u64,
                ));
            }
            fixed_data(c.field.data_type(), values.slice_with_length(0, need), rows)?
        }
        Layout::Bits => {
            let need = rows.div_ceil(8);
            if values.len() < need {
                return Err(short(
                    &values_path,
                    "values",
                    need as u64,
                    values.len() as u64,
                ));
            }
            ArrayDataBuilder::new(DataType::Boolean)
                .len(rows)
                .add_buffer(values.slice_with_length(0, need))
        }
        Layout::Variable { offset_width } => {
            let name = c.files.offsets.as_deref().expect("manifest checked");
            let (path, offsets) = map_file(dir, canonical, name)?;
            // Offsets are what full validation checks in this column.
            err_path = path.clone();
            let need = rows
                .checked_add(1)
                .and_then(|n| n.checked_mul(offset_width))
                .ok_or_else(|| too_many(&path, rows))?;
            if offsets.len() < need {
                return Err(short(&path, "offsets", need as u64, offsets.len() as u64));
            }
            let read = |i: usize| -> i64 {
                let b = &offsets.as_slice()[i * offset_width..(i + 1) * offset_width];
                if offset_width == 4 {
                    i32::from_le_bytes(b.try_into().expect("4 bytes")) as i64
                } else {
                    i64::from_le_bytes(b.try_into().expect("8 bytes"))
                }
            };
            let (first, last) = (read(0), read(rows));
            // docs/FORMAT.md §5: the first offset is 0 (appends rebase).
            if first != 0 {
                return Err(ErrorKind::InvalidManifest {
                    reason: format!("the first offset is {first}; a table's offsets start at 0"),
                }
                .at(path));
            }
            if last < first || last as u64 > values.len() as u64 {
                return Err(ErrorKind::InvalidManifest {
                    reason: format!(
                        "offsets run from {first} to {last}, outside the {}-byte values file",
                        values.len()
                    ),
                }
                .at(path));
            }
            ArrayDataBuilder::new(c.field.data_type().clone())
                .len(rows)
                .add_buffer(offsets.slice_with_length(0, need))
                .add_buffer(values.slice_with_length(0, last as usize))
        }
    };
    let data = match validation {
        Validation::Structure => return Ok(None),
        Validation::Full => {
            // The bitmap is counted once, by Arrow's validation, against the
            // manifest's count. With a count of 0 the bitmap is still
            // counted here: Arrow would otherwise drop it unchecked.
            let mut validity_path = None;
            let builder = match nulls {
                Some((path, bits)) if c.null_count > 0 => {
                    validity_path = Some(path);
                    builder
                        .null_bit_buffer(Some(bits.into_inner()))
                        .null_count(c.null_count as usize)
                }
                Some((path, bits)) => {
                    let n = NullBuffer::new(bits);
                    if n.null_count() > 0 {
                        return Err(ErrorKind::InvalidManifest {
                            reason: format!(
                                "{} nulls in the bitmap, the manifest says 0",
                                n.null_count()
                            ),
                        }
                        .at(path));
                    }
                    builder
                }
                None => builder,
            };
            builder.build().map_err(|e| {
                let text = e.to_string();
                let path = match validity_path {
                    Some(p) if text.contains("null") => p,
                    _ => err_path.clone(),
                };
                ErrorKind::InvalidManifest {
                    reason: format!("column {:?}: {text}", c.field.name()),
                }
                .at(path)
            })?
        }
        Validation::Ends(vouched) => map::build_trusted(
            builder,
            nulls.map(|(_, bits)| (bits, c.null_count as usize)),
            &vouched,
        ),
    };
    Ok(Some(make_array(data)))
}

/// Array data of `rows` fixed-width values of type `t` (through any
/// FixedSizeList levels) over `values`.
fn fixed_data(t: &DataType, values: Buffer, rows: usize) -> Result<ArrayDataBuilder> {
    Ok(match t {
        DataType::FixedSizeList(item, n) => {
            let child: ArrayData =
                fixed_data(item.data_type(), values, rows * *n as usize)?.build()?;
            ArrayDataBuilder::new(t.clone())
                .len(rows)
                .add_child_data(child)
        }
        t => ArrayDataBuilder::new(t.clone())
            .len(rows)
            .add_buffer(values),
    })
}
