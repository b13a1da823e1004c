//! Per-chunk column statistics (docs/FORMAT.md §5.6): null counts for every
//! column, minimum and maximum where the type has an order, computed from
//! each appended batch as it is written and recorded by the commit, so
//! that a query engine can skip chunks of rows without reading them.
//!
//! Values are kept as [`Scalar`]s while a chunk is being filled and stored
//! in the commit log as JSON; [`TableStatistics`] gives them back as Arrow
//! arrays of the column's type, one element per chunk (the shape
//! DataFusion's pruning asks for).

use std::cmp::Ordering;
use std::ops::Range;
use std::sync::Arc;

use arrow_arith::aggregate;
use arrow_array::cast::AsArray;
use arrow_array::types::{
    Decimal128Type, Decimal256Type, Float16Type, Float32Type, Float64Type, Int16Type, Int32Type,
    Int64Type, Int8Type, UInt16Type, UInt32Type, UInt64Type, UInt8Type,
};
use arrow_array::{
    make_array, Array, ArrayRef, BinaryArray, BooleanArray, Decimal128Array, Decimal256Array,
    Float64Array, Int64Array, StringArray, UInt64Array,
};
use arrow_buffer::i256;
use arrow_schema::{DataType, FieldRef};
use serde_json::Value;

/// Rows per statistics chunk: chunk `i` holds rows `i * CHUNK_ROWS ..
/// (i + 1) * CHUNK_ROWS` (the last one fewer).
pub const CHUNK_ROWS: u64 = 64 * 1024;

/// Strings and binary values longer than this are truncated in
/// statistics, as Parquet truncates them (the minimum to a prefix, the
/// maximum to a prefix with its last byte or character incremented), and
/// marked inexact.
pub const TRUNCATE_BYTES: usize = 64;

/// A statistics value while a chunk is being filled: the physical value
/// of one of the orderable kinds.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Scalar {
    /// Signed integers, dates, times, timestamps, durations, decimals up to 128 bits.
    Int(i128),
    /// Unsigned integers.
    UInt(u64),
    /// Floats (never NaN).
    Float(f64),
    /// Booleans (false < true).
    Bool(bool),
    /// Strings (UTF-8) and binary, compared by bytes.
    Bytes(Vec<u8>),
    /// 256-bit decimals.
    I256(i256),
}

impl Scalar {
    fn cmp(&self, other: &Scalar) -> Ordering {
        match (self, other) {
            (Scalar::Int(a), Scalar::Int(b)) => a.cmp(b),
            (Scalar::UInt(a), Scalar::UInt(b)) => a.cmp(b),
            (Scalar::Float(a), Scalar::Float(b)) => a.total_cmp(b),
            (Scalar::Bool(a), Scalar::Bool(b)) => a.cmp(b),
            (Scalar::Bytes(a), Scalar::Bytes(b)) => a.cmp(b),
            (Scalar::I256(a), Scalar::I256(b)) => a.cmp(b),
            // Values of one column are always of one kind.
            _ => Ordering::Equal,
        }
    }
}

/// A bound of a chunk's values: the value and whether it is one of them
/// (false for a truncated string).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Bound {
    pub value: Scalar,
    pub exact: bool,
}

/// The statistics of some rows of one column.
#[derive(Debug, Clone, PartialEq, Default)]
pub(crate) struct ChunkStat {
    pub nulls: u64,
    pub min: Option<Bound>,
    pub max: Option<Bound>,
}

impl ChunkStat {
    /// Folds the statistics of more rows of the same column into these.
    pub(crate) fn merge(&mut self, other: ChunkStat) {
        self.nulls += other.nulls;
        self.min = pick(self.min.take(), other.min, Ordering::Less);
        self.max = pick(self.max.take(), other.max, Ordering::Greater);
    }
}

/// The bound of `a` and `b` that is `want` of the other (an exact one on a tie).
fn pick(a: Option<Bound>, b: Option<Bound>, want: Ordering) -> Option<Bound> {
    match (a, b) {
        (Some(a), Some(b)) => Some(match a.value.cmp(&b.value) {
            Ordering::Equal => Bound {
                exact: a.exact || b.exact,
                ..a
            },
            o if o == want => a,
            _ => b,
        }),
        (a, None) => a,
        (None, b) => b,
    }
}

/// The kind of statistics a column type has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Int,
    UInt,
    Float,
    Bool,
    Utf8,
    Binary,
    /// Fixed-size binary: never truncated (a truncated value would not
    /// have the type's width).
    FixedBinary,
    I256,
}

