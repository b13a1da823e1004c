//! numpy.memmap's write modes: `r+`, `w+` and `c`.

use std::fs::File;
use std::ops::Range;
use std::path::{Path, PathBuf};

use crate::array::MmArray;
use crate::dtype::{Dtype, Element};
use crate::error::{Error, ErrorKind, Result, ResultExt, ShapeDisplay};
use crate::format::npy::encode_header;
use crate::format::sidecar::{sidecar_path, Sidecar};
use crate::format::{ArrayHeader, HeaderSource};
use crate::fsutil::FileExt;
use crate::fsutil::{is_npy_path, write_atomic, Replace};
use crate::map;
use crate::open::{Mode, OpenOptions};
use crate::shape::{byte_count, check_row_fits_arrow, Order};

use super::lock::{create_locked, lock_exclusive};

/// An array file mapped for writing (`r+`, `w+`) or copy-on-write (`c`).
///
/// Elements are reached only through `&mut self` methods, so nothing else
/// can observe them while they change; [`MmArrayMut::freeze`] turns the map
/// read-only and returns an [`MmArray`] for zero-copy Arrow views. `r+` and
/// `w+` hold the file's exclusive writer lock until dropped or frozen.
/// Dropping flushes (as numpy.memmap does); call [`MmArrayMut::flush`] to
/// see errors.
///
/// ```
/// # fn main() -> mmarrow::Result<()> {
/// # let dir = tempfile::tempdir().unwrap();
/// # let path = dir.path().join("grid.f64");
/// use mmarrow::{Mode, OpenOptions};
/// let mut a = OpenOptions::new()
///     .mode(Mode::Create)
///     .try_with_dtype("float64")?
///     .try_with_shape("3,4")?
///     .open_mut(&path)?;
/// a.as_mut_slice::<f64>()?[5] = 1.5;     // element (1, 1)
/// a.row_mut::<f64>(2)?.fill(7.0);
/// let frozen = a.freeze()?;               // flushed, read-only, zero-copy Arrow from here on
/// assert_eq!(frozen.shape(), &[3, 4]);
/// let again = mmarrow::open(&path)?;      // w+ wrote the sidecar
/// assert_eq!(again.data_buffer().typed_data::<f64>()[5], 1.5);
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct MmArrayMut {
    path: PathBuf,
    source: HeaderSource,
    header: ArrayHeader,
    mode: Mode,
    /// The map of the file's first `offset + nbytes` bytes (`None` when empty).
    map: Option<map::MapMut>,
    /// Keeps the writer lock (for `r+`/`w+`).
    _file: File,
}

impl OpenOptions {
    /// Opens `path` for writing in this options' [`Mode`]: `r+`, `w+` or `c`.
    ///
    /// # Errors
    /// [`ErrorKind::NotWritable`] in mode `r`; for `w+`, [`ErrorKind::MissingOption`]
    /// without a dtype or a fully known shape and [`ErrorKind::AlreadyExists`]
    /// when the file exists and [`OpenOptions::overwrite`] is not set; for
    /// `r+`/`w+`, [`ErrorKind::Locked`] when another writer holds the file; and
    /// the errors of [`OpenOptions::open`].
    pub fn open_mut(&self, path: impl AsRef<Path>) -> Result<MmArrayMut> {
        let path = path.as_ref();
        match self.mode {
            Mode::ReadOnly => Err(ErrorKind::NotWritable {
                reason: "opened in mode r (read-only); use r+, w+ or c".into(),
            }
            .at(path)),
            Mode::Create => self.create(path),
            _ => self.existing(path),
        }
    }

