//! Vector functions over embedding columns: `l2_distance`,
//! `cosine_distance` and `inner_product` of two vectors, each a
//! `FixedSizeList<Float32 | Float64>` column (an mmarrow 2-D array, a
//! tensor column) or a list literal (`[0.1, 0.2, …]`) or parameter. The
//! column's values buffer is read in place — no conversion to `List`, no
//! copy — and a literal is converted once to the column's element type.
//! The result is that type: `Float32` for `float32` embeddings.
//!
//! ```sql
//! SELECT id, l2_distance(emb, [0.1, 0.2, 0.3]) AS d FROM t ORDER BY d LIMIT 10
//! ```

use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::types::{Float32Type, Float64Type};
use arrow_array::{Array, ArrayRef, ArrowPrimitiveType, PrimitiveArray};
use arrow_buffer::NullBuffer;
use arrow_schema::DataType;
use datafusion::common::{exec_err, plan_err, Result, ScalarValue};
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility,
};
use datafusion::prelude::SessionContext;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Metric {
    L2,
    Cosine,
    Inner,
}

impl Metric {
    fn name(self) -> &'static str {
        match self {
            Metric::L2 => "l2_distance",
            Metric::Cosine => "cosine_distance",
            Metric::Inner => "inner_product",
        }
    }
}

#[derive(Debug, PartialEq, Eq, Hash)]
struct VectorFunction {
    metric: Metric,
    signature: Signature,
}

/// `l2_distance(a, b)`: the Euclidean distance `sqrt(Σ (aᵢ - bᵢ)²)` (DuckDB's `array_distance`).
pub fn l2_distance() -> ScalarUDF {
    udf(Metric::L2)
}

/// `cosine_distance(a, b)`: `1 - a·b / (|a| |b|)` (NaN for a zero vector).
pub fn cosine_distance() -> ScalarUDF {
    udf(Metric::Cosine)
}

/// `inner_product(a, b)`: `Σ aᵢ bᵢ`.
pub fn inner_product() -> ScalarUDF {
    udf(Metric::Inner)
}

fn udf(metric: Metric) -> ScalarUDF {
    ScalarUDF::new_from_impl(VectorFunction {
        metric,
        signature: Signature::user_defined(Volatility::Immutable),
    })
}

/// Registers the three vector functions in `ctx` (done by
/// [`super::session_context`]).
pub fn register_vector_functions(ctx: &SessionContext) {
    for f in [l2_distance(), cosine_distance(), inner_product()] {
        ctx.register_udf(f);
    }
}

/// The element type of a vector argument, if it is one.
fn element(t: &DataType) -> Option<&DataType> {
    match t {
        DataType::FixedSizeList(f, _) | DataType::List(f) | DataType::LargeList(f) => {
            Some(f.data_type())
        }
        _ => None,
    }
}

fn is_number(t: &DataType) -> bool {
    t.is_numeric() || t.is_null()
}

impl VectorFunction {
    /// The float type computed in: the first `FixedSizeList<Float32|64>`'s.
    fn float_of(&self, types: &[DataType]) -> Result<DataType> {
        let name = self.metric.name();
        if types.len() != 2 {
            return plan_err!("{name} takes two vectors, got {} arguments", types.len());
        }
        for t in types {
            match element(t) {
                Some(e) if is_number(e) => {}
                _ => return plan_err!("{name} takes vectors (lists of numbers), got {t}"),
            }
        }
        let fixed = types.iter().find_map(|t| match t {
            DataType::FixedSizeList(f, _) => Some(f.data_type().clone()),
            _ => None,
        });
        Ok(match fixed {
            Some(DataType::Float32) => DataType::Float32,
            _ => DataType::Float64,
        })
    }
}

impl ScalarUDFImpl for VectorFunction {
    fn name(&self) -> &str {
        self.metric.name()
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, types: &[DataType]) -> Result<Vec<DataType>> {
        self.float_of(types)?;
        Ok(types.to_vec())
    }

