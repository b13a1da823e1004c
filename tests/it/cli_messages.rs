//! What the `mmarrow` binary prints: exit codes of user-caused failures,
//! one-line messages that name what is wrong, and user-supplied text shown
//! with its control characters escaped.

use std::path::Path;
use std::process::{Command, Output};
use std::sync::Arc;

use arrow_array::{ArrayRef, Int64Array, RecordBatch};

use crate::common::{f32_bytes, Dir};

fn mmarrow(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_mmarrow"))
        .args(args)
        .output()
        .unwrap()
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// Asserts exit code 2 and one `mmarrow: ` line on stderr; returns it.
fn user_error(o: &Output) -> String {
    let e = String::from_utf8(o.stderr.clone()).unwrap();
    assert_eq!(o.status.code(), Some(2), "{e}");
    assert_eq!(e.lines().count(), 1, "stderr must be one line: {e:?}");
    assert!(e.starts_with("mmarrow: "), "{e}");
    e
}

#[test]
fn a_symlink_loop_and_a_socket_are_user_errors() {
    let d = Dir::new();
    let a = d.path("loop-a");
    let b = d.path("loop-b");
    std::os::unix::fs::symlink(&b, &a).unwrap();
    std::os::unix::fs::symlink(&a, &b).unwrap();
    let e = user_error(&mmarrow(&["info", s(&a), "--dtype", "f4"]));
    assert!(e.contains(s(&a)), "{e}");

    let sock = d.path("sock");
    let _listener = std::os::unix::net::UnixListener::bind(&sock).unwrap();
    let e = user_error(&mmarrow(&["head", s(&sock), "--dtype", "f4"]));
    assert!(e.contains(s(&sock)), "{e}");
}

#[test]
fn a_column_file_that_is_a_directory_is_a_user_error() {
    let d = Dir::new();
    let t = d.path("t");
    let batch =
        RecordBatch::try_from_iter([("x", Arc::new(Int64Array::from(vec![1, 2, 3])) as ArrayRef)])
            .unwrap();
    let mut w = mmarrow::TableWriter::create(&t, batch.schema()).unwrap();
    w.append(&batch).unwrap();
    w.finish().unwrap();
    let m = mmarrow::format::Manifest::read(&t).unwrap();
    let name = m.columns[0].node.buffers[0].file.clone();
    let values = t.join(&name);
    std::fs::remove_file(&values).unwrap();
    std::fs::create_dir(&values).unwrap();
    for cmd in ["head", "verify"] {
        let e = user_error(&mmarrow(&[cmd, s(&t)]));
        assert!(e.contains(&name), "{cmd}: {e}");
    }
}

#[test]
fn a_row_too_long_for_arrow_is_a_user_error() {
    let d = Dir::new();
    let p = d.path("wide.f4");
    let e = user_error(&mmarrow(&[
        "create",
        s(&p),
        "--dtype",
        "f4",
        "--shape",
        "1,2147483648",
    ]));
    assert!(e.contains("2147483648"), "{e}");
    assert!(!p.exists());
}

#[test]
fn a_missing_argument_is_named() {
    let e = user_error(&mmarrow(&["describe"]));
    assert!(e.contains("<PATH>"), "{e}");
    assert!(e.contains("--dtype"), "{e}");
}

#[test]
fn a_dimension_past_u64_is_out_of_range_not_a_non_integer() {
    let d = Dir::new();
    let p = d.file("x.f4", &f32_bytes([1.0, 2.0]));
    let e = user_error(&mmarrow(&[
        "info",
        s(&p),
        "--dtype",
        "f4",
        "--shape",
        "18446744073709551616",
    ]));
    assert!(e.contains("out of range"), "{e}");
    assert!(!e.contains("not an integer"), "{e}");
}

#[test]
fn head_of_a_0d_array_prints_the_scalar() {
    let d = Dir::new();
    let p = d.file("s.f8", &3.5f64.to_le_bytes());
    let o = mmarrow(&["describe", s(&p), "--dtype", "f8", "--shape", "()"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let o = mmarrow(&["head", s(&p)]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let out = String::from_utf8(o.stdout).unwrap();
    assert!(out.contains("| 3.5 |"), "{out}");
}

/// A name holding an escape sequence that would clear the screen.
const EVIL: &str = "x\u{1b}[2Jy\nz";

fn assert_escaped(text: &str) {
    assert!(!text.contains('\u{1b}'), "raw escape printed: {text:?}");
    assert!(text.contains(r"x\u{1b}[2Jy\nz"), "{text:?}");
}

#[test]
fn names_from_sidecars_and_manifests_are_printed_escaped() {
    let d = Dir::new();
    let p = d.file("a.f4", &f32_bytes([1.0, 2.0]));
    let name = serde_json::to_string(EVIL).unwrap();
    d.sidecar(
        &p,
        &format!(
            r#"{{"format":"mmarrow.array","version":1,"dtype":"<f4","shape":[2],"name":{name},"metadata":{{{name}:{name}}}}}"#
        ),
    );
    for cmd in ["head", "info"] {
        let o = mmarrow(&[cmd, s(&p)]);
        assert!(
            o.status.success(),
            "{cmd}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        assert_escaped(&String::from_utf8(o.stdout).unwrap());
    }

    let t = d.path("t");
    let batch =
        RecordBatch::try_from_iter([(EVIL, Arc::new(Int64Array::from(vec![1])) as ArrayRef)])
            .unwrap();
    let mut w = mmarrow::TableWriter::create(&t, batch.schema()).unwrap();
    w.append(&batch).unwrap();
    w.finish().unwrap();
    for cmd in ["head", "info"] {
        let o = mmarrow(&[cmd, s(&t)]);
        assert!(
            o.status.success(),
            "{cmd}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        assert_escaped(&String::from_utf8(o.stdout).unwrap());
    }
}

#[test]
fn file_names_in_messages_and_results_are_printed_escaped() {
    let d = Dir::new();
    let p = d.file(EVIL, &f32_bytes([1.0, 2.0]));
    // The error printer: one line even though the name holds a newline.
    let e = user_error(&mmarrow(&["info", s(&p)]));
    assert_escaped(&e);
    let o = mmarrow(&["describe", s(&p), "--dtype", "f4"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_escaped(&String::from_utf8(o.stdout).unwrap());
    let o = mmarrow(&["verify", s(&p)]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_escaped(&String::from_utf8(o.stdout).unwrap());
}

#[test]
fn arrow_errors_are_worded_for_mmarrow_with_arrow_text_as_the_source() {
    let d = Dir::new();
    // Arrow IPC magic, then garbage.
    let bad = d.file("bad.arrow", b"ARROW1\0\0garbage garbage garbage garbage");
    let dst = d.path("out.f4");
    let o = mmarrow(&["convert", s(&bad), s(&dst)]);
    let e = String::from_utf8(o.stderr.clone()).unwrap();
    assert_eq!(e.lines().count(), 1, "{e:?}");
    assert!(e.contains(s(&bad)), "{e}");
    assert!(!e.starts_with("mmarrow: arrow: "), "{e}");
    assert!(!e.contains(": arrow: "), "{e}");
    assert!(!dst.exists());
}
