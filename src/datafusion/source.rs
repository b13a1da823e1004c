//! [`MmarrowSource`]: the [`FileSource`] of DataFusion's own file scan
//! (`DataSourceExec` over a `FileScanConfig`) for mmarrow arrays and tables.
//!
//! A scan's whole state is the `PartitionedFile`s (an absolute path, and a
//! size and range that count **rows**, see the module docs, "Rows") and this
//! source's fields (schema, projection, predicate, batch size): nothing
//! lives in `PartitionedFile::extensions`, which plan serialisation drops.
//! The members' statistics, kept from the provider's open, are a cache:
//! an opener that does not find a path there (a plan decoded in another
//! process) opens the member and reads them itself.

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use arrow_array::RecordBatch;
use arrow_schema::SchemaRef;
use datafusion::common::config::ConfigOptions;
use datafusion::common::tree_node::TreeNodeRecursion;
use datafusion::common::{DataFusionError, Result};
use datafusion::datasource::listing::PartitionedFile;
use datafusion::datasource::physical_plan::{
    FileGroup, FileOpenFuture, FileOpener, FileScanConfig, FileSource,
};
use datafusion::datasource::projection::{ProjectionOpener, SplitProjection};
use datafusion::datasource::table_schema::TableSchema;
use datafusion::physical_expr::expressions::Column;
use datafusion::physical_expr::projection::ProjectionExprs;
use datafusion::physical_expr::{conjunction, LexOrdering, PhysicalExpr};
use datafusion::physical_expr::{EquivalenceProperties, PhysicalSortExpr};
use datafusion::physical_expr_common::physical_expr::snapshot_generation;
use datafusion::physical_optimizer::pruning::{PruningPredicate, PruningPredicateBuilder};
use datafusion::physical_plan::filter_pushdown::{FilterPushdownPropagation, PushedDown};
use datafusion::physical_plan::metrics::{Count, ExecutionPlanMetricsSet, MetricBuilder};
use datafusion::physical_plan::{DisplayFormatType, SortOrderPushdownResult};
use futures::StreamExt;
use object_store::ObjectStore;

use super::member::{Member, Opened};
use super::rows;
use crate::table::TableStatistics;

/// The `file_type` of mmarrow scans in plans (`EXPLAIN`).
pub const FILE_TYPE: &str = "mmarrow";

/// The [`FileSource`] of mmarrow scans: maps the projected columns of
/// each file and hands out zero-copy slices of the session's batch size,
/// skipping chunks of rows whose statistics exclude the predicate
/// (including dynamic filters from TopK and joins, re-read at every
/// chunk). Built by [`super::MmarrowTable`]; public for plan codecs.
#[derive(Clone)]
pub struct MmarrowSource {
    table_schema: TableSchema,
    projection: SplitProjection,
    predicate: Option<Arc<dyn PhysicalExpr>>,
    batch_size: usize,
    metrics: ExecutionPlanMetricsSet,
    options: super::ScanOptions,
    /// The leading key of a sort above (TopK) to visit chunks in the order of.
    sort: Option<SortHint>,
    /// Members opened by the provider, by object-store path: a cache.
    members: Arc<HashMap<String, Arc<Member>>>,
}

impl fmt::Debug for MmarrowSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MmarrowSource")
            .field("schema", self.table_schema.file_schema())
            .field("file_indices", &self.projection.file_indices)
            .field("predicate", &self.predicate)
            .field("batch_size", &self.batch_size)
            .finish_non_exhaustive()
    }
}

impl MmarrowSource {
    /// A source over files of `schema`, read as `options` say, with no
    /// members known in advance (each opener opens its file).
    pub fn new(schema: SchemaRef, options: super::ScanOptions) -> Self {
        let table_schema = TableSchema::from(schema);
        Self {
            projection: SplitProjection::unprojected(&table_schema),
            table_schema,
            predicate: None,
            batch_size: 8192,
            metrics: ExecutionPlanMetricsSet::new(),
            options,
            sort: None,
            members: Arc::new(HashMap::new()),
        }
    }

    /// The source with the members the provider opened, by object-store
    /// path (openers reuse them instead of opening their files again).
    pub(super) fn with_members(mut self, members: &Arc<HashMap<String, Arc<Member>>>) -> Self {
        self.members = members.clone();
        self
    }

