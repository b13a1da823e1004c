//! Element types: numpy typestrs and friendly names, byte order, item size,
//! and the Arrow type each one maps to without copying.
//!
//! Over 500 lines as one cohesive thing: the dtype grammar (numpy typestrs,
//! type codes, names) and its two mappings, to Arrow and back
//! ([`Dtype::from_arrow`]), are one table read both ways.
//!
//! | numpy | canonical typestr | Arrow |
//! |---|---|---|
//! | `bool` | `|b1` | `Int8` with the canonical `arrow.bool8` extension (or `Boolean` by an explicit copy) |
//! | `int8`…`int64`, `uint8`…`uint64` | `|i1` `<i2` `<i4` `<i8`, `|u1`… | `Int8`…`UInt64` |
//! | `float16`, `float32`, `float64` | `<f2` `<f4` `<f8` | `Float16` `Float32` `Float64` |
//! | `complex64`, `complex128` | `<c8` `<c16` | `FixedSizeList<Float32/Float64>[2]` (real, imaginary) |
//! | `datetime64[s|ms|us|ns]` | `<M8[ns]`… | `Timestamp(unit)` without time zone |
//! | `timedelta64[s|ms|us|ns]` | `<m8[ns]`… | `Duration(unit)` |
//! | `S<n>`, `V<n>` | `|S16`, `|V16` | `FixedSizeBinary(n)` |
//!
//! Not supported, with a reason: object (`O`), UCS-4 text (`U`), structured
//! dtypes, long double, `datetime64` with calendar units (`D`, `M`, `Y`...)
//! or without a unit. numpy's `NaT` is `i64::MIN`, which Arrow shows as a
//! very old timestamp, not as null.

use std::fmt;
use std::str::FromStr;

use arrow_schema::{DataType, Field, TimeUnit};

use crate::error::{Error, ErrorKind, Result};

/// Byte order of multi-byte elements.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ByteOrder {
    /// Little-endian (`<`): what Arrow uses, zero-copy on this platform.
    Little,
    /// Big-endian (`>`): readable only through an explicit byte-swapping copy.
    Big,
    /// One-byte and byte-string types (`|`), for which order does not apply.
    NotApplicable,
}

/// The family of an element type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Kind {
    /// numpy `bool`: one byte per value, 0 or 1.
    Bool,
    /// Signed integer.
    Int,
    /// Unsigned integer.
    UInt,
    /// IEEE float (16, 32 or 64 bits).
    Float,
    /// Complex: two floats (real, imaginary).
    Complex,
    /// `datetime64` with a unit: i64 counts since the Unix epoch.
    Datetime(TimeUnit),
    /// `timedelta64` with a unit: i64 counts.
    Timedelta(TimeUnit),
    /// `S<n>`: fixed-width byte strings (zero-padded).
    Bytes,
    /// `V<n>`: fixed-width raw bytes.
    Void,
}

/// An element type: kind, item size in bytes and byte order.
///
/// Parse numpy typestrs (`<f4`, `|u1`, `<M8[ns]`, `|S16`), single-character
/// codes (`f`, `d`, `?`) and friendly names (`float32`, `uint8`, `bool`,
/// `complex64`, `datetime64[ms]`, `S16`). The canonical stored form is the
/// typestr with an explicit byte order, which [`Dtype::typestr`] returns.
///
/// ```
/// use mmarrow::Dtype;
/// let d = Dtype::parse("float32").unwrap();
/// assert_eq!(d.typestr(), "<f4");
/// assert_eq!(d.itemsize(), 4);
/// assert_eq!(Dtype::parse("<M8[ns]").unwrap().typestr(), "<M8[ns]");
/// assert!(Dtype::parse("O").is_err());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Dtype {
    kind: Kind,
    itemsize: usize,
    byte_order: ByteOrder,
}

