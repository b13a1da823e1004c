//! One file of an mmarrow dataset: an array file or a table directory, as
//! the provider found it, and its reopening for a scan.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use arrow_array::{ArrayRef, RecordBatch, RecordBatchOptions};
use arrow_schema::{Field, Schema, SchemaRef};
use datafusion::physical_expr::PhysicalExpr;

use crate::error::{ErrorKind, Result};
use crate::table::{TableOptions, TableStatistics, CHUNK_ROWS};
use crate::{MmArray, Table};

/// What a member is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    /// A raw or `.npy` array file (one column, or one per column of a
    /// Fortran-order 2-D array).
    Array,
    /// A table directory.
    Table,
}

/// A member as the provider opened it.
#[derive(Debug)]
pub(super) struct Member {
    /// Absolute, as given after resolving the dataset (not canonicalised:
    /// a symlinked table directory stays where the user named it).
    pub path: PathBuf,
    /// `path` as an object-store path (the `PartitionedFile`'s location).
    pub location: object_store::path::Path,
    pub kind: Kind,
    /// Rows when opened: the rows every scan of this plan reads.
    pub rows: u64,
    /// Bytes of all columns' data.
    pub data_bytes: u64,
    /// The member's schema, with the dataset's column names.
    pub schema: SchemaRef,
    /// Per-chunk statistics (tables).
    pub statistics: Option<Arc<TableStatistics>>,
    /// Opens for scans, by projection: kept so that later scans map and
    /// validate nothing again (checked for shrunk files at each reuse).
    cache: Mutex<HashMap<Vec<usize>, Arc<Opened>>>,
    /// Which chunks static predicates (no dynamic filter in them) may
    /// match, newest last: the statistics never change for this member,
    /// so a predicate planned and scanned again (or by each partition) is
    /// evaluated over them once. At most [`KEPT_CACHE`] entries.
    kept: Mutex<Vec<KeptChunks>>,
}

/// A static predicate and which chunks it may match.
type KeptChunks = (Arc<dyn PhysicalExpr>, Arc<[bool]>);

/// Static predicates whose pruning a [`Member`] keeps.
const KEPT_CACHE: usize = 16;

/// A member opened for scans: its projected columns, mapped.
#[derive(Debug)]
pub(super) enum Opened {
    /// The array's projected columns, and the file length they need.
    Array {
        batch: RecordBatch,
        path: PathBuf,
        needs: u64,
    },
    Table(Box<Table>),
}

impl Member {
    /// Opens the member at `path` (absolute).
    pub fn open(path: &Path, options: super::ScanOptions) -> Result<Member> {
        let location = location_of(path)?;
        if path.is_dir() {
            let table = Table::open(path)?;
            let statistics = table.statistics()?;
            Ok(Member {
                path: path.to_path_buf(),
                location,
                kind: Kind::Table,
                rows: table.num_rows(),
                data_bytes: table.data_bytes(),
                schema: table.schema(),
                statistics: Some(Arc::new(statistics)),
                cache: Mutex::default(),
                kept: Mutex::default(),
            })
        } else {
            let array = crate::open(path)?;
            let batch = array.to_record_batch_with(options.arrow)?;
            Ok(Member {
                path: path.to_path_buf(),
                location,
                kind: Kind::Array,
                rows: array.len(),
                data_bytes: array.nbytes(),
                schema: batch.schema(),
                statistics: None,
                cache: Mutex::default(),
                kept: Mutex::default(),
            })
        }
    }

    /// Which chunks the static `predicate` may match (one flag per chunk),
    /// as `prune` computes it over this member's statistics: computed once
    /// per predicate and kept (see `kept`). `None`, and nothing kept, when
    /// `prune` gives `None` (no statistics, nothing to exclude, or an
    /// error it counted).
    pub fn kept_chunks(
        &self,
        predicate: &Arc<dyn PhysicalExpr>,
        prune: impl FnOnce(&TableStatistics) -> Option<Vec<bool>>,
    ) -> Option<Arc<[bool]>> {
        let stats = self.statistics.as_ref()?;
        let lock = || self.kept.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((_, k)) = lock().iter().find(|(p, _)| p == predicate) {
            return Some(k.clone());
        }
        let keep: Arc<[bool]> = prune(stats)?.into();
        let mut kept = lock();
        if kept.len() >= KEPT_CACHE {
            kept.remove(0);
        }
        kept.push((predicate.clone(), keep.clone()));
        Some(keep)
    }

    /// Rows per statistics chunk.
    pub fn chunk_rows(&self) -> u64 {
        self.statistics
            .as_ref()
            .map(|s| s.chunk_rows())
            .unwrap_or(CHUNK_ROWS)
    }

    /// The member with its columns named `names` (same count).
    pub fn renamed(mut self, names: &[String]) -> Member {
        let fields: Vec<Field> = self
            .schema
            .fields()
            .iter()
            .zip(names)
            .map(|(f, n)| f.as_ref().clone().with_name(n))
            .collect();
        self.schema = Arc::new(Schema::new(fields).with_metadata(self.schema.metadata().clone()));
        self
    }

