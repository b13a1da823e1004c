//! Each kind of bad input gives a typed error naming the file and the cause.

use std::fs::File;

use mmarrow::ErrorKind;
use mmarrow::{open, Error, OpenOptions};

use crate::common::{f32_bytes, npy, Dir};

fn msg_starts_with_path(e: &Error, path: &std::path::Path) {
    let m = e.to_string();
    assert!(
        m.starts_with(&format!("{}: ", path.display())),
        "message should start with the path: {m}"
    );
    assert!(!m.contains('\n'), "one line: {m}");
}

#[test]
fn missing_file() {
    let d = Dir::new();
    let p = d.path("nope.f32");
    let e = open(&p).unwrap_err();
    assert!(matches!(e.kind(), ErrorKind::NotFound), "{e}");
    msg_starts_with_path(&e, &p);
}

#[test]
fn missing_sidecar_and_no_dtype() {
    let d = Dir::new();
    let p = d.file("raw.bin", &[0; 16]);
    let e = open(&p).unwrap_err();
    assert!(matches!(e.kind(), ErrorKind::MissingSidecar { .. }), "{e}");
    assert!(e.to_string().contains("raw.bin.mmarrow.json"), "{e}");
    msg_starts_with_path(&e, &p);
}

#[test]
fn sidecar_that_is_not_json() {
    let d = Dir::new();
    let p = d.file("a.f32", &[0; 16]);
    d.sidecar(&p, "dtype=f4");
    let e = open(&p).unwrap_err();
    assert!(matches!(e.kind(), ErrorKind::InvalidSidecar { .. }), "{e}");
    assert!(e.to_string().contains("not JSON"), "{e}");
    msg_starts_with_path(&e, &mmarrow::format::sidecar_path(&p));
}