    /// The predicate kept for pruning (filters and dynamic filters pushed
    /// down), if any.
    pub fn predicate(&self) -> Option<&Arc<dyn PhysicalExpr>> {
        self.predicate.as_ref()
    }

    /// The pruning predicate for the predicate as it stands now (a
    /// dynamic filter still empty at planning), if it can exclude chunks.
    fn static_pruning_predicate(&self) -> Option<Arc<PruningPredicate>> {
        build_pruning(
            self.predicate.as_ref()?,
            self.table_schema.file_schema(),
            None,
        )
    }

    /// Which chunks of `member` the predicate as it stands now may match
    /// (`None`: no predicate, no statistics, or nothing to exclude).
    /// `built` holds the pruning predicate once built, for the next member;
    /// a static predicate's answer is kept by the member itself.
    fn chunks_kept(
        &self,
        member: &Member,
        built: &mut Option<Option<Arc<PruningPredicate>>>,
    ) -> Option<Arc<[bool]>> {
        let predicate = self.predicate.as_ref()?;
        let mut prune = |stats: &TableStatistics| {
            let pruning = built
                .get_or_insert_with(|| self.static_pruning_predicate())
                .clone()?;
            pruning.prune(&ChunkStatistics::all(stats)).ok()
        };
        if snapshot_generation(predicate) == 0 {
            member.kept_chunks(predicate, prune)
        } else {
            prune(member.statistics.as_ref()?).map(Into::into)
        }
    }

    /// Chunks the predicate as it stands now excludes, and chunks in all,
    /// over the members this source knows (for `EXPLAIN`).
    fn static_pruning(&self) -> Option<(usize, usize)> {
        let mut built = None;
        let (mut skipped, mut all, mut any) = (0, 0, false);
        for m in self.members.values() {
            if let Some(keep) = self.chunks_kept(m, &mut built) {
                any = true;
                all += keep.len();
                skipped += keep.iter().filter(|k| !**k).count();
            }
        }
        any.then_some((skipped, all))
    }
}

/// A pruning predicate for `predicate` as it stands now (a dynamic filter
/// is snapshot), or `None` when it cannot exclude anything.
fn build_pruning(
    predicate: &Arc<dyn PhysicalExpr>,
    schema: &SchemaRef,
    errors: Option<&Count>,
) -> Option<Arc<PruningPredicate>> {
    let mut b = PruningPredicateBuilder::new().with_file_schema(schema.clone());
    if let Some(e) = errors {
        b = b.with_error_counter(e);
    }
    b.build(predicate.clone())
}

impl FileSource for MmarrowSource {
    fn create_file_opener(
        &self,
        _object_store: Arc<dyn ObjectStore>,
        base_config: &FileScanConfig,
        partition: usize,
    ) -> Result<Arc<dyn FileOpener>> {
        let file_schema = self.table_schema.file_schema().clone();
        let projected = Arc::new(file_schema.project(&self.projection.file_indices)?);
        let m = MetricBuilder::new(&self.metrics);
        let opener = Arc::new(MmarrowOpener {
            file_schema: file_schema.clone(),
            file_indices: self.projection.file_indices.clone(),
            projected,
            predicate: self.predicate.clone(),
            batch_size: self.batch_size.max(1),
            limit: base_config.limit,
            options: self.options,
            members: self.members.clone(),
            sort: self.sort.clone(),
            metrics: Metrics {
                chunks_scanned: m.clone().counter("chunks_scanned", partition),
                chunks_pruned: MetricBuilder::new(&self.metrics)
                    .counter("chunks_pruned_statistics", partition),
                rows_pruned: MetricBuilder::new(&self.metrics)
                    .counter("rows_pruned_statistics", partition),
                predicate_errors: MetricBuilder::new(&self.metrics)
                    .counter("predicate_evaluation_errors", partition),
            },
        });
        ProjectionOpener::try_new(self.projection.clone(), opener, &file_schema)
    }

    fn table_schema(&self) -> &TableSchema {
        &self.table_schema
    }

