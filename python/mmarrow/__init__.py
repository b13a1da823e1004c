"""mmarrow: flat array files and column-file tables as zero-copy Arrow data.

mmarrow maps ``numpy.memmap`` / ``.tofile`` / ``.npy`` files and mmarrow
table directories into Arrow buffers without copying, and hands them to
numpy, pyarrow, Polars and DuckDB through the Arrow PyCapsule interface,
``__array_interface__`` and the buffer protocol.

>>> import numpy as np, mmarrow, tempfile, os
>>> d = tempfile.mkdtemp()
>>> np.arange(12, dtype=np.float32).reshape(4, 3).tofile(os.path.join(d, "x.f32"))
>>> a = mmarrow.open(os.path.join(d, "x.f32"), dtype="float32", shape=(-1, 3))
>>> a.shape, len(a), str(a.dtype)
((4, 3), 4, 'float32')
>>> a[1:3].to_numpy().tolist()
[[3.0, 4.0, 5.0], [6.0, 7.0, 8.0]]

Arrays: :func:`open`, :func:`save`, :class:`ArrayWriter`.
Tables: :func:`open_table`, :func:`scan_polars`, :class:`TableWriter`.
Conversions: :func:`convert`, :func:`to_parquet`, :func:`from_parquet`.
Errors: :mod:`mmarrow.exceptions` (all derive from :class:`Error`).

The hazard of every map: if another process truncates or rewrites a mapped
file, readers may see changed bytes (or a SIGBUS on truncation). Append with
mmarrow's writers, which only add bytes past the committed prefix.
"""

from __future__ import annotations

import os
from typing import Any, Callable, Sequence

import numpy as np

from . import _native
from ._native import Array, Table, TableWriter, __version__
from ._polars import scan_polars
from .exceptions import (
    AlreadyExistsError,
    Error,
    FileIOError,
    FormatError,
    InternalError,
    InvalidArgumentError,
    IsDirectoryError,
    LockedError,
    NotFoundError,
    NotWritableError,
    UnsupportedError,
)

__all__ = [
    "Array",
    "ArrayWriter",
    "Table",
    "TableWriter",
    "open",
    "open_table",
    "verify",
    "scan_polars",
    "save",
    "convert",
    "to_parquet",
    "from_parquet",
    "Error",
    "NotFoundError",
    "IsDirectoryError",
    "AlreadyExistsError",
    "LockedError",
    "FileIOError",
    "NotWritableError",
    "InvalidArgumentError",
    "FormatError",
    "UnsupportedError",
    "InternalError",
    "__version__",
]

Progress = Callable[[int, int, int, int], Any]
PathLike = str | os.PathLike


def _typestr(dtype: Any) -> str:
    """numpy's typestr of ``dtype`` (``'<f4'``), whatever numpy accepts."""
    return np.dtype(dtype).str


def open(
    path: PathLike,
    dtype: Any = None,
    shape: int | Sequence[int] | None = None,
    offset: int | None = None,
    order: str | None = None,
    mode: str = "r",
    *,
    overwrite: bool = False,
) -> Array:
    """Maps the array file ``path``, as ``numpy.memmap`` does, without copying.

    Parameters follow ``numpy.memmap``: ``dtype`` (anything ``numpy.dtype``
    accepts; ``None`` reads it from the file's ``.npy`` header or mmarrow
    sidecar), ``shape`` (one ``-1`` is inferred from the file size;
    ``None`` gives the header's shape, or 1-D), ``offset`` (bytes before the
    data; ``None``: the header's, else 0), ``order`` (``"C"`` or ``"F"``;
    ``None``: the header's, else ``"C"``) and ``mode``:

    - ``"r"`` (``"readonly"``): read-only; the array exports Arrow
      (``__arrow_c_array__``, ``__arrow_c_stream__``), numpy views are read-only;
    - ``"r+"`` (``"readwrite"``): read and write in place; a shape past the
      end of a raw file grows it;
    - ``"w+"`` (``"write"``): create a zero-filled file of ``dtype`` and
      ``shape`` with its sidecar (``.npy`` header for ``*.npy``);
      ``overwrite=True`` replaces an existing one;
    - ``"c"`` (``"copyonwrite"``): writes stay in this process.

    Writable arrays are numpy views only (Arrow buffers are immutable).

    >>> import numpy as np, mmarrow, tempfile, os
    >>> p = os.path.join(tempfile.mkdtemp(), "v.npy")
    >>> np.save(p, np.arange(6, dtype=np.int64))
    >>> a = mmarrow.open(p)
    >>> a.to_pyarrow().to_pylist()
    [0, 1, 2, 3, 4, 5]
    >>> w = mmarrow.open(p, mode="r+")
    >>> w[0] = 7; w.flush()
    >>> int(mmarrow.open(p).to_numpy()[0])
    7

    Raises :class:`NotFoundError` (a ``FileNotFoundError``) for a missing
    file, :class:`FormatError` / :class:`InvalidArgumentError` (``ValueError``)
    for a size, header or parameter that does not fit.
    """
    if isinstance(shape, (int, np.integer)):
        shape = (int(shape),)
    return _native.open(
        os.fspath(path),
        None if dtype is None else _typestr(dtype),
        None if shape is None else [int(d) for d in shape],
        None if offset is None else int(offset),
        order,
        mode,
        overwrite,
    )


