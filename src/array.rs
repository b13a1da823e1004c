//! The mapped array and its Arrow views.
//!
//! Over 500 lines as one cohesive thing: every Arrow view of a mapped array
//! (flat, tensor, nested, Fortran 2-D as columns, bool8, complex) is built by
//! one `build` path from the same header, and the explicit copy that makes a
//! view possible lives next to it.

use std::collections::BTreeMap;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow_array::{make_array, Array, ArrayRef, BooleanArray, RecordBatch, StructArray};
use arrow_buffer::Buffer;
use arrow_data::ArrayDataBuilder;
use arrow_schema::{DataType, Field, FieldRef, Fields, Schema, SchemaRef};

use crate::dtype::{Dtype, Kind};
use crate::error::{Error, ErrorKind, Result, ShapeDisplay};
use crate::format::tensor::TensorMetadata;
use crate::format::{ArrayHeader, HeaderSource};
use crate::map;
use crate::shape::Order;

/// How N-D rows appear in Arrow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TensorLayout {
    /// `FixedSizeList<T>[d1·…·dk]` whose field carries the canonical
    /// `arrow.fixed_shape_tensor` extension with shape `[d1, …, dk]`:
    /// pyarrow sees a tensor column. The default.
    #[default]
    FixedShapeTensor,
    /// A plain `FixedSizeList` of `d1·…·dk` elements, no extension metadata.
    FixedSizeList,
    /// One `FixedSizeList` level per inner dimension over the same buffer:
    /// Polars sees `Array(T, shape=(d1, d2))`, DuckDB `T[d2][d1]`.
    Nested,
}

/// How numpy's one-byte `bool` appears in Arrow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum BoolLayout {
    /// `Int8` storage with the canonical `arrow.bool8` extension, zero-copy. The default.
    #[default]
    Bool8,
    /// Arrow's bit-packed `Boolean`: an explicit conversion that **copies**.
    Boolean,
}

/// Options for the Arrow view of an array.
///
/// ```
/// use mmarrow::array::{ArrowOptions, TensorLayout};
/// let o = ArrowOptions::new().tensor(TensorLayout::Nested);
/// assert_eq!(o.tensor_layout(), TensorLayout::Nested);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ArrowOptions {
    tensor: TensorLayout,
    bools: BoolLayout,
}

impl ArrowOptions {
    /// The defaults: tensor extension, `arrow.bool8`.
    pub fn new() -> Self {
        Self::default()
    }
    /// Sets the layout of N-D rows.
    pub fn tensor(mut self, layout: TensorLayout) -> Self {
        self.tensor = layout;
        self
    }
    /// Sets the representation of `bool`.
    pub fn bools(mut self, layout: BoolLayout) -> Self {
        self.bools = layout;
        self
    }
    /// The layout of N-D rows.
    pub fn tensor_layout(&self) -> TensorLayout {
        self.tensor
    }
    /// The representation of `bool`.
    pub fn bool_layout(&self) -> BoolLayout {
        self.bools
    }
}

/// Why an array's data is a copy rather than the mapped file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum CopyReason {
    /// Big-endian data was byte-swapped.
    ByteSwap,
    /// The data offset was not a multiple of the element alignment.
    Misaligned,
    /// A Fortran-order array of more than two dimensions was transposed to C order.
    Transpose,
}

impl std::fmt::Display for CopyReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            CopyReason::ByteSwap => "byte-swapped from big-endian",
            CopyReason::Misaligned => "realigned (offset not a multiple of the element alignment)",
            CopyReason::Transpose => "transposed from Fortran order",
        })
    }
}

