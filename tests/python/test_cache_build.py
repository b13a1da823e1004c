"""The cache build: ``mmarrow from-parquet data.parquet cache/`` at the page
level (issue 12).

Files written by pyarrow at test time, in the shapes pipelines meet: one
and many row groups, with and without dictionaries, v1 and v2 data pages,
every codec. For each, the page-level path (the default) must give the
same table as the generic reader (``--generic``: the parquet crate's Arrow
reader, batch by batch), every file byte for byte and the manifest equal,
at 1 and 2 threads, and the values pyarrow reads from the source. Corrupt
pages are typed errors naming the file, the column and the row group, with
nothing left behind. ``--if-stale`` rebuilds only when the source changed.
"""

from __future__ import annotations

import filecmp
import json
import os
import shutil
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.ipc as ipc
import pyarrow.parquet as pq
import pytest

from conftest import assert_cli_error, leftovers, run_ok

N = 30_000
EMB = 16


def realistic(n: int = N, seed: int = 12) -> pa.Table:
    """The columns of the issue's benchmark file: int64, float64 with 5 %
    nulls, float32, int32, nullable strings, 100-value category strings,
    nullable bools, a timestamp and a float32 tensor — plus a date, a
    time, a duration, fixed-size binary and a half float."""
    rng = np.random.default_rng(seed)
    words = np.array([f"w{i}-" + "é" * (i % 5) + "x" * (i % 23) for i in range(800)], dtype=object)
    cats = np.array([f"c{i}" for i in range(100)], dtype=object)
    emb = rng.standard_normal(n * EMB).astype(np.float32)
    tensor = pa.fixed_shape_tensor(pa.float32(), [EMB])
    return pa.table(
        {
            "id": pa.array(np.arange(n, dtype=np.int64)),
            "x": pa.array(rng.standard_normal(n), mask=rng.random(n) < 0.05),
            "f": pa.array(rng.standard_normal(n).astype(np.float32)),
            "i": pa.array(rng.integers(-1000, 1000, n).astype(np.int32)),
            "s": pa.array(words[rng.integers(0, len(words), n)], type=pa.string(), mask=rng.random(n) < 0.1),
            "cat": pa.array(cats[rng.integers(0, 100, n)], type=pa.string()),
            "b": pa.array(rng.random(n) < 0.5, mask=rng.random(n) < 0.02),
            "ts": pa.array(1_700_000_000_000_000 + np.arange(n, dtype=np.int64) * 997, type=pa.timestamp("us", tz="UTC")),
            "d": pa.array(rng.integers(0, 30000, n).astype(np.int32), type=pa.date32()),
            "t": pa.array(rng.integers(0, 86_400_000_000, n), type=pa.time64("us")),
            "dur": pa.array(rng.integers(-10**9, 10**9, n), type=pa.duration("ms"), mask=rng.random(n) < 0.3),
            "fsb": pa.array([bytes([k % 256, 7, 3, k // 256 % 256]) for k in range(n)], type=pa.binary(4)),
            "h": pa.array(rng.standard_normal(n).astype(np.float16)),
            "bin": pa.array([b"\x00\xff" * (k % 4) for k in range(n)], type=pa.binary()),
            "emb": pa.ExtensionArray.from_storage(tensor, pa.FixedSizeListArray.from_arrays(pa.array(emb), EMB)),
        }
    )


CONFIGS = {
    "one-group-zstd": dict(compression="zstd"),
    "many-groups-snappy": dict(compression="snappy", row_group_size=7_000),
    "no-dictionary-none": dict(compression="none", use_dictionary=False, row_group_size=10_000),
    "v2-pages-zstd": dict(compression="zstd", data_page_version="2.0", row_group_size=12_000),
    "v2-no-dictionary-gzip": dict(compression="gzip", data_page_version="2.0", use_dictionary=False),
    "small-pages-lz4": dict(compression="lz4", data_page_size=4096, row_group_size=9_999),
}


@pytest.fixture(scope="module")
def work(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("cache_build")


@pytest.fixture(scope="module")
def table() -> pa.Table:
    return realistic()


def files_equal(a: Path, b: Path) -> list[str]:
    """The names whose bytes differ between two table directories (and
    names present in one only)."""
    na = sorted(p.name for p in a.iterdir() if p.name != ".lock")
    nb = sorted(p.name for p in b.iterdir() if p.name != ".lock")
    if na != nb:
        return [f"names differ: {na} vs {nb}"]
    _, mismatch, errors = filecmp.cmpfiles(a, b, na, shallow=False)
    return mismatch + errors


def read_back(mm, cache: Path, work: Path) -> pa.Table:
    """The table as pyarrow reads it after ``mmarrow convert`` to Arrow IPC."""
    out = work / (cache.name + ".arrow")
    if out.exists():
        out.unlink()
    run_ok(mm, "convert", cache, out)
    with pa.memory_map(str(out)) as f:
        t = ipc.open_file(f).read_all()
    out.unlink()
    return t


@pytest.mark.parametrize("config", sorted(CONFIGS))
def test_page_level_equals_generic(mm, work, table, config):
    src = work / f"{config}.parquet"
    pq.write_table(table, src, **CONFIGS[config])
    fast = work / f"{config}-fast"
    out = run_ok(mm, "from-parquet", src, fast, "--threads", 2)
    assert "fast path" in out, f"the page-level path was not taken: {out}"
    generic = work / f"{config}-generic"
    out = run_ok(mm, "from-parquet", src, generic, "--generic")
    assert "fast path" not in out, out
    assert files_equal(fast, generic) == []
    one = work / f"{config}-one-thread"
    run_ok(mm, "from-parquet", src, one, "--threads", 1)
    assert files_equal(fast, one) == []
    # The values pyarrow reads from the source, and the checksums hold.
    got = read_back(mm, fast, work)
    want = pq.read_table(src)
    assert got.schema.equals(want.schema, check_metadata=False), (got.schema, want.schema)
    for name in want.column_names:
        assert got[name].combine_chunks().equals(want[name].combine_chunks()), name
    assert "ok" in run_ok(mm, "verify", fast)
    m = json.loads((fast / "manifest.json").read_text())
    assert m["source"]["path"] == str(src.resolve())
    for d in (fast, generic, one):
        shutil.rmtree(d)


def test_null_slots_are_zeros(mm, work, table):
    """Whatever a reader leaves in the slots of nulls, the table stores zeros
    (so that the files depend only on the values)."""
    src = work / "nulls.parquet"
    pq.write_table(table, src, row_group_size=5_000)
    for generic in ([], ["--generic"]):
        dst = work / ("nulls-g" if generic else "nulls")
        run_ok(mm, "from-parquet", src, dst, *generic)
        m = json.loads((dst / "manifest.json").read_text())
        col = next(c for c in m["columns"] if c["field"]["name"] == "x")
        values = np.fromfile(dst / col["node"]["buffers"][0]["file"], dtype="<f8")
        valid = np.unpackbits(np.fromfile(dst / col["node"]["validity"]["file"], dtype=np.uint8), bitorder="little")[:N]
        assert (values[valid == 0] == 0).all()
        assert np.array_equal(values[valid == 1], table["x"].drop_null().to_numpy())
        shutil.rmtree(dst)


def test_columns_the_page_level_decoder_leaves_to_the_generic_reader(mm, work):
    """Nested columns, dictionaries kept as dictionaries, nulls inside a
    fixed-size list: the same table as the generic path, and the values."""
    n = 5_000
    rng = np.random.default_rng(3)
    lists = pa.array([list(range(k % 5)) if k % 7 else None for k in range(n)], type=pa.list_(pa.int32()))
    structs = pa.array([{"a": k, "b": str(k)} for k in range(n)])
    dictionary = pa.array(["red", "green", None, "blue"] * (n // 4)).dictionary_encode()
    fsl = pa.FixedSizeListArray.from_arrays(pa.array(rng.standard_normal(n * 3)), 3, mask=pa.array(rng.random(n) < 0.1))
    t = pa.table({"id": np.arange(n), "lists": lists, "structs": structs, "dict": dictionary, "fsl": fsl})
    src = work / "nested.parquet"
    pq.write_table(t, src, row_group_size=2_000)
    fast, generic = work / "nested-fast", work / "nested-generic"
    run_ok(mm, "from-parquet", src, fast)
    run_ok(mm, "from-parquet", src, generic, "--generic")
    assert files_equal(fast, generic) == []
    got = read_back(mm, fast, work)
    want = pq.read_table(src)
    for name in want.column_names:
        assert got[name].combine_chunks().equals(want[name].combine_chunks()), name


def chunk_of(src: Path, group: int, column: str) -> tuple[int, int]:
    """The byte range of a column chunk."""
    md = pq.ParquetFile(src).metadata
    rg = md.row_group(group)
    for i in range(rg.num_columns):
        c = rg.column(i)
        if c.path_in_schema.split(".")[0] == column:
            start = c.dictionary_page_offset if c.has_dictionary_page else c.data_page_offset
            return start, c.total_compressed_size
    raise KeyError(column)


@pytest.mark.parametrize("where", ["header", "body"])
def test_a_corrupt_page_names_the_file_column_and_row_group(mm, work, table, where):
    src = work / f"corrupt-{where}.parquet"
    pq.write_table(table, src, compression="zstd", use_dictionary=False, row_group_size=10_000)
    start, size = chunk_of(src, 1, "s")
    raw = bytearray(src.read_bytes())
    if where == "header":
        # The first page header: its type and sizes become garbage.
        raw[start : start + 12] = b"\x5f" * 12
    else:
        # Inside the compressed strings of the first page (compressible
        # data: zstd blocks, not raw ones, so the damage is detected).
        raw[start + 300 : start + 600] = b"\xa5\x5a" * 150
    src.write_bytes(bytes(raw))
    dst = work / f"corrupt-{where}-cache"
    proc = mm.cli("from-parquet", src, dst)
    assert_cli_error(proc, src, 'column "s"', "row group 1")
    assert not dst.exists()
    assert leftovers(dst) == []


def test_a_truncated_column_chunk_is_an_error(mm, work, table):
    """Pages that claim more bytes than their chunk has: nothing left behind."""
    src = work / "truncated.parquet"
    pq.write_table(table, src, compression="snappy", row_group_size=10_000)
    start, size = chunk_of(src, 2, "emb")
    raw = bytearray(src.read_bytes())
    # Cut the chunk's last 1000 bytes out, keeping the footer: every later
    # offset is off, and the chunk ends early.
    cut = start + size - 1000
    src.write_bytes(bytes(raw[:cut] + raw[cut + 1000 :]))
    dst = work / "truncated-cache"
    proc = mm.cli("from-parquet", src, dst)
    assert proc.returncode == 2, proc.stderr
    assert str(src) in proc.stderr and len(proc.stderr.splitlines()) == 1, proc.stderr
    assert not dst.exists()
    assert leftovers(dst) == []


def test_if_stale_rebuilds_only_when_the_source_changed(mm, work, table):
    src = work / "stale.parquet"
    pq.write_table(table.slice(0, 1000), src)
    dst = work / "stale-cache"
    out = run_ok(mm, "from-parquet", src, dst, "--if-stale")
    assert "1000 rows" in out and "up to date" not in out, out
    made = (dst / "manifest.json").stat().st_mtime_ns
    out = run_ok(mm, "from-parquet", src, dst, "--if-stale")
    assert "up to date" in out, out
    assert (dst / "manifest.json").stat().st_mtime_ns == made
    # `convert` decides the same way.
    assert "up to date" in run_ok(mm, "convert", src, dst, "--if-stale")
    info = mm.info(dst)
    assert info["source"]["path"] == str(src.resolve())
    assert info["source"]["size"] == src.stat().st_size
    assert "unchanged since" in run_ok(mm, "info", dst)
    # New contents (same name): rebuilt, atomically replacing the table.
    pq.write_table(table.slice(0, 2000), src)
    assert "changed since" in run_ok(mm, "info", dst)
    out = run_ok(mm, "from-parquet", src, dst, "--if-stale")
    assert "2000 rows" in out, out
    assert mm.info(dst)["rows"] == 2000
    # Only the modification time changed: rebuilt too (cheap to be safe).
    os.utime(src, ns=(made, made))
    assert "up to date" not in run_ok(mm, "from-parquet", src, dst, "--if-stale")
    assert leftovers(dst) == []
    # Without --if-stale an existing destination is refused as before.
    assert_cli_error(mm.cli("from-parquet", src, dst), dst, "exists")


def test_if_stale_from_arrow_ipc(mm, work, table):
    src = work / "stale.arrow"
    with pa.OSFile(str(src), "wb") as f, ipc.new_file(f, table.schema) as w:
        w.write_table(table.slice(0, 500))
    dst = work / "stale-ipc-cache"
    assert "500 rows" in run_ok(mm, "convert", src, dst, "--if-stale")
    assert "up to date" in run_ok(mm, "convert", src, dst, "--if-stale")
    assert mm.info(dst)["source"]["format"] == "ipc"


def test_if_stale_refuses_what_it_cannot_track(mm, work, table):
    src = work / "stale2.parquet"
    pq.write_table(table.slice(0, 100), src)
    # An array destination has no place for the fingerprint.
    proc = mm.cli("from-parquet", src, work / "x.npy", "--column", "id", "--if-stale")
    assert_cli_error(proc, work / "x.npy", "--if-stale", "table destination")
    # A directory that is not an mmarrow table is never replaced.
    other = work / "not-a-table"
    other.mkdir()
    (other / "keep.txt").write_text("mine")
    proc = mm.cli("from-parquet", src, other, "--if-stale")
    assert_cli_error(proc, other, "not an mmarrow table")
    assert (other / "keep.txt").read_text() == "mine"


def views_of(t: pa.Table) -> pa.Table:
    """``t`` with its strings and binaries (top level, in lists and
    structs) as Arrow views: what ``--string-view`` stores."""

    def view(ty: pa.DataType) -> pa.DataType:
        if pa.types.is_string(ty) or pa.types.is_large_string(ty):
            return pa.string_view()
        if pa.types.is_binary(ty) or pa.types.is_large_binary(ty):
            return pa.binary_view()
        if pa.types.is_list(ty):
            return pa.list_(pa.field(ty.value_field.name, view(ty.value_type), ty.value_field.nullable))
        if pa.types.is_struct(ty):
            return pa.struct([pa.field(f.name, view(f.type), f.nullable) for f in ty])
        return ty

    return pa.table({n: t[n].cast(view(t[n].type)) for n in t.column_names})


@pytest.mark.parametrize("generic", [False, True], ids=["page-level", "generic"])
def test_string_view_stores_strings_as_views(mm, work, table, generic):
    n = 5000
    extra = pa.table(
        {
            "large": pa.array([f"large {k} " + "z" * (k % 30) for k in range(n)], type=pa.large_string()),
            "tags": pa.array([None if k % 9 == 0 else [f"t{k}", "a tag longer than twelve"] for k in range(n)]),
            "st": pa.array([{"a": None if k % 4 == 0 else f"s{k}" * 5, "n": k} for k in range(n)]),
        }
    )
    t = table.slice(0, n)
    for name in extra.column_names:
        t = t.append_column(name, extra[name])
    src = work / f"views-{generic}.parquet"
    pq.write_table(t, src, row_group_size=2000)
    dst = work / f"views-{generic}"
    args = ["--generic"] if generic else []
    run_ok(mm, "from-parquet", src, dst, "--string-view", *args)
    m = json.loads((dst / "manifest.json").read_text())
    types = {c["field"]["name"]: c["field"]["type"]["name"] for c in m["columns"]}
    assert types["s"] == types["cat"] == types["large"] == "utf8_view", types
    assert types["bin"] == "binary_view", types
    # The values pyarrow reads from the source, as views.
    got = read_back(mm, dst, work)
    want = views_of(pq.read_table(src))
    for name in want.column_names:
        g, w = got[name].combine_chunks(), want[name].combine_chunks()
        assert g.type == w.type, (name, g.type, w.type)
        assert g.equals(w), name
    assert "ok" in run_ok(mm, "verify", dst)
    # The same from an Arrow IPC source.
    ipc_src = work / f"views-{generic}.arrow"
    with pa.OSFile(str(ipc_src), "wb") as f, ipc.new_file(f, t.schema) as w:
        w.write_table(t, max_chunksize=1500)
    dst_ipc = work / f"views-ipc-{generic}"
    run_ok(mm, "convert", ipc_src, dst_ipc, "--string-view")
    got = read_back(mm, dst_ipc, work)
    for name in want.column_names:
        assert got[name].combine_chunks().equals(want[name].combine_chunks()), name
    shutil.rmtree(dst)
    shutil.rmtree(dst_ipc)


def test_if_stale_rebuilds_a_plain_cache_asked_for_string_views(mm, work, table):
    src = work / "stale-views.parquet"
    pq.write_table(table.slice(0, 800), src)
    dst = work / "stale-views"
    run_ok(mm, "from-parquet", src, dst, "--if-stale")
    assert "up to date" in run_ok(mm, "from-parquet", src, dst, "--if-stale")
    out = run_ok(mm, "from-parquet", src, dst, "--if-stale", "--string-view")
    assert "up to date" not in out, out
    assert "utf8_view" in (dst / "manifest.json").read_text()
    assert "up to date" in run_ok(mm, "from-parquet", src, dst, "--if-stale", "--string-view")
    # Views are a table's layout: asked of an array destination, refused.
    npy = work / "stale-views-id.npy"
    assert_cli_error(mm.cli("from-parquet", src, npy, "--column", "id", "--string-view"), npy, "table destinations")
    assert not npy.exists()