def open_table(path: PathLike, columns: Sequence[str] | None = None, *, trusted: bool = False) -> Table:
    """Opens the mmarrow table directory ``path`` (only ``columns``, in that
    order, when given), in time independent of its size.

    Opening checks the manifest and that every file is there and long
    enough; the contents (offsets, UTF-8, null counts) are checked as rows
    are read, each row once, so a corrupt or hostile table is an
    ``mmarrow.Error``, never a crash. ``trusted=True`` skips those content
    checks — every read is then O(columns), however many rows it covers —
    for a table you vouch for: one mmarrow wrote, or one :func:`verify`
    passed and nobody changed since. A trusted table whose files do not
    hold what mmarrow wrote can crash the process or give wrong values.

    The table exposes ``__arrow_c_stream__`` only, so every Arrow consumer
    reads it as a stream of zero-copy record batches: ``pl.DataFrame(t)``,
    ``pa.table(t)``, ``duckdb.sql("select ... from t")``.

    >>> import pyarrow as pa, mmarrow, tempfile, os
    >>> p = os.path.join(tempfile.mkdtemp(), "t")
    >>> mmarrow.save(p, pa.table({"id": [1, 2, 3], "name": ["a", "b", None]}))
    3
    >>> t = mmarrow.open_table(p, columns=["name"])
    >>> len(t), t.to_pyarrow().column("name").to_pylist()
    (3, ['a', 'b', None])
    >>> t.take([2, 0]).to_pydict()
    {'name': [None, 'a']}
    """
    return _native.open_table(
        os.fspath(path), None if columns is None else [str(c) for c in columns], trusted=bool(trusted)
    )


def verify(path: PathLike) -> dict[str, Any]:
    """Checks everything of the table directory or array file ``path`` that
    opening leaves to the moment rows are read — offsets, UTF-8, dictionary
    keys, null counts, value ranges — and, for a table, the checksum of
    every committed byte, as ``mmarrow verify`` does. Raises an
    ``mmarrow.Error`` naming the file and the problem; returns a dict
    (``kind``, ``rows``, and ``columns``, ``checksummed_bytes``,
    ``unchecked_bytes`` for a table or ``dtype`` for an array).

    >>> import pyarrow as pa, mmarrow, tempfile, os
    >>> p = os.path.join(tempfile.mkdtemp(), "t")
    >>> mmarrow.save(p, pa.table({"id": [1, 2, 3], "name": ["a", "b", None]}))
    3
    >>> mmarrow.verify(p)["rows"]
    3
    >>> len(mmarrow.open_table(p, trusted=True))
    3
    """
    return _native.verify(os.fspath(path))


def _is_arrow(data: Any) -> bool:
    return not isinstance(data, np.ndarray) and (
        hasattr(data, "__arrow_c_array__") or hasattr(data, "__arrow_c_stream__")
    )