/// An array file opened by mmarrow: its description and its data, mapped.
///
/// Views are cheap: [`MmArray::to_arrow`] and [`MmArray::to_record_batch`]
/// build Arrow arrays whose buffers point into the map (a reference count
/// keeps it alive), and [`MmArray::slice`] selects rows without touching data.
///
/// ```
/// # fn main() -> mmarrow::Result<()> {
/// # let dir = tempfile::tempdir().unwrap();
/// # let path = dir.path().join("emb.f32");
/// # std::fs::write(&path, (0..12).flat_map(|v| (v as f32).to_le_bytes()).collect::<Vec<u8>>()).unwrap();
/// use arrow_array::Array;
/// let a = mmarrow::OpenOptions::new().try_with_dtype("f4")?.try_with_shape("-1,3")?.open(&path)?;
/// let batch = a.to_record_batch()?;
/// assert_eq!(batch.num_rows(), 4);
/// assert_eq!(batch.schema().field(0).name(), "emb");
/// assert!(a.is_zero_copy());
/// let rows = a.slice(1..3)?;
/// assert_eq!(rows.to_arrow()?.len(), 2);
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct MmArray {
    path: PathBuf,
    source: HeaderSource,
    /// The file's header, with the shape of this view (the first dim is the
    /// selected row count).
    header: ArrayHeader,
    /// The whole mapped prefix of the file (`None` once copied).
    map: Option<Buffer>,
    /// C order: exactly this view's bytes. F order: all rows' bytes.
    data: Buffer,
    /// F order: rows in `data` per column, and the first selected row.
    f_rows: u64,
    row_start: u64,
    copied: Vec<CopyReason>,
}

impl MmArray {
    /// An array over `data`, which lies inside `map` (the whole mapped
    /// prefix of the file; `None` for data that is not mapped).
    pub(crate) fn mapped(
        path: PathBuf,
        source: HeaderSource,
        header: ArrayHeader,
        map: Option<Buffer>,
        data: Buffer,
    ) -> Self {
        MmArray {
            f_rows: header.len(),
            path,
            source,
            header,
            map,
            data,
            row_start: 0,
            copied: Vec::new(),
        }
    }

    /// The file's header: dtype, this view's shape, order, offset, name, metadata.
    pub fn header(&self) -> &ArrayHeader {
        &self.header
    }

    /// The data file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Where the description (dtype, shape...) came from.
    pub fn source(&self) -> HeaderSource {
        self.source
    }

    /// Element type as stored in the file (native after a byte-swap copy).
    pub fn dtype(&self) -> &Dtype {
        &self.header.dtype
    }

    /// Shape; the first dimension is the number of rows.
    pub fn shape(&self) -> &[u64] {
        &self.header.shape
    }

    /// Shape of one row (`shape[1..]`).
    pub fn row_shape(&self) -> &[u64] {
        self.header.row_shape()
    }

    /// Memory order.
    pub fn order(&self) -> Order {
        self.header.order
    }

    /// Byte offset of the first element in the file.
    pub fn offset(&self) -> u64 {
        self.header.offset
    }

    /// Column name: the sidecar's `name`, else the file name up to its first dot.
    pub fn name(&self) -> String {
        if let Some(n) = &self.header.name {
            return n.clone();
        }
        let file = self
            .path
            .file_name()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        let stem = file.split('.').find(|s| !s.is_empty()).unwrap_or("data");
        stem.to_string()
    }

    /// User metadata from the sidecar.
    pub fn metadata(&self) -> &BTreeMap<String, String> {
        &self.header.metadata
    }

    /// Number of rows (1 for a 0-D array).
    pub fn len(&self) -> u64 {
        self.header.len()
    }

    /// True when there are no rows.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Elements per row.
    pub fn row_elements(&self) -> u64 {
        self.row_shape().iter().product()
    }

    /// Bytes of data in this view.
    pub fn nbytes(&self) -> u64 {
        self.len() * self.row_elements() * self.header.dtype.itemsize() as u64
    }

    /// True when the data is the mapped file itself, not a copy.
    pub fn is_zero_copy(&self) -> bool {
        self.copied.is_empty()
    }

    /// Why the data was copied, if it was (see [`crate::open::CopyPolicy::Allow`]).
    pub fn copy_reasons(&self) -> &[CopyReason] {
        &self.copied
    }

