//! Outputs never destroy what they were not asked to replace: what
//! `overwrite` / `--force` may replace, replacing a table or a raw + sidecar
//! pair across a SIGKILL, outputs that are also inputs (by file identity),
//! temporaries left by a kill, and `create` / `cat` failures that must not
//! block a rerun.

use std::path::{Path, PathBuf};

use mmarrow::convert::{
    from_parquet, parquet_to_table, table_to_parquet, to_parquet, ConvertOptions,
};
use mmarrow::{open, OpenOptions, Table};

use crate::common::{f32_bytes, Dir};

fn force() -> ConvertOptions {
    ConvertOptions::new().overwrite(true)
}

/// A raw f4 array of shape (rows, 2) at `name`, element i = i * scale.
fn array(d: &Dir, name: &str, rows: usize, scale: f32) -> PathBuf {
    let p = d.file(name, &f32_bytes((0..rows * 2).map(|i| i as f32 * scale)));
    let o = OpenOptions::new()
        .try_with_dtype("f4")
        .unwrap()
        .try_with_shape("-1,2")
        .unwrap();
    mmarrow::describe(&p, &o).unwrap();
    p
}

/// A Parquet file `name` of one column: the array of [`array`].
fn parquet(d: &Dir, name: &str, rows: usize, scale: f32) -> PathBuf {
    let a = array(d, &format!("{name}.src.f32"), rows, scale);
    let p = d.path(name);
    to_parquet(&open(&a).unwrap(), &p, &ConvertOptions::new()).unwrap();
    p
}

