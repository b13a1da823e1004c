"""Shared fixtures of the Python interop suite.

The tests drive mmarrow through its debug binaries, never through a Python
binding:

* ``mmarrow`` (the CLI: ``info``, ``head``, ``describe``);
* ``tests/helpers/arrow_dump.rs``: opens a file through the library and prints the
  Arrow schema and every column's leaf values as little-endian hex, so numpy's
  bytes can be compared with Arrow's byte for byte;
* ``tests/helpers/tensor_meta.rs``: the ``arrow.fixed_shape_tensor`` metadata codec.

The helpers are Cargo ``[[example]]`` targets gated by the ``test-helpers``
feature, so they are built into ``target/debug/examples``.

Where the binaries are:

* ``MMARROW_BIN``: path of the ``mmarrow`` binary;
* ``MMARROW_HELPERS_DIR``: directory holding ``arrow_dump``, ``tensor_meta``
  and ``write_modes``.

They default to ``target/debug/mmarrow`` and ``target/debug/examples`` of
this repository. With the defaults, the session builds them once (``cargo
build --examples --bins --features test-helpers``) when they are missing or
older than the sources (if that build fails while old binaries
exist, the run goes on with them and a warning says so). When either variable
is set, the binaries are used as given and never built (``scripts/test.sh``
builds first and sets both).

Adding tests: request the ``mm`` fixture (an :class:`Mmarrow`) for the
binaries, ``tmp_path`` for files, and ``sample_array`` / ``SUPPORTED_DTYPES``
for data. A test taking an argument named ``supported_dtype`` is run once per
dtype of :data:`SUPPORTED_DTYPES` (see ``pytest_generate_tests``).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_TARGET = REPO_ROOT / "target" / "debug"
# Where Cargo puts the helper programs of tests/helpers ([[example]] targets).
HELPERS_ENV = "MMARROW_HELPERS_DIR"
DEFAULT_HELPERS = DEFAULT_TARGET / "examples"
# Builds the CLI and the helpers (they need the non-default test-helpers feature).
BUILD_COMMAND = ["build", "--examples", "--bins", "--features", "test-helpers"]
SUBPROCESS_TIMEOUT = 120  # seconds; a debug binary on a small file takes milliseconds

# Every numpy dtype mmarrow maps to Arrow without a copy, as numpy spells it
# (``np.dtype(x).str`` is the canonical typestr mmarrow writes in sidecars).
SUPPORTED_DTYPES = [
    "|b1",
    "|i1", "<i2", "<i4", "<i8",
    "|u1", "<u2", "<u4", "<u8",
    "<f2", "<f4", "<f8",
    "<c8", "<c16",
    "<M8[s]", "<M8[ms]", "<M8[us]", "<M8[ns]",
    "<m8[s]", "<m8[ms]", "<m8[us]", "<m8[ns]",
    "|S7",
    "|V4",
]  # fmt: skip


def dtype_id(dtype) -> str:
    """A readable test id for a dtype: ``bool``, ``float32``, ``datetime64[ns]``, ``S7``."""
    d = np.dtype(dtype)
    name = d.name if d.kind not in "SV" else f"{d.kind}{d.itemsize}"
    return name if d.byteorder != ">" else f"{name}-be"


def pytest_generate_tests(metafunc):
    if "supported_dtype" in metafunc.fixturenames:
        metafunc.parametrize("supported_dtype", SUPPORTED_DTYPES, ids=dtype_id)


# --------------------------------------------------------------------------
# Data


def sample_array(dtype, shape, seed: int = 0) -> np.ndarray:
    """A C-contiguous array of ``dtype`` and ``shape`` filled with random bytes
    (bool: random 0/1), so every byte of every element is significant: a wrong
    offset, stride, byte order or column shows up in a byte comparison.
    Floats may hold NaNs and datetimes NaT; comparisons are of bytes, never values.
    """
    d = np.dtype(dtype)
    n = int(np.prod(shape, dtype=np.int64))
    rng = np.random.default_rng(seed)
    if d.kind == "b":
        return rng.integers(0, 2, size=shape, dtype=np.uint8).astype(d)
    raw = rng.integers(0, 256, size=n * d.itemsize, dtype=np.uint8)
    return raw.view(d).reshape(shape).copy()


def npy_data_offset(path: Path) -> int:
    """Where numpy's own reader says the data of a .npy file starts."""
    with open(path, "rb") as f:
        major, _ = np.lib.format.read_magic(f)
        if major == 1:
            np.lib.format.read_array_header_1_0(f)
        else:  # 2.0 and 3.0 share the 4-byte length
            np.lib.format.read_array_header_2_0(f)
        return f.tell()


