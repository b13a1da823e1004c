"""The Python package (``pip install ./python``): mmarrow's arrays and tables
as numpy, pyarrow, Polars and DuckDB objects, its writers, conversions and
errors, driven through ``import mmarrow`` (scripts/test.sh installs it into
the venv before pytest runs).

Zero-copy is proven, not assumed: anonymous memory (``RssAnon`` of
/proc/self/status) hardly grows while a 1 GiB sparse file becomes a pyarrow
array, a Polars frame and a numpy array, and each consumer's data pointer
lies inside the file's mapping in /proc/self/maps.
"""

from __future__ import annotations

import gc
import os
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import duckdb
import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from polars.testing import assert_frame_equal

import mmarrow
from conftest import SUPPORTED_DTYPES, dtype_id, sample_array
from test_table_interop import _nested_column, assert_tables_equal, make_original

GIB = 1 << 30


# --------------------------------------------------------------------------
# Helpers: memory and mappings of this process


def rss_anon() -> int:
    """Anonymous resident memory of this process, in bytes."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("RssAnon:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no RssAnon in /proc/self/status")


def mappings_of(path: Path) -> list[tuple[int, int]]:
    """Address ranges of this process's mappings of ``path``."""
    real = str(Path(path).resolve())
    out = []
    for line in Path("/proc/self/maps").read_text().splitlines():
        parts = line.split(maxsplit=5)
        if len(parts) == 6 and parts[5] == real:
            lo, hi = parts[0].split("-")
            out.append((int(lo, 16), int(hi, 16)))
    return out


def assert_in_mapping(address: int, path: Path, what: str):
    ranges = mappings_of(path)
    assert any(lo <= address < hi for lo, hi in ranges), (
        f"{what}: pointer {address:#x} is not inside a mapping of {path} ({ranges})"
    )


def leaf_buffer_address(arr) -> int:
    """Address of the values buffer of a (possibly nested / extension) pyarrow array."""
    if isinstance(arr, pa.ChunkedArray):
        assert arr.num_chunks == 1, arr.num_chunks
        arr = arr.chunk(0)
    while True:
        if isinstance(arr, pa.ExtensionArray):
            arr = arr.storage
        elif pa.types.is_fixed_size_list(arr.type):
            arr = arr.values
        else:
            return arr.buffers()[1].address


@pytest.fixture(scope="module")
def big(tmp_path_factory) -> Path:
    """A 1 GiB sparse file of float32: 262,144 rows of 1,024."""
    p = tmp_path_factory.mktemp("big") / "big.f32"
    with open(p, "wb") as f:
        f.truncate(GIB)
    return p


def open_big(path: Path) -> mmarrow.Array:
    return mmarrow.open(path, dtype="float32", shape=(-1, 1024))


# --------------------------------------------------------------------------
# 1. Zero-copy, proven by RssAnon and by the consumers' pointers


def _grows_less_than(make, limit: int):
    gc.collect()
    before = rss_anon()
    out = make()
    grown = rss_anon() - before
    assert grown < limit, f"RssAnon grew by {grown / 2**20:.1f} MiB"
    return out, grown


@pytest.mark.parametrize("consumer", ["pyarrow", "pyarrow-stream", "polars", "polars-frame", "numpy", "buffer"])
def test_1gib_array_reaches_the_consumer_without_a_copy(big, consumer):
    a = open_big(big)
    assert a.shape == (262_144, 1024) and a.nbytes == GIB
    limit = GIB // 100 // 4  # well under 1 % of the data
    if consumer == "pyarrow":
        arr, _ = _grows_less_than(lambda: pa.array(a), limit)
        assert isinstance(arr.type, pa.FixedShapeTensorType) and len(arr) == 262_144
        addr = leaf_buffer_address(arr)
    elif consumer == "pyarrow-stream":
        t, _ = _grows_less_than(lambda: pa.RecordBatchReader.from_stream(a).read_all(), limit)
        addr = leaf_buffer_address(t.column(0))
    elif consumer == "polars":
        s, _ = _grows_less_than(a.to_polars, limit)
        assert s.dtype == pl.Array(pl.Float32, 1024) and s.len() == 262_144
        addr = leaf_buffer_address(s.to_arrow())
    elif consumer == "polars-frame":
        df, _ = _grows_less_than(lambda: pl.DataFrame(a.to_polars()), limit)
        assert df.schema[a.name] == pl.Array(pl.Float32, 1024)
        addr = leaf_buffer_address(df.to_arrow().column(0))
    elif consumer == "numpy":
        n, _ = _grows_less_than(a.to_numpy, limit)
        assert n.shape == (262_144, 1024) and n.dtype == np.float32 and not n.flags.writeable
        assert n.sum(dtype=np.float64) == 0.0  # reads every page (zeros of the sparse file)
        addr = n.ctypes.data
    else:
        m, _ = _grows_less_than(lambda: np.asarray(memoryview(a)), limit)
        assert m.shape == (262_144, 1024) and m.dtype == np.float32
        addr = m.ctypes.data
    lo, hi = a.mapped_range
    assert lo <= addr < hi
    assert_in_mapping(addr, big, consumer)