/// The names in directory `dir`, sorted.
fn names(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

/// A process id that is not running: a child that has exited and been reaped.
fn dead_pid() -> u32 {
    let mut c = std::process::Command::new("true").spawn().unwrap();
    let pid = c.id();
    c.wait().unwrap();
    pid
}

fn kind_is(e: &mmarrow::Error, what: &str) -> bool {
    format!("{:?}", e.kind()).starts_with(what)
}

#[test]
fn force_never_deletes_a_directory_that_merely_holds_a_manifest_json() {
    let d = Dir::new();
    let pq = parquet(&d, "in.parquet", 4, 1.0);
    let out = d.path("photos");
    std::fs::create_dir(&out).unwrap();
    std::fs::write(out.join("manifest.json"), "my own notes, not a table").unwrap();
    std::fs::write(out.join("holiday.jpg"), b"precious").unwrap();
    let e = parquet_to_table(&pq, &out, &force()).unwrap_err();
    assert!(kind_is(&e, "NotReplaceable"), "{e}");
    assert!(e.is_user_error());
    assert_eq!(e.path(), Some(out.as_path()));
    assert!(e.to_string().contains("not an mmarrow table"), "{e}");
    assert_eq!(names(&out), ["holiday.jpg", "manifest.json"]);
    assert_eq!(std::fs::read(out.join("holiday.jpg")).unwrap(), b"precious");
    // No temporary output is left next to it either.
    assert_eq!(
        names(d.dir.path())
            .iter()
            .filter(|n| n.starts_with('.'))
            .count(),
        0
    );
}

#[test]
fn a_table_writer_overwrites_only_a_real_table() {
    let d = Dir::new();
    let batch = arrow_array::RecordBatch::try_from_iter([(
        "n",
        std::sync::Arc::new(arrow_array::Int32Array::from(vec![1, 2])) as arrow_array::ArrayRef,
    )])
    .unwrap();
    let dir = d.path("notes");
    std::fs::create_dir(&dir).unwrap();
    std::fs::write(dir.join("manifest.json"), "{}").unwrap();
    std::fs::write(dir.join("todo.txt"), b"mine").unwrap();
    std::fs::write(dir.join(".lock"), b"").unwrap();
    let o = mmarrow::table::TableWriterOptions::new().overwrite(true);
    let e = o.create(&dir, batch.schema()).unwrap_err();
    assert!(kind_is(&e, "NotReplaceable"), "{e}");
    assert_eq!(names(&dir), [".lock", "manifest.json", "todo.txt"]);
    // A real table is replaced.
    let t = d.path("t");
    let mut w = o.create(&t, batch.schema()).unwrap();
    w.append(&batch).unwrap();
    w.commit().unwrap();
    drop(w);
    let w = crate::common::retry_locked(|| o.create(&t, batch.schema())).unwrap();
    assert_eq!(w.committed_rows(), 0);
}

#[test]
fn force_keeps_a_table_holding_files_the_table_does_not_name() {
    let d = Dir::new();
    let (pq1, pq2) = (
        parquet(&d, "a.parquet", 3, 1.0),
        parquet(&d, "b.parquet", 5, 2.0),
    );
    let t = d.path("t");
    parquet_to_table(&pq1, &t, &ConvertOptions::new()).unwrap();
    std::fs::write(t.join("notes.txt"), b"mine").unwrap();
    let e = parquet_to_table(&pq2, &t, &force()).unwrap_err();
    assert!(kind_is(&e, "NotReplaceable"), "{e}");
    assert!(e.to_string().contains("notes.txt"), "{e}");
    assert_eq!(std::fs::read(t.join("notes.txt")).unwrap(), b"mine");
    assert_eq!(Table::open(&t).unwrap().num_rows(), 3);
    // Without the stray file, the table is replaced and nothing is left behind.
    std::fs::remove_file(t.join("notes.txt")).unwrap();
    parquet_to_table(&pq2, &t, &force()).unwrap();
    assert_eq!(Table::open(&t).unwrap().num_rows(), 5);
    assert!(names(d.dir.path()).iter().all(|n| !n.starts_with('.')));
}

#[test]
fn force_replaces_only_a_file_of_the_format_written() {
    let d = Dir::new();
    let a = open(array(&d, "a.f32", 4, 1.0)).unwrap();
    let npy = d.path("keep.npy");
    std::fs::write(
        &npy,
        crate::common::npy(
            "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }",
            &f32_bytes([1.0, 2.0]),
        ),
    )
    .unwrap();
    let before = std::fs::read(&npy).unwrap();
    let e = to_parquet(&a, &npy, &force()).unwrap_err();
    assert!(kind_is(&e, "NotReplaceable"), "{e}");
    assert!(e.to_string().contains("Parquet"), "{e}");
    assert_eq!(std::fs::read(&npy).unwrap(), before);
    // A Parquet file, or an empty file, is replaced.
    let pq = d.path("x.parquet");
    std::fs::write(&pq, b"").unwrap();
    to_parquet(&a, &pq, &force()).unwrap();
    to_parquet(&a, &pq, &force()).unwrap();
    // A table is not a file: it is refused as a directory.
    let t = d.path("t");
    parquet_to_table(&pq, &t, &ConvertOptions::new()).unwrap();
    let e = to_parquet(&a, &t, &force()).unwrap_err();
    assert!(kind_is(&e, "IsDirectory"), "{e}");
    // A file is not a table.
    let e = parquet_to_table(&pq, &npy, &force()).unwrap_err();
    assert!(kind_is(&e, "NotReplaceable"), "{e}");
    assert_eq!(std::fs::read(&npy).unwrap(), before);
}

#[test]
fn an_output_that_is_an_input_is_refused_by_file_identity() {
    let d = Dir::new();
    let src = array(&d, "s.f32", 4, 1.0);
    let sc = mmarrow::format::sidecar_path(&src);
    let (data, side) = (std::fs::read(&src).unwrap(), std::fs::read(&sc).unwrap());
    let a = open(&src).unwrap();
    let link = d.path("link.f32");
    std::fs::hard_link(&src, &link).unwrap();
    let intact = || {
        assert_eq!(std::fs::read(&src).unwrap(), data);
        assert_eq!(std::fs::read(&sc).unwrap(), side);
    };
    for dst in [&src, &sc, &link] {
        let e = to_parquet(&a, dst, &force()).unwrap_err();
        assert!(kind_is(&e, "OutputIsInput"), "{}: {e}", dst.display());
        assert!(e.is_user_error());
        intact();
    }
    // A Parquet source is not replaced by its own conversion, nor its
    // sidecar-named neighbour written over it.
    let pq = parquet(&d, "p.parquet", 4, 1.0);
    let pq_bytes = std::fs::read(&pq).unwrap();
    let e = from_parquet(&pq, &pq, &force()).unwrap_err();
    assert!(kind_is(&e, "OutputIsInput"), "{e}");
    let trunk = d.path("p");
    std::fs::rename(&pq, d.path("p.mmarrow.json")).unwrap();
    let pq = d.path("p.mmarrow.json");
    std::fs::write(&trunk, b"").unwrap();
    let e = from_parquet(&pq, &trunk, &force()).unwrap_err();
    assert!(kind_is(&e, "OutputIsInput"), "{e}");
    assert_eq!(std::fs::read(&pq).unwrap(), pq_bytes);
    // A table whose directory holds the source, and a file written into
    // the source table.
    let t = d.path("t");
    parquet_to_table(&pq, &t, &ConvertOptions::new()).unwrap();
    let m = mmarrow::format::Manifest::read(&t).unwrap();
    let inner = t.join(
        m.files()
            .into_iter()
            .find(|f| f.ends_with(".values"))
            .unwrap(),
    );
    let values = std::fs::read(&inner).unwrap();
    let e = table_to_parquet(&Table::open(&t).unwrap(), &inner, &force()).unwrap_err();
    assert!(kind_is(&e, "OutputIsInput"), "{e}");
    assert_eq!(std::fs::read(&inner).unwrap(), values);
    let t2 = d.path("t2");
    parquet_to_table(&pq, &t2, &ConvertOptions::new()).unwrap();
    std::fs::copy(&pq, t2.join("in.parquet")).unwrap();
    let e = parquet_to_table(t2.join("in.parquet"), &t2, &force()).unwrap_err();
    assert!(kind_is(&e, "OutputIsInput"), "{e}");
    assert!(t2.join("in.parquet").exists());
    intact();
}

#[test]
fn stale_temporaries_of_the_destination_are_swept_and_live_ones_kept() {
    let d = Dir::new();
    let pq = parquet(&d, "in.parquet", 4, 1.0);
    let dead = dead_pid();
    let live = std::process::id();
    let stale = [
        format!(".out.f32.tmp-{dead}-0"),
        format!(".out.f32.tmp-{dead}-0.mmarrow.json"),
        format!(".out.f32.mmarrow.json.tmp-{dead}-7"),
    ];
    let kept = [
        format!(".out.f32.tmp-{live}-99"),
        format!(".other.f32.tmp-{dead}-0"),
        format!(".out.f32.tmp-{dead}-x"),
    ];
    for n in stale.iter().chain(&kept) {
        std::fs::write(d.path(n), b"partial").unwrap();
    }
    from_parquet(&pq, d.path("out.f32"), &ConvertOptions::new()).unwrap();
    let left = names(d.dir.path());
    for n in &stale {
        assert!(!left.contains(n), "{n} should be swept: {left:?}");
    }
    for n in &kept {
        assert!(left.contains(n), "{n} should be kept: {left:?}");
    }
    // A stale temporary table directory of a table destination too.
    let tmp_dir = d.path(&format!(".t.tmp-{dead}-3"));
    std::fs::create_dir(&tmp_dir).unwrap();
    std::fs::write(tmp_dir.join("c0.values"), b"x").unwrap();
    parquet_to_table(&pq, d.path("t"), &ConvertOptions::new()).unwrap();
    assert!(!tmp_dir.exists());
}

#[cfg(feature = "cli")]
mod cli {
    use std::path::Path;
    use std::process::{Command, Output};

    use super::*;

    fn mmarrow(args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_mmarrow"))
            .args(args)
            .output()
            .unwrap()
    }

    fn s(p: &Path) -> &str {
        p.to_str().unwrap()
    }

    /// Runs the binary under `sh` with a file size limit of `blocks` 512-byte blocks.
    fn limited(blocks: u32, ignore_sigxfsz: bool, args: &[&str]) -> Output {
        let trap = if ignore_sigxfsz { "trap '' XFSZ; " } else { "" };
        Command::new("sh")
            .arg("-c")
            .arg(format!("{trap}ulimit -f {blocks}; exec \"$0\" \"$@\""))
            .arg(env!("CARGO_BIN_EXE_mmarrow"))
            .args(args)
            .output()
            .unwrap()
    }

    #[test]
    fn cat_refuses_an_output_that_is_an_input_by_file_identity() {
        let d = Dir::new();
        let a = array(&d, "a.f32", 3, 1.0);
        let b = array(&d, "b.f32", 2, 2.0);
        let sc = mmarrow::format::sidecar_path(&a);
        let (data, side) = (std::fs::read(&a).unwrap(), std::fs::read(&sc).unwrap());
        let link = d.path("link.f32");
        std::fs::hard_link(&a, &link).unwrap();
        for out in [&link, &sc] {
            let o = mmarrow(&["cat", s(out), s(&a), s(&b), "--force"]);
            let err = String::from_utf8_lossy(&o.stderr);
            assert_eq!(o.status.code(), Some(2), "{}: {err}", out.display());
            assert!(err.contains("also an input"), "{err}");
            assert_eq!(std::fs::read(&a).unwrap(), data);
            assert_eq!(std::fs::read(&sc).unwrap(), side);
        }
        // An output whose sidecar is an input.
        let stem = d.path("c");
        let c_in = d.path("c.mmarrow.json");
        std::fs::copy(&b, &c_in).unwrap();
        std::fs::copy(
            mmarrow::format::sidecar_path(&b),
            mmarrow::format::sidecar_path(&c_in),
        )
        .unwrap();
        let c_bytes = std::fs::read(&c_in).unwrap();
        let o = mmarrow(&["cat", s(&stem), s(&b), s(&c_in), "--force"]);
        assert_eq!(
            o.status.code(),
            Some(2),
            "{}",
            String::from_utf8_lossy(&o.stderr)
        );
        assert_eq!(std::fs::read(&c_in).unwrap(), c_bytes);
        // to-parquet over its own source.
        let o = mmarrow(&["to-parquet", s(&a), s(&a), "--force"]);
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{err}");
        assert!(err.contains("also an input"), "{err}");
        assert_eq!(std::fs::read(&a).unwrap(), data);
        assert_eq!(std::fs::read(&sc).unwrap(), side);
    }

    #[test]
    fn create_past_the_file_size_limit_leaves_nothing_that_blocks_a_rerun() {
        for ignore in [true, false] {
            let d = Dir::new();
            let out = d.path("big.f32");
            let args = ["create", s(&out), "--dtype", "f4", "--shape", "100000"];
            let o = limited(16, ignore, &args);
            assert!(!o.status.success());
            if ignore {
                let err = String::from_utf8_lossy(&o.stderr);
                assert_eq!(o.status.code(), Some(2), "{err}");
                assert!(err.contains("too large"), "{err}");
                assert_eq!(names(d.dir.path()), Vec::<String>::new());
            }
            assert!(!out.exists() && !mmarrow::format::sidecar_path(&out).exists());
            // The rerun needs no --force and sweeps what the killed run left.
            let o = mmarrow(&args);
            assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
            assert_eq!(names(d.dir.path()), ["big.f32", "big.f32.mmarrow.json"]);
            // With --force, a failed replacement keeps the old file.
            let o = limited(
                16,
                true,
                &[
                    "create",
                    s(&out),
                    "--dtype",
                    "f4",
                    "--shape",
                    "200000",
                    "--force",
                ],
            );
            assert_eq!(o.status.code(), Some(2));
            assert_eq!(open(&out).unwrap().shape(), &[100000]);
        }
    }

    #[test]
    fn cat_that_fails_at_creation_leaves_nothing_that_blocks_a_rerun() {
        let d = Dir::new();
        let a = array(&d, "a.f32", 3, 1.0);
        let out = d.path("out.f32");
        let o = limited(0, true, &["cat", s(&out), s(&a)]);
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{err}");
        assert!(!out.exists(), "{err}");
        assert!(!mmarrow::format::sidecar_path(&out).exists());
        let o = mmarrow(&["cat", s(&out), s(&a)]);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        assert_eq!(open(&out).unwrap().shape(), &[3, 2]);
    }

    #[test]
    fn cat_appends_to_an_existing_output_of_the_same_rows_only() {
        let d = Dir::new();
        let a = array(&d, "a.f32", 3, 1.0);
        let b = array(&d, "b.f32", 2, 2.0);
        let out = d.path("out.f32");
        assert!(mmarrow(&["cat", s(&out), s(&a)]).status.success());
        let o = mmarrow(&["cat", s(&out), s(&b), "--append"]);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let r = open(&out).unwrap();
        assert_eq!(r.shape(), &[5, 2]);
        let mut want = std::fs::read(&a).unwrap();
        want.extend(std::fs::read(&b).unwrap());
        assert_eq!(r.data_buffer().as_slice(), &want[..]);
        // Another dtype or row shape is refused, the output untouched.
        let i = d.file("i.i4", &[0u8; 24]);
        let opts = OpenOptions::new()
            .try_with_dtype("i4")
            .unwrap()
            .try_with_shape("-1,2")
            .unwrap();
        mmarrow::describe(&i, &opts).unwrap();
        let w = d.file("w.f32", &f32_bytes([1.0, 2.0, 3.0]));
        let opts = OpenOptions::new()
            .try_with_dtype("f4")
            .unwrap()
            .try_with_shape("-1,3")
            .unwrap();
        mmarrow::describe(&w, &opts).unwrap();
        for (bad, msg) in [(&i, "array holds"), (&w, "rows have shape")] {
            let o = mmarrow(&["cat", s(&out), s(bad), "--append"]);
            let err = String::from_utf8_lossy(&o.stderr);
            assert_eq!(o.status.code(), Some(2), "{err}");
            assert!(err.contains(msg), "{err}");
            assert!(err.contains(s(&out)), "names the output: {err}");
            assert_eq!(open(&out).unwrap().data_buffer().as_slice(), &want[..]);
        }
        let o = mmarrow(&["cat", s(&out), s(&a), "--append", "--force"]);
        assert_eq!(o.status.code(), Some(2));
    }

    /// Runs the binary with `MMARROW_TEST_PAUSE_AT=step`, waits until it
    /// says it paused there, and kills it with SIGKILL.
    #[cfg(feature = "test-helpers")]
    fn kill_at(step: &str, args: &[&str]) {
        use std::io::{BufRead, BufReader};
        use std::process::Stdio;
        let mut child = Command::new(env!("CARGO_BIN_EXE_mmarrow"))
            .args(args)
            .env("MMARROW_TEST_PAUSE_AT", step)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let err = child.stderr.take().unwrap();
        let mut seen = Vec::new();
        for line in BufReader::new(err).lines() {
            let line = line.unwrap();
            if line == format!("mmarrow-test: paused at {step}") {
                child.kill().unwrap(); // SIGKILL
                child.wait().unwrap();
                return;
            }
            seen.push(line);
        }
        let status = child.wait().unwrap();
        panic!("{args:?} ended ({status}) without pausing at {step}: {seen:?}");
    }

    #[cfg(feature = "test-helpers")]
    #[test]
    fn a_kill_while_replacing_a_table_leaves_the_old_or_the_new_table() {
        for (step, survivor) in [("table-aside", 3), ("table-placed", 5)] {
            let d = Dir::new();
            let (pq1, pq2) = (
                parquet(&d, "a.parquet", 3, 1.0),
                parquet(&d, "b.parquet", 5, 2.0),
            );
            let pq3 = parquet(&d, "c.parquet", 7, 3.0);
            let t = d.path("t");
            parquet_to_table(&pq1, &t, &ConvertOptions::new()).unwrap();
            kill_at(step, &["from-parquet", s(&pq2), s(&t), "--force", "-q"]);
            // On disk: the table, or its old self under a hidden name.
            let left = names(d.dir.path());
            let hidden_old = left.iter().any(|n| n.starts_with(".t.old-"));
            assert!(t.exists() || hidden_old, "{step}: neither table: {left:?}");
            // The next write to `t` recovers: the survivor is in place, refused
            // without --force, and no leftover remains.
            let e = parquet_to_table(&pq3, &t, &ConvertOptions::new()).unwrap_err();
            assert!(kind_is(&e, "AlreadyExists"), "{step}: {e}");
            assert_eq!(Table::open(&t).unwrap().num_rows(), survivor, "{step}");
            let left = names(d.dir.path());
            assert!(
                left.iter().all(|n| !n.starts_with(".t.")),
                "{step}: {left:?}"
            );
        }
    }

    #[cfg(feature = "test-helpers")]
    #[test]
    fn a_kill_between_data_and_sidecar_never_pairs_one_files_header_with_the_others_data() {
        for step in ["data-placed", "sidecar-removed"] {
            let d = Dir::new();
            // Old: int8 (16, 8); new: float32 (16, 2). Both 128 bytes.
            let out = d.file("out.bin", &(0..128u8).collect::<Vec<_>>());
            let opts = OpenOptions::new()
                .try_with_dtype("i1")
                .unwrap()
                .try_with_shape("-1,8")
                .unwrap();
            mmarrow::describe(&out, &opts).unwrap();
            let old = open(&out).unwrap().data_buffer().as_slice().to_vec();
            let pq = parquet(&d, "new.parquet", 16, 0.5);
            let new = std::fs::read(d.path("new.parquet.src.f32")).unwrap();
            kill_at(step, &["from-parquet", s(&pq), s(&out), "--force", "-q"]);
            match open(&out) {
                Ok(a) => {
                    let got = a.data_buffer().as_slice().to_vec();
                    let pair = (a.dtype().typestr(), a.shape().to_vec());
                    assert!(
                        (pair == ("|i1".into(), vec![16, 8]) && got == old)
                            || (pair == ("<f4".into(), vec![16, 2]) && got == new),
                        "{step}: a mixed pair {pair:?}"
                    );
                }
                Err(e) => assert!(kind_is(&e, "MissingSidecar"), "{step}: {e}"),
            }
            // The next write sweeps the killed run's temporaries.
            from_parquet(&pq, &out, &force()).unwrap();
            assert_eq!(open(&out).unwrap().data_buffer().as_slice(), &new[..]);
            assert!(names(d.dir.path()).iter().all(|n| !n.starts_with('.')));
        }
    }

    #[cfg(feature = "test-helpers")]
    #[test]
    fn a_killed_cat_leaves_a_committed_prefix() {
        let d = Dir::new();
        let a = array(&d, "a.f32", 3, 1.0);
        let b = array(&d, "b.f32", 2, 2.0);
        let out = d.path("out.f32");
        kill_at(
            "cat-committed",
            &["cat", s(&out), s(&a), s(&b), "--commit-every", "1"],
        );
        let r = open(&out).unwrap();
        assert_eq!(r.shape(), &[3, 2]);
        assert_eq!(r.data_buffer().as_slice(), &std::fs::read(&a).unwrap()[..]);
        // --append continues it.
        let o = mmarrow(&["cat", s(&out), s(&b), "--append"]);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        assert_eq!(open(&out).unwrap().shape(), &[5, 2]);
    }
}
