//! Writing array files: numpy.memmap's write modes ([`MmArrayMut`]) and the
//! crash-safe streaming [`ArrayWriter`].
//!
//! # From a writable map to Arrow
//! A writable map is owned by one [`MmArrayMut`]; its elements are reachable
//! only through `&mut self` methods, so safe code can never hold an Arrow
//! buffer over memory that is still being written. [`MmArrayMut::freeze`]
//! flushes the map, makes it read-only (`mprotect`) and hands it to the same
//! owner type read-only maps use, returning an [`crate::MmArray`]: from then
//! on the memory is immutable and Arrow arrays can share it freely.

mod lock;
mod mmap_mut;
mod writer;

pub(crate) use lock::lock_exclusive;
pub use mmap_mut::MmArrayMut;
pub use writer::{check_not_an_input, ArrayWriter, OutputFormat, WriterOptions};

/// How durable a commit is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Durability {
    /// fsync data, then the header: committed rows survive a power cut. The default.
    #[default]
    Fsync,
    /// No fsync: committed rows survive the writer being killed (the kernel
    /// holds them), but a power cut may lose recent commits. Still atomic:
    /// readers never see a torn header.
    Process,
}
