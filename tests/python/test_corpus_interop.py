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

from conftest import REPO_ROOT, assert_cli_error, leftovers, run_ok

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
    if pa.types.is_timestamp(got.type) and got.type == want.type:
        # Python's datetime ends at year 9999 (Spark's INT96 file goes past).
        got, want = got.cast(pa.int64()), want.cast(pa.int64())
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


def polars_or_none(read, path: Path):
    try:
        return read(path), None
    except BaseException as e:  # noqa: BLE001 - polars panics raise PanicException (a BaseException)
        return None, f"{type(e).__name__}: {str(e).splitlines()[0][:200] if str(e) else ''}"


def assert_polars_same(read, got_path: Path, want_path: Path, what: str, rows: int | None = None,
                       zone_of_legacy_utc: bool = False):
    """polars reads ``got_path`` as it reads ``want_path`` (schema and values).
    Skipped only when polars cannot read ``want_path`` either. ``rows``: the
    rows pyarrow reads from the original; when polars reads another count
    (it stops at a footer's row count, as the parquet crate did), mmarrow's
    output must hold pyarrow's rows instead. ``zone_of_legacy_utc``: the
    original's timestamps use Parquet's legacy converted type, which means
    UTC (pyarrow and mmarrow read it so) but which polars reads without a
    zone: mmarrow's output says UTC explicitly, and is compared zone aside."""
    want, why = polars_or_none(read, want_path)
    if want is None:
        pytest.skip(f"polars cannot read the original {want_path.name}: {why}")
    got = read(got_path)
    if rows is not None and want.height != rows:
        assert got.height == rows, f"{what}: polars reads {got.height} rows, pyarrow {rows} from the original"
        want = pl.from_arrow(pq.ParquetFile(want_path).read())
    if zone_of_legacy_utc and got.schema != want.schema:
        got = got.cast(dict(want.schema))
    assert got.schema == want.schema, f"{what}: polars schema {got.schema}, expected {want.schema}"
    assert got.equals(want, null_equal=True), f"{what}: polars values differ\n{got}\n{want}"


def duckdb_rows(path: Path, same_as: dict[str, str] | None = None):
    """Column types and rows as DuckDB reads them; ``same_as`` renames types
    (in nested types too) that hold the same values."""
    con = duckdb.connect()
    rel = con.execute("SELECT * FROM read_parquet(?)", [str(path)])
    types = [(d[0], str(d[1])) for d in rel.description]
    for a, b in (same_as or {}).items():
        types = [(n, t.replace(a, b)) for n, t in types]
    rows = rel.fetchall()
    if same_as:
        rows = _naive_utc(rows)
    return types, _normalize(rows)


