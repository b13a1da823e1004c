//! The bad-input corpus and the fuzz replay.
//!
//! `tests/corpus/bad/cases.txt` lists malformed array files, sidecars,
//! `.npy` headers, tables, Parquet and IPC files (made by
//! `tests/corpus/make_bad.py`; `@NAME` cases — FIFOs, symlinks, directories,
//! sparse huge files — are made here at test time). Each runs through the
//! library (`open` / `Table::open` / `from_parquet` + `parquet_to_table` /
//! `from_ipc` + `ipc_to_table`) and the real CLI (`info`, `head`, `verify`,
//! or `convert` / `from-parquet`; `info` is skipped for `table-content`
//! cases, whose rows alone are bad: it checks the manifest and file sizes
//! only, by design), and must give a typed user error whose
//! one-line message names the file (CLI: exit 2, one `mmarrow: ` line
//! naming it): no panic, no hang (10 s per call, the child is killed), no
//! allocation beyond 1 GiB (the CLI child runs under `RLIMIT_AS`).
//!
//! **Known failures are recorded, not failed.** A case marked
//! `| known-failing: REASON` in cases.txt is a library defect not fixed
//! yet: it still runs, what is wrong is printed under `KNOWN-FAILING`, and
//! the test does not fail for it. This is the one place in the suite where
//! a failure is recorded instead of failing, because the fixes belong to
//! library files the corpus's author does not own. A marked case that
//! passes fails the test, so the mark is removed with the fix. The fuzz
//! replay (`fuzz_seeds_and_regressions_replay`) uses the same rule with
//! `fuzz/regressions/cases.txt`. `MMARROW_BAD_CORPUS_VERBOSE=1` prints every
//! error message and CLI line.
#![allow(unsafe_code)] // setrlimit in the CLI child (pre_exec)

#[path = "../../fuzz/fuzz_targets/common.rs"]
mod fuzz_common;

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::Duration;

use crate::common::{npy, Dir};

/// How long one library call or CLI run may take.
const TIMEOUT: Duration = Duration::from_secs(10);
/// The CLI child's address-space limit.
#[cfg(feature = "cli")]
const CLI_ADDRESS_SPACE: u64 = 1 << 30;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// One line of a `cases.txt`: `PATH | HOW | DESCRIPTION [| known-failing: R]`.
#[derive(Debug, Clone)]
struct Case {
    path: String,
    how: String,
    args: Vec<String>,
    description: String,
    known_failing: Option<String>,
}

fn read_cases(file: &Path) -> Vec<Case> {
    let text = std::fs::read_to_string(file).unwrap();
    text.lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .map(|l| {
            let parts: Vec<&str> = l.split(" | ").map(str::trim).collect();
            assert!(
                (3..=4).contains(&parts.len()),
                "{}: bad line {l:?}",
                file.display()
            );
            let mut how = parts[1].split_whitespace().map(String::from);
            let known_failing = parts.get(3).map(|m| {
                m.strip_prefix("known-failing:")
                    .unwrap_or_else(|| {
                        panic!(
                            "{}: 4th field must be `known-failing: …`: {l}",
                            file.display()
                        )
                    })
                    .trim()
                    .to_string()
            });
            Case {
                path: parts[0].to_string(),
                how: how.next().unwrap(),
                args: how.collect(),
                description: parts[2].to_string(),
                known_failing,
            }
        })
        .collect()
}

/// Runs `f` on another thread with a deadline; a panic or a hang becomes
/// an `Err` describing it. A hung thread is left behind (and released by
/// `unblock` where possible, e.g. by opening a FIFO for writing).
fn bounded<T: Send + 'static>(
    what: &str,
    timeout: Duration,
    f: impl FnOnce() -> T + Send + 'static,
    unblock: impl FnOnce(),
) -> Result<T, String> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(catch_unwind(AssertUnwindSafe(f)));
    });
    match rx.recv_timeout(timeout) {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(p)) => Err(format!("{what} panics: {}", panic_text(&*p))),
        Err(_) => {
            unblock();
            Err(format!("{what} hangs (over {timeout:?})"))
        }
    }
}

fn panic_text(p: &(dyn std::any::Any + Send)) -> String {
    p.downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| p.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "(non-string payload)".into())
}

