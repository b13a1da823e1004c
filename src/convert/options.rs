//! Conversion options: codec, row groups, threads, overwrite, formats,
//! progress.

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

use arrow_array::{make_array, Array};
use arrow_data::ArrayData;
use arrow_schema::{DataType, FieldRef, Schema, SchemaRef};

use super::format::Format;
use crate::error::{Error, ErrorKind, Result};

/// A Parquet compression codec.
///
/// Parses `none`, `snappy`, `zstd` (level 1, as pyarrow), `zstd:N` (1–22),
/// `lz4` (LZ4_RAW), `gzip` (level 6) and `gzip:N` (0–9).
///
/// ```
/// use mmarrow::convert::Compression;
/// assert_eq!("zstd".parse::<Compression>().unwrap(), Compression::Zstd(1));
/// assert_eq!("zstd:3".parse::<Compression>().unwrap(), Compression::Zstd(3));
/// assert!("zstd:99".parse::<Compression>().is_err());
/// assert!("brotli".parse::<Compression>().is_err());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    /// Uncompressed.
    None,
    /// Snappy: fast, light compression (pyarrow's and DuckDB's default).
    Snappy,
    /// Zstandard at a level from 1 to 22.
    Zstd(i32),
    /// LZ4 (the LZ4_RAW codec).
    Lz4,
    /// Gzip at a level from 0 to 9.
    Gzip(u32),
}

impl Default for Compression {
    /// zstd level 1: read everywhere, compresses better than snappy, and
    /// costs little on barely compressible floats.
    fn default() -> Self {
        Compression::Zstd(1)
    }
}

impl FromStr for Compression {
    type Err = Error;
    fn from_str(text: &str) -> Result<Self> {
        let s = text.trim().to_ascii_lowercase();
        let (name, level) = match s.split_once([':', '=', '(']) {
            Some((n, l)) => (n.to_string(), Some(l.trim_end_matches(')').to_string())),
            None => (s.clone(), None),
        };
        let bad = |reason: &str| {
            Error::new(ErrorKind::InvalidOption {
                option: "compression",
                value: text.to_string(),
                reason: reason.to_string(),
            })
        };
        let level_num = |lo: i64, hi: i64| -> Result<Option<i64>> {
            match &level {
                None => Ok(None),
                Some(l) => match l.parse::<i64>() {
                    Ok(n) if (lo..=hi).contains(&n) => Ok(Some(n)),
                    _ => Err(bad(&format!("level must be an integer from {lo} to {hi}"))),
                },
            }
        };
        let no_level = || {
            if level.is_some() {
                Err(bad("this codec takes no level"))
            } else {
                Ok(())
            }
        };
        match name.as_str() {
            "none" | "uncompressed" => no_level().map(|()| Compression::None),
            "snappy" => no_level().map(|()| Compression::Snappy),
            "lz4" | "lz4_raw" => no_level().map(|()| Compression::Lz4),
            "zstd" => Ok(Compression::Zstd(level_num(1, 22)?.unwrap_or(1) as i32)),
            "gzip" => Ok(Compression::Gzip(level_num(0, 9)?.unwrap_or(6) as u32)),
            _ => Err(bad("use none, snappy, zstd[:1-22], lz4 or gzip[:0-9]")),
        }
    }
}

impl fmt::Display for Compression {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Compression::None => f.write_str("none"),
            Compression::Snappy => f.write_str("snappy"),
            Compression::Zstd(l) => write!(f, "zstd:{l}"),
            Compression::Lz4 => f.write_str("lz4"),
            Compression::Gzip(l) => write!(f, "gzip:{l}"),
        }
    }
}

impl Compression {
    pub(crate) fn to_parquet(self) -> parquet::basic::Compression {
        use parquet::basic::{Compression as C, GzipLevel, ZstdLevel};
        match self {
            Compression::None => C::UNCOMPRESSED,
            Compression::Snappy => C::SNAPPY,
            Compression::Zstd(l) => C::ZSTD(ZstdLevel::try_new(l).unwrap_or_default()),
            Compression::Lz4 => C::LZ4_RAW,
            Compression::Gzip(l) => C::GZIP(GzipLevel::try_new(l).unwrap_or_default()),
        }
    }
}

/// Receives progress of a long conversion (the CLI draws a bar with it).
pub trait Progress: Send + Sync {
    /// The conversion starts: `rows` rows, `bytes` bytes of array data in all.
    fn start(&self, rows: u64, bytes: u64);
    /// `rows` more rows (`bytes` bytes) are done.
    fn advance(&self, rows: u64, bytes: u64);
}

