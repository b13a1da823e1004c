"""``mmarrow to-parquet`` / ``from-parquet`` / ``convert`` against real readers and writers.

Sources are made by numpy (``np.save``, and ``np.memmap`` + ``mmarrow describe``);
the Parquet and Arrow IPC files mmarrow writes are read back by pyarrow, polars and
DuckDB, and files written by pyarrow, polars and DuckDB are converted back by
mmarrow and compared with numpy. Values are compared as bytes wherever the types
allow it (floats as bits, so a wrong offset or a byte-swap shows), and as
datetimes where a unit legitimately changes (Parquet has no seconds unit).

Sections:

1. array file -> Parquet: every supported dtype, 1-D and N-D, fast path and
   ``--generic``, several row groups and pages, every codec;
2. Parquet written by pyarrow / polars / DuckDB -> array file (.npy and raw);
3. ``--column`` and the refusals (exit 2, one line, no DST or temporary left);
4. Arrow IPC both ways (``.arrow``, ``.feather``).
"""

from __future__ import annotations

import json
import math
import os
import shutil
from pathlib import Path

import duckdb
import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.feather as feather
import pyarrow.ipc as ipc
import pyarrow.parquet as pq
import pytest

from conftest import assert_cli_error, dtype_id, leftovers, run_ok, sample_array, sidecar_path

# --------------------------------------------------------------------------
# Data

# The dtypes of the task: every dtype mmarrow converts (|V4 and the other
# timedelta units are left to test_numpy_interop).
CONVERT_DTYPES = [
    "|b1",
    "|i1", "<i2", "<i4", "<i8",
    "|u1", "<u2", "<u4", "<u8",
    "<f2", "<f4", "<f8",
    "<c8", "<c16",
    "<M8[s]", "<M8[ms]", "<M8[us]", "<M8[ns]",
    "<m8[ns]",
    "|S7",
]  # fmt: skip

# Written by the page-level fast path (docs of ``to_parquet``): little-endian
# fixed-width types whose Parquet PLAIN encoding is the mapped bytes, and
# tensors and complex numbers of those. Not: bool (INT32 storage), 8/16-bit
# ints (INT32), datetime64[s] (no seconds unit in Parquet).
FAST_DTYPES = {
    "<i4", "<i8", "<u4", "<u8", "<f2", "<f4", "<f8", "<c8", "<c16",
    "<M8[ms]", "<M8[us]", "<M8[ns]", "<m8[ns]", "|S7",
}  # fmt: skip

N = 50  # rows: with --row-group-size 7, 8 row groups (the last one short)
SMALL_RG = 7
SHAPES = {"1d": (N,), "2d": (N, 8), "3d": (N, 2, 3)}
CODECS = ["zstd", "snappy", "none", "lz4", "gzip"]
# The codec of the column chunks, as DuckDB's parquet_metadata() names it
# (pyarrow's metadata calls LZ4_RAW "LZ4", so it cannot tell the two apart).
CODEC_NAMES = {
    "zstd": "ZSTD",
    "zstd:3": "ZSTD",
    "snappy": "SNAPPY",
    "none": "UNCOMPRESSED",
    "lz4": "LZ4_RAW",
    "gzip": "GZIP",
    "gzip:9": "GZIP",
}
UNITS_PER_SECOND = {"s": 1, "ms": 10**3, "us": 10**6, "ns": 10**9}


def interop_array(dtype, shape, seed: int = 0) -> np.ndarray:
    """An array every reader can compare: integers, bools and byte strings are
    random bytes (every bit significant, full range); floats and complex
    numbers finite random values (sums and equality are meaningful);
    datetimes within +/- 95 years of the epoch, in their own unit (no NaT)."""
    d = np.dtype(dtype)
    n = int(np.prod(shape, dtype=np.int64))
    rng = np.random.default_rng(seed)
    if d.kind in "biuS":
        return sample_array(d, shape, seed)
    if d.kind == "f":
        return (rng.standard_normal(n) * 1000).astype(d).reshape(shape)
    if d.kind == "c":
        z = rng.standard_normal(n) * 1000 + 1j * rng.standard_normal(n) * 1000
        return z.astype(d).reshape(shape)
    if d.kind == "M":
        span = 3 * 10**9 * UNITS_PER_SECOND[np.datetime_data(d)[0]]
        return rng.integers(-span, span, size=n, dtype=np.int64).view(d).reshape(shape)
    if d.kind == "m":
        return rng.integers(-(10**15), 10**15, size=n, dtype=np.int64).view(d).reshape(shape)
    raise AssertionError(f"no test data for {d}")


def save_source(mm, tmp_path: Path, array: np.ndarray, how: str, stem: str = "src") -> Path:
    """The array as numpy writes it: ``np.save`` (``how='npy'``) or a
    ``np.memmap`` file described by ``mmarrow describe`` (``how='raw'``)."""
    if how == "npy":
        path = tmp_path / f"{stem}.npy"
        np.save(path, array)
        return path
    path = tmp_path / f"{stem}.bin"
    m = np.memmap(path, dtype=array.dtype, mode="w+", shape=array.shape)
    m[...] = array
    m.flush()
    del m
    mm.describe(path, array.dtype, array.shape)
    return path


def assert_no_output(dst: Path, *, existed: bool = False):
    """After a failed conversion: no temporary file, and (unless ``dst``
    existed before) no ``dst`` and no sidecar of it."""
    assert leftovers(dst) == [], f"temporary files left: {leftovers(dst)}"
    if not existed:
        assert not dst.exists(), f"{dst} was created by a failing conversion"
        assert not sidecar_path(dst).exists(), f"{sidecar_path(dst)} was created by a failing conversion"


# --------------------------------------------------------------------------
# Reading Arrow columns back as numpy


def expected_leaf(src: np.ndarray) -> np.ndarray:
    """The source as Arrow's leaf values: complex numbers as (real, imaginary)
    pairs of floats in a trailing axis, bools as int8 0/1."""
    d = src.dtype
    if d.kind == "c":
        f = np.dtype(f"<f{d.itemsize // 2}")
        return src.view(f).reshape(src.shape + (2,))
    if d.kind == "b":
        return src.view(np.int8)
    return src