    fn with_batch_size(&self, batch_size: usize) -> Arc<dyn FileSource> {
        Arc::new(Self {
            batch_size,
            ..self.clone()
        })
    }

    fn filter(&self) -> Option<Arc<dyn PhysicalExpr>> {
        self.predicate.clone()
    }

    fn projection(&self) -> Option<&ProjectionExprs> {
        Some(&self.projection.source)
    }

    fn metrics(&self) -> &ExecutionPlanMetricsSet {
        &self.metrics
    }

    fn file_type(&self) -> &str {
        FILE_TYPE
    }

    fn fmt_extra(&self, t: DisplayFormatType, f: &mut fmt::Formatter) -> fmt::Result {
        match t {
            DisplayFormatType::Default | DisplayFormatType::Verbose => {
                if let Some(p) = &self.predicate {
                    write!(f, ", predicate={p}")?;
                    if let Some((skipped, all)) = self.static_pruning() {
                        write!(
                            f,
                            ", pruning={skipped} of {all} chunks skipped by statistics"
                        )?;
                    }
                }
                Ok(())
            }
            DisplayFormatType::TreeRender => {
                if let Some(p) = &self.predicate {
                    writeln!(f, "predicate={p}")?;
                }
                Ok(())
            }
        }
    }

    /// Splits the files into `target_partitions` groups of whole chunks of
    /// rows, in order (ranges count rows: see the module docs, "Rows"),
    /// sharing out the chunks the pushed-down predicate leaves to read (by
    /// rows when statistics leave under two chunks).
    fn repartitioned(
        &self,
        target_partitions: usize,
        _repartition_file_min_size: usize,
        _output_ordering: Option<LexOrdering>,
        config: &FileScanConfig,
    ) -> Result<Option<FileScanConfig>> {
        let files: Vec<PartitionedFile> = config
            .file_groups
            .iter()
            .flat_map(|g| g.iter().cloned())
            .collect();
        // Rows of the chunks the predicate as it stands now (a dynamic
        // filter is still empty) leaves to read, per file.
        let mut built = None;
        let keep: Vec<Option<(u64, Arc<[bool]>)>> = files
            .iter()
            .map(|f| {
                let member = self.members.get(f.object_meta.location.as_ref())?;
                Some((member.chunk_rows(), self.chunks_kept(member, &mut built)?))
            })
            .collect();
        let kept = |i: usize, r: &std::ops::Range<u64>| match &keep[i] {
            Some((chunk_rows, k)) => rows::pieces(r.clone(), *chunk_rows)
                .into_iter()
                .filter(|(c, _)| k.get(*c).copied().unwrap_or(true))
                .map(|(_, p)| p.end - p.start)
                .sum(),
            None => r.end - r.start,
        };
        match rows::split(&files, target_partitions, kept) {
            Some(groups) => {
                let mut c = config.clone();
                c.file_groups = groups.into_iter().map(FileGroup::new).collect();
                Ok(Some(c))
            }
            None => Ok(None),
        }
    }

    /// Keeps every filter for pruning chunks and answers `No`: DataFusion
    /// keeps its `FilterExec` (statistics exclude chunks, never rows).
    fn try_pushdown_filters(
        &self,
        filters: Vec<Arc<dyn PhysicalExpr>>,
        _config: &ConfigOptions,
    ) -> Result<FilterPushdownPropagation<Arc<dyn FileSource>>> {
        let n = filters.len();
        if n == 0 {
            return Ok(FilterPushdownPropagation::with_parent_pushdown_result(
                vec![],
            ));
        }
        let mut source = self.clone();
        let all = self.predicate.clone().into_iter().chain(filters);
        source.predicate = Some(conjunction(all));
        Ok(
            FilterPushdownPropagation::with_parent_pushdown_result(vec![PushedDown::No; n])
                .with_updated_node(Arc::new(source) as _),
        )
    }