    fn create(&self, path: &Path) -> Result<MmArrayMut> {
        let missing = |option, reason: &str| {
            ErrorKind::MissingOption {
                option,
                reason: reason.into(),
            }
            .at(path)
        };
        let dtype = self
            .dtype
            .ok_or_else(|| missing("dtype", "mode w+ creates the file"))?;
        let shape = self
            .shape
            .as_ref()
            .and_then(|s| s.to_known())
            .ok_or_else(|| {
                missing(
                    "shape",
                    "mode w+ creates the file, so every dimension must be given (no -1)",
                )
            })?;
        let order = self.order.unwrap_or_default();
        let is_npy = is_npy_path(path);
        let npy_header = if is_npy {
            if self.offset.is_some_and(|o| o != 0) {
                return Err(ErrorKind::InvalidRequest {
                    reason: "a .npy file's data offset is set by its header; give no offset".into(),
                }
                .at(path));
            }
            Some(encode_header(&dtype, &shape, order, None).expect("fresh header fits"))
        } else {
            None
        };
        let offset = npy_header
            .as_ref()
            .map_or(self.offset.unwrap_or(0), |h| h.len() as u64);
        let nbytes = byte_count(&shape, &dtype)?;
        check_row_fits_arrow(&shape, &dtype).in_file(path)?;
        let end = offset.checked_add(nbytes).ok_or_else(|| {
            Error::new(ErrorKind::ShapeOverflow {
                shape: ShapeDisplay(&shape).to_string(),
                dtype: dtype.typestr(),
            })
        })?;
        let sc_path = sidecar_path(path);
        // Built under a temporary name (`.NAME.tmp-PID-N`) and moved into
        // place once sized and headed (`fsutil::commit_pair`), so a failure
        // or a kill (disk full, SIGXFSZ under `ulimit -f`) never leaves a
        // partial file at `path` that blocks a rerun, and a failed
        // replacement keeps the old file. Killed runs' temporaries are
        // removed here.
        crate::fsutil::sweep_leftovers(path, &[&sc_path], true)?;
        if !self.overwrite {
            for p in [path, sc_path.as_path()] {
                if std::fs::symlink_metadata(p).is_ok() {
                    return Err(ErrorKind::AlreadyExists.at(p));
                }
            }
        }
        // A file another writer holds is never replaced: its lock is held
        // until the new file is in place.
        let _old = match crate::fsutil::open_regular(path, true) {
            Ok(f) => {
                lock_exclusive(&f, path)?;
                Some(f)
            }
            Err(e) if matches!(e.kind(), ErrorKind::NotFound) => None,
            Err(e) => return Err(e),
        };
        let tmp = crate::fsutil::temp_sibling(path);
        let tmp_sc = sidecar_path(&tmp);
        let made = (|| -> Result<MmArrayMut> {
            let file = create_locked(&tmp, false)?;
            let io = |op, e| Error::io(path, op, e);
            // Zero-filled and sparse where the filesystem allows.
            file.set_len(end).map_err(|e| io("set length", e))?;
            let header = ArrayHeader {
                order,
                offset,
                ..ArrayHeader::new(dtype, shape)
            };
            if let Some(h) = &npy_header {
                file.write_all_at(h, 0).map_err(|e| io("write header", e))?;
            } else {
                let s = Sidecar::new(header.clone());
                write_atomic(
                    &tmp_sc,
                    format!("{}\n", s.to_json()).as_bytes(),
                    Replace::Overwrite,
                )?;
            }
            let map = if nbytes == 0 {
                None
            } else {
                Some(map::map_mut(&file, path, end, false)?)
            };
            let mode = if self.overwrite {
                Replace::Overwrite
            } else {
                Replace::NoClobber
            };
            // Replaces a stale sidecar too, which would override a .npy header.
            crate::fsutil::commit_pair(
                crate::fsutil::Pair {
                    data: &tmp,
                    sidecar: Some(&tmp_sc),
                },
                crate::fsutil::Pair {
                    data: path,
                    sidecar: Some(&sc_path),
                },
                mode,
                true,
            )?;
            Ok(MmArrayMut {
                path: path.to_path_buf(),
                source: if is_npy {
                    HeaderSource::Npy {
                        version: (npy_header.as_ref().map_or(1, |h| h[6]), 0),
                    }
                } else {
                    HeaderSource::Sidecar
                },
                header,
                mode: Mode::Create,
                map,
                _file: file,
            })
        })();
        made.map_err(|e| {
            let _ = std::fs::remove_file(&tmp);
            let _ = std::fs::remove_file(&tmp_sc);
            // Errors about the temporary name are about `path`.
            match e.path() {
                Some(p) if p == tmp => e.into_kind().at(path),
                Some(p) if p == tmp_sc => e.into_kind().at(sc_path),
                _ => e,
            }
        })
    }