impl Dtype {
    /// Builds a dtype from its parts, checking that the size fits the kind.
    ///
    /// # Errors
    /// [`ErrorKind::InvalidDtype`] when the size is not one the kind has.
    pub fn new(kind: Kind, itemsize: usize, byte_order: ByteOrder) -> Result<Self> {
        let ok = match kind {
            Kind::Bool => itemsize == 1,
            Kind::Int | Kind::UInt => matches!(itemsize, 1 | 2 | 4 | 8),
            Kind::Float => matches!(itemsize, 2 | 4 | 8),
            Kind::Complex => matches!(itemsize, 8 | 16),
            Kind::Datetime(_) | Kind::Timedelta(_) => itemsize == 8,
            Kind::Bytes | Kind::Void => itemsize >= 1 && itemsize <= i32::MAX as usize,
        };
        if !ok {
            return Err(Error::new(ErrorKind::InvalidDtype {
                dtype: format!("{kind:?} of {itemsize} bytes"),
                reason: "no such size for this kind".into(),
            }));
        }
        let byte_order = if itemsize == 1 || matches!(kind, Kind::Bytes | Kind::Void) {
            ByteOrder::NotApplicable
        } else if byte_order == ByteOrder::NotApplicable {
            ByteOrder::Little
        } else {
            byte_order
        };
        Ok(Dtype {
            kind,
            itemsize,
            byte_order,
        })
    }

    /// Parses a numpy typestr, type code or friendly name.
    ///
    /// # Errors
    /// [`ErrorKind::InvalidDtype`] for text that is not a dtype,
    /// [`ErrorKind::UnsupportedDtype`] for a real numpy dtype that has no
    /// zero-copy Arrow form (object, unicode, structured...).
    pub fn parse(text: &str) -> Result<Self> {
        let s = text.trim();
        if s.is_empty() {
            return Err(invalid(text, "empty"));
        }
        if s.starts_with('[') || s.starts_with('{') || s.contains(',') {
            return Err(unsupported(
                text,
                "structured dtypes are not supported; map each field as its own array",
            ));
        }
        if let Some(d) = friendly(s, text)? {
            return Ok(d);
        }
        let (order, rest) = match s.as_bytes()[0] {
            b'<' => (Some(ByteOrder::Little), &s[1..]),
            b'>' | b'!' => (Some(ByteOrder::Big), &s[1..]),
            b'=' => (Some(native()), &s[1..]),
            b'|' => (Some(ByteOrder::NotApplicable), &s[1..]),
            _ => (None, s),
        };
        let mut chars = rest.chars();
        let code = chars.next().ok_or_else(|| invalid(text, "no type code"))?;
        let tail = chars.as_str();
        if tail.is_empty() {
            if let Some(d) = single_char(code, text)? {
                return Ok(with_order(d, order));
            }
        }
        let (digits, unit) = match tail.find('[') {
            Some(i) => {
                let u = tail[i..]
                    .strip_prefix('[')
                    .and_then(|u| u.strip_suffix(']'))
                    .ok_or_else(|| invalid(text, "unit must be written as [unit]"))?;
                (&tail[..i], Some(u))
            }
            None => (tail, None),
        };
        let size: Option<usize> = if digits.is_empty() {
            None
        } else {
            Some(
                digits
                    .parse()
                    .map_err(|_| invalid(text, "item size is not a number"))?,
            )
        };
        let kind = match code {
            'b' => Kind::Bool,
            'i' => Kind::Int,
            'u' => Kind::UInt,
            'f' => Kind::Float,
            'c' => Kind::Complex,
            'S' | 'a' => Kind::Bytes,
            'V' => Kind::Void,
            'M' | 'm' => {
                if size.is_some_and(|n| n != 8) {
                    return Err(invalid(text, "datetime64/timedelta64 are 8 bytes"));
                }
                let unit = time_unit(unit, text)?;
                let k = if code == 'M' {
                    Kind::Datetime(unit)
                } else {
                    Kind::Timedelta(unit)
                };
                return Dtype::new(k, 8, order.unwrap_or(native()));
            }
            'O' => {
                return Err(unsupported(
                    text,
                    "object arrays hold Python object pointers, not data, and can never be mapped",
                ))
            }
            'U' => {
                return Err(unsupported(
                    text,
                    "UCS-4 text has no zero-copy Arrow type (Arrow strings are UTF-8 with offsets); store bytes (S<n>) instead",
                ))
            }
            _ => return Err(invalid(text, "unknown type code")),
        };
        if unit.is_some() {
            return Err(invalid(text, "only datetime64/timedelta64 take a unit"));
        }
        let size = size.ok_or_else(|| invalid(text, "item size missing"))?;
        if kind == Kind::Float && size > 8 || kind == Kind::Complex && size > 16 {
            return Err(unsupported(
                text,
                "extended-precision floats have no Arrow type",
            ));
        }
        if matches!(kind, Kind::Bytes | Kind::Void) && size == 0 {
            return Err(invalid(text, "byte strings need a size of at least 1"));
        }
        Dtype::new(kind, size, order.unwrap_or(native())).map_err(|_| {
            invalid(
                text,
                &format!("{size} is not a valid item size for this type code"),
            )
        })
    }