class ArrayWriter:
    """Appends whole rows to a new array file; rows become visible to
    readers (and survive a crash) at each :meth:`commit`.

    ``dtype`` is anything ``numpy.dtype`` accepts; ``row_shape`` the shape
    of one row (``()`` for a 1-D file). A name ending in ``.npy`` gives a
    ``.npy`` file, anything else a raw file with an mmarrow sidecar.

    As a context manager it commits on a clean exit and discards the rows
    appended since the last commit when the block raises:

    >>> import numpy as np, mmarrow, tempfile, os
    >>> p = os.path.join(tempfile.mkdtemp(), "emb.f32")
    >>> with mmarrow.ArrayWriter(p, "float32", (4,)) as w:
    ...     w.append(np.ones((2, 4), np.float32))
    ...     w.append(np.zeros(4, np.float32))      # one row
    >>> mmarrow.open(p).shape
    (3, 4)
    """

    def __init__(
        self,
        path: PathLike,
        dtype: Any,
        row_shape: Sequence[int] = (),
        *,
        overwrite: bool = False,
    ) -> None:
        self.path = os.fspath(path)
        self._w = _native.ArrayWriter(
            self.path, _typestr(dtype), [int(d) for d in row_shape], overwrite
        )
        self.dtype: np.dtype = np.dtype(self._w.typestr)
        self.row_shape: tuple[int, ...] = tuple(self._w.row_shape)

    def append(self, rows: Any) -> None:
        """Appends rows: an array-like of shape ``(n, *row_shape)`` (or one
        row of ``row_shape``), converted to the file's dtype like
        ``numpy.asarray(rows, dtype)``, or an Arrow array (any
        ``__arrow_c_array__`` object) of the file's type."""
        if _is_arrow(rows):
            self._w.append_arrow(rows)
            return
        a = np.asarray(rows, dtype=self.dtype)
        if a.shape == self.row_shape:
            a = a.reshape((1, *self.row_shape))
        if a.ndim == 0 or a.shape[1:] != self.row_shape:
            err = InvalidArgumentError(
                f"{self.path}: rows have shape {self.row_shape} of {self.dtype}, got {a.shape}"
            )
            err.kind, err.path = "RowShapeMismatch", self.path
            raise err
        self._w.append_bytes(np.ascontiguousarray(a).reshape(-1).view(np.uint8))

    def commit(self) -> int:
        """Makes the appended rows durable and visible; returns the committed row count."""
        return self._w.commit()

    def close(self) -> None:
        """Closes the file, discarding rows appended since the last commit."""
        self._w.close()

    @property
    def committed_rows(self) -> int:
        """Rows committed so far."""
        return self._w.committed_rows

    @property
    def pending_rows(self) -> int:
        """Rows appended since the last commit."""
        return self._w.pending_rows

    def __enter__(self) -> "ArrayWriter":
        return self

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        self._w.__exit__(exc_type, exc, tb)


def save(path: PathLike, data: Any, *, overwrite: bool = False) -> int:
    """Writes ``data`` to ``path`` and returns the rows written.

    - a numpy array (or anything ``numpy.asarray`` takes): an array file of
      its dtype, its first axis as rows (``.npy`` when the name ends so);
    - an Arrow array (any ``__arrow_c_array__`` / ``__arrow_c_stream__``
      object: pyarrow, Polars, arro3...): an array file whose dtype and row
      shape follow the Arrow type (FixedSizeList and tensor columns give N-D
      rows) — or, for a record batch, table or DataFrame, a table directory.

    >>> import numpy as np, mmarrow, tempfile, os
    >>> p = os.path.join(tempfile.mkdtemp(), "m.npy")
    >>> mmarrow.save(p, np.eye(3, dtype=np.float64))
    3
    >>> np.load(p)[1].tolist()
    [0.0, 1.0, 0.0]
    """
    if _is_arrow(data):
        return _native.save_arrow(os.fspath(path), data, overwrite)
    a = np.asarray(data)
    if a.ndim == 0:
        raise InvalidArgumentError(f"{os.fspath(path)}: a 0-d value has no rows to save")
    with ArrayWriter(path, a.dtype, a.shape[1:], overwrite=overwrite) as w:
        w.append(a)
    return len(a)


def _source(x: Any) -> str:
    return os.fspath(x.path) if isinstance(x, (Array, Table)) else os.fspath(x)


