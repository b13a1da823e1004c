//! The `mmarrow` binary under signals and limits: the file size limit
//! (SIGXFSZ), terminating signals and a file truncated under a live map
//! (SIGBUS). Each must end with one `mmarrow: …` line, a defined exit code
//! and no temporary or partial output left behind.
#![allow(unsafe_code)] // setrlimit in the child, kill(2) to the child

use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use crate::common::{f32_bytes, Dir};

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

fn mmarrow(args: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_mmarrow"));
    c.args(args).stdin(Stdio::null());
    c
}

/// `cmd` with its file size limit set to `bytes` in the child only. The
/// child's SIGXFSZ keeps its default action (kill): ignoring it is the
/// binary's job.
fn with_file_size_limit(cmd: &mut Command, bytes: u64) -> &mut Command {
    // SAFETY: setrlimit is async-signal-safe, as required between fork and
    // exec; it only touches the child.
    unsafe {
        cmd.pre_exec(move || {
            let lim = libc::rlimit {
                rlim_cur: bytes,
                rlim_max: bytes,
            };
            if libc::setrlimit(libc::RLIMIT_FSIZE, &lim) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        })
    }
}

/// The one line of stderr (asserted to be one `mmarrow: ` line).
fn stderr_line(o: &Output) -> String {
    let e = String::from_utf8(o.stderr.clone()).unwrap();
    assert_eq!(e.lines().count(), 1, "stderr must be one line: {e:?}");
    assert!(e.starts_with("mmarrow: "), "{e}");
    e.trim_end().to_string()
}

fn names(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

/// A 1 MiB float32 array with its sidecar, and the names in its directory.
fn small_input(d: &Dir) -> PathBuf {
    let p = d.file("in.f4", &f32_bytes((0..262_144).map(|v| v as f32)));
    let o = mmarrow(&["describe", s(&p), "--dtype", "f4", "--shape", "-1,64"])
        .output()
        .unwrap();
    assert!(o.status.success());
    p
}

fn status_text(o: &Output) -> String {
    format!(
        "code {:?} signal {:?}, stderr {}",
        o.status.code(),
        o.status.signal(),
        String::from_utf8_lossy(&o.stderr)
    )
}

#[test]
fn the_file_size_limit_is_an_error_naming_the_output_not_a_kill() {
    file_size_limit_cases(&["out.parquet", "back.f4", "new.f4", "joined.f4"]);
}

#[test]
fn the_file_size_limit_during_a_conversion_to_arrow_ipc_names_the_output() {
    file_size_limit_cases(&["out.arrow"]);
}

/// Runs the writing commands whose outputs are named in `only` under a
/// 100 KiB file size limit.
fn file_size_limit_cases(only: &[&str]) {
    let d = Dir::new();
    let input = small_input(&d);
    let parquet = d.path("full.parquet");
    let o = mmarrow(&[
        "to-parquet",
        s(&input),
        s(&parquet),
        "--compression",
        "none",
    ])
    .output()
    .unwrap();
    assert!(o.status.success(), "{}", status_text(&o));
    let before = names(d.dir.path());
    let cases: [(&str, Vec<&str>); 5] = [
        ("out.parquet", vec!["to-parquet", s(&input)]),
        ("back.f4", vec!["from-parquet", s(&parquet)]),
        ("new.f4", vec!["create"]),
        ("joined.f4", vec!["cat"]),
        ("out.arrow", vec!["convert", s(&input)]),
    ];
    for (name, args) in cases.into_iter().filter(|(n, _)| only.contains(n)) {
        let dst = d.path(name);
        let mut args = args.clone();
        match args[0] {
            "create" => args.extend([s(&dst), "--dtype", "f4", "--shape", "1000000"]),
            "cat" => args.extend([s(&dst), s(&input), s(&input)]),
            _ => {
                args.push(s(&dst));
                args.extend(["--compression", "none"]);
            }
        }
        let o = with_file_size_limit(&mut mmarrow(&args), 100 << 10)
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(2), "{name}: {}", status_text(&o));
        let line = stderr_line(&o);
        assert!(line.contains(s(&dst)), "{name}: {line}");
        assert!(line.contains("File too large"), "{name}: {line}");
        assert_eq!(names(d.dir.path()), before, "{name}: files left behind");
    }
}

/// A 2 GiB sparse float32 array with its sidecar: long enough to convert
/// that a signal reliably arrives mid-way.
fn big_input(d: &Dir) -> PathBuf {
    let p = d.path("big.f32");
    std::fs::File::create(&p).unwrap().set_len(2 << 30).unwrap();
    let o = mmarrow(&["describe", s(&p), "--dtype", "f4", "--shape", "-1,256"])
        .output()
        .unwrap();
    assert!(o.status.success());
    p
}

fn start_conversion(src: &Path, dst: &Path) -> Child {
    mmarrow(&[
        "to-parquet",
        s(src),
        s(dst),
        "--compression",
        "gzip:9",
        "--threads",
        "1",
    ])
    .stdout(Stdio::null())
    .stderr(Stdio::piped())
    .spawn()
    .unwrap()
}

/// Waits until the conversion's temporary output exists (so the signal
/// arrives mid-conversion, with something to clean up).
fn wait_for_temporary(dir: &Path, dst_name: &str) {
    let start = Instant::now();
    let prefix = format!(".{dst_name}.tmp-");
    while !names(dir).iter().any(|n| n.starts_with(&prefix)) {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "no temporary output appeared"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    std::thread::sleep(Duration::from_millis(200));
}

#[test]
fn terminating_signals_remove_the_temporary_output() {
    let d = Dir::new();
    let src = big_input(&d);
    let before = names(d.dir.path());
    for (sig, name) in [
        (libc::SIGTERM, "SIGTERM"),
        (libc::SIGHUP, "SIGHUP"),
        (libc::SIGQUIT, "SIGQUIT"),
        (libc::SIGINT, "SIGINT"),
    ] {
        let dst = d.path("big.parquet");
        let child = start_conversion(&src, &dst);
        wait_for_temporary(d.dir.path(), "big.parquet");
        // SAFETY: sending a signal to our own child process.
        assert_eq!(unsafe { libc::kill(child.id() as i32, sig) }, 0);
        let o = child.wait_with_output().unwrap();
        assert_eq!(
            o.status.code(),
            Some(128 + sig),
            "{name}: {}",
            status_text(&o)
        );
        let line = stderr_line(&o);
        assert!(line.contains(name), "{name}: {line}");
        assert!(line.contains("no output written"), "{name}: {line}");
        assert_eq!(names(d.dir.path()), before, "{name}: files left behind");
    }
}

#[test]
fn a_file_truncated_under_the_map_is_named_and_the_output_removed() {
    let d = Dir::new();
    let src = big_input(&d);
    let before = names(d.dir.path());
    let dst = d.path("big.parquet");
    let child = start_conversion(&src, &dst);
    wait_for_temporary(d.dir.path(), "big.parquet");
    // Another program truncates the input while the conversion reads it.
    std::fs::OpenOptions::new()
        .write(true)
        .open(&src)
        .unwrap()
        .set_len(0)
        .unwrap();
    let o = child.wait_with_output().unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", status_text(&o));
    let line = stderr_line(&o);
    assert_eq!(
        line,
        format!(
            "mmarrow: {}: the file was truncated while mapped (SIGBUS)",
            src.display()
        )
    );
    assert_eq!(names(d.dir.path()), before, "files left behind");
}
