//! DataFusion integration (feature `datafusion`): mmarrow arrays, tables
//! and datasets of many files as DataFusion tables whose scans decode
//! nothing and copy nothing, plus vector functions for embedding columns.
//!
//! ```
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # let dir = tempfile::tempdir()?;
//! use mmarrow::datafusion::{session_context, SessionContextExt};
//! // a 1,000 × 4 float32 embedding file, as numpy would dump it
//! let mut w = mmarrow::ArrayWriter::create(dir.path().join("emb.f32"), mmarrow::Dtype::parse("float32")?, &[4])?;
//! w.append(&(0..4000).map(|i| (i % 97) as f32).collect::<Vec<_>>())?;
//! w.finish()?;
//!
//! let ctx = session_context(); // the vector functions and `STORED AS MMARROW`
//! ctx.register_mmarrow("emb", dir.path().join("emb.f32"))?;
//! let rt = tokio::runtime::Runtime::new()?;
//! let rows = rt.block_on(async {
//!     ctx.sql("SELECT l2_distance(emb, [1.0, 2.0, 3.0, 4.0]) AS d FROM emb ORDER BY d LIMIT 3")
//!         .await?
//!         .collect()
//!         .await
//! })?;
//! assert_eq!(rows.iter().map(|b| b.num_rows()).sum::<usize>(), 3);
//! # Ok(()) }
//! ```
//!
//! # What a scan does
//! - [`MmarrowTable`] is a `TableProvider` over an array file, a table
//!   directory, a directory of either, or a glob (`emb_*.npy`, the usual
//!   way embeddings are dumped); members must share dtype and row shape
//!   (arrays) or schema (tables), and are read in file-name order. A
//!   Fortran-order 2-D array is `d` columns.
//! - Its scan is DataFusion's own file scan: `DataSourceExec` over a
//!   `FileScanConfig` with an [`MmarrowSource`]. Only projected columns
//!   are mapped; batches are zero-copy slices of the session's batch size;
//!   partitions are runs of whole statistics chunks.
//! - Statistics are exact (rows, bytes, null counts; minima and maxima of
//!   non-float columns from the tables' chunk statistics), so `count(*)`
//!   and `min`/`max` can be answered without a scan.
//! - Filters are answered `Inexact` (DataFusion keeps its `FilterExec`),
//!   but the source keeps the predicate and skips chunks whose statistics
//!   exclude it, as `ParquetSource` skips row groups. That includes the
//!   dynamic filters that TopK (`ORDER BY … LIMIT`) and hash joins push
//!   down: they are re-read at every chunk, so the scan tightens as the
//!   query runs. `EXPLAIN` shows the predicate and how many chunks it
//!   skips; `EXPLAIN ANALYZE` counts `chunks_pruned_statistics`.
//!
//! # Ballista and plan serialisation
//! A scan's whole state is its `PartitionedFile`s — an absolute path
//! (percent-encoded object-store path), an `object_meta.size` and a
//! `range` that count **rows**, not bytes (see [`rows`](self#rows)) — and
//! the [`MmarrowSource`]'s fields: schema, projection, predicate, batch
//! size and [`ScanOptions`]. Nothing is kept in `PartitionedFile`
//! extensions (plan serialisation drops them); the statistics the provider
//! read are a cache that an opener in another process rebuilds from the
//! path. Any split of the "bytes" is a split into whole rows, so a
//! distributed engine may re-split ranges. Distributed engines must set
//! `datafusion.execution.enable_file_stream_work_stealing` to `false`
//! (it defaults to `true` in DataFusion 55): with it, the partitions of
//! one scan take files from a shared queue, which only works when they
//! run in one process.
//!
//! # Rows
//! `object_meta.size` of an mmarrow `PartitionedFile` is the number of
//! rows the plan reads from it (fixed when the provider was built) and
//! `range` a row range of those.

mod member;
mod provider;
mod rows;
mod source;
mod udf;

use std::path::Path;
use std::sync::Arc;

use datafusion::execution::SessionStateBuilder;
use datafusion::prelude::{SessionConfig, SessionContext};

pub use provider::{MmarrowTable, MmarrowTableFactory};
pub use source::{MmarrowSource, FILE_TYPE};
pub use udf::{cosine_distance, inner_product, l2_distance, register_vector_functions};

use crate::array::{ArrowOptions, TensorLayout};

/// How a scan presents arrays (the layout of N-D rows).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ScanOptions {
    pub(crate) arrow: ArrowOptions,
}

impl ScanOptions {
    /// The defaults: N-D rows as `arrow.fixed_shape_tensor` columns.
    pub fn new() -> Self {
        Self::default()
    }

    /// The layout of N-D rows ([`TensorLayout`]).
    ///
    /// ```
    /// use mmarrow::array::TensorLayout;
    /// let o = mmarrow::datafusion::ScanOptions::new().tensor_layout(TensorLayout::Nested);
    /// assert_eq!(o.layout(), TensorLayout::Nested);
    /// ```
    pub fn tensor_layout(mut self, layout: TensorLayout) -> Self {
        self.arrow = self.arrow.tensor(layout);
        self
    }

    /// The layout of N-D rows.
    pub fn layout(&self) -> TensorLayout {
        self.arrow.tensor_layout()
    }
}

/// `tensor`, `fixed_size_list` (or `list`) or `nested`.
pub(crate) fn parse_layout(v: &str) -> datafusion::error::Result<TensorLayout> {
    Ok(match v.to_ascii_lowercase().as_str() {
        "tensor" | "fixed_shape_tensor" => TensorLayout::FixedShapeTensor,
        "fixed_size_list" | "list" => TensorLayout::FixedSizeList,
        "nested" => TensorLayout::Nested,
        _ => {
            return Err(datafusion::error::DataFusionError::Plan(format!(
                "tensor_layout {v:?}: expected tensor, fixed_size_list or nested"
            )))
        }
    })
}

/// A session with the table factory for `STORED AS MMARROW` and the vector
/// functions, on DataFusion's default configuration.
pub fn session_context() -> SessionContext {
    session_context_with(SessionConfig::new())
}

/// As [`session_context`], with `config`.
pub fn session_context_with(config: SessionConfig) -> SessionContext {
    let state = SessionStateBuilder::new()
        .with_config(config)
        .with_default_features()
        .with_table_factory("MMARROW".into(), Arc::new(MmarrowTableFactory))
        .build();
    let ctx = SessionContext::new_with_state(state);
    register_vector_functions(&ctx);
    ctx
}

/// Registering mmarrow data in a [`SessionContext`].
pub trait SessionContextExt {
    /// Registers `path` (as [`MmarrowTable::open`] takes it) as table `name`.
    ///
    /// # Errors
    /// The open's error (a [`crate::Error`] inside
    /// `DataFusionError::External`), or DataFusion's for a name in use.
    fn register_mmarrow(
        &self,
        name: &str,
        path: impl AsRef<Path>,
    ) -> datafusion::error::Result<Arc<MmarrowTable>>;
}

impl SessionContextExt for SessionContext {
    fn register_mmarrow(
        &self,
        name: &str,
        path: impl AsRef<Path>,
    ) -> datafusion::error::Result<Arc<MmarrowTable>> {
        let table = Arc::new(
            MmarrowTable::open(path)
                .map_err(|e| datafusion::error::DataFusionError::External(Box::new(e)))?,
        );
        self.register_table(name, table.clone())?;
        Ok(table)
    }
}