    fn return_type(&self, types: &[DataType]) -> Result<DataType> {
        self.float_of(types)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let types: Vec<DataType> = args.args.iter().map(|a| a.data_type()).collect();
        let float = self.float_of(&types)?;
        let n = args.number_rows;
        let all_scalar = args
            .args
            .iter()
            .all(|a| matches!(a, ColumnarValue::Scalar(_)));
        let rows = if all_scalar { 1 } else { n };
        let (a, b) = (&args.args[0], &args.args[1]);
        let out: ArrayRef = match float {
            DataType::Float32 => Arc::new(compute::<Float32Type>(self.metric, a, b, rows)?),
            _ => Arc::new(compute::<Float64Type>(self.metric, a, b, rows)?),
        };
        Ok(if all_scalar {
            ColumnarValue::Scalar(ScalarValue::try_from_array(&out, 0)?)
        } else {
            ColumnarValue::Array(out)
        })
    }
}

/// One side of the call: fixed-size rows over a flat values slice, or one
/// vector for every row.
struct Vectors<T: ArrowPrimitiveType> {
    values: PrimitiveArray<T>,
    dim: usize,
    /// Rows `len` (a broadcast side has one row repeated).
    broadcast: bool,
    nulls: Option<NullBuffer>,
}

impl<T: ArrowPrimitiveType> Vectors<T> {
    fn row(&self, i: usize) -> &[T::Native] {
        let i = if self.broadcast { 0 } else { i };
        &self.values.values()[i * self.dim..(i + 1) * self.dim]
    }

    fn is_null(&self, i: usize) -> bool {
        let i = if self.broadcast { 0 } else { i };
        self.nulls.as_ref().is_some_and(|n| n.is_null(i))
    }
}

/// The vectors of `arg` as flat `T` values of one dimension.
fn vectors<T: ArrowPrimitiveType>(
    name: &str,
    arg: &ColumnarValue,
    rows: usize,
) -> Result<Vectors<T>> {
    let (array, broadcast) = match arg {
        ColumnarValue::Array(a) => (a.clone(), false),
        ColumnarValue::Scalar(s) => (s.to_array_of_size(1)?, true),
    };
    let target = T::DATA_TYPE;
    // A fixed-size list of the computing type is read in place.
    if let DataType::FixedSizeList(f, d) = array.data_type() {
        let list = array.as_fixed_size_list();
        let dim = *d as usize;
        let child = list.values();
        let values = if f.data_type() == &target {
            child.slice(list.offset() * dim, list.len() * dim)
        } else {
            arrow_cast::cast(&child.slice(list.offset() * dim, list.len() * dim), &target)?
        };
        return finish(name, values, dim, broadcast, list.nulls().cloned(), rows);
    }
    // Lists (literals, parameters): every non-null row must have one length.
    let (offsets, child, nulls): (Vec<usize>, ArrayRef, Option<NullBuffer>) =
        match array.data_type() {
            DataType::List(_) => {
                let l = array.as_list::<i32>();
                (
                    l.offsets().iter().map(|o| *o as usize).collect(),
                    l.values().clone(),
                    l.nulls().cloned(),
                )
            }
            DataType::LargeList(_) => {
                let l = array.as_list::<i64>();
                (
                    l.offsets().iter().map(|o| *o as usize).collect(),
                    l.values().clone(),
                    l.nulls().cloned(),
                )
            }
            t => return exec_err!("{name} takes vectors, got {t}"),
        };
    let mut dim = None;
    for (i, w) in offsets.windows(2).enumerate() {
        if nulls.as_ref().is_some_and(|n| n.is_null(i)) {
            continue;
        }
        let len = w[1] - w[0];
        match dim {
            None => dim = Some(len),
            Some(d) if d != len => {
                return exec_err!("{name}: vectors of {d} and {len} elements in one argument")
            }
            _ => {}
        }
    }
    let dim = dim.unwrap_or(0);
    // Rebuild as fixed-size rows (nulls become zero rows): a small copy of
    // literal or list data, never of a FixedSizeList column.
    let child = arrow_cast::cast(&child, &target)?;
    let child = child.as_primitive::<T>();
    if child.null_count() > 0 {
        return exec_err!("{name}: a vector holds null elements");
    }
    let mut flat: Vec<T::Native> = Vec::with_capacity(array.len() * dim);
    for (i, start) in offsets.iter().take(array.len()).enumerate() {
        if nulls.as_ref().is_some_and(|n| n.is_null(i)) {
            flat.extend(std::iter::repeat_n(T::Native::default(), dim));
        } else {
            flat.extend_from_slice(&child.values()[*start..*start + dim]);
        }
    }
    let values: ArrayRef = Arc::new(PrimitiveArray::<T>::new(flat.into(), None));
    finish(name, values, dim, broadcast, nulls, rows)
}