    /// The error [`MmArray::to_arrow`] would return because zero-copy is
    /// impossible (big-endian, misaligned, Fortran-order N-D), if any.
    pub fn zero_copy_blocker(&self) -> Option<Error> {
        let path = self.path.clone();
        Some(match self.blocking_reasons().first()? {
            CopyReason::ByteSwap => ErrorKind::NonNativeByteOrder {
                dtype: self.header.dtype.typestr(),
            }
            .at(path),
            CopyReason::Misaligned => ErrorKind::Misaligned {
                offset: self.header.offset,
                align: self.header.dtype.align(),
                dtype: self.header.dtype.typestr(),
            }
            .at(path),
            CopyReason::Transpose => ErrorKind::FortranTensor {
                shape: ShapeDisplay(&self.header.shape).to_string(),
            }
            .at(path),
        })
    }

    /// The address range of the memory map backing this array (`None` when
    /// the data is a copy). Every Arrow buffer from a zero-copy array lies
    /// inside it.
    pub fn mapped_range(&self) -> Option<Range<usize>> {
        let m = self.map.as_ref().filter(|_| self.copied.is_empty())?;
        let start = m.as_ptr() as usize;
        Some(start..start + m.len())
    }

    /// The raw bytes of this view's data, as an Arrow buffer (C order: the
    /// selected rows; F order: all columns).
    pub fn data_buffer(&self) -> &Buffer {
        &self.data
    }

    /// Selects rows `range` (along the first axis) without copying.
    ///
    /// # Errors
    /// [`ErrorKind::InvalidRequest`] when the range is outside `0..len()`.
    pub fn slice(&self, range: Range<u64>) -> Result<MmArray> {
        if range.start > range.end || range.end > self.len() || self.header.shape.is_empty() {
            return Err(ErrorKind::InvalidRequest {
                reason: format!(
                    "row range {}..{} is outside the {} rows",
                    range.start,
                    range.end,
                    self.len()
                ),
            }
            .at(self.path.clone()));
        }
        let mut out = self.clone();
        let rows = range.end - range.start;
        out.header.shape[0] = rows;
        match self.header.order {
            Order::F if self.header.shape.len() > 1 => out.row_start = self.row_start + range.start,
            _ => {
                let row_bytes = self.row_elements() * self.header.dtype.itemsize() as u64;
                out.data = self.data.slice_with_length(
                    (range.start * row_bytes) as usize,
                    (rows * row_bytes) as usize,
                );
            }
        }
        Ok(out)
    }

    /// Copies the rows `rows` (indices along the first axis, in any order,
    /// repeats allowed) into `out`, one after another in C order: the
    /// random-access gather of a data loader, one `memcpy` per row.
    ///
    /// ```
    /// # fn main() -> mmarrow::Result<()> {
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let path = dir.path().join("x.f32");
    /// let mut w = mmarrow::ArrayWriter::create(&path, mmarrow::Dtype::parse("float32")?, &[2])?;
    /// w.append(&[0f32, 1., 2., 3., 4., 5.])?;
    /// let a = w.finish()?;
    /// let mut out = [0u8; 16];
    /// a.take_into(&[2, 0], &mut out)?;
    /// assert_eq!(out[..4], 4f32.to_ne_bytes());
    /// assert_eq!(out[8..12], 0f32.to_ne_bytes());
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// [`ErrorKind::InvalidRequest`] for an index outside `0..len()`, an
    /// `out` that is not `rows.len()` rows long, or an N-D array in Fortran
    /// order (whose rows are not contiguous).
    pub fn take_into(&self, rows: &[u64], out: &mut [u8]) -> Result<()> {
        let invalid = |reason: String| ErrorKind::InvalidRequest { reason }.at(self.path.clone());
        if self.header.order == Order::F && self.header.shape.len() > 1 {
            return Err(invalid(
                "rows of an N-D array in Fortran order are not contiguous; take needs C order"
                    .into(),
            ));
        }
        let row_bytes = (self.row_elements() * self.header.dtype.itemsize() as u64) as usize;
        if Some(out.len()) != rows.len().checked_mul(row_bytes) {
            return Err(invalid(format!(
                "output of {} bytes does not hold {} rows of {row_bytes} bytes",
                out.len(),
                rows.len()
            )));
        }
        let (n, data) = (self.len(), self.data.as_slice());
        if let Some(bad) = rows.iter().find(|&&r| r >= n) {
            return Err(invalid(format!("row {bad} is outside the {n} rows")));
        }
        if row_bytes == 0 {
            return Ok(());
        }
        for (dst, &r) in out.chunks_exact_mut(row_bytes).zip(rows) {
            let start = r as usize * row_bytes;
            dst.copy_from_slice(&data[start..start + row_bytes]);
        }
        Ok(())
    }

