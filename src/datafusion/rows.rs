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
/// equal work, cut only at chunk boundaries; `None` when one group is all
/// there is to make. The work of rows `r` of file `i` is `kept(i, r)`:
/// the rows of the chunks that statistics do not exclude (all of them
/// without a predicate), so that the chunks left to read, not the rows
/// skipped, are shared out.
pub(super) fn split(
    files: &[PartitionedFile],
    target: usize,
    kept: impl Fn(usize, &Range<u64>) -> u64,
) -> Option<Vec<Vec<PartitionedFile>>> {
    if target <= 1 {
        return None;
    }
    let mut pieces: Vec<(usize, Range<u64>, u64)> = files
        .iter()
        .enumerate()
        .flat_map(|(i, f)| {
            pieces(of(f), CHUNK_ROWS)
                .into_iter()
                .map(move |(_, r)| (i, r))
        })
        .map(|(i, r)| {
            let w = kept(i, &r);
            (i, r, w)
        })
        .collect();
    let mut total: u64 = pieces.iter().map(|p| p.2).sum();
    if total < 2 * CHUNK_ROWS {
        // Too little left to share out: split the rows as they are. One
        // group would be no faster, as DataFusion then adds a round-robin
        // repartition above the scan (measured on a scan pruned to one
        // chunk: +100 µs of planning and execution).
        let rows: u64 = pieces.iter().map(|p| p.1.end - p.1.start).sum();
        if rows < 2 * CHUNK_ROWS {
            return None;
        }
        for p in &mut pieces {
            p.2 = p.1.end - p.1.start;
        }
        total = rows;
    }
    let per = total.div_ceil(target as u64);
    let mut groups: Vec<Vec<(usize, Range<u64>)>> = vec![Vec::new()];
    let mut filled = 0u64;
    for (i, r, w) in pieces {
        if filled >= per && groups.len() < target {
            groups.push(Vec::new());
            filled = 0;
        }
        let g = groups.last_mut().expect("one group");
        match g.last_mut() {
            Some((j, last)) if *j == i && last.end == r.start => last.end = r.end,
            _ => g.push((i, r)),
        }
        filled += w;
    }
    groups.retain(|g| !g.is_empty());
    (groups.len() > 1).then(|| {
        groups
            .into_iter()
            .map(|g| {
                g.into_iter()
                    .map(|(i, r)| {
                        let mut piece = files[i].clone();
                        piece.range = None;
                        piece.with_range(r.start as i64, r.end as i64)
                    })
                    .collect()
            })
            .collect()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn len(r: &Range<u64>) -> u64 {
        r.end - r.start
    }

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
            let groups = split(&files, target, |_, r| len(r)).unwrap();
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
        let all = |_: usize, r: &Range<u64>| len(r);
        assert!(split(&[file(CHUNK_ROWS)], 4, all).is_none());
        assert!(split(&[file(10 * CHUNK_ROWS)], 1, all).is_none());
        // Statistics leave one chunk of ten to read: split by rows.
        let one = |_: usize, r: &Range<u64>| if r.start == 4 * CHUNK_ROWS { len(r) } else { 0 };
        let groups = split(&[file(10 * CHUNK_ROWS)], 2, one).unwrap();
        assert_eq!(of(&groups[1][0]), 5 * CHUNK_ROWS..10 * CHUNK_ROWS);
    }

    #[test]
    fn the_rows_left_to_read_are_shared_out() {
        // Chunks 0..4 of 20 may match: two groups of two of them each.
        let f = [file(20 * CHUNK_ROWS)];
        let kept = |_: usize, r: &Range<u64>| if r.start < 4 * CHUNK_ROWS { len(r) } else { 0 };
        let groups = split(&f, 2, kept).unwrap();
        let ranges: Vec<Vec<Range<u64>>> =
            groups.iter().map(|g| g.iter().map(of).collect()).collect();
        assert_eq!(
            ranges,
            vec![
                vec![0..2 * CHUNK_ROWS],
                vec![2 * CHUNK_ROWS..20 * CHUNK_ROWS]
            ]
        );
    }

    #[test]
    fn a_range_is_clamped_to_the_planned_rows() {
        let f = file(100).with_range(-5, 500);
        assert_eq!(of(&f), 0..100);
    }
}