# --------------------------------------------------------------------------
# Binaries


@dataclass(frozen=True)
class Binaries:
    mmarrow: Path
    arrow_dump: Path
    tensor_meta: Path

    def all(self):
        return (self.mmarrow, self.arrow_dump, self.tensor_meta)


def _exe(path: Path) -> Path:
    if os.name == "nt" and not path.suffix:
        return path.with_suffix(".exe")
    return path


def _locate() -> tuple[Binaries, bool]:
    """The binaries, and whether they come from the defaults (so may be built)."""
    bin_env = os.environ.get("MMARROW_BIN")
    helpers_env = os.environ.get(HELPERS_ENV)
    cli = Path(bin_env) if bin_env else DEFAULT_TARGET / "mmarrow"
    helpers = Path(helpers_env) if helpers_env else DEFAULT_HELPERS
    bins = Binaries(
        mmarrow=_exe(cli),
        arrow_dump=_exe(helpers / "arrow_dump"),
        tensor_meta=_exe(helpers / "tensor_meta"),
    )
    return bins, not (bin_env or helpers_env)


def _newest_source_mtime() -> float:
    paths = [REPO_ROOT / "Cargo.toml", REPO_ROOT / "Cargo.lock"]
    for sub in ("src", "tests/helpers"):
        paths.extend((REPO_ROOT / sub).rglob("*.rs"))
    return max((p.stat().st_mtime for p in paths if p.exists()), default=0.0)


def _needs_build(bins: Binaries) -> bool:
    if not all(p.is_file() for p in bins.all()):
        return True
    oldest = min(p.stat().st_mtime for p in bins.all())
    return _newest_source_mtime() > oldest


@pytest.fixture(scope="session")
def binaries() -> Binaries:
    bins, from_defaults = _locate()
    if from_defaults and _needs_build(bins):
        cargo = shutil.which("cargo")
        if cargo is None:
            pytest.fail("mmarrow binaries are missing or stale and cargo is not on PATH")
        build = subprocess.run(
            [cargo, *BUILD_COMMAND],
            cwd=REPO_ROOT,
            capture_output=True,
            text=True,
            timeout=1800,
        )
        if build.returncode != 0:
            if not all(p.is_file() for p in bins.all()):
                pytest.fail(
                    f"cargo {' '.join(BUILD_COMMAND)} failed:\n" + build.stderr[-4000:],
                    pytrace=False,
                )
            # Sources mid-edit: test the last good build, and say so.
            warnings.warn(
                f"cargo {' '.join(BUILD_COMMAND)} failed; testing the existing, OLDER binaries "
                f"in {DEFAULT_TARGET}:\n" + build.stderr[-2000:],
                stacklevel=1,
            )
    missing = [str(p) for p in bins.all() if not p.is_file()]
    if missing:
        pytest.fail(
            f"mmarrow binaries not found: {missing} (check MMARROW_BIN / {HELPERS_ENV})",
            pytrace=False,
        )
    return bins


# --------------------------------------------------------------------------
# Driving the binaries


@dataclass
class Column:
    """One column of ``arrow_dump``'s output."""

    raw: dict

    @property
    def name(self) -> str:
        return self.raw["name"]

    @property
    def arrow_type(self) -> str:
        return self.raw["arrow_type"]

    @property
    def metadata(self) -> dict:
        return self.raw["metadata"]

    @property
    def len(self) -> int:
        return self.raw["len"]

    @property
    def in_map(self) -> bool:
        return self.raw["in_map"]

    @property
    def nullable(self) -> bool:
        return self.raw["nullable"]

    @property
    def leaf_bytes(self) -> bytes:
        """The innermost values, as the bytes Arrow holds."""
        return bytes.fromhex(self.raw["leaf_hex"])

    @property
    def extension_name(self):
        return self.metadata.get("ARROW:extension:name")

    @property
    def extension_metadata(self):
        return self.metadata.get("ARROW:extension:metadata")


