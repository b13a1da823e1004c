//! The commit log (docs/FORMAT.md §5.6): one JSON line per commit, with
//! the crc32c of every byte range the commit added to a file and the
//! statistics of the chunks of rows it touched. Append-only, like the
//! column files: the manifest records its committed length and the crc32c
//! of that prefix, so a commit costs what it adds, and `verify` recomputes
//! every range.

use std::fs::File;
use std::path::{Path, PathBuf};

use arrow_schema::{DataType, FieldRef};
use serde_json::{json, Map, Value};

use super::manifest::{resolve_in, LogInfo, Manifest};
use super::stats::{self, Bound, ChunkStat, TableStatistics};
use crate::error::{Error, ErrorKind, Result};
use crate::fault;
use crate::fsutil::{open_rw, FileExt};

/// The commit log's file name inside a table directory.
pub const LOG_NAME: &str = "commits.log";
/// Commit logs larger than this are refused before being read.
const MAX_LOG_BYTES: u64 = 1 << 30;
/// Statistics chunks a table may have (2^40 rows in chunks of 65,536): the
/// statistics arrays have one element per chunk.
const MAX_CHUNKS: u64 = 1 << 24;

/// The crc32c of one byte range a commit added to (or, for a bitmap's
/// last partial byte, rewrote in) a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RangeSum {
    pub file: String,
    pub start: u64,
    pub end: u64,
    pub crc32c: u32,
    /// For bitmaps whose last byte is partial: its committed bits (1–7);
    /// the checksum covers that byte with the other bits cleared, because
    /// later appends fill them in. 0: every byte whole.
    pub last_bits: u8,
}

impl RangeSum {
    fn to_json(&self) -> Value {
        let mut m = Map::new();
        m.insert("file".into(), self.file.clone().into());
        m.insert("start".into(), self.start.into());
        m.insert("end".into(), self.end.into());
        m.insert("crc32c".into(), self.crc32c.into());
        if self.last_bits != 0 {
            m.insert("last_bits".into(), self.last_bits.into());
        }
        Value::Object(m)
    }

    fn from_json(v: &Value) -> Option<RangeSum> {
        let n = |k: &str| v.get(k).and_then(Value::as_u64);
        let r = RangeSum {
            file: v.get("file")?.as_str()?.to_string(),
            start: n("start")?,
            end: n("end")?,
            crc32c: u32::try_from(n("crc32c")?).ok()?,
            last_bits: u8::try_from(n("last_bits").unwrap_or(0)).ok()?,
        };
        (r.start <= r.end && r.last_bits < 8 && super::node::check_file_name(&r.file).is_ok())
            .then_some(r)
    }
}

/// The statistics of the rows of one chunk that one commit added.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ChunkPart {
    pub chunk: u64,
    pub rows: u64,
    /// One per column of the manifest.
    pub columns: Vec<ChunkStat>,
}

/// One commit's record.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Record {
    pub rows: (u64, u64),
    pub sums: Vec<RangeSum>,
    pub chunks: Vec<ChunkPart>,
}

impl Record {
    /// The record as one line of JSON (with its newline).
    pub(crate) fn to_line(&self, fields: &[FieldRef]) -> String {
        let chunks: Vec<Value> = self
            .chunks
            .iter()
            .map(|c| {
                let cols: Vec<Value> = c
                    .columns
                    .iter()
                    .zip(fields)
                    .map(|(s, f)| stat_to_json(s, f.data_type()))
                    .collect();
                json!({"chunk": c.chunk, "rows": c.rows, "columns": cols})
            })
            .collect();
        let doc = json!({
            "rows": [self.rows.0, self.rows.1],
            "checksums": self.sums.iter().map(RangeSum::to_json).collect::<Vec<_>>(),
            "chunks": chunks,
        });
        serde_json::to_string(&doc).expect("record serializes") + "\n"
    }