/// Options for [`to_parquet`](super::to_parquet), [`from_parquet`](super::from_parquet),
/// [`to_ipc`](super::to_ipc), [`from_ipc`](super::from_ipc) and [`convert`](super::convert()).
///
/// Setters are typed and infallible, and take and return the options:
///
/// ```
/// use mmarrow::convert::{Compression, ConvertOptions};
/// let o = ConvertOptions::new().compression(Compression::Snappy).threads(2).overwrite(true);
/// # let _ = o;
/// ```
#[derive(Clone)]
pub struct ConvertOptions {
    pub(crate) compression: Compression,
    pub(crate) row_group_rows: Option<u64>,
    pub(crate) threads: usize,
    pub(crate) overwrite: bool,
    pub(crate) column: Option<String>,
    pub(crate) int96_unit: Option<arrow_schema::TimeUnit>,
    pub(crate) table: bool,
    pub(crate) source_format: Option<Format>,
    pub(crate) destination_format: Option<Format>,
    pub(crate) fast_path: bool,
    pub(crate) durable: bool,
    pub(crate) if_stale: bool,
    pub(crate) string_view: bool,
    pub(crate) progress: Option<Arc<dyn Progress>>,
}

impl Default for ConvertOptions {
    /// The same as [`ConvertOptions::new`].
    fn default() -> Self {
        ConvertOptions {
            compression: Compression::default(),
            row_group_rows: None,
            threads: 0,
            overwrite: false,
            column: None,
            int96_unit: None,
            table: false,
            source_format: None,
            destination_format: None,
            fast_path: true,
            durable: true,
            if_stale: false,
            string_view: false,
            progress: None,
        }
    }
}

impl fmt::Debug for ConvertOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConvertOptions")
            .field("compression", &self.compression)
            .field("row_group_rows", &self.row_group_rows)
            .field("threads", &self.threads)
            .field("overwrite", &self.overwrite)
            .field("column", &self.column)
            .field("table", &self.table)
            .field("source_format", &self.source_format)
            .field("destination_format", &self.destination_format)
            .field("fast_path", &self.fast_path)
            .field("durable", &self.durable)
            .field("if_stale", &self.if_stale)
            .field("string_view", &self.string_view)
            .finish_non_exhaustive()
    }
}

/// Default size of a row group's uncompressed data.
pub const DEFAULT_ROW_GROUP_BYTES: u64 = 64 << 20;

impl ConvertOptions {
    /// Defaults: zstd level 1, row groups of about 64 MiB of data, all
    /// cores, no overwrite, formats by name, durable output.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets the Parquet codec.
    pub fn compression(mut self, c: Compression) -> Self {
        self.compression = c;
        self
    }

    /// Sets the rows per Parquet row group (default: about 64 MiB of data).
    pub fn row_group_rows(mut self, rows: u64) -> Self {
        self.row_group_rows = Some(rows);
        self
    }

    /// Sets the number of threads (0: all cores). The page-level Parquet
    /// writer uses one for uncompressed pages: its only work is the write,
    /// which the kernel serializes per file.
    pub fn threads(mut self, threads: usize) -> Self {
        self.threads = threads;
        self
    }

    /// Replace an existing destination.
    pub fn overwrite(mut self, overwrite: bool) -> Self {
        self.overwrite = overwrite;
        self
    }

    /// The column to extract from a wider Parquet or IPC file into an
    /// array file.
    pub fn column(mut self, name: impl Into<String>) -> Self {
        self.column = Some(name.into());
        self
    }

    /// The unit Parquet INT96 timestamps (Spark's legacy type) are read in,
    /// as pyarrow's `coerce_int96_timestamp_unit`. Without it they are read
    /// as nanoseconds, and a value outside what int64 nanoseconds can hold
    /// (before 1677-09-21 or after 2262-04-11) is an error naming the column
    /// and row, never a silently wrapped date.
    pub fn int96_unit(mut self, unit: arrow_schema::TimeUnit) -> Self {
        self.int96_unit = Some(unit);
        self
    }

    /// Whether [`convert`](super::convert()) writes a table directory from
    /// a Parquet or Arrow IPC source, whatever the destination's name
    /// (default false: by the destination's name, and by the number of
    /// columns; see [`convert`](super::convert())).
    pub fn table(mut self, table: bool) -> Self {
        self.table = table;
        self
    }

    /// The format [`convert`](super::convert()) reads the source as,
    /// instead of inferring it from the source's name.
    pub fn source_format(mut self, format: Format) -> Self {
        self.source_format = Some(format);
        self
    }

    /// The format [`convert`](super::convert()) writes, instead of
    /// inferring it from the destination's name.
    pub fn destination_format(mut self, format: Format) -> Self {
        self.destination_format = Some(format);
        self
    }