/// What is wrong with the library's answer `r` for the bad input `target`.
fn judge(what: &str, r: mmarrow::Result<()>, target: &Path) -> Option<String> {
    let e = match r {
        Ok(()) => return Some(format!("{what} accepts it")),
        Err(e) => e,
    };
    let msg = e.to_string();
    if std::env::var_os("MMARROW_BAD_CORPUS_VERBOSE").is_some() {
        eprintln!("{what}: {msg}");
    }
    let mut wrong = vec![];
    match e.path() {
        None => wrong.push("names no file".to_string()),
        Some(p) if !p.to_string_lossy().starts_with(&*target.to_string_lossy()) => {
            wrong.push(format!("names {} instead", p.display()))
        }
        Some(_) => {}
    }
    if msg.contains('\n') {
        wrong.push("message is not one line".into());
    }
    if !e.is_user_error() {
        wrong.push(format!("is an internal error ({:?})", e.kind()));
    }
    (!wrong.is_empty()).then(|| format!("{what}: {} — {msg:?}", wrong.join(", ")))
}

fn open_options(args: &[String]) -> mmarrow::Result<mmarrow::OpenOptions> {
    let mut o = mmarrow::OpenOptions::new();
    for pair in args.chunks(2) {
        match (pair[0].as_str(), pair.get(1)) {
            ("--dtype", Some(v)) => o = o.try_with_dtype(v)?,
            ("--shape", Some(v)) => o = o.try_with_shape(v)?,
            (flag, _) => panic!("unknown option {flag} in cases.txt"),
        }
    }
    Ok(o)
}

/// One library call on a bad input, run on its own thread.
type LibraryCall = Box<dyn FnOnce() -> mmarrow::Result<()> + Send>;

/// The library calls for one case, each judged on its own.
fn library(case: &Case, target: &Path, scratch: &Path) -> Vec<String> {
    let t = target.to_path_buf();
    let out = scratch.to_path_buf();
    let calls: Vec<(&str, LibraryCall)> = match case.how.as_str() {
        "array" => {
            let args = case.args.clone();
            vec![(
                "open + to_record_batch",
                Box::new(move || {
                    let a = open_options(&args)?.open(&t)?;
                    a.to_arrow()?;
                    a.to_arrow_compatible().to_record_batch()?;
                    Ok(())
                }),
            )]
        }
        "table" | "table-content" | "table-count" => vec![(
            "Table::open + to_record_batch",
            Box::new(move || {
                mmarrow::Table::open(&t)?.to_record_batch()?;
                Ok(())
            }),
        )],
        "parquet" | "ipc" => {
            let parquet = case.how == "parquet";
            let (t2, out2) = (t.clone(), out.clone());
            let o = || {
                mmarrow::convert::ConvertOptions::new()
                    .threads(1)
                    .durable(false)
                    .column("x")
            };
            vec![
                (
                    if parquet { "from_parquet" } else { "from_ipc" },
                    Box::new(move || {
                        let dst = out.join("lib.bin");
                        if parquet {
                            mmarrow::convert::from_parquet(&t, dst, &o())?;
                        } else {
                            mmarrow::convert::from_ipc(&t, dst, &o())?;
                        }
                        Ok(())
                    }),
                ),
                (
                    if parquet {
                        "parquet_to_table"
                    } else {
                        "ipc_to_table"
                    },
                    Box::new(move || {
                        let dst = out2.join("lib.table");
                        let o = mmarrow::convert::ConvertOptions::new()
                            .threads(1)
                            .durable(false);
                        if parquet {
                            mmarrow::convert::parquet_to_table(&t2, dst, &o)?;
                        } else {
                            mmarrow::convert::ipc_to_table(&t2, dst, &o)?;
                        }
                        Ok(())
                    }),
                ),
            ]
        }
        other => panic!("unknown HOW {other:?} for {}", case.path),
    };
    calls
        .into_iter()
        .filter_map(
            |(what, f)| match bounded(what, TIMEOUT, f, || release_fifos(target)) {
                Ok(r) => judge(what, r, target),
                Err(hang_or_panic) => Some(hang_or_panic),
            },
        )
        .collect()
}