    /// The canonical numpy typestr with explicit byte order: `<f4`, `|u1`,
    /// `<M8[ns]`, `|S16`. This is the form stored in sidecars.
    pub fn typestr(&self) -> String {
        let order = match self.byte_order {
            ByteOrder::Little => '<',
            ByteOrder::Big => '>',
            ByteOrder::NotApplicable => '|',
        };
        let code = match self.kind {
            Kind::Bool => 'b',
            Kind::Int => 'i',
            Kind::UInt => 'u',
            Kind::Float => 'f',
            Kind::Complex => 'c',
            Kind::Datetime(_) => 'M',
            Kind::Timedelta(_) => 'm',
            Kind::Bytes => 'S',
            Kind::Void => 'V',
        };
        match self.kind {
            Kind::Datetime(u) | Kind::Timedelta(u) => {
                format!("{order}{code}8[{}]", unit_name(u))
            }
            _ => format!("{order}{code}{}", self.itemsize),
        }
    }

    /// numpy's name for the type: `float32`, `datetime64[ns]`, `S16`.
    pub fn name(&self) -> String {
        let bits = self.itemsize * 8;
        match self.kind {
            Kind::Bool => "bool".into(),
            Kind::Int => format!("int{bits}"),
            Kind::UInt => format!("uint{bits}"),
            Kind::Float => format!("float{bits}"),
            Kind::Complex => format!("complex{bits}"),
            Kind::Datetime(u) => format!("datetime64[{}]", unit_name(u)),
            Kind::Timedelta(u) => format!("timedelta64[{}]", unit_name(u)),
            Kind::Bytes => format!("S{}", self.itemsize),
            Kind::Void => format!("V{}", self.itemsize),
        }
    }

    /// The kind of element.
    pub fn kind(&self) -> Kind {
        self.kind
    }

    /// Bytes per element.
    pub fn itemsize(&self) -> usize {
        self.itemsize
    }

    /// Byte order of the stored data.
    pub fn byte_order(&self) -> ByteOrder {
        self.byte_order
    }

    /// True when the stored bytes are what Arrow expects on this platform,
    /// so no byte swap is needed.
    pub fn is_native(&self) -> bool {
        self.byte_order != ByteOrder::Big
    }

    /// The same type in native (little-endian) byte order.
    pub fn to_native(&self) -> Dtype {
        let mut d = *self;
        if d.byte_order == ByteOrder::Big {
            d.byte_order = ByteOrder::Little;
        }
        d
    }

    /// Alignment in bytes that Arrow's typed buffers require for this type.
    pub fn align(&self) -> usize {
        match self.kind {
            Kind::Complex => self.itemsize / 2,
            Kind::Bytes | Kind::Void | Kind::Bool => 1,
            _ => self.itemsize,
        }
    }

    /// Size of one byte-swap unit: the item size, or half of it for complex.
    pub(crate) fn swap_unit(&self) -> usize {
        match self.kind {
            Kind::Bytes | Kind::Void => 1,
            _ => self.align(),
        }
    }