    fn from_line(line: &[u8], fields: &[FieldRef]) -> std::result::Result<Record, String> {
        let v: Value = serde_json::from_slice(line).map_err(|e| format!("not JSON: {e}"))?;
        let rows = v
            .get("rows")
            .and_then(Value::as_array)
            .and_then(|r| Some((r.first()?.as_u64()?, r.get(1)?.as_u64()?)))
            .filter(|(a, b)| a <= b)
            .ok_or("invalid rows")?;
        let sums = v
            .get("checksums")
            .and_then(Value::as_array)
            .ok_or("missing checksums")?
            .iter()
            .map(|s| RangeSum::from_json(s).ok_or(format!("invalid checksum {s}")))
            .collect::<std::result::Result<Vec<_>, _>>()?;
        let chunks = v
            .get("chunks")
            .and_then(Value::as_array)
            .ok_or("missing chunks")?
            .iter()
            .map(|c| {
                let n = |k: &str| c.get(k).and_then(Value::as_u64);
                let cols = c.get("columns").and_then(Value::as_array);
                match (n("chunk"), n("rows"), cols) {
                    (Some(chunk), Some(rows), Some(cols)) if cols.len() == fields.len() => {
                        let columns = cols
                            .iter()
                            .zip(fields)
                            .map(|(s, f)| stat_from_json(s, f.data_type()))
                            .collect::<Option<Vec<_>>>()
                            .ok_or(format!("invalid statistics in chunk {chunk}"))?;
                        Ok(ChunkPart {
                            chunk,
                            rows,
                            columns,
                        })
                    }
                    _ => Err(format!("invalid chunk {c}")),
                }
            })
            .collect::<std::result::Result<Vec<_>, String>>()?;
        Ok(Record { rows, sums, chunks })
    }
}

fn stat_to_json(s: &ChunkStat, t: &DataType) -> Value {
    let mut m = Map::new();
    m.insert("nulls".into(), s.nulls.into());
    for (key, b) in [("min", &s.min), ("max", &s.max)] {
        if let Some(b) = b {
            m.insert(key.into(), stats::scalar_to_json(&b.value, t));
            if !b.exact {
                m.insert(format!("{key}_exact"), false.into());
            }
        }
    }
    Value::Object(m)
}

fn stat_from_json(v: &Value, t: &DataType) -> Option<ChunkStat> {
    let bound = |key: &str| -> Option<Option<Bound>> {
        match v.get(key) {
            None => Some(None),
            Some(x) => Some(Some(Bound {
                value: stats::scalar_from_json(x, t)?,
                exact: v
                    .get(format!("{key}_exact"))
                    .and_then(Value::as_bool)
                    .unwrap_or(true),
            })),
        }
    };
    Some(ChunkStat {
        nulls: v.get("nulls")?.as_u64()?,
        min: bound("min")?,
        max: bound("max")?,
    })
}

/// The commit log being appended to by a table writer.
#[derive(Debug)]
pub(crate) struct LogWriter {
    file: File,
    path: PathBuf,
    /// What the last commit recorded.
    pub info: LogInfo,
}

impl LogWriter {
    /// Starts a log for a table with `since` committed rows whose manifest
    /// names the files `taken` (a stale log file no manifest names, left
    /// by a crash, is replaced; a column file of that name never is: a v1
    /// table may name anything, and the log then takes another name).
    pub(crate) fn create(dir: &Path, since: u64, taken: &[&str]) -> Result<LogWriter> {
        let name = (0..)
            .map(|k| match k {
                0 => LOG_NAME.to_string(),
                k => format!("commits.{k}.log"),
            })
            .find(|n| !taken.contains(&n.as_str()))
            .expect("a free name");
        let path = dir.join(&name);
        let file = open_rw(&path, true, "open commit log")?;
        Ok(LogWriter {
            file,
            path,
            info: LogInfo {
                file: name,
                length: 0,
                crc32c: 0,
                chunk_rows: stats::CHUNK_ROWS,
                since,
            },
        })
    }

    /// Opens the committed log, cutting what a crashed writer appended.
    pub(crate) fn open(dir: &Path, info: &LogInfo) -> Result<LogWriter> {
        let path = dir.join(&info.file);
        let file = open_rw(&path, false, "open commit log")?;
        let len = file
            .metadata()
            .map_err(|e| Error::io(&path, "stat", e))?
            .len();
        if len < info.length {
            return Err(ErrorKind::InvalidManifest {
                reason: format!(
                    "commit log has {len} bytes, the manifest records {}",
                    info.length
                ),
            }
            .at(path));
        }
        file.set_len(info.length)
            .map_err(|e| Error::io(&path, "truncate", e))?;
        Ok(LogWriter {
            file,
            path,
            info: info.clone(),
        })
    }

