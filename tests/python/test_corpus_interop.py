"""The Apache corpora (apache/parquet-testing, apache/arrow-testing) and a
realistic nested table, through mmarrow tables and back (issue 11, "Interop").

For every corpus file pyarrow reads (tests/corpus/peers/*/README.md lists
them, tests/corpus/peers/fetch.py selects and copies them):

* Parquet: ``from-parquet SRC t``, ``verify t``, ``to-parquet t out.parquet``
  and ``convert t out.arrow``: pyarrow reads both outputs equal to the
  original (schema with metadata, and values);
* IPC: ``convert SRC t/``, ``verify t``, ``convert t out.arrow`` and
  ``to-parquet t out.parquet``: the IPC output equals the original, the
  Parquet output equals what pyarrow's own Parquet round trip of the
  original gives (Parquet cannot hold every Arrow type: pyarrow itself reads
  some back as another type);
* polars and DuckDB read the outputs and give the values they give for the
  original (skipped, naming the reason, only where they cannot read the
  original either);
* big-endian IPC files are refused: exit 2, one line naming the file.

Then a realistic nested pyarrow table (tokens ``list<int32>``, a struct, a
dictionary whose values change between batches, a map, a large_list, view
types), appended batch by batch, round-trips the same way, and numpy's
``np.memmap`` opens its numeric leaves with the file names and dtypes the
manifest records.
"""

from __future__ import annotations

import json
import math
import struct
from pathlib import Path

import duckdb
import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.ipc as ipc
import pyarrow.parquet as pq
import pytest

from conftest import REPO_ROOT, assert_cli_error

PEERS = REPO_ROOT / "tests" / "corpus" / "peers"
PARQUET_DIR = PEERS / "parquet-testing"
IPC_DIR = PEERS / "arrow-testing" / "integration"
BIG_ENDIAN_DIR = IPC_DIR / "1.0.0-bigendian"

PARQUET_FILES = sorted(PARQUET_DIR.rglob("*.parquet"))
IPC_FILES = sorted(p for p in IPC_DIR.rglob("*.arrow") if p.parent != BIG_ENDIAN_DIR)
BIG_ENDIAN_FILES = sorted(BIG_ENDIAN_DIR.glob("*.arrow"))


def corpus_id(path: Path) -> str:
    return str(path.relative_to(PEERS))


def test_the_corpus_is_there():
    """The file lists below are globbed: an empty glob would pass vacuously."""
    assert len(PARQUET_FILES) >= 60, PARQUET_FILES
    assert len(IPC_FILES) >= 35, IPC_FILES
    assert len(BIG_ENDIAN_FILES) >= 15, BIG_ENDIAN_FILES
    for d in (PARQUET_DIR, PEERS / "arrow-testing"):
        assert (d / "LICENSE.txt").is_file()
    for readme, files, base in [
        (PARQUET_DIR / "README.md", PARQUET_FILES, PARQUET_DIR),
        (IPC_DIR / "README.md", IPC_FILES + BIG_ENDIAN_FILES, IPC_DIR),
    ]:
        text = readme.read_text()
        for f in files:
            assert f"`{f.relative_to(base)}`" in text, f"{f} is not listed in {readme}"


# --------------------------------------------------------------------------
# Comparisons


