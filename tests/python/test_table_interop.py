"""Table directories (``mmarrow from-parquet`` / ``to-parquet`` / ``convert``,
``info``, ``head``, ``verify``) against pyarrow, polars, DuckDB and numpy.

The issue's interop requirement: a realistic Parquet file written by pyarrow
(ints, floats with nulls, nullable strings, bools, timestamps with a time zone,
decimals, a 768-wide float32 embedding) goes through ``from-parquet`` then
``to-parquet`` and pyarrow finds the result equal to the original, schema and
values; polars and DuckDB read the table through the Parquet output; numpy's
``np.memmap`` opens a column file with the dtype from the manifest and sees the
same values.

Sections:

1. the round trip Parquet -> table -> Parquet (pyarrow, polars, DuckDB), and
   through Arrow IPC both ways;
2. the documented format (docs/FORMAT.md section 5) read with numpy and pyarrow
   only: every column file opened by hand, the whole table rebuilt from them;
3. the CLI on tables: ``info --json``, ``head``, ``verify``, corrupt tables,
   manifests naming files outside the directory;
4. column types tables cannot hold are refused, nothing left behind.

The realistic table (:func:`make_original`) is built once per module (about
125 MB, mostly the two embeddings); its conversions are module fixtures.
"""

from __future__ import annotations

import datetime as dt
import decimal
import filecmp
import json
import os
import shutil
from pathlib import Path

import duckdb
import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.feather as feather
import pyarrow.ipc as ipc
import pyarrow.parquet as pq
import pytest

from conftest import assert_cli_error, leftovers, run_ok

# --------------------------------------------------------------------------
# Data

N = 20_000
# Not a multiple of 8: every row group after the first starts inside a byte of
# the validity and bool bitmaps, so the writer's partial-byte merge is used.
ROW_GROUP = 2_999
EMB = 768
DEC_SCALE = 9
DEC_MAX = 10**38 - 1  # the largest unscaled value of decimal128(38, _)
DEC_CONTEXT = decimal.Context(prec=60)  # the default 28 digits would round 38-digit values


def dec_of(unscaled: int) -> decimal.Decimal:
    return decimal.Decimal(unscaled).scaleb(-DEC_SCALE, context=DEC_CONTEXT)


def unscaled_of(d: decimal.Decimal) -> int:
    return int(d.scaleb(DEC_SCALE, context=DEC_CONTEXT))

# Columns holding NaNs (Arrow's equals() treats NaN != NaN: compared by bits).
NAN_COLUMNS = ["f32"]

# The numpy typestr FORMAT.md section 5 promises for each fixed-width column,
# written down here independently of mmarrow's manifest.
EXPECTED_DTYPE = {
    "id": "<i8",
    "i8": "|i1",
    "u16": "<u2",
    "i32": "<i4",
    "u64": "<u8",
    "f64": "<f8",
    "f32": "<f4",
    "d": "<i4",
    "ts": "<M8[us]",
    "tsu": "<M8[ns]",
    "ts_ms": "<M8[ms]",
    "fsb": "|S16",
    "dec": "|V16",
    "emb": "<f4",
    "embl": "<f4",
}
VARIABLE = {"s": "<i4", "ls": "<i8", "bin": "<i4"}  # offsets typestr
BOOL_COLUMNS = ["b"]


def _mask(rng, p: float, n: int = N) -> np.ndarray:
    return rng.random(n) < p