    /// Appends `line` past the committed length (and fsyncs it when
    /// `durable`); returns what the manifest must record for it to be
    /// committed. Nothing changes on failure: the next append overwrites.
    pub(crate) fn append(&mut self, line: &str, durable: bool) -> Result<LogInfo> {
        let bytes = line.as_bytes();
        fault::point("table.log_append", &self.path)
            .and_then(|()| self.file.write_all_at(bytes, self.info.length))
            .map_err(|e| Error::io(&self.path, "append commit log", e))?;
        if durable {
            fault::point("table.fsync", &self.path)
                .and_then(|()| self.file.sync_data())
                .map_err(|e| Error::io(&self.path, "fsync", e))?;
        }
        Ok(LogInfo {
            length: self.info.length + bytes.len() as u64,
            crc32c: crc32c::crc32c_append(self.info.crc32c, bytes),
            ..self.info.clone()
        })
    }
}

/// Reads and checks the committed records of the log: its length and
/// crc32c as the manifest records them, each record's rows following the
/// previous one's.
pub(crate) fn read(dir: &Path, manifest: &Manifest) -> Result<Vec<Record>> {
    let Some(info) = &manifest.log else {
        return Ok(Vec::new());
    };
    let canonical = dir
        .canonicalize()
        .map_err(|e| Error::io(dir, "resolve directory", e))?;
    let path = resolve_in(dir, &canonical, &info.file)?;
    let bad = |reason: String| ErrorKind::InvalidManifest { reason }.at(path.clone());
    if info.length > MAX_LOG_BYTES {
        return Err(bad(format!("commit log larger than {MAX_LOG_BYTES} bytes")));
    }
    let file = crate::fsutil::open_regular(&path, false)?;
    let have = file
        .metadata()
        .map_err(|e| Error::io(&path, "stat", e))?
        .len();
    if have < info.length {
        return Err(bad(format!(
            "commit log is shorter ({have} bytes) than the {} bytes the manifest records",
            info.length
        )));
    }
    let mut bytes = vec![0u8; info.length as usize];
    file.read_exact_at(&mut bytes, 0)
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::UnexpectedEof => bad(format!(
                "commit log is shorter than the {} bytes the manifest records",
                info.length
            )),
            _ => Error::io(&path, "read commit log", e),
        })?;
    if crc32c::crc32c(&bytes) != info.crc32c {
        return Err(bad(
            "commit log does not match the checksum the manifest records".into(),
        ));
    }
    let fields: Vec<FieldRef> = manifest
        .columns
        .iter()
        .map(|c| std::sync::Arc::new(c.field.clone()))
        .collect();
    let mut next = info.since;
    let mut records = Vec::new();
    for (i, line) in bytes.split_inclusive(|&b| b == b'\n').enumerate() {
        let r = Record::from_line(line, &fields)
            .map_err(|e| bad(format!("commit log record {i}: {e}")))?;
        if r.rows.0 != next || r.rows.1 > manifest.rows {
            return Err(bad(format!(
                "commit log record {i}: rows {}..{} do not follow row {next}",
                r.rows.0, r.rows.1
            )));
        }
        next = r.rows.1;
        records.push(r);
    }
    if next != manifest.rows {
        return Err(bad(format!(
            "commit log ends at row {next}, the manifest commits {}",
            manifest.rows
        )));
    }
    Ok(records)
}