    /// Test hook, not part of the API: whether the page-level Parquet
    /// reader and writer may be used (default true). With `false`, the
    /// parquet crate's generic Arrow reader and writer do all the work:
    /// slower, and the reference the page-level paths are tested against
    /// (the CLI's hidden `--generic`).
    #[doc(hidden)]
    pub fn fast_path(mut self, enabled: bool) -> Self {
        self.fast_path = enabled;
        self
    }

    /// Whether the output is made durable before it is renamed into place
    /// (default true): data and directory entries are fsynced, with
    /// writeback started in the background as the output grows. With
    /// `false` the conversion skips every fsync: faster, and still never
    /// leaves a partial destination after an error or Ctrl-C (the output is
    /// still written under a temporary name and renamed), but a crash of
    /// the machine soon after may leave the destination empty or partial.
    ///
    /// ```
    /// let o = mmarrow::convert::ConvertOptions::new().durable(false);
    /// assert!(!o.is_durable());
    /// assert!(mmarrow::convert::ConvertOptions::default().is_durable());
    /// ```
    pub fn durable(mut self, durable: bool) -> Self {
        self.durable = durable;
        self
    }

    /// Rebuild a table destination only when it is stale (default false):
    /// every table a conversion makes records its source's fingerprint
    /// ([`crate::table::Source`]: path, size, modification time, a
    /// checksum of the Parquet or IPC footer); with `true`, a destination
    /// table whose recorded source matches `src` as it is now is left
    /// alone — in O(1), reading two footers and a manifest — and the
    /// summary says [`ConvertSummary::up_to_date`]; otherwise the table is
    /// built, replacing an existing mmarrow table atomically (anything
    /// else at the destination is refused, as without the option). A
    /// pipeline runs the same conversion every time. Only for table
    /// destinations: an array file has no place to record its source.
    ///
    /// [`ConvertSummary::up_to_date`]: crate::convert::ConvertSummary::up_to_date
    ///
    /// ```
    /// # fn main() -> mmarrow::Result<()> {
    /// # let dir = tempfile::tempdir().unwrap();
    /// # use std::sync::Arc;
    /// # use arrow_array::{Int32Array, Float64Array, RecordBatch};
    /// # let batch = RecordBatch::try_from_iter([
    /// #     ("n", Arc::new(Int32Array::from(vec![1, 2])) as _),
    /// #     ("x", Arc::new(Float64Array::from(vec![0.5, 1.5])) as _),
    /// # ])?;
    /// # let src = dir.path().join("x.parquet");
    /// # let mut w = parquet::arrow::ArrowWriter::try_new(std::fs::File::create(&src).unwrap(), batch.schema(), None).unwrap();
    /// # w.write(&batch).unwrap(); w.close().unwrap();
    /// use mmarrow::convert::{convert, ConvertOptions};
    /// let o = ConvertOptions::new().if_stale(true);
    /// let cache = dir.path().join("cache");
    /// assert!(!convert(&src, &cache, &o)?.up_to_date); // built
    /// assert!(convert(&src, &cache, &o)?.up_to_date);  // current: nothing done
    /// # Ok(()) }
    /// ```
    pub fn if_stale(mut self, if_stale: bool) -> Self {
        self.if_stale = if_stale;
        self
    }

    /// Whether a table destination stores string and binary columns as
    /// Arrow views (`utf8_view`, `binary_view`; default false: as stored in
    /// the source). `utf8`, `large_utf8`, `binary` and `large_binary`
    /// become views, at the top level and inside lists, fixed-size lists
    /// and structs (not inside dictionaries, maps or unions, which keep
    /// their type). Views are the layout Polars and DataFusion's string
    /// kernels work on: a table stored so reaches Polars with no
    /// conversion (`mmarrow.open_table(...).to_polars()` adds no memory),
    /// at 16 bytes of view per string on disk instead of 4 of offset. With
    /// [`if_stale`](Self::if_stale), a table that still holds a string
    /// column views would replace is stale and rebuilt.
    ///
    /// ```
    /// # fn main() -> mmarrow::Result<()> {
    /// # let dir = tempfile::tempdir().unwrap();
    /// # use std::sync::Arc;
    /// # use arrow_array::{Int32Array, StringArray, RecordBatch};
    /// # let batch = RecordBatch::try_from_iter([
    /// #     ("n", Arc::new(Int32Array::from(vec![1, 2])) as _),
    /// #     ("s", Arc::new(StringArray::from(vec![Some("a rather long string"), None])) as _),
    /// # ])?;
    /// # let src = dir.path().join("x.parquet");
    /// # let mut w = parquet::arrow::ArrowWriter::try_new(std::fs::File::create(&src).unwrap(), batch.schema(), None).unwrap();
    /// # w.write(&batch).unwrap(); w.close().unwrap();
    /// use arrow_schema::DataType;
    /// use mmarrow::convert::{convert, ConvertOptions};
    /// let cache = dir.path().join("cache");
    /// convert(&src, &cache, &ConvertOptions::new().string_view(true))?;
    /// let t = mmarrow::Table::open(&cache)?;
    /// assert_eq!(t.schema().field(1).data_type(), &DataType::Utf8View);
    /// assert_eq!(t.to_record_batch()?.column(1).as_ref(), &arrow_array::StringViewArray::from(vec![Some("a rather long string"), None]));
    /// # Ok(()) }
    /// ```
    pub fn string_view(mut self, on: bool) -> Self {
        self.string_view = on;
        self
    }