    fn existing(&self, path: &Path) -> Result<MmArrayMut> {
        let writes = self.mode == Mode::ReadWrite;
        let mut file = crate::fsutil::open_regular(path, writes)?;
        let r = self.resolve(path, &mut file)?;
        if writes {
            lock_exclusive(&file, path)?;
        }
        if r.end > r.file_len {
            // numpy.memmap grows the file in r+ when the caller's shape and
            // offset reach past its end; a size recorded in a sidecar or
            // header that the file does not have means the file is damaged.
            if !(writes && r.source == HeaderSource::Options) {
                return Err(r.too_short(path));
            }
            file.set_len(r.end)
                .map_err(|e| Error::io(path, "grow", e))?;
        }
        let map = if r.nbytes == 0 {
            None
        } else {
            Some(map::map_mut(&file, path, r.end, !writes)?)
        };
        Ok(MmArrayMut {
            path: path.to_path_buf(),
            source: r.source,
            header: r.header,
            mode: self.mode,
            map,
            _file: file,
        })
    }
}

impl MmArrayMut {
    /// The data file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The element type.
    pub fn dtype(&self) -> &Dtype {
        &self.header.dtype
    }

    /// The shape.
    pub fn shape(&self) -> &[u64] {
        &self.header.shape
    }

    /// Memory order.
    pub fn order(&self) -> Order {
        self.header.order
    }

    /// Byte offset of the data in the file.
    pub fn offset(&self) -> u64 {
        self.header.offset
    }

    /// The mode it was opened in.
    pub fn mode(&self) -> Mode {
        self.mode
    }

    /// Number of rows.
    pub fn len(&self) -> u64 {
        self.header.shape.first().copied().unwrap_or(1)
    }