    /// Zero-copy record batches of at most `rows` rows each.
    ///
    /// # Errors
    /// Each item fails as [`MmArray::to_record_batch`] would; `rows == 0` is
    /// an [`ErrorKind::InvalidRequest`].
    pub fn batches(
        &self,
        rows: u64,
        options: ArrowOptions,
    ) -> Result<impl Iterator<Item = Result<RecordBatch>> + '_> {
        if rows == 0 {
            return Err(ErrorKind::InvalidRequest {
                reason: "batch size must be at least 1 row".into(),
            }
            .at(self.path.clone()));
        }
        let n = self.len();
        Ok((0..n.div_ceil(rows)).map(move |i| {
            let start = i * rows;
            self.slice(start..(start + rows).min(n))?
                .to_record_batch_with(options)
        }))
    }

    /// The Arrow field of this array's column, with the default options.
    ///
    /// # Errors
    /// As [`MmArray::to_arrow`].
    pub fn field(&self) -> Result<Field> {
        self.field_with(ArrowOptions::default())
    }

    /// The Arrow field of this array's column.
    ///
    /// # Errors
    /// As [`MmArray::to_arrow_with`].
    pub fn field_with(&self, options: ArrowOptions) -> Result<Field> {
        Ok(self.build(options, false)?.0)
    }

    /// The Arrow view with the default options: 1-D → the element array,
    /// C-order N-D → a `FixedSizeList` (whose field, see [`MmArray::field`],
    /// carries `arrow.fixed_shape_tensor`), Fortran-order 2-D → a
    /// `StructArray` of contiguous columns. No data is copied.
    ///
    /// # Errors
    /// [`ErrorKind::NonNativeByteOrder`], [`ErrorKind::Misaligned`] or
    /// [`ErrorKind::FortranTensor`] when zero-copy is impossible and the array
    /// was not opened with [`crate::open::CopyPolicy::Allow`].
    pub fn to_arrow(&self) -> Result<ArrayRef> {
        self.to_arrow_with(ArrowOptions::default())
    }

    /// The Arrow view with explicit options.
    ///
    /// # Errors
    /// As [`MmArray::to_arrow`].
    pub fn to_arrow_with(&self, options: ArrowOptions) -> Result<ArrayRef> {
        Ok(self.build(options, true)?.1.expect("array requested"))
    }

    /// The Arrow schema of [`MmArray::to_record_batch_with`]: one column
    /// (or one per column of a Fortran-order 2-D array), with the sidecar's
    /// user metadata as schema metadata.
    ///
    /// # Errors
    /// As [`MmArray::to_arrow`].
    pub fn schema_with(&self, options: ArrowOptions) -> Result<SchemaRef> {
        let field = self.field_with(options)?;
        Ok(Arc::new(self.schema_of(field)))
    }

    fn schema_of(&self, field: Field) -> Schema {
        let fields: Fields = match (self.header.order, field.data_type()) {
            (Order::F, DataType::Struct(children)) if self.header.shape.len() == 2 => {
                children.clone()
            }
            _ => Fields::from(vec![field]),
        };
        Schema::new(fields).with_metadata(self.header.metadata.clone().into_iter().collect())
    }

    /// One record batch over the whole view, default options.
    ///
    /// # Errors
    /// As [`MmArray::to_arrow`].
    pub fn to_record_batch(&self) -> Result<RecordBatch> {
        self.to_record_batch_with(ArrowOptions::default())
    }

    /// One record batch over the whole view.
    ///
    /// # Errors
    /// As [`MmArray::to_arrow`].
    pub fn to_record_batch_with(&self, options: ArrowOptions) -> Result<RecordBatch> {
        let (field, array) = self.build(options, true)?;
        let array = array.expect("array requested");
        let schema = Arc::new(self.schema_of(field));
        let columns = match array.as_any().downcast_ref::<StructArray>() {
            Some(s) if self.header.order == Order::F && self.header.shape.len() == 2 => {
                s.columns().to_vec()
            }
            _ => vec![array],
        };
        // The row count is explicit: a Fortran-order (n, 0) array has no columns.
        let opts = arrow_array::RecordBatchOptions::new().with_row_count(Some(self.len() as usize));
        Ok(RecordBatch::try_new_with_options(schema, columns, &opts)?)
    }

    /// Builds the field and, when `want_array`, the array.
    fn build(&self, o: ArrowOptions, want_array: bool) -> Result<(Field, Option<ArrayRef>)> {
        if let Some(e) = self.zero_copy_blocker() {
            return Err(e);
        }
        let name = self.name();
        let rows = self.len() as usize;
        if self.header.order == Order::F && self.header.shape.len() == 2 {
            let cols = self.header.shape[1] as usize;
            let item = self.header.dtype.itemsize();
            let mut fields = Vec::with_capacity(cols);
            let mut arrays = Vec::with_capacity(if want_array { cols } else { 0 });
            for j in 0..cols {
                let start = (j as u64 * self.f_rows + self.row_start) as usize * item;
                let values = self.data.slice_with_length(start, rows * item);
                let (f, a) =
                    self.column(&format!("{name}_{j}"), values, rows, &[], o, want_array)?;
                fields.push(Arc::new(f));
                arrays.extend(a);
            }
            let fields = Fields::from(fields);
            let array = if want_array {
                Some(Arc::new(StructArray::try_new_with_length(
                    fields.clone(),
                    arrays,
                    None,
                    rows,
                )?) as ArrayRef)
            } else {
                None
            };
            return Ok((Field::new(name, DataType::Struct(fields), true), array));
        }
        self.column(
            &name,
            self.data.clone(),
            rows,
            self.row_shape(),
            o,
            want_array,
        )
    }

    /// One column of `rows` rows of shape `row_shape` over `values`.
    fn column(
        &self,
        name: &str,
        values: Buffer,
        rows: usize,
        row_shape: &[u64],
        o: ArrowOptions,
        want: bool,
    ) -> Result<(Field, Option<ArrayRef>)> {
        let complex = self.header.dtype.kind() == Kind::Complex;
        let per_row: usize = row_shape.iter().product::<u64>() as usize;
        let scalars = rows * per_row * if complex { 2 } else { 1 };
        let scalar_type = match (self.header.dtype.kind(), o.bools) {
            (Kind::Bool, BoolLayout::Boolean) => DataType::Boolean,
            _ => self.header.dtype.arrow_value_type(),
        };
        let scalar = if want {
            Some(scalar_array(&scalar_type, values, scalars)?)
        } else {
            None
        };
        let item = |t: DataType| Arc::new(Field::new("item", t, true)) as FieldRef;
        // `len` lists of `size` items each (explicit: with size 0 the child
        // cannot tell how many lists there are).
        let wrap = |a: Option<ArrayRef>,
                    item: &FieldRef,
                    size: usize,
                    len: usize|
         -> Result<Option<ArrayRef>> {
            a.map(|a| fixed_size_list(item.clone(), size, len, a))
                .transpose()
        };
        let elem_dims: &[u64] = if complex { &[2] } else { &[] };
        if row_shape.is_empty() {
            // One element per row: the element array itself.
            if complex {
                let it = item(scalar_type);
                let a = wrap(scalar, &it, 2, rows)?;
                return Ok((Field::new(name, DataType::FixedSizeList(it, 2), true), a));
            }
            let field = match (self.header.dtype.kind(), o.bools) {
                (Kind::Bool, BoolLayout::Boolean) => Field::new(name, DataType::Boolean, true),
                _ => self.header.dtype.arrow_field(name),
            };
            return Ok((field, scalar));
        }
        match o.tensor {
            TensorLayout::FixedShapeTensor | TensorLayout::FixedSizeList => {
                let mut dims: Vec<u64> = row_shape.to_vec();
                let (inner_field, inner, size) =
                    if complex && o.tensor == TensorLayout::FixedSizeList {
                        let it = item(scalar_type);
                        let pair = wrap(scalar, &it, 2, rows * per_row)?;
                        (item(DataType::FixedSizeList(it, 2)), pair, per_row)
                    } else {
                        dims.extend_from_slice(elem_dims);
                        (
                            item(scalar_type),
                            scalar,
                            per_row * elem_dims.iter().product::<u64>() as usize,
                        )
                    };
                let dt = DataType::FixedSizeList(inner_field.clone(), size as i32);
                let mut field = Field::new(name, dt, true);
                if o.tensor == TensorLayout::FixedShapeTensor {
                    field = field.with_metadata(TensorMetadata::new(dims).field_metadata());
                }
                Ok((field, wrap(inner, &inner_field, size, rows)?))
            }
            TensorLayout::Nested => {
                let mut dims: Vec<u64> = row_shape.to_vec();
                dims.extend_from_slice(elem_dims);
                let mut field = item(scalar_type);
                let mut array = scalar;
                for (level, &d) in dims.iter().enumerate().rev() {
                    // Lists at this level: one per element of the dims above it.
                    let len = rows * dims[..level].iter().product::<u64>() as usize;
                    array = wrap(array, &field, d as usize, len)?;
                    field = item(DataType::FixedSizeList(field, d as i32));
                }
                Ok((Field::new(name, field.data_type().clone(), true), array))
            }
        }
    }

    /// Why zero-copy is impossible for this view, as copy reasons (empty when it is possible).
    fn blocking_reasons(&self) -> Vec<CopyReason> {
        let mut reasons = Vec::new();
        if !self.header.dtype.is_native() {
            reasons.push(CopyReason::ByteSwap);
        }
        if !(self.data.as_ptr() as usize).is_multiple_of(self.header.dtype.align()) {
            reasons.push(CopyReason::Misaligned);
        }
        if self.header.order == Order::F && self.header.shape.len() > 2 {
            reasons.push(CopyReason::Transpose);
        }
        reasons
    }

    /// This view in a form Arrow can use: a cheap clone when zero-copy is
    /// possible, otherwise a **copy** of this view's rows (byte-swapped,
    /// realigned and/or transposed to C order) whose
    /// [`MmArray::copy_reasons`] say what was done. Copy only a slice of a
    /// large file when that is all you need.
    ///
    /// ```
    /// # fn main() -> mmarrow::Result<()> {
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let path = dir.path().join("be.i4");
    /// # std::fs::write(&path, [0u8, 0, 0, 7, 0, 0, 1, 0]).unwrap();
    /// let a = mmarrow::OpenOptions::new().try_with_dtype(">i4")?.open(&path)?;
    /// assert!(a.to_arrow().is_err()); // big-endian: no zero-copy view
    /// let c = a.to_arrow_compatible();
    /// assert_eq!(c.copy_reasons(), &[mmarrow::array::CopyReason::ByteSwap]);
    /// let v = c.to_arrow()?;
    /// let v = v.as_any().downcast_ref::<arrow_array::Int32Array>().unwrap();
    /// assert_eq!(v.values(), &[7, 256]);
    /// # Ok(()) }
    /// ```
    pub fn to_arrow_compatible(&self) -> MmArray {
        let reasons = self.blocking_reasons();
        if reasons.is_empty() {
            return self.clone();
        }
        let item = self.header.dtype.itemsize();
        let rows = self.len() as usize;
        // Gather this view's bytes compactly, in the same order.
        let compact: std::borrow::Cow<'_, [u8]> = match self.header.order {
            Order::F if self.header.shape.len() > 1 => {
                let cols = self.row_elements() as usize;
                let mut v = Vec::with_capacity(rows * cols * item);
                for j in 0..cols {
                    let start = (j as u64 * self.f_rows + self.row_start) as usize * item;
                    v.extend_from_slice(&self.data.as_slice()[start..start + rows * item]);
                }
                v.into()
            }
            _ => self.data.as_slice().into(),
        };
        let swap = reasons.contains(&CopyReason::ByteSwap);
        let mut buf = map::copy_native(&compact, &self.header.dtype, swap);
        let mut order = self.header.order;
        if reasons.contains(&CopyReason::Transpose) {
            buf = transpose_f_to_c(buf.as_slice(), &self.header.shape, item);
            order = Order::C;
        }
        let mut copied = self.copied.clone();
        copied.extend(reasons);
        MmArray {
            header: ArrayHeader {
                dtype: self.header.dtype.to_native(),
                order,
                ..self.header.clone()
            },
            map: None,
            data: buf,
            f_rows: self.len(),
            row_start: 0,
            copied,
            ..self.clone()
        }
    }
}