/// The statistics kind of values of type `t` (a dictionary's: its
/// values'), `None` for types without an order (nested, intervals, null,
/// unions, run-end encoded).
fn kind(t: &DataType) -> Option<Kind> {
    use DataType::*;
    Some(match t {
        Int8 | Int16 | Int32 | Int64 | Date32 | Date64 | Time32(_) | Time64(_) | Timestamp(..)
        | Duration(_) | Decimal32(..) | Decimal64(..) | Decimal128(..) => Kind::Int,
        UInt8 | UInt16 | UInt32 | UInt64 => Kind::UInt,
        Float16 | Float32 | Float64 => Kind::Float,
        Boolean => Kind::Bool,
        Utf8 | LargeUtf8 | Utf8View => Kind::Utf8,
        Binary | LargeBinary | BinaryView => Kind::Binary,
        FixedSizeBinary(_) => Kind::FixedBinary,
        Decimal256(..) => Kind::I256,
        Dictionary(_, v) => return kind(v),
        _ => return None,
    })
}

/// The type statistics values of a column of type `t` are given in (a
/// dictionary's: its value type), when it has them.
pub(crate) fn value_type(t: &DataType) -> Option<DataType> {
    kind(t)?;
    Some(match t {
        DataType::Dictionary(_, v) => v.as_ref().clone(),
        t => t.clone(),
    })
}

/// The statistics of `array` (rows of one column).
pub(crate) fn compute(array: &dyn Array) -> ChunkStat {
    let nulls = array.logical_null_count() as u64;
    let Some(k) = kind(array.data_type()) else {
        return ChunkStat {
            nulls,
            ..ChunkStat::default()
        };
    };
    if nulls as usize == array.len() {
        return ChunkStat {
            nulls,
            ..ChunkStat::default()
        };
    }
    let (min, max) = match array.as_any_dictionary_opt() {
        Some(d) => match referenced_values(d) {
            Some(values) => min_max(values.as_ref(), k),
            // Unreachable for the orderable value types; no bounds rather than wrong ones.
            None => (None, None),
        },
        None => min_max(array, k),
    };
    ChunkStat { nulls, min, max }
}

/// The dictionary values the rows of `d` refer to, each once: the
/// statistics of a dictionary column are those of its values, found without
/// decoding every row (one pass over the keys, then the distinct values).
fn referenced_values(d: &dyn arrow_array::AnyDictionaryArray) -> Option<ArrayRef> {
    let values = d.values();
    let mut used = vec![false; values.len()];
    let keys = d.normalized_keys();
    let valid_key = |i: usize| d.keys().nulls().is_none_or(|n| n.is_valid(i));
    for (i, &k) in keys.iter().enumerate() {
        if valid_key(i) {
            *used.get_mut(k)? = true;
        }
    }
    let mask = BooleanArray::from(used);
    arrow_select::filter::filter(values.as_ref(), &mask).ok()
}

/// The minimum and maximum non-null values of `a` (never NaN), truncated.
fn min_max(a: &dyn Array, k: Kind) -> (Option<Bound>, Option<Bound>) {
    let exact = |value: Scalar| Bound { value, exact: true };
    let (lo, hi) = match k {
        Kind::Int => match int_min_max(a) {
            Some((lo, hi)) => (Some(Scalar::Int(lo)), Some(Scalar::Int(hi))),
            None => (None, None),
        },
        Kind::UInt => {
            let (lo, hi) = uint_min_max(a).unzip();
            (lo.map(Scalar::UInt), hi.map(Scalar::UInt))
        }
        Kind::Float => {
            let (lo, hi) = float_min_max(a).unzip();
            // As Parquet: a zero minimum is -0.0 and a zero maximum +0.0,
            // so that neither sign of zero is excluded.
            let lo = lo.map(|v| if v == 0.0 { -0.0 } else { v });
            let hi = hi.map(|v| if v == 0.0 { 0.0 } else { v });
            (lo.map(Scalar::Float), hi.map(Scalar::Float))
        }
        Kind::Bool => {
            let b = a.as_boolean();
            (
                aggregate::min_boolean(b).map(Scalar::Bool),
                aggregate::max_boolean(b).map(Scalar::Bool),
            )
        }
        Kind::Utf8 | Kind::Binary | Kind::FixedBinary => {
            let (lo, hi) = bytes_min_max(a);
            let utf8 = k == Kind::Utf8;
            let truncate = k != Kind::FixedBinary;
            return (
                lo.map(|v| truncate_min(v, utf8, truncate)),
                hi.map(|v| truncate_max(v, utf8, truncate)),
            );
        }
        Kind::I256 => {
            let d = a.as_primitive::<Decimal256Type>();
            (
                aggregate::min(d).map(Scalar::I256),
                aggregate::max(d).map(Scalar::I256),
            )
        }
    };
    (lo.map(exact), hi.map(exact))
}

