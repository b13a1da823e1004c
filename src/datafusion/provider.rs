//! [`MmarrowTable`]: arrays, tables and datasets of them as one DataFusion table.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow_array::Array;
use arrow_schema::{DataType, SchemaRef};
use async_trait::async_trait;
use datafusion::catalog::{Session, TableProvider, TableProviderFactory};
use datafusion::common::stats::Precision;
use datafusion::common::{ColumnStatistics, DataFusionError, Result, ScalarValue, Statistics};
use datafusion::datasource::listing::PartitionedFile;
use datafusion::datasource::physical_plan::{FileGroup, FileScanConfigBuilder};
use datafusion::datasource::source::DataSourceExec;
use datafusion::execution::object_store::ObjectStoreUrl;
use datafusion::logical_expr::{CreateExternalTable, Expr, TableType};
use datafusion::physical_plan::ExecutionPlan;

use super::member::{Kind, Member};
use super::{MmarrowSource, ScanOptions};
use crate::error::ErrorKind;
use crate::table::TableStatistics;

/// An mmarrow array file, table directory, or dataset of many of either
/// (a directory of them, or a glob), as a DataFusion [`TableProvider`].
///
/// Scans are DataFusion's own file scan — a `DataSourceExec` over a
/// `FileScanConfig` with an [`MmarrowSource`] — so they map the projected
/// columns, copy nothing, and split into partitions of whole statistics
/// chunks. The provider opens every member once, when it is built, and
/// fixes the rows each member contributes: rows appended later are not
/// seen by it (build a new provider), and a member that shrank below them
/// makes the scan fail with [`ErrorKind::Changed`] rather than touch
/// unmapped pages.
///
/// ```
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let dir = tempfile::tempdir()?;
/// use std::sync::Arc;
/// use arrow_array::{Int64Array, RecordBatch};
/// use datafusion::prelude::SessionContext;
/// use mmarrow::datafusion::MmarrowTable;
/// let batch = RecordBatch::try_from_iter([("id", Arc::new(Int64Array::from_iter_values(0..1000)) as _)])?;
/// let mut w = mmarrow::TableWriter::create(dir.path().join("t"), batch.schema())?;
/// w.append(&batch)?;
/// w.finish()?;
///
/// let ctx = SessionContext::new();
/// ctx.register_table("t", Arc::new(MmarrowTable::open(dir.path().join("t"))?))?;
/// let rt = tokio::runtime::Runtime::new()?;
/// let out = rt.block_on(async { ctx.sql("SELECT sum(id) FROM t WHERE id >= 500").await?.collect().await })?;
/// assert_eq!(arrow_cast::pretty::pretty_format_batches(&out)?.to_string().lines().nth(3), Some("| 374750    |"));
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct MmarrowTable {
    schema: SchemaRef,
    members: Vec<Arc<Member>>,
    /// `members` by object-store path, shared by every scan's source.
    by_location: Arc<HashMap<String, Arc<Member>>>,
    options: ScanOptions,
    statistics: Statistics,
}

impl MmarrowTable {
    /// Opens `path` with default [`ScanOptions`]: an array file, a table
    /// directory, a directory of arrays or tables (a dataset, in file-name
    /// order), or a glob of them (`emb_*.npy`).
    ///
    /// # Errors
    /// Open errors of any member, naming it; [`ErrorKind::InvalidRequest`]
    /// for an empty dataset or members whose schemas differ.
    pub fn open(path: impl AsRef<Path>) -> crate::Result<Self> {
        Self::open_with(&[path], ScanOptions::default())
    }

