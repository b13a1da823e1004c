//! Sizes and ranges of mmarrow `PartitionedFile`s count **rows**.
//!
//! DataFusion splits files by byte ranges, which mean nothing to a table
//! of column files (each column has its own width, strings have none). So
//! an mmarrow `PartitionedFile` has `object_meta.size` = the rows the plan
//! reads and `range` = a row range. Everything a scan needs then lives in
//! the path, the size and the range, which plan serialisation keeps, and
//! any split of the "bytes" (DataFusion's default one included) is a split
//! into whole rows. [`super::MmarrowSource`] splits on chunk boundaries
//! itself, so that no chunk's statistics are shared between partitions.

use std::ops::Range;

use datafusion::datasource::listing::PartitionedFile;

use crate::table::CHUNK_ROWS;

/// The rows `file` asks for.
pub(super) fn of(file: &PartitionedFile) -> Range<u64> {
    let rows = file.object_meta.size;
    match &file.range {
        Some(r) => {
            let clamp = |v: i64| (v.max(0) as u64).min(rows);
            clamp(r.start)..clamp(r.end)
        }
        None => 0..rows,
    }
}

/// `range` cut at multiples of `chunk_rows`: each piece with the index of
/// the chunk it lies in.
pub(super) fn pieces(range: Range<u64>, chunk_rows: u64) -> Vec<(usize, Range<u64>)> {
    let mut out = Vec::new();
    let mut start = range.start;
    while start < range.end {
        let chunk = start / chunk_rows;
        let end = ((chunk + 1) * chunk_rows).min(range.end);
        out.push((chunk as usize, start..end));
        start = end;
    }
    out
}

/// `files` (in order) regrouped into at most `target` groups of about
/// equal rows, cut only at chunk boundaries; `None` when one group is all
/// there is to make.
pub(super) fn split(files: &[PartitionedFile], target: usize) -> Option<Vec<Vec<PartitionedFile>>> {
    let total: u64 = files.iter().map(|f| len(&of(f))).sum();
    if target <= 1 || total < 2 * CHUNK_ROWS {
        return None;
    }
    let per = total.div_ceil(target as u64).div_ceil(CHUNK_ROWS) * CHUNK_ROWS;
    let mut groups: Vec<Vec<PartitionedFile>> = vec![Vec::new()];
    let mut filled = 0u64;
    for f in files {
        let r = of(f);
        let mut start = r.start;
        while start < r.end {
            if filled >= per {
                groups.push(Vec::new());
                filled = 0;
            }
            let want = per - filled;
            let mut end = start.saturating_add(want);
            if end < r.end {
                // Round up to the next chunk boundary of this file.
                end = end.div_ceil(CHUNK_ROWS) * CHUNK_ROWS;
            }
            let end = end.min(r.end);
            let mut piece = f.clone();
            piece.range = None;
            let piece = piece.with_range(start as i64, end as i64);
            groups.last_mut().expect("one group").push(piece);
            filled += end - start;
            start = end;
        }
    }
    groups.retain(|g| !g.is_empty());
    (groups.len() > 1).then_some(groups)
}

fn len(r: &Range<u64>) -> u64 {
    r.end - r.start
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(rows: u64) -> PartitionedFile {
        PartitionedFile::new("a/b", rows)
    }

    #[test]
    fn pieces_stop_at_chunk_boundaries() {
        assert_eq!(pieces(10..25, 10), vec![(1, 10..20), (2, 20..25)],);
        assert_eq!(pieces(3..7, 10), vec![(0, 3..7)]);
        assert!(pieces(5..5, 10).is_empty());
    }

    #[test]
    fn a_split_covers_every_row_once_in_whole_chunks() {
        let files = vec![file(10 * CHUNK_ROWS + 17), file(3), file(5 * CHUNK_ROWS)];
        for target in 2..6 {
            let groups = split(&files, target).unwrap();
            assert!(groups.len() <= target);
            let mut next: Vec<u64> = vec![0; 3];
            let mut seen = 0;
            for f in groups.iter().flatten() {
                let r = of(f);
                let i = match f.object_meta.size {
                    s if s == 10 * CHUNK_ROWS + 17 => 0,
                    3 => 1,
                    _ => 2,
                };
                assert_eq!(r.start, next[i], "in order, no gap or overlap");
                assert!(
                    r.start.is_multiple_of(CHUNK_ROWS),
                    "starts on a chunk boundary"
                );
                next[i] = r.end;
                seen += r.end - r.start;
            }
            assert_eq!(seen, 15 * CHUNK_ROWS + 20);
        }
    }

    #[test]
    fn small_scans_are_not_split() {
        assert!(split(&[file(CHUNK_ROWS)], 4).is_none());
        assert!(split(&[file(10 * CHUNK_ROWS)], 1).is_none());
    }

    #[test]
    fn a_range_is_clamped_to_the_planned_rows() {
        let f = file(100).with_range(-5, 500);
        assert_eq!(of(&f), 0..100);
    }
}