def convert(
    src: PathLike | Array | Table,
    dst: PathLike,
    *,
    column: str | None = None,
    table: bool = False,
    compression: str | None = None,
    row_group_rows: int | None = None,
    threads: int | None = None,
    overwrite: bool = False,
    if_stale: bool = False,
    durable: bool = True,
    progress: Progress | None = None,
    source_format: str | None = None,
    destination_format: str | None = None,
    string_view: bool = False,
) -> dict[str, Any]:
    """Converts between array files, tables, Parquet and Arrow IPC, as
    ``mmarrow convert`` does (the same Rust code), with the GIL released.

    Formats follow the paths (``.parquet``/``.pq``, ``.arrow``/``.feather``/
    ``.ipc``, a table directory, else an array file) unless
    ``source_format``/``destination_format`` (``"array"``, ``"parquet"``,
    ``"ipc"``, ``"table"``) say otherwise. ``column`` picks one column of a
    Parquet/IPC file for an array file; ``table=True`` asks for a table;
    ``compression`` is ``"none"``, ``"snappy"``, ``"zstd[:level]"``, ``"lz4"``
    or ``"gzip[:level]"``; ``if_stale=True`` rebuilds a table cache only when
    its source changed (O(1) otherwise). ``string_view=True`` stores a
    table's string and binary columns as Arrow views (``string_view``,
    ``binary_view``), the layout Polars holds strings in: ``to_polars()``
    of such a table adds no memory at all.

    ``progress``, if given, is called as ``progress(rows_done, rows_total,
    bytes_done, bytes_total)`` from the converting threads; an exception it
    raises is reported as unraisable and the conversion goes on.

    Returns a dict: ``rows``, ``data_bytes``, ``output_bytes``, ``groups``,
    ``fast_path``, ``up_to_date``.
    """
    return _native.convert(
        _source(src),
        os.fspath(dst),
        source_format=source_format,
        destination_format=destination_format,
        column=column,
        table=table,
        compression=compression,
        row_group_rows=row_group_rows,
        threads=threads,
        overwrite=overwrite,
        if_stale=if_stale,
        durable=durable,
        progress=progress,
        string_view=string_view,
    )


def to_parquet(
    src: PathLike | Array | Table,
    dst: PathLike,
    *,
    compression: str | None = None,
    row_group_rows: int | None = None,
    threads: int | None = None,
    overwrite: bool = False,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """Writes the array file or table ``src`` as the Parquet file ``dst``
    (tensor rows as Arrow-typed lists pyarrow and Polars read back). See
    :func:`convert` for the parameters.

    >>> import numpy as np, mmarrow, tempfile, os, pyarrow.parquet as pq
    >>> d = tempfile.mkdtemp()
    >>> mmarrow.save(os.path.join(d, "x.npy"), np.arange(4.0))
    4
    >>> mmarrow.to_parquet(os.path.join(d, "x.npy"), os.path.join(d, "x.parquet"))["rows"]
    4
    >>> pq.read_table(os.path.join(d, "x.parquet")).num_rows
    4
    """
    return convert(
        src,
        dst,
        compression=compression,
        row_group_rows=row_group_rows,
        threads=threads,
        overwrite=overwrite,
        progress=progress,
        destination_format="parquet",
    )


def from_parquet(
    src: PathLike,
    dst: PathLike,
    *,
    column: str | None = None,
    table: bool = False,
    if_stale: bool = False,
    threads: int | None = None,
    overwrite: bool = False,
    progress: Progress | None = None,
    string_view: bool = False,
) -> dict[str, Any]:
    """Builds an array file (one ``column``, or a one-column file) or a
    table directory (several columns, or ``table=True``) from the Parquet
    file ``src``. With ``if_stale=True`` a table built from the unchanged
    source is left as it is, in O(1): a cache that rebuilds itself only
    when needed. ``string_view=True`` stores strings as Arrow views, which
    Polars takes as they are. See :func:`convert`.

    >>> import pyarrow as pa, pyarrow.parquet as pq, mmarrow, tempfile, os
    >>> d = tempfile.mkdtemp()
    >>> pq.write_table(pa.table({"a": [1, 2], "b": [0.5, 1.5]}), os.path.join(d, "s.parquet"))
    >>> mmarrow.from_parquet(os.path.join(d, "s.parquet"), os.path.join(d, "cache"))["rows"]
    2
    >>> mmarrow.from_parquet(os.path.join(d, "s.parquet"), os.path.join(d, "cache"), if_stale=True)["up_to_date"]
    True
    >>> pq.write_table(pa.table({"s": ["a", "a string of more than twelve bytes"]}), os.path.join(d, "s2.parquet"))
    >>> mmarrow.from_parquet(os.path.join(d, "s2.parquet"), os.path.join(d, "views"), table=True, string_view=True)["rows"]
    2
    >>> mmarrow.open_table(os.path.join(d, "views")).schema.field("s").type
    DataType(string_view)
    """
    return convert(
        src,
        dst,
        column=column,
        table=table,
        if_stale=if_stale,
        threads=threads,
        overwrite=overwrite,
        progress=progress,
        source_format="parquet",
        string_view=string_view,
    )