    /// The Arrow type of one element (see the module table). For `bool` this
    /// is the `Int8` storage of `arrow.bool8`; the field carrying the
    /// extension name comes from [`Dtype::arrow_field`].
    pub fn arrow_type(&self) -> DataType {
        match (self.kind, self.itemsize) {
            (Kind::Bool, _) => DataType::Int8,
            (Kind::Int, 1) => DataType::Int8,
            (Kind::Int, 2) => DataType::Int16,
            (Kind::Int, 4) => DataType::Int32,
            (Kind::Int, _) => DataType::Int64,
            (Kind::UInt, 1) => DataType::UInt8,
            (Kind::UInt, 2) => DataType::UInt16,
            (Kind::UInt, 4) => DataType::UInt32,
            (Kind::UInt, _) => DataType::UInt64,
            (Kind::Float, 2) => DataType::Float16,
            (Kind::Float, 4) => DataType::Float32,
            (Kind::Float, _) => DataType::Float64,
            (Kind::Complex, n) => DataType::FixedSizeList(
                Field::new(
                    "item",
                    if n == 8 {
                        DataType::Float32
                    } else {
                        DataType::Float64
                    },
                    true,
                )
                .into(),
                2,
            ),
            (Kind::Datetime(u), _) => DataType::Timestamp(u, None),
            (Kind::Timedelta(u), _) => DataType::Duration(u),
            (Kind::Bytes | Kind::Void, n) => DataType::FixedSizeBinary(n as i32),
        }
    }

    /// An Arrow field named `name` holding one element per row, with the
    /// `arrow.bool8` extension metadata for `bool`. Fields are declared
    /// nullable (the data has no nulls) because pyarrow restores extension
    /// types from a file's schema only for nullable fields.
    pub fn arrow_field(&self, name: &str) -> Field {
        let f = Field::new(name, self.arrow_type(), true);
        if self.kind == Kind::Bool {
            f.with_metadata(
                [
                    (EXTENSION_NAME_KEY.to_string(), "arrow.bool8".to_string()),
                    (EXTENSION_METADATA_KEY.to_string(), String::new()),
                ]
                .into(),
            )
        } else {
            f
        }
    }

    /// The dtype whose elements store the values of the Arrow type `t`: the
    /// inverse of [`Dtype::arrow_type`] for one value, and the only mapping
    /// from Arrow types to dtypes in mmarrow. `None` for types with no
    /// fixed-width numpy storage (strings, lists, Arrow's bit-packed
    /// `Boolean`...).
    ///
    /// A numpy dtype records no time zone: `Timestamp(unit, tz)` maps to
    /// `datetime64[unit]` whatever `tz`, so a caller that must not drop a
    /// time zone checks it. `FixedSizeBinary(n)` maps to `S<n>`.
    ///
    /// ```
    /// use arrow_schema::{DataType, TimeUnit};
    /// use mmarrow::Dtype;
    /// let d = Dtype::from_arrow(&DataType::Float32).unwrap();
    /// assert_eq!(d.typestr(), "<f4");
    /// assert_eq!(d.arrow_type(), DataType::Float32);
    /// let t = DataType::Timestamp(TimeUnit::Nanosecond, None);
    /// assert_eq!(Dtype::from_arrow(&t).unwrap().typestr(), "<M8[ns]");
    /// assert_eq!(Dtype::from_arrow(&DataType::FixedSizeBinary(16)).unwrap().typestr(), "|S16");
    /// assert_eq!(Dtype::from_arrow(&DataType::Utf8), None);
    /// ```
    pub fn from_arrow(t: &DataType) -> Option<Dtype> {
        let (kind, itemsize) = match t {
            DataType::Int8 => (Kind::Int, 1),
            DataType::Int16 => (Kind::Int, 2),
            DataType::Int32 => (Kind::Int, 4),
            DataType::Int64 => (Kind::Int, 8),
            DataType::UInt8 => (Kind::UInt, 1),
            DataType::UInt16 => (Kind::UInt, 2),
            DataType::UInt32 => (Kind::UInt, 4),
            DataType::UInt64 => (Kind::UInt, 8),
            DataType::Float16 => (Kind::Float, 2),
            DataType::Float32 => (Kind::Float, 4),
            DataType::Float64 => (Kind::Float, 8),
            DataType::Timestamp(u, _) => (Kind::Datetime(*u), 8),
            DataType::Duration(u) => (Kind::Timedelta(*u), 8),
            DataType::FixedSizeBinary(n) => (Kind::Bytes, usize::try_from(*n).ok()?),
            _ => return None,
        };
        Dtype::new(kind, itemsize, ByteOrder::Little).ok()
    }

    /// The primitive type of the Arrow buffer's values: the float of a
    /// complex, otherwise [`Dtype::arrow_type`].
    pub(crate) fn arrow_value_type(&self) -> DataType {
        match self.arrow_type() {
            DataType::FixedSizeList(f, _) => f.data_type().clone(),
            t => t,
        }
    }
}