fn int_min_max(a: &dyn Array) -> Option<(i128, i128)> {
    macro_rules! prim {
        ($a:expr, $t:ty) => {{
            let p = $a.as_primitive::<$t>();
            Some((aggregate::min(p)? as i128, aggregate::max(p)? as i128))
        }};
    }
    if let DataType::Decimal128(..) = a.data_type() {
        let d = a.as_primitive::<Decimal128Type>();
        return Some((aggregate::min(d)?, aggregate::max(d)?));
    }
    // Dates, times, timestamps, durations and the small decimals are
    // integers of their width: read as those.
    let width = a.data_type().primitive_width()?;
    let int = match width {
        1 => DataType::Int8,
        2 => DataType::Int16,
        4 => DataType::Int32,
        _ => DataType::Int64,
    };
    let a = if *a.data_type() == int {
        make_array(a.to_data())
    } else {
        make_array(a.to_data().into_builder().data_type(int).build().ok()?)
    };
    match width {
        1 => prim!(a, Int8Type),
        2 => prim!(a, Int16Type),
        4 => prim!(a, Int32Type),
        _ => prim!(a, Int64Type),
    }
}

fn uint_min_max(a: &dyn Array) -> Option<(u64, u64)> {
    macro_rules! prim {
        ($t:ty) => {{
            let p = a.as_primitive::<$t>();
            Some((aggregate::min(p)? as u64, aggregate::max(p)? as u64))
        }};
    }
    match a.data_type() {
        DataType::UInt8 => prim!(UInt8Type),
        DataType::UInt16 => prim!(UInt16Type),
        DataType::UInt32 => prim!(UInt32Type),
        _ => prim!(UInt64Type),
    }
}

/// Minimum and maximum ignoring NaN (as Parquet's statistics do).
fn float_min_max(a: &dyn Array) -> Option<(f64, f64)> {
    // Arrow's kernels (vectorised) order NaN above every number: a NaN
    // minimum means only NaNs, a NaN maximum that some are: then the
    // slower scan that skips them.
    macro_rules! fast {
        ($t:ty) => {{
            let p = a.as_primitive::<$t>();
            let (lo, hi) = (aggregate::min(p)?, aggregate::max(p)?);
            if lo.is_nan() {
                return None;
            }
            if !hi.is_nan() {
                return Some((f64::from(lo), f64::from(hi)));
            }
        }};
    }
    match a.data_type() {
        DataType::Float16 => fast!(Float16Type),
        DataType::Float32 => fast!(Float32Type),
        _ => fast!(Float64Type),
    }
    fn fold(values: impl Iterator<Item = Option<f64>>) -> Option<(f64, f64)> {
        values
            .flatten()
            .filter(|v| !v.is_nan())
            .fold(None, |acc, v| {
                Some(match acc {
                    None => (v, v),
                    Some((lo, hi)) => (lo.min(v), hi.max(v)),
                })
            })
    }
    match a.data_type() {
        DataType::Float16 => fold(
            a.as_primitive::<Float16Type>()
                .iter()
                .map(|v| v.map(f64::from)),
        ),
        DataType::Float32 => fold(
            a.as_primitive::<Float32Type>()
                .iter()
                .map(|v| v.map(f64::from)),
        ),
        _ => fold(a.as_primitive::<Float64Type>().iter()),
    }
}

/// The first 8 bytes of `s`, big-endian and zero-padded: when the keys of
/// two values differ, they order the values; equal keys need the whole
/// values compared.
fn prefix_key(s: &[u8]) -> u64 {
    match s.first_chunk::<8>() {
        Some(p) => u64::from_be_bytes(*p),
        None => {
            let mut b = [0u8; 8];
            b[..s.len()].copy_from_slice(s);
            u64::from_be_bytes(b)
        }
    }
}