def leaf_to_numpy(values: pa.Array) -> np.ndarray:
    """Leaf values (no nulls) as numpy, exactly: fixed-size binaries from
    their data buffer, bool8 as its int8 storage."""
    assert values.null_count == 0, f"unexpected nulls in {values.type}"
    if isinstance(values, pa.ExtensionArray):
        values = values.storage
    if pa.types.is_fixed_size_binary(values.type):
        w = values.type.byte_width
        return np.frombuffer(values.buffers()[1], dtype=f"S{w}", count=len(values), offset=values.offset * w)
    return values.to_numpy(zero_copy_only=False)


def arrow_to_numpy(column) -> tuple[np.ndarray, tuple]:
    """A column (chunked or not) of a fixed-shape tensor, fixed-size lists
    (nested or not) or scalars as one numpy array of shape (rows, ...), and
    the row shape the Arrow type declares."""
    arr = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
    n = len(arr)
    t = arr.type
    if isinstance(t, pa.FixedShapeTensorType):
        row_shape = tuple(t.shape)
        if pa.types.is_integer(t.value_type) or pa.types.is_floating(t.value_type):
            # pyarrow's own tensor conversion, where it supports the value type.
            out = arr.to_numpy_ndarray()
            assert out.shape == (n, *row_shape), (out.shape, n, row_shape)
            return out, row_shape
        arr = arr.storage
    elif isinstance(arr, pa.ExtensionArray):
        return leaf_to_numpy(arr), ()
    row_shape = []
    while pa.types.is_fixed_size_list(arr.type):
        row_shape.append(arr.type.list_size)
        arr = arr.flatten()
    if isinstance(t, pa.FixedShapeTensorType):
        row_shape = list(t.shape)
    values = leaf_to_numpy(arr)
    return values.reshape((n, *row_shape)), tuple(row_shape)


def expected_value_type(d: np.dtype) -> list:
    """The Arrow type(s) a reader may give the elements of dtype ``d``
    (FORMAT.md §1.2)."""
    if d.kind == "b":
        return [pa.bool8(), pa.int8()]  # a tensor's value type cannot be an extension
    if d.kind == "c":
        return [pa.float32() if d.itemsize == 8 else pa.float64()]
    if d.kind == "M":
        unit = np.datetime_data(d)[0]
        # Parquet has no seconds: a reader may give milliseconds.
        return [pa.timestamp("s"), pa.timestamp("ms")] if unit == "s" else [pa.timestamp(unit)]
    if d.kind == "m":
        return [pa.duration(np.datetime_data(d)[0])]
    if d.kind == "S":
        return [pa.binary(d.itemsize)]
    return [pa.from_numpy_dtype(d)]


def assert_arrow_matches(column, src: np.ndarray, what: str = ""):
    """An Arrow column read by pyarrow holds exactly ``src``: its type is the
    documented one (1-D: the element type; complex 1-D: FixedSizeList of 2
    floats; N-D: ``arrow.fixed_shape_tensor`` of the row shape, with a
    trailing 2 for complex) and its values are the source's."""
    d = src.dtype
    t = column.type
    allowed = expected_value_type(d)
    row_shape = src.shape[1:]
    if src.ndim == 1 and d.kind == "c":
        assert t == pa.list_(allowed[0], 2), f"{what}: complex 1-D is {t}"
    elif src.ndim == 1:
        if d.kind == "b":
            assert t == pa.bool8(), f"{what}: bool 1-D is {t}"
        else:
            assert t in allowed, f"{what}: {d} 1-D is {t}, expected one of {allowed}"
    else:
        assert isinstance(t, pa.FixedShapeTensorType), f"{what}: {d} {src.shape} is {t}, not a fixed_shape_tensor"
        want_shape = list(row_shape) + ([2] if d.kind == "c" else [])
        assert list(t.shape) == want_shape, f"{what}: tensor shape {t.shape}, expected {want_shape}"
        assert t.value_type in allowed, f"{what}: tensor value type {t.value_type}, expected one of {allowed}"
    got, _ = arrow_to_numpy(column)
    want = expected_leaf(src)
    assert got.shape == want.shape, f"{what}: shape {got.shape}, expected {want.shape}"
    if d.kind == "M" and np.datetime_data(d)[0] == "s":
        assert got.dtype.kind == "M", f"{what}: datetime64[s] came back as {got.dtype}, not as datetimes"
        assert np.array_equal(got.astype("<M8[ms]"), want.astype("<M8[ms]")), f"{what}: datetimes differ"
        return
    assert got.dtype == want.dtype, f"{what}: numpy dtype {got.dtype}, expected {want.dtype}"
    assert got.tobytes() == want.tobytes(), f"{what}: values differ"


# --------------------------------------------------------------------------
# polars and DuckDB


def check_polars(path: Path, src: np.ndarray, name: str):
    """polars reads the file; 1-D numbers and datetimes and float32 tensors
    are compared value by value."""
    df = pl.read_parquet(path)
    assert df.columns == [name], df.columns
    assert df.height == len(src)
    s = df[name]
    d = src.dtype
    if src.ndim > 1 or d.kind == "c":
        storage = s.ext.storage() if isinstance(s.dtype, pl.Extension) else s
        assert isinstance(storage.dtype, pl.Array), f"polars reads {d} {src.shape} as {s.dtype}"
        width = int(np.prod(expected_leaf(src).shape[1:]))
        assert int(np.prod(storage.dtype.shape)) == width, (
            f"polars Array {storage.dtype} does not hold {width} values per row"
        )
        if d == np.float32:
            got = storage.to_numpy().reshape(src.shape)
            assert got.dtype == np.float32
            assert got.tobytes() == src.tobytes(), "polars reads other float32 values"
        return
    if d.kind in "iuf":
        got = s.to_numpy()
        assert got.dtype == d, f"polars reads {d} as {got.dtype}"
        assert got.tobytes() == src.tobytes(), "polars reads other values"
    elif d.kind == "M":
        assert isinstance(s.dtype, pl.Datetime), f"polars reads {d} as {s.dtype}"
        got = s.to_numpy()
        assert np.array_equal(got.astype("<M8[ms]"), src.astype("<M8[ms]")), "polars reads other datetimes"