    /// Answers `Inexact` when the sort's leading key is a column: chunks
    /// are then visited in the order of its statistics (see `reorder`),
    /// and DataFusion still sorts.
    fn try_pushdown_sort(
        &self,
        order: &[PhysicalSortExpr],
        _eq_properties: &EquivalenceProperties,
    ) -> Result<SortOrderPushdownResult<Arc<dyn FileSource>>> {
        let Some(first) = order.first() else {
            return Ok(SortOrderPushdownResult::Unsupported);
        };
        let Some(col) = first.expr.downcast_ref::<Column>() else {
            return Ok(SortOrderPushdownResult::Unsupported);
        };
        // A wrong guess (a projection that renames) only costs speed:
        // the order is a hint, DataFusion sorts regardless.
        if self
            .table_schema
            .file_schema()
            .index_of(col.name())
            .is_err()
        {
            return Ok(SortOrderPushdownResult::Unsupported);
        }
        let mut source = self.clone();
        source.sort = Some(SortHint {
            column: col.name().to_string(),
            descending: first.options.descending,
        });
        Ok(SortOrderPushdownResult::Inexact {
            inner: Arc::new(source),
        })
    }

    fn try_pushdown_projection(
        &self,
        projection: &ProjectionExprs,
    ) -> Result<Option<Arc<dyn FileSource>>> {
        let mut source = self.clone();
        source.projection = SplitProjection::new(
            self.table_schema.file_schema(),
            &source.projection.source.try_merge(projection)?,
        );
        Ok(Some(Arc::new(source)))
    }

    fn apply_expressions(
        &self,
        f: &mut dyn FnMut(&Arc<dyn PhysicalExpr>) -> Result<TreeNodeRecursion>,
    ) -> Result<TreeNodeRecursion> {
        if let Some(p) = &self.predicate {
            if f(p)? == TreeNodeRecursion::Stop {
                return Ok(TreeNodeRecursion::Stop);
            }
        }
        datafusion::physical_plan::apply_expression_roots(self.projection.source.iter(), f)
    }
}

#[derive(Clone)]
struct Metrics {
    chunks_scanned: Count,
    chunks_pruned: Count,
    rows_pruned: Count,
    predicate_errors: Count,
}

/// Opens one member (or row range of one) and streams its batches.
struct MmarrowOpener {
    file_schema: SchemaRef,
    file_indices: Vec<usize>,
    /// `file_schema` projected to `file_indices`: the batches' schema.
    projected: SchemaRef,
    predicate: Option<Arc<dyn PhysicalExpr>>,
    batch_size: usize,
    limit: Option<usize>,
    options: super::ScanOptions,
    members: Arc<HashMap<String, Arc<Member>>>,
    metrics: Metrics,
    sort: Option<SortHint>,
}

impl FileOpener for MmarrowOpener {
    fn open(&self, file: PartitionedFile) -> Result<FileOpenFuture> {
        let location = file.object_meta.location.to_string();
        let known = self.members.get(&location).cloned();
        let planned_rows = file.object_meta.size;
        let range = rows::of(&file);
        let indices = self.file_indices.clone();
        let names: Vec<String> = self
            .file_indices
            .iter()
            .map(|&i| self.file_schema.field(i).name().clone())
            .collect();
        let (file_schema, projected) = (self.file_schema.clone(), self.projected.clone());
        let (predicate, options, sort) = (self.predicate.clone(), self.options, self.sort.clone());
        let (batch_size, limit, metrics) = (self.batch_size, self.limit, self.metrics.clone());
        Ok(Box::pin(async move {
            let path = match &known {
                Some(m) => m.path.clone(),
                None => super::member::os_path(&file.object_meta.location),
            };
            let member = match known {
                Some(m) => m,
                None => Arc::new(Member::open(&path, options).map_err(external)?),
            };
            let opened = member
                .reopen(&indices, &names, &projected, planned_rows, options)
                .map_err(external)?;
            let range = range.start.min(planned_rows)..range.end.min(planned_rows);
            let mut pieces = rows::pieces(range, member.chunk_rows());
            let window = match (pieces.first(), pieces.last()) {
                (Some(a), Some(b)) => a.0..b.0 + 1,
                _ => 0..0,
            };
            if let (Some(sort), Some(stats)) = (&sort, &member.statistics) {
                reorder(&mut pieces, stats, sort);
            }
            let scan = Scan {
                opened,
                projected,
                stats: member.statistics.clone(),
                pruning: Pruning::new(
                    predicate,
                    file_schema,
                    metrics.predicate_errors.clone(),
                    member.clone(),
                ),
                pieces,
                window,
                next_piece: 0,
                cursor: None,
                batch_size: batch_size as u64,
                remaining: limit.map(|l| l as u64),
                metrics,
            };
            Ok(futures::stream::iter(scan).boxed())
        }))
    }
}

