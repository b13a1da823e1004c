"""The exceptions mmarrow raises.

Every error of the Rust library arrives as an instance of :class:`Error`
(with the message the ``mmarrow`` CLI prints: one line, path first), of a
subclass chosen by its kind, which also derives from the built-in exception
Python code expects: a missing file is a :class:`FileNotFoundError`, a bad
dtype, shape, option or file contents a :class:`ValueError`.

Each exception has two attributes: ``kind``, the Rust ``ErrorKind`` variant
(``"SizeMismatch"``), and ``path``, the file concerned (a ``pathlib.Path``,
or ``None``).

>>> import mmarrow
>>> try:
...     mmarrow.open("/no/such/file.f32", dtype="float32")
... except FileNotFoundError as e:
...     print(type(e).__name__, e.kind)
NotFoundError NotFound
"""

from __future__ import annotations

import os

__all__ = [
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
]


class Error(Exception):
    """Base class of every mmarrow error."""

    kind: str = ""
    path: "os.PathLike[str] | None" = None


class NotFoundError(Error, FileNotFoundError):
    """The file or table does not exist."""


class IsDirectoryError(Error, IsADirectoryError):
    """A directory was given where an array file is expected."""


class AlreadyExistsError(Error, FileExistsError):
    """The output (or its sidecar) exists; pass ``overwrite=True``."""


class LockedError(Error, BlockingIOError):
    """Another writer holds the file's lock."""


class FileIOError(Error, OSError):
    """An operating-system error while reading or writing."""


class NotWritableError(Error, ValueError):
    """A write to a read-only or copy-on-write map, or a flush of one."""


class InvalidArgumentError(Error, ValueError):
    """A bad dtype, shape, option, request, or data of the wrong type or shape."""


class FormatError(Error, ValueError):
    """A file whose contents are invalid: size, header, sidecar, manifest, checksum."""


class UnsupportedError(Error, ValueError):
    """A valid input this version of mmarrow cannot handle."""


class InternalError(Error):
    """A bug in mmarrow or a library it uses; please report it."""