def test_1gib_table_column_reaches_polars_and_duckdb_without_a_copy(tmp_path):
    """A table whose tensor column holds 1 GiB (written sparse by a writer
    of zeros is not possible, so the data is mapped from a sparse array
    file through ``from_parquet``'s sibling: ``save`` of the mapped array)."""
    src = tmp_path / "emb.f32"
    with open(src, "wb") as f:
        f.truncate(GIB // 4)
    a = mmarrow.open(src, dtype="float32", shape=(-1, 256))
    dst = tmp_path / "t"
    mmarrow.save(dst, pa.table({"emb": pa.array(a.with_tensor_layout("list"))}))
    del a
    t = mmarrow.open_table(dst)
    df, _ = _grows_less_than(lambda: pl.DataFrame(t), GIB // 4 // 100 // 4)
    assert df.schema["emb"] == pl.Array(pl.Float32, 256)
    col = max((p for p in dst.rglob("*") if p.is_file()), key=lambda p: p.stat().st_size)
    assert col.stat().st_size == GIB // 4
    assert_in_mapping(leaf_buffer_address(df.to_arrow().column(0)), col, "polars table")
    gc.collect()
    before = rss_anon()
    [(n, total)] = duckdb.sql("select count(*), sum(emb[1]) from t").fetchall()  # DuckDB finds `t` by name
    assert rss_anon() - before < 64 << 20
    assert (n, total) == (GIB // 4 // 1024, 0.0)


# --------------------------------------------------------------------------
# 2. Values equal numpy.memmap's view for every supported dtype


@pytest.mark.parametrize("shape", [(11,), (5, 3), (4, 2, 3)], ids=["1d", "2d", "3d"])
def test_values_equal_numpy_memmap(tmp_path, supported_dtype, shape):
    d = np.dtype(supported_dtype)
    data = sample_array(d, shape, seed=7)
    offset = 3 * d.itemsize
    p = tmp_path / "a.bin"
    with open(p, "wb") as f:
        f.write(b"\xab" * offset)
        data.tofile(f)
    want = np.memmap(p, dtype=d, mode="r", offset=offset, shape=shape)
    a = mmarrow.open(p, dtype=supported_dtype, shape=shape, offset=offset)
    assert a.dtype == d and a.shape == shape and len(a) == shape[0]
    got = np.asarray(a)
    assert got.dtype == d and got.shape == shape
    assert got.tobytes() == want.tobytes()
    lo, hi = a.mapped_range
    assert a.is_zero_copy and lo <= got.ctypes.data < hi
    # Arrow sees the same bytes, from inside the map.
    arr = a.to_pyarrow()
    assert len(arr) == shape[0]
    leaf = arr
    while isinstance(leaf, pa.ExtensionArray) or pa.types.is_fixed_size_list(leaf.type):
        leaf = leaf.storage if isinstance(leaf, pa.ExtensionArray) else leaf.values
    nbytes = data.nbytes
    buf = leaf.buffers()[1]
    assert buf.to_pybytes()[:nbytes] == want.tobytes()
    assert lo <= buf.address < hi
    # Rows sliced without a copy are the same rows.
    s = a[1:3]
    assert isinstance(s, mmarrow.Array) and s.shape == (2, *shape[1:])
    assert np.asarray(s).tobytes() == want[1:3].tobytes()
    if d.kind in "biuSV":  # (NaN, NaT and out-of-range datetimes do not compare as Python objects)
        assert pa.array(s).to_pylist() == arr[1:3].to_pylist()
    # take gathers the same rows as numpy's fancy indexing, in the dtype.
    idx = [shape[0] - 1, 0, -2, 1]
    got = a.take(idx)
    assert got.dtype == d and got.shape == (4, *shape[1:])
    assert got.tobytes() == want[idx].tobytes()
    # The buffer protocol, where the struct module has a format for the dtype.
    if d.kind not in "MmV":
        m = memoryview(a)
        assert m.readonly and m.shape == shape and m.tobytes() == want.tobytes()


@pytest.mark.parametrize("dtype", ["<f4", "<i2", "|b1", "<M8[ms]"])
def test_fortran_order_equals_numpy_memmap(tmp_path, dtype):
    data = sample_array(dtype, (6, 4), seed=3)
    p = tmp_path / "f.bin"
    data.T.copy().tofile(p)  # the column-major bytes of `data`
    want = np.memmap(p, dtype=dtype, mode="r", shape=(6, 4), order="F")
    a = mmarrow.open(p, dtype=dtype, shape=(6, 4), order="F")
    got = np.asarray(a)
    assert got.shape == (6, 4) and not got.flags.c_contiguous
    assert np.ascontiguousarray(got).tobytes() == np.ascontiguousarray(want).tobytes()
    sub = a[2:5]  # rows of a Fortran-order file are not contiguous: a numpy view
    assert isinstance(sub, np.ndarray) and not sub.flags.owndata
    assert np.ascontiguousarray(sub).tobytes() == np.ascontiguousarray(want[2:5]).tobytes()


def test_npy_files_and_big_endian(tmp_path):
    x = np.arange(20, dtype=">i4").reshape(4, 5)
    np.save(tmp_path / "be.npy", x)
    a = mmarrow.open(tmp_path / "be.npy")
    assert a.dtype == np.dtype(">i4") and a.shape == (4, 5)
    assert np.array_equal(np.asarray(a), x)
    # Arrow has no big-endian layout: a byte swap would copy, which is refused.
    with pytest.raises(mmarrow.UnsupportedError, match="big-endian"):
        pa.array(a)
    y = np.arange(6, dtype="<f8")
    np.save(tmp_path / "le.npy", y)
    b = mmarrow.open(tmp_path / "le.npy")
    assert b.offset == 128 and b.to_pyarrow().to_pylist() == y.tolist()


def test_tensor_layouts_for_pyarrow_and_polars(tmp_path):
    x = np.arange(2 * 3 * 4, dtype=np.float32).reshape(2, 3, 4)
    x.tofile(tmp_path / "t.f32")
    a = mmarrow.open(tmp_path / "t.f32", dtype="float32", shape=(2, 3, 4))
    t = a.to_pyarrow()
    assert isinstance(t.type, pa.FixedShapeTensorType) and t.type.shape == [3, 4]
    assert np.array_equal(t.to_numpy_ndarray(), x)
    s = a.to_polars()
    assert s.dtype == pl.Array(pl.Float32, (3, 4))
    assert np.array_equal(s.to_numpy(), x)
    assert s.arr.first().to_list() == [x[0, 0].tolist(), x[1, 0].tolist()]
    assert a.to_polars(tensor_layout="list").dtype == pl.Array(pl.Float32, 12)
    assert pa.array(a.with_tensor_layout("array")).type == pa.list_(pa.list_(pa.float32(), 4), 3)
    with pytest.raises(ValueError, match="tensor_layout"):
        a.to_polars(tensor_layout="bogus")


# --------------------------------------------------------------------------
# 3. numpy.memmap's modes


def test_modes_r_plus_w_plus_and_copy_on_write(tmp_path):
    p = tmp_path / "m.f8"
    w = mmarrow.open(p, dtype="float64", shape=(3, 2), mode="w+")
    assert w.writable and w.shape == (3, 2) and np.asarray(w).flags.writeable
    w[1] = [1.5, 2.5]
    np.asarray(w)[2, 1] = 9.0
    memoryview(w).cast("B")[0:8] = np.float64(4.0).tobytes()
    w.flush()
    del w
    r = mmarrow.open(p)  # the sidecar w+ wrote
    assert r.to_numpy().tolist() == [[4.0, 0.0], [1.5, 2.5], [0.0, 9.0]]
    with pytest.raises(ValueError):
        r.to_numpy()[0, 0] = 1.0  # read-only view
    with pytest.raises(TypeError):
        memoryview(r).cast("B")[0] = 1

    rw = mmarrow.open(p, mode="readwrite")
    rw[0, 1] = -1.0
    rw.flush()
    del rw
    assert mmarrow.open(p).to_numpy()[0, 1] == -1.0

    c = mmarrow.open(p, mode="c")
    c[:] = 7.0
    assert np.all(np.asarray(c) == 7.0)
    with pytest.raises(mmarrow.NotWritableError):
        c.flush()
    with pytest.raises(TypeError, match="writable numpy view"):
        pa.array(c)
    del c
    assert mmarrow.open(p).to_numpy()[0, 1] == -1.0  # the file is unchanged

    with pytest.raises(mmarrow.AlreadyExistsError):
        mmarrow.open(p, dtype="float64", shape=(3, 2), mode="w+")
    mmarrow.open(p, dtype="int8", shape=(5,), mode="w+", overwrite=True)
    assert mmarrow.open(p).to_numpy().tolist() == [0] * 5


def test_r_plus_past_the_end_grows_the_file_like_numpy(tmp_path):
    p = tmp_path / "g.u1"
    p.write_bytes(b"\x01\x02")
    g = mmarrow.open(p, dtype="uint8", shape=(6,), mode="r+")
    assert np.asarray(g).tolist() == [1, 2, 0, 0, 0, 0]
    del g
    assert p.stat().st_size == 6


# --------------------------------------------------------------------------
# 4. Tables: every table type, slices, take, DuckDB


@pytest.fixture(scope="module")
def original() -> pa.Table:
    return make_original()


@pytest.fixture(scope="module")
def saved(tmp_path_factory, original) -> Path:
    p = tmp_path_factory.mktemp("tables") / "orig"
    assert mmarrow.save(p, original) == original.num_rows
    return p


def test_table_equals_pyarrow_for_every_type(saved, original):
    t = mmarrow.open_table(saved)
    assert len(t) == original.num_rows
    assert t.schema.equals(original.schema)
    assert not hasattr(t, "__arrow_c_array__")  # Polars must take the stream
    assert_tables_equal(t.to_pyarrow(), original, "open_table")
    assert_tables_equal(pa.table(t), original, "pa.table")
    assert_tables_equal(t.slice(1000, 1500).to_pyarrow(), original.slice(1000, 500), "slice")
    idx = np.random.default_rng(1).integers(0, original.num_rows, 300)
    got = t.take(idx)
    assert isinstance(got, pa.RecordBatch)
    assert_tables_equal(pa.table(got), original.take(pa.array(idx)), "take")
    assert_tables_equal(pa.table(t.slice(10).take([-1, 0])), original.slice(10).take([len(original) - 11, 0]), "take of slice")
    with pytest.raises(IndexError):
        t.take([original.num_rows])


def test_projection_and_polars(saved, original):
    t = mmarrow.open_table(saved, columns=["emb", "id", "s"])
    assert t.columns == ["emb", "id", "s"]
    df = t.to_polars()
    assert df.columns == ["emb", "id", "s"]
    assert df.schema["emb"] == pl.Array(pl.Float32, 768)
    want = pl.DataFrame(original.select(["id", "s"]))
    assert df.select("id", "s").equals(want)
    with pytest.raises(mmarrow.InvalidArgumentError, match="nope"):
        mmarrow.open_table(saved, columns=["nope"])


@pytest.mark.parametrize("kind", ["struct", "list", "large_list", "map", "dictionary"])
def test_nested_tables_equal_pyarrow(tmp_path, kind):
    want = pa.table({"id": pa.array(range(100), pa.int64()), "nested col": _nested_column(kind)})
    with mmarrow.TableWriter(tmp_path / "t", want.schema) as w:
        for b in want.to_batches(max_chunksize=30):
            w.append(b)
    t = mmarrow.open_table(tmp_path / "t")
    assert t.to_pyarrow().equals(want)
    assert pa.table(t.take([5, 99, 0])).equals(want.take([5, 99, 0]))


def test_string_views_point_into_the_map(tmp_path):
    rng = np.random.default_rng(3)
    words = ["", "a", "twelve bytes", "thirteen byte", "ünïcödé ✓ and a long tail of text", "x" * 11]
    n = 5000
    want = pa.table({
        "s": pa.array([words[i] for i in rng.integers(0, len(words), n)], mask=rng.random(n) < 0.1),
        "ls": pa.array([words[i] for i in rng.integers(0, len(words), n)], pa.large_string()),
        "b": pa.array([w.encode()[::-1] for w in (words[i] for i in rng.integers(0, len(words), n))], pa.binary()),
        "id": pa.array(np.arange(n)),
    })
    with mmarrow.TableWriter(tmp_path / "t", want.schema) as w:
        for batch in want.to_batches(max_chunksize=700):  # several chunks: offsets not from 0
            w.append(batch)
    t = mmarrow.open_table(tmp_path / "t")
    v = t.with_string_view()
    assert [f.type for f in pa.schema(v)] == [pa.string_view(), pa.string_view(), pa.binary_view(), pa.int64()]
    files = [p for p in (tmp_path / "t").iterdir() if p.is_file()]
    in_map = 0
    for start, stop in ((0, n), (1234, 4321), (n - 3, n), (7, 7)):
        got = pa.table(v.slice(start, stop))
        plain = pa.table(t.slice(start, stop))
        assert got.num_rows == stop - start
        for name in ("s", "ls", "b"):
            assert got.column(name).to_pylist() == plain.column(name).to_pylist(), (name, start)
            for chunk in got.column(name).chunks:
                if len(chunk) and chunk.buffers()[2] is not None:  # a data buffer: the table's
                    data = chunk.buffers()[2].address
                    assert any(lo <= data < hi for f in files for lo, hi in mappings_of(f)), name
                    in_map += 1
    assert in_map >= 6, in_map
    # Polars gets the same frame either way, with Strings.
    df = t.to_polars()
    assert df.schema["s"] == pl.String and df.schema["b"] == pl.Binary
    assert df.equals(pl.DataFrame(pa.table(t)))
    assert not mmarrow.open_table(tmp_path / "t").with_string_view(False).schema.field("s").type == pa.string_view()


def test_a_string_view_cache_reaches_polars_with_no_new_memory(tmp_path):
    """``from_parquet(string_view=True)`` stores strings as Arrow views:
    ``to_polars()`` then adds nothing (the plain cache adds 16 bytes of view
    per string), the values are those of the Parquet file, and
    ``trusted=True`` and ``verify`` agree."""
    import pyarrow.parquet as pq

    n = 1_000_000
    rng = np.random.default_rng(5)
    words = np.array([f"word {i} " + "é" * (i % 4) + "y" * (i % 17) for i in range(500)], dtype=object)
    src = pa.table({
        "s": pa.array(words[rng.integers(0, 500, n)], mask=rng.random(n) < 0.1),
        "cat": pa.array([f"c{i % 50}" for i in range(n)]),
        "x": pa.array(rng.standard_normal(n)),
    })
    pq.write_table(src, tmp_path / "s.parquet", row_group_size=300_000)
    mmarrow.from_parquet(tmp_path / "s.parquet", tmp_path / "views", string_view=True)
    mmarrow.from_parquet(tmp_path / "s.parquet", tmp_path / "plain")
    want = pl.read_parquet(tmp_path / "s.parquet")
    t = mmarrow.open_table(tmp_path / "views")
    assert [f.type for f in pa.schema(t)] == [pa.string_view(), pa.string_view(), pa.float64()]
    base = rss_anon()
    df = t.to_polars()
    grown_views = rss_anon() - base
    assert df.equals(want)
    base = rss_anon()
    df_plain = mmarrow.open_table(tmp_path / "plain").to_polars()
    grown_plain = rss_anon() - base
    assert df_plain.equals(want)
    # 16 bytes of view per string of the plain cache (at least one column's
    # worth shows: the allocator may reuse freed pages for the other).
    assert grown_plain > 12 << 20, grown_plain
    assert grown_views < 2 << 20, grown_views
    # The data buffers pyarrow sees lie in the table's files.
    files = [p for p in (tmp_path / "views").iterdir() if p.is_file()]
    chunk = pa.table(t).column("s").chunks[0]
    assert any(lo <= chunk.buffers()[2].address < hi for f in files for lo, hi in mappings_of(f))
    # Trusted: the same frame; verify passes.
    assert mmarrow.open_table(tmp_path / "views", trusted=True).to_polars().equals(want)
    assert mmarrow.scan_polars(tmp_path / "views", trusted=True).filter(pl.col("cat") == "c7").collect().equals(
        want.filter(pl.col("cat") == "c7")
    )
    r = mmarrow.verify(tmp_path / "views")
    assert (r["kind"], r["rows"], r["columns"]) == ("table", n, 3) and r["checksummed_bytes"] > 0
    # A string made invalid UTF-8 (its checksum fixed up is not needed: the
    # content check comes first) is an error naming the column, not a crash.
    data = next(p for p in files if p.name.startswith("c0.data"))
    raw = bytearray(data.read_bytes())
    raw[raw.index("é".encode())] = 0xFF
    data.write_bytes(bytes(raw))
    # (Polars reports the stream's error as its own ComputeError.)
    with pytest.raises(Exception, match=r'views/c0\..*column "s": Encountered non-UTF-8'):
        mmarrow.open_table(tmp_path / "views").to_polars()
    with pytest.raises(mmarrow.Error):
        mmarrow.verify(tmp_path / "views")
    mmarrow.save(tmp_path / "a.npy", np.arange(6.0))
    assert mmarrow.verify(tmp_path / "a.npy") == {"kind": "array", "rows": 6, "dtype": "<f8"}


def test_take_accepts_every_index_form(tmp_path):
    x = np.arange(60, dtype=np.int32).reshape(20, 3)
    mmarrow.save(tmp_path / "x.npy", x)
    a = mmarrow.open(tmp_path / "x.npy")
    mmarrow.save(tmp_path / "t", pa.table({"v": np.arange(20)}))
    t = mmarrow.open_table(tmp_path / "t")
    forms = {
        "int": (7, [7]),
        "negative int": (-1, [19]),
        "list": ([3, -20, 19], [3, 0, 19]),
        "tuple": ((5, 5), [5, 5]),
        "empty list": ([], []),
        "numpy int64": (np.array([2, -3]), [2, 17]),
        "numpy int32": (np.array([2, 4], np.int32), [2, 4]),
        "numpy uint8": (np.array([1], np.uint8), [1]),
        "strided numpy": (np.arange(20)[::-5], [19, 14, 9, 4]),
        "2-d numpy (flattened)": (np.array([[1, 2], [3, 4]]), [1, 2, 3, 4]),
        "numpy scalars in a list": ([np.int64(6), np.int16(8)], [6, 8]),
        "range": (range(0, 20, 7), [0, 7, 14]),
    }
    for name, (idx, rows) in forms.items():
        got = a.take(idx)
        assert got.shape == (len(rows), 3) and got.tolist() == x[rows].tolist(), name
        assert pa.table(t.take(idx)).column("v").to_pylist() == rows, name
    for bad in (20, -21, [0, 20], np.array([-21]), [2**63], np.array([2**63], np.uint64)):
        with pytest.raises(IndexError):
            a.take(bad)
        with pytest.raises(IndexError):
            t.take(bad)
    # No silent truncation of floats, no booleans read as 0 and 1.
    for bad in ([1.5], np.array([0.0]), True, [True, False], np.array([True]), ["1"]):
        with pytest.raises(TypeError, match="row indices must be integers"):
            a.take(bad)
        with pytest.raises(TypeError, match="row indices must be integers"):
            t.take(bad)
    with pytest.raises(IndexError, match="index 20 is out of range for 20 rows"):
        a.take([1, 20])
    with pytest.raises(IndexError, match="index -21 is out of range for 20 rows"):
        t.take(np.array([-21]))


def test_duckdb_queries_the_table_object(saved, original):
    t = mmarrow.open_table(saved)
    [got] = duckdb.sql("select count(*), sum(id), count(s), max(u16) from t where i8 > 0").fetchall()
    o = original
    mask = pa.compute.greater(o["i8"], 0)
    f = o.filter(mask)
    want = (f.num_rows, pa.compute.sum(f["id"]).as_py(), pa.compute.count(f["s"]).as_py(), pa.compute.max(f["u16"]).as_py())
    assert got == want
    # And an array, as a one-column table.
    p = saved.parent / "ids.npy"
    np.save(p, o["id"].to_numpy())
    a = mmarrow.open(p)
    assert duckdb.sql("select count(*), sum(ids) from a").fetchall() == [(len(a), int(o["id"].to_numpy().sum()))]


# --------------------------------------------------------------------------
# 5. Another process appends while the file is open: the committed prefix


APPENDER = textwrap.dedent(
    """
    import sys, numpy as np, pyarrow as pa, mmarrow
    kind, path = sys.argv[1], sys.argv[2]
    if kind == "array":
        w = mmarrow.ArrayWriter(path, "float32", (4,))
        w.append(np.full((10, 4), 1, np.float32)); w.commit()
        print("committed", flush=True); sys.stdin.readline()
        w.append(np.full((5, 4), 2, np.float32)); w.commit()
        w.append(np.full((7, 4), 3, np.float32))          # never committed
    else:
        s = pa.schema([("n", pa.int64()), ("s", pa.string())])
        w = mmarrow.TableWriter(path, s)
        w.append(pa.table({"n": range(10), "s": ["a"] * 10})); w.commit()
        print("committed", flush=True); sys.stdin.readline()
        w.append(pa.table({"n": range(10, 15), "s": ["b"] * 5})); w.commit()
        w.append(pa.table({"n": range(99, 106), "s": ["x"] * 7}))  # never committed
    print("appended", flush=True); sys.stdin.readline()
    """
)


@pytest.mark.parametrize("kind", ["array", "table"])
def test_reader_sees_the_committed_prefix_while_another_process_appends(tmp_path, kind):
    path = tmp_path / ("a.f32" if kind == "array" else "t")
    child = subprocess.Popen([sys.executable, "-c", APPENDER, kind, str(path)],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout.readline().strip() == "committed"
        opened = mmarrow.open(path) if kind == "array" else mmarrow.open_table(path)
        frame = pl.DataFrame(opened) if kind == "table" else None
        assert len(opened) == 10
        child.stdin.write("\n"); child.stdin.flush()
        assert child.stdout.readline().strip() == "appended"
        # The open object keeps its prefix, unchanged...
        assert len(opened) == 10
        if kind == "array":
            assert np.all(np.asarray(opened) == 1)
        else:
            assert frame["n"].to_list() == list(range(10))
        # ...and a new open sees exactly the committed rows.
        again = mmarrow.open(path) if kind == "array" else mmarrow.open_table(path)
        assert len(again) == 15
        if kind == "array":
            assert np.asarray(again)[10:].tolist() == [[2.0] * 4] * 5
        else:
            assert pl.DataFrame(again)["n"].to_list() == list(range(15))
            assert mmarrow.scan_polars(path).select(pl.len()).collect().item() == 15
    finally:
        child.stdin.close()
        child.wait(timeout=60)
    assert child.returncode == 0
    after = mmarrow.open(path) if kind == "array" else mmarrow.open_table(path)
    assert len(after) == 15  # the uncommitted rows were discarded


# --------------------------------------------------------------------------
# 6. Lifetimes: frames outlive mmarrow objects; the map closes with the last consumer


def test_frames_outlive_mmarrow_objects_and_the_map_closes_last(tmp_path):
    p = tmp_path / "life.f32"
    x = np.arange(4096 * 8, dtype=np.float32).reshape(-1, 8)
    x.tofile(p)
    a = mmarrow.open(p, dtype="float32", shape=(-1, 8))
    s = a.to_polars()
    df = pl.DataFrame({"v": s})
    view = a[100:200].to_numpy()
    arr = pa.array(a)
    del a, s
    gc.collect()
    assert mappings_of(p), "the map closed while consumers live"
    assert df["v"].arr.sum().sum() == pytest.approx(float(x.sum(dtype=np.float64)))
    assert view[0].tolist() == x[100].tolist()
    del df
    gc.collect()
    assert mappings_of(p)
    assert arr.storage.flatten()[9].as_py() == 9.0
    del arr
    gc.collect()
    assert mappings_of(p)
    assert view.sum() == x[100:200].sum()
    del view
    gc.collect()
    assert mappings_of(p) == [], "the map outlived its last consumer"


def test_table_frames_outlive_the_table(tmp_path):
    d = tmp_path / "t"
    mmarrow.save(d, pa.table({"x": np.arange(10_000, dtype=np.int64)}))
    t = mmarrow.open_table(d)
    df = pl.DataFrame(t)
    files = [f for f in d.rglob("*") if f.is_file() and mappings_of(f)]
    assert files
    del t
    gc.collect()
    assert df["x"].sum() == sum(range(10_000))
    del df
    gc.collect()
    assert all(mappings_of(f) == [] for f in files)


# --------------------------------------------------------------------------
# 7. scan_polars equals pl.read_parquet for projections, predicates, limits


@pytest.fixture(scope="module")
def scan_data(tmp_path_factory):
    """200,000 rows in commits of 50,000 (so several statistics chunks of
    65,536 rows), ``id`` sorted (statistics decide), ``x`` random with NaNs
    and nulls (they cannot), strings, timestamps, a tensor column."""
    d = tmp_path_factory.mktemp("scan")
    n = 200_000
    rng = np.random.default_rng(5)
    x = rng.standard_normal(n)
    x[rng.choice(n, 50, replace=False)] = np.nan
    t = pa.table({
        "id": pa.array(np.arange(n, dtype=np.int64)),
        "x": pa.array(x, mask=rng.random(n) < 0.01),
        "cat": pa.array([f"c{i % 100}" for i in range(n)]),
        "ts": pa.array(np.datetime64("2024-01-01", "us") + np.arange(n).astype("timedelta64[s]")),
        "emb": pa.FixedSizeListArray.from_arrays(pa.array(rng.standard_normal(n * 4).astype(np.float32)), 4),
    })
    pq_path = d / "data.parquet"
    pq.write_table(t, pq_path)
    table = d / "table"
    with mmarrow.TableWriter(table, t.schema) as w:
        for b in t.to_batches(max_chunksize=50_000):
            w.append(b)
            w.commit()
    return table, pq_path


PREDICATES = {
    "id-range": (pl.col("id") >= 150_000) & (pl.col("id") < 150_010),
    "id-eq": pl.col("id") == 70_000,
    "id-between": pl.col("id").is_between(1_000, 1_004),
    "id-none": pl.col("id") > 10**9,
    "lit-left": pl.lit(5) > pl.col("id"),
    "x-random": pl.col("x") > 2.5,
    "x-nan": pl.col("x").is_nan(),
    "x-null": pl.col("x").is_null(),
    "cat": pl.col("cat") == "c42",
    "cat-in": pl.col("cat").is_in(["c1", "c7"]),
    "ts": pl.col("ts") < pl.datetime(2024, 1, 1, 0, 0, 30),
    "or": (pl.col("id") < 3) | (pl.col("x") > 3.5),
    "and-undecidable": (pl.col("id") < 100_000) & (pl.col("x").abs() < 0.001),
    "arr": pl.col("emb").arr.first() > 2.0,
}


@pytest.mark.parametrize("name", list(PREDICATES))
def test_scan_polars_predicates_equal_read_parquet(scan_data, name):
    table, pq_path = scan_data
    p = PREDICATES[name]
    got = mmarrow.scan_polars(table).filter(p).collect()
    want = pl.read_parquet(pq_path).filter(p)
    assert got.equals(want), f"{name}: {got.height} rows, want {want.height}"


@pytest.mark.parametrize("cols", [["x"], ["cat", "id"], ["emb"], ["ts", "x", "id"]])
@pytest.mark.parametrize("limit", [None, 0, 7, 130_000])
def test_scan_polars_projections_and_limits(scan_data, cols, limit):
    table, pq_path = scan_data
    for p in [None, pl.col("x") > 1.0]:
        lf, ref = mmarrow.scan_polars(table), pl.scan_parquet(pq_path)
        if p is not None:
            lf, ref = lf.filter(p), ref.filter(p)
        lf, ref = lf.select(cols), ref.select(cols)
        if limit is not None:
            lf, ref = lf.head(limit), ref.head(limit)
        got, want = lf.collect(), ref.collect()
        assert got.equals(want), f"{cols} {limit} {p}: {got.shape} vs {want.shape}"


def test_scan_polars_aggregates_and_skips_chunks_by_statistics(scan_data):
    table, pq_path = scan_data
    q = lambda lf: (lf.filter(pl.col("id") >= 190_000).group_by("cat").agg(pl.col("x").sum(), pl.len())
                    .sort("cat"))
    assert_frame_equal(q(mmarrow.scan_polars(table)).collect(), q(pl.scan_parquet(pq_path)).collect())
    from mmarrow._polars import _chunks_to_read
    t = mmarrow.open_table(table)
    ranges = _chunks_to_read(t, pl.col("id") >= 190_000, pl)
    assert sum(b - a for a, b in ranges) <= 200_000 - 65_536, ranges  # at least one chunk skipped
    assert any(a <= 190_000 and b == 200_000 for a, b in ranges), ranges
    assert _chunks_to_read(t, pl.col("x") > 1.0, pl) == [(0, 200_000)]  # undecidable: everything
    assert _chunks_to_read(t, pl.col("id") > 10**9, pl) == []


# --------------------------------------------------------------------------
# 8. Writers and conversions


def test_array_writer_commits_on_exit_and_discards_on_exception(tmp_path):
    p = tmp_path / "w.npy"
    with mmarrow.ArrayWriter(p, np.int16, (3,)) as w:
        w.append([[1, 2, 3], [4, 5, 6]])
        w.append(np.array([7, 8, 9]))
        assert w.pending_rows == 3
    assert np.load(p).tolist() == [[1, 2, 3], [4, 5, 6], [7, 8, 9]]
    q = tmp_path / "w.i8"
    with pytest.raises(RuntimeError, match="boom"):
        with mmarrow.ArrayWriter(q, "int64") as w:
            w.append(np.arange(5))
            w.commit()
            w.append(np.arange(100))
            raise RuntimeError("boom")
    assert mmarrow.open(q).to_numpy().tolist() == [0, 1, 2, 3, 4]
    with mmarrow.ArrayWriter(tmp_path / "bad.f4", "float32", (2,)) as w:
        with pytest.raises(mmarrow.InvalidArgumentError, match="shape"):
            w.append(np.zeros((3, 3)))
        w.append(pa.array([[1.0, 2.0]], pa.list_(pa.float32(), 2)))  # an Arrow array
    assert mmarrow.open(tmp_path / "bad.f4").to_numpy().tolist() == [[1.0, 2.0]]


def test_table_writer_commits_on_exit_and_discards_on_exception(tmp_path):
    s = pa.schema([("a", pa.int32()), ("b", pa.string())])
    with mmarrow.TableWriter(tmp_path / "t", s) as w:
        w.append(pa.record_batch([pa.array([1, 2], pa.int32()), pa.array(["x", None])], schema=s))
        w.append(pl.DataFrame({"a": pl.Series([3], dtype=pl.Int32), "b": ["z"]}))  # any PyCapsule object
    assert mmarrow.open_table(tmp_path / "t").to_pyarrow().to_pydict() == {"a": [1, 2, 3], "b": ["x", None, "z"]}
    with pytest.raises(KeyError):
        with mmarrow.TableWriter(tmp_path / "u", s) as w:
            w.append(pa.table({"a": pa.array([1], pa.int32()), "b": ["k"]}))
            w.commit()
            w.append(pa.table({"a": pa.array([2], pa.int32()), "b": ["l"]}))
            raise KeyError("boom")
    assert mmarrow.open_table(tmp_path / "u").to_pyarrow().to_pydict() == {"a": [1], "b": ["k"]}
    with mmarrow.TableWriter(tmp_path / "v", s) as w:
        with pytest.raises(mmarrow.Error):
            w.append(pa.table({"zz": [1.5]}))


def test_save_numpy_and_arrow(tmp_path):
    x = np.arange(12, dtype="<u2").reshape(4, 3)
    assert mmarrow.save(tmp_path / "x.npy", x) == 4
    assert np.array_equal(np.load(tmp_path / "x.npy"), x)
    assert mmarrow.save(tmp_path / "raw", x) == 4
    assert np.array_equal(mmarrow.open(tmp_path / "raw").to_numpy(), x)
    e = np.random.default_rng(0).standard_normal((5, 2, 3)).astype(np.float32)
    mmarrow.save(tmp_path / "tensor.f32", pa.FixedShapeTensorArray.from_numpy_ndarray(e))
    assert mmarrow.open(tmp_path / "tensor.f32").shape == (5, 2, 3)
    assert np.array_equal(mmarrow.open(tmp_path / "tensor.f32").to_numpy(), e)
    mmarrow.save(tmp_path / "s.i8", pl.Series("v", [1, 2, 3]))
    assert mmarrow.open(tmp_path / "s.i8").to_numpy().tolist() == [1, 2, 3]
    mmarrow.save(tmp_path / "df", pl.DataFrame({"v": [1, 2], "w": ["a", "b"]}))
    assert mmarrow.open_table(tmp_path / "df").to_polars().equals(pl.DataFrame({"v": [1, 2], "w": ["a", "b"]}))
    with pytest.raises(mmarrow.AlreadyExistsError):
        mmarrow.save(tmp_path / "x.npy", x)
    mmarrow.save(tmp_path / "x.npy", x[:1], overwrite=True)
    assert np.load(tmp_path / "x.npy").shape == (1, 3)
    with pytest.raises(mmarrow.InvalidArgumentError, match="cannot hold|variable-length"):
        mmarrow.save(tmp_path / "str.bin", pa.array(["a", "b"]))


def test_conversions_parquet_round_trip_if_stale_and_progress(tmp_path, original):
    x = np.random.default_rng(2).standard_normal((20_000, 16)).astype(np.float32)
    mmarrow.save(tmp_path / "x.npy", x)
    calls = []
    s = mmarrow.to_parquet(tmp_path / "x.npy", tmp_path / "x.parquet", compression="zstd",
                           progress=lambda *a: calls.append(a))
    assert s["rows"] == 20_000
    assert calls and calls[-1][0] == calls[-1][1] == 20_000
    back = pq.read_table(tmp_path / "x.parquet")
    assert np.array_equal(back.column(0).combine_chunks().to_numpy_ndarray(), x)
    s = mmarrow.from_parquet(tmp_path / "x.parquet", tmp_path / "y.npy")
    assert s["rows"] == 20_000 and np.array_equal(np.load(tmp_path / "y.npy"), x)

    src = tmp_path / "orig.parquet"
    pq.write_table(original, src)
    first = mmarrow.from_parquet(src, tmp_path / "cache", if_stale=True)
    assert first["rows"] == original.num_rows and not first["up_to_date"]
    again = mmarrow.from_parquet(src, tmp_path / "cache", if_stale=True)
    assert again["up_to_date"]
    t = mmarrow.open_table(tmp_path / "cache")
    assert t.to_pyarrow().column("id").equals(original.column("id"))
    mmarrow.convert(t, tmp_path / "out.parquet")  # a Table object names its directory
    assert pq.read_table(tmp_path / "out.parquet").num_rows == original.num_rows
    mmarrow.convert(tmp_path / "x.npy", tmp_path / "x.arrow")
    assert pa.ipc.open_file(tmp_path / "x.arrow").read_all().num_rows == 20_000
    with pytest.raises(mmarrow.InvalidArgumentError, match="compression"):
        mmarrow.to_parquet(tmp_path / "x.npy", tmp_path / "z.parquet", compression="brotli")


def test_a_failing_progress_callback_does_not_abort_the_conversion(tmp_path):
    mmarrow.save(tmp_path / "x.npy", np.arange(1000.0))

    def bad(*_):
        raise ValueError("callback failed")

    seen = []
    old = sys.unraisablehook
    sys.unraisablehook = lambda u: seen.append(u.exc_value)
    try:
        s = mmarrow.to_parquet(tmp_path / "x.npy", tmp_path / "x.parquet", progress=bad)
    finally:
        sys.unraisablehook = old
    assert s["rows"] == 1000 and seen and isinstance(seen[0], ValueError)


# --------------------------------------------------------------------------
# 9. Errors: a small hierarchy, the CLI's messages


def test_errors_are_python_exceptions_with_the_cli_message(mm, tmp_path):
    with pytest.raises(FileNotFoundError) as e:
        mmarrow.open(tmp_path / "nope.f32", dtype="float32")
    assert isinstance(e.value, mmarrow.NotFoundError) and isinstance(e.value, mmarrow.Error)
    assert e.value.kind == "NotFound" and e.value.path == tmp_path / "nope.f32"
    cli = mm.cli("info", tmp_path / "nope.f32", "--dtype", "float32")
    assert cli.returncode == 2 and cli.stderr.strip() == f"mmarrow: {e.value}"

    (tmp_path / "x.bin").write_bytes(b"\0" * 10)
    with pytest.raises(ValueError) as e:
        mmarrow.open(tmp_path / "x.bin", dtype="float32")
    assert isinstance(e.value, mmarrow.FormatError) and e.value.kind == "NotWholeItems"
    cli = mm.cli("info", tmp_path / "x.bin", "--dtype", "float32")
    assert cli.stderr.strip() == f"mmarrow: {e.value}"
    with pytest.raises(mmarrow.InvalidArgumentError) as e:
        mmarrow.open(tmp_path / "x.bin")
    assert e.value.kind == "MissingSidecar"
    cli = mm.cli("info", tmp_path / "x.bin")
    assert cli.stderr.strip() == f"mmarrow: {e.value}"
    with pytest.raises(mmarrow.FormatError, match="needs 40"):
        mmarrow.open(tmp_path / "x.bin", dtype="int32", shape=(10,))
    with pytest.raises(mmarrow.IsDirectoryError):
        mmarrow.open(tmp_path, dtype="int8")
    with pytest.raises(mmarrow.UnsupportedError, match="object"):
        mmarrow.open(tmp_path / "x.bin", dtype=object)  # numpy object dtype: never mappable
    with pytest.raises(ValueError, match="mode"):
        mmarrow.open(tmp_path / "x.bin", dtype="int8", mode="q")
    with pytest.raises(mmarrow.NotFoundError):
        mmarrow.open_table(tmp_path / "no-table")
    with pytest.raises(IndexError):
        mmarrow.open(tmp_path / "x.bin", dtype="int8").take([10])


# --------------------------------------------------------------------------
# 10. The GIL is released while Rust works


def _other_thread_progress(work) -> int:
    """How many times the main thread runs Python code while ``work`` runs
    in another thread (0-ish if ``work`` holds the GIL)."""
    done = threading.Event()
    err = []

    def run():
        try:
            work()
        except BaseException as e:  # noqa: BLE001 - reported below
            err.append(e)
        finally:
            done.set()

    th = threading.Thread(target=run)
    ticks = 0
    th.start()
    time.sleep(0.01)
    while not done.is_set():
        ticks += 1
        time.sleep(0)
    th.join()
    assert not err, err
    return ticks


def test_gil_is_released_in_conversions_and_take(tmp_path):
    x = np.random.default_rng(0).standard_normal((400_000, 64)).astype(np.float32)  # 100 MB
    mmarrow.save(tmp_path / "x.npy", x)
    t0 = time.perf_counter()
    ticks = _other_thread_progress(lambda: mmarrow.to_parquet(tmp_path / "x.npy", tmp_path / "x.parquet",
                                                              compression="zstd:3", threads=1))
    spent = time.perf_counter() - t0
    assert spent > 0.05 and ticks > 50, (spent, ticks)
    a = mmarrow.open(tmp_path / "x.npy")
    idx = np.random.default_rng(1).integers(0, len(a), 1_500_000)
    ticks = _other_thread_progress(lambda: a.take(idx))
    assert ticks > 20, ticks
    assert np.array_equal(a.take(idx[:1000]), x[idx[:1000]])


def test_package_layout():
    import importlib.resources as r

    files = {p.name for p in r.files("mmarrow").iterdir()}
    assert {"__init__.py", "py.typed", "_native.pyi", "exceptions.py"} <= files
    assert mmarrow._native.__name__ == "mmarrow._native"
    assert mmarrow.__version__ == "0.1.0"


@pytest.mark.parametrize("module", ["mmarrow", "mmarrow.exceptions", "mmarrow._polars"])
def test_docstring_examples_run(module, tmp_path, monkeypatch):
    import doctest
    import importlib

    monkeypatch.chdir(tmp_path)
    m = importlib.import_module(module)
    failed, attempted = doctest.testmod(m, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert attempted > 0 and failed == 0