fn external(e: crate::Error) -> DataFusionError {
    DataFusionError::External(Box::new(e))
}

/// The predicate, and which chunks its current snapshot excludes.
struct Pruning {
    predicate: Option<Arc<dyn PhysicalExpr>>,
    schema: SchemaRef,
    errors: Count,
    /// The member scanned: it keeps the answers for static predicates.
    member: Arc<Member>,
    /// The predicate's generation when `keep` was computed.
    generation: Option<u64>,
    /// From which chunk on, which chunks may match.
    keep: Option<(usize, Arc<[bool]>)>,
}

impl Pruning {
    fn new(
        predicate: Option<Arc<dyn PhysicalExpr>>,
        schema: SchemaRef,
        errors: Count,
        member: Arc<Member>,
    ) -> Self {
        Self {
            predicate,
            schema,
            errors,
            member,
            generation: None,
            keep: None,
        }
    }

    /// Whether chunk `i` may hold rows the predicate accepts, as the
    /// predicate stands now (a dynamic filter tightens as the query runs).
    /// A new snapshot of a dynamic predicate is evaluated over the chunks
    /// of `window` (those this scan reads) only; a static predicate's
    /// answer over all chunks is the member's, computed once.
    fn may_match(
        &mut self,
        stats: &TableStatistics,
        i: usize,
        window: &std::ops::Range<usize>,
    ) -> bool {
        let Some(p) = &self.predicate else {
            return true;
        };
        let g = snapshot_generation(p);
        if self.generation != Some(g) {
            self.generation = Some(g);
            let (schema, errors) = (&self.schema, &self.errors);
            let prune = |chunks: ChunkStatistics| {
                build_pruning(p, schema, Some(errors))?
                    .prune(&chunks)
                    .inspect_err(|_| errors.add(1))
                    .ok()
            };
            self.keep = if g == 0 {
                self.member
                    .kept_chunks(p, |stats| prune(ChunkStatistics::all(stats)))
                    .map(|keep| (0, keep))
            } else {
                let chunks = ChunkStatistics {
                    stats,
                    window: window.clone(),
                };
                prune(chunks).map(|keep| (window.start, keep.into()))
            };
        }
        match &self.keep {
            Some((first, keep)) => i
                .checked_sub(*first)
                .and_then(|k| keep.get(k).copied())
                .unwrap_or(true),
            None => true,
        }
    }
}

/// Visits the pieces of a scan in the order of their chunks' statistics
/// for `sort` (a column and whether descending): largest maximum first for
/// a descending sort, smallest minimum first for an ascending one, chunks
/// without statistics last. A TopK above then meets its best rows first
/// and its dynamic filter excludes the other chunks sooner.
fn reorder(pieces: &mut [(usize, std::ops::Range<u64>)], stats: &TableStatistics, sort: &SortHint) {
    let Some(c) = stats.column_by_name(&sort.column) else {
        return;
    };
    let bounds = if sort.descending { c.max() } else { c.min() };
    let Some(bounds) = bounds.filter(|a| a.data_type() == c.field().data_type()) else {
        return;
    };
    let key = |chunk: usize| -> Option<datafusion::common::ScalarValue> {
        (chunk < bounds.len() && !bounds.is_null(chunk))
            .then(|| datafusion::common::ScalarValue::try_from_array(bounds, chunk).ok())
            .flatten()
    };
    let mut keyed: Vec<_> = pieces.iter().cloned().map(|p| (key(p.0), p)).collect();
    keyed.sort_by(|(a, _), (b, _)| match (a, b) {
        (Some(a), Some(b)) => {
            let o = a.partial_cmp(b).unwrap_or(std::cmp::Ordering::Equal);
            if sort.descending {
                o.reverse()
            } else {
                o
            }
        }
        (Some(_), None) => std::cmp::Ordering::Less,
        (None, Some(_)) => std::cmp::Ordering::Greater,
        (None, None) => std::cmp::Ordering::Equal,
    });
    for (slot, (_, p)) in pieces.iter_mut().zip(keyed) {
        *slot = p;
    }
}