def duckdb_one(sql: str, *params):
    con = duckdb.connect()
    try:
        return con.execute(sql, list(params)).fetchone()
    finally:
        con.close()


def check_duckdb(path: Path, src: np.ndarray, name: str):
    """DuckDB counts the rows and sums the values as numpy does (lists with
    ``list_sum``; datetimes as ``epoch_ns``; byte strings by length)."""
    d = src.dtype
    listy = src.ndim > 1 or d.kind == "c"
    col = f'"{name}"'
    (typ,) = duckdb_one(f"SELECT typeof({col}) FROM read_parquet(?) LIMIT 1", str(path))
    base = typ[:-2] if listy and typ.endswith("[]") else typ
    if listy:
        assert typ.endswith("]"), f"DuckDB reads {d} {src.shape} as {typ}, not a list"

    def agg(expr_of_value: str) -> str:
        if listy:
            return f"sum(list_sum(list_transform({col}, lambda v: {expr_of_value.format('v')})))"
        return f"sum({expr_of_value.format(col)})"

    if d.kind in "biu":
        expr, want = agg("{}"), int(src.astype(object).sum())
    elif d.kind in "fc":
        expr = agg("{}")
        leaf = expected_leaf(src).astype(np.float64)
        want = float(leaf.sum())
        tol = 1e-6 * float(np.abs(leaf).sum())
    elif d.kind == "M":
        assert base.startswith("TIMESTAMP"), f"DuckDB reads {d} as {typ}, not as a timestamp"
        expr, want = agg("epoch_ns({})"), int(src.astype("<M8[ns]").view(np.int64).astype(object).sum())
    elif d.kind == "m":
        # Parquet has no duration type: the INT64 values.
        assert base in ("BIGINT", "INTERVAL"), f"DuckDB reads {d} as {typ}"
        unit_ns = 10**9 // UNITS_PER_SECOND[np.datetime_data(d)[0]]
        if base == "BIGINT":
            expr, want = agg("{}"), int(src.view(np.int64).astype(object).sum())
        else:
            expr, want = agg("epoch_ns({})"), int(src.view(np.int64).astype(object).sum()) * unit_ns
    elif d.kind == "S":
        assert base == "BLOB", f"DuckDB reads {d} as {typ}"
        expr, want = agg("octet_length({})"), src.size * d.itemsize
    else:
        raise AssertionError(d)
    count, got = duckdb_one(f"SELECT count(*), {expr} FROM read_parquet(?)", str(path))
    assert count == len(src), f"DuckDB counts {count} rows, numpy has {len(src)}"
    if d.kind in "fc":
        assert math.isclose(float(got), want, rel_tol=0, abs_tol=tol), f"DuckDB sum {got}, numpy {want}"
    else:
        assert int(got) == want, f"DuckDB sum {got}, numpy {want}"


# --------------------------------------------------------------------------
# 1. array file -> Parquet, read by pyarrow, polars and DuckDB


@pytest.mark.parametrize("how", ["npy", "raw"])
@pytest.mark.parametrize("shape_id", list(SHAPES))
@pytest.mark.parametrize("dtype", CONVERT_DTYPES, ids=dtype_id)
def test_to_parquet_every_dtype(mm, tmp_path, dtype, shape_id, how):
    """zstd (the default), fast path and ``--generic``, one row group and
    several: pyarrow reads the source's values and types, both paths decode to
    identical tables, polars and DuckDB agree with numpy."""
    src = interop_array(dtype, SHAPES[shape_id], seed=len(dtype) + len(shape_id))
    path = save_source(mm, tmp_path, src, how)
    fast, generic, groups = (tmp_path / f"{k}.parquet" for k in ("fast", "generic", "groups"))
    out_fast = run_ok(mm, "to-parquet", path, fast, "-q")
    out_generic = run_ok(mm, "to-parquet", path, generic, "--generic", "-q")
    run_ok(mm, "to-parquet", path, groups, "--row-group-size", SMALL_RG, "-q")

    # The fast path is used exactly where the documentation says, never with --generic.
    assert ("fast path" in out_fast) == (dtype in FAST_DTYPES), out_fast
    assert "fast path" not in out_generic, out_generic

    tables = {}
    for p in (fast, generic, groups):
        pf = pq.ParquetFile(p)
        assert pf.metadata.num_rows == N
        assert pf.metadata.row_group(0).column(0).compression == "ZSTD"
        tables[p] = pq.read_table(p)
        assert tables[p].column_names == ["src"]
        assert_arrow_matches(tables[p].column(0), src, p.name)
    assert pq.ParquetFile(fast).metadata.num_row_groups == 1
    assert pq.ParquetFile(groups).metadata.num_row_groups == math.ceil(N / SMALL_RG)

    # Fast path and generic writer: the same table, the same Arrow schema.
    assert tables[fast].schema.equals(tables[generic].schema, check_metadata=True)
    assert tables[fast].equals(tables[generic])
    assert tables[groups].equals(tables[fast])

    check_polars(groups, src, "src")
    check_duckdb(groups, src, "src")


def _codec_arrays():
    return {
        "f4-2d": interop_array("<f4", (N, 8), seed=1),
        "f4-3d": interop_array("<f4", (N, 2, 3), seed=2),
        "i8-1d": interop_array("<i8", (N,), seed=3),
    }


@pytest.mark.parametrize("array_id", ["f4-2d", "f4-3d", "i8-1d"])
@pytest.mark.parametrize("codec", CODECS + ["zstd:3", "gzip:9"])
def test_to_parquet_every_codec(mm, tmp_path, codec, array_id):
    """Each codec, fast path and ``--generic``, several row groups: the
    column chunks say the codec, and pyarrow, polars and DuckDB read the values."""
    src = _codec_arrays()[array_id]
    path = save_source(mm, tmp_path, src, "npy" if array_id != "f4-3d" else "raw")
    fast, generic = tmp_path / "fast.parquet", tmp_path / "generic.parquet"
    common = ["--compression", codec, "--row-group-size", SMALL_RG, "-q"]
    assert "fast path" in run_ok(mm, "to-parquet", path, fast, *common)
    run_ok(mm, "to-parquet", path, generic, "--generic", *common)
    tables = []
    for p in (fast, generic):
        md = pq.ParquetFile(p).metadata
        assert md.num_row_groups == math.ceil(N / SMALL_RG)
        con = duckdb.connect()
        try:
            rows = con.execute("SELECT DISTINCT compression FROM parquet_metadata(?)", [str(p)]).fetchall()
        finally:
            con.close()
        assert {r[0] for r in rows} == {CODEC_NAMES[codec]}, f"{p.name}: {rows}"
        t = pq.read_table(p)
        assert_arrow_matches(t.column(0), src, p.name)
        tables.append(t)
    assert tables[0].equals(tables[1])
    check_polars(fast, src, "src")
    check_duckdb(fast, src, "src")