    /// Columns `indices` (named `names` in the dataset) for a scan of the
    /// first `planned` rows, with the types `projected` says: mapped and
    /// validated by the first scan of this projection, reused by later
    /// ones after checking that no file shrank.
    ///
    /// # Errors
    /// [`ErrorKind::Changed`] when the member shrank below `planned` rows,
    /// a file shrank under its map, or a column changed type since the
    /// plan was made; open and validation errors.
    pub fn reopen(
        &self,
        indices: &[usize],
        names: &[String],
        projected: &SchemaRef,
        planned: u64,
        options: super::ScanOptions,
    ) -> Result<Arc<Opened>> {
        let cached = self
            .cache
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(indices)
            .cloned();
        if let Some(o) = cached {
            o.check_files()?;
            return Ok(o);
        }
        let opened = Arc::new(self.open_projection(indices, names, projected, planned, options)?);
        self.cache
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(indices.to_vec(), opened.clone());
        Ok(opened)
    }

    fn open_projection(
        &self,
        indices: &[usize],
        names: &[String],
        projected: &SchemaRef,
        planned: u64,
        options: super::ScanOptions,
    ) -> Result<Opened> {
        let (rows, schema, opened) = match self.kind {
            Kind::Table => {
                let table = TableOptions::new()
                    .project(&names_of(names))
                    .open(&self.path)?;
                (
                    table.num_rows(),
                    table.schema(),
                    Opened::Table(Box::new(table)),
                )
            }
            Kind::Array => {
                let array: MmArray = crate::open(&self.path)?;
                let batch = array
                    .to_record_batch_with(options.arrow)?
                    .project(indices)?;
                let needs = array.offset() + array.nbytes();
                let schema = batch.schema();
                (
                    array.len(),
                    schema,
                    Opened::Array {
                        batch,
                        path: self.path.clone(),
                        needs,
                    },
                )
            }
        };
        if rows < planned {
            return Err(ErrorKind::Changed {
                reason: format!("it has {rows} rows, the query was planned over {planned}"),
            }
            .at(&self.path));
        }
        for (found, want) in schema.fields().iter().zip(projected.fields()) {
            if found.data_type() != want.data_type() {
                return Err(ErrorKind::Changed {
                    reason: format!(
                        "column {:?} is {}, the query was planned with {}",
                        want.name(),
                        found.data_type(),
                        want.data_type()
                    ),
                }
                .at(&self.path));
            }
        }
        if let Opened::Table(t) = &opened {
            // Validated whole once (UTF-8, offsets...), so that the
            // slices of every later scan are checked by nothing.
            t.columns()?;
        }
        Ok(opened)
    }
}

fn names_of(names: &[String]) -> Vec<&str> {
    names.iter().map(|s| s.as_str()).collect()
}

impl Opened {
    /// Refuses files that shrank under their maps.
    fn check_files(&self) -> Result<()> {
        match self {
            Opened::Table(t) => t.check_files(),
            Opened::Array { path, needs, .. } => {
                let now = std::fs::metadata(path)
                    .map_err(|e| {
                        crate::Error::new(ErrorKind::Io {
                            op: "stat",
                            source: e,
                        })
                        .in_file(path)
                    })?
                    .len();
                if now < *needs {
                    return Err(ErrorKind::Changed {
                        reason: format!("it has {now} bytes, the array needs {needs}"),
                    }
                    .at(path));
                }
                Ok(())
            }
        }
    }

    /// Rows `rows` as a batch of schema `schema` (no copy).
    pub fn batch(&self, rows: std::ops::Range<u64>, schema: &SchemaRef) -> Result<RecordBatch> {
        let n = (rows.end - rows.start) as usize;
        let columns: Vec<ArrayRef> = match self {
            Opened::Array { batch, .. } => batch.slice(rows.start as usize, n).columns().to_vec(),
            Opened::Table(t) => t.slice(rows)?.columns().to_vec(),
        };
        let opts = RecordBatchOptions::new().with_row_count(Some(n));
        Ok(RecordBatch::try_new_with_options(
            schema.clone(),
            columns,
            &opts,
        )?)
    }
}

/// The object-store path of the absolute `path`.
///
/// # Errors
/// [`ErrorKind::InvalidRequest`] for a path that is not UTF-8 (object-store
/// paths are strings).
pub(super) fn location_of(path: &Path) -> Result<object_store::path::Path> {
    let mut parts = Vec::new();
    for c in path.components() {
        if let std::path::Component::Normal(s) = c {
            parts.push(s.to_str().ok_or_else(|| {
                ErrorKind::InvalidRequest {
                    reason: "DataFusion needs UTF-8 file names".into(),
                }
                .at(path)
            })?);
        }
    }
    Ok(parts.into_iter().collect())
}

/// The file an object-store path of [`location_of`] names.
pub(super) fn os_path(location: &object_store::path::Path) -> PathBuf {
    let mut p = PathBuf::from("/");
    for part in location.parts() {
        p.push(
            percent_encoding::percent_decode_str(part.as_ref())
                .decode_utf8_lossy()
                .as_ref(),
        );
    }
    p
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn object_store_paths_round_trip_odd_names() {
        for p in [
            "/tmp/a b/c%d/e..f/..g/#x",
            "/x/émb_000.npy",
            "/t/dir.with.dots",
        ] {
            let loc = location_of(Path::new(p)).unwrap();
            assert!(!loc.as_ref().starts_with('/'));
            assert_eq!(os_path(&loc), PathBuf::from(p), "{p} via {loc}");
        }
    }
}
