//! A Parquet chunk reader with a read budget: the parquet crate is handed
//! this instead of a `File`, so that a crafted file cannot make it read
//! forever (a page header it skips without advancing, found by fuzzing:
//! a 565-byte file kept `from-parquet` busy past a minute) or allocate a
//! range larger than the file.

use std::fs::File;
use std::io::{BufReader, Read, Seek, SeekFrom};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use bytes::Bytes;
use parquet::errors::ParquetError;
use parquet::file::reader::{ChunkReader, Length};

/// Each read call costs at least this many bytes of budget, so that a loop
/// of empty reads also runs out.
const CALL_COST: u64 = 64;

/// A file whose readers together may read at most a budget of bytes: a
/// few times the file, plus a margin (a well-formed file is read about once).
#[derive(Debug)]
pub(crate) struct BoundedFile {
    file: File,
    len: u64,
    left: Arc<AtomicU64>,
}

impl BoundedFile {
    /// Wraps `file` (its length taken now).
    pub(crate) fn new(file: File) -> std::io::Result<BoundedFile> {
        let len = file.metadata()?.len();
        let budget = len.saturating_mul(8).saturating_add(16 << 20);
        Ok(BoundedFile {
            file,
            len,
            left: Arc::new(AtomicU64::new(budget)),
        })
    }
}

fn charge(left: &AtomicU64, cost: u64) -> std::io::Result<()> {
    let ok = left
        .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |l| {
            l.checked_sub(cost)
        })
        .is_ok();
    if ok {
        Ok(())
    } else {
        Err(std::io::Error::other(
            "the reader asked for far more bytes than the file holds (a malformed page header?)",
        ))
    }
}

/// A reader of a [`BoundedFile`] that charges what it reads.
pub(crate) struct BoundedRead {
    inner: BufReader<File>,
    left: Arc<AtomicU64>,
}

impl Read for BoundedRead {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        charge(&self.left, CALL_COST)?;
        let n = self.inner.read(buf)?;
        charge(&self.left, n as u64)?;
        Ok(n)
    }
}

impl Length for BoundedFile {
    fn len(&self) -> u64 {
        self.len
    }
}

impl ChunkReader for BoundedFile {
    type T = BoundedRead;

    fn get_read(&self, start: u64) -> parquet::errors::Result<BoundedRead> {
        charge(&self.left, CALL_COST)?;
        let mut f = self.file.try_clone()?;
        f.seek(SeekFrom::Start(start))?;
        Ok(BoundedRead {
            inner: BufReader::new(f),
            left: self.left.clone(),
        })
    }

    fn get_bytes(&self, start: u64, length: usize) -> parquet::errors::Result<Bytes> {
        let end = start.checked_add(length as u64).filter(|&e| e <= self.len);
        if end.is_none() {
            return Err(ParquetError::EOF(format!(
                "a range of {length} bytes at {start} is past the end of the {}-byte file",
                self.len
            )));
        }
        charge(&self.left, CALL_COST + length as u64)?;
        let mut buf = vec![0u8; length];
        crate::fsutil::FileExt::read_exact_at(&self.file, &mut buf, start)?;
        Ok(buf.into())
    }
}