def test_to_parquet_several_pages_per_row_group(mm, tmp_path):
    """A row group larger than a data page (1 MiB): the fast path's pages
    (and its repetition levels, continued page after page) read back exactly."""
    src = interop_array("<f4", (20_000, 5, 3), seed=7)  # 1.2 MB
    path = save_source(mm, tmp_path, src, "npy")
    fast, generic = tmp_path / "fast.parquet", tmp_path / "generic.parquet"
    assert "fast path" in run_ok(mm, "to-parquet", path, fast, "--compression", "snappy", "-q")
    run_ok(mm, "to-parquet", path, generic, "--compression", "snappy", "--generic", "-q")
    md = pq.ParquetFile(fast).metadata
    assert md.num_row_groups == 1
    assert md.row_group(0).column(0).total_uncompressed_size > 1 << 20  # more than one page
    t = pq.read_table(fast)
    assert_arrow_matches(t.column(0), src)
    assert t.equals(pq.read_table(generic))
    check_duckdb(fast, src, "src")


def after_round_trip(src: np.ndarray, via: str = "parquet") -> np.ndarray:
    """What an array file made from mmarrow's own Parquet or IPC holds.

    Arrow has no complex type: a complex array is written as FixedSizeList of
    2 floats (a tensor with a trailing 2), with nothing marking it complex, so
    it comes back as those floats. A bool tensor's value type is int8 (the
    tensor extension cannot wrap ``arrow.bool8``), so it comes back as int8
    0/1. Everything else comes back as it was."""
    if src.dtype.kind == "c" or (src.dtype.kind == "b" and src.ndim > 1):
        return expected_leaf(src)
    if via == "parquet" and src.dtype == np.dtype("<M8[s]"):
        # Parquet has no seconds unit: mmarrow stores milliseconds, as pyarrow does.
        return src.astype("<M8[ms]")
    return src


@pytest.mark.parametrize("dtype", CONVERT_DTYPES, ids=dtype_id)
@pytest.mark.parametrize("shape_id", ["1d", "3d"])
def test_parquet_round_trip(mm, tmp_path, dtype, shape_id):
    """mmarrow's own Parquet converts back to the same bytes, dtype and shape
    (complex and bool tensors: their Arrow form, see ``after_round_trip``)."""
    src = interop_array(dtype, SHAPES[shape_id], seed=11)
    path = save_source(mm, tmp_path, src, "npy")
    pqf, back = tmp_path / "x.parquet", tmp_path / "back.npy"
    run_ok(mm, "to-parquet", path, pqf, "--row-group-size", SMALL_RG, "-q")
    run_ok(mm, "from-parquet", pqf, back, "-q")
    want = after_round_trip(src)
    got = np.load(back)
    assert (got.dtype, got.shape) == (want.dtype, want.shape)
    assert got.tobytes() == want.tobytes()


# --------------------------------------------------------------------------
# 2. Parquet written by pyarrow, polars and DuckDB -> array files


def pyarrow_column(kind: str, n: int) -> tuple[pa.Array, np.ndarray]:
    """A pyarrow column of ``kind`` and the numpy array mmarrow should make of it."""
    if kind == "tensor_f32":
        a = interop_array("<f4", (n, 2, 4), seed=21)
        return pa.FixedShapeTensorArray.from_numpy_ndarray(a), a
    if kind == "list_f32_8":
        a = interop_array("<f4", (n, 8), seed=22)
        return pa.FixedSizeListArray.from_arrays(pa.array(a.ravel()), 8), a
    if kind == "f64":
        a = interop_array("<f8", (n,), seed=23)
        return pa.array(a), a
    if kind == "i32":
        # Few distinct values, so that dictionary encoding really is used.
        a = np.random.default_rng(24).integers(-5, 5, size=n, dtype=np.int32)
        return pa.array(a), a
    raise AssertionError(kind)


def check_array_file(dst: Path, want: np.ndarray, name: str):
    """``dst`` (.npy, or raw + sidecar) holds ``want``; a raw file's sidecar
    is FORMAT.md's and numpy's ten-line reader reads it."""
    if dst.suffix == ".npy":
        got = np.load(dst)
        assert not sidecar_path(dst).exists()
    else:
        meta = json.loads(sidecar_path(dst).read_text())
        assert meta["format"] == "mmarrow.array" and meta["version"] == 1, meta
        assert meta["dtype"] == want.dtype.str, meta
        assert meta["shape"] == list(want.shape), meta
        assert meta.get("order", "C") == "C" and meta.get("offset", 0) == 0, meta
        # The column's name, unless the file's stem already gives it (FORMAT.md §1.1).
        assert meta.get("name", dst.name.split(".")[0]) == name, meta
        got = np.memmap(dst, dtype=np.dtype(meta["dtype"]), mode="r", offset=meta.get("offset", 0),
                        shape=tuple(meta["shape"]), order=meta.get("order", "C"))  # fmt: skip
        assert dst.stat().st_size == want.nbytes + meta.get("offset", 0)
    assert (got.dtype, got.shape) == (want.dtype, want.shape)
    assert got.tobytes() == want.tobytes()