#[test]
fn sidecar_lacking_a_field() {
    let d = Dir::new();
    let p = d.file("a.f32", &[0; 16]);
    d.sidecar(&p, r#"{"format":"mmarrow.array","version":1,"shape":[4]}"#);
    let e = open(&p).unwrap_err();
    assert!(matches!(e.kind(), ErrorKind::InvalidSidecar { .. }), "{e}");
    assert!(e.to_string().contains("dtype"), "{e}");
}

#[test]
fn sidecar_with_unknown_version() {
    let d = Dir::new();
    let p = d.file("a.f32", &[0; 16]);
    d.sidecar(
        &p,
        r#"{"format":"mmarrow.array","version":7,"dtype":"<f4","shape":[4]}"#,
    );
    let e = open(&p).unwrap_err();
    assert!(
        matches!(
            e.kind(),
            ErrorKind::UnsupportedVersion {
                found: 7,
                supported: 1,
                ..
            }
        ),
        "{e}"
    );
}

#[test]
fn sidecar_with_unknown_or_unsupported_dtype() {
    let d = Dir::new();
    let p = d.file("a.f32", &[0; 16]);
    d.sidecar(
        &p,
        r#"{"format":"mmarrow.array","version":1,"dtype":"<q9","shape":[4]}"#,
    );
    assert!(matches!(
        open(&p).unwrap_err().kind(),
        ErrorKind::InvalidSidecar { .. }
    ));
    d.sidecar(
        &p,
        r#"{"format":"mmarrow.array","version":1,"dtype":"|O","shape":[4]}"#,
    );
    let e = open(&p).unwrap_err();
    assert!(
        matches!(e.kind(), ErrorKind::UnsupportedDtype { .. }),
        "{e}"
    );
    assert!(e.to_string().contains("object"), "{e}");
}

#[test]
fn shape_whose_element_count_overflows() {
    let d = Dir::new();
    let p = d.file("a.f32", &[0; 16]);
    let e = OpenOptions::new()
        .try_with_dtype("f4")
        .unwrap()
        .try_with_shape("4294967296,4294967296,16")
        .unwrap()
        .open(&p)
        .unwrap_err();
    assert!(matches!(e.kind(), ErrorKind::ShapeOverflow { .. }), "{e}");
    // Fits in u64 elements, overflows in bytes.
    let e = OpenOptions::new()
        .try_with_dtype("f8")
        .unwrap()
        .try_with_shape("4611686018427387904")
        .unwrap()
        .open(&p)
        .unwrap_err();
    assert!(matches!(e.kind(), ErrorKind::ShapeOverflow { .. }), "{e}");
}

#[test]
fn negative_and_several_inferred_dims() {
    for s in ["-2,4", "-1,-1", "3,-5"] {
        let e = OpenOptions::new().try_with_shape(s).unwrap_err();
        assert!(
            matches!(e.kind(), ErrorKind::InvalidShape { .. }),
            "{s}: {e}"
        );
        assert!(e.to_string().contains(s), "{e}");
    }
}

#[test]
fn file_shorter_than_offset_plus_shape() {
    let d = Dir::new();
    let p = d.file("a.f32", &[0; 4000]);
    let e = OpenOptions::new()
        .try_with_dtype("f4")
        .unwrap()
        .try_with_shape("1000,2")
        .unwrap()
        .open(&p)
        .unwrap_err();
    assert!(
        matches!(
            e.kind(),
            ErrorKind::SizeMismatch {
                expected: 8000,
                actual: 4000,
                ..
            }
        ),
        "{e}"
    );
    assert_eq!(
        e.to_string(),
        format!(
            "{}: file has 4000 bytes, offset 0 + shape (1000, 2) of <f4 needs 8000",
            p.display()
        )
    );
    let e = OpenOptions::new()
        .try_with_dtype("f4")
        .unwrap()
        .offset(8000)
        .open(&p)
        .unwrap_err();
    assert!(matches!(e.kind(), ErrorKind::SizeMismatch { .. }), "{e}");
}

#[test]
fn file_size_not_a_multiple_of_the_element_size_when_inferred() {
    let d = Dir::new();
    let p = d.file("a.f32", &[0; 10]);
    let e = OpenOptions::new()
        .try_with_dtype("f4")
        .unwrap()
        .open(&p)
        .unwrap_err();
    assert!(
        matches!(
            e.kind(),
            ErrorKind::NotWholeItems {
                data_bytes: 10,
                unit_bytes: 4,
                ..
            }
        ),
        "{e}"
    );
    msg_starts_with_path(&e, &p);
    let p = d.file("b.f32", &[0; 36]);
    let e = OpenOptions::new()
        .try_with_dtype("f4")
        .unwrap()
        .try_with_shape("-1,4")
        .unwrap()
        .open(&p)
        .unwrap_err();
    assert!(
        matches!(e.kind(), ErrorKind::NotWholeItems { unit_bytes: 16, .. }),
        "{e}"
    );
}

#[test]
fn npy_with_bad_magic() {
    let d = Dir::new();
    let p = d.file("x.npy", b"PK\x03\x04 this is a zip, not an npy file");
    let e = open(&p).unwrap_err();
    assert!(matches!(e.kind(), ErrorKind::InvalidNpy { .. }), "{e}");
    assert!(e.to_string().contains("bad magic"), "{e}");
    msg_starts_with_path(&e, &p);
}

#[test]
fn npy_with_truncated_header() {
    let d = Dir::new();
    let full = npy(
        "{'descr': '<f4', 'fortran_order': False, 'shape': (4,), }",
        &[0; 16],
    );
    let p = d.file("x.npy", &full[..40]);
    let e = open(&p).unwrap_err();
    assert!(matches!(e.kind(), ErrorKind::InvalidNpy { .. }), "{e}");
    assert!(e.to_string().contains("truncated"), "{e}");
}

#[test]
fn npy_with_truncated_data() {
    let d = Dir::new();
    let full = npy(
        "{'descr': '<f4', 'fortran_order': False, 'shape': (4,), }",
        &[0; 16],
    );
    let p = d.file("x.npy", &full[..full.len() - 1]);
    let e = open(&p).unwrap_err();
    assert!(matches!(e.kind(), ErrorKind::SizeMismatch { .. }), "{e}");
}

#[test]
fn npy_with_object_dtype() {
    let d = Dir::new();
    let p = d.file(
        "x.npy",
        &npy(
            "{'descr': '|O', 'fortran_order': False, 'shape': (2,), }",
            &[0; 16],
        ),
    );
    let e = open(&p).unwrap_err();
    assert!(
        matches!(e.kind(), ErrorKind::UnsupportedDtype { .. }),
        "{e}"
    );
    msg_starts_with_path(&e, &p);
    assert!(e.to_string().contains("object"), "{e}");
}

#[test]
fn zero_length_file() {
    let d = Dir::new();
    let p = d.file("empty.f32", &[]);
    let e = OpenOptions::new()
        .try_with_dtype("f4")
        .unwrap()
        .open(&p)
        .unwrap_err();
    assert!(matches!(e.kind(), ErrorKind::EmptyFile), "{e}");
    let p = d.file("empty.npy", &[]);
    let e = open(&p).unwrap_err();
    assert!(matches!(e.kind(), ErrorKind::InvalidNpy { .. }), "{e}");
    assert!(e.to_string().contains("empty"), "{e}");
}

#[test]
fn zero_length_arrays_are_valid() {
    let d = Dir::new();
    let p = d.file("empty.f32", &[]);
    let a = OpenOptions::new()
        .try_with_dtype("f4")
        .unwrap()
        .try_with_shape("0,128")
        .unwrap()
        .open(&p)
        .unwrap();
    assert_eq!(a.shape(), &[0, 128]);
    let batch = a.to_record_batch().unwrap();
    assert_eq!(batch.num_rows(), 0);
    let p = d.file(
        "e.npy",
        &npy(
            "{'descr': '<f4', 'fortran_order': False, 'shape': (0, 128), }",
            &[],
        ),
    );
    assert_eq!(open(&p).unwrap().to_arrow().unwrap().len(), 0);
}

#[test]
fn directory_given_as_a_file() {
    let d = Dir::new();
    let e = OpenOptions::new()
        .try_with_dtype("f4")
        .unwrap()
        .open(d.dir.path())
        .unwrap_err();
    assert!(matches!(e.kind(), ErrorKind::IsDirectory), "{e}");
}

#[test]
fn options_that_contradict_the_sidecar() {
    let d = Dir::new();
    let p = d.file("a.f32", &f32_bytes((0..8).map(|v| v as f32)));
    d.sidecar(
        &p,
        r#"{"format":"mmarrow.array","version":1,"dtype":"<f4","shape":[4,2]}"#,
    );
    let base = || OpenOptions::new();
    let cases = [
        (base().try_with_dtype("f8").unwrap(), "dtype"),
        (base().try_with_shape("2,4").unwrap(), "shape"),
        (base().offset(4), "offset"),
        (base().order(mmarrow::shape::Order::F), "order"),
    ];
    for (o, field) in cases {
        let e = o.open(&p).unwrap_err();
        assert!(
            matches!(e.kind(), ErrorKind::Conflict { field: f, .. } if *f == field),
            "{e}"
        );
    }
    // Agreeing options (and a -1 where the sidecar has a value) are fine.
    base()
        .try_with_dtype("float32")
        .unwrap()
        .try_with_shape("-1,2")
        .unwrap()
        .offset(0)
        .open(&p)
        .unwrap();
}

#[test]
fn options_that_contradict_the_npy_header() {
    let d = Dir::new();
    let p = d.file(
        "x.npy",
        &npy(
            "{'descr': '<f4', 'fortran_order': False, 'shape': (4,), }",
            &[0; 16],
        ),
    );
    let e = OpenOptions::new()
        .try_with_dtype("i4")
        .unwrap()
        .open(&p)
        .unwrap_err();
    assert!(
        matches!(e.kind(), ErrorKind::Conflict { field: "dtype", .. }),
        "{e}"
    );
}

#[test]
fn sidecar_too_large_is_refused_before_reading() {
    let d = Dir::new();
    let p = d.file("a.f32", &[0; 16]);
    let f = File::create(mmarrow::format::sidecar_path(&p)).unwrap();
    f.set_len(mmarrow::format::MAX_SIDECAR_BYTES + 10).unwrap();
    let e = open(&p).unwrap_err();
    assert!(matches!(e.kind(), ErrorKind::InvalidSidecar { .. }), "{e}");
}

#[test]
fn user_errors_are_classified_as_such() {
    let d = Dir::new();
    assert!(open(d.path("missing")).unwrap_err().is_user_error());
}