/// Opens every FIFO at or under `target` for writing and closes it, so a
/// reader blocked in open(2) or read(2) on it sees end-of-file.
fn release_fifos(target: &Path) {
    use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
    let mut paths = vec![target.to_path_buf(), mmarrow::format::sidecar_path(target)];
    if let Ok(rd) = std::fs::read_dir(target) {
        paths.extend(rd.flatten().map(|e| e.path()));
    }
    for p in paths {
        if std::fs::symlink_metadata(&p).is_ok_and(|m| m.file_type().is_fifo()) {
            let _ = std::fs::OpenOptions::new()
                .write(true)
                .custom_flags(libc::O_NONBLOCK)
                .open(&p);
        }
    }
}

#[cfg(feature = "cli")]
fn cli_runs(case: &Case, target: &Path, scratch: &Path) -> Vec<Vec<String>> {
    let p = target.to_str().unwrap().to_string();
    let out = |n: &str| scratch.join(n).to_str().unwrap().to_string();
    let with = |cmd: &str| {
        let mut v = vec![cmd.to_string(), p.clone()];
        v.extend(case.args.iter().cloned());
        v
    };
    match case.how.as_str() {
        "array" => vec![with("info"), with("head"), vec!["verify".into(), p.clone()]],
        "table" => vec![with("info"), with("head"), with("verify")],
        // `info` reads the manifest and checks file sizes only, by design.
        "table-content" => vec![with("head"), with("verify")],
        // Only the manifest's null count is wrong: `head` validates the rows
        // it shows and counts their nulls from the bitmap, so only `verify`
        // (and the whole-table open above) must refuse it.
        "table-count" => vec![with("verify")],
        "parquet" => vec![
            vec![
                "from-parquet".into(),
                p.clone(),
                out("cli.bin"),
                "--column".into(),
                "x".into(),
                "--no-fsync".into(),
            ],
            vec![
                "convert".into(),
                p.clone(),
                out("cli.table"),
                "--table".into(),
                "--no-fsync".into(),
            ],
        ],
        "ipc" => vec![
            vec![
                "convert".into(),
                p.clone(),
                out("cli.bin"),
                "--column".into(),
                "x".into(),
                "--no-fsync".into(),
            ],
            vec![
                "convert".into(),
                p.clone(),
                out("cli.table"),
                "--table".into(),
                "--no-fsync".into(),
            ],
        ],
        other => panic!("unknown HOW {other:?}"),
    }
}

/// Runs the CLI with `args` under the address-space limit and the timeout;
/// what is wrong with how it failed, if anything.
#[cfg(feature = "cli")]
fn cli(args: &[String], target: &Path, scratch: &Path) -> Option<String> {
    cli_within(args, target, scratch, TIMEOUT)
}