/// The smallest and largest non-null values of an offsets-and-bytes
/// array, in one pass comparing 8-byte prefixes (whole values only when a
/// prefix ties with the smallest or largest so far).
fn offsets_min_max<O: arrow_array::OffsetSizeTrait>(
    offsets: &[O],
    values: &[u8],
    nulls: Option<&arrow_buffer::NullBuffer>,
) -> (Option<Vec<u8>>, Option<Vec<u8>>) {
    // (prefix key, value) of the smallest and the largest so far.
    type Extreme<'a> = (u64, &'a [u8]);
    let mut best: Option<(Extreme, Extreme)> = None;
    for (i, w) in offsets.windows(2).enumerate() {
        if nulls.is_some_and(|n| n.is_null(i)) {
            continue;
        }
        let v = &values[w[0].as_usize()..w[1].as_usize()];
        let k = prefix_key(v);
        let Some(((lo_k, lo), (hi_k, hi))) = &mut best else {
            best = Some(((k, v), (k, v)));
            continue;
        };
        // Rarely taken: only a new extreme or a tie of prefixes.
        if k <= *lo_k && (k < *lo_k || v < *lo) {
            (*lo_k, *lo) = (k, v);
        }
        if k >= *hi_k && (k > *hi_k || v > *hi) {
            (*hi_k, *hi) = (k, v);
        }
    }
    best.map(|((_, lo), (_, hi))| (lo.to_vec(), hi.to_vec()))
        .unzip()
}

fn bytes_min_max(a: &dyn Array) -> (Option<Vec<u8>>, Option<Vec<u8>>) {
    fn of<T: arrow_array::types::ByteArrayType>(
        b: &arrow_array::GenericByteArray<T>,
    ) -> (Option<Vec<u8>>, Option<Vec<u8>>) {
        offsets_min_max(b.value_offsets(), b.value_data(), b.nulls())
    }
    let pair =
        |lo: Option<&[u8]>, hi: Option<&[u8]>| (lo.map(<[u8]>::to_vec), hi.map(<[u8]>::to_vec));
    match a.data_type() {
        DataType::Utf8 => of(a.as_string::<i32>()),
        DataType::LargeUtf8 => of(a.as_string::<i64>()),
        DataType::Utf8View => {
            let s = a.as_string_view();
            pair(
                aggregate::min_string_view(s).map(str::as_bytes),
                aggregate::max_string_view(s).map(str::as_bytes),
            )
        }
        DataType::Binary => of(a.as_binary::<i32>()),
        DataType::LargeBinary => of(a.as_binary::<i64>()),
        DataType::BinaryView => {
            let b = a.as_binary_view();
            pair(aggregate::min_binary_view(b), aggregate::max_binary_view(b))
        }
        _ => {
            let b = a.as_fixed_size_binary();
            pair(
                aggregate::min_fixed_size_binary(b),
                aggregate::max_fixed_size_binary(b),
            )
        }
    }
}

/// The longest prefix of `v` of at most [`TRUNCATE_BYTES`] bytes (on a
/// character boundary for UTF-8).
fn prefix_len(v: &[u8], utf8: bool) -> usize {
    let mut n = TRUNCATE_BYTES.min(v.len());
    // UTF-8 continuation bytes are 0b10xx_xxxx.
    while utf8 && n > 0 && n < v.len() && v[n] & 0xC0 == 0x80 {
        n -= 1;
    }
    n
}

/// A lower bound of `v`: itself, or its prefix (inexact).
fn truncate_min(v: Vec<u8>, utf8: bool, truncate: bool) -> Bound {
    if !truncate || v.len() <= TRUNCATE_BYTES {
        return Bound {
            value: Scalar::Bytes(v),
            exact: true,
        };
    }
    let n = prefix_len(&v, utf8);
    Bound {
        value: Scalar::Bytes(v[..n].to_vec()),
        exact: false,
    }
}

/// An upper bound of `v`: itself, or a prefix with its last byte (UTF-8:
/// character) incremented, which sorts after every value starting with
/// the prefix. When no prefix can be incremented, `v` itself.
fn truncate_max(v: Vec<u8>, utf8: bool, truncate: bool) -> Bound {
    let whole = |v: Vec<u8>| Bound {
        value: Scalar::Bytes(v),
        exact: true,
    };
    if !truncate || v.len() <= TRUNCATE_BYTES {
        return whole(v);
    }
    let n = prefix_len(&v, utf8);
    let bumped = if utf8 {
        std::str::from_utf8(&v[..n]).ok().and_then(increment_str)
    } else {
        increment_bytes(&v[..n])
    };
    match bumped {
        Some(b) => Bound {
            value: Scalar::Bytes(b),
            exact: false,
        },
        None => whole(v),
    }
}

