"""mmarrow writes, numpy reads: the write path checked against real numpy.

Files are written through the library by ``tests/helpers/write_modes.rs`` (numpy.memmap's
modes ``w+``, ``r+`` and ``c``, and the crash-safe ``ArrayWriter``) and through
the CLI (``mmarrow create``, ``mmarrow cat``), then read back with numpy alone:
``np.load`` / ``np.load(mmap_mode='r')`` for ``.npy`` and ``np.memmap`` with the
sidecar's dtype, shape, offset and order for raw files (the ten-line reader of
``docs/FORMAT.md`` §1.1). Inputs that mmarrow modifies or concatenates are made
by numpy (``np.memmap``, ``np.save``).

``write_modes`` writes a known pattern: flat element ``k`` (in file order, and
for appends counted across runs) holds ``k`` cast to the dtype as numpy's
``astype`` casts it, so every value is checked, not only shapes.
"""

from __future__ import annotations

import json
import os
import random
import select
import shutil
import signal
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest

from conftest import (
    DEFAULT_HELPERS,
    HELPERS_ENV,
    REPO_ROOT,
    SUBPROCESS_TIMEOUT,
    assert_cli_error,
    dtype_id,
    npy_data_offset,
    sample_array,
    sidecar_path,
)

BUILD_WRITE_MODES = ["build", "--features", "test-helpers", "--example", "write_modes"]

# dtypes write_modes fills with its pattern (it supports these and i1/i2/u2/u4/u8/f2).
PATTERN_DTYPES = ["<f4", "<f8", "<i4", "<i8", "|u1"]

# --------------------------------------------------------------------------
# The write_modes helper


def _write_modes_path() -> Path:
    env = os.environ.get(HELPERS_ENV)
    exe = (Path(env) if env else DEFAULT_HELPERS) / "write_modes"
    if os.name == "nt":
        exe = exe.with_suffix(".exe")
    return exe


@pytest.fixture(scope="session")
def write_modes(binaries) -> Path:
    """``tests/helpers/write_modes.rs``. The ``binaries`` fixture builds every
    helper when the defaults are stale; this one also builds ``write_modes`` when
    it alone is missing or older than its source (defaults only, as conftest does)."""
    exe = _write_modes_path()
    source = REPO_ROOT / "tests" / "helpers" / "write_modes.rs"
    from_defaults = not (os.environ.get("MMARROW_BIN") or os.environ.get(HELPERS_ENV))
    stale = not exe.is_file() or exe.stat().st_mtime < source.stat().st_mtime
    if from_defaults and stale:
        build = subprocess.run(
            [shutil.which("cargo") or "cargo", *BUILD_WRITE_MODES],
            cwd=REPO_ROOT,
            capture_output=True,
            text=True,
            timeout=1800,
        )
        if build.returncode != 0:
            pytest.fail(
                f"cargo {' '.join(BUILD_WRITE_MODES)} failed:\n" + build.stderr[-4000:], pytrace=False
            )
    if not exe.is_file():
        pytest.fail(f"write_modes not found at {exe} (check {HELPERS_ENV})", pytrace=False)
    return exe