    /// The type a table destination stores a source column of type `t`
    /// as: `t` itself, or with strings as views under
    /// [`string_view`](Self::string_view).
    pub(crate) fn stored_type(&self, t: &DataType) -> DataType {
        if !self.string_view {
            return t.clone();
        }
        match view_type(t) {
            Some(v) if arrow_cast::can_cast_types(t, &v) => v,
            _ => t.clone(),
        }
    }

    /// [`stored_type`](Self::stored_type) of every field.
    pub(crate) fn stored_schema(&self, s: &SchemaRef) -> SchemaRef {
        if !self.string_view {
            return s.clone();
        }
        let fields: Vec<FieldRef> = s
            .fields()
            .iter()
            .map(|f| {
                Arc::new(
                    f.as_ref()
                        .clone()
                        .with_data_type(self.stored_type(f.data_type())),
                )
            })
            .collect();
        Arc::new(Schema::new_with_metadata(fields, s.metadata().clone()))
    }

    /// Whether the output is fsynced before the rename.
    pub fn is_durable(&self) -> bool {
        self.durable
    }

    /// Sets a progress receiver.
    pub fn progress(mut self, p: Arc<dyn Progress>) -> Self {
        self.progress = Some(p);
        self
    }

    pub(crate) fn thread_count(&self) -> usize {
        if self.threads == 0 {
            std::thread::available_parallelism().map_or(1, |n| n.get())
        } else {
            self.threads
        }
    }

    pub(crate) fn start(&self, rows: u64, bytes: u64) {
        if let Some(p) = &self.progress {
            p.start(rows, bytes);
        }
    }

    pub(crate) fn advance(&self, rows: u64, bytes: u64) {
        if let Some(p) = &self.progress {
            p.advance(rows, bytes);
        }
    }
}

/// `t` with its strings and binaries as views, `None` when it has none
/// that [`ConvertOptions::string_view`] replaces.
pub(crate) fn view_type(t: &DataType) -> Option<DataType> {
    let field = |f: &FieldRef| {
        view_type(f.data_type()).map(|t| Arc::new(f.as_ref().clone().with_data_type(t)))
    };
    match t {
        DataType::Utf8 | DataType::LargeUtf8 => Some(DataType::Utf8View),
        DataType::Binary | DataType::LargeBinary => Some(DataType::BinaryView),
        DataType::List(f) => field(f).map(DataType::List),
        DataType::LargeList(f) => field(f).map(DataType::LargeList),
        DataType::FixedSizeList(f, n) => field(f).map(|f| DataType::FixedSizeList(f, *n)),
        DataType::Struct(fs) => {
            let new: Vec<Option<FieldRef>> = fs.iter().map(field).collect();
            new.iter().any(Option::is_some).then(|| {
                DataType::Struct(
                    new.into_iter()
                        .zip(fs.iter())
                        .map(|(n, f)| n.unwrap_or_else(|| f.clone()))
                        .collect(),
                )
            })
        }
        _ => None,
    }
}

/// `d` as type `t` (the [`ConvertOptions::stored_type`] of its type):
/// `d` itself when it is of that type already. Strings become views over
/// `d`'s own buffers (the table writer then copies them to the column).
pub(crate) fn to_stored(d: ArrayData, t: &DataType) -> std::result::Result<ArrayData, String> {
    if d.data_type() == t {
        return Ok(d);
    }
    let from = d.data_type().clone();
    arrow_cast::cast(make_array(d).as_ref(), t)
        .map(|a| a.to_data())
        .map_err(|e| format!("storing {from} as {t}: {e}"))
}

/// Checks a row group size given by a user.
pub(crate) fn check_row_group_rows(rows: Option<u64>) -> Result<()> {
    match rows {
        Some(0) => Err(Error::new(ErrorKind::InvalidOption {
            option: "row group size",
            value: "0".into(),
            reason: "must be at least 1 row".into(),
        })),
        _ => Ok(()),
    }
}