@dataclass
class Dump:
    """``arrow_dump``'s JSON document."""

    raw: dict

    def __getitem__(self, key):
        return self.raw[key]

    @property
    def columns(self) -> list[Column]:
        return [Column(c) for c in self.raw["columns"]]

    @property
    def column(self) -> Column:
        """The only column (asserts there is exactly one)."""
        cols = self.columns
        assert len(cols) == 1, [c.name for c in cols]
        return cols[0]


class Mmarrow:
    """The mmarrow binaries, as test helpers."""

    def __init__(self, bins: Binaries):
        self.bins = bins

    # Plain runs -------------------------------------------------------------

    @staticmethod
    def run(exe: Path, *args) -> subprocess.CompletedProcess:
        return subprocess.run(
            [str(exe), *map(str, args)],
            capture_output=True,
            text=True,
            timeout=SUBPROCESS_TIMEOUT,
        )

    @staticmethod
    def ok(proc: subprocess.CompletedProcess) -> str:
        assert proc.returncode == 0, (
            f"{proc.args} exited {proc.returncode}\nstdout: {proc.stdout}\nstderr: {proc.stderr}"
        )
        return proc.stdout

    def cli(self, *args) -> subprocess.CompletedProcess:
        return self.run(self.bins.mmarrow, *args)

    # CLI ------------------------------------------------------------------------

    def info(self, path, *args) -> dict:
        """``mmarrow info PATH --json`` (must succeed), parsed."""
        return json.loads(self.ok(self.cli("info", path, "--json", *args)))

    def describe(self, path, dtype, shape, *, offset=0, order="C", force=False) -> str:
        """``mmarrow describe`` (must succeed); returns the sidecar's text."""
        args = ["describe", path, "--dtype", np.dtype(dtype).str]
        args += ["--shape", ",".join(map(str, shape)), "--offset", offset, "--order", order]
        if force:
            args.append("--force")
        self.ok(self.cli(*args))
        return sidecar_path(path).read_text()

    # Examples -------------------------------------------------------------------

    def dump_proc(self, path, *args) -> subprocess.CompletedProcess:
        return self.run(self.bins.arrow_dump, path, *args)

    def dump(self, path, *args) -> Dump:
        """``arrow_dump PATH ARGS`` (must succeed), parsed."""
        return Dump(json.loads(self.ok(self.dump_proc(path, *args))))

    def tensor_meta(self, *args) -> subprocess.CompletedProcess:
        return self.run(self.bins.tensor_meta, *args)


def sidecar_path(data: Path) -> Path:
    return Path(str(data) + ".mmarrow.json")


def write_sidecar_by_hand(data: Path, array: np.ndarray, *, offset: int = 0, order: str = "C") -> Path:
    """The whole sidecar format from Python, without mmarrow: what a user's
    ten-line script writes next to a ``numpy.memmap`` file."""
    doc = {
        "format": "mmarrow.array",
        "version": 1,
        "dtype": array.dtype.str,
        "shape": list(array.shape),
        "order": order,
        "offset": offset,
    }
    path = sidecar_path(data)
    path.write_text(json.dumps(doc))
    return path


def run_ok(mm, *args) -> str:
    """Runs the CLI; its stdout, after checking it succeeded."""
    return mm.ok(mm.cli(*args))


def leftovers(dst) -> list[str]:
    """Temporary siblings a conversion to ``dst`` (a file, or a table
    directory written as ``dst/``) may leave behind in its directory."""
    p = Path(str(dst).rstrip("/"))
    if not p.parent.is_dir():
        return []
    return sorted(x.name for x in p.parent.iterdir() if x.name.startswith(f".{p.name}.tmp-"))


def assert_cli_error(proc: subprocess.CompletedProcess, path, *words: str, code: int = 2) -> str:
    """A refusal as the CLI and the helpers promise it: exit ``code``, nothing on
    stdout, exactly one line on stderr that names the file (unless ``path`` is
    None) and contains each of ``words`` (case-insensitive). Returns the line."""
    assert proc.returncode == code, (
        f"{proc.args} exited {proc.returncode}, expected {code}\n"
        f"stdout: {proc.stdout}\nstderr: {proc.stderr}"
    )
    assert proc.stdout == "", proc.stdout
    lines = proc.stderr.splitlines()
    assert len(lines) == 1, proc.stderr
    line = lines[0]
    if path is not None:
        assert str(path) in line, line
    for w in words:
        assert w.lower() in line.lower(), f"{w!r} not in {line!r}"
    return line


@pytest.fixture(scope="session")
def mm(binaries) -> Mmarrow:
    return Mmarrow(binaries)