    /// Opens the members that `paths` name (each as [`MmarrowTable::open`]
    /// takes it), in order, as one table.
    ///
    /// # Errors
    /// As [`MmarrowTable::open`].
    pub fn open_with(paths: &[impl AsRef<Path>], options: ScanOptions) -> crate::Result<Self> {
        let mut files = Vec::new();
        for p in paths {
            files.extend(resolve(p.as_ref())?);
        }
        let first = files.first().ok_or_else(|| {
            ErrorKind::InvalidRequest {
                reason: "no paths given".into(),
            }
            .at(PathBuf::new())
        })?;
        let first = Member::open(first, options)?;
        let many = files.len() > 1;
        let names: Vec<String> = first
            .schema
            .fields()
            .iter()
            .map(|f| match (first.kind, many) {
                (Kind::Array, true) => shard_name(f.name()),
                _ => f.name().clone(),
            })
            .collect();
        let first = Arc::new(first.renamed(&names));
        let mut members = vec![first.clone()];
        for f in &files[1..] {
            let m = Member::open(f, options)?;
            check_same(&first, &m)?;
            members.push(Arc::new(m.renamed(&names)));
        }
        let schema = first.schema.clone();
        let statistics = statistics(&schema, &members);
        Ok(MmarrowTable {
            schema,
            by_location: Arc::new(
                members
                    .iter()
                    .map(|m| (m.location.to_string(), m.clone()))
                    .collect(),
            ),
            members,
            options,
            statistics,
        })
    }

    /// The members' paths, in scan order.
    pub fn paths(&self) -> impl Iterator<Item = &Path> {
        self.members.iter().map(|m| m.path.as_path())
    }

    /// Rows of all members, as opened.
    pub fn num_rows(&self) -> u64 {
        self.members.iter().map(|m| m.rows).sum()
    }
}

#[async_trait]
impl TableProvider for MmarrowTable {
    fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    fn table_type(&self) -> TableType {
        TableType::Base
    }

    async fn scan(
        &self,
        _state: &dyn Session,
        projection: Option<&Vec<usize>>,
        _filters: &[Expr],
        limit: Option<usize>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let source =
            MmarrowSource::new(self.schema.clone(), self.options).with_members(&self.by_location);
        let files: Vec<PartitionedFile> = self
            .members
            .iter()
            .map(|m| {
                PartitionedFile::new_from_meta(object_store::ObjectMeta {
                    location: m.location.clone(),
                    last_modified: Default::default(),
                    size: m.rows,
                    e_tag: None,
                    version: None,
                })
            })
            .collect();
        let config =
            FileScanConfigBuilder::new(ObjectStoreUrl::local_filesystem(), Arc::new(source))
                .with_file_group(FileGroup::new(files))
                .with_projection_indices(projection.cloned())?
                .with_limit(limit)
                .with_statistics(self.statistics.clone())
                .build();
        Ok(DataSourceExec::from_data_source(config))
    }

    fn statistics(&self) -> Option<Statistics> {
        Some(self.statistics.clone())
    }
}

/// The members `path` names: itself, a directory's entries, or a glob's matches.
fn resolve(path: &Path) -> crate::Result<Vec<PathBuf>> {
    let abs = std::path::absolute(path).map_err(|e| crate::Error::io(path, "resolve", e))?;
    let text = path.to_string_lossy();
    if !abs.exists() && text.contains(['*', '?', '[']) {
        let bad = |reason: String| ErrorKind::InvalidRequest { reason }.at(path);
        let pattern = abs
            .to_str()
            .ok_or_else(|| bad("a glob must be UTF-8".into()))?;
        let mut found = Vec::new();
        for entry in glob::glob(pattern).map_err(|e| bad(format!("invalid glob: {e}")))? {
            let p = entry.map_err(|e| {
                let path = e.path().to_path_buf();
                crate::Error::io(&path, "read", e.into())
            })?;
            if is_member_name(&p) {
                found.push(p);
            }
        }
        if found.is_empty() {
            return Err(bad("the glob matches no array file or table".into()));
        }
        return Ok(found);
    }
    if abs.is_dir() && !crate::table::is_table(&abs) {
        let mut found = Vec::new();
        let rd =
            std::fs::read_dir(&abs).map_err(|e| crate::Error::io(&abs, "read directory", e))?;
        for entry in rd {
            let entry = entry.map_err(|e| crate::Error::io(&abs, "read directory", e))?;
            let p = entry.path();
            if is_member_name(&p) {
                found.push(p);
            }
        }
        found.sort();
        if found.is_empty() {
            return Err(ErrorKind::InvalidRequest {
                reason: "is neither a table nor a directory holding array files or tables".into(),
            }
            .at(path));
        }
        return Ok(found);
    }
    Ok(vec![abs])
}

