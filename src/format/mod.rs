//! On-disk formats and their constants: the [`ArrayHeader`] every array
//! file resolves to, the JSON sidecar (format v1), the `.npy` header, the
//! table manifest, and the tensor extension metadata. `docs/FORMAT.md`
//! specifies them.

mod header;
pub(crate) mod npy;
pub(crate) mod sidecar;
pub(crate) mod tensor;

pub use crate::dtype::{EXTENSION_METADATA_KEY, EXTENSION_NAME_KEY};
pub use crate::table::manifest::{
    BufferFile, ColumnEntry, Manifest, Node, MANIFEST_NAME, TABLE_FORMAT_NAME, TABLE_FORMAT_VERSION,
};
pub use header::{ArrayHeader, HeaderSource};
pub use npy::{NpyHeader, MAX_NPY_HEADER_BYTES, NPY_MAGIC};
pub use sidecar::{
    sidecar_path, Sidecar, SidecarWrite, FORMAT_NAME, FORMAT_VERSION, MAX_SIDECAR_BYTES,
    SIDECAR_SUFFIX,
};
pub use tensor::{TensorMetadata, FIXED_SHAPE_TENSOR};