def make_original(n: int = N, seed: int = 20240611) -> pa.Table:
    """The realistic table, as a data pipeline's pyarrow code makes it."""
    rng = np.random.default_rng(seed)

    f64 = rng.standard_normal(n) * 1e3
    f64_null = _mask(rng, 0.10)
    f64_null[1] = True  # `head` shows a null in row 1
    f64_null[0] = False

    f32 = rng.standard_normal(n).astype(np.float32)
    specials = np.array([np.nan, -np.nan, np.inf, -np.inf, -0.0, 0.0], np.float32)
    pos = rng.choice(n, size=60, replace=False)
    f32[pos] = specials[np.arange(60) % len(specials)]

    words = ["", "a", "héllo", "日本語", "emoji 🚀", "x" * 200, "tab\tnew\nline", "quote\"'"]
    strings = [None if m else f"{words[i % len(words)]}#{i}" for i, m in enumerate(_mask(rng, 0.05))]
    strings[0] = "row zero"
    strings[2] = ""  # an empty, valid string
    large: list = [None if m else words[(i * 7) % len(words)] * (i % 3) for i, m in enumerate(_mask(rng, 0.07))]
    large[:3] = ["ünïcödé", None, "plain"]  # (rows `head` shows: no newline in them)
    blobs = [
        None if m else rng.integers(0, 256, size=int(k), dtype=np.uint8).tobytes()
        for m, k in zip(_mask(rng, 0.08), rng.integers(0, 40, size=n))
    ]

    bools = rng.integers(0, 2, n).astype(bool)
    bool_null = _mask(rng, 0.06)

    days = rng.integers(-20_000, 40_000, n).astype(np.int32)
    day_null = _mask(rng, 0.02)

    span_us = 3 * 10**9 * 10**6
    ts_us = rng.integers(-span_us, span_us, n)
    # Around the Paris DST switch of 2021-03-28 01:00 UTC.
    switch = int(dt.datetime(2021, 3, 28, 1, tzinfo=dt.timezone.utc).timestamp()) * 10**6
    ts_us[3:13] = switch + np.arange(-5, 5) * 1_800_000_001
    ts_ns = rng.integers(-(2**62), 2**62, n)
    ts_ms = rng.integers(-(10**13), 10**13, n)

    fsb = [None if m else rng.integers(0, 256, 16, dtype=np.uint8).tobytes() for m in _mask(rng, 0.03)]

    unscaled = [int(v) for v in rng.integers(-(10**17), 10**17, n)]
    for i, v in zip(range(100, 106), [DEC_MAX, -DEC_MAX, 1, -1, 0, 10**37]):
        unscaled[i] = v
    dec = [None if m else dec_of(u) for m, u in zip(_mask(rng, 0.11), unscaled)]
    dec[100] = dec_of(DEC_MAX)  # never null

    emb = rng.standard_normal((n, EMB), dtype=np.float32)
    embl = rng.standard_normal((n, EMB), dtype=np.float32)

    schema_fields = [
        pa.field("id", pa.int64(), nullable=False),
        pa.field("i8", pa.int8()),
        pa.field("u16", pa.uint16()),
        pa.field("i32", pa.int32()),
        pa.field("u64", pa.uint64()),
        pa.field("f64", pa.float64()),
        pa.field("f32", pa.float32()),
        pa.field("s", pa.string()),
        pa.field("ls", pa.large_string()),
        pa.field("bin", pa.binary()),
        pa.field("b", pa.bool_()),
        pa.field("d", pa.date32()),
        pa.field("ts", pa.timestamp("us", tz="Europe/Paris")),
        pa.field("tsu", pa.timestamp("ns", tz="UTC")),
        pa.field("ts_ms", pa.timestamp("ms")),
        pa.field("fsb", pa.binary(16)),
        pa.field("dec", pa.decimal128(38, DEC_SCALE)),
    ]
    arrays = [
        pa.array(np.arange(n, dtype=np.int64)),
        pa.array(rng.integers(-128, 128, n).astype(np.int8), mask=_mask(rng, 0.03)),
        pa.array(rng.integers(0, 2**16, n).astype(np.uint16)),
        pa.array(rng.integers(-(2**31), 2**31, n).astype(np.int32), mask=_mask(rng, 0.04)),
        pa.array(rng.integers(0, 2**64, n, dtype=np.uint64)),
        pa.array(f64, mask=f64_null),
        pa.array(f32, mask=_mask(rng, 0.05)),
        pa.array(strings, pa.string()),
        pa.array(large, pa.large_string()),
        pa.array(blobs, pa.binary()),
        pa.array(bools, mask=bool_null),
        pa.array(days, pa.date32(), mask=day_null),
        pa.array(ts_us, pa.timestamp("us", tz="Europe/Paris")),
        pa.array(ts_ns, pa.timestamp("ns", tz="UTC"), mask=_mask(rng, 0.09)),
        pa.array(ts_ms, pa.timestamp("ms")),
        pa.array(fsb, pa.binary(16)),
        pa.array(dec, pa.decimal128(38, DEC_SCALE)),
    ]
    tensor = pa.FixedShapeTensorArray.from_numpy_ndarray(emb)
    plain = pa.FixedSizeListArray.from_arrays(pa.array(embl.ravel()), EMB)
    schema_fields += [pa.field("emb", tensor.type), pa.field("embl", plain.type)]
    arrays += [tensor, plain]
    return pa.Table.from_arrays(arrays, schema=pa.schema(schema_fields))


# --------------------------------------------------------------------------
# Comparisons


def _float_leaf(arr: pa.Array) -> pa.Array | None:
    """The float leaf values of a float column or a fixed-size list of floats."""
    t = arr.type
    if isinstance(t, pa.BaseExtensionType):
        return _float_leaf(arr.storage)
    if pa.types.is_floating(t):
        return arr
    if pa.types.is_fixed_size_list(t):
        return _float_leaf(arr.flatten())
    return None


def _bits(arr: pa.Array) -> np.ndarray:
    """The bit patterns of the valid values of a float array."""
    valid = arr.is_valid().to_numpy(zero_copy_only=False)
    vals = arr.fill_null(0).to_numpy(zero_copy_only=False)
    return vals.view(f"<u{vals.dtype.itemsize}")[valid]


def column_equal(got: pa.ChunkedArray, want: pa.ChunkedArray) -> bool:
    """Arrow equality, except that floats are compared by bits (NaN == NaN,
    -0.0 != 0.0)."""
    if not got.type.equals(want.type) or len(got) != len(want):
        return False
    g, w = got.combine_chunks(), want.combine_chunks()
    leaf = _float_leaf(w)
    if leaf is None:
        return g.equals(w)
    if not g.is_valid().equals(w.is_valid()):
        return False
    return np.array_equal(_bits(_float_leaf(g)), _bits(leaf))


def first_difference(got: pa.ChunkedArray, want: pa.ChunkedArray) -> str:
    g, w = got.combine_chunks(), want.combine_chunks()
    if len(g) != len(w):
        return f"{len(g)} rows, expected {len(w)}"
    step = 512
    for start in range(0, len(w), step):
        gs, ws = g.slice(start, step), w.slice(start, step)
        if not column_equal(pa.chunked_array([gs]), pa.chunked_array([ws])):
            for i in range(len(ws)):
                a, b = gs.slice(i, 1), ws.slice(i, 1)
                if not column_equal(pa.chunked_array([a]), pa.chunked_array([b])):
                    show = lambda x: repr(x.to_pylist()[0])[:120]  # noqa: E731
                    return f"row {start + i}: got {show(a)}, expected {show(b)}"
    return "no value differs (types or chunking?)"