/// The per-chunk statistics of `columns` (positions in the manifest).
pub(crate) fn statistics(
    dir: &Path,
    manifest: &Manifest,
    columns: &[usize],
) -> Result<TableStatistics> {
    let records = read(dir, manifest)?;
    let chunk_rows = manifest
        .log
        .as_ref()
        .map_or(stats::CHUNK_ROWS, |l| l.chunk_rows);
    let chunks = manifest.rows.div_ceil(chunk_rows);
    if chunks > MAX_CHUNKS {
        return Err(ErrorKind::InvalidManifest {
            reason: format!(
                "{} rows in chunks of {chunk_rows} make {chunks} statistics chunks, more than the {MAX_CHUNKS} a table may have",
                manifest.rows
            ),
        }
        .at(dir.join(super::MANIFEST_NAME)));
    }
    let n = chunks as usize;
    // Per chunk: rows seen and each column's merged statistics.
    let mut seen = vec![0u64; n];
    let mut merged: Vec<Vec<ChunkStat>> = vec![vec![ChunkStat::default(); columns.len()]; n];
    for r in records {
        for part in r.chunks {
            let Some(i) = usize::try_from(part.chunk).ok().filter(|&i| i < n) else {
                continue;
            };
            seen[i] += part.rows;
            let mut cols: Vec<Option<ChunkStat>> = part.columns.into_iter().map(Some).collect();
            for (slot, &c) in merged[i].iter_mut().zip(columns) {
                if let Some(s) = cols.get_mut(c).and_then(Option::take) {
                    slot.merge(s);
                }
            }
        }
    }
    let fields: Vec<FieldRef> = columns
        .iter()
        .map(|&c| std::sync::Arc::new(manifest.columns[c].field.clone()))
        .collect();
    // A chunk is known only when every one of its rows was recorded.
    let per_column: Vec<Vec<Option<ChunkStat>>> = (0..columns.len())
        .map(|c| {
            (0..n)
                .map(|i| {
                    let start = i as u64 * chunk_rows;
                    let want = (start + chunk_rows).min(manifest.rows) - start;
                    (seen[i] == want).then(|| merged[i][c].clone())
                })
                .collect()
        })
        .collect();
    Ok(stats::build(
        chunk_rows,
        manifest.rows,
        &fields,
        &per_column,
    ))
}

/// What [`crate::table::verify_checksums`] checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ChecksumReport {
    /// Byte ranges checked.
    pub ranges: u64,
    /// Bytes they cover.
    pub bytes: u64,
    /// Committed bytes of the column files no checksum covers (rows
    /// committed before the table had a commit log).
    pub unchecked_bytes: u64,
}

/// Recomputes the crc32c of every byte range the commit log records.
pub(crate) fn verify(dir: &Path, manifest: &Manifest) -> Result<ChecksumReport> {
    let records = read(dir, manifest)?;
    let canonical = dir
        .canonicalize()
        .map_err(|e| Error::io(dir, "resolve directory", e))?;
    let mut report = ChecksumReport::default();
    let mut covered: std::collections::HashMap<&str, Vec<(u64, u64)>> = Default::default();
    let mut buf = vec![0u8; 1 << 20];
    // Each file opened once, however many commits grew it.
    let mut files: std::collections::HashMap<&str, (PathBuf, File)> = Default::default();
    for r in &records {
        for s in &r.sums {
            if !files.contains_key(s.file.as_str()) {
                let path = resolve_in(dir, &canonical, &s.file)?;
                let file = crate::fsutil::open_regular(&path, false)?;
                files.insert(s.file.as_str(), (path, file));
            }
            let (path, file) = &files[s.file.as_str()];
            let mut crc = 0u32;
            let mut at = s.start;
            while at < s.end {
                let n = ((s.end - at) as usize).min(buf.len());
                file.read_exact_at(&mut buf[..n], at)
                    .map_err(|e| match e.kind() {
                        std::io::ErrorKind::UnexpectedEof => ErrorKind::InvalidManifest {
                            reason: format!(
                                "bytes {}..{} were committed but the file ends before",
                                s.start, s.end
                            ),
                        }
                        .at(path.clone()),
                        _ => Error::io(path, "read", e),
                    })?;
                if at + n as u64 == s.end && s.last_bits != 0 {
                    buf[n - 1] &= (1u8 << s.last_bits) - 1;
                }
                crc = crc32c::crc32c_append(crc, &buf[..n]);
                at += n as u64;
            }
            if crc != s.crc32c {
                return Err(ErrorKind::ChecksumMismatch {
                    start: s.start,
                    end: s.end,
                    rows: r.rows,
                }
                .at(path));
            }
            report.ranges += 1;
            report.bytes += s.end - s.start;
            covered
                .entry(s.file.as_str())
                .or_default()
                .push((s.start, s.end));
        }
    }
    for c in &manifest.columns {
        for b in c.node.buffer_files() {
            let len = b.length.unwrap_or(0);
            let mut ranges = covered.remove(b.file.as_str()).unwrap_or_default();
            ranges.sort_unstable();
            let (mut done, mut end) = (0u64, 0u64);
            for (s, e) in ranges {
                let s = s.max(end);
                if e > s {
                    done += e - s;
                    end = e;
                }
            }
            report.unchecked_bytes += len.saturating_sub(done);
        }
    }
    Ok(report)
}
