//! Arrow fields and types as manifest JSON (docs/FORMAT.md §5.2): every
//! Arrow type, each as an object with a `name` and the parameters that
//! type has. Format v1 used the same spelling for the types it held, so v1
//! manifests parse with the same code.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use arrow_schema::{DataType, Field, Fields, IntervalUnit, TimeUnit, UnionFields, UnionMode};
use serde_json::{json, Value};

/// Fields nest at most this deep (a list of structs of lists ... counts
/// each level).
pub(crate) const MAX_DEPTH: usize = 16;

fn unit_of(s: &str) -> Option<TimeUnit> {
    Some(match s {
        "s" => TimeUnit::Second,
        "ms" => TimeUnit::Millisecond,
        "us" => TimeUnit::Microsecond,
        "ns" => TimeUnit::Nanosecond,
        _ => return None,
    })
}

fn interval_name(u: IntervalUnit) -> &'static str {
    match u {
        IntervalUnit::YearMonth => "year_month",
        IntervalUnit::DayTime => "day_time",
        IntervalUnit::MonthDayNano => "month_day_nano",
    }
}

fn fields_to_json(fields: &Fields) -> Value {
    Value::Array(fields.iter().map(|f| field_to_json(f)).collect())
}

/// The JSON of a type.
pub(crate) fn type_to_json(t: &DataType) -> Value {
    let simple = |n: &str| json!({ "name": n });
    let unit = |n: &str, u: &TimeUnit| json!({"name": n, "unit": crate::dtype::unit_name(*u)});
    match t {
        DataType::Null => simple("null"),
        DataType::Boolean => simple("bool"),
        DataType::Int8 => simple("int8"),
        DataType::Int16 => simple("int16"),
        DataType::Int32 => simple("int32"),
        DataType::Int64 => simple("int64"),
        DataType::UInt8 => simple("uint8"),
        DataType::UInt16 => simple("uint16"),
        DataType::UInt32 => simple("uint32"),
        DataType::UInt64 => simple("uint64"),
        DataType::Float16 => simple("float16"),
        DataType::Float32 => simple("float32"),
        DataType::Float64 => simple("float64"),
        DataType::Utf8 => simple("utf8"),
        DataType::LargeUtf8 => simple("large_utf8"),
        DataType::Utf8View => simple("utf8_view"),
        DataType::Binary => simple("binary"),
        DataType::LargeBinary => simple("large_binary"),
        DataType::BinaryView => simple("binary_view"),
        DataType::Date32 => simple("date32"),
        DataType::Date64 => simple("date64"),
        DataType::Time32(u) => unit("time32", u),
        DataType::Time64(u) => unit("time64", u),
        DataType::Duration(u) => unit("duration", u),
        DataType::Interval(u) => json!({"name": "interval", "unit": interval_name(*u)}),
        DataType::FixedSizeBinary(n) => json!({"name": "fixed_size_binary", "width": n}),
        DataType::Decimal32(p, s) => json!({"name": "decimal32", "precision": p, "scale": s}),
        DataType::Decimal64(p, s) => json!({"name": "decimal64", "precision": p, "scale": s}),
        DataType::Decimal128(p, s) => json!({"name": "decimal128", "precision": p, "scale": s}),
        DataType::Decimal256(p, s) => json!({"name": "decimal256", "precision": p, "scale": s}),
        DataType::Timestamp(u, tz) => {
            let mut v = unit("timestamp", u);
            if let Some(tz) = tz {
                v["timezone"] = json!(tz.as_ref());
            }
            v
        }
        DataType::FixedSizeList(item, n) => {
            json!({"name": "fixed_size_list", "size": n, "item": field_to_json(item)})
        }
        DataType::List(item) => json!({"name": "list", "item": field_to_json(item)}),
        DataType::LargeList(item) => json!({"name": "large_list", "item": field_to_json(item)}),
        DataType::ListView(item) => json!({"name": "list_view", "item": field_to_json(item)}),
        DataType::LargeListView(item) => {
            json!({"name": "large_list_view", "item": field_to_json(item)})
        }
        DataType::Struct(fields) => json!({"name": "struct", "fields": fields_to_json(fields)}),
        DataType::Map(entries, sorted) => {
            json!({"name": "map", "entries": field_to_json(entries), "keys_sorted": sorted})
        }
        DataType::Union(fields, mode) => json!({
            "name": match mode { UnionMode::Dense => "dense_union", UnionMode::Sparse => "sparse_union" },
            "type_ids": fields.iter().map(|(id, _)| id).collect::<Vec<i8>>(),
            "fields": fields.iter().map(|(_, f)| field_to_json(f)).collect::<Vec<_>>(),
        }),
        DataType::Dictionary(k, v) => json!({
            "name": "dictionary",
            "key": type_to_json(k),
            "value": type_to_json(v),
        }),
        DataType::RunEndEncoded(r, v) => json!({
            "name": "run_end_encoded",
            "run_ends": field_to_json(r),
            "values": field_to_json(v),
        }),
    }
}