fn increment_bytes(p: &[u8]) -> Option<Vec<u8>> {
    let mut out = p.to_vec();
    while let Some(last) = out.pop() {
        if last < 0xFF {
            out.push(last + 1);
            return Some(out);
        }
    }
    None
}

fn increment_str(p: &str) -> Option<Vec<u8>> {
    let mut chars: Vec<char> = p.chars().collect();
    while let Some(c) = chars.pop() {
        let mut next = c as u32 + 1;
        // Skip the surrogates, which are not characters.
        if (0xD800..0xE000).contains(&next) {
            next = 0xE000;
        }
        if let Some(n) = char::from_u32(next) {
            chars.push(n);
            return Some(chars.into_iter().collect::<String>().into_bytes());
        }
    }
    None
}

/// Hex digits of `b`.
fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn unhex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

/// A value as the commit log stores it (docs/FORMAT.md §5.6).
pub(crate) fn scalar_to_json(s: &Scalar, t: &DataType) -> Value {
    match s {
        Scalar::Int(v) => match i64::try_from(*v) {
            Ok(v) => Value::from(v),
            Err(_) => Value::String(v.to_string()),
        },
        Scalar::UInt(v) => Value::from(*v),
        Scalar::Float(v) if v.is_infinite() => {
            Value::String(if *v > 0.0 { "inf" } else { "-inf" }.into())
        }
        Scalar::Float(v) => Value::from(*v),
        Scalar::Bool(v) => Value::Bool(*v),
        Scalar::Bytes(b) => match kind(t) {
            Some(Kind::Utf8) => Value::String(String::from_utf8_lossy(b).into_owned()),
            _ => Value::String(hex(b)),
        },
        Scalar::I256(v) => Value::String(v.to_string()),
    }
}

/// A value of a column of type `t` from the commit log.
pub(crate) fn scalar_from_json(v: &Value, t: &DataType) -> Option<Scalar> {
    Some(match kind(t)? {
        Kind::Int => match v {
            Value::String(s) => Scalar::Int(s.parse().ok()?),
            v => Scalar::Int(v.as_i64()? as i128),
        },
        Kind::UInt => Scalar::UInt(v.as_u64()?),
        Kind::Float => match v {
            Value::String(s) if s == "inf" => Scalar::Float(f64::INFINITY),
            Value::String(s) if s == "-inf" => Scalar::Float(f64::NEG_INFINITY),
            v => Scalar::Float(v.as_f64()?),
        },
        Kind::Bool => Scalar::Bool(v.as_bool()?),
        Kind::Utf8 => Scalar::Bytes(v.as_str()?.as_bytes().to_vec()),
        Kind::Binary | Kind::FixedBinary => Scalar::Bytes(unhex(v.as_str()?)?),
        Kind::I256 => Scalar::I256(i256::from_string(v.as_str()?)?),
    })
}

/// The statistics of one column, one element per chunk.
#[derive(Debug, Clone)]
pub struct ColumnStatistics {
    field: FieldRef,
    null_counts: UInt64Array,
    min: Option<ArrayRef>,
    max: Option<ArrayRef>,
    min_exact: BooleanArray,
    max_exact: BooleanArray,
}

impl ColumnStatistics {
    /// The column's field.
    pub fn field(&self) -> &FieldRef {
        &self.field
    }

    /// Nulls in each chunk; null where they were not recorded (rows
    /// committed before the table had statistics: format v1, or an
    /// earlier v2 writer).
    pub fn null_counts(&self) -> &UInt64Array {
        &self.null_counts
    }

    /// Each chunk's smallest value, as an array of the column's type (a
    /// dictionary column's: its value type); null for chunks with no
    /// non-null value or none recorded. `None` for types without
    /// an order (nested types, intervals, null, unions, run-end encoded).
    /// NaN is never a minimum or maximum; strings and binary values of
    /// more than 64 bytes are truncated ([`ColumnStatistics::min_exact`]).
    pub fn min(&self) -> Option<&ArrayRef> {
        self.min.as_ref()
    }

    /// Each chunk's largest value, as [`ColumnStatistics::min`].
    pub fn max(&self) -> Option<&ArrayRef> {
        self.max.as_ref()
    }

    /// Whether each chunk's minimum is one of its values (false: a
    /// truncated string, a lower bound only).
    pub fn min_exact(&self) -> &BooleanArray {
        &self.min_exact
    }

    /// Whether each chunk's maximum is one of its values (false: an upper bound only).
    pub fn max_exact(&self) -> &BooleanArray {
        &self.max_exact
    }
}