@pytest.mark.parametrize("page_version", ["1.0", "2.0"])
@pytest.mark.parametrize("dictionary", ["plain", "dict", "fallback"])
@pytest.mark.parametrize("compression", ["snappy", "zstd", "none"])
@pytest.mark.parametrize("kind", ["tensor_f32", "list_f32_8", "f64", "i32"])
def test_from_parquet_written_by_pyarrow(mm, tmp_path, kind, compression, dictionary, page_version):
    """pyarrow's Parquet (several row groups and small data pages; plain,
    dictionary-encoded, or a dictionary that overflows into plain pages
    mid-chunk) converts to .npy and raw + sidecar equal to numpy's array,
    fast and ``--generic``. v1 and v2 pages of fixed-size columns take the
    page-level reader, dictionary pages included."""
    n = 300
    col, want = pyarrow_column(kind, n)
    src = tmp_path / "py.parquet"
    pq.write_table(
        pa.table({kind: col}),
        src,
        compression=compression,
        use_dictionary=dictionary != "plain",
        dictionary_pagesize_limit=256 if dictionary == "fallback" else 1 << 20,
        data_page_version=page_version,
        row_group_size=64,
        data_page_size=512,
    )
    md = pq.ParquetFile(src).metadata
    assert md.num_row_groups == math.ceil(n / 64)
    encodings = md.row_group(0).column(0).encodings
    dict_used = any("DICTIONARY" in e for e in encodings)
    assert dict_used == (dictionary != "plain"), encodings
    for dst, extra in (
        (tmp_path / "out.npy", []),
        (tmp_path / "out.f", []),
        (tmp_path / "generic.npy", ["--generic"]),
    ):
        out = run_ok(mm, "from-parquet", src, dst, "-q", *extra)
        assert f"{n} rows" in out, out
        # v1 and v2 data pages alike take the page-level reader.
        page_level = not extra
        assert out.rstrip().endswith("fast path") == page_level, out
        check_array_file(dst, want, kind)


def test_from_parquet_parallel_generic_decode(mm, tmp_path):
    """Row groups that need the generic reader (v2 pages, here) decoded on
    several threads at once, run after run: every run succeeds with the
    right values. (Each run fails with a probability of a few percent when
    the threads share one file offset.)"""
    a = np.arange(1200 * 8, dtype=np.float32).reshape(1200, 8)
    src = tmp_path / "v2.parquet"
    pq.write_table(
        pa.table({"v": pa.FixedSizeListArray.from_arrays(pa.array(a.ravel()), 8)}),
        src,
        compression="none",
        use_dictionary=False,
        data_page_version="2.0",
        row_group_size=50,
        data_page_size=512,
    )
    failures = []
    runs = 50
    for i in range(runs):
        dst = tmp_path / f"run{i}.npy"
        proc = mm.cli("from-parquet", src, dst, "--threads", 8, "-q")
        if proc.returncode != 0:
            failures.append(proc.stderr.strip())
        elif np.load(dst).tobytes() != a.tobytes():
            failures.append(f"run {i}: wrong values")
        dst.unlink(missing_ok=True)
    assert failures == [], f"{len(failures)} of {runs} runs failed, e.g. {failures[0]}"


@pytest.mark.parametrize("shape", [(120, 8), (120, 2, 3)], ids=["2d", "3d"])
def test_from_parquet_written_by_polars(mm, tmp_path, shape):
    """polars' Array column (nested for 3-D) converts to the array's shape."""
    a = interop_array("<f4", shape, seed=31)
    src = tmp_path / "pl.parquet"
    df = pl.DataFrame({"x": a})
    assert isinstance(df["x"].dtype, pl.Array)
    df.write_parquet(src, row_group_size=25)
    for dst in (tmp_path / "x.npy", tmp_path / "x.raw"):
        run_ok(mm, "from-parquet", src, dst, "-q")
        check_array_file(dst, a, "x")


def test_from_parquet_written_by_duckdb(mm, tmp_path):
    """DuckDB's FLOAT[] (a variable-length list) of rows of equal length
    converts to an (n, 8) float32 array, across several row groups."""
    n = 5000
    src = tmp_path / "duck.parquet"
    con = duckdb.connect()
    try:
        con.execute(
            f"COPY (SELECT i::INTEGER AS id, "
            f"list_transform(range(8), lambda j: ((i * 8 + j) / 7.0)::FLOAT)::FLOAT[] AS v "
            f"FROM range({n}) t(i) ORDER BY i) TO '{src}' (FORMAT parquet, ROW_GROUP_SIZE 2048)"
        )
    finally:
        con.close()
    pf = pq.ParquetFile(src)
    assert pf.metadata.num_row_groups > 1
    assert pa.types.is_list(pf.schema_arrow.field("v").type)
    want = (np.arange(n * 8, dtype=np.float64) / 7.0).astype(np.float32).reshape(n, 8)
    for dst in (tmp_path / "v.npy", tmp_path / "v.raw"):
        run_ok(mm, "from-parquet", src, dst, "--column", "v", "-q")
        check_array_file(dst, want, "v")
    ids = tmp_path / "id.npy"
    run_ok(mm, "from-parquet", src, ids, "--column", "id", "-q")
    check_array_file(ids, np.arange(n, dtype=np.int32), "id")


# --------------------------------------------------------------------------
# 3. --column and refusals


@pytest.fixture
def wide_parquet(tmp_path) -> tuple[Path, dict]:
    """A pyarrow file of several columns, some of which no array file can
    hold. Nulls appear in the last row group only, so that a conversion has
    already written rows when it meets them."""
    n = 90
    emb = interop_array("<f4", (n, 2, 3), seed=41)
    vec = interop_array("<f8", (n, 4), seed=42)
    ids = np.arange(n, dtype=np.int64) * 3
    holes = np.arange(n, dtype=np.float64)
    holes_mask = np.zeros(n, dtype=bool)
    holes_mask[-3:] = True
    null_rows = pa.FixedSizeListArray.from_arrays(pa.array(vec.ravel()), 4, mask=pa.array(holes_mask))
    null_items = pa.FixedSizeListArray.from_arrays(
        pa.array(vec.ravel(), mask=np.repeat(holes_mask, 4) & (np.arange(n * 4) % 4 == 1)), 4
    )
    table = pa.table(
        {
            "id": ids,
            "emb": pa.FixedShapeTensorArray.from_numpy_ndarray(emb),
            "vec": pa.FixedSizeListArray.from_arrays(pa.array(vec.ravel()), 4),
            "name": pa.array([f"row{i}" for i in range(n)]),
            "holes": pa.array(holes, mask=holes_mask),
            "null_rows": null_rows,
            "null_items": null_items,
        }
    )
    path = tmp_path / "wide.parquet"
    pq.write_table(table, path, row_group_size=30)
    return path, {"id": ids, "emb": emb, "vec": vec}