def table_diff(got: pa.Table, want: pa.Table) -> str:
    """A readable account of how two tables differ."""
    lines = []
    if got.schema.metadata != want.schema.metadata:
        lines.append(f"schema metadata: got {got.schema.metadata}, expected {want.schema.metadata}")
    if got.column_names != want.column_names:
        lines.append(f"columns: got {got.column_names}, expected {want.column_names}")
    if got.num_rows != want.num_rows:
        lines.append(f"rows: got {got.num_rows}, expected {want.num_rows}")
    for f in want.schema:
        if f.name not in got.column_names:
            continue
        g = got.schema.field(f.name)
        if not g.equals(f, check_metadata=True):
            lines.append(f"field {f.name!r}: got {g} {g.metadata}, expected {f} {f.metadata}")
        elif not column_equal(got[f.name], want[f.name]):
            lines.append(f"column {f.name!r}: {first_difference(got[f.name], want[f.name])}")
    return "\n".join(lines) or "no difference found"


def assert_tables_equal(got: pa.Table, want: pa.Table, what: str):
    """Schema (with field and schema metadata) and values equal; NaN columns by bits."""
    assert got.schema.equals(want.schema, check_metadata=True), f"{what}:\n{table_diff(got, want)}"
    for name in want.column_names:
        assert column_equal(got[name], want[name]), f"{what}:\n{table_diff(got, want)}"
    # And Arrow's own equality wherever NaN != NaN does not get in the way.
    assert got.drop_columns(NAN_COLUMNS).equals(want.drop_columns(NAN_COLUMNS)), (
        f"{what}:\n{table_diff(got, want)}"
    )


# --------------------------------------------------------------------------
# Helpers


def manifest_of(table: Path) -> dict:
    return json.loads((table / "manifest.json").read_text())


def column_entry(manifest: dict, name: str) -> dict:
    (entry,) = [c for c in manifest["columns"] if c["field"]["name"] == name]
    return entry


def leaf_node(entry: dict) -> dict:
    """FORMAT.md 5.3: the node holding a column's values, below any
    fixed_size_list levels (each a node whose one child holds the items)."""
    node, t = entry["node"], entry["field"]["type"]
    while t["name"] == "fixed_size_list":
        node, t = node["children"][0], t["item"]["type"]
    return node


def files_of(entry: dict) -> dict:
    """A flat column's files by role: validity (the column's own), offsets
    and values (its leaf's buffers, FORMAT.md 5.3's roles)."""
    root, leaf = entry["node"], leaf_node(entry)
    files = {}
    if root.get("validity"):
        files["validity"] = root["validity"]["file"]
    bufs = leaf["buffers"]
    if len(bufs) == 2:
        files["offsets"], files["values"] = bufs[0]["file"], bufs[1]["file"]
    else:
        files["values"] = bufs[0]["file"]
    return files


def read_bitmap(path: Path, rows: int) -> np.ndarray:
    """A bitmap file (LSB first, FORMAT.md 5.2) as ``rows`` bools."""
    raw = np.fromfile(path, dtype=np.uint8)
    assert raw.size >= (rows + 7) // 8, f"{path}: {raw.size} bytes for {rows} bits"
    return np.unpackbits(raw, bitorder="little")[:rows].astype(bool)


def storage(arr):
    return arr.storage if isinstance(arr.type, pa.BaseExtensionType) else arr


# --------------------------------------------------------------------------
# Module fixtures: the realistic table and its conversions


@pytest.fixture(scope="module")
def original() -> pa.Table:
    return make_original()


