//! The work of each fuzz target, shared by the libFuzzer binaries in this
//! directory and by the stable-toolchain replay test (`tests/it/bad_corpus.rs`
//! includes this file with `#[path]`), so that CI replays every committed
//! seed and regression without nightly.
//!
//! Each function takes one input and must never panic. Beyond "no panic",
//! each checks the library's promises about bad input: an error from a
//! file-level call names a file inside the scratch directory, is one line
//! and is a user error (the CLI's exit 2); a successful open gives Arrow
//! data that passes `validate_full` and whose every byte can be read; a
//! successful conversion gives an output that opens; a parsed sidecar or
//! manifest survives its own serialisation.
//!
//! Input layouts (the seeds in `fuzz/seeds/` follow them):
//! - `sidecar`, `manifest`: the JSON text (invalid UTF-8 replaced).
//! - `npy_header`: the `.npy` file's bytes.
//! - `array_open`: byte 0 = flags (bit 0: a `.npy` file, else a raw file
//!   with a sidecar; bit 1: `CopyPolicy::Allow`); for a raw file bytes 1..3
//!   are the sidecar's length `L` (u16 LE), then `L` bytes of sidecar, then
//!   the data; for `.npy` the rest is the file.
//! - `table_open`: manifest length (u16 LE), the manifest, then chunks
//!   (u32 LE length + bytes) written, in order, to the files the manifest
//!   names (per column: validity, offsets, values).
//! - `parquet`, `ipc`: the file's bytes.
#![allow(dead_code)] // each fuzz binary uses one entry point

use std::path::{Path, PathBuf};

use arrow_array::Array;
use arrow_data::ArrayData;

/// One fuzz target: its name (as in `fuzz/Cargo.toml`) and its work.
pub struct Target {
    /// The `cargo fuzz` target name; also its seed and regression directory.
    pub name: &'static str,
    /// Runs one input, using `scratch` (an empty directory this call may
    /// fill and clear) for files.
    pub run: fn(&[u8], &Path),
}

/// Every target, in the order of `docs/fuzzing.md`.
pub const TARGETS: &[Target] = &[
    Target {
        name: "sidecar",
        run: |d, _| sidecar(d),
    },
    Target {
        name: "npy_header",
        run: |d, _| npy_header(d),
    },
    Target {
        name: "manifest",
        run: |d, _| manifest(d),
    },
    Target {
        name: "array_open",
        run: array_open,
    },
    Target {
        name: "table_open",
        run: table_open,
    },
    Target {
        name: "parquet",
        run: parquet,
    },
    Target {
        name: "ipc",
        run: ipc,
    },
];

/// A per-process scratch directory for the fuzz binaries: on tmpfs when
/// there is one, so that writing each input costs no disk I/O.
pub fn process_scratch() -> PathBuf {
    let base = if Path::new("/dev/shm").is_dir() {
        PathBuf::from("/dev/shm")
    } else {
        std::env::temp_dir()
    };
    let dir = base.join(format!("mmarrow-fuzz-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("create scratch directory");
    dir
}

/// (a) `Sidecar::from_json`; a parsed sidecar re-parses to itself.
pub fn sidecar(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    if let Ok(s) = mmarrow::format::Sidecar::from_json(&text) {
        let _ = s.header.nbytes();
        let back = mmarrow::format::Sidecar::from_json(&s.to_json())
            .unwrap_or_else(|e| panic!("a sidecar it wrote does not parse: {e}"));
        assert_eq!(back, s, "sidecar round trip");
    }
}

/// A reader that returns at most one byte per call, as a pipe might.
struct Trickle<'a>(&'a [u8]);

impl std::io::Read for Trickle<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        match (self.0.split_first(), buf.first_mut()) {
            (Some((&b, rest)), Some(slot)) => {
                *slot = b;
                self.0 = rest;
                Ok(1)
            }
            _ => Ok(0),
        }
    }
}

/// (b) `NpyHeader::read_from`; short reads do not change the answer.
pub fn npy_header(data: &[u8]) {
    let whole = mmarrow::format::NpyHeader::read_from(&mut &data[..]);
    let trickle = mmarrow::format::NpyHeader::read_from(&mut Trickle(data));
    match (&whole, &trickle) {
        (Ok(a), Ok(b)) => assert_eq!(a, b, "short reads changed the header"),
        (Err(_), Err(_)) => {}
        _ => panic!("short reads changed the outcome: {whole:?} vs {trickle:?}"),
    }
    if let Ok(h) = whole {
        let _ = h.header.nbytes();
        assert!(
            h.header.offset as usize <= data.len(),
            "offset past the input"
        );
    }
}