def _normalize(v):
    """A Python value with NaN made comparable (Arrow's equals() has NaN != NaN)."""
    if isinstance(v, float) and math.isnan(v):
        return "NaN"
    if isinstance(v, dict):
        return {k: _normalize(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return type(v)(_normalize(x) for x in v)
    return v


def column_diff(got: pa.ChunkedArray, want: pa.ChunkedArray) -> str | None:
    """None when the columns hold equal values (NaN equal to NaN; dictionaries
    by their decoded values, since appending unifies them), else the first
    differing row."""
    if len(got) != len(want):
        return f"{len(got)} rows, expected {len(want)}"
    if got.equals(want):
        return None
    g, w = got.to_pylist(), want.to_pylist()
    for i, (a, b) in enumerate(zip(g, w)):
        if _normalize(a) != _normalize(b):
            return f"row {i}: got {a!r:.200}, expected {b!r:.200}"
    return None


def field_and_values_diff(gf: pa.Field, gc: pa.ChunkedArray, wf: pa.Field, wc: pa.ChunkedArray) -> str | None:
    """None when both columns have the same field (metadata included) and
    values, else what differs."""
    if not gf.equals(wf, check_metadata=True):
        return f"field {gf} {gf.metadata or ''}, expected {wf} {wf.metadata or ''}"
    return column_diff(gc, wc)


def assert_same_table(got: pa.Table, want: pa.Table, what: str, alternatives=None,
                      metadata: tuple[dict, dict] | None = None):
    """Schema (field and schema metadata included) and values equal, column
    by column (by position: field names may repeat). ``alternatives(i)``
    lists other acceptable (field, column) forms of column ``i``: what pyarrow
    itself makes of the original through the same format (see the callers
    for why). ``metadata``: the schema metadata (got, expected) when not
    those of the tables."""
    assert got.schema.names == want.schema.names, f"{what}: columns {got.schema.names}, expected {want.schema.names}"
    got_md, want_md = metadata or (got.schema.metadata or {}, want.schema.metadata or {})
    assert got_md == want_md, f"{what}: schema metadata {got_md}, expected {want_md}"
    assert got.num_rows == want.num_rows, f"{what}: {got.num_rows} rows, expected {want.num_rows}"
    problems = []
    for i, name in enumerate(want.schema.names):
        gf, gc = got.schema.field(i), got.column(i)
        diff = field_and_values_diff(gf, gc, want.schema.field(i), want.column(i))
        if diff is not None and alternatives is not None:
            if any(field_and_values_diff(gf, gc, af, ac) is None for af, ac in alternatives(i)):
                diff = None
        if diff is not None:
            problems.append(f"column {i} {name!r}: {diff}")
    assert not problems, f"{what}:\n" + "\n".join(problems)


def table_alternatives(table: pa.Table):
    return lambda i: [(table.schema.field(i), table.column(i))]


def read_ipc(path: Path) -> pa.Table:
    with ipc.open_file(path) as r:
        return r.read_all()


def read_parquet(path: Path) -> pa.Table:
    # ParquetFile, not read_table: the dataset API refuses repeated names.
    return pq.ParquetFile(path).read()


def parquet_metadata(path: Path) -> dict:
    """A Parquet file's metadata as one dictionary: its key-value metadata
    (but ARROW:schema) and the metadata of the Arrow schema stored in it.
    pyarrow shows either, depending on the API (``ParquetFile.read`` the
    key-value pairs, ``schema_arrow`` and ``read_table`` the stored schema's);
    mmarrow keeps both, as the table's metadata, and writes them into the
    Arrow schema of its output."""
    f = pq.ParquetFile(path)
    md = {k: v for k, v in (f.metadata.metadata or {}).items() if k != b"ARROW:schema"}
    md.update(f.schema_arrow.metadata or {})
    return md


def through_ipc(table: pa.Table) -> pa.Table:
    """``table`` written and read back by pyarrow's own IPC file writer and reader."""
    sink = pa.BufferOutputStream()
    with ipc.new_file(sink, table.schema) as w:
        w.write_table(table)
    return ipc.open_file(sink.getvalue()).read_all()


def run_ok(mm, *args) -> str:
    return mm.ok(mm.cli(*args))


def leftovers(dst: Path) -> list[str]:
    """Temporary siblings a conversion to ``dst`` may leave behind."""
    name = Path(str(dst).rstrip("/")).name
    parent = Path(str(dst).rstrip("/")).parent
    return sorted(p.name for p in parent.iterdir() if p.name.startswith(f".{name}.tmp-"))


def polars_or_none(read, path: Path):
    try:
        return read(path), None
    except BaseException as e:  # noqa: BLE001 - polars panics raise PanicException (a BaseException)
        return None, f"{type(e).__name__}: {str(e).splitlines()[0][:200] if str(e) else ''}"


def assert_polars_same(read, got_path: Path, want_path: Path, what: str):
    """polars reads ``got_path`` as it reads ``want_path`` (schema and values).
    Skipped only when polars cannot read ``want_path`` either."""
    want, why = polars_or_none(read, want_path)
    if want is None:
        pytest.skip(f"polars cannot read the original {want_path.name}: {why}")
    got = read(got_path)
    assert got.schema == want.schema, f"{what}: polars schema {got.schema}, expected {want.schema}"
    assert got.equals(want, null_equal=True), f"{what}: polars values differ\n{got}\n{want}"


def duckdb_rows(path: Path):
    con = duckdb.connect()
    rel = con.execute("SELECT * FROM read_parquet(?)", [str(path)])
    types = [(d[0], str(d[1])) for d in rel.description]
    return types, _normalize(rel.fetchall())


def assert_duckdb_same(got_path: Path, want_path: Path, what: str):
    """DuckDB's read_parquet gives the same column types and rows for both.
    Skipped only when DuckDB cannot read ``want_path`` either."""
    try:
        want = duckdb_rows(want_path)
    except duckdb.Error as e:
        pytest.skip(f"duckdb cannot read the original {want_path.name}: {str(e).splitlines()[0][:200]}")
    got = duckdb_rows(got_path)
    assert got[0] == want[0], f"{what}: duckdb types {got[0]}, expected {want[0]}"
    assert got[1] == want[1], f"{what}: duckdb rows differ"


# --------------------------------------------------------------------------
# Conversions, once per file (module cache: the reader tests reuse them)


class RoundTrip:
    """A source file converted to a table, verified, and written back."""

    def __init__(self, mm, src: Path, work: Path, kind: str):
        self.src = src
        self.table = work / "t"
        if kind == "parquet":
            flags, _ = PARQUET_OPTIONS.get(src.name, ([], {}))
            run_ok(mm, "from-parquet", "--table", *flags, src, self.table)
        else:
            run_ok(mm, "convert", src, f"{self.table}/")
        assert (self.table / "manifest.json").is_file(), sorted(p.name for p in work.iterdir())
        assert leftovers(self.table) == []
        run_ok(mm, "verify", self.table)
        self.ipc = work / "out.arrow"
        run_ok(mm, "convert", self.table, self.ipc)
        self.parquet = work / "out.parquet"
        # May be refused (columns Parquet cannot hold): the callers check when.
        self.to_parquet = mm.cli("to-parquet", self.table, self.parquet)
        assert leftovers(self.parquet) == [] and leftovers(self.ipc) == []
        assert self.parquet.exists() == (self.to_parquet.returncode == 0), self.to_parquet.stderr

    def parquet_ok(self) -> Path:
        mm_ok = self.to_parquet
        assert mm_ok.returncode == 0, f"{mm_ok.args} exited {mm_ok.returncode}: {mm_ok.stderr}"
        return self.parquet

    @property
    def manifest(self) -> dict:
        return json.loads((self.table / "manifest.json").read_text())


@pytest.fixture(scope="module")
def round_trips(mm, tmp_path_factory):
    cache: dict[Path, RoundTrip] = {}

    def get(src: Path, kind: str) -> RoundTrip:
        if src not in cache:
            cache[src] = RoundTrip(mm, src, tmp_path_factory.mktemp(src.stem[:40]), kind)
        return cache[src]

    return get


# --------------------------------------------------------------------------
# 1. Parquet files of apache/parquet-testing

# Files read with a non-default option, and the same option for pyarrow.
# int96_from_spark.parquet holds Spark INT96 timestamps past 2262: pyarrow
# reads them as nanoseconds by default and wraps them around silently, mmarrow
# refuses (tested below) and reads them in microseconds when asked.
PARQUET_OPTIONS = {
    "int96_from_spark.parquet": (["--int96-unit", "us"], {"coerce_int96_timestamp_unit": "us"}),
}


def pyarrow_reads(src: Path) -> pa.Table:
    _, kwargs = PARQUET_OPTIONS.get(src.name, ([], {}))
    return pq.ParquetFile(src, **kwargs).read()


@pytest.mark.parametrize("src", PARQUET_FILES, ids=corpus_id)
def test_parquet_corpus_round_trips(round_trips, src):
    original = pyarrow_reads(src)
    rt = round_trips(src, "parquet")
    assert rt.manifest["rows"] == original.num_rows
    # mmarrow writes the Arrow schema into its Parquet file, so pyarrow reads
    # back the types the table holds: those of the original as read.
    assert_same_table(read_parquet(rt.parquet_ok()), original, "from-parquet + to-parquet",
                      metadata=(parquet_metadata(rt.parquet), parquet_metadata(src)))
    # pyarrow's IPC reader names every map's entries "entries", where its
    # Parquet reader names them after the map column: a map column read from
    # Parquet is compared with pyarrow's own IPC round trip of it.
    assert_same_table(read_ipc(rt.ipc), original, "from-parquet + convert to IPC", alternatives=table_alternatives(through_ipc(original)),
                      metadata=(read_ipc(rt.ipc).schema.metadata or {}, parquet_metadata(src)))


def test_int96_past_2262_is_refused_by_default(mm, tmp_path):
    src = PARQUET_DIR / "int96_from_spark.parquet"
    dst = tmp_path / "t"
    assert_cli_error(mm.cli("from-parquet", "--table", src, dst), src, "INT96", "--int96-unit")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("src", PARQUET_FILES, ids=corpus_id)
def test_parquet_corpus_polars(round_trips, src):
    rt = round_trips(src, "parquet")
    assert_polars_same(pl.read_parquet, rt.parquet_ok(), src, "to-parquet")


@pytest.mark.parametrize("src", PARQUET_FILES, ids=corpus_id)
def test_parquet_corpus_duckdb(round_trips, src):
    rt = round_trips(src, "parquet")
    assert_duckdb_same(rt.parquet_ok(), src, "to-parquet")


# --------------------------------------------------------------------------
# 2. Arrow IPC files of apache/arrow-testing (little-endian)


def pyarrow_through_parquet(table: pa.Table) -> pa.Table | None:
    """``table`` written and read back by pyarrow's own Parquet writer and
    reader, or None when pyarrow cannot write it."""
    sink = pa.BufferOutputStream()
    try:
        pq.write_table(table, sink)
    except pa.ArrowException:
        return None
    return pq.ParquetFile(pa.BufferReader(sink.getvalue())).read()


def parquet_forms(original: pa.Table, i: int, rt: RoundTrip | None = None) -> list[tuple[pa.Field, pa.ChunkedArray]]:
    """The acceptable forms of column ``i`` of an IPC original after a trip
    through Parquet, besides the column itself:

    * what pyarrow's own Parquet round trip of the column gives (Parquet
      cannot hold every Arrow type as itself: pyarrow reads a date64 back as
      date32, a time32[s] as time32[ms], a dictionary of integers decoded);
    * where pyarrow cannot write the column at all, the form the Parquet
      format gives it: run-end encoded columns decoded (Parquet has no run
      ends; pyarrow reads the plain values), INTERVAL (months, days,
      milliseconds as three little-endian 32-bit integers, which pyarrow
      reads as fixed_size_binary[12]);
    * maps with the canonical entries/key/value names (pyarrow's IPC reader
      renames a map's fields, so the original as read has lost names that
      mmarrow keeps).
    """
    f, col = original.schema.field(i), original.column(i)
    forms = []
    own = pyarrow_through_parquet(original.select([i]))
    if own is not None:
        forms.append((own.schema.field(0), own.column(0)))
    t = f.type
    if pa.types.is_run_end_encoded(t):
        decoded = pa.chunked_array([pc.run_end_decode(c) for c in col.chunks],
                                   t.value_type)
        forms.append((f.with_type(t.value_type), decoded))
    if str(t) in ("month_interval", "day_time_interval"):
        forms.append((f.with_type(pa.binary(12)), as_parquet_interval(rt, i, str(t)) if rt else None))
    if pa.types.is_dictionary(t) and own is None and not pa.types.is_nested(t.value_type):
        # pyarrow reads only string and binary dictionaries back as such.
        forms.append((f.with_type(t.value_type), col.cast(t.value_type)))
    return forms


def as_parquet_interval(rt: RoundTrip, i: int, interval: str) -> pa.ChunkedArray:
    """Column ``i`` of a table, a month or day-time interval, as Parquet's
    INTERVAL: months, days, milliseconds, three little-endian 32-bit
    integers. pyarrow cannot hand these types to Python, so the values come
    from the table's own files (``np.fromfile`` with the manifest's names;
    the IPC round trip shows they equal the original)."""
    node = rt.manifest["columns"][i]["node"]
    n = node["length"]
    (values,) = node["buffers"]
    raw = np.fromfile(rt.table / values["file"], np.uint8)[: values["length"]].view("<u4")
    out = np.zeros((n, 3), "<u4")
    if interval == "month_interval":
        out[:, 0] = raw
    else:
        out[:, 1:] = raw.reshape(n, 2)
    valid = read_bitmap(rt.table / node["validity"]["file"], n) if node.get("validity") else np.ones(n, bool)
    return pa.chunked_array([pa.array([out[k].tobytes() if valid[k] else None for k in range(n)], pa.binary(12))])


def read_bitmap(path: Path, n: int) -> np.ndarray:
    return np.unpackbits(np.fromfile(path, np.uint8), bitorder="little")[:n].astype(bool)


def canonical_map_names(t: pa.DataType) -> pa.DataType:
    """``t`` with every map's key and item fields named "key" and "value"
    (pyarrow's IPC reader names them so whatever the file says)."""
    if pa.types.is_map(t):
        return pa.map_(pa.field("key", canonical_map_names(t.key_type), nullable=False),
                       t.item_field.with_name("value").with_type(canonical_map_names(t.item_type)),
                       t.keys_sorted)
    if pa.types.is_struct(t):
        return pa.struct([t.field(k).with_type(canonical_map_names(t.field(k).type)) for k in range(t.num_fields)])
    if pa.types.is_list(t) or pa.types.is_large_list(t):
        ctor = pa.list_ if pa.types.is_list(t) else pa.large_list
        return ctor(t.value_field.with_type(canonical_map_names(t.value_type)))
    return t


@pytest.mark.parametrize("src", IPC_FILES, ids=corpus_id)
def test_ipc_corpus_round_trips(round_trips, src):
    original = read_ipc(src)
    rt = round_trips(src, "ipc")
    assert rt.manifest["rows"] == original.num_rows
    assert_same_table(read_ipc(rt.ipc), original, "convert to table + convert to IPC")
    unwritable = [f.name for k, f in enumerate(original.schema) if pyarrow_through_parquet(original.select([k])) is None
                  and not parquet_forms(original, k)]
    if rt.to_parquet.returncode != 0:
        # Refused: only for columns pyarrow cannot write to Parquet either,
        # each named, in one line, exit 2.
        assert unwritable, f"to-parquet refused columns pyarrow writes: {rt.to_parquet.stderr}"
        line = assert_cli_error(rt.to_parquet, rt.table, "Parquet cannot hold")
        for name in unwritable:
            assert f'"{name}"' in line, f"{name} not named in {line!r}"
        return
    got = read_parquet(rt.parquet)
    # Maps as read back from Parquet keep the names the file has (pyarrow's
    # IPC reader showed the original with canonical names).
    if any(pa.types.is_map(f.type) or pa.types.is_struct(f.type) or pa.types.is_list(f.type) for f in got.schema):
        renamed = pa.schema([f.with_type(canonical_map_names(f.type)) for f in got.schema], metadata=got.schema.metadata)
        if str(renamed) != str(got.schema):  # pyarrow's == ignores map field names
            got = got.cast(renamed)
    assert_same_table(got, original, "convert to table + to-parquet",
                      alternatives=lambda i: parquet_forms(original, i, rt),
                      metadata=(parquet_metadata(rt.parquet), original.schema.metadata or {}))


@pytest.mark.parametrize("src", IPC_FILES, ids=corpus_id)
def test_ipc_corpus_polars(round_trips, src):
    rt = round_trips(src, "ipc")
    assert_polars_same(pl.read_ipc, rt.ipc, src, "convert to IPC")


@pytest.fixture(scope="module")
def pyarrow_parquet_of(tmp_path_factory):
    """pyarrow's own Parquet file of an IPC original, or None when pyarrow
    cannot write it: what polars and DuckDB read mmarrow's output against."""
    work = tmp_path_factory.mktemp("pyarrow_parquet")

    def get(src: Path) -> Path | None:
        dst = work / f"{src.parent.name}-{src.stem}.parquet"
        if not dst.exists():
            try:
                pq.write_table(read_ipc(src), dst)
            except pa.ArrowException:
                return None
        return dst

    return get


@pytest.mark.parametrize("src", IPC_FILES, ids=corpus_id)
def test_ipc_corpus_parquet_output_polars_duckdb(round_trips, pyarrow_parquet_of, src):
    """polars and DuckDB read mmarrow's Parquet output of the table as they
    read pyarrow's Parquet file of the same original."""
    rt = round_trips(src, "ipc")
    ref = pyarrow_parquet_of(src)
    if ref is None:
        pytest.skip(f"pyarrow cannot write {src.name} to Parquet: no reference file for polars and DuckDB")
    assert_polars_same(pl.read_parquet, rt.parquet_ok(), ref, "to-parquet")
    assert_duckdb_same(rt.parquet_ok(), ref, "to-parquet")


# --------------------------------------------------------------------------
# 3. Big-endian IPC files: refused, saying so


@pytest.mark.parametrize("src", BIG_ENDIAN_FILES, ids=corpus_id)
def test_big_endian_ipc_is_refused(mm, tmp_path, src):
    # pyarrow reads it (it swaps): the file is fine, mmarrow declines to swap.
    assert read_ipc(src).schema is not None
    dst = tmp_path / "t"
    assert_cli_error(mm.cli("convert", src, f"{dst}/"), src, "big-endian")
    assert not dst.exists()
    assert leftovers(dst) == []
    assert list(tmp_path.iterdir()) == []