/// The leading key of a sort the plan asked the scan to approximate.
#[derive(Debug, Clone, PartialEq, Eq)]
struct SortHint {
    column: String,
    descending: bool,
}

/// The batches of one opened member's row range.
struct Scan {
    opened: Arc<Opened>,
    projected: SchemaRef,
    stats: Option<Arc<TableStatistics>>,
    pruning: Pruning,
    /// Row ranges of at most one statistics chunk each, with its index.
    pieces: Vec<(usize, std::ops::Range<u64>)>,
    /// The chunks the pieces lie in (first..last + 1).
    window: std::ops::Range<usize>,
    next_piece: usize,
    /// The piece being cut into batches: its rows still to hand out.
    cursor: Option<std::ops::Range<u64>>,
    batch_size: u64,
    /// Rows the limit still allows (a hint: `FileStream` enforces it).
    remaining: Option<u64>,
    metrics: Metrics,
}

impl Iterator for Scan {
    type Item = Result<RecordBatch>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.remaining == Some(0) {
            return None;
        }
        loop {
            if let Some(c) = self.cursor.as_mut() {
                if c.start < c.end {
                    let end = c.end.min(c.start + self.batch_size);
                    let rows = c.start..end;
                    c.start = end;
                    if let Some(r) = self.remaining.as_mut() {
                        *r = r.saturating_sub(rows.end - rows.start);
                    }
                    return Some(self.opened.batch(rows, &self.projected).map_err(external));
                }
                self.cursor = None;
            }
            let (chunk, piece) = self.pieces.get(self.next_piece)?.clone();
            self.next_piece += 1;
            if let Some(stats) = &self.stats {
                if !self.pruning.may_match(stats, chunk, &self.window) {
                    self.metrics.chunks_pruned.add(1);
                    self.metrics
                        .rows_pruned
                        .add((piece.end - piece.start) as usize);
                    continue;
                }
            }
            self.metrics.chunks_scanned.add(1);
            self.cursor = Some(piece);
        }
    }
}

/// A table's chunk statistics as DataFusion's pruning reads them: one
/// container per chunk of `window`.
struct ChunkStatistics<'a> {
    stats: &'a TableStatistics,
    window: std::ops::Range<usize>,
}

impl<'a> ChunkStatistics<'a> {
    fn all(stats: &'a TableStatistics) -> Self {
        ChunkStatistics {
            stats,
            window: 0..stats.num_chunks(),
        }
    }

    fn cut(&self, a: &arrow_array::ArrayRef) -> arrow_array::ArrayRef {
        a.slice(self.window.start, self.window.len())
    }
}

impl datafusion::common::pruning::PruningStatistics for ChunkStatistics<'_> {
    fn min_values(&self, column: &datafusion::common::Column) -> Option<arrow_array::ArrayRef> {
        let c = self.stats.column_by_name(&column.name)?;
        c.min()
            .filter(|a| a.data_type() == c.field().data_type())
            .map(|a| self.cut(a))
    }

    fn max_values(&self, column: &datafusion::common::Column) -> Option<arrow_array::ArrayRef> {
        let c = self.stats.column_by_name(&column.name)?;
        c.max()
            .filter(|a| a.data_type() == c.field().data_type())
            .map(|a| self.cut(a))
    }

    fn num_containers(&self) -> usize {
        self.window.len()
    }

    fn null_counts(&self, column: &datafusion::common::Column) -> Option<arrow_array::ArrayRef> {
        let c = self.stats.column_by_name(&column.name)?;
        Some(self.cut(&(Arc::new(c.null_counts().clone()) as _)))
    }

    fn row_counts(&self) -> Option<arrow_array::ArrayRef> {
        Some(self.cut(&(Arc::new(self.stats.row_counts()) as _)))
    }

    fn contained(
        &self,
        _column: &datafusion::common::Column,
        _values: &std::collections::HashSet<datafusion::common::ScalarValue>,
    ) -> Option<arrow_array::BooleanArray> {
        None
    }
}
