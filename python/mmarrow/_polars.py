"""``mmarrow.scan_polars``: a table directory as a Polars ``LazyFrame``.

The scan is a Polars IO source (``polars.io.plugins.register_io_source``),
which hands the source the projection, the predicate and the row limit and
trusts it to apply all three. This one:

1. skips the chunks of rows whose recorded statistics (per-chunk minimum,
   maximum and null count, written by every commit) show that no row can
   match the predicate — only where that is certain: whatever the
   statistics cannot decide is read;
2. reads the remaining rows as zero-copy record batches (``Table.slice``;
   strings as Arrow views into the mapped data, which Polars imports as
   they are, tensors as Polars ``Array``s, as ``Table.to_polars``) and evaluates the predicate on each batch with Polars itself, so the
   result never depends on the skipping;
3. projects the requested columns and stops at ``n_rows``.
"""

from __future__ import annotations

import io
import json
import os
from typing import Any, Iterator

from . import _native

_DEFAULT_BATCH_ROWS = 1 << 18


def _stats_frame(stats: dict[str, Any], pl: Any) -> Any:
    """One row per chunk: ``{c}\\x00min``, ``{c}\\x00max``, ``{c}\\x00nulls``, ``\\x00rows``."""
    ranges = stats["ranges"]
    cols: dict[str, Any] = {"\x00rows": pl.Series([b - a for a, b in ranges], dtype=pl.UInt64)}
    for name, c in stats["columns"].items():
        cols[f"{name}\x00nulls"] = pl.Series(c["null_count"])
        if c["min"] is None:
            continue
        mn, mx = pl.Series(c["min"]), pl.Series(c["max"])
        if mn.dtype.is_float():
            # Polars orders NaN above every number, and the statistics
            # never record NaN: a float maximum bounds nothing.
            mx = pl.Series([None] * len(mx), dtype=mx.dtype)
        cols[f"{name}\x00min"] = mn
        cols[f"{name}\x00max"] = mx
    return pl.DataFrame(cols)


class _Undecided(Exception):
    """A part of the predicate the statistics cannot decide."""


def _chunk_filter(node: Any, frame_cols: set[str], pl: Any) -> Any:
    """An expression over the statistics frame that is false only for
    chunks in which no row can satisfy ``node`` (the predicate's JSON)."""

    def lit(n: Any) -> Any:
        if not (isinstance(n, dict) and "Literal" in n):
            raise _Undecided
        return pl.Expr.deserialize(io.StringIO(json.dumps(n)), format="json")

    def column(n: Any) -> str:
        if isinstance(n, dict) and isinstance(n.get("Column"), str):
            return n["Column"]
        raise _Undecided

    def stat(c: str, which: str) -> Any:
        name = f"{c}\x00{which}"
        if name not in frame_cols:
            raise _Undecided
        return pl.col(name)

    def go(n: Any) -> Any:
        if not isinstance(n, dict):
            raise _Undecided
        if "BinaryExpr" in n:
            b = n["BinaryExpr"]
            op = b["op"]
            if op in ("And", "LogicalAnd"):
                return _safe(b["left"]) & _safe(b["right"])
            if op in ("Or", "LogicalOr"):
                return go(b["left"]) | go(b["right"])
            flip = {"Gt": "Lt", "GtEq": "LtEq", "Lt": "Gt", "LtEq": "GtEq", "Eq": "Eq"}
            try:
                c, v = column(b["left"]), lit(b["right"])
            except _Undecided:
                c, v = column(b["right"]), lit(b["left"])
                if op not in flip:
                    raise
                op = flip[op]
            if op == "Gt":
                return stat(c, "max") > v
            if op == "GtEq":
                return stat(c, "max") >= v
            if op == "Lt":
                return stat(c, "min") < v
            if op == "LtEq":
                return stat(c, "min") <= v
            if op == "Eq":
                return (stat(c, "min") <= v).fill_null(True) & (stat(c, "max") >= v).fill_null(True)
            raise _Undecided
        if "Function" in n:
            f, args = n["Function"]["function"], n["Function"]["input"]
            if f == {"Boolean": "IsNull"}:
                return stat(column(args[0]), "nulls") > 0
            if f == {"Boolean": "IsNotNull"}:
                c = column(args[0])
                return stat(c, "nulls") < pl.col("\x00rows")
            if isinstance(f, dict) and isinstance(f.get("Boolean"), dict) and "IsBetween" in f["Boolean"]:
                c, lo, hi = column(args[0]), lit(args[1]), lit(args[2])
                closed = f["Boolean"]["IsBetween"].get("closed", "Both")
                upper = stat(c, "max") >= lo if closed in ("Both", "Left") else stat(c, "max") > lo
                lower = stat(c, "min") <= hi if closed in ("Both", "Right") else stat(c, "min") < hi
                return upper.fill_null(True) & lower.fill_null(True)
            if f == {"Boolean": "AllHorizontal"}:
                out = pl.lit(True)
                for a in args:
                    out = out & _safe(a)
                return out
        raise _Undecided

    def _safe(n: Any) -> Any:
        """``go(n)``, or "may match" where undecided (sound under AND)."""
        try:
            return go(n).fill_null(True)
        except _Undecided:
            return pl.lit(True)

    return _safe(node)