    /// True when there are no rows.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn data_range(&self) -> Range<usize> {
        let n: u64 =
            self.header.shape.iter().product::<u64>() * self.header.dtype.itemsize() as u64;
        self.header.offset as usize..(self.header.offset + n) as usize
    }

    /// The data bytes.
    pub fn as_bytes(&self) -> &[u8] {
        match &self.map {
            Some(m) => &m[self.data_range()],
            None => &[],
        }
    }

    /// The data bytes, writable.
    pub fn as_bytes_mut(&mut self) -> &mut [u8] {
        let r = self.data_range();
        match &mut self.map {
            Some(m) => &mut m[r],
            None => &mut [],
        }
    }

    fn check_element<T: Element>(&self) -> Result<()> {
        if !T::accepts(&self.header.dtype) {
            return Err(ErrorKind::TypeMismatch {
                expected: self.header.dtype.typestr(),
                given: T::NAME.into(),
            }
            .at(self.path.clone()));
        }
        if !self.header.dtype.is_native() && std::mem::size_of::<T>() > 1 {
            return Err(ErrorKind::NonNativeByteOrder {
                dtype: self.header.dtype.typestr(),
            }
            .at(self.path.clone()));
        }
        Ok(())
    }

    fn misaligned<T>(&self) -> Error {
        ErrorKind::Misaligned {
            offset: self.header.offset,
            align: std::mem::align_of::<T>(),
            dtype: self.header.dtype.typestr(),
        }
        .at(self.path.clone())
    }

    /// All elements as a slice of `T` (in file order: C or F).
    ///
    /// # Errors
    /// [`ErrorKind::TypeMismatch`] when `T` cannot view the dtype,
    /// [`ErrorKind::NonNativeByteOrder`], [`ErrorKind::Misaligned`].
    pub fn as_slice<T: Element>(&self) -> Result<&[T]> {
        self.check_element::<T>()?;
        map::cast_slice(self.as_bytes()).ok_or_else(|| self.misaligned::<T>())
    }

    /// All elements as a mutable slice of `T` (in file order: C or F).
    ///
    /// # Errors
    /// As [`MmArrayMut::as_slice`].
    pub fn as_mut_slice<T: Element>(&mut self) -> Result<&mut [T]> {
        self.check_element::<T>()?;
        let err = self.misaligned::<T>();
        map::cast_slice_mut(self.as_bytes_mut()).ok_or(err)
    }

    /// Row `i` of a C-order array as a mutable slice.
    ///
    /// # Errors
    /// As [`MmArrayMut::as_slice`]; [`ErrorKind::InvalidRequest`] for a row out
    /// of range or a Fortran-order array (whose rows are not contiguous).
    pub fn row_mut<T: Element>(&mut self, i: u64) -> Result<&mut [T]> {
        if self.header.order == Order::F && self.header.shape.len() > 1 {
            return Err(ErrorKind::InvalidRequest {
                reason: "rows of a Fortran-order array are not contiguous".into(),
            }
            .at(self.path.clone()));
        }
        if i >= self.len() {
            return Err(ErrorKind::InvalidRequest {
                reason: format!(
                    "row {i} is out of range (the array has {} rows)",
                    self.len()
                ),
            }
            .at(self.path.clone()));
        }
        let per_row = self
            .header
            .shape
            .get(1..)
            .unwrap_or(&[])
            .iter()
            .product::<u64>() as usize;
        let elems_per_row =
            per_row * self.header.dtype.itemsize() / std::mem::size_of::<T>().max(1);
        let all = self.as_mut_slice::<T>()?;
        let start = i as usize * elems_per_row;
        Ok(&mut all[start..start + elems_per_row])
    }

    fn check_flushable(&self) -> Result<()> {
        if self.mode.writes_file() {
            Ok(())
        } else {
            Err(ErrorKind::NotWritable { reason: "copy-on-write map (mode c): changes stay in memory and are never written to the file".into() }.at(self.path.clone()))
        }
    }

    /// Writes all changes to the file and waits for them (`msync`).
    ///
    /// # Errors
    /// [`ErrorKind::NotWritable`] in mode `c`; I/O errors.
    pub fn flush(&self) -> Result<()> {
        self.check_flushable()?;
        match &self.map {
            Some(m) => m.flush().map_err(|e| Error::io(&self.path, "msync", e)),
            None => Ok(()),
        }
    }

    /// Writes the changes in rows `rows` (C order) to the file.
    ///
    /// # Errors
    /// As [`MmArrayMut::flush`]; [`ErrorKind::InvalidRequest`] for rows out of range.
    pub fn flush_rows(&self, rows: Range<u64>) -> Result<()> {
        self.check_flushable()?;
        if rows.start > rows.end || rows.end > self.len() {
            return Err(ErrorKind::InvalidRequest {
                reason: format!("rows {}..{} are out of range", rows.start, rows.end),
            }
            .at(self.path.clone()));
        }
        if self.header.order == Order::F && self.header.shape.len() > 1 {
            return self.flush();
        }
        let row_bytes = self
            .header
            .shape
            .get(1..)
            .unwrap_or(&[])
            .iter()
            .product::<u64>()
            * self.header.dtype.itemsize() as u64;
        match &self.map {
            Some(m) if rows.start < rows.end => m
                .flush_range(
                    (self.header.offset + rows.start * row_bytes) as usize,
                    ((rows.end - rows.start) * row_bytes) as usize,
                )
                .map_err(|e| Error::io(&self.path, "msync", e)),
            _ => Ok(()),
        }
    }

    /// Flushes (in `r+`/`w+`), makes the map read-only and returns it as an
    /// [`MmArray`] for zero-copy Arrow views. The writer lock is released.
    ///
    /// # Errors
    /// I/O errors from `msync` or `mprotect`.
    pub fn freeze(mut self) -> Result<MmArray> {
        if self.mode.writes_file() {
            self.flush()?;
        }
        let data_range = self.data_range();
        let (map, data) = match self.map.take() {
            Some(m) => {
                let b = map::freeze(m, &self.path)?;
                let d = b.slice_with_length(data_range.start, data_range.len());
                (b, d)
            }
            None => {
                let e = arrow_buffer::MutableBuffer::new(0).into();
                (arrow_buffer::Buffer::clone(&e), e)
            }
        };
        Ok(MmArray::mapped(
            std::mem::take(&mut self.path),
            self.source,
            {
                let empty = ArrayHeader::new(self.header.dtype, Vec::new());
                std::mem::replace(&mut self.header, empty)
            },
            Some(map),
            data,
        ))
    }
}

impl Drop for MmArrayMut {
    fn drop(&mut self) {
        if self.mode.writes_file() {
            if let Some(m) = &self.map {
                // As numpy.memmap: deleting the object flushes. Errors cannot
                // be reported here; call `flush()` first to see them.
                let _ = m.flush();
            }
        }
    }
}