/// Per-chunk statistics of a table's columns, for skipping chunks of rows
/// ([`crate::Table::statistics`]).
///
/// ```
/// # fn main() -> mmarrow::Result<()> {
/// # let dir = tempfile::tempdir().unwrap();
/// use std::sync::Arc;
/// use arrow_array::{cast::AsArray, types::Int64Type, Int64Array, RecordBatch};
/// let batch = RecordBatch::try_from_iter([
///     ("x", Arc::new(Int64Array::from_iter_values(0..100_000)) as _),
/// ])?;
/// let mut w = mmarrow::TableWriter::create(dir.path().join("t"), batch.schema())?;
/// w.append(&batch)?;
/// let stats = w.finish()?.statistics()?;
/// assert_eq!(stats.num_chunks(), 2); // 65,536 rows, then 34,464
/// let x = stats.column(0);
/// let max = x.max().unwrap().as_primitive::<Int64Type>();
/// assert_eq!(max.values(), &[65_535, 99_999]);
/// assert_eq!(x.null_counts().values(), &[0, 0]);
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct TableStatistics {
    chunk_rows: u64,
    rows: u64,
    columns: Vec<ColumnStatistics>,
}

impl TableStatistics {
    /// Rows per chunk (every chunk but the last holds this many).
    pub fn chunk_rows(&self) -> u64 {
        self.chunk_rows
    }

    /// Number of chunks.
    pub fn num_chunks(&self) -> usize {
        self.rows.div_ceil(self.chunk_rows) as usize
    }

    /// The rows of chunk `i`.
    pub fn chunk_range(&self, i: usize) -> Range<u64> {
        let start = i as u64 * self.chunk_rows;
        start..(start + self.chunk_rows).min(self.rows)
    }

    /// Rows in each chunk.
    pub fn row_counts(&self) -> UInt64Array {
        (0..self.num_chunks())
            .map(|i| {
                let r = self.chunk_range(i);
                r.end - r.start
            })
            .collect::<Vec<_>>()
            .into()
    }

    /// The columns' statistics, in the opened table's schema order.
    pub fn columns(&self) -> &[ColumnStatistics] {
        &self.columns
    }

    /// The statistics of column `i` of the opened table's schema.
    ///
    /// # Panics
    /// When `i` is not a column of the schema.
    pub fn column(&self, i: usize) -> &ColumnStatistics {
        &self.columns[i]
    }

    /// The statistics of the column named `name`.
    pub fn column_by_name(&self, name: &str) -> Option<&ColumnStatistics> {
        self.columns.iter().find(|c| c.field.name() == name)
    }
}

/// Builds [`TableStatistics`] from the merged chunk statistics of each
/// column (`None`: not recorded for that chunk).
pub(crate) fn build(
    chunk_rows: u64,
    rows: u64,
    fields: &[FieldRef],
    chunks: &[Vec<Option<ChunkStat>>],
) -> TableStatistics {
    let columns = fields
        .iter()
        .zip(chunks)
        .map(|(f, per_chunk)| {
            let null_counts: UInt64Array = per_chunk
                .iter()
                .map(|c| c.as_ref().map(|c| c.nulls))
                .collect();
            let bound = |c: &Option<ChunkStat>, max: bool| {
                c.as_ref()
                    .and_then(|c| if max { c.max.clone() } else { c.min.clone() })
            };
            let mins: Vec<Option<Bound>> = per_chunk.iter().map(|c| bound(c, false)).collect();
            let maxs: Vec<Option<Bound>> = per_chunk.iter().map(|c| bound(c, true)).collect();
            let exact = |b: &[Option<Bound>]| -> BooleanArray {
                b.iter()
                    .map(|b| Some(b.as_ref().is_some_and(|b| b.exact)))
                    .collect()
            };
            let (min, max) = match value_type(f.data_type()) {
                Some(t) => (to_array(&mins, &t), to_array(&maxs, &t)),
                None => (None, None),
            };
            ColumnStatistics {
                field: f.clone(),
                null_counts,
                min,
                max,
                min_exact: exact(&mins),
                max_exact: exact(&maxs),
            }
        })
        .collect();
    TableStatistics {
        chunk_rows,
        rows,
        columns,
    }
}