def _naive_utc(v):
    """Zone-aware datetimes as naive UTC ones, in nested values too."""
    import datetime as dt

    if isinstance(v, dt.datetime) and v.tzinfo is not None:
        return v.astimezone(dt.timezone.utc).replace(tzinfo=None)
    if isinstance(v, str) and v.endswith("+00") and v[:-3].replace("-", "").replace(":", "").replace(" ", "").isdigit():
        return v[:-3]  # DuckDB's text for an instant past year 9999, in UTC
    if isinstance(v, dict):
        return {k: _naive_utc(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return type(v)(_naive_utc(x) for x in v)
    return v


def assert_duckdb_same(got_path: Path, want_path: Path, what: str, same_as: dict[str, str] | None = None):
    """DuckDB's read_parquet gives the same column types and rows for both.
    Skipped only when DuckDB cannot read ``want_path`` either. ``same_as``:
    type names that are the same values for this file (see the callers)."""
    try:
        want = duckdb_rows(want_path, same_as)
    except duckdb.Error as e:
        pytest.skip(f"duckdb cannot read the original {want_path.name}: {str(e).splitlines()[0][:200]}")
    got = duckdb_rows(got_path, same_as)
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
        # info and head handle every type (head shows the first rows).
        info = json.loads(run_ok(mm, "info", "--json", self.table))
        assert info["kind"] == "table" and info["commit_log"]["file"], info
        head = run_ok(mm, "head", "-n", "3", self.table)
        assert all(f["name"] in head for f in info["columns"][:3] if f["name"]), head
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
# refuses (tested below) and reads them in milliseconds when asked (its row 5
# is past int64 microseconds too: refused in microseconds, tested below).
PARQUET_OPTIONS = {
    "int96_from_spark.parquet": (["--int96-unit", "ms"], {"coerce_int96_timestamp_unit": "ms"}),
}
# Row 5 of int96_from_spark.parquet has a Julian day of 4,189,319,493, past
# 2^31: pyarrow reads the day as unsigned (a year 11 million), the parquet
# crate as the signed 32-bit integer the INT96 layout (Impala's) defines, a
# date before year -290,000. The round trip compares the other rows, and
# that row as the parquet crate reads it (see test_int96_past_2262_...).
INT96_SIGNED_DAY_ROWS = {"int96_from_spark.parquet": [5]}


# pyarrow reads these, the parquet crate (59) that mmarrow reads Parquet
# with cannot: mmarrow refuses them cleanly (exit 2, one line naming the
# file), tested below, instead of converting them.
CRATE_CANNOT_READ = {
    # The footer's thrift has a list whose element type the crate's decoder
    # rejects ("Expected list element type of I64 but got I16").
    "dict-page-offset-zero.parquet": "not a readable Parquet file",
    # A dictionary page header the crate cannot parse ("Invalid page header").
    "nation.dict-malformed.parquet": "Invalid page header",
}

# Timestamps of Parquet's legacy converted type (TIMESTAMP_MICROS), UTC by
# the format's definition: pyarrow and mmarrow read them as UTC and mmarrow
# writes the logical type saying so; polars and DuckDB read the legacy type
# without a zone, so their readings of the two files differ by the zone only.
LEGACY_UTC = {"nested_structs.rust.parquet"}

# INT96 timestamps: DuckDB reads them as TIMESTAMP (microseconds); mmarrow,
# as pyarrow, reads nanoseconds and writes INT64 nanoseconds, which DuckDB
# reads as TIMESTAMP_NS: the same instants.
INT96_FILES = {"alltypes_plain.parquet", "alltypes_plain.snappy.parquet", "alltypes_dictionary.parquet",
               "int96_from_spark.parquet"}

# The Parquet GEOMETRY/GEOGRAPHY logical types: the parquet crate's writer
# (59, without its geospatial feature) writes the column's bytes as plain
# BYTE_ARRAY, so DuckDB reads mmarrow's output as BLOB where it reads the
# original as GEOMETRY. pyarrow reads both alike (the round trip passes).
GEOSPATIAL_LOST = "mmarrow's Parquet output loses the GEOMETRY logical type (parquet crate 59 writes plain BYTE_ARRAY)"


def pyarrow_reads(src: Path) -> pa.Table:
    _, kwargs = PARQUET_OPTIONS.get(src.name, ([], {}))
    return pq.ParquetFile(src, **kwargs).read()


def readable(src: Path) -> list:
    return [src] if src.name not in CRATE_CANNOT_READ else []


@pytest.mark.parametrize("src", [p for p in PARQUET_FILES if p.name in CRATE_CANNOT_READ], ids=corpus_id)
def test_parquet_files_the_crate_cannot_read_are_refused_cleanly(mm, tmp_path, src):
    assert pyarrow_reads(src).num_rows > 0
    dst = tmp_path / "t"
    assert_cli_error(mm.cli("from-parquet", "--table", src, dst), src, CRATE_CANNOT_READ[src.name])
    assert list(tmp_path.iterdir()) == []


def test_every_file_the_crate_cannot_read_is_in_the_corpus():
    assert {p.name for p in PARQUET_FILES} >= set(CRATE_CANNOT_READ)


READABLE_PARQUET = [p for p in PARQUET_FILES if p.name not in CRATE_CANNOT_READ]


@pytest.mark.parametrize("src", READABLE_PARQUET, ids=corpus_id)
def test_parquet_corpus_round_trips(round_trips, src):
    original = pyarrow_reads(src)
    rt = round_trips(src, "parquet")
    assert rt.manifest["rows"] == original.num_rows
    if src.name in INT96_SIGNED_DAY_ROWS:
        keep = [i for i in range(original.num_rows) if i not in INT96_SIGNED_DAY_ROWS[src.name]]
        original = original.take(keep)
        got = read_parquet(rt.parquet_ok()).take(keep)
        assert_same_table(got, original, "from-parquet + to-parquet (rows of signed and unsigned days alike)",
                          metadata=(parquet_metadata(rt.parquet), parquet_metadata(src)))
        return
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
    # Row 5 does not fit microseconds either: refused, not wrapped.
    line = assert_cli_error(mm.cli("from-parquet", "--table", "--int96-unit", "us", src, dst), src, "row 5",
                            "microseconds")
    assert "--int96-unit ms" in line, line
    assert list(tmp_path.iterdir()) == []
    # In milliseconds it fits; the signed day puts it before year -290,000.
    run_ok(mm, "from-parquet", "--table", "--int96-unit", "ms", src, dst)
    out = tmp_path / "out.parquet"
    run_ok(mm, "to-parquet", dst, out)
    ms = pq.read_table(out).column(0).cast(pa.int64()).to_pylist()
    assert ms[5] < -290_000 * 365 * 86_400_000, ms


@pytest.mark.parametrize("src", READABLE_PARQUET, ids=corpus_id)
def test_parquet_corpus_polars(round_trips, src):
    if src.name == "int96_from_spark.parquet":
        pytest.skip("polars reads INT96 past 2262 as nanoseconds, wrapped around: no reference reading")
    rt = round_trips(src, "parquet")
    assert_polars_same(pl.read_parquet, rt.parquet_ok(), src, "to-parquet", rows=pyarrow_reads(src).num_rows,
                       zone_of_legacy_utc=src.name in LEGACY_UTC)


def _duckdb_params():
    for p in READABLE_PARQUET:
        marks = [pytest.mark.xfail(strict=True, reason=GEOSPATIAL_LOST)] if p.parent.name == "geospatial" else []
        yield pytest.param(p, marks=marks, id=corpus_id(p))


@pytest.mark.parametrize("src", list(_duckdb_params()))
def test_parquet_corpus_duckdb(round_trips, src):
    rt = round_trips(src, "parquet")
    same_as = None
    if src.name in INT96_FILES:
        same_as = {"TIMESTAMP_NS": "TIMESTAMP"}
    if src.name in LEGACY_UTC:
        same_as = {"TIMESTAMP WITH TIME ZONE": "TIMESTAMP"}
    assert_duckdb_same(rt.parquet_ok(), src, "to-parquet", same_as)


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


# --------------------------------------------------------------------------
# 4. A realistic nested table, appended batch by batch


def nested_batches() -> list[pa.RecordBatch]:
    """Three batches of a pipeline-like table: tokens with empty and null
    lists, a struct of mixed fields, a category whose dictionary changes
    between batches, a map, a large_list of floats, view types."""
    rng = np.random.default_rng(11)
    batches = []
    start = 0
    for k, n in enumerate([700, 1, 1300]):
        ids = np.arange(start, start + n)
        tokens = [None if i % 13 == 0 else [] if i % 7 == 0 else rng.integers(0, 50_000, i % 9).tolist() for i in ids]
        rec = pa.StructArray.from_arrays(
            [pa.array(ids * 3, pa.int64()), pa.array([None if i % 5 == 0 else f"r{i}" for i in ids], pa.string()),
             pa.array(rng.normal(size=n)), pa.array([i % 2 == 0 for i in ids])],
            names=["n", "label", "score", "flag"],
            mask=pa.array([i % 11 == 0 for i in ids]))
        words = [["red", "green", "blue"], ["red", "green", "blue", "black"],
                 ["red", "green", "blue", "black", "white", "grey"]][k]
        cat = pa.DictionaryArray.from_arrays(
            pa.array([None if i % 17 == 0 else int(i % len(words)) for i in ids], pa.int32()), pa.array(words))
        attrs = pa.array([None if i % 19 == 0 else [(f"k{j}", float(i * j)) for j in range(i % 4)] for i in ids],
                         pa.map_(pa.string(), pa.float64()))
        emb = pa.array([rng.random(i % 5, dtype=np.float32).tolist() for i in ids], pa.large_list(pa.float32()))
        sv = pa.array([None if i % 3 == 0 else ("long string value number %d" % i if i % 2 else "s%d" % i) for i in ids],
                      pa.string_view())
        lv = pa.array([None if i % 6 == 0 else list(range(i % 4)) for i in ids], pa.list_view(pa.int32()))
        batches.append(pa.RecordBatch.from_arrays(
            [pa.array(ids, pa.int64()), pa.array(tokens, pa.list_(pa.int32())), rec, cat, attrs, emb, sv, lv],
            names=["id", "tokens", "rec", "cat", "attrs", "emb", "sv", "lv"]))
        start += n
    return batches


def decoded(t: pa.Table) -> pa.Table:
    """Dictionaries decoded (a table unifies them: equal values, other keys)."""
    return pa.table({n: (c.cast(c.type.value_type) if pa.types.is_dictionary(c.type) else c)
                     for n, c in zip(t.column_names, t.columns)})


def memmap_leaf(table: Path, node: dict, role: str, length: int) -> np.ndarray:
    """A node's buffer as numpy maps it, from the manifest's file name and dtype."""
    (buf,) = [b for b in node["buffers"] if b["file"].endswith("." + role)]
    return np.memmap(table / buf["file"], dtype=buf["dtype"], mode="r", shape=(length,))


@pytest.mark.parametrize("how", ["ipc", "parquet"])
def test_a_realistic_nested_table_round_trips(mm, tmp_path, how):
    batches = nested_batches()
    original = pa.Table.from_batches(batches)
    if how == "ipc":
        src = tmp_path / "src.arrow"
        # An IPC file holds one dictionary per column (pyarrow refuses
        # replacements): the batches' dictionaries unified first. The
        # Parquet case appends different dictionaries (one per row group).
        with ipc.new_file(src, original.schema) as w:
            for b in original.unify_dictionaries().to_batches():
                w.write_batch(b)
        run_ok(mm, "convert", src, f"{tmp_path / 't'}/")
        want = original
    else:
        src = tmp_path / "src.parquet"
        pq.write_table(original, src, row_group_size=500)
        run_ok(mm, "from-parquet", "--table", src, tmp_path / "t")
        want = pq.ParquetFile(src).read()
    t = tmp_path / "t"
    run_ok(mm, "verify", t)
    manifest = json.loads((t / "manifest.json").read_text())
    assert manifest["rows"] == original.num_rows

    # Back to IPC: the same schema and values (the category as one dictionary).
    out_ipc = tmp_path / "out.arrow"
    run_ok(mm, "convert", t, out_ipc)
    got = read_ipc(out_ipc)
    # pyarrow's IPC reader names a map's entries "entries", its Parquet
    # reader after the column: compared with pyarrow's own IPC round trip.
    assert_same_table(decoded(got), decoded(want), f"{how} -> table -> IPC",
                      alternatives=table_alternatives(decoded(through_ipc(want.unify_dictionaries()))))
    # One dictionary, each value once.
    assert {len(c.dictionary) for c in got.column("cat").chunks} == {6}
    assert sorted(got.column("cat").chunks[0].dictionary.to_pylist()) == sorted(
        ["red", "green", "blue", "black", "white", "grey"])

    # To Parquet: what pyarrow's own Parquet round trip of the same rows gives.
    out_pq = tmp_path / "out.parquet"
    run_ok(mm, "to-parquet", t, out_pq)
    # To Parquet: the original, or per column what pyarrow's own Parquet
    # round trip gives (pyarrow names list items "element" where mmarrow
    # keeps the schema's "item"; a list_view comes back as a list).
    back = read_parquet(out_pq)
    ref = pyarrow_through_parquet(want.unify_dictionaries())
    assert_same_table(decoded(back), decoded(want), f"{how} -> table -> Parquet",
                      alternatives=table_alternatives(decoded(ref)))

    # numpy maps the numeric leaves with the manifest's names and dtypes.
    cols = {c["field"]["name"]: c["node"] for c in manifest["columns"]}
    ids = memmap_leaf(t, cols["id"], "values", original.num_rows)
    assert np.array_equal(ids, np.arange(original.num_rows))
    tokens = original.column("tokens").combine_chunks()
    items = cols["tokens"]["children"][0]
    flat = memmap_leaf(t, items, "values", items["length"])
    assert np.array_equal(flat, tokens.flatten().to_numpy())
    offsets = memmap_leaf(t, cols["tokens"], "offsets", original.num_rows + 1)
    assert offsets[0] == 0 and offsets[-1] == len(flat)
    emb = cols["emb"]["children"][0]
    assert np.array_equal(memmap_leaf(t, emb, "values", emb["length"]),
                          original.column("emb").combine_chunks().flatten().to_numpy())
    score = cols["rec"]["children"][2]
    rec = pa.concat_arrays([b.column("rec") for b in batches])
    # Where the struct is null, Parquet keeps no child value: compared where valid.
    valid = rec.is_valid().to_numpy(zero_copy_only=False)
    want_score = rec.field("score").to_numpy(zero_copy_only=False)
    assert np.array_equal(memmap_leaf(t, score, "values", score["length"])[valid], want_score[valid])
    entries = cols["attrs"]["children"][0]
    values = entries["children"][1]
    assert np.array_equal(memmap_leaf(t, values, "values", values["length"]),
                          original.column("attrs").combine_chunks().items.to_numpy(zero_copy_only=False))
    keys = memmap_leaf(t, cols["cat"], "keys", original.num_rows)
    dictionary = decoded(got).column("cat").combine_chunks()
    words = got.column("cat").chunks[0].dictionary.to_pylist()
    assert [None if v is None else words[k] for k, v in zip(keys, dictionary.to_pylist())] == dictionary.to_pylist()

    # polars and DuckDB read mmarrow's Parquet as they read pyarrow's.
    ref_path = tmp_path / "ref.parquet"
    pq.write_table(want, ref_path)
    assert_duckdb_same(out_pq, ref_path, "to-parquet")
    if how == "ipc":
        assert_polars_same(pl.read_ipc, out_ipc, src, "convert to IPC")
    # Last: skipped when polars cannot read pyarrow's file.
    assert_polars_same(pl.read_parquet, out_pq, ref_path, "to-parquet")