/// (c) `Manifest::from_json`; a parsed manifest re-parses to itself,
/// written in the newest version (a v1 manifest's variable-length values,
/// whose length v1 does not record, are given one first, as a writer
/// reopening the table does).
pub fn manifest(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    if let Ok(mut m) = mmarrow::format::Manifest::from_json(&text) {
        let _ = m.schema();
        for c in &mut m.columns {
            fill_lengths(&mut c.node);
        }
        m.version = mmarrow::format::TABLE_FORMAT_VERSION;
        let back = mmarrow::format::Manifest::from_json(&m.to_json())
            .unwrap_or_else(|e| panic!("a manifest it wrote does not parse: {e}"));
        assert_eq!(back, m, "manifest round trip");
    }
}

fn fill_lengths(n: &mut mmarrow::format::Node) {
    for b in &mut n.buffers {
        b.length.get_or_insert(0);
    }
    n.children.iter_mut().for_each(fill_lengths);
    if let Some(d) = &mut n.dictionary {
        fill_lengths(d);
    }
}

/// (d) The whole array open path: a raw file + sidecar or a `.npy` file,
/// `open`, `to_arrow`, `to_record_batch`, the copying view, and every byte.
pub fn array_open(data: &[u8], scratch: &Path) {
    let (flags, rest) = data.split_first().unwrap_or((&0, &[]));
    let npy = flags & 1 == 1;
    let policy = if flags & 2 == 2 {
        mmarrow::open::CopyPolicy::Allow
    } else {
        mmarrow::open::CopyPolicy::Never
    };
    let path = scratch.join(if npy { "a.npy" } else { "a.bin" });
    let side = mmarrow::format::sidecar_path(&path);
    let _ = std::fs::remove_file(&side);
    if npy {
        write(&path, rest);
    } else {
        let len = match rest {
            [a, b, ..] => u16::from_le_bytes([*a, *b]) as usize,
            _ => 0,
        };
        let rest = rest.get(2..).unwrap_or(&[]);
        let (json, body) = rest.split_at(len.min(rest.len()));
        write(&side, json);
        write(&path, body);
    }
    match mmarrow::OpenOptions::new().copy(policy).open(&path) {
        Ok(a) => {
            assert!(a.nbytes() <= data.len() as u64, "maps more than the file");
            if let Ok(arr) = a.to_arrow() {
                touch(&arr.to_data());
            }
            if let Ok(b) = a.to_record_batch() {
                b.columns().iter().for_each(|c| touch(&c.to_data()));
            }
            // What `mmarrow verify` and `head` do for a file that cannot be
            // viewed in place: it must always work on an array that opened.
            let b = a
                .to_arrow_compatible()
                .to_record_batch()
                .unwrap_or_else(|e| panic!("the copying view of an opened array fails: {e}"));
            b.columns().iter().for_each(|c| touch(&c.to_data()));
            if let Ok(rows) = a.batches(3, Default::default()) {
                rows.for_each(|b| {
                    if let Ok(b) = b {
                        b.columns().iter().for_each(|c| touch(&c.to_data()));
                    }
                });
            }
        }
        Err(e) => check_error(&e, scratch),
    }
    let _ = std::fs::remove_file(&path);
    let _ = std::fs::remove_file(&side);
}