fn fields_from_json(v: Option<&Value>, what: &str, depth: usize) -> Result<Vec<Field>, String> {
    v.and_then(Value::as_array)
        .ok_or(format!("{what} lacks fields"))?
        .iter()
        .map(|f| field_from_json(f, depth + 1))
        .collect()
}

/// Parses a type; `depth` counts the levels above it.
pub(crate) fn type_from_json(v: &Value, depth: usize) -> Result<DataType, String> {
    if depth > MAX_DEPTH {
        return Err("types nest too deeply".into());
    }
    let name = v
        .get("name")
        .and_then(Value::as_str)
        .ok_or("type lacks a name")?;
    let int = |k: &str| {
        v.get(k)
            .and_then(Value::as_i64)
            .ok_or(format!("{name} lacks {k}"))
    };
    let unit = || {
        v.get("unit")
            .and_then(Value::as_str)
            .and_then(unit_of)
            .ok_or(format!("{name} lacks a valid unit"))
    };
    let item = || -> Result<Arc<Field>, String> {
        Ok(field_from_json(
            v.get("item").ok_or(format!("{name} lacks an item"))?,
            depth + 1,
        )?
        .into())
    };
    let decimal = |max: u8| -> Result<(u8, i8), String> {
        let precision = u8::try_from(int("precision")?)
            .ok()
            .filter(|p| (1..=max).contains(p))
            .ok_or(format!("{name} precision must be between 1 and {max}"))?;
        let scale = i8::try_from(int("scale")?)
            .ok()
            .filter(|s| *s <= precision as i8)
            .ok_or(format!("{name} scale must be at most its precision"))?;
        Ok((precision, scale))
    };
    Ok(match name {
        "null" => DataType::Null,
        "bool" => DataType::Boolean,
        "int8" => DataType::Int8,
        "int16" => DataType::Int16,
        "int32" => DataType::Int32,
        "int64" => DataType::Int64,
        "uint8" => DataType::UInt8,
        "uint16" => DataType::UInt16,
        "uint32" => DataType::UInt32,
        "uint64" => DataType::UInt64,
        "float16" => DataType::Float16,
        "float32" => DataType::Float32,
        "float64" => DataType::Float64,
        "utf8" => DataType::Utf8,
        "large_utf8" => DataType::LargeUtf8,
        "utf8_view" => DataType::Utf8View,
        "binary" => DataType::Binary,
        "large_binary" => DataType::LargeBinary,
        "binary_view" => DataType::BinaryView,
        "date32" => DataType::Date32,
        "date64" => DataType::Date64,
        "time32" => match unit()? {
            u @ (TimeUnit::Second | TimeUnit::Millisecond) => DataType::Time32(u),
            _ => return Err("time32 unit must be s or ms".into()),
        },
        "time64" => match unit()? {
            u @ (TimeUnit::Microsecond | TimeUnit::Nanosecond) => DataType::Time64(u),
            _ => return Err("time64 unit must be us or ns".into()),
        },
        "duration" => DataType::Duration(unit()?),
        "interval" => DataType::Interval(match v.get("unit").and_then(Value::as_str) {
            Some("year_month") => IntervalUnit::YearMonth,
            Some("day_time") => IntervalUnit::DayTime,
            Some("month_day_nano") => IntervalUnit::MonthDayNano,
            _ => return Err("interval lacks a valid unit".into()),
        }),
        "fixed_size_binary" => {
            let width = i32::try_from(int("width")?)
                .ok()
                .filter(|w| *w >= 0)
                .ok_or("fixed_size_binary width must be between 0 and 2147483647")?;
            DataType::FixedSizeBinary(width)
        }
        "decimal32" => {
            let (p, s) = decimal(arrow_schema::DECIMAL32_MAX_PRECISION)?;
            DataType::Decimal32(p, s)
        }
        "decimal64" => {
            let (p, s) = decimal(arrow_schema::DECIMAL64_MAX_PRECISION)?;
            DataType::Decimal64(p, s)
        }
        "decimal128" => {
            let (p, s) = decimal(arrow_schema::DECIMAL128_MAX_PRECISION)?;
            DataType::Decimal128(p, s)
        }
        "decimal256" => {
            let (p, s) = decimal(arrow_schema::DECIMAL256_MAX_PRECISION)?;
            DataType::Decimal256(p, s)
        }
        "timestamp" => {
            let tz = match v.get("timezone") {
                None | Some(Value::Null) => None,
                Some(Value::String(tz)) => {
                    // The zone must be one Arrow can apply (an IANA name or a
                    // fixed offset), or every reader of the column fails later.
                    tz.parse::<arrow_array::timezone::Tz>().map_err(|_| {
                        format!("time zone {tz:?} is not an IANA name or a +HH:MM offset")
                    })?;
                    Some(tz.as_str().into())
                }
                Some(other) => return Err(format!("time zone {other} is not a string")),
            };
            DataType::Timestamp(unit()?, tz)
        }
        "fixed_size_list" => {
            let size = i32::try_from(int("size")?).map_err(|_| "size out of range")?;
            if size < 0 {
                return Err("negative list size".into());
            }
            DataType::FixedSizeList(item()?, size)
        }
        "list" => DataType::List(item()?),
        "large_list" => DataType::LargeList(item()?),
        "list_view" => DataType::ListView(item()?),
        "large_list_view" => DataType::LargeListView(item()?),
        "struct" => DataType::Struct(fields_from_json(v.get("fields"), name, depth)?.into()),
        "map" => {
            let entries = field_from_json(v.get("entries").ok_or("map lacks entries")?, depth + 1)?;
            match entries.data_type() {
                DataType::Struct(f) if f.len() == 2 && !f[0].is_nullable() => {}
                _ => {
                    return Err("map entries must be a struct of a non-null key and a value".into())
                }
            }
            if entries.is_nullable() {
                return Err("map entries must not be nullable".into());
            }
            let sorted = v
                .get("keys_sorted")
                .and_then(Value::as_bool)
                .unwrap_or(false);
            DataType::Map(entries.into(), sorted)
        }
        "dense_union" | "sparse_union" => {
            let fields = fields_from_json(v.get("fields"), name, depth)?;
            let ids: Vec<i8> = v
                .get("type_ids")
                .and_then(Value::as_array)
                .ok_or("union lacks type_ids")?
                .iter()
                .map(|i| {
                    i.as_i64()
                        .and_then(|i| i8::try_from(i).ok())
                        .filter(|i| *i >= 0)
                })
                .collect::<Option<_>>()
                .ok_or("union type ids must be integers from 0 to 127")?;
            if ids.len() != fields.len() {
                return Err("union has not one type id per field".into());
            }
            let mut seen = ids.clone();
            seen.sort_unstable();
            seen.dedup();
            if seen.len() != ids.len() {
                return Err("union type ids repeat".into());
            }
            let mode = if name == "dense_union" {
                UnionMode::Dense
            } else {
                UnionMode::Sparse
            };
            DataType::Union(
                UnionFields::try_new(ids, fields).map_err(|e| e.to_string())?,
                mode,
            )
        }
        "dictionary" => {
            let key = type_from_json(
                v.get("key").ok_or("dictionary lacks a key type")?,
                depth + 1,
            )?;
            if !key.is_dictionary_key_type() {
                return Err(format!("dictionary key type {key} is not an integer type"));
            }
            let value = type_from_json(
                v.get("value").ok_or("dictionary lacks a value type")?,
                depth + 1,
            )?;
            DataType::Dictionary(key.into(), value.into())
        }
        "run_end_encoded" => {
            let r = field_from_json(
                v.get("run_ends").ok_or("run_end_encoded lacks run_ends")?,
                depth + 1,
            )?;
            if !DataType::is_run_ends_type(r.data_type()) || r.is_nullable() {
                return Err("run ends must be a non-null int16, int32 or int64".into());
            }
            let values = field_from_json(
                v.get("values").ok_or("run_end_encoded lacks values")?,
                depth + 1,
            )?;
            DataType::RunEndEncoded(r.into(), values.into())
        }
        other => return Err(format!("unknown type {other:?}")),
    })
}