@pytest.mark.parametrize("column", ["id", "emb", "vec"])
def test_column_picks_one_column(mm, tmp_path, wide_parquet, column):
    src, arrays = wide_parquet
    for dst in (tmp_path / f"{column}.npy", tmp_path / f"{column}.raw"):
        run_ok(mm, "from-parquet", src, dst, "--column", column, "-q")
        check_array_file(dst, arrays[column], column)


def test_multi_column_needs_column(mm, tmp_path, wide_parquet):
    src, _ = wide_parquet
    dst = tmp_path / "x.npy"
    proc = mm.cli("from-parquet", src, dst, "-q")
    assert_cli_error(proc, src, "id", "emb", "vec", "name", "holes", "--column")
    assert_no_output(dst)


def test_unknown_column(mm, tmp_path, wide_parquet):
    src, _ = wide_parquet
    dst = tmp_path / "x.npy"
    proc = mm.cli("from-parquet", src, dst, "--column", "nope", "-q")
    assert_cli_error(proc, src, "nope", "emb")
    assert_no_output(dst)


@pytest.mark.parametrize("column", ["holes", "null_rows", "null_items"])
@pytest.mark.parametrize("ext", ["npy", "raw"])
def test_column_with_nulls_is_refused(mm, tmp_path, wide_parquet, column, ext):
    """Nulls (in the last row group) are refused, after rows were written: no
    DST and no temporary file remain."""
    src, _ = wide_parquet
    dst = tmp_path / f"x.{ext}"
    proc = mm.cli("from-parquet", src, dst, "--column", column, "-q")
    assert_cli_error(proc, src, "null", column)
    assert_no_output(dst)


def test_string_column_is_refused(mm, tmp_path, wide_parquet):
    src, _ = wide_parquet
    dst = tmp_path / "x.npy"
    proc = mm.cli("from-parquet", src, dst, "--column", "name", "-q")
    assert_cli_error(proc, src, "name")
    assert_no_output(dst)


def test_lists_of_different_lengths_are_refused(mm, tmp_path):
    """Variable lists whose lengths change in a later row group: refused after
    the first row groups were written, nothing left behind."""
    rows = [[1.0, 2.0, 3.0]] * 40 + [[1.0, 2.0]]
    src = tmp_path / "ragged.parquet"
    pq.write_table(pa.table({"v": pa.array(rows, pa.list_(pa.float64()))}), src, row_group_size=10)
    dst = tmp_path / "v.npy"
    proc = mm.cli("from-parquet", src, dst, "-q")
    assert_cli_error(proc, src, "length")
    assert_no_output(dst)


@pytest.fixture
def good_parquet(mm, tmp_path) -> tuple[Path, np.ndarray]:
    src = interop_array("<f4", (200, 8), seed=51)
    path = save_source(mm, tmp_path, src, "npy", stem="good")
    pqf = tmp_path / "good.parquet"
    run_ok(mm, "to-parquet", path, pqf, "--row-group-size", 50, "-q")
    return pqf, src