class WriteModes:
    def __init__(self, exe: Path):
        self.exe = exe

    def proc(self, *args) -> subprocess.CompletedProcess:
        return subprocess.run(
            [str(self.exe), *map(str, args)],
            capture_output=True,
            text=True,
            timeout=SUBPROCESS_TIMEOUT,
        )

    def __call__(self, *args) -> dict:
        """Runs ``write_modes ARGS`` (must succeed); returns its last stdout line, parsed."""
        p = self.proc(*args)
        assert p.returncode == 0, f"{p.args} exited {p.returncode}\nstdout: {p.stdout}\nstderr: {p.stderr}"
        assert p.stderr == "", p.stderr
        return json.loads(p.stdout.strip().splitlines()[-1])

    def popen(self, *args) -> subprocess.Popen:
        return subprocess.Popen(
            [str(self.exe), *map(str, args)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            bufsize=1,
        )


@pytest.fixture(scope="session")
def wm(write_modes) -> WriteModes:
    return WriteModes(write_modes)


# --------------------------------------------------------------------------
# numpy-side helpers


def pattern(n: int, dtype) -> np.ndarray:
    """Flat elements 0..n cast as numpy casts them (integers wrap)."""
    return np.arange(n, dtype=np.int64).astype(np.dtype(dtype))


def rows_pattern(nrows: int, row_shape, dtype) -> np.ndarray:
    per = int(np.prod(row_shape, dtype=np.int64))
    return pattern(nrows * per, dtype).reshape((nrows, *row_shape))


def read_sidecar(path: Path) -> dict:
    return json.loads(sidecar_path(path).read_text())


def read_raw(path: Path) -> np.ndarray:
    """``docs/FORMAT.md`` §1.1's reader: numpy + json only."""
    m = read_sidecar(path)
    assert m["format"] == "mmarrow.array" and m["version"] == 1, m
    shape = tuple(m["shape"])
    dtype = np.dtype(m["dtype"])
    if int(np.prod(shape, dtype=np.int64)) == 0:  # np.memmap refuses empty maps
        return np.empty(shape, dtype=dtype, order=m.get("order", "C"))
    return np.memmap(
        path, dtype=dtype, mode="r", offset=m.get("offset", 0), shape=shape, order=m.get("order", "C")
    )


def load_any(path: Path) -> np.ndarray:
    """A fresh in-memory copy of the array, as numpy reads it."""
    if path.suffix == ".npy":
        return np.load(path)
    return np.array(read_raw(path))


def path_for(tmp_path: Path, fmt: str, dtype, stem: str = "a") -> Path:
    ext = ".npy" if fmt == "npy" else "." + np.dtype(dtype).str[1:]
    return tmp_path / (stem + ext)


def assert_same(actual: np.ndarray, expected: np.ndarray):
    assert actual.dtype == expected.dtype, (actual.dtype, expected.dtype)
    assert actual.shape == expected.shape, (actual.shape, expected.shape)
    assert np.array_equal(actual, expected), f"\nactual:   {actual.ravel()[:20]}\nexpected: {expected.ravel()[:20]}"


def assert_elem(text: str, expected, dtype):
    """``text`` is how write_modes printed an element (Rust's Display); it
    must parse to ``expected`` in ``dtype`` (NaN equal to NaN)."""
    d = np.dtype(dtype)
    parsed = np.array([float(text) if d.kind == "f" else int(text)]).astype(d)
    want = np.array([expected], dtype=d)
    assert np.array_equal(parsed, want, equal_nan=d.kind == "f"), (text, expected)


# --------------------------------------------------------------------------
# 1. numpy.memmap's modes: w+


@pytest.mark.parametrize("offset", [0, 40])
@pytest.mark.parametrize("order", ["C", "F"])
@pytest.mark.parametrize("dtype", PATTERN_DTYPES, ids=dtype_id)
def test_create_raw_read_by_numpy_memmap(wm, tmp_path, dtype, order, offset):
    path = tmp_path / "grid.bin"
    shape = (3, 4, 5)
    out = wm("create", path, dtype, "3,4,5", "--order", order, "--offset", offset)
    d = np.dtype(dtype)
    assert out == {"dtype": d.str, "shape": list(shape), "order": order, "offset": offset}

    side = read_sidecar(path)
    assert side["format"] == "mmarrow.array" and side["version"] == 1
    assert (np.dtype(side["dtype"]), tuple(side["shape"]), side.get("order", "C"), side.get("offset", 0)) == (
        d,
        shape,
        order,
        offset,
    )
    n = int(np.prod(shape))
    raw = path.read_bytes()
    assert len(raw) == offset + n * d.itemsize
    assert raw[:offset] == bytes(offset), "bytes before the offset must be zero"

    a = np.memmap(path, dtype=d, mode="r", offset=offset, shape=shape, order=order)
    # Flat element k in file order is k: numpy's view in that order is arange.
    assert_same(np.asarray(a).ravel(order=order), pattern(n, d))
    # ... and an element addressed by index lands where numpy's strides put it.
    i, j, k = 2, 1, 3
    flat = (i * 20 + j * 5 + k) if order == "C" else (i + j * 3 + k * 12)
    assert a[i, j, k] == pattern(n, d)[flat]
    # The same bytes as numpy writing that array itself.
    expected = np.asarray(pattern(n, d).reshape(shape, order=order), order=order)
    assert raw[offset:] == expected.tobytes(order=order)


@pytest.mark.parametrize("order", ["C", "F"])
@pytest.mark.parametrize("dtype", PATTERN_DTYPES, ids=dtype_id)
def test_create_npy_read_by_np_load(wm, tmp_path, dtype, order):
    path = tmp_path / "grid.npy"
    shape = (6, 7)
    wm("create", path, dtype, "6,7", "--order", order)
    d = np.dtype(dtype)
    n = int(np.prod(shape))
    expected = pattern(n, d).reshape(shape, order=order)
    assert not sidecar_path(path).exists(), "a .npy needs no sidecar"
    for a in (np.load(path), np.load(path, mmap_mode="r")):
        assert_same(np.asarray(a), expected)
        if order == "F":
            assert a.flags.f_contiguous and not a.flags.c_contiguous
        else:
            assert a.flags.c_contiguous
    data_offset = npy_data_offset(path)
    assert data_offset % 64 == 0, "FORMAT.md §2: data starts on a 64-byte boundary"
    assert path.stat().st_size == data_offset + n * d.itemsize


def test_create_1d_and_npy_offset_refused(wm, tmp_path):
    path = tmp_path / "v.f8"
    wm("create", path, "float64", "17")
    assert_same(np.array(read_raw(path)), pattern(17, "<f8"))

    bad = tmp_path / "v.npy"
    p = wm.proc("create", bad, "f8", "17", "--offset", 64)
    assert_cli_error(p, bad, "offset")


@pytest.mark.parametrize("fmt", ["raw", "npy"])
def test_create_empty_array(wm, tmp_path, fmt):
    """w+ of a zero-size shape, as ``open_memmap(mode='w+', shape=(0, 4))``
    does: an empty array numpy loads. (write_modes fills it through
    ``as_mut_slice``, which has nothing to fill.)"""
    path = path_for(tmp_path, fmt, "<f8", stem="empty")
    out = wm("create", path, "f8", "0,4")
    assert out["shape"] == [0, 4]
    assert_same(load_any(path), np.zeros((0, 4), dtype="<f8"))


def test_create_refuses_existing_file(wm, tmp_path):
    path = tmp_path / "keep.i4"
    original = np.arange(10, dtype="<i4") * 7
    original.tofile(path)
    p = wm.proc("create", path, "i4", "10")
    assert_cli_error(p, path, "exists")
    assert_same(np.fromfile(path, dtype="<i4"), original)
    assert not sidecar_path(path).exists()
    # With --force it is replaced, as numpy.memmap(mode='w+') does.
    wm("create", path, "i4", "3,3", "--force")
    assert_same(np.array(read_raw(path)), pattern(9, "<i4").reshape(3, 3))
    assert path.stat().st_size == 36


# --------------------------------------------------------------------------
# 1. r+ on numpy-made files


@pytest.mark.parametrize("order", ["C", "F"])
@pytest.mark.parametrize("dtype", ["<f8", "<i4", "|u1"], ids=dtype_id)
def test_rplus_numpy_memmap_described(wm, mm, tmp_path, dtype, order):
    path = tmp_path / "m.bin"
    shape = (4, 6)
    a = np.memmap(path, dtype=dtype, mode="w+", shape=shape, order=order)
    a[:] = sample_array(dtype, shape, seed=3)
    a.flush()
    original = np.array(a).ravel(order=order)  # file order
    del a
    mm.describe(path, dtype, shape, order=order)

    out = wm("set", path, 7, 77)
    assert out["mode"] == "r+"
    assert_elem(out["before"], original[7], dtype)
    assert out["after"] == "77"

    expected = original.copy()
    expected[7] = 77
    b = np.memmap(path, dtype=dtype, mode="r", shape=shape, order=order)
    assert_same(np.asarray(b).ravel(order=order), expected)
    assert path.stat().st_size == original.nbytes


def test_rplus_numpy_memmap_explicit_options(wm, tmp_path):
    path = tmp_path / "m.raw"
    shape, offset = (5, 3), 24
    head = b"HEADER-BYTES-NOT-DATA!!!"
    assert len(head) == offset
    path.write_bytes(head + bytes(5 * 3 * 8))
    a = np.memmap(path, dtype="<i8", mode="r+", offset=offset, shape=shape)
    a[:] = np.arange(15).reshape(shape) * -11
    a.flush()
    before = np.array(a)
    del a

    out = wm("set", path, 14, -123456789012, "--dtype", "int64", "--shape", "5,3", "--offset", offset)
    assert (out["before"], out["after"]) == ("-154", "-123456789012")

    expected = before.copy()
    expected[4, 2] = -123456789012
    b = np.memmap(path, dtype="<i8", mode="r", offset=offset, shape=shape)
    assert_same(np.asarray(b), expected)
    assert path.read_bytes()[:offset] == head
    assert path.stat().st_size == offset + expected.nbytes
    # numpy.memmap(mode='r+') writes nothing but the data file; neither should mmarrow.
    assert not sidecar_path(path).exists()


@pytest.mark.parametrize("fortran", [False, True], ids=["C", "F"])
def test_rplus_numpy_npy(wm, tmp_path, fortran):
    path = tmp_path / "saved.npy"
    arr = (np.arange(15, dtype="<f4").reshape(5, 3) + 0.25) * 3
    if fortran:
        arr = np.asfortranarray(arr)
    np.save(path, arr)
    header = path.read_bytes()[: npy_data_offset(path)]

    out = wm("set", path, 4, -2.5)
    flat = arr.ravel(order="F" if fortran else "C")
    assert_elem(out["before"], flat[4], "<f4")
    assert out["after"] == "-2.5"

    flat = flat.copy()
    flat[4] = -2.5
    expected = flat.reshape(arr.shape, order="F" if fortran else "C")
    for got in (np.load(path), np.load(path, mmap_mode="r")):
        assert_same(np.asarray(got), expected)
        if fortran:
            assert got.flags.f_contiguous and not got.flags.c_contiguous
    assert path.read_bytes()[: len(header)] == header, "r+ must not touch the header"


def test_rplus_grows_raw_file_like_numpy(wm, tmp_path):
    """r+ with an explicit shape and offset past the end grows the file with
    zeros, as ``np.memmap(mode='r+')`` does; the original prefix is intact."""
    original = (np.arange(10, dtype="<f8") + 1) * 1.5  # 80 bytes
    mine, theirs = tmp_path / "grow.f8", tmp_path / "grow-numpy.f8"
    original.tofile(mine)
    original.tofile(theirs)
    offset, n, index, value = 16, 30, 25, 7.5  # data ends at 16 + 240 = 256 > 80

    out = wm("set", mine, index, value, "--dtype", "f8", "--shape", n, "--offset", offset)
    assert out["before"] == "0", "the grown part reads as zeros"

    t = np.memmap(theirs, dtype="<f8", mode="r+", offset=offset, shape=(n,))
    t[index] = value
    t.flush()
    del t

    data = mine.read_bytes()
    assert len(data) == offset + n * 8
    assert data == theirs.read_bytes(), "same bytes as numpy.memmap r+ growing the file"
    assert data[:80] == original.tobytes(), "original prefix intact"
    assert data[80:offset + index * 8] == bytes(offset + index * 8 - 80)
    view = np.memmap(mine, dtype="<f8", mode="r", offset=offset, shape=(n,))
    expected = np.frombuffer(original.tobytes() + bytes(256 - 80), dtype="<f8", offset=offset).copy()
    expected[index] = value
    assert_same(np.asarray(view), expected)
    assert view[0] == original[2] and view[8] == 0


def test_rplus_refuses_out_of_range_and_short_described_file(wm, mm, tmp_path):
    path = tmp_path / "s.i4"
    np.arange(6, dtype="<i4").tofile(path)
    mm.describe(path, "<i4", (6,))
    p = wm.proc("set", path, 6, 1)
    assert_cli_error(p, None, "out of range")
    # A sidecar that records more data than the file holds is damage, not a request to grow.
    side = read_sidecar(path)
    side["shape"] = [10]
    sidecar_path(path).write_text(json.dumps(side))
    p = wm.proc("set", path, 8, 1)
    assert p.returncode == 2 and p.stdout == "" and len(p.stderr.splitlines()) == 1, p
    assert_same(np.fromfile(path, dtype="<i4"), np.arange(6, dtype="<i4"))


# --------------------------------------------------------------------------
# 1. c (copy-on-write)


@pytest.mark.parametrize("kind", ["sidecar", "npy", "options"])
def test_cow_leaves_file_unchanged(wm, mm, tmp_path, kind):
    shape = (8, 4)
    arr = sample_array("<i4", shape, seed=11)
    if kind == "npy":
        path = tmp_path / "c.npy"
        np.save(path, arr)
        extra = []
    else:
        path = tmp_path / "c.i4"
        a = np.memmap(path, dtype="<i4", mode="w+", shape=shape)
        a[:] = arr
        a.flush()
        del a
        if kind == "sidecar":
            mm.describe(path, "<i4", shape)
            extra = []
        else:
            extra = ["--dtype", "i4", "--shape", "8,4"]
    before_bytes = path.read_bytes()
    before_mtime = path.stat().st_mtime_ns

    new = int(arr[5, 1]) ^ 0x5A5A5A5A
    out = wm("cow", path, 21, new, *extra)
    assert out["mode"] == "c"
    assert out["before"] == str(int(arr[5, 1]))
    assert out["after"] == str(new), "the private copy holds the write"

    assert path.read_bytes() == before_bytes, "mode c must never change the file"
    assert path.stat().st_mtime_ns == before_mtime
    assert_same(load_any(path) if kind != "options" else np.fromfile(path, dtype="<i4").reshape(shape), arr)


# --------------------------------------------------------------------------
# 2. ArrayWriter: append runs, reopened


ROW_SHAPES = [(), (3,), (2, 3)]


def _rs_text(rs) -> str:
    return ",".join(map(str, rs))


def _rs_id(rs) -> str:
    return "1d" if rs == () else "rows" + "x".join(map(str, rs))


@pytest.mark.parametrize("dtype", ["<f4", "<i8", "|u1"], ids=dtype_id)
@pytest.mark.parametrize("row_shape", ROW_SHAPES, ids=_rs_id)
@pytest.mark.parametrize("fmt", ["raw", "npy"])
def test_append_runs_read_by_numpy(wm, tmp_path, fmt, row_shape, dtype):
    path = path_for(tmp_path, fmt, dtype)
    total = 0
    # First run creates an empty array; the others reopen it (u1 wraps past 255).
    for i, chunk in enumerate([0, 7, 13, 1, 25]):
        out = wm("append", path, dtype, _rs_text(row_shape), chunk, "--commit-every", 4)
        assert out["reopened"] == (i > 0)
        assert out["start_rows"] == total
        total += chunk
        assert out["committed_rows"] == total
        expected = rows_pattern(total, row_shape, dtype)
        if fmt == "npy":
            assert_same(np.load(path), expected)
            if total:
                assert_same(np.asarray(np.load(path, mmap_mode="r")), expected)
            assert path.stat().st_size == npy_data_offset(path) + expected.nbytes
            assert not sidecar_path(path).exists()
        else:
            side = read_sidecar(path)
            assert np.dtype(side["dtype"]) == np.dtype(dtype)
            assert side.get("order", "C") == "C" and side.get("offset", 0) == 0
            assert tuple(side["shape"]) == expected.shape
            assert_same(np.array(read_raw(path)), expected)
            assert path.stat().st_size == expected.nbytes


@pytest.mark.parametrize("fmt", ["raw", "npy"])
def test_np_load_after_every_commit(wm, tmp_path, fmt):
    """One writer process, paused after each commit: numpy sees exactly the
    committed rows every time, and a second writer is refused meanwhile."""
    row_shape, dtype = (2, 5), "<f8"
    path = path_for(tmp_path, fmt, dtype)
    wm("append", path, dtype, "2,5", 2)  # an earlier run: 2 rows
    p = wm.popen("append", path, dtype, "2,5", 11, "--commit-every", 3, "--wait")
    seen = []
    try:
        while True:
            line = p.stdout.readline()
            assert line, f"writer ended early: {p.wait()} {p.stderr.read()}"
            msg = json.loads(line)
            if "committed" not in msg:
                break  # the final summary
            rows = msg["committed"]
            seen.append(rows)
            assert_same(load_any(path), rows_pattern(rows, row_shape, dtype))
            if len(seen) == 1:
                other = wm.proc("append", path, dtype, "2,5", 1)
                line2 = assert_cli_error(other, None, "already being written")
                assert str(path.name) in line2
            p.stdin.write("\n")
            p.stdin.flush()
        assert msg["committed_rows"] == 13
        p.stdin.close()
        p.wait(timeout=SUBPROCESS_TIMEOUT)
    finally:
        if p.poll() is None:  # only when an assertion above failed
            p.kill()
            p.wait()
    assert p.returncode == 0, p.stderr.read()
    assert seen == [5, 8, 11, 13]
    assert_same(load_any(path), rows_pattern(13, row_shape, dtype))


def test_append_to_numpy_made_files(wm, mm, tmp_path):
    """Appending continues arrays numpy wrote: np.save's .npy (its header has
    room for the longer row count) and np.memmap + describe."""
    npy = tmp_path / "saved.npy"
    np.save(npy, rows_pattern(5, (3,), "<i8"))
    out = wm("append", npy, "i8", "3", 4)
    assert (out["start_rows"], out["committed_rows"]) == (5, 9)
    assert_same(np.load(npy), rows_pattern(9, (3,), "<i8"))
    wm("append", npy, "i8", "3", 120)  # the row count gets a third digit
    assert_same(np.load(npy), rows_pattern(129, (3,), "<i8"))
    assert_same(np.asarray(np.load(npy, mmap_mode="r")), rows_pattern(129, (3,), "<i8"))

    raw = tmp_path / "made.f4"
    raw.write_bytes(b"\xff" * 16)  # 16 bytes before the data, kept as they are
    m = np.memmap(raw, dtype="<f4", mode="r+", offset=16, shape=(4, 5))
    m[:] = rows_pattern(4, (5,), "<f4")
    m.flush()
    del m
    mm.describe(raw, "<f4", (4, 5), offset=16)
    wm("append", raw, "f4", "5", 3)
    side = read_sidecar(raw)
    assert (side["shape"], side.get("offset", 0)) == ([7, 5], 16)
    assert_same(np.array(read_raw(raw)), rows_pattern(7, (5,), "<f4"))
    assert raw.read_bytes()[:16] == b"\xff" * 16
    assert raw.stat().st_size == 16 + 7 * 5 * 4


def test_append_keeps_sidecar_fields(wm, tmp_path):
    """FORMAT.md §1.1: unknown fields are kept verbatim when mmarrow rewrites
    the sidecar; name and metadata survive an append too."""
    path = tmp_path / "u.i4"
    rows_pattern(4, (3,), "<i4").tofile(path)
    doc = {
        "format": "mmarrow.array",
        "version": 1,
        "dtype": "<i4",
        "shape": [4, 3],
        "name": "col",
        "metadata": {"k": "v"},
        "future_field": {"x": [1, 2], "s": "keep"},
    }
    sidecar_path(path).write_text(json.dumps(doc))
    wm("append", path, "i4", "3", 2)
    side = read_sidecar(path)
    assert side["shape"] == [6, 3]
    for key in ("name", "metadata", "future_field", "format", "version", "dtype"):
        assert side[key] == doc[key], key
    assert_same(np.array(read_raw(path)), rows_pattern(6, (3,), "<i4"))


@pytest.mark.parametrize("version", [(1, 0), (2, 0), (3, 0)], ids=["v1", "v2", "v3"])
def test_append_npy_header_rewrite_changes_only_shape(wm, tmp_path, version):
    """FORMAT.md §4.2: the .npy header is rewritten in place, same length;
    "only the shape text and the padding after it change"."""
    path = tmp_path / "h.npy"
    with open(path, "wb") as f:
        np.lib.format.write_array(f, rows_pattern(4, (3,), "<i4"), version=version)
    before = path.read_bytes()
    data_offset = npy_data_offset(path)
    wm("append", path, "i4", "3", 250)
    after = path.read_bytes()
    assert_same(np.load(path), rows_pattern(254, (3,), "<i4"))
    assert npy_data_offset(path) == data_offset
    shape_at = before.index(b"'shape': (")
    assert after[: shape_at + len(b"'shape': (")] == before[: shape_at + len(b"'shape': (")], (
        f"header bytes before the shape changed: {before[:16]!r} -> {after[:16]!r}"
    )
    assert after[data_offset : len(before)] == before[data_offset:], "committed data untouched"


def test_append_to_npy_with_sidecar(wm, mm, tmp_path):
    """A .npy may have a sidecar (FORMAT.md §1: it names the column, and wins
    over the header for mmarrow). Appending must not leave numpy and mmarrow
    disagreeing: either numpy sees the new rows too, or the append is refused
    and nothing changes."""
    path = tmp_path / "named.npy"
    np.save(path, rows_pattern(5, (3,), "<i8"))
    mm.describe(path, "<i8", (5, 3), offset=npy_data_offset(path))
    before = path.read_bytes()
    p = wm.proc("append", path, "i8", "3", 4)
    if p.returncode != 0:
        assert_cli_error(p, path)
        assert path.read_bytes() == before
        assert read_sidecar(path)["shape"] == [5, 3]
        return
    assert mm.info(path)["shape"] == [9, 3]
    numpy_sees = np.load(path)
    assert numpy_sees.shape == (9, 3), f"mmarrow committed 9 rows, np.load sees {numpy_sees.shape}"
    assert_same(numpy_sees, rows_pattern(9, (3,), "<i8"))


def test_append_refuses_other_row_shape(wm, tmp_path):
    path = tmp_path / "x.npy"
    wm("append", path, "f4", "4", 3)
    p = wm.proc("append", path, "f4", "5", 3)
    assert p.returncode == 2 and len(p.stderr.splitlines()) == 1, p
    assert_same(np.load(path), rows_pattern(3, (4,), "<f4"))


# --------------------------------------------------------------------------
# 3. kill -9 while appending


def _wait_for_line(p: subprocess.Popen, timeout: float) -> str:
    ready, _, _ = select.select([p.stdout], [], [], timeout)
    assert ready, "the writer reported no commit in time"
    return p.stdout.readline()


@pytest.mark.parametrize(
    "fmt,row_shape,dtype,durability",
    [
        ("npy", (4,), "<i8", "fsync"),
        ("raw", (4,), "<i8", "process"),
        # 128 KiB rows: 10 rows exceed the writer's 1 MiB buffer, so
        # uncommitted rows reach the file before each commit.
        ("npy", (32, 1024), "<f4", "process"),
        ("raw", (32, 1024), "<f4", "fsync"),
    ],
    ids=["npy-small", "raw-small", "npy-big", "raw-big"],
)
def test_kill_9_leaves_committed_rows(wm, tmp_path, fmt, row_shape, dtype, durability):
    rng = random.Random(20260526)
    path = path_for(tmp_path, fmt, dtype)
    nrows = 10_000_000 if row_shape == (4,) else 4000
    rs = _rs_text(row_shape)
    start = 0
    for attempt in range(5):
        p = wm.popen("append", path, dtype, rs, nrows, "--commit-every", 10, "--progress", "--durability", durability)
        try:
            first = _wait_for_line(p, 30)  # at least one commit per run
            time.sleep(rng.uniform(0.0, 0.25))
            p.send_signal(signal.SIGKILL)
            p.wait(timeout=SUBPROCESS_TIMEOUT)
        finally:
            if p.poll() is None:
                p.kill()
                p.wait()
        assert p.returncode == -signal.SIGKILL, (p.returncode, p.stderr.read())
        lines = [first] + p.stdout.read().splitlines()
        acked = max(json.loads(x)["committed"] for x in lines if x.strip())

        # numpy opens what the killed writer left, and sees only whole, correct rows.
        if fmt == "npy":
            got = np.load(path)
            assert_same(np.asarray(np.load(path, mmap_mode="r")), got)
        else:
            json.loads(sidecar_path(path).read_text())  # never torn
            got = np.array(read_raw(path))
        rows = got.shape[0]
        assert rows >= acked, f"attempt {attempt}: commit of {acked} rows acknowledged, only {rows} survived"
        assert rows <= acked + 10, (rows, acked)
        assert (rows - start) % 10 == 0, (rows, start)
        assert rows > start
        assert_same(got, rows_pattern(rows, row_shape, dtype))
        start = rows

    # A last run reopens, drops the dead writer's uncommitted bytes and finishes.
    out = wm("append", path, dtype, rs, 3, "--durability", durability)
    assert (out["start_rows"], out["committed_rows"]) == (start, start + 3)
    final = rows_pattern(start + 3, row_shape, dtype)
    assert_same(load_any(path), final)
    data_offset = npy_data_offset(path) if fmt == "npy" else 0
    assert path.stat().st_size == data_offset + final.nbytes


# --------------------------------------------------------------------------
# 4. The CLI: mmarrow create and mmarrow cat


def test_cli_create_read_by_numpy(mm, tmp_path):
    npy = tmp_path / "z.npy"
    mm.ok(mm.cli("create", npy, "--dtype", "int16", "--shape", "3,4", "--order", "F"))
    for a in (np.load(npy), np.load(npy, mmap_mode="r")):
        assert_same(np.asarray(a), np.zeros((3, 4), dtype="<i2"))
        assert a.flags.f_contiguous and not a.flags.c_contiguous

    raw = tmp_path / "z.c8"
    mm.ok(mm.cli("create", raw, "--dtype", "complex64", "--shape", "2,5", "--offset", 32))
    side = read_sidecar(raw)
    assert (side["dtype"], side["shape"], side.get("offset", 0)) == ("<c8", [2, 5], 32)
    assert raw.stat().st_size == 32 + 2 * 5 * 8
    assert_same(np.array(read_raw(raw)), np.zeros((2, 5), dtype="<c8"))

    # numpy writes into the created file; mmarrow reads it back the same way.
    m = np.memmap(raw, dtype="<c8", mode="r+", offset=32, shape=(2, 5))
    m[1, 2] = 3 - 4j
    m.flush()
    del m
    assert read_raw(raw)[1, 2] == 3 - 4j

    p = mm.cli("create", npy, "--dtype", "int16", "--shape", "1")
    assert_cli_error(p, npy, "exists")
    assert np.load(npy).shape == (3, 4)


def test_cli_create_force_over_npy_with_sidecar(mm, tmp_path):
    """``mmarrow create --force`` replaces a .npy; a sidecar left from the old
    file must not make mmarrow describe the new file differently from numpy."""
    path = tmp_path / "old.npy"
    np.save(path, np.arange(15, dtype="<i8").reshape(5, 3))
    mm.describe(path, "<i8", (5, 3), offset=npy_data_offset(path))
    mm.ok(mm.cli("create", path, "--dtype", "float32", "--shape", "10", "--force"))
    assert_same(np.load(path), np.zeros(10, dtype="<f4"))
    info = mm.cli("info", path, "--json")
    assert info.returncode == 0, f"numpy loads the new file, mmarrow cannot: {info.stderr.strip()}"
    got = json.loads(info.stdout)
    assert (got["dtype"], got["shape"]) == ("<f4", [10])


@pytest.mark.parametrize("out_fmt", ["npy", "raw"])
@pytest.mark.parametrize("row_shape", [(), (2, 3)], ids=_rs_id)
def test_cli_cat_numpy_inputs(mm, tmp_path, supported_dtype, row_shape, out_fmt):
    d = np.dtype(supported_dtype)
    parts = [sample_array(d, (n, *row_shape), seed=n) for n in (5, 3, 0, 8)]
    inputs = []
    for i, part in enumerate(parts):
        if i % 2 == 0:  # np.save
            p = tmp_path / f"in{i}.npy"
            np.save(p, part)
        else:  # np.memmap + describe (np.memmap cannot map an empty array: tofile)
            p = tmp_path / f"in{i}.bin"
            if part.size:
                m = np.memmap(p, dtype=d, mode="w+", shape=part.shape)
                m[:] = part
                m.flush()
                del m
            else:
                part.tofile(p)
            mm.describe(p, d, part.shape)
        inputs.append(p)
    out = tmp_path / ("out.npy" if out_fmt == "npy" else "out.bin")
    mm.ok(mm.cli("cat", out, *inputs))

    expected = np.concatenate(parts)
    got = np.load(out) if out_fmt == "npy" else np.array(read_raw(out))
    assert got.dtype == d and got.shape == expected.shape
    # Bytes, not values: NaN and NaT compare unequal to themselves.
    assert got.tobytes() == expected.tobytes()
    if out_fmt == "npy":
        assert np.load(out, mmap_mode="r").tobytes() == expected.tobytes()
        assert out.stat().st_size == npy_data_offset(out) + expected.nbytes
    else:
        assert out.stat().st_size == expected.nbytes


def test_cli_cat_refusals_leave_no_output(mm, tmp_path):
    a, b = tmp_path / "a.npy", tmp_path / "b.npy"
    np.save(a, np.arange(6, dtype="<f4").reshape(2, 3))
    np.save(b, np.arange(6, dtype="<f8").reshape(2, 3))
    out = tmp_path / "out.npy"
    assert_cli_error(mm.cli("cat", out, a, b), b, "dtype")
    assert not out.exists()

    c = tmp_path / "c.npy"
    np.save(c, np.arange(8, dtype="<f4").reshape(2, 4))
    assert_cli_error(mm.cli("cat", out, a, c), c)
    assert not out.exists()

    # The output is one of the inputs: refused, the input untouched.
    before = a.read_bytes()
    assert_cli_error(mm.cli("cat", a, a, "--force"), a, "input")
    assert a.read_bytes() == before

    # A valid cat still works afterwards (an input may be repeated).
    mm.ok(mm.cli("cat", out, a, a))
    assert_same(np.load(out), np.concatenate([np.load(a)] * 2))