def _chunks_to_read(table: Any, predicate: Any, pl: Any) -> list[tuple[int, int]]:
    """Row ranges of ``table`` the predicate may match, adjacent ones merged."""
    n = len(table)
    if predicate is None or n == 0:
        return [(0, n)] if n else []
    try:
        stats = table.statistics()
        ranges = stats["ranges"]
        if not ranges:
            return [(0, n)]
        frame = _stats_frame(stats, pl)
        tree = json.loads(predicate.meta.serialize(format="json"))
        keep = frame.select(_chunk_filter(tree, set(frame.columns), pl).alias("k"))["k"]
        keep = keep.to_list() if len(keep) == len(ranges) else [True] * len(ranges)
    except Exception:  # statistics missing or unreadable: read everything
        return [(0, n)]
    out: list[tuple[int, int]] = []
    covered = 0
    for (a, b), k in zip(ranges, keep):
        covered = max(covered, b)
        if k is False:
            continue
        if out and out[-1][1] == a:
            out[-1] = (out[-1][0], b)
        else:
            out.append((a, b))
    if covered < n:  # rows without recorded statistics
        out.append((covered, n))
    return out


def _polars_view(table: Any) -> Any:
    """``table`` exported as ``Table.to_polars`` does: tensor columns as
    nested FixedSizeLists (Polars' ``Array``), strings as views into the
    mapped data (Polars' own string layout: imported without a copy)."""
    return table.with_tensor_layout("array").with_string_view()


def scan_polars(path: str | os.PathLike, *, batch_rows: int | None = None, trusted: bool = False) -> Any:
    """The table directory ``path`` as a Polars ``LazyFrame``.

    Projections, predicates and limits (``select``, ``filter``, ``head``)
    reach the scan, which applies them itself: chunks whose statistics
    exclude the predicate are skipped without being read, the remaining
    rows are filtered batch by batch (``batch_rows``, default Polars' hint
    or 262,144). Each collect opens the table anew, so it sees every
    commit made before it. ``trusted`` is that of :func:`mmarrow.open_table`.

    >>> import pyarrow as pa, polars as pl, mmarrow, tempfile, os
    >>> p = os.path.join(tempfile.mkdtemp(), "t")
    >>> mmarrow.save(p, pa.table({"id": list(range(10)), "x": [i / 2 for i in range(10)]}))
    10
    >>> lf = mmarrow.scan_polars(p)
    >>> lf.filter(pl.col("id") >= 7).select("x").collect()["x"].to_list()
    [3.5, 4.0, 4.5]
    """
    import polars as pl
    from polars.io.plugins import register_io_source

    path = os.fspath(path)
    first = _polars_view(_native.open_table(path, trusted=trusted))
    schema = pl.DataFrame(first.slice(0, 0)).schema
    names = list(schema.keys())
    del first

    def source(
        with_columns: list[str] | None,
        predicate: Any,
        n_rows: int | None,
        batch_size: int | None,
    ) -> Iterator[Any]:
        wanted = set(with_columns if with_columns is not None else names)
        if predicate is not None:
            wanted |= set(predicate.meta.root_names())
        table = _polars_view(_native.open_table(path, [c for c in names if c in wanted], trusted=trusted))
        step = max(1, batch_rows or batch_size or _DEFAULT_BATCH_ROWS)
        left = n_rows
        for a, b in _chunks_to_read(table, predicate, pl):
            for start in range(a, b, step):
                if left is not None and left <= 0:
                    return
                df = pl.DataFrame(table.slice(start, min(start + step, b)))
                if predicate is not None:
                    df = df.filter(predicate)
                if with_columns is not None:
                    df = df.select(with_columns)
                if left is not None:
                    df = df.head(left)
                    left -= df.height
                if df.height:
                    yield df

    return register_io_source(
        source,
        schema=schema,
        explain_name="mmarrow",
        explain_detail=path,
    )