#[cfg(feature = "cli")]
fn cli_within(args: &[String], target: &Path, scratch: &Path, timeout: Duration) -> Option<String> {
    use std::os::unix::process::{CommandExt, ExitStatusExt};
    let (so, se) = (scratch.join("stdout"), scratch.join("stderr"));
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_mmarrow"));
    cmd.args(args)
        .stdin(std::process::Stdio::null())
        .stdout(std::fs::File::create(&so).unwrap())
        .stderr(std::fs::File::create(&se).unwrap());
    // SAFETY: setrlimit is async-signal-safe, as required between fork and
    // exec, and changes only the child.
    unsafe {
        cmd.pre_exec(|| {
            let lim = libc::rlimit {
                rlim_cur: CLI_ADDRESS_SPACE,
                rlim_max: CLI_ADDRESS_SPACE,
            };
            if libc::setrlimit(libc::RLIMIT_AS, &lim) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let what = format!("`mmarrow {}`", args[0]);
    let mut child = cmd.spawn().unwrap();
    let start = std::time::Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if start.elapsed() > timeout {
            release_fifos(target);
            let _ = child.kill();
            let _ = child.wait();
            return Some(format!("{what} hangs (over {timeout:?}, killed)"));
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    let stderr = std::fs::read_to_string(&se).unwrap_or_default();
    if std::env::var_os("MMARROW_BAD_CORPUS_VERBOSE").is_some() {
        eprintln!("{what} -> {:?}: {}", status.code(), stderr.trim_end());
    }
    let first = stderr.lines().next().unwrap_or("").to_string();
    let mut wrong = vec![];
    match (status.code(), status.signal()) {
        (Some(2), _) => {}
        (Some(101), _) => wrong.push("panics (exit 101)".to_string()),
        (Some(c), _) => wrong.push(format!("exits {c}, not 2")),
        (None, Some(libc::SIGABRT)) => {
            wrong.push("aborts (SIGABRT: allocation over 1 GiB?)".to_string())
        }
        (None, Some(sig)) => wrong.push(format!("killed by signal {sig}")),
        (None, None) => wrong.push("ended without a status".to_string()),
    }
    if stderr.lines().count() != 1 || !first.starts_with("mmarrow: ") {
        wrong.push("stderr is not one `mmarrow: ` line".into());
    }
    if !first.contains(target.to_str().unwrap()) {
        wrong.push("stderr does not name the file".into());
    }
    (!wrong.is_empty()).then(|| format!("{what}: {} — {:?}", wrong.join(", "), first))
}

/// Makes an `@NAME` case under `dir`; returns the path to pass.
fn generate(name: &str, dir: &Dir) -> PathBuf {
    let fifo = |p: &Path| {
        let c = std::ffi::CString::new(p.to_str().unwrap()).unwrap();
        // SAFETY: `c` is a NUL-terminated path that outlives the call.
        let rc = unsafe { libc::mkfifo(c.as_ptr(), 0o600) };
        assert_eq!(rc, 0, "mkfifo {}", p.display());
    };
    let sparse = |p: &Path, prefix: &[u8], len: u64| {
        std::fs::write(p, prefix).unwrap();
        std::fs::File::options()
            .write(true)
            .open(p)
            .unwrap()
            .set_len(len)
            .unwrap();
    };
    let sidecar = r#"{"format":"mmarrow.array","version":1,"dtype":"<f4","shape":[4]}"#;
    let manifest = r#"{"format":"mmarrow.table","version":1,"rows":4,"columns":[{"field":{"name":"n","type":{"name":"int64"},"nullable":false},"files":{"values":"c0.values"},"null_count":0}]}"#;
    let table = |files: &dyn Fn(&Path)| {
        let t = dir.path(name.trim_start_matches('@'));
        std::fs::create_dir(&t).unwrap();
        std::fs::write(t.join("manifest.json"), manifest).unwrap();
        files(&t);
        t
    };
    let p = dir.path(name.trim_start_matches('@'));
    match name {
        "@fifo_raw" => {
            fifo(&p);
            dir.sidecar(&p, sidecar);
            p
        }
        "@fifo_npy" => {
            let p = dir.path("fifo.npy");
            fifo(&p);
            p
        }
        "@fifo_sidecar" => {
            std::fs::write(&p, [0u8; 16]).unwrap();
            fifo(&mmarrow::format::sidecar_path(&p));
            p
        }
        "@dir_as_array" => {
            std::fs::create_dir(&p).unwrap();
            p
        }
        "@sidecar_is_dir" => {
            std::fs::write(&p, [0u8; 16]).unwrap();
            std::fs::create_dir(mmarrow::format::sidecar_path(&p)).unwrap();
            p
        }
        "@huge_sidecar" => {
            std::fs::write(&p, [0u8; 16]).unwrap();
            sparse(
                &mmarrow::format::sidecar_path(&p),
                sidecar.as_bytes(),
                64 << 20,
            );
            p
        }
        "@huge_npy_header" => {
            let p = dir.path("huge_header.npy");
            let mut pre = b"\x93NUMPY\x02\x00".to_vec();
            pre.extend(((64u32 << 20) - 12).to_le_bytes());
            pre.extend(npy(
                "{'descr': '<f4', 'fortran_order': False, 'shape': (4,), }",
                &[],
            ));
            sparse(&p, &pre, 64 << 20);
            p
        }
        "@fifo_manifest" => table(&|t| {
            std::fs::remove_file(t.join("manifest.json")).unwrap();
            fifo(&t.join("manifest.json"));
            std::fs::write(t.join("c0.values"), [0u8; 32]).unwrap();
        }),
        "@manifest_is_dir" => table(&|t| {
            std::fs::remove_file(t.join("manifest.json")).unwrap();
            std::fs::create_dir(t.join("manifest.json")).unwrap();
        }),
        "@huge_manifest" => {
            table(&|t| sparse(&t.join("manifest.json"), manifest.as_bytes(), 64 << 20))
        }
        "@fifo_column" => table(&|t| fifo(&t.join("c0.values"))),
        "@column_is_dir" => table(&|t| std::fs::create_dir(t.join("c0.values")).unwrap()),
        "@symlink_outside" => table(&|t| {
            let outside = t.parent().unwrap().join("outside.values");
            std::fs::write(&outside, [0u8; 32]).unwrap();
            std::os::unix::fs::symlink(&outside, t.join("c0.values")).unwrap();
        }),
        "@symlink_loop" => table(&|t| {
            std::os::unix::fs::symlink(t.join("c0.values"), t.join("c0.values")).unwrap()
        }),
        "@symlink_dangling" => {
            table(&|t| std::os::unix::fs::symlink(t.join("nowhere"), t.join("c0.values")).unwrap())
        }
        "@fifo_parquet" => {
            let p = dir.path("fifo.parquet");
            fifo(&p);
            p
        }
        "@fifo_ipc" => {
            let p = dir.path("fifo.arrow");
            fifo(&p);
            p
        }
        "@dir_as_parquet" => {
            let p = dir.path("dir.parquet");
            std::fs::create_dir(&p).unwrap();
            p
        }
        other => panic!("no generator for {other}"),
    }
}

/// Sorts outcomes into unexpected failures (returned), known failures and
/// stale marks (a stale mark is an unexpected failure too), printing both.
fn report(outcomes: Vec<(Case, Vec<String>)>) -> Vec<String> {
    let mut unexpected = vec![];
    let mut known = vec![];
    for (c, wrong) in outcomes {
        match (&c.known_failing, wrong.is_empty()) {
            (None, true) => {}
            (None, false) => unexpected.push(format!(
                "{} ({}): {}",
                c.path,
                c.description,
                wrong.join("; ")
            )),
            (Some(reason), false) => {
                known.push(format!("{} [{reason}]: {}", c.path, wrong.join("; ")))
            }
            (Some(reason), true) => unexpected.push(format!(
                "{} is marked known-failing ({reason}) but passes: remove the mark",
                c.path
            )),
        }
    }
    if !known.is_empty() {
        eprintln!("KNOWN-FAILING ({}), library defects to fix:", known.len());
        known.iter().for_each(|k| eprintln!("  {k}"));
    }
    unexpected
}

/// The harness itself notices each way of failing, so that a passing
/// corpus means something.
#[test]
fn harness_reports_panics_hangs_acceptance_and_stale_marks() {
    let d = Dir::new();
    let p = d.file(
        "ok.npy",
        &npy(
            "{'descr': '<f4', 'fortran_order': False, 'shape': (1,), }",
            &[0; 4],
        ),
    );
    let panics = bounded("f", TIMEOUT, || panic!("boom"), || {});
    assert!(panics.unwrap_err().contains("f panics: boom"));
    let hangs = bounded(
        "g",
        Duration::from_millis(50),
        || std::thread::sleep(TIMEOUT),
        || {},
    );
    assert!(hangs.unwrap_err().contains("g hangs"));
    let accepted = judge("open", mmarrow::open(&p).map(drop), &p).unwrap();
    assert!(accepted.contains("accepts it"), "{accepted}");
    let pathless = mmarrow::Error::new(mmarrow::ErrorKind::Internal { reason: "x".into() });
    let wrong = judge("open", Err(pathless), &p).unwrap();
    assert!(
        wrong.contains("names no file") && wrong.contains("internal"),
        "{wrong}"
    );
    #[cfg(feature = "cli")]
    {
        let info = cli(
            &["info".into(), p.to_str().unwrap().into()],
            &p,
            d.dir.path(),
        )
        .unwrap();
        assert!(info.contains("exits 0, not 2"), "{info}");
        // A zero deadline: the child cannot have exited at the first poll,
        // so the kill path runs.
        let args = ["head".to_string(), p.to_str().unwrap().into()];
        let hang = cli_within(&args, &p, d.dir.path(), Duration::ZERO).unwrap();
        assert!(hang.contains("hangs"), "{hang}");
    }
    let case = |known: Option<&str>| Case {
        path: "x".into(),
        how: "array".into(),
        args: vec![],
        description: "d".into(),
        known_failing: known.map(String::from),
    };
    assert!(report(vec![(case(Some("r")), vec!["bad".into()])]).is_empty());
    assert_eq!(report(vec![(case(None), vec!["bad".into()])]).len(), 1);
    let stale = report(vec![(case(Some("r")), vec![])]);
    assert!(stale[0].contains("remove the mark"), "{stale:?}");
}

#[test]
fn every_bad_input_gives_a_typed_error_naming_the_file() {
    let root = repo().join("tests/corpus/bad");
    let cases = read_cases(&root.join("cases.txt"));
    assert!(cases.len() >= 60, "the corpus has {} cases", cases.len());
    let gen = Dir::new();
    let mut outcomes = vec![];
    for case in cases {
        let target = if case.path.starts_with('@') {
            generate(&case.path, &gen)
        } else {
            let p = root.join(&case.path);
            assert!(p.exists(), "{} is listed but absent", p.display());
            p
        };
        let scratch = Dir::new();
        let mut wrong = library(&case, &target, scratch.dir.path());
        #[cfg(feature = "cli")]
        for args in cli_runs(&case, &target, scratch.dir.path()) {
            wrong.extend(cli(&args, &target, scratch.dir.path()));
        }
        outcomes.push((case, wrong));
    }
    let unexpected = report(outcomes);
    assert!(
        unexpected.is_empty(),
        "{} bad inputs are not handled (fix the library, or mark them known-failing in cases.txt and report them):\n{}",
        unexpected.len(),
        unexpected.join("\n")
    );
}

/// Every committed fuzz seed and regression, fed to the same function its
/// target calls (fuzz/fuzz_targets/common.rs), on the stable toolchain.
/// With `MMARROW_FUZZ_CORPUS=1` the local, uncommitted `fuzz/corpus/` that
/// `cargo fuzz run` grows is replayed too.
#[test]
fn fuzz_seeds_and_regressions_replay() {
    let fuzz = repo().join("fuzz");
    let marks: Vec<Case> = read_cases(&fuzz.join("regressions/cases.txt"));
    let mut dirs = vec!["seeds", "regressions"];
    if std::env::var_os("MMARROW_FUZZ_CORPUS").is_some() {
        dirs.push("corpus");
    }
    let mut outcomes = vec![];
    let mut inputs = 0;
    for target in fuzz_common::TARGETS {
        for d in &dirs {
            let mut files = vec![];
            collect(&fuzz.join(d).join(target.name), &mut files);
            for file in files {
                if file.file_name().is_some_and(|n| n == "LICENSE.txt") {
                    continue;
                }
                inputs += 1;
                let rel = file
                    .strip_prefix(&fuzz)
                    .unwrap()
                    .to_string_lossy()
                    .into_owned();
                let data = std::fs::read(&file).unwrap();
                let scratch = Dir::new();
                let run = target.run;
                let dir = scratch.dir.path().to_path_buf();
                let wrong: Vec<String> =
                    bounded(target.name, TIMEOUT, move || run(&data, &dir), || {})
                        .err()
                        .into_iter()
                        .collect();
                let mark = marks.iter().find(|m| m.path == rel);
                if mark.is_none() && wrong.is_empty() {
                    continue;
                }
                let case = mark.cloned().unwrap_or(Case {
                    path: rel,
                    how: target.name.into(),
                    args: vec![],
                    description: "fuzz input".into(),
                    known_failing: None,
                });
                outcomes.push((case, wrong));
            }
        }
    }
    assert!(
        inputs > 100,
        "only {inputs} fuzz inputs found under {}",
        fuzz.display()
    );
    let unexpected = report(outcomes);
    assert!(
        unexpected.is_empty(),
        "{} fuzz inputs fail (see the panic messages above):\n{}",
        unexpected.len(),
        unexpected.join("\n")
    );
}

fn collect(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    let mut entries: Vec<PathBuf> = rd.flatten().map(|e| e.path()).collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            collect(&p, out);
        } else {
            out.push(p);
        }
    }
}
