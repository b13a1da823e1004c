//! Append throughput of [`ArrayWriter`]: 1 GiB of `<f4` rows (1024 values
//! each) appended in 4 MiB chunks with [`Durability::Fsync`], committed once
//! at the end (`one-commit`) or every 64 MiB (`commit-64m`).
//!
//! The measured span runs from creating the file to the last commit
//! returning, the same span `dd if=/dev/zero of=FILE bs=4M count=256
//! conv=fsync` reports. Prints one line of JSON:
//! `{"mode":…,"bytes":…,"commits":…,"seconds":…,"mb_per_s":…}` (MB = 10^6
//! bytes, as dd counts).
//!
//! Run with `cargo run --release --features bench-helpers --example
//! append_bench -- PATH MODE`; `benches/append_vs_dd.sh` alternates it with dd.

use std::time::Instant;

use mmarrow::write::{Durability, WriterOptions};
use mmarrow::{ArrayWriter, Dtype};

/// Bytes appended in total.
const TOTAL_BYTES: usize = 1 << 30;
/// Bytes per `append` call.
const CHUNK_BYTES: usize = 4 << 20;
/// Bytes between commits in `commit-64m` mode.
const COMMIT_EVERY: usize = 64 << 20;
/// Values per row.
const ROW_LEN: u64 = 1024;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (path, mode) = match args.as_slice() {
        [p, m] => (p.clone(), m.clone()),
        _ => return Err("usage: append_bench PATH one-commit|commit-64m".into()),
    };
    let commit_every = match mode.as_str() {
        "one-commit" => TOTAL_BYTES,
        "commit-64m" => COMMIT_EVERY,
        other => {
            return Err(format!("unknown mode {other:?}: want one-commit or commit-64m").into())
        }
    };

    // One pre-filled 4 MiB chunk (1024 rows), reused for every append.
    let chunk: Vec<f32> = (0..CHUNK_BYTES / 4).map(|i| i as f32).collect();

    let start = Instant::now();
    let mut w: ArrayWriter = WriterOptions::new(Dtype::parse("<f4")?, &[ROW_LEN])
        .overwrite(true)
        .durability(Durability::Fsync)
        .create(&path)?;
    let mut written = 0usize;
    let mut commits = 0u32;
    while written < TOTAL_BYTES {
        w.append(&chunk)?;
        written += CHUNK_BYTES;
        if written.is_multiple_of(commit_every) {
            w.commit()?;
            commits += 1;
        }
    }
    let rows = w.committed_rows();
    drop(w);
    let seconds = start.elapsed().as_secs_f64();

    assert_eq!(rows * ROW_LEN * 4, TOTAL_BYTES as u64);
    println!(
        "{{\"mode\":\"{mode}\",\"bytes\":{TOTAL_BYTES},\"commits\":{commits},\"seconds\":{seconds:.4},\"mb_per_s\":{:.1}}}",
        TOTAL_BYTES as f64 / seconds / 1e6
    );
    Ok(())
}