/// An array of type `t` holding `values` (null where `None`).
fn to_array(values: &[Option<Bound>], t: &DataType) -> Option<ArrayRef> {
    fn get(b: &Option<Bound>) -> Option<&Scalar> {
        b.as_ref().map(|b| &b.value)
    }
    let array: ArrayRef = match kind(t)? {
        Kind::Int => match t {
            DataType::Decimal128(p, s) => Arc::new(
                values
                    .iter()
                    .map(|b| match get(b) {
                        Some(Scalar::Int(v)) => Some(*v),
                        _ => None,
                    })
                    .collect::<Decimal128Array>()
                    .with_precision_and_scale(*p, *s)
                    .ok()?,
            ),
            _ => {
                let ints: Int64Array = values
                    .iter()
                    .map(|b| match get(b) {
                        Some(Scalar::Int(v)) => i64::try_from(*v).ok(),
                        _ => None,
                    })
                    .collect();
                reinterpret(Arc::new(ints), t)?
            }
        },
        Kind::UInt => {
            let u: UInt64Array = values
                .iter()
                .map(|b| match get(b) {
                    Some(Scalar::UInt(v)) => Some(*v),
                    _ => None,
                })
                .collect();
            arrow_cast::cast(&u, t).ok()?
        }
        Kind::Float => {
            let f: Float64Array = values
                .iter()
                .map(|b| match get(b) {
                    Some(Scalar::Float(v)) => Some(*v),
                    _ => None,
                })
                .collect();
            arrow_cast::cast(&f, t).ok()?
        }
        Kind::Bool => Arc::new(
            values
                .iter()
                .map(|b| match get(b) {
                    Some(Scalar::Bool(v)) => Some(*v),
                    _ => None,
                })
                .collect::<BooleanArray>(),
        ),
        Kind::Utf8 => {
            let s: StringArray = values
                .iter()
                .map(|b| match get(b) {
                    Some(Scalar::Bytes(v)) => std::str::from_utf8(v).ok(),
                    _ => None,
                })
                .collect();
            arrow_cast::cast(&s, t).ok()?
        }
        Kind::Binary | Kind::FixedBinary => {
            let b: BinaryArray = values
                .iter()
                .map(|b| match get(b) {
                    Some(Scalar::Bytes(v)) => Some(v.as_slice()),
                    _ => None,
                })
                .collect();
            arrow_cast::cast(&b, t).ok()?
        }
        Kind::I256 => {
            let DataType::Decimal256(p, s) = t else {
                return None;
            };
            Arc::new(
                values
                    .iter()
                    .map(|b| match get(b) {
                        Some(Scalar::I256(v)) => Some(*v),
                        _ => None,
                    })
                    .collect::<Decimal256Array>()
                    .with_precision_and_scale(*p, *s)
                    .ok()?,
            )
        }
    };
    Some(array)
}