fn scalar_array(t: &DataType, values: Buffer, len: usize) -> Result<ArrayRef> {
    if t == &DataType::Boolean {
        // The explicit bool → bit-packed conversion: a copy by nature.
        let a: BooleanArray = values.as_slice()[..len]
            .iter()
            .map(|&b| Some(b != 0))
            .collect();
        return Ok(Arc::new(a));
    }
    let data = ArrayDataBuilder::new(t.clone())
        .len(len)
        .add_buffer(values)
        .build()?;
    Ok(make_array(data))
}

fn fixed_size_list(item: FieldRef, size: usize, len: usize, child: ArrayRef) -> Result<ArrayRef> {
    let data = ArrayDataBuilder::new(DataType::FixedSizeList(item, size as i32))
        .len(len)
        .add_child_data(child.to_data())
        .build()?;
    Ok(make_array(data))
}

/// Reorders Fortran-order elements of `shape` into C order.
fn transpose_f_to_c(src: &[u8], shape: &[u64], item: usize) -> Buffer {
    let mut out = arrow_buffer::MutableBuffer::from_len_zeroed(src.len());
    let dst = out.as_slice_mut();
    let dims: Vec<usize> = shape.iter().map(|&d| d as usize).collect();
    // F-order strides, in elements.
    let mut fstride = vec![1usize; dims.len()];
    for k in 1..dims.len() {
        fstride[k] = fstride[k - 1] * dims[k - 1];
    }
    let total: usize = dims.iter().product();
    let mut idx = vec![0usize; dims.len()];
    let mut f = 0usize;
    for c in 0..total {
        dst[c * item..(c + 1) * item].copy_from_slice(&src[f * item..(f + 1) * item]);
        // Advance the C-order multi-index (last dim fastest), tracking f.
        for k in (0..dims.len()).rev() {
            idx[k] += 1;
            f += fstride[k];
            if idx[k] < dims[k] {
                break;
            }
            f -= fstride[k] * dims[k];
            idx[k] = 0;
        }
    }
    out.into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transposes_fortran_to_c() {
        // shape (2, 3, 2), F order: element (i,j,k) at i + 2j + 6k.
        let shape = [2u64, 3, 2];
        let f: Vec<u8> = (0..12u8).collect();
        let c = transpose_f_to_c(&f, &shape, 1);
        let mut want = Vec::new();
        for i in 0..2u8 {
            for j in 0..3u8 {
                for k in 0..2u8 {
                    want.push(i + 2 * j + 6 * k);
                }
            }
        }
        assert_eq!(c.as_slice(), &want[..]);
    }
}