/// Whether a directory entry can be a dataset member: not hidden, not a
/// sidecar, not a writer's temporary file.
fn is_member_name(p: &Path) -> bool {
    let Some(name) = p.file_name().and_then(|n| n.to_str()) else {
        return true; // opened, and refused with its name
    };
    !(name.starts_with('.') || name.ends_with(crate::format::sidecar::SIDECAR_SUFFIX))
}

/// A column name from a shard's file name without its shard number:
/// `emb_007` → `emb`, `part-3` → `part`.
fn shard_name(name: &str) -> String {
    let stripped = name.trim_end_matches(|c: char| c.is_ascii_digit());
    let stripped = stripped.trim_end_matches(['_', '-', '.']);
    if stripped.is_empty() || stripped.len() == name.len() {
        name.to_string()
    } else {
        stripped.to_string()
    }
}

fn check_same(first: &Member, m: &Member) -> crate::Result<()> {
    let describe = |s: &SchemaRef| {
        s.fields()
            .iter()
            .map(|f| format!("{}: {}", f.name(), f.data_type()))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let same_types = first.schema.fields().len() == m.schema.fields().len()
        && first
            .schema
            .fields()
            .iter()
            .zip(m.schema.fields())
            .all(|(a, b)| {
                a.data_type() == b.data_type() && (m.kind == Kind::Array || a.name() == b.name())
            });
    if same_types {
        return Ok(());
    }
    Err(ErrorKind::InvalidRequest {
        reason: format!(
            "has columns ({}), the dataset's first member {} has ({})",
            describe(&m.schema),
            first.path.display(),
            describe(&first.schema)
        ),
    }
    .at(&m.path))
}

/// Exact row count and bytes; null counts, minima and maxima from the
/// tables' chunk statistics (arrays hold no nulls). Float minima and
/// maxima are inexact (a NaN is never recorded as one).
fn statistics(schema: &SchemaRef, members: &[Arc<Member>]) -> Statistics {
    let rows: u64 = members.iter().map(|m| m.rows).sum();
    let bytes: u64 = members.iter().map(|m| m.data_bytes).sum();
    let columns = (0..schema.fields().len())
        .map(|i| {
            let mut acc = ColumnAcc::default();
            for m in members {
                match &m.statistics {
                    Some(s) => acc.add_table(s, i, schema.field(i).data_type()),
                    None => acc.add_array(),
                }
            }
            acc.finish(schema.field(i).data_type())
        })
        .collect();
    Statistics {
        num_rows: Precision::Exact(rows as usize),
        total_byte_size: Precision::Exact(bytes as usize),
        column_statistics: columns,
    }
}

/// Folds the chunk statistics of one column over all members.
#[derive(Default)]
struct ColumnAcc {
    /// Nulls so far; `None` once a chunk did not record them.
    nulls: Option<u64>,
    /// Bounds so far; `poisoned` once a chunk (or an array) has none.
    min: Option<ScalarValue>,
    max: Option<ScalarValue>,
    poisoned: bool,
    exact: bool,
    started: bool,
}

impl ColumnAcc {
    fn start(&mut self) {
        if !self.started {
            self.started = true;
            self.nulls = Some(0);
            self.exact = true;
        }
    }

    fn add_array(&mut self) {
        // Arrays hold no nulls; their values have no recorded bounds.
        self.start();
        self.poisoned = true;
    }

    fn add_table(&mut self, s: &TableStatistics, i: usize, t: &DataType) {
        self.start();
        let c = s.column(i);
        let counts = s.row_counts();
        let nulls = c.null_counts();
        for k in 0..s.num_chunks() {
            if nulls.is_null(k) {
                self.nulls = None;
                self.poisoned = true;
                continue;
            }
            let n = nulls.value(k);
            self.nulls = self.nulls.map(|x| x + n);
            if n == counts.value(k) {
                continue; // all null: no bounds to fold
            }
            let bound = |a: Option<&arrow_array::ArrayRef>| {
                let a = a.filter(|a| a.data_type() == t)?;
                if a.is_null(k) {
                    return None;
                }
                ScalarValue::try_from_array(a, k).ok()
            };
            match (bound(c.min()), bound(c.max())) {
                (Some(lo), Some(hi)) => {
                    self.exact &= c.min_exact().value(k) && c.max_exact().value(k);
                    if self
                        .min
                        .as_ref()
                        .is_none_or(|m| lo.partial_cmp(m).is_some_and(|o| o.is_lt()))
                    {
                        self.min = Some(lo);
                    }
                    if self
                        .max
                        .as_ref()
                        .is_none_or(|m| hi.partial_cmp(m).is_some_and(|o| o.is_gt()))
                    {
                        self.max = Some(hi);
                    }
                }
                _ => self.poisoned = true,
            }
        }
    }

    fn finish(self, t: &DataType) -> ColumnStatistics {
        // A NaN is never recorded as a bound, but max(x) of floats is NaN
        // when one is there: float bounds are only estimates.
        let float = matches!(t, DataType::Float16 | DataType::Float32 | DataType::Float64);
        let bound = |v: Option<ScalarValue>| match v {
            _ if self.poisoned => Precision::Absent,
            Some(v) if self.exact && !float => Precision::Exact(v),
            Some(v) => Precision::Inexact(v),
            None => Precision::Absent,
        };
        ColumnStatistics {
            null_count: match self.nulls {
                Some(n) => Precision::Exact(n as usize),
                None => Precision::Absent,
            },
            min_value: bound(self.min.clone()),
            max_value: bound(self.max.clone()),
            ..Default::default()
        }
    }
}

/// Makes [`MmarrowTable`]s for `CREATE EXTERNAL TABLE t STORED AS MMARROW
/// LOCATION 'path'` (one or more paths, each as [`MmarrowTable::open`]
/// takes it). Options: `tensor_layout` = `tensor` (the default),
/// `fixed_size_list` or `nested`. Registered by [`super::session_context`];
/// to add it to a `SessionStateBuilder` of your own, use
/// `with_table_factory("MMARROW", Arc::new(MmarrowTableFactory))`
/// (`with_table_factories` would drop the built-in formats).
#[derive(Debug, Default, Clone, Copy)]
pub struct MmarrowTableFactory;

#[async_trait]
impl TableProviderFactory for MmarrowTableFactory {
    async fn create(
        &self,
        _state: &dyn Session,
        cmd: &CreateExternalTable,
    ) -> Result<Arc<dyn TableProvider>> {
        let mut options = ScanOptions::default();
        for (k, v) in &cmd.options {
            match k.strip_prefix("format.").unwrap_or(k) {
                "tensor_layout" => options = options.tensor_layout(super::parse_layout(v)?),
                other => {
                    return Err(DataFusionError::Plan(format!(
                        "unknown option {other:?} for STORED AS MMARROW (known: tensor_layout)"
                    )))
                }
            }
        }
        if !cmd.table_partition_cols.is_empty() {
            return Err(DataFusionError::Plan(
                "STORED AS MMARROW does not take PARTITIONED BY".into(),
            ));
        }
        let table = MmarrowTable::open_with(&cmd.locations, options)
            .map_err(|e| DataFusionError::External(Box::new(e)))?;
        let declared = cmd.schema.as_arrow();
        if !declared.fields().is_empty() {
            let found = table.schema();
            let same = declared.fields().len() == found.fields().len()
                && declared
                    .fields()
                    .iter()
                    .zip(found.fields())
                    .all(|(a, b)| a.name() == b.name() && a.data_type() == b.data_type());
            if !same {
                return Err(DataFusionError::Plan(format!(
                    "the declared columns differ from the data's: {}",
                    found
                        .fields()
                        .iter()
                        .map(|f| format!("{} {}", f.name(), f.data_type()))
                        .collect::<Vec<_>>()
                        .join(", ")
                )));
            }
        }
        Ok(Arc::new(table))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shard_names_drop_the_number() {
        assert_eq!(shard_name("emb_007"), "emb");
        assert_eq!(shard_name("part-3"), "part");
        assert_eq!(shard_name("x"), "x");
        assert_eq!(shard_name("123"), "123");
    }
}