fn finish<T: ArrowPrimitiveType>(
    name: &str,
    values: ArrayRef,
    dim: usize,
    broadcast: bool,
    nulls: Option<NullBuffer>,
    rows: usize,
) -> Result<Vectors<T>> {
    let values = values.as_primitive::<T>().clone();
    if values.null_count() > 0 {
        return exec_err!("{name}: a vector holds null elements");
    }
    let have = values.len().checked_div(dim).unwrap_or(0);
    if !broadcast && have != rows && dim != 0 {
        return exec_err!("{name}: {have} vectors for {rows} rows");
    }
    Ok(Vectors {
        values,
        dim,
        broadcast,
        nulls,
    })
}

/// A float type the kernels compute in.
trait Float:
    arrow_buffer::ArrowNativeType
    + Copy
    + Default
    + std::ops::Add<Output = Self>
    + std::ops::Sub<Output = Self>
    + std::ops::Mul<Output = Self>
{
    fn sqrt(self) -> Self;
    fn one() -> Self;
    fn div(self, o: Self) -> Self;
}

impl Float for f32 {
    fn sqrt(self) -> Self {
        f32::sqrt(self)
    }
    fn one() -> Self {
        1.0
    }
    fn div(self, o: Self) -> Self {
        self / o
    }
}

impl Float for f64 {
    fn sqrt(self) -> Self {
        f64::sqrt(self)
    }
    fn one() -> Self {
        1.0
    }
    fn div(self, o: Self) -> Self {
        self / o
    }
}

/// `Σ f(aᵢ, bᵢ)` in eight independent lanes, which the compiler turns into
/// SIMD (a single running sum would pin the additions to one order).
#[inline]
fn sum8<F: Float>(a: &[F], b: &[F], f: impl Fn(F, F) -> F) -> F {
    let mut acc = [F::default(); 8];
    let (ca, cb) = (a.chunks_exact(8), b.chunks_exact(8));
    let (ra, rb) = (ca.remainder(), cb.remainder());
    for (x, y) in ca.zip(cb) {
        for k in 0..8 {
            acc[k] = acc[k] + f(x[k], y[k]);
        }
    }
    let mut s = F::default();
    for (x, y) in ra.iter().zip(rb) {
        s = s + f(*x, *y);
    }
    let pairs = [
        acc[0] + acc[4],
        acc[1] + acc[5],
        acc[2] + acc[6],
        acc[3] + acc[7],
    ];
    s + (pairs[0] + pairs[2]) + (pairs[1] + pairs[3])
}

fn compute<T>(
    metric: Metric,
    a: &ColumnarValue,
    b: &ColumnarValue,
    rows: usize,
) -> Result<PrimitiveArray<T>>
where
    T: ArrowPrimitiveType,
    T::Native: Float,
{
    let name = metric.name();
    let (a, b) = (vectors::<T>(name, a, rows)?, vectors::<T>(name, b, rows)?);
    if a.dim != b.dim {
        return exec_err!("{name}: vectors of {} and {} elements", a.dim, b.dim);
    }
    let nulls = NullBuffer::union(expand(&a, rows).as_ref(), expand(&b, rows).as_ref());
    let values: Vec<T::Native> = (0..rows)
        .map(|i| {
            if a.is_null(i) || b.is_null(i) {
                return T::Native::default();
            }
            let (x, y) = (a.row(i), b.row(i));
            match metric {
                Metric::L2 => sum8(x, y, |p, q| (p - q) * (p - q)).sqrt(),
                Metric::Inner => sum8(x, y, |p, q| p * q),
                Metric::Cosine => {
                    let dot = sum8(x, y, |p, q| p * q);
                    let nx = sum8(x, x, |p, q| p * q);
                    let ny = sum8(y, y, |p, q| p * q);
                    T::Native::one() - dot.div((nx * ny).sqrt())
                }
            }
        })
        .collect();
    Ok(PrimitiveArray::<T>::new(values.into(), nulls))
}

/// A side's nulls over `rows` rows.
fn expand<T: ArrowPrimitiveType>(v: &Vectors<T>, rows: usize) -> Option<NullBuffer> {
    match (&v.nulls, v.broadcast) {
        (None, _) => None,
        (Some(n), false) => Some(n.clone()),
        (Some(n), true) => Some(if n.is_null(0) {
            NullBuffer::new_null(rows)
        } else {
            NullBuffer::new_valid(rows)
        }),
    }
}
