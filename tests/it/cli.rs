//! The real `mmarrow` binary: exit codes, stdout, one-line stderr.

use std::io::Read;
use std::path::Path;
use std::process::{Command, Output, Stdio};

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

fn stderr_line(o: &Output) -> String {
    let e = String::from_utf8(o.stderr.clone()).unwrap();
    assert_eq!(e.lines().count(), 1, "stderr must be one line: {e:?}");
    assert!(e.starts_with("mmarrow: "), "{e}");
    e
}

#[test]
fn describe_then_info_then_head() {
    let d = Dir::new();
    let p = d.file("emb.f32", &f32_bytes((0..12).map(|v| v as f32)));
    // `--shape -1,3` as users type it, leading minus included.
    let o = mmarrow(&["describe", s(&p), "--dtype", "float32", "--shape", "-1,3"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let sc = std::fs::read_to_string(mmarrow::format::sidecar_path(&p)).unwrap();
    assert!(sc.contains(r#""shape":[4,3]"#), "{sc}");
    assert!(sc.contains(r#""dtype":"<f4""#), "{sc}");

    let o = mmarrow(&["info", s(&p)]);
    assert!(o.status.success());
    let out = String::from_utf8(o.stdout).unwrap();
    assert!(out.contains("shape:     (4, 3)"), "{out}");
    assert!(out.contains("zero-copy: yes"), "{out}");
    assert!(out.contains("arrow.fixed_shape_tensor"), "{out}");

    let o = mmarrow(&["info", s(&p), "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["dtype"], "<f4");
    assert_eq!(v["shape"], serde_json::json!([4, 3]));
    assert_eq!(v["order"], "C");
    assert_eq!(v["offset"], 0);
    assert_eq!(v["nbytes"], 48);
    assert_eq!(v["zero_copy"], true);
    assert_eq!(v["arrow_type"], "FixedSizeList(3 x Float32)");
    assert_eq!(v["arrow_extension_metadata"], r#"{"shape":[3]}"#);

    let o = mmarrow(&["head", s(&p), "-n", "2"]);
    assert!(o.status.success());
    let out = String::from_utf8(o.stdout).unwrap();
    assert!(out.contains("[3.0, 4.0, 5.0]"), "{out}");
    assert!(!out.contains("[6.0"), "{out}");
    assert!(out.contains("2 of 4 rows"), "{out}");
}

#[test]
fn describe_equals_sign_form_and_order_offset() {
    let d = Dir::new();
    let mut bytes = vec![0u8; 8];
    bytes.extend(f32_bytes([1.0, 2.0, 3.0, 4.0]));
    let p = d.file("f.f32", &bytes);
    let o = mmarrow(&[
        "describe",
        s(&p),
        "--dtype=<f4",
        "--shape=-1,2",
        "--offset",
        "8",
        "--order",
        "F",
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let a = mmarrow::open(&p).unwrap();
    assert_eq!(
        (a.shape(), a.offset(), a.order()),
        (&[2u64, 2][..], 8, mmarrow::shape::Order::F)
    );
}

#[test]
fn describe_never_overwrites_without_force() {
    let d = Dir::new();
    let p = d.file("a.f32", &f32_bytes([1.0, 2.0]));
    assert!(mmarrow(&["describe", s(&p), "--dtype", "f4"])
        .status
        .success());
    let before = std::fs::read(mmarrow::format::sidecar_path(&p)).unwrap();
    let o = mmarrow(&["describe", s(&p), "--dtype", "i4"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr_line(&o).contains("already exists"));
    assert_eq!(
        std::fs::read(mmarrow::format::sidecar_path(&p)).unwrap(),
        before
    );
    let o = mmarrow(&["describe", s(&p), "--dtype", "i4", "--force"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(mmarrow::open(&p).unwrap().dtype().typestr(), "<i4");
}

#[test]
fn describe_checks_the_file_size() {
    let d = Dir::new();
    let p = d.file("a.f32", &[0; 4000]);
    let o = mmarrow(&["describe", s(&p), "--dtype", "f4", "--shape", "1000,2"]);
    assert_eq!(o.status.code(), Some(2));
    let e = stderr_line(&o);
    assert!(e.contains("file has 4000 bytes"), "{e}");
    assert!(!mmarrow::format::sidecar_path(&p).exists());
}

#[test]
fn user_errors_exit_2_with_one_line() {
    let d = Dir::new();
    for args in [
        vec!["info", "/nonexistent/file.f32"],
        vec!["head", s(d.dir.path())],
        vec!["describe", "/nonexistent", "--dtype", "f4"],
        vec!["info", "x", "--dtype", "object"],
        vec!["info", "x", "--shape", "-1,-1"],
        vec!["info", "--bogus-flag"],
        vec!["describe", "x"],
    ] {
        let o = mmarrow(&args);
        assert_eq!(o.status.code(), Some(2), "{args:?}");
        stderr_line(&o);
        assert!(o.stdout.is_empty(), "{args:?}");
    }
}

#[test]
fn closed_pipe_exits_zero() {
    let d = Dir::new();
    let p = d.file("big.f32", &f32_bytes((0..200_000).map(|v| v as f32)));
    let mut child = Command::new(env!("CARGO_BIN_EXE_mmarrow"))
        .args(["head", s(&p), "--dtype", "f4", "-n", "200000"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = [0u8; 16];
    child
        .stdout
        .as_mut()
        .unwrap()
        .read_exact(&mut first)
        .unwrap();
    drop(child.stdout.take());
    let status = child.wait().unwrap();
    let mut err = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    assert_eq!(status.code(), Some(0), "{err}");
    assert!(err.is_empty(), "{err}");
}

#[test]
fn head_shows_big_endian_from_a_copy_of_the_shown_rows() {
    let d = Dir::new();
    let p = d.file("be.i4", &[0, 0, 0, 7, 0, 0, 0, 8]);
    let o = mmarrow(&["head", s(&p), "--dtype", ">i4"]);
    assert!(o.status.success());
    let out = String::from_utf8(o.stdout).unwrap();
    assert!(out.contains("| 7 ") && out.contains("| 8 "), "{out}");
    assert!(out.contains("copy"), "{out}");
    let o = mmarrow(&["info", s(&p), "--dtype", ">i4"]);
    let out = String::from_utf8(o.stdout).unwrap();
    assert!(out.contains("zero-copy: no"), "{out}");
}

#[test]
fn create_makes_a_zero_filled_file_and_refuses_to_overwrite() {
    let d = Dir::new();
    let p = d.path("z.npy");
    let o = mmarrow(&["create", s(&p), "--dtype", "int16", "--shape", "5,3"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let a = mmarrow::open(&p).unwrap();
    assert_eq!(a.shape(), &[5, 3]);
    assert!(a.data_buffer().as_slice().iter().all(|&b| b == 0));
    let o = mmarrow(&["create", s(&p), "--dtype", "int16", "--shape", "5,3"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr_line(&o).contains("already exists"));
    let o = mmarrow(&[
        "create",
        s(&d.path("n.f4")),
        "--dtype",
        "f4",
        "--shape",
        "-1,3",
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr_line(&o).contains("shape is required"));
    let o = mmarrow(&["create", s(&p), "--dtype", "f8", "--shape", "2", "--force"]);
    assert!(o.status.success());
    assert_eq!(mmarrow::open(&p).unwrap().dtype().typestr(), "<f8");
}

#[test]
fn cat_concatenates_along_the_first_axis() {
    let d = Dir::new();
    let a = d.file("a.f32", &f32_bytes([1.0, 2.0, 3.0, 4.0]));
    let b = d.file("b.f32", &f32_bytes([5.0, 6.0]));
    for (p, shape) in [(&a, "-1,2"), (&b, "-1,2")] {
        assert!(
            mmarrow(&["describe", s(p), "--dtype", "f4", "--shape", shape])
                .status
                .success()
        );
    }
    let out = d.path("ab.npy");
    let o = mmarrow(&["cat", s(&out), s(&a), s(&b), s(&a)]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let r = mmarrow::open(&out).unwrap();
    assert_eq!(r.shape(), &[5, 2]);
    assert_eq!(
        r.data_buffer().as_slice(),
        &f32_bytes([1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 1.0, 2.0, 3.0, 4.0])[..]
    );
    // Incompatible row shape: exit 2, no output left behind.
    let c = d.file("c.f32", &f32_bytes([1.0, 2.0, 3.0]));
    assert!(
        mmarrow(&["describe", s(&c), "--dtype", "f4", "--shape", "-1,3"])
            .status
            .success()
    );
    let out2 = d.path("bad.f32");
    let o = mmarrow(&["cat", s(&out2), s(&a), s(&c)]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr_line(&o).contains("rows have shape"));
    assert!(!out2.exists() && !mmarrow::format::sidecar_path(&out2).exists());
    // Writing over an input is refused even with --force.
    let o = mmarrow(&["cat", s(&a), s(&a), s(&b), "--force"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr_line(&o).contains("also an input"));
    assert_eq!(mmarrow::open(&a).unwrap().shape(), &[2, 2]);
}

#[test]
fn conversion_commands_round_trip_and_refuse_bad_input() {
    let d = Dir::new();
    let p = d.file("v.f32", &f32_bytes((0..64).map(|v| v as f32)));
    assert!(
        mmarrow(&["describe", s(&p), "--dtype", "f4", "--shape", "-1,8"])
            .status
            .success()
    );
    let pq = d.path("v.parquet");
    let o = mmarrow(&[
        "to-parquet",
        s(&p),
        s(&pq),
        "--compression",
        "snappy",
        "--row-group-size",
        "3",
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let out = String::from_utf8(o.stdout).unwrap();
    assert!(out.contains("8 rows") && out.contains("3 groups"), "{out}");
    assert!(
        o.stderr.is_empty(),
        "no progress bar when stderr is not a terminal"
    );
    let back = d.path("back.npy");
    assert!(mmarrow(&["from-parquet", s(&pq), s(&back)])
        .status
        .success());
    assert_eq!(mmarrow::open(&back).unwrap().shape(), &[8, 8]);
    let ipc = d.path("v.arrow");
    assert!(mmarrow(&["convert", s(&back), s(&ipc)]).status.success());
    let back2 = d.path("back2.f32");
    assert!(mmarrow(&["convert", s(&ipc), s(&back2)]).status.success());
    assert_eq!(std::fs::read(&back2).unwrap(), std::fs::read(&p).unwrap());
    for args in [
        vec!["to-parquet", s(&p), s(&pq)],                       // exists
        vec!["to-parquet", s(&p), "/nonexistent-dir/x.parquet"], // not writable
        vec!["to-parquet", "/nonexistent.f32", "x.parquet"],     // no source
        vec!["to-parquet", s(&p), "y.parquet", "--compression", "brotli"], // codec
        vec!["to-parquet", s(&p), "y.parquet", "--compression", "zstd:99"], // level
        vec!["from-parquet", s(&p), "z.npy"],                    // not parquet
        vec!["convert", s(&pq), "z.arrow"],                      // no such pair
    ] {
        let o = mmarrow(&args);
        assert_eq!(
            o.status.code(),
            Some(2),
            "{args:?}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        stderr_line(&o);
    }
}

#[test]
#[allow(unsafe_code)] // kill(2) to send SIGINT
fn ctrl_c_leaves_no_partial_output() {
    let d = Dir::new();
    let p = d.path("big.f32");
    std::fs::File::create(&p).unwrap().set_len(1 << 30).unwrap();
    assert!(
        mmarrow(&["describe", s(&p), "--dtype", "f4", "--shape", "-1,256"])
            .status
            .success()
    );
    let dst = d.path("big.parquet");
    let mut child = Command::new(env!("CARGO_BIN_EXE_mmarrow"))
        .args([
            "to-parquet",
            s(&p),
            s(&dst),
            "--compression",
            "gzip:9",
            "--threads",
            "1",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(300));
    // SAFETY: sending a signal to our own child process.
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(130));
    let left: Vec<String> = std::fs::read_dir(d.dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains("parquet"))
        .collect();
    assert!(left.is_empty(), "left behind: {left:?}");
}