@pytest.fixture(scope="module")
def work(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("table_interop")


@pytest.fixture(scope="module")
def src_parquet(work, original) -> Path:
    """The realistic Parquet file, as pyarrow writes it by default (snappy,
    dictionary pages, Parquet 2.6), in several row groups."""
    path = work / "src.parquet"
    pq.write_table(original, path, row_group_size=ROW_GROUP)
    assert pq.ParquetFile(path).metadata.num_row_groups == -(-N // ROW_GROUP)
    return path


@pytest.fixture(scope="module")
def expected(original, src_parquet) -> pa.Table:
    """The original as pyarrow reads it back from its own Parquet file: the
    same values and types, except that the plain list's item is now called
    "element" (Parquet's name; pyarrow renames it). The Parquet round trips
    are compared with this, the IPC ones with the original itself."""
    got = pq.read_table(src_parquet)
    assert got.schema.field("embl").type.value_field.name == "element"
    assert_tables_equal(got, original.cast(got.schema), "pyarrow's own Parquet round trip")
    return got


@pytest.fixture(scope="module")
def cache(mm, work, src_parquet) -> Path:
    """``mmarrow from-parquet src.parquet cache`` with the default options
    (all cores): several columns make a table directory."""
    dst = work / "cache"
    out = run_ok(mm, "from-parquet", src_parquet, dst)
    assert f"{N} rows" in out, out
    assert (dst / "manifest.json").is_file(), sorted(os.listdir(work))
    assert leftovers(dst) == []
    return dst


@pytest.fixture(scope="module")
def manifest(cache) -> dict:
    return manifest_of(cache)


@pytest.fixture(scope="module")
def out_parquet(mm, work, cache) -> Path:
    dst = work / "out.parquet"
    run_ok(mm, "to-parquet", cache, dst)
    assert leftovers(dst) == []
    return dst


# --------------------------------------------------------------------------
# 1. Round trips


def test_parquet_table_parquet_equals_original(expected, out_parquet):
    """The issue's requirement: pyarrow finds the result equal to the
    original, schema and values."""
    got = pq.read_table(out_parquet)
    assert_tables_equal(got, expected, "from-parquet + to-parquet")
    # The extension type is a real pyarrow tensor type again, not bare storage.
    assert isinstance(got.schema.field("emb").type, pa.FixedShapeTensorType)
    assert got.schema.field("emb").type.shape == [EMB]
    assert got.schema.field("ts").type.tz == "Europe/Paris"


def test_from_parquet_is_the_same_whatever_the_threads(mm, work, src_parquet, cache):
    """Row groups decoded in parallel land in order: ``--threads 4`` writes
    the same column files and manifest, byte for byte, as the default (the
    ``cache`` fixture; all cores). Decoders sharing one file position (the
    race fixed in table_io.rs) fail here with "corrupt input" errors, an
    ordering bug shows as different bytes."""
    dst = work / "cache_threads_4"
    run_ok(mm, "from-parquet", "--threads", 4, src_parquet, dst)
    names = sorted(p.name for p in cache.iterdir() if p.name != ".lock")
    assert sorted(p.name for p in dst.iterdir() if p.name != ".lock") == names
    match, mismatch, errors = filecmp.cmpfiles(cache, dst, names, shallow=False)
    assert mismatch == [] and errors == [], f"--threads 4 differs from the default: {mismatch} {errors}"
    shutil.rmtree(dst)


def test_polars_reads_the_parquet_output(original, out_parquet):
    df = pl.read_parquet(out_parquet)
    assert df.height == N
    assert df.columns == original.column_names
    want = pl.from_arrow(original)
    assert df.schema == want.schema
    for name in original.column_names:
        assert df[name].null_count() == original[name].null_count, name
    assert df.equals(want, null_equal=True), next(
        (n for n in df.columns if not df[n].equals(want[n], null_equal=True)), "?"
    )
    # A few values as polars computes them.
    assert df["ts"].dtype == pl.Datetime("us", "Europe/Paris")
    assert df["i8"].sum() == pc.sum(original["i8"]).as_py()
    assert df["dec"].max() == pc.max(original["dec"]).as_py()
    embl = original["embl"].combine_chunks().flatten().to_numpy().reshape(N, EMB)
    assert np.array_equal(df["embl"].to_numpy(), embl)


def test_duckdb_reads_the_parquet_output(original, src_parquet, out_parquet):
    con = duckdb.connect()
    cols = original.column_names
    # Every row and column as DuckDB reads it from mmarrow's file equals the
    # same row as DuckDB reads it from pyarrow's (NaN equals NaN in DuckDB).
    distinct = " + ".join(f"(o.{c} IS DISTINCT FROM s.{c})::INT" for c in cols)
    rows, differing, unmatched = con.execute(
        f"SELECT count(*), sum({distinct}), count(*) FILTER (WHERE o.id IS NULL OR s.id IS NULL) "
        "FROM read_parquet(?) o FULL OUTER JOIN read_parquet(?) s ON o.id = s.id",
        [str(out_parquet), str(src_parquet)],
    ).fetchone()
    assert (rows, differing, unmatched) == (N, 0, 0)
    # And against pyarrow's own numbers.
    counts = con.execute(
        "SELECT " + ", ".join(f"count({c})" for c in cols) + " FROM read_parquet(?)",
        [str(out_parquet)],
    ).fetchone()
    assert list(counts) == [N - original[c].null_count for c in cols]
    types = dict(con.execute("SELECT column_name, column_type FROM (DESCRIBE SELECT * FROM read_parquet(?))",
                             [str(out_parquet)]).fetchall())
    assert types["dec"] == "DECIMAL(38,9)"
    assert types["ts"] == "TIMESTAMP WITH TIME ZONE"
    assert types["emb"].startswith("FLOAT[") and types["embl"].startswith("FLOAT[")
    i8_sum, u16_sum, n_days, dec_max, emb_len, emb_first = con.execute(
        "SELECT sum(i8), sum(u16), count(DISTINCT d), max(dec)::VARCHAR, max(len(emb)), "
        "sum(embl[1]::DOUBLE) FROM read_parquet(?)",
        [str(out_parquet)],
    ).fetchone()
    assert i8_sum == pc.sum(original["i8"]).as_py()
    assert u16_sum == pc.sum(original["u16"]).as_py()
    assert n_days == pc.count_distinct(original["d"], mode="only_valid").as_py()
    assert decimal.Decimal(dec_max) == dec_of(DEC_MAX)
    assert emb_len == EMB
    first = original["embl"].combine_chunks().flatten().to_numpy().reshape(N, EMB)[:, 0]
    assert emb_first == pytest.approx(float(first.astype(np.float64).sum()), rel=1e-9, abs=1e-6)


def test_table_to_arrow_ipc(mm, work, expected, cache):
    """``mmarrow convert cache x.arrow``: pyarrow's IPC reader sees the
    original (as read from its Parquet file)."""
    dst = work / "from_cache.arrow"
    run_ok(mm, "convert", cache, dst)
    with ipc.open_file(dst) as r:
        got = r.read_all()
        assert r.schema.equals(expected.schema, check_metadata=True), table_diff(got, expected)
    assert_tables_equal(got, expected, "table -> IPC")
    dst.unlink()


def test_arrow_ipc_written_by_pyarrow_to_table_to_parquet(mm, work, original):
    """An IPC file pyarrow writes (several record batches) -> ``convert x.arrow
    cache2/`` -> ``to-parquet``: equal to the original (its first 6,000 rows,
    to keep the debug build's Parquet encoding short)."""
    part = original.slice(0, 6_000)
    src = work / "pyarrow.arrow"
    with ipc.new_file(src, part.schema) as w:
        for batch in part.to_batches(max_chunksize=1_499):
            w.write_batch(batch)
    assert ipc.open_file(src).num_record_batches == 5
    table = work / "cache2"
    run_ok(mm, "convert", src, f"{table}/")
    assert (table / "manifest.json").is_file()
    assert manifest_of(table)["rows"] == part.num_rows
    dst = work / "cache2.parquet"
    run_ok(mm, "to-parquet", table, dst)
    # mmarrow keeps the list item's name ("item"), where pyarrow's own writer
    # would rename it "element": compared with the original itself.
    assert_tables_equal(pq.read_table(dst), part, "IPC -> table -> Parquet")
    for p in (src, dst):
        p.unlink()
    shutil.rmtree(table)


def test_feather_lz4_written_by_pyarrow_to_table_and_back(mm, work, original):
    """``pyarrow.feather.write_feather``'s default output (LZ4-compressed IPC):
    -> table -> IPC, equal to the original (its last 8,000 rows)."""
    part = original.slice(N - 8_000)
    src = work / "pyarrow.feather"
    feather.write_feather(part, src, chunksize=3_001)  # compression="lz4" by default
    table = work / "cache3"
    run_ok(mm, "convert", src, f"{table}/")
    back = work / "cache3.arrow"
    run_ok(mm, "convert", table, back)
    assert_tables_equal(feather.read_table(back), part, "feather -> table -> IPC")
    for p in (src, back):
        p.unlink()
    shutil.rmtree(table)


# --------------------------------------------------------------------------
# 2. The documented format, read without mmarrow


def test_manifest_describes_the_original_schema(original, expected, manifest, cache):
    """FORMAT.md 5.1: field types decoded from the manifest by hand are the
    original types (extension types by their metadata)."""
    assert manifest["format"] == "mmarrow.table"
    assert manifest["version"] == 2
    assert manifest["rows"] == N
    names = [c["field"]["name"] for c in manifest["columns"]]
    assert names == original.column_names
    for c in manifest["columns"]:
        f = expected.schema.field(c["field"]["name"])
        got = field_from_manifest(c["field"])
        assert got.equals(f, check_metadata=True), f"{c['field']} decodes as {got}, expected {f}"
        node = c["node"]
        assert node["length"] == N
        assert ("validity" in node) == f.nullable, c
        assert node["null_count"] == original[f.name].null_count, f.name
        if f.name in EXPECTED_DTYPE:
            assert leaf_node(c)["buffers"][0].get("dtype") == EXPECTED_DTYPE[f.name], c
        assert ("offsets" in files_of(c)) == (f.name in VARIABLE), c
        if f.name in VARIABLE:
            assert leaf_node(c)["buffers"][0]["dtype"] == VARIABLE[f.name], c
        for b in [node.get("validity"), *node["buffers"]]:
            if b:
                assert (cache / b["file"]).stat().st_size >= b["length"]


_SIMPLE = {
    "bool": pa.bool_(), "int8": pa.int8(), "int16": pa.int16(), "int32": pa.int32(),
    "int64": pa.int64(), "uint8": pa.uint8(), "uint16": pa.uint16(), "uint32": pa.uint32(),
    "uint64": pa.uint64(), "float16": pa.float16(), "float32": pa.float32(),
    "float64": pa.float64(), "utf8": pa.string(), "large_utf8": pa.large_string(),
    "binary": pa.binary(), "large_binary": pa.large_binary(), "date32": pa.date32(),
    "date64": pa.date64(),
}  # fmt: skip


def type_from_manifest(t: dict) -> pa.DataType:
    """FORMAT.md 5.1's type JSON as a pyarrow type."""
    name = t["name"]
    if name in _SIMPLE:
        return _SIMPLE[name]
    if name == "timestamp":
        return pa.timestamp(t["unit"], tz=t.get("timezone"))
    if name == "duration":
        return pa.duration(t["unit"])
    if name == "decimal128":
        return pa.decimal128(t["precision"], t["scale"])
    if name == "fixed_size_binary":
        return pa.binary(t["width"])
    if name == "fixed_size_list":
        return pa.list_(field_from_manifest(t["item"]), t["size"])
    raise AssertionError(f"undocumented type {t}")


def field_from_manifest(f: dict) -> pa.Field:
    t = type_from_manifest(f["type"])
    meta = f.get("metadata") or {}
    if meta.get("ARROW:extension:name") == "arrow.fixed_shape_tensor":
        m = json.loads(meta["ARROW:extension:metadata"])
        t = pa.fixed_shape_tensor(t.value_type, m["shape"], permutation=m.get("permutation"))
        meta = {k: v for k, v in meta.items() if not k.startswith("ARROW:extension:")}
    return pa.field(f["name"], t, nullable=f.get("nullable", True), metadata=meta or None)


def _expected_values(arr: pa.Array, name: str) -> np.ndarray:
    """The valid values of a fixed-width column as numpy sees them, computed
    from the values (not from Arrow's buffers)."""
    valid = arr.filter(arr.is_valid())
    if name == "d":
        return valid.cast(pa.int32()).to_numpy()
    if name == "fsb":
        return np.frombuffer(b"".join(valid.to_pylist()), np.uint8).reshape(-1, 16)
    if name == "dec":
        raw = b"".join(
            unscaled_of(v).to_bytes(16, "little", signed=True) for v in valid.to_pylist()
        )
        return np.frombuffer(raw, np.uint8).reshape(-1, 16)
    if name == "emb":
        return valid.to_numpy_ndarray()
    if name == "embl":
        return valid.flatten().to_numpy().reshape(-1, EMB)
    if pa.types.is_timestamp(arr.type):
        return valid.cast(pa.timestamp(arr.type.unit)).to_numpy()
    return valid.to_numpy()


@pytest.mark.parametrize("name", list(EXPECTED_DTYPE))
def test_numpy_memmap_sees_each_fixed_width_column(original, cache, manifest, name):
    """``np.memmap(dir/values, dtype=manifest dtype, shape=(rows,) or (rows,
    768))`` holds the column's values; the validity file decoded with
    ``np.unpackbits(bitorder='little')`` is the null mask."""
    c = column_entry(manifest, name)
    rows = manifest["rows"]
    leaf = leaf_node(c)["buffers"][0]
    dtype = np.dtype(leaf["dtype"])
    assert leaf["dtype"] == EXPECTED_DTYPE[name]
    arr = original[name].combine_chunks()
    shape = (rows, EMB) if name in ("emb", "embl") else (rows,)
    values = np.memmap(cache / leaf["file"], dtype=dtype, mode="r", shape=shape)

    valid = arr.is_valid().to_numpy(zero_copy_only=False)
    files, null_count = files_of(c), c["node"]["null_count"]
    if "validity" in files:
        bits = read_bitmap(cache / files["validity"], rows)
        assert np.array_equal(bits, valid), f"{name}: validity file != null mask"
        assert null_count == int((~bits).sum())
    else:
        assert valid.all() and null_count == 0

    got = values[valid]
    want = _expected_values(arr, name)
    if dtype.kind in "SV":
        got = np.ascontiguousarray(got).view(np.uint8).reshape(-1, dtype.itemsize)
    if dtype.kind == "f":  # by bits: NaN, -NaN, -0.0
        got, want = got.view(f"<u{dtype.itemsize}"), want.view(f"<u{dtype.itemsize}")
    assert got.shape == want.shape, (got.shape, want.shape)
    assert np.array_equal(got, want), f"{name}: first mismatch at valid row {np.argmax(got != want)}"
    del values


def test_numpy_reads_the_bool_bitmap(original, cache, manifest):
    c = column_entry(manifest, "b")
    assert "dtype" not in c["node"]["buffers"][0]  # a bitmap, not a numpy dtype
    arr = original["b"].combine_chunks()
    valid = arr.is_valid().to_numpy(zero_copy_only=False)
    files = files_of(c)
    assert np.array_equal(read_bitmap(cache / files["validity"], N), valid)
    got = read_bitmap(cache / files["values"], N)[valid]
    assert np.array_equal(got, arr.filter(arr.is_valid()).to_numpy(zero_copy_only=False))


@pytest.mark.parametrize("name", list(VARIABLE))
def test_numpy_decodes_offsets_and_values(original, cache, manifest, name):
    """Variable-length columns: ``rows + 1`` offsets (i32, i64 for large
    types), the first 0, non-decreasing, slicing the values file."""
    files = files_of(column_entry(manifest, name))
    offsets = np.memmap(cache / files["offsets"], dtype=VARIABLE[name], mode="r")
    assert offsets.size >= N + 1
    offsets = np.asarray(offsets[: N + 1])
    values = np.fromfile(cache / files["values"], dtype=np.uint8)
    assert offsets[0] == 0
    assert (np.diff(offsets) >= 0).all()
    assert offsets[-1] <= values.size
    valid = read_bitmap(cache / files["validity"], N)
    raw = values.tobytes()
    got = [raw[offsets[i] : offsets[i + 1]] if valid[i] else None for i in range(N)]
    if name != "bin":
        got = [None if b is None else b.decode("utf-8") for b in got]
    assert got == original[name].to_pylist()


def test_whole_table_rebuilt_from_its_files_by_pyarrow(expected, cache, manifest):
    """Every buffer file handed to ``pa.Array.from_buffers`` as FORMAT.md
    5.2 lays it out: the rebuilt table is the original."""
    rows = manifest["rows"]

    def buf(name):
        return pa.py_buffer(np.fromfile(cache / name, dtype=np.uint8)) if name else None

    def build(t: pa.DataType, node: dict) -> pa.Array:
        """FORMAT.md 5.3: a node's validity and buffers in Arrow's order,
        its children built the same way."""
        validity = buf(node["validity"]["file"]) if node.get("validity") else None
        buffers = [validity] + [buf(b["file"]) for b in node["buffers"]]
        if pa.types.is_fixed_size_list(t) or pa.types.is_list(t) or pa.types.is_large_list(t):
            children = [build(t.value_type, node["children"][0])]
        elif pa.types.is_struct(t):
            children = [build(t.field(i).type, n) for i, n in enumerate(node["children"])]
        else:
            children = []
        return pa.Array.from_buffers(t, node["length"], buffers, null_count=node["null_count"], children=children)

    arrays, fields = [], []
    for c in manifest["columns"]:
        field = field_from_manifest(c["field"])
        t = field.type
        storage_type = t.storage_type if isinstance(t, pa.BaseExtensionType) else t
        arr = build(storage_type, c["node"])
        assert len(arr) == rows
        arr.validate(full=True)
        if isinstance(t, pa.BaseExtensionType):
            arr = pa.ExtensionArray.from_storage(t, arr)
        assert arr.null_count == c["node"]["null_count"], field.name
        arrays.append(arr)
        fields.append(field)
    rebuilt = pa.Table.from_arrays(arrays, schema=pa.schema(fields, metadata=manifest.get("metadata") or None))
    assert_tables_equal(rebuilt, expected, "rebuilt from the files")


# --------------------------------------------------------------------------
# 3. CLI on tables


def _arrow_rs_type_ok(text: str, t: pa.DataType) -> bool:
    """Whether ``info``'s ``arrow_type`` (arrow-rs' Display) names ``t``."""
    s = text.lower().replace(" ", "")
    if isinstance(t, pa.BaseExtensionType):
        t = t.storage_type
    simple = {
        pa.int8(): "int8", pa.int32(): "int32", pa.int64(): "int64", pa.uint16(): "uint16",
        pa.uint64(): "uint64", pa.float32(): "float32", pa.float64(): "float64",
        pa.string(): "utf8", pa.large_string(): "largeutf8", pa.binary(): "binary",
        pa.bool_(): "boolean", pa.date32(): "date32",
    }  # fmt: skip
    if t in simple:
        return s == simple[t]
    if pa.types.is_timestamp(t):
        unit = {"s": ("s", "second"), "ms": ("ms", "millisecond"),
                "us": ("µs", "microsecond"), "ns": ("ns", "nanosecond")}[t.unit]  # fmt: skip
        tz_ok = (t.tz.lower() in s) if t.tz else ("none" in s or '"' not in s)
        return s.startswith("timestamp(") and any(u in s for u in unit) and tz_ok
    if pa.types.is_decimal(t):
        return s == f"decimal128({t.precision},{t.scale})"
    if pa.types.is_fixed_size_binary(t):
        return s == f"fixedsizebinary({t.byte_width})"
    if pa.types.is_fixed_size_list(t):
        return s.startswith("fixedsizelist(") and str(t.list_size) in s and "float32" in s
    raise AssertionError(f"no expectation for {t}")


def test_info_json_matches_pyarrow(mm, original, cache):
    doc = mm.info(cache)
    assert doc["kind"] == "table"
    assert doc["rows"] == N
    assert [c["name"] for c in doc["columns"]] == original.column_names
    for c in doc["columns"]:
        f = original.schema.field(c["name"])
        assert _arrow_rs_type_ok(c["arrow_type"], f.type), (c["arrow_type"], f.type)
        assert c["nullable"] == f.nullable, c
        assert c["null_count"] == original[c["name"]].null_count, c
        for name in c["files"]:
            assert (cache / name).is_file(), name
    emb = next(c for c in doc["columns"] if c["name"] == "emb")
    assert emb["metadata"]["ARROW:extension:name"] == "arrow.fixed_shape_tensor"
    assert json.loads(emb["metadata"]["ARROW:extension:metadata"])["shape"] == [EMB]
    # The text form names every column too.
    text = run_ok(mm, "info", cache)
    assert f"{N} rows, {original.num_columns} columns" in text
    for name in original.column_names:
        assert f"  {name} " in text, name


def _cells(line: str) -> list[str]:
    return [x.strip() for x in line.strip()[1:-1].split("|")]


def test_head_prints_the_first_rows(mm, original, cache):
    out = run_ok(mm, "head", cache, "-n", 3)
    rows = [line for line in out.splitlines() if line.startswith("|")]
    assert len(rows) == 4, out  # header and 3 rows
    header = _cells(rows[0])
    assert header == original.column_names
    assert f"3 of {N} rows" in out
    first3 = original.select(["id", "i8", "u16", "s", "ls", "b", "ts", "f64"]).slice(0, 3).to_pylist()
    for line, want in zip(rows[1:], first3):
        got = dict(zip(header, _cells(line)))
        assert got["id"] == str(want["id"])
        assert got["i8"] == ("null" if want["i8"] is None else str(want["i8"]))
        assert got["u16"] == str(want["u16"])
        assert got["s"] == ("null" if want["s"] is None else want["s"])
        assert got["b"] == ("null" if want["b"] is None else str(want["b"]).lower())
        assert got["ls"] == ("null" if want["ls"] is None else want["ls"])
        # Shown in its own zone: the same instant, with Paris' offset of the day.
        shown = dt.datetime.fromisoformat(got["ts"].replace("Z", "+00:00"))
        assert shown == want["ts"] and shown.utcoffset() == want["ts"].utcoffset(), (got["ts"], want["ts"])
    assert _cells(rows[2])[header.index("f64")] == "null"  # row 1's f64 is null
    assert float(_cells(rows[1])[header.index("f64")]) == first3[0]["f64"]


def test_verify_accepts_the_table(mm, cache):
    out = run_ok(mm, "verify", cache)
    assert "ok" in out and f"{N} rows" in out and "columns" in out, out


# Small tables for the tests that damage them.

SMALL_COLUMNS = ["id", "f64", "s", "ls", "bin", "b"]


@pytest.fixture
def small_table(mm, tmp_path, original) -> Path:
    src = tmp_path / "small.parquet"
    pq.write_table(original.select(SMALL_COLUMNS).slice(0, 1_000), src, row_group_size=300)
    dst = tmp_path / "small"
    run_ok(mm, "from-parquet", src, dst)
    run_ok(mm, "verify", dst)
    return dst


def _swap_two_offsets(path: Path, dtype: str):
    """Non-monotonic offsets, first and last unchanged (so only a full check sees it)."""
    o = np.memmap(path, dtype=dtype, mode="r+")
    i = next(i for i in range(1, 999) if o[i] < o[i + 1])
    o[i], o[i + 1] = o[i + 1], o[i]
    o.flush()
    del o


def _corrupt(table: Path, how: str) -> str:
    """Damages ``table``; returns the column it damaged."""
    m = manifest_of(table)
    if how == "offsets":
        _swap_two_offsets(table / files_of(column_entry(m, "s"))["offsets"], "<i4")
        return "s"
    if how == "large-offsets":
        _swap_two_offsets(table / files_of(column_entry(m, "ls"))["offsets"], "<i8")
        return "ls"
    if how == "utf8":
        path = table / files_of(column_entry(m, "s"))["values"]
        data = bytearray(path.read_bytes())
        data[len(data) // 2] = 0xFF
        path.write_bytes(bytes(data))
        return "s"
    if how == "null-count":
        column_entry(m, "f64")["node"]["null_count"] += 1
        (table / "manifest.json").write_text(json.dumps(m))
        return "f64"
    raise AssertionError(how)


@pytest.mark.parametrize("how", ["offsets", "large-offsets", "utf8", "null-count"])
def test_verify_refuses_a_corrupt_table(mm, tmp_path, small_table, how):
    """``verify`` exits 2 with one line naming the table (and the column);
    ``to-parquet`` refuses it too and writes nothing; ``head`` refuses it
    when the damage is in the rows it shows (it validates those rows only:
    the swapped offsets are among the first; the bad byte of UTF-8 is in the
    middle, and a wrong manifest null count does not change the rows)."""
    column = _corrupt(small_table, how)
    line = assert_cli_error(mm.cli("verify", small_table), small_table)
    files = files_of(column_entry(manifest_of(small_table), column)).values()
    assert f'"{column}"' in line or any(f"/{f}:" in line for f in files), f"column {column!r} not named: {line}"
    if how in ("offsets", "large-offsets"):
        assert_cli_error(mm.cli("head", small_table, "-n", 3), small_table)
    else:
        run_ok(mm, "head", small_table, "-n", 3)
    dst = tmp_path / "corrupt.parquet"
    if how == "null-count":
        # The rows are intact (their nulls come from the bitmap): the
        # conversion is right, only verify flags the manifest.
        run_ok(mm, "to-parquet", small_table, dst)
        assert pq.read_table(dst)["f64"].null_count == column_entry(manifest_of(small_table), "f64")["node"]["null_count"] - 1
        return
    assert_cli_error(mm.cli("to-parquet", small_table, dst), small_table)
    assert not dst.exists() and leftovers(dst) == []


@pytest.mark.parametrize("bad_name", ["../x", "/etc/hostname", "sub/c2.values"])
@pytest.mark.parametrize("file_kind", ["values", "offsets", "validity"])
def test_manifest_naming_a_file_outside_is_refused(mm, tmp_path, small_table, bad_name, file_kind):
    (tmp_path / "x").write_bytes(b"\0" * 65536)  # what ../x would reach
    m = manifest_of(small_table)
    entry = column_entry(m, "s")
    if file_kind == "validity":
        entry["node"]["validity"]["file"] = bad_name
    else:
        entry["node"]["buffers"][0 if file_kind == "offsets" else 1]["file"] = bad_name
    (small_table / "manifest.json").write_text(json.dumps(m))
    for args in (["info", small_table], ["info", small_table, "--json"],
                 ["head", small_table, "-n", 3], ["verify", small_table]):  # fmt: skip
        line = assert_cli_error(mm.cli(*args), small_table)
        assert bad_name in line, (args, line)


def test_symlink_out_of_the_table_is_refused(mm, tmp_path, small_table):
    outside = tmp_path / "outside.values"
    m = manifest_of(small_table)
    values = small_table / files_of(column_entry(m, "s"))["values"]
    shutil.copy(values, outside)
    values.unlink()
    values.symlink_to(outside)
    for args in (["head", small_table, "-n", 3], ["verify", small_table]):
        line = assert_cli_error(mm.cli(*args), None)
        assert str(small_table) in line, line


# --------------------------------------------------------------------------
# 4. Nested types (format v2 holds every Arrow type)


def _nested_column(kind: str) -> pa.Array:
    """A column format v1 refused; v2 holds it."""
    if kind == "struct":
        return pa.array([{"a": i, "b": str(i)} if i % 5 else None for i in range(100)])
    if kind == "list":
        return pa.array([[float(j) for j in range(i % 4)] if i % 7 else None for i in range(100)], pa.list_(pa.float32()))
    if kind == "large_list":
        return pa.array([[i] * (i % 3) for i in range(100)], pa.large_list(pa.int32()))
    if kind == "map":
        return pa.array([[("k", i)] if i % 3 else [] for i in range(100)], pa.map_(pa.string(), pa.int64()))
    if kind == "dictionary":
        return pa.array([["x", "y", None][i % 3] for i in range(100)]).dictionary_encode()
    raise AssertionError(kind)


@pytest.mark.parametrize("how", ["from-parquet", "convert"])
@pytest.mark.parametrize("kind", ["struct", "list", "large_list", "map", "dictionary"])
def test_nested_column_round_trips(mm, tmp_path, kind, how):
    """A Parquet file with a nested column (row groups of 30 rows, so the
    table is appended to several times) becomes a table that verifies, and
    ``to-parquet`` gives pyarrow the original table back."""
    t = pa.table({"id": pa.array(range(100), pa.int64()), "name": pa.array([str(i) for i in range(100)]),
                  "nested col": _nested_column(kind), "x": pa.array(np.arange(100, dtype=np.float32))})
    src = tmp_path / "src.parquet"
    pq.write_table(t, src, row_group_size=30)
    dst = tmp_path / "dst"
    run_ok(mm, how, src, dst if how == "from-parquet" else f"{dst}/")
    run_ok(mm, "verify", dst)
    back = tmp_path / "back.parquet"
    run_ok(mm, "to-parquet", dst, back)
    got, want = pq.read_table(back), pq.read_table(src)
    assert got.schema.equals(want.schema, check_metadata=True), f"{kind}:\n{got.schema}\n{want.schema}"
    assert got.equals(want), f"{kind}:\n{table_diff(got, want)}"
    assert leftovers(dst) == [] and leftovers(back) == []