def test_truncated_parquet_is_refused(mm, tmp_path, good_parquet):
    pqf, _ = good_parquet
    cut = tmp_path / "cut.parquet"
    data = pqf.read_bytes()
    cut.write_bytes(data[: len(data) // 2])
    dst = tmp_path / "cut.npy"
    assert_cli_error(mm.cli("from-parquet", cut, dst, "-q"), cut)
    assert_no_output(dst)


def test_corrupt_row_group_is_refused(mm, tmp_path, good_parquet):
    """Garbage in the third row group's data (footer intact): refused with
    exit 2 once the first row groups were decoded; nothing left behind."""
    pqf, _ = good_parquet
    md = pq.ParquetFile(pqf).metadata
    chunk = md.row_group(2).column(0)
    start = chunk.data_page_offset
    data = bytearray(pqf.read_bytes())
    data[start : start + chunk.total_compressed_size] = b"\xff" * chunk.total_compressed_size
    bad = tmp_path / "bad.parquet"
    bad.write_bytes(bytes(data))
    for extra in ([], ["--generic"]):
        dst = tmp_path / "bad.npy"
        proc = mm.cli("from-parquet", bad, dst, "-q", "--threads", "1", *extra)
        assert_cli_error(proc, bad)
        assert_no_output(dst)


def test_not_parquet_is_refused(mm, tmp_path):
    fake = tmp_path / "fake.parquet"
    np.save(tmp_path / "real.npy", np.arange(100, dtype=np.float64))
    shutil.copy(tmp_path / "real.npy", fake)
    dst = tmp_path / "fake.npy"
    assert_cli_error(mm.cli("from-parquet", fake, dst, "-q"), fake, "parquet")
    assert_no_output(dst)


@pytest.mark.parametrize(
    "direction", ["to-parquet", "from-parquet-npy", "from-parquet-raw", "convert-arrow"]
)
def test_existing_destination_needs_force(mm, tmp_path, good_parquet, direction):
    pqf, src = good_parquet
    npy = tmp_path / "good.npy"
    cmd, source, dst = {
        "to-parquet": ("to-parquet", npy, tmp_path / "dst.parquet"),
        "from-parquet-npy": ("from-parquet", pqf, tmp_path / "dst.npy"),
        "from-parquet-raw": ("from-parquet", pqf, tmp_path / "dst.raw"),
        "convert-arrow": ("convert", npy, tmp_path / "dst.arrow"),
    }[direction]
    dst.write_bytes(b"precious")
    before = dst.stat()
    proc = mm.cli(cmd, source, dst, "-q")
    assert_cli_error(proc, dst, "exists")
    assert dst.read_bytes() == b"precious" and dst.stat().st_mtime_ns == before.st_mtime_ns
    assert_no_output(dst, existed=True)
    assert not sidecar_path(dst).exists()
    # --force replaces only a file of the format written (or an empty one).
    if direction != "from-parquet-raw":
        proc = mm.cli(cmd, source, dst, "-q", "--force")
        assert_cli_error(proc, dst, "will not be replaced")
        assert dst.read_bytes() == b"precious"
        dst.write_bytes(b"")
    run_ok(mm, cmd, source, dst, "-q", "--force")
    if dst.suffix == ".parquet":
        assert_arrow_matches(pq.read_table(dst).column(0), src)
    elif dst.suffix == ".arrow":
        assert_arrow_matches(ipc.open_file(dst).read_all().column(0), src)
    else:
        check_array_file(dst, src, "good")
    assert leftovers(dst) == []


@pytest.mark.parametrize("direction", ["to-parquet", "from-parquet-npy", "from-parquet-raw", "convert-arrow"])
def test_destination_directory_missing(mm, tmp_path, good_parquet, direction):
    """A destination in a directory that does not exist: exit 2, and the
    message names the destination the user gave (not an internal name)."""
    pqf, _ = good_parquet
    npy = tmp_path / "good.npy"
    missing = tmp_path / "missing"
    cmd, source, dst = {
        "to-parquet": ("to-parquet", npy, missing / "dst.parquet"),
        "from-parquet-npy": ("from-parquet", pqf, missing / "dst.npy"),
        "from-parquet-raw": ("from-parquet", pqf, missing / "dst.raw"),
        "convert-arrow": ("convert", npy, missing / "dst.arrow"),
    }[direction]
    proc = mm.cli(cmd, source, dst, "-q")
    assert not missing.exists()
    line = assert_cli_error(proc, None)
    assert str(dst) in line or str(missing) in line, f"the error does not name the destination: {line}"
    assert ".tmp-" not in line, f"the error names an internal temporary file: {line}"


def test_destination_directory_not_writable(mm, tmp_path, good_parquet):
    """A read-only directory: exit 2 and nothing left (only checked where the
    permissions apply: root writes anyway, and then the conversion must work)."""
    pqf, src = good_parquet
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o555)
    try:
        for cmd, source, dst in (
            ("to-parquet", tmp_path / "good.npy", ro / "x.parquet"),
            ("from-parquet", pqf, ro / "x.npy"),
        ):
            proc = mm.cli(cmd, source, dst, "-q")
            if os.access(ro, os.W_OK):  # root: permissions do not apply
                mm.ok(proc)
                assert leftovers(dst) == []
            else:
                assert_cli_error(proc, None)
                assert_no_output(dst)
    finally:
        ro.chmod(0o755)


@pytest.mark.parametrize("cmd", ["to-parquet", "convert"])
@pytest.mark.parametrize("codec,words", [("brotli", ["brotli"]), ("zstd:99", ["zstd:99", "level"])])
def test_bad_compression_is_refused(mm, tmp_path, good_parquet, cmd, codec, words):
    dst = tmp_path / "x.parquet"
    proc = mm.cli(cmd, tmp_path / "good.npy", dst, "--compression", codec, "-q")
    assert_cli_error(proc, None, *words)
    assert_no_output(dst)


def test_zero_row_group_size_is_refused(mm, tmp_path, good_parquet):
    dst = tmp_path / "x.parquet"
    assert_cli_error(mm.cli("to-parquet", tmp_path / "good.npy", dst, "--row-group-size", 0, "-q"), None, "row group")
    assert_no_output(dst)


# --------------------------------------------------------------------------
# 4. Arrow IPC

IPC_CASES = {
    "f4-3d": ("<f4", (N, 2, 3)),
    "f4-2d": ("<f4", (N, 8)),
    "i8-1d": ("<i8", (N,)),
    "u2-1d": ("<u2", (N,)),
    "f2-2d": ("<f2", (N, 8)),
    "c16-2d": ("<c16", (N, 3)),
    "c8-1d": ("<c8", (N,)),
    "b1-1d": ("|b1", (N,)),
    "M8s-1d": ("<M8[s]", (N,)),
    "M8ns-3d": ("<M8[ns]", (N, 2, 3)),
    "m8ns-1d": ("<m8[ns]", (N,)),
    "S7-2d": ("|S7", (N, 8)),
}


@pytest.mark.parametrize("ext", ["arrow", "feather"])
@pytest.mark.parametrize("case", list(IPC_CASES))
def test_convert_to_ipc(mm, tmp_path, case, ext):
    """``mmarrow convert x.npy x.arrow``: pyarrow reads the exact values with
    the tensor type intact, in record batches of --row-group-size rows; and
    the file converts back."""
    dtype, shape = IPC_CASES[case]
    src = interop_array(dtype, shape, seed=61)
    path = save_source(mm, tmp_path, src, "npy" if ext == "arrow" else "raw")
    dst = tmp_path / f"x.{ext}"
    run_ok(mm, "convert", path, dst, "--row-group-size", SMALL_RG, "-q")
    reader = ipc.open_file(dst)
    assert reader.num_record_batches == math.ceil(N / SMALL_RG)
    table = reader.read_all()
    assert table.column_names == ["src"]
    if np.dtype(dtype) == np.dtype("<M8[s]"):
        assert table.column(0).type == pa.timestamp("s")  # IPC, unlike Parquet, has seconds
    assert_arrow_matches(table.column(0), src)
    if ext == "feather":
        assert feather.read_table(dst).equals(table)
    back = tmp_path / "back.npy"
    run_ok(mm, "convert", dst, back, "-q")
    want = after_round_trip(src, via="ipc")
    got = np.load(back)
    assert (got.dtype, got.shape) == (want.dtype, want.shape)
    assert got.tobytes() == want.tobytes()


def _pyarrow_ipc_table(n: int) -> tuple[pa.Table, dict]:
    emb = interop_array("<f4", (n, 2, 4), seed=71)
    vec = interop_array("<f8", (n, 3), seed=72)
    ts = interop_array("<M8[us]", (n,), seed=73)
    ids = interop_array("<i4", (n,), seed=74)
    table = pa.table(
        {
            "emb": pa.FixedShapeTensorArray.from_numpy_ndarray(emb),
            "vec": pa.FixedSizeListArray.from_arrays(pa.array(vec.ravel()), 3),
            "ts": pa.array(ts),
            "ids": pa.array(ids),
        }
    )
    return table, {"emb": emb, "vec": vec, "ts": ts, "ids": ids}


@pytest.mark.parametrize("column", ["emb", "vec", "ts", "ids"])
@pytest.mark.parametrize("writer", ["ipc-file", "feather-uncompressed"])
def test_convert_from_pyarrow_ipc(mm, tmp_path, writer, column):
    """A pyarrow-written IPC file (several batches) converts to .npy and raw."""
    n = 100
    table, arrays = _pyarrow_ipc_table(n)
    table = table.select([column])
    if writer == "ipc-file":
        src = tmp_path / "y.arrow"
        with ipc.new_file(src, table.schema) as w:
            for batch in table.to_batches(max_chunksize=30):
                w.write_batch(batch)
        assert ipc.open_file(src).num_record_batches == 4
    else:
        src = tmp_path / "y.feather"
        feather.write_feather(table, src, compression="uncompressed", chunksize=30)
    for dst in (tmp_path / "y.npy", tmp_path / "y.raw"):
        run_ok(mm, "convert", src, dst, "-q")
        check_array_file(dst, arrays[column], column)


def test_convert_from_ipc_column_and_refusals(mm, tmp_path):
    n = 40
    table, arrays = _pyarrow_ipc_table(n)
    table = table.append_column("name", pa.array([str(i) for i in range(n)]))
    src = tmp_path / "wide.arrow"
    with ipc.new_file(src, table.schema) as w:
        w.write_table(table)
    dst = tmp_path / "emb.npy"
    run_ok(mm, "convert", src, dst, "--column", "emb", "-q")
    check_array_file(dst, arrays["emb"], "emb")
    dst = tmp_path / "x.npy"
    assert_cli_error(mm.cli("convert", src, dst, "-q"), src, "emb", "vec", "ts", "ids", "name")
    assert_no_output(dst)
    assert_cli_error(mm.cli("convert", src, dst, "--column", "name", "-q"), src, "name")
    assert_no_output(dst)
    cut = tmp_path / "cut.arrow"
    cut.write_bytes(src.read_bytes()[: src.stat().st_size // 2])
    assert_cli_error(mm.cli("convert", cut, dst, "-q"), cut)
    assert_no_output(dst)


def test_convert_from_default_feather(mm, tmp_path):
    """pyarrow's default feather (LZ4-compressed buffers) converts like an
    uncompressed one."""
    a = interop_array("<f4", (100, 8), seed=81)
    src = tmp_path / "z.feather"
    feather.write_feather(pa.table({"z": pa.FixedSizeListArray.from_arrays(pa.array(a.ravel()), 8)}), src)
    dst = tmp_path / "z.npy"
    proc = mm.cli("convert", src, dst, "-q")
    assert_no_output(dst, existed=proc.returncode == 0)
    mm.ok(proc)
    check_array_file(dst, a, "z")


def test_convert_refuses_parquet_to_ipc(mm, tmp_path, good_parquet):
    pqf, _ = good_parquet
    dst = tmp_path / "x.arrow"
    assert_cli_error(mm.cli("convert", pqf, dst, "-q"), dst, "no conversion")
    assert_no_output(dst)


STAT_DTYPES = ["<f4", "<f8", "<i4", "<i8", "<u4", "<u8", "<M8[ns]", "<M8[ms]", "<m8[us]"]


@pytest.mark.parametrize("codec", ["none", "zstd"])
@pytest.mark.parametrize("dtype", STAT_DTYPES, ids=dtype_id)
def test_row_group_statistics_of_flat_columns(mm, tmp_path, dtype, codec):
    """1-D columns carry each row group's min and max (NaN left out, zeros
    signed, unsigned values compared unsigned), as pyarrow reads them, and
    DuckDB's filtered counts, which prune row groups with them, agree with
    numpy."""
    d = np.dtype(dtype)
    src = interop_array(d, (N,), seed=7)
    if d.kind == "f":
        src[3] = np.nan  # left out of the statistics
        src[SMALL_RG : 2 * SMALL_RG] = np.nan  # a row group of NaN only: no min/max
        src[2 * SMALL_RG] = -0.0
        src[2 * SMALL_RG + 1 : 3 * SMALL_RG] = 0.0  # min -0.0, max +0.0
    if d.kind == "u":
        src[0] = np.iinfo(d).max  # above every signed value
    path = save_source(mm, tmp_path, src, "raw")
    dst = tmp_path / "s.parquet"
    run_ok(mm, "to-parquet", path, dst, "--compression", codec, "--row-group-size", SMALL_RG)
    md = pq.ParquetFile(dst).metadata
    assert md.num_row_groups == math.ceil(N / SMALL_RG)
    for g in range(md.num_row_groups):
        part = src[g * SMALL_RG : (g + 1) * SMALL_RG]
        stats = md.row_group(g).column(0).statistics
        if d.kind == "f" and np.isnan(part).all():
            assert stats is None or not stats.has_min_max, f"group {g}"
            continue
        assert stats is not None and stats.has_min_max, f"group {g}"
        assert stats.null_count == 0
        lo, hi = (np.nanmin(part), np.nanmax(part)) if d.kind == "f" else (part.min(), part.max())
        if d.kind in "Mm":  # the stored int64 (pyarrow's datetime cannot hold every ns value)
            got_lo, got_hi = stats.min_raw, stats.max_raw
            lo, hi = lo.view(np.int64), hi.view(np.int64)
        else:
            got_lo, got_hi = stats.min, stats.max
        assert got_lo == lo and got_hi == hi, f"group {g}: {got_lo}..{got_hi} vs {lo}..{hi}"
        if d.kind == "f" and lo == 0:
            assert math.copysign(1, got_lo) == -1 and math.copysign(1, got_hi) == 1
    # Queries that prune row groups on the statistics still count right
    # (DuckDB orders NaN above every number, so NaN > t holds there).
    if d.kind in "fiu":
        finite = src[~np.isnan(src)] if d.kind == "f" else src
        t = finite[len(finite) // 3]
        nans = int(np.isnan(src).sum()) if d.kind == "f" else 0
        name = pq.ParquetFile(dst).schema_arrow.names[0]
        (got,) = duckdb_one(f"SELECT count(*) FROM read_parquet('{dst}') WHERE \"{name}\" > ?", t.item())
        assert got == int((finite > t).sum()) + nans