/// `ints` (i64) as an array of the fixed-width integer-like type `t`
/// (narrowed to its width, then relabelled: dates, times, timestamps,
/// durations, small decimals).
fn reinterpret(ints: ArrayRef, t: &DataType) -> Option<ArrayRef> {
    let width = t.primitive_width()?;
    let int = match width {
        1 => DataType::Int8,
        2 => DataType::Int16,
        4 => DataType::Int32,
        _ => DataType::Int64,
    };
    let narrowed = arrow_cast::cast(&ints, &int).ok()?;
    if *t == int {
        return Some(narrowed);
    }
    let data = narrowed
        .to_data()
        .into_builder()
        .data_type(t.clone())
        .build()
        .ok()?;
    Some(make_array(data))
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_array::{Float32Array, StringArray};

    #[test]
    fn floats_ignore_nan_and_widen_zeros() {
        let a = Float32Array::from(vec![Some(f32::NAN), Some(0.0), None, Some(-2.5)]);
        let s = compute(&a);
        assert_eq!(s.nulls, 1);
        assert_eq!(s.min.unwrap().value, Scalar::Float(-2.5));
        assert_eq!(s.max.unwrap().value, Scalar::Float(0.0));
        let all_nan = compute(&Float32Array::from(vec![f32::NAN]));
        assert_eq!((all_nan.min, all_nan.max), (None, None));
    }

    #[test]
    fn long_strings_are_bounded_not_exact() {
        let long_lo = "a".repeat(100);
        let long_hi = format!("z{}\u{10FFFF}\u{10FFFF}", "é".repeat(40));
        let a = StringArray::from(vec![long_lo.as_str(), long_hi.as_str()]);
        let s = compute(&a);
        let (lo, hi) = (s.min.unwrap(), s.max.unwrap());
        assert!(!lo.exact && !hi.exact);
        let (Scalar::Bytes(lo), Scalar::Bytes(hi)) = (lo.value, hi.value) else {
            panic!()
        };
        assert!(lo.len() <= TRUNCATE_BYTES && long_lo.as_bytes().starts_with(&lo));
        assert!(hi.len() <= TRUNCATE_BYTES && hi.as_slice() > long_hi.as_bytes());
        assert!(std::str::from_utf8(&hi).is_ok());
    }

    #[test]
    fn a_max_of_all_ff_bytes_stays_whole() {
        let v = vec![0xFFu8; 100];
        let b = truncate_max(v.clone(), false, true);
        assert_eq!(
            b,
            Bound {
                value: Scalar::Bytes(v),
                exact: true
            }
        );
        assert_eq!(increment_bytes(&[1, 0xFF]), Some(vec![2]));
    }

    #[test]
    fn prefix_keys_order_like_the_bytes() {
        let words: Vec<&[u8]> = vec![
            b"",
            b"\0",
            b"a",
            b"a\0",
            b"a\0\0\0\0\0\0\0\0",
            b"abcdefgh",
            b"abcdefghi",
            b"abcdefgg\xff",
            b"b",
            b"\xff\xff",
        ];
        for x in &words {
            for y in &words {
                let (kx, ky) = (prefix_key(x), prefix_key(y));
                if kx != ky {
                    assert_eq!(kx < ky, x < y, "{x:?} {y:?}");
                }
            }
        }
        let a = arrow_array::BinaryArray::from(
            words.iter().rev().copied().map(Some).collect::<Vec<_>>(),
        );
        let (lo, hi) = bytes_min_max(&a);
        assert_eq!(
            (lo.unwrap(), hi.unwrap()),
            (b"".to_vec(), b"\xff\xff".to_vec())
        );
        let s = StringArray::from(vec![Some("b"), None, Some("abcdefgh1"), Some("abcdefgh0")]);
        let (lo, hi) = bytes_min_max(&s.slice(1, 3));
        assert_eq!(
            (lo.unwrap(), hi.unwrap()),
            (b"abcdefgh0".to_vec(), b"abcdefgh1".to_vec())
        );
    }

    #[test]
    fn a_dictionary_has_the_extremes_of_the_values_its_rows_use() {
        use arrow_array::types::Int8Type;
        let values = StringArray::from(vec!["a", "m", "z", "q"]);
        let keys = arrow_array::Int8Array::from(vec![Some(1), None, Some(3), Some(1)]);
        let d = arrow_array::DictionaryArray::<Int8Type>::try_new(keys, Arc::new(values)).unwrap();
        let s = compute(&d);
        assert_eq!(s.nulls, 1);
        assert_eq!(s.min.unwrap().value, Scalar::Bytes(b"m".to_vec()));
        assert_eq!(s.max.unwrap().value, Scalar::Bytes(b"q".to_vec()));
        // A slice uses only its own rows' keys.
        let s = compute(&d.slice(2, 1));
        assert_eq!(s.min.unwrap().value, Scalar::Bytes(b"q".to_vec()));
    }

    #[test]
    fn merge_keeps_the_extremes() {
        let b = |v: i128| {
            Some(Bound {
                value: Scalar::Int(v),
                exact: true,
            })
        };
        let mut s = ChunkStat {
            nulls: 1,
            min: b(3),
            max: b(5),
        };
        s.merge(ChunkStat {
            nulls: 2,
            min: b(1),
            max: b(4),
        });
        assert_eq!(
            s,
            ChunkStat {
                nulls: 3,
                min: b(1),
                max: b(5)
            }
        );
    }

    #[test]
    fn json_round_trips_every_kind() {
        let cases = [
            (Scalar::Int(-5), DataType::Int64),
            (Scalar::Int(i128::MAX), DataType::Decimal128(38, 0)),
            (Scalar::UInt(u64::MAX), DataType::UInt64),
            (Scalar::Float(f64::NEG_INFINITY), DataType::Float64),
            (Scalar::Float(1.5), DataType::Float32),
            (Scalar::Bool(true), DataType::Boolean),
            (Scalar::Bytes(b"\xff\x00".to_vec()), DataType::Binary),
            (Scalar::Bytes("é".into()), DataType::Utf8),
            (Scalar::I256(i256::MIN), DataType::Decimal256(76, 0)),
        ];
        for (s, t) in cases {
            assert_eq!(
                scalar_from_json(&scalar_to_json(&s, &t), &t),
                Some(s),
                "{t}"
            );
        }
    }
}