mod sealed {
    pub trait Sealed {}
}

/// A Rust type that can view an array's elements in place: the plain
/// numeric types, every bit pattern of which is a valid value.
///
/// `f32` views `float32` (and the components of `complex64`), `i64` views
/// `int64`, `datetime64` and `timedelta64`, `u8` views any one-byte type and
/// byte strings, and so on.
pub trait Element: arrow_buffer::ArrowNativeType + sealed::Sealed {
    /// True when this type can view elements of `dtype`.
    fn accepts(dtype: &Dtype) -> bool;
    /// The name shown in errors.
    const NAME: &'static str;
}

macro_rules! element {
    ($t:ty, $name:literal, |$d:ident| $accepts:expr) => {
        impl sealed::Sealed for $t {}
        impl Element for $t {
            fn accepts($d: &Dtype) -> bool {
                $accepts
            }
            const NAME: &'static str = $name;
        }
    };
}

element!(u8, "u8", |d| d.align() == 1 || d.itemsize == 1);
element!(i8, "i8", |d| d.itemsize == 1
    && matches!(d.kind, Kind::Int | Kind::Bool));
element!(i16, "i16", |d| d.kind == Kind::Int && d.itemsize == 2);
element!(u16, "u16", |d| d.kind == Kind::UInt && d.itemsize == 2);
element!(i32, "i32", |d| d.kind == Kind::Int && d.itemsize == 4);
element!(u32, "u32", |d| d.kind == Kind::UInt && d.itemsize == 4);
element!(i64, "i64", |d| matches!(
    d.kind,
    Kind::Int | Kind::Datetime(_) | Kind::Timedelta(_)
) && d.itemsize == 8);
element!(u64, "u64", |d| d.kind == Kind::UInt && d.itemsize == 8);
element!(half::f16, "f16", |d| d.kind == Kind::Float
    && d.itemsize == 2);
element!(f32, "f32", |d| matches!(
    (d.kind, d.itemsize),
    (Kind::Float, 4) | (Kind::Complex, 8)
));
element!(f64, "f64", |d| matches!(
    (d.kind, d.itemsize),
    (Kind::Float, 8) | (Kind::Complex, 16)
));

/// Field metadata key naming an Arrow extension type.
pub const EXTENSION_NAME_KEY: &str = "ARROW:extension:name";
/// Field metadata key holding an Arrow extension type's serialized metadata.
pub const EXTENSION_METADATA_KEY: &str = "ARROW:extension:metadata";

impl fmt::Display for Dtype {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.typestr())
    }
}

impl FromStr for Dtype {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        Dtype::parse(s)
    }
}

fn native() -> ByteOrder {
    if cfg!(target_endian = "little") {
        ByteOrder::Little
    } else {
        ByteOrder::Big
    }
}

fn with_order(d: Dtype, order: Option<ByteOrder>) -> Dtype {
    match order {
        Some(o) if d.byte_order != ByteOrder::NotApplicable && o != ByteOrder::NotApplicable => {
            Dtype { byte_order: o, ..d }
        }
        _ => d,
    }
}

fn invalid(text: &str, reason: &str) -> Error {
    Error::new(ErrorKind::InvalidDtype {
        dtype: text.to_string(),
        reason: reason.to_string(),
    })
}

fn unsupported(text: &str, reason: &str) -> Error {
    Error::new(ErrorKind::UnsupportedDtype {
        dtype: text.to_string(),
        reason: reason.to_string(),
    })
}

pub(crate) fn unit_name(u: TimeUnit) -> &'static str {
    match u {
        TimeUnit::Second => "s",
        TimeUnit::Millisecond => "ms",
        TimeUnit::Microsecond => "us",
        TimeUnit::Nanosecond => "ns",
    }
}

fn time_unit(unit: Option<&str>, text: &str) -> Result<TimeUnit> {
    match unit {
        Some("s") => Ok(TimeUnit::Second),
        Some("ms") => Ok(TimeUnit::Millisecond),
        Some("us") | Some("μs") => Ok(TimeUnit::Microsecond),
        Some("ns") => Ok(TimeUnit::Nanosecond),
        None | Some("generic") => Err(unsupported(
            text,
            "datetime64/timedelta64 without a unit have no Arrow type; give one of s, ms, us, ns",
        )),
        Some("Y" | "M" | "W" | "D" | "h" | "m" | "ps" | "fs" | "as") => Err(unsupported(
            text,
            "only the units s, ms, us and ns map to Arrow timestamps and durations without a copy",
        )),
        Some(_) => Err(invalid(text, "unknown time unit")),
    }
}