/// (e) The whole table open path: a directory carved from the input,
/// `Table::open`, every batch, every byte.
pub fn table_open(data: &[u8], scratch: &Path) {
    let dir = scratch.join("t");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir(&dir).expect("create table directory");
    let len = match data {
        [a, b, ..] => u16::from_le_bytes([*a, *b]) as usize,
        _ => 0,
    };
    let rest = data.get(2..).unwrap_or(&[]);
    let (text, mut rest) = rest.split_at(len.min(rest.len()));
    write(&dir.join(mmarrow::format::MANIFEST_NAME), text);
    // The file names come from the manifest itself (plain names, checked by
    // the parser), so the fuzzer need not guess them.
    if let Ok(m) = mmarrow::format::Manifest::from_json(&String::from_utf8_lossy(text)) {
        let names: Vec<String> = m.files().into_iter().map(str::to_string).collect();
        for name in names {
            let n = match rest {
                [a, b, c, d, ..] => u32::from_le_bytes([*a, *b, *c, *d]) as usize,
                _ => break,
            };
            let body = &rest[4..];
            let (file, more) = body.split_at(n.min(body.len()));
            write(&dir.join(&name), file);
            rest = more;
        }
    }
    // Batches first: each is validated by range as it is made, and every
    // one handed out must be valid Arrow data on its own.
    match mmarrow::Table::open(&dir) {
        Ok(t) => {
            let mut rows = 0;
            let mut all_ok = true;
            for b in t.batches(7).expect("batches of 7 rows") {
                match b {
                    Ok(b) => {
                        for c in b.columns() {
                            let d = c.to_data();
                            d.validate_full()
                                .unwrap_or_else(|e| panic!("a table batch is invalid: {e}"));
                            touch(&d);
                        }
                        rows += b.num_rows() as u64;
                    }
                    Err(e) => {
                        check_error(&e, scratch);
                        all_ok = false;
                        break;
                    }
                }
            }
            if all_ok {
                assert_eq!(rows, t.num_rows(), "batches cover every row");
            }
        }
        Err(e) => check_error(&e, scratch),
    }
    // The commit log: statistics (one per chunk of each column) and the
    // checksums of the committed ranges.
    if let Ok(t) = mmarrow::Table::open(&dir) {
        match t.statistics() {
            Ok(s) => {
                assert_eq!(
                    s.num_chunks() as u64,
                    t.num_rows().div_ceil(s.chunk_rows()),
                    "one statistics chunk per chunk of rows"
                );
                for c in s.columns() {
                    assert_eq!(c.null_counts().len(), s.num_chunks());
                    for a in [c.min(), c.max()].into_iter().flatten() {
                        assert_eq!(a.len(), s.num_chunks());
                        a.to_data()
                            .validate_full()
                            .unwrap_or_else(|e| panic!("a statistics array is invalid: {e}"));
                    }
                }
            }
            Err(e) => check_error(&e, scratch),
        }
        if let Err(e) = mmarrow::table::verify_checksums(&dir) {
            check_error(&e, scratch);
        }
    }
    // Then the whole table, validated in full.
    if let Ok(t) = mmarrow::Table::open(&dir) {
        match t.to_record_batch() {
            Ok(b) => {
                assert_eq!(b.num_rows() as u64, t.num_rows());
                b.columns().iter().for_each(|c| touch(&c.to_data()));
                for b in t.batches(7).expect("batches of 7 rows") {
                    b.unwrap_or_else(|e| panic!("a validated table gives no batch: {e}"));
                }
            }
            Err(e) => check_error(&e, scratch),
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// Conversion options for the fuzzers: one thread, no fsync, replace.
fn convert_options() -> mmarrow::convert::ConvertOptions {
    mmarrow::convert::ConvertOptions::new()
        .threads(1)
        .durable(false)
        .overwrite(true)
}

/// (f) The page-level Parquet reader: `from_parquet` to an array file (of
/// the first column), then `parquet_to_table`; outputs must open.
pub fn parquet(data: &[u8], scratch: &Path) {
    let src = scratch.join("in.parquet");
    write(&src, data);
    let first = mmarrow::convert::parquet_schema(&src)
        .ok()
        .and_then(|s| s.fields().first().map(|f| f.name().clone()));
    let o = match first {
        Some(name) => convert_options().column(name),
        None => convert_options(),
    };
    let dst = scratch.join(if data.len() % 2 == 1 {
        "out.npy"
    } else {
        "out.bin"
    });
    match mmarrow::convert::from_parquet(&src, &dst, &o) {
        Ok(_) => check_array_output(&dst),
        Err(e) => check_error(&e, scratch),
    }
    let table = scratch.join("out.table");
    match mmarrow::convert::parquet_to_table(&src, &table, &convert_options()) {
        Ok(_) => check_table_output(&table),
        Err(e) => check_error(&e, scratch),
    }
    clear(scratch);
}

/// (g) The IPC input path: `from_ipc` (first column), then `ipc_to_table`.
pub fn ipc(data: &[u8], scratch: &Path) {
    let src = scratch.join("in.arrow");
    write(&src, data);
    // The first column's name, through mmarrow (arrow-ipc's own reader
    // would allocate a crafted block's length before any check).
    let first = match mmarrow::convert::inspect(&src) {
        Ok(s) => s.schema.fields().first().map(|f| f.name().clone()),
        Err(e) => {
            check_error(&e, scratch);
            None
        }
    };
    let o = match first {
        Some(name) => convert_options().column(name),
        None => convert_options(),
    };
    let dst = scratch.join(if data.len() % 2 == 1 {
        "out.npy"
    } else {
        "out.bin"
    });
    match mmarrow::convert::from_ipc(&src, &dst, &o) {
        Ok(_) => check_array_output(&dst),
        Err(e) => check_error(&e, scratch),
    }
    let table = scratch.join("out.table");
    match mmarrow::convert::ipc_to_table(&src, &table, &convert_options()) {
        Ok(_) => check_table_output(&table),
        Err(e) => check_error(&e, scratch),
    }
    clear(scratch);
}

fn check_array_output(dst: &Path) {
    let a = mmarrow::open(dst).unwrap_or_else(|e| panic!("converted array does not open: {e}"));
    let b = a
        .to_arrow_compatible()
        .to_record_batch()
        .unwrap_or_else(|e| panic!("converted array gives no batch: {e}"));
    b.columns().iter().for_each(|c| touch(&c.to_data()));
}

fn check_table_output(dir: &Path) {
    let t =
        mmarrow::Table::open(dir).unwrap_or_else(|e| panic!("converted table does not open: {e}"));
    let b = t
        .to_record_batch()
        .unwrap_or_else(|e| panic!("converted table gives no batch: {e}"));
    b.columns().iter().for_each(|c| touch(&c.to_data()));
}

/// An error about bad input names a file in `scratch`, is one line, and is
/// a user error (the CLI's exit 2, not 1).
pub fn check_error(e: &mmarrow::Error, scratch: &Path) {
    let msg = e.to_string();
    let path = e
        .path()
        .unwrap_or_else(|| panic!("error names no file: {msg} ({:?})", e.kind()));
    assert!(
        path.starts_with(scratch),
        "error names {} outside the input: {msg}",
        path.display()
    );
    assert!(
        msg.starts_with(&format!("{}: ", path.display())),
        "message does not start with the path: {msg}"
    );
    assert!(!msg.contains('\n'), "message is not one line: {msg:?}");
    assert!(
        e.is_user_error(),
        "bad input reported as an internal error (CLI exit 1): {msg} ({:?})",
        e.kind()
    );
}

/// Checks `data` as Arrow would before trusting it, then reads every byte
/// of every buffer, child and null bitmap.
pub fn touch(data: &ArrayData) {
    data.validate_full()
        .unwrap_or_else(|e| panic!("mmarrow built invalid Arrow data: {e}"));
    std::hint::black_box(sum(data));
}

fn sum(data: &ArrayData) -> u64 {
    let mut s = 0u64;
    for b in data.buffers() {
        s = b
            .as_slice()
            .iter()
            .fold(s, |s, &x| s.wrapping_add(x as u64));
    }
    if let Some(n) = data.nulls() {
        s = n
            .buffer()
            .as_slice()
            .iter()
            .fold(s, |s, &x| s.wrapping_add(x as u64));
        s = s.wrapping_add(n.null_count() as u64);
    }
    for c in data.child_data() {
        s = s.wrapping_add(sum(c));
    }
    s
}

fn write(path: &Path, bytes: &[u8]) {
    std::fs::write(path, bytes).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
}

/// Empties `scratch` (conversions leave outputs there).
pub fn clear(scratch: &Path) {
    if let Ok(entries) = std::fs::read_dir(scratch) {
        for e in entries.flatten() {
            let p = e.path();
            let _ = if p.is_dir() {
                std::fs::remove_dir_all(&p)
            } else {
                std::fs::remove_file(&p)
            };
        }
    }
}

/// Whether a panic at `location` (a `file:line:col`) is in a third-party
/// crate rather than in mmarrow itself.
pub fn is_third_party(location: &str) -> bool {
    location.contains("/.cargo/registry/")
}