/// The JSON of a field: name, type, nullability, metadata.
pub(crate) fn field_to_json(f: &Field) -> Value {
    let mut v = json!({
        "name": f.name(),
        "type": type_to_json(f.data_type()),
        "nullable": f.is_nullable(),
    });
    if !f.metadata().is_empty() {
        let m: BTreeMap<_, _> = f.metadata().iter().collect();
        v["metadata"] = json!(m);
    }
    v
}

/// Parses a field; `depth` counts the levels above it.
pub(crate) fn field_from_json(v: &Value, depth: usize) -> Result<Field, String> {
    if depth > MAX_DEPTH {
        return Err("types nest too deeply".into());
    }
    let name = v
        .get("name")
        .and_then(Value::as_str)
        .ok_or("field lacks a name")?;
    let t = type_from_json(v.get("type").ok_or("field lacks a type")?, depth)?;
    let nullable = v.get("nullable").and_then(Value::as_bool).unwrap_or(true);
    let metadata: HashMap<String, String> = match v.get("metadata") {
        Some(m) => serde_json::from_value(m.clone()).map_err(|e| format!("metadata: {e}"))?,
        None => HashMap::new(),
    };
    Ok(Field::new(name, t, nullable).with_metadata(metadata))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_type_round_trips_through_json() {
        let f = |n: &str, t: DataType, nullable: bool| Arc::new(Field::new(n, t, nullable));
        let item = f("item", DataType::Float32, true);
        let entries = f(
            "entries",
            DataType::Struct(
                vec![
                    f("key", DataType::Utf8, false),
                    f("value", DataType::Float64, true),
                ]
                .into(),
            ),
            false,
        );
        let union = UnionFields::try_new(
            vec![3, 7],
            vec![
                Field::new("i", DataType::Int32, true),
                Field::new("s", DataType::Utf8, true),
            ],
        )
        .unwrap();
        for t in [
            DataType::Null,
            DataType::Int8,
            DataType::UInt64,
            DataType::Float16,
            DataType::Boolean,
            DataType::Utf8,
            DataType::Utf8View,
            DataType::BinaryView,
            DataType::LargeBinary,
            DataType::Date32,
            DataType::Time32(TimeUnit::Millisecond),
            DataType::Time64(TimeUnit::Nanosecond),
            DataType::Interval(IntervalUnit::MonthDayNano),
            DataType::Timestamp(TimeUnit::Microsecond, Some("Europe/Paris".into())),
            DataType::Duration(TimeUnit::Second),
            DataType::Decimal32(9, 2),
            DataType::Decimal64(18, -3),
            DataType::Decimal128(38, 9),
            DataType::Decimal256(76, 10),
            DataType::FixedSizeBinary(3),
            DataType::FixedSizeList(item.clone(), 768),
            DataType::List(item.clone()),
            DataType::LargeList(item.clone()),
            DataType::ListView(item.clone()),
            DataType::LargeListView(item.clone()),
            DataType::Struct(vec![item.clone(), f("b", DataType::Boolean, false)].into()),
            DataType::Map(entries, true),
            DataType::Union(union.clone(), UnionMode::Dense),
            DataType::Union(union, UnionMode::Sparse),
            DataType::Dictionary(DataType::Int16.into(), DataType::Utf8.into()),
            DataType::RunEndEncoded(f("run_ends", DataType::Int32, false), item),
        ] {
            assert_eq!(type_from_json(&type_to_json(&t), 0).unwrap(), t, "{t}");
        }
    }

    #[test]
    fn refuses_inconsistent_types() {
        for bad in [
            json!({"name": "time32", "unit": "us"}),
            json!({"name": "dictionary", "key": {"name": "utf8"}, "value": {"name": "utf8"}}),
            json!({"name": "dense_union", "type_ids": [1, 1], "fields": [
                {"name": "a", "type": {"name": "int8"}}, {"name": "b", "type": {"name": "int8"}}]}),
            json!({"name": "sparse_union", "type_ids": [-1], "fields": [{"name": "a", "type": {"name": "int8"}}]}),
            json!({"name": "run_end_encoded", "run_ends": {"name": "r", "type": {"name": "uint32"}, "nullable": false},
                   "values": {"name": "v", "type": {"name": "int8"}}}),
            json!({"name": "map", "entries": {"name": "e", "type": {"name": "int8"}, "nullable": false}}),
            json!({"name": "decimal32", "precision": 10, "scale": 0}),
        ] {
            assert!(type_from_json(&bad, 0).is_err(), "{bad}");
        }
        let mut deep = json!({"name": "int8"});
        for _ in 0..20 {
            deep = json!({"name": "list", "item": {"name": "x", "type": deep}});
        }
        assert!(type_from_json(&deep, 0).unwrap_err().contains("deeply"));
    }
}