/// numpy's one-character type codes (`np.dtype('f')`), as on 64-bit Linux.
fn single_char(code: char, text: &str) -> Result<Option<Dtype>> {
    let (kind, size) = match code {
        '?' => (Kind::Bool, 1),
        'b' => (Kind::Int, 1),
        'B' => (Kind::UInt, 1),
        'h' => (Kind::Int, 2),
        'H' => (Kind::UInt, 2),
        'i' => (Kind::Int, 4),
        'I' => (Kind::UInt, 4),
        'l' | 'q' | 'p' => (Kind::Int, 8),
        'L' | 'Q' | 'P' => (Kind::UInt, 8),
        'e' => (Kind::Float, 2),
        'f' => (Kind::Float, 4),
        'd' => (Kind::Float, 8),
        'F' => (Kind::Complex, 8),
        'D' => (Kind::Complex, 16),
        'g' | 'G' => {
            return Err(unsupported(
                text,
                "extended-precision floats have no Arrow type",
            ))
        }
        _ => return Ok(None),
    };
    Dtype::new(kind, size, native()).map(Some)
}

/// numpy's type names (`np.dtype('float32')`), matched without regard to case.
fn friendly(s: &str, text: &str) -> Result<Option<Dtype>> {
    let lower = s.to_ascii_lowercase();
    let (kind, size) = match lower.as_str() {
        "bool" | "bool_" | "bool8" => (Kind::Bool, 1),
        "int8" | "byte" => (Kind::Int, 1),
        "int16" | "short" => (Kind::Int, 2),
        "int32" | "intc" => (Kind::Int, 4),
        "int64" | "int" | "long" | "longlong" | "intp" => (Kind::Int, 8),
        "uint8" | "ubyte" => (Kind::UInt, 1),
        "uint16" | "ushort" => (Kind::UInt, 2),
        "uint32" | "uintc" => (Kind::UInt, 4),
        "uint64" | "uint" | "ulong" | "ulonglong" | "uintp" => (Kind::UInt, 8),
        "float16" | "half" => (Kind::Float, 2),
        "float32" | "single" => (Kind::Float, 4),
        "float64" | "double" | "float" => (Kind::Float, 8),
        "complex64" | "csingle" => (Kind::Complex, 8),
        "complex128" | "cdouble" | "complex" => (Kind::Complex, 16),
        "object" | "object_" => return Err(unsupported(text, "object arrays hold Python object pointers, not data, and can never be mapped")),
        "str" | "str_" | "unicode" => return Err(unsupported(text, "UCS-4 text has no zero-copy Arrow type (Arrow strings are UTF-8 with offsets); store bytes (S<n>) instead")),
        "longdouble" | "float128" | "float96" | "clongdouble" | "complex256" => {
            return Err(unsupported(text, "extended-precision floats have no Arrow type"))
        }
        _ => {
            for (prefix, is_dt) in [("datetime64", true), ("timedelta64", false)] {
                if let Some(rest) = lower.strip_prefix(prefix) {
                    let unit = if rest.is_empty() {
                        None
                    } else {
                        Some(
                            rest.strip_prefix('[')
                                .and_then(|u| u.strip_suffix(']'))
                                .ok_or_else(|| invalid(text, "unit must be written as [unit]"))?,
                        )
                    };
                    // Units are case-sensitive (M is month, m is minute).
                    let unit = unit.map(|_| &s[prefix.len() + 1..s.len() - 1]);
                    let u = time_unit(unit, text)?;
                    let k = if is_dt { Kind::Datetime(u) } else { Kind::Timedelta(u) };
                    return Dtype::new(k, 8, native()).map(Some);
                }
            }
            return Ok(None);
        }
    };
    Dtype::new(kind, size, native()).map(Some)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(s: &str) -> String {
        Dtype::parse(s).unwrap().typestr()
    }

    #[test]
    fn friendly_names_and_codes_give_canonical_typestrs() {
        for (input, want) in [
            ("float32", "<f4"),
            ("f4", "<f4"),
            ("f", "<f4"),
            ("d", "<f8"),
            ("int64", "<i8"),
            ("uint8", "|u1"),
            ("u1", "|u1"),
            ("<u1", "|u1"),
            ("bool", "|b1"),
            ("?", "|b1"),
            ("b1", "|b1"),
            ("b", "|i1"),
            ("float16", "<f2"),
            ("e", "<f2"),
            ("complex64", "<c8"),
            ("c16", "<c16"),
            ("datetime64[ms]", "<M8[ms]"),
            ("timedelta64[ns]", "<m8[ns]"),
            ("M8[us]", "<M8[us]"),
            ("<m8[s]", "<m8[s]"),
            ("S16", "|S16"),
            ("|S16", "|S16"),
            ("a5", "|S5"),
            ("V8", "|V8"),
            (">f8", ">f8"),
            ("!i4", ">i4"),
            ("=f4", "<f4"),
            ("<f", "<f4"),
            (">u1", "|u1"),
            (" Float64 ", "<f8"),
        ] {
            assert_eq!(ts(input), want, "{input}");
        }
    }

    #[test]
    fn canonical_typestrs_round_trip() {
        for s in [
            "<f4", "|u1", "<M8[ns]", "|S16", "|b1", "<c16", ">i8", "<m8[us]", "|V3", "<f2",
        ] {
            assert_eq!(ts(s), s);
        }
    }

    #[test]
    fn refuses_object_unicode_structured_and_long_double() {
        for s in [
            "O",
            "|O",
            "object",
            "<U3",
            "U10",
            "str",
            "[('a','<i4')]",
            "i4,f8",
            "g",
            "f16",
            "longdouble",
        ] {
            let e = Dtype::parse(s).unwrap_err();
            assert!(
                matches!(e.kind(), ErrorKind::UnsupportedDtype { .. }),
                "{s}: {e}"
            );
            assert!(e.to_string().contains(s.trim()), "{e}");
        }
    }

    #[test]
    fn refuses_calendar_units_and_unitless_datetimes() {
        for s in ["datetime64[D]", "M8[Y]", "datetime64", "M8", "<m8[h]"] {
            assert!(matches!(
                Dtype::parse(s).map_err(Error::into_kind),
                Err(ErrorKind::UnsupportedDtype { .. })
            ));
        }
    }

    #[test]
    fn refuses_garbage() {
        for s in [
            "",
            "x",
            "f3",
            "i16",
            "S0",
            "S-1",
            "<z",
            "M8[lightyears]",
            "f4[ns]",
            "c4",
        ] {
            assert!(
                matches!(
                    Dtype::parse(s).map_err(Error::into_kind),
                    Err(ErrorKind::InvalidDtype { .. })
                ),
                "{s}: {:?}",
                Dtype::parse(s)
            );
        }
    }

    #[test]
    fn maps_to_arrow_types() {
        assert_eq!(Dtype::parse("f4").unwrap().arrow_type(), DataType::Float32);
        assert_eq!(Dtype::parse("f2").unwrap().arrow_type(), DataType::Float16);
        assert_eq!(
            Dtype::parse("M8[ms]").unwrap().arrow_type(),
            DataType::Timestamp(TimeUnit::Millisecond, None)
        );
        assert_eq!(
            Dtype::parse("m8[ns]").unwrap().arrow_type(),
            DataType::Duration(TimeUnit::Nanosecond)
        );
        assert_eq!(
            Dtype::parse("S7").unwrap().arrow_type(),
            DataType::FixedSizeBinary(7)
        );
        let f = Dtype::parse("bool").unwrap().arrow_field("x");
        assert_eq!(f.data_type(), &DataType::Int8);
        assert_eq!(f.metadata()[EXTENSION_NAME_KEY], "arrow.bool8");
        match Dtype::parse("c8").unwrap().arrow_type() {
            DataType::FixedSizeList(item, 2) => assert_eq!(item.data_type(), &DataType::Float32),
            t => panic!("{t}"),
        }
    }

    proptest::proptest! {
        #[test]
        fn arbitrary_text_never_panics(s in ".{0,12}") {
            let _ = Dtype::parse(&s);
        }
    }
}
