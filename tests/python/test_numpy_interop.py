"""numpy writes, mmarrow maps: byte-for-byte agreement between numpy's view of
a file and the Arrow arrays mmarrow builds over it.

Files come from real numpy at test time (``np.memmap``, ``np.save``,
``np.lib.format.open_memmap``); ``arrow_dump`` prints what Arrow holds. Every
test compares actual values (random bytes, so an offset, stride, byte-order or
column mix-up cannot go unnoticed).
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from conftest import (
    assert_cli_error,
    dtype_id,
    npy_data_offset,
    sample_array,
    sidecar_path,
    write_sidecar_by_hand,
)

TENSOR = "arrow.fixed_shape_tensor"
EXT_NAME = "ARROW:extension:name"
EXT_META = "ARROW:extension:metadata"

# --------------------------------------------------------------------------
# Expected Arrow types, as arrow-rs 59 prints them (`DataType`'s Display).
# Primitive names and FixedSizeBinary(n) have been stable for years;
# Timestamp/Duration/FixedSizeList took their short forms in recent arrow-rs
# releases, so a Display change lands here and in `normalize_type` only.


def scalar_arrow_type(dtype) -> str:
    """The Arrow type of one numpy element (a 1-D array's column)."""
    d = np.dtype(dtype)
    bits = d.itemsize * 8
    if d.kind == "b":
        return "Int8"  # storage of arrow.bool8
    if d.kind == "i":
        return f"Int{bits}"
    if d.kind == "u":
        return f"UInt{bits}"
    if d.kind == "f":
        return f"Float{bits}"
    if d.kind == "c":
        return f"FixedSizeList(2 x Float{bits // 2})"
    if d.kind in "Mm":
        unit, _ = np.datetime_data(d)
        unit = {"us": "\u00b5s"}.get(unit, unit)  # arrow-rs 59 prints the micro sign
        return f"{'Timestamp' if d.kind == 'M' else 'Duration'}({unit})"
    if d.kind in "SV":
        return f"FixedSizeBinary({d.itemsize})"
    raise AssertionError(f"unsupported dtype {d}")


def value_type(dtype) -> str:
    """The Arrow type of the innermost buffer (a complex is two floats)."""
    d = np.dtype(dtype)
    return f"Float{d.itemsize * 4}" if d.kind == "c" else scalar_arrow_type(d)


def element_dims(dtype) -> list[int]:
    return [2] if np.dtype(dtype).kind == "c" else []


def row_arrow_type(dtype, row_shape, layout="tensor") -> str:
    """The Arrow type of a column whose rows have ``row_shape``."""
    if not row_shape:
        return scalar_arrow_type(dtype)
    if layout == "nested":
        t = value_type(dtype)
        for n in reversed(list(row_shape) + element_dims(dtype)):
            t = f"FixedSizeList({n} x {t})"
        return t
    per_row = math.prod(row_shape)
    if layout == "list" and np.dtype(dtype).kind == "c":
        return f"FixedSizeList({per_row} x {scalar_arrow_type(dtype)})"
    return f"FixedSizeList({per_row * math.prod(element_dims(dtype))} x {value_type(dtype)})"


_UNIT_LONG = {"Second": "s", "Millisecond": "ms", "Microsecond": "\u00b5s", "Nanosecond": "ns"}


def normalize_type(t: str) -> str:
    """Folds arrow-rs's older long spellings (``Timestamp(Nanosecond, None)``) into 59's."""
    for long, short in _UNIT_LONG.items():
        t = t.replace(f"({long}, None)", f"({short})").replace(f"({long})", f"({short})")
    return t


def assert_arrow_type(actual: str, expected: str):
    assert normalize_type(actual) == expected, f"arrow type {actual!r}, expected {expected!r}"


def assert_field_metadata(col, dtype, row_shape, layout="tensor"):
    """Extension metadata: arrow.bool8 on a bool element column, the tensor
    extension (with the row shape) on an N-D column in the default layout,
    nothing otherwise."""
    d = np.dtype(dtype)
    if not row_shape:
        if d.kind == "b":
            assert col.metadata == {EXT_NAME: "arrow.bool8", EXT_META: ""}
        else:
            assert col.metadata == {}
    elif layout == "tensor":
        assert col.extension_name == TENSOR, col.metadata
        meta = json.loads(col.extension_metadata)
        assert meta == {"shape": list(row_shape) + element_dims(d)}, meta
        assert set(col.metadata) == {EXT_NAME, EXT_META}
    else:
        assert col.metadata == {}


def assert_zero_copy_view(dump, col):
    assert dump["zero_copy"] is True
    assert dump["copy_reasons"] == []
    assert col.in_map is True, "leaf buffer is not inside the file's map"


def assert_c_order_matches(dump, expected: np.ndarray, name: str, layout="tensor"):
    """One column whose leaf bytes are numpy's C-order bytes of ``expected``."""
    col = dump.column
    rows = expected.shape[0] if expected.ndim else 1
    assert dump["shape"] == list(expected.shape)
    assert dump["num_rows"] == rows, f"{dump['num_rows']} Arrow rows, numpy has {rows}"
    assert col.name == name
    assert col.nullable is True
    assert col.len == rows, f"column of {col.len} rows, numpy has {rows}"
    assert_arrow_type(col.arrow_type, row_arrow_type(expected.dtype, expected.shape[1:], layout))
    assert_field_metadata(col, expected.dtype, expected.shape[1:], layout)
    assert col.leaf_bytes == np.ascontiguousarray(expected).tobytes()
    return col


def assert_columns_match(dump, expected: np.ndarray, name: str):
    """Fortran-order 2-D: one Arrow column per numpy column, named NAME_j."""
    n, k = expected.shape
    cols = dump.columns
    assert [c.name for c in cols] == [f"{name}_{j}" for j in range(k)]
    for j, col in enumerate(cols):
        assert col.len == n
        assert dump["num_rows"] == n
        assert_arrow_type(col.arrow_type, scalar_arrow_type(expected.dtype))
        assert_field_metadata(col, expected.dtype, ())
        assert col.leaf_bytes == np.ascontiguousarray(expected[:, j]).tobytes(), f"column {j}"
    return cols


# --------------------------------------------------------------------------
# Writing files with numpy


def write_memmap(path, a: np.ndarray, *, offset=0, order="C") -> np.ndarray:
    """Writes ``a`` with ``np.memmap(mode='w+', offset=...)`` and returns
    numpy's read-only view of the file. The bytes before the offset are set to
    0xEE so a reader that ignores the offset sees garbage."""
    m = np.memmap(path, dtype=a.dtype, mode="w+", shape=a.shape, offset=offset, order=order)
    m[...] = a
    m.flush()
    del m
    if offset:
        with open(path, "r+b") as f:
            f.write(b"\xee" * offset)
    view = np.memmap(path, dtype=a.dtype, mode="r", shape=a.shape, offset=offset, order=order)
    assert np.ascontiguousarray(view).tobytes() == np.ascontiguousarray(a).tobytes()
    return view


def hand_sidecar_doc(a: np.ndarray, offset: int, order: str) -> dict:
    return {
        "format": "mmarrow.array",
        "version": 1,
        "dtype": a.dtype.str,
        "shape": list(a.shape),
        "order": order,
        "offset": offset,
    }


def describe_both_ways(mm, path, a, *, offset, order, writer):
    """The sidecar, written by ``mmarrow describe`` or by hand in Python. A
    ``describe`` sidecar must say what the hand-written one says."""
    if writer == "describe":
        text = mm.describe(path, a.dtype, a.shape, offset=offset, order=order)
        assert json.loads(text) == hand_sidecar_doc(a, offset, order)
    else:
        write_sidecar_by_hand(path, a, offset=offset, order=order)


SHAPES = [(11,), (5, 3), (4, 2, 3)]
SHAPE_IDS = ["1d", "2d", "3d"]
OFFSETS = {"no-offset": 0, "offset-3-items": 3, "offset-1000-items": 1000}


# --------------------------------------------------------------------------
# 1. numpy.memmap raw files


@pytest.mark.parametrize("offset_items", OFFSETS.values(), ids=OFFSETS.keys())
@pytest.mark.parametrize("shape", SHAPES, ids=SHAPE_IDS)
def test_memmap_c_order_described_by_cli(mm, tmp_path, supported_dtype, shape, offset_items):
    a = sample_array(supported_dtype, shape, seed=len(shape) + offset_items)
    offset = offset_items * a.dtype.itemsize
    path = tmp_path / "arr.raw"
    view = write_memmap(path, a, offset=offset)
    describe_both_ways(mm, path, a, offset=offset, order="C", writer="describe")

    dump = mm.dump(path)
    assert dump["dtype"] == a.dtype.str
    assert dump["order"] == "C"
    col = assert_c_order_matches(dump, view, "arr")
    assert_zero_copy_view(dump, col)


@pytest.mark.parametrize("shape", SHAPES, ids=SHAPE_IDS)
def test_memmap_c_order_hand_written_sidecar(mm, tmp_path, supported_dtype, shape):
    """docs/FORMAT.md's claim: a few lines of json next to np.memmap suffice."""
    a = sample_array(supported_dtype, shape, seed=7)
    offset = 5 * a.dtype.itemsize
    path = tmp_path / "hand.dat"
    view = write_memmap(path, a, offset=offset)
    write_sidecar_by_hand(path, a, offset=offset)

    dump = mm.dump(path)
    assert dump["dtype"] == a.dtype.str
    col = assert_c_order_matches(dump, view, "hand")
    assert_zero_copy_view(dump, col)
    info = mm.info(path)
    assert info["source"].startswith("sidecar"), info["source"]
    assert (info["dtype"], info["shape"], info["offset"]) == (a.dtype.str, list(a.shape), offset)
    assert info["nbytes"] == a.nbytes
    assert info["zero_copy"] is True


@pytest.mark.parametrize("writer", ["describe", "hand"])
@pytest.mark.parametrize("offset_items", [0, 3], ids=["no-offset", "offset-3-items"])
def test_memmap_fortran_2d_one_column_per_numpy_column(
    mm, tmp_path, supported_dtype, offset_items, writer
):
    a = sample_array(supported_dtype, (6, 4), seed=11)
    offset = offset_items * a.dtype.itemsize
    path = tmp_path / "fcols.raw"
    view = write_memmap(path, a, offset=offset, order="F")
    describe_both_ways(mm, path, a, offset=offset, order="F", writer=writer)

    dump = mm.dump(path)
    assert dump["order"] == "F"
    assert dump["shape"] == [6, 4]
    assert dump["zero_copy"] is True
    for col in assert_columns_match(dump, view, "fcols"):
        assert col.in_map is True


@pytest.mark.parametrize("dtype", ["<f4", "<i2", "|b1", "<c16", "<M8[us]", "|S7"], ids=dtype_id)
def test_memmap_fortran_3d_needs_a_copy(mm, tmp_path, dtype):
    a = sample_array(dtype, (3, 4, 5), seed=3)
    path = tmp_path / "f3.raw"
    view = write_memmap(path, a, order="F")
    mm.describe(path, a.dtype, a.shape, order="F")

    assert_cli_error(mm.dump_proc(path), path, "Fortran", "(3, 4, 5)", "copy")
    dump = mm.dump(path, "--copy")
    assert dump["zero_copy"] is False
    assert dump["order"] == "C"
    assert any("transposed" in r for r in dump["copy_reasons"]), dump["copy_reasons"]
    col = assert_c_order_matches(dump, view, "f3")
    assert col.in_map is False


MISALIGNED = [
    # dtype, offset (bytes), shape, order
    ("<f4", 2, (10,), "C"),
    ("<f4", 2, (5, 3), "C"),
    ("<f4", 4095, (7,), "C"),
    ("<f8", 4, (9,), "C"),
    ("<i2", 1, (4, 2, 3), "C"),
    ("<c16", 4, (6,), "C"),  # complex needs the alignment of its float (8), not 16
    ("<M8[ns]", 12, (5,), "C"),
    ("<f4", 6, (6, 4), "F"),
]


@pytest.mark.parametrize(
    "dtype,offset,shape,order",
    MISALIGNED,
    ids=[f"{dtype_id(d)}-at-{o}-{'x'.join(map(str, s))}-{r}" for d, o, s, r in MISALIGNED],
)
def test_misaligned_offset_needs_a_copy(mm, tmp_path, dtype, offset, shape, order):
    a = sample_array(dtype, shape, seed=offset)
    path = tmp_path / "mis.raw"
    view = write_memmap(path, a, offset=offset, order=order)
    mm.describe(path, a.dtype, a.shape, offset=offset, order=order)

    assert_cli_error(mm.dump_proc(path), path, f"offset {offset}", "not a multiple", "copy")
    info = mm.info(path)
    assert info["zero_copy"] is False
    assert f"offset {offset}" in info["zero_copy_blocker"]

    dump = mm.dump(path, "--copy")
    assert dump["zero_copy"] is False
    assert dump["dtype"] == a.dtype.str
    assert len(dump["copy_reasons"]) == 1 and "realigned" in dump["copy_reasons"][0]
    if order == "F":
        cols = assert_columns_match(dump, view, "mis")
    else:
        cols = [assert_c_order_matches(dump, view, "mis")]
    assert all(c.in_map is False for c in cols)


@pytest.mark.parametrize("dtype,offset", [("<c8", 4), ("<c16", 8), ("<c16", 24)], ids=str)
def test_complex_at_half_itemsize_offset_is_zero_copy(mm, tmp_path, dtype, offset):
    """Arrow stores a complex as two floats: the float's alignment is enough."""
    a = sample_array(dtype, (5, 2), seed=1)
    path = tmp_path / "cx.raw"
    view = write_memmap(path, a, offset=offset)
    mm.describe(path, a.dtype, a.shape, offset=offset)
    dump = mm.dump(path)
    col = assert_c_order_matches(dump, view, "cx")
    assert_zero_copy_view(dump, col)


def test_big_endian_and_misaligned_raw_copies_for_both_reasons(mm, tmp_path):
    a = sample_array(">f8", (4, 3), seed=5)
    path = tmp_path / "be.raw"
    write_memmap(path, a, offset=3)
    mm.describe(path, a.dtype, a.shape, offset=3)
    assert_cli_error(mm.dump_proc(path), path, "big-endian")
    dump = mm.dump(path, "--copy")
    assert dump["dtype"] == "<f8"
    reasons = " | ".join(dump["copy_reasons"])
    assert "byte-swapped" in reasons and "realigned" in reasons, reasons
    assert dump.column.leaf_bytes == a.astype("<f8").tobytes()


def test_describe_understands_numpys_spellings(mm, tmp_path, supported_dtype):
    """Every spelling numpy itself resolves to the dtype (``str(a.dtype)``,
    ``.name``, ``.char``, ``.str`` with and without its byte-order mark) is
    recorded as numpy's canonical typestr."""
    d = np.dtype(supported_dtype)
    path = tmp_path / "spell.raw"
    path.write_bytes(bytes(d.itemsize * 4))
    spellings = {str(d), d.name, d.char, d.str, d.str[1:]}
    tried = 0
    for text in sorted(spellings):
        try:
            if np.dtype(text) != d:
                continue
        except TypeError:
            continue
        tried += 1
        mm.ok(mm.cli("describe", path, "--dtype", text, "--force"))
        assert json.loads(sidecar_path(path).read_text())["dtype"] == d.str, text
    assert tried >= 2, spellings


def test_tofile_with_an_inferred_dimension(mm, tmp_path):
    """``ndarray.tofile()`` + ``describe --shape -1,K``: the sidecar records the real shape."""
    a = sample_array("<f8", (9, 4), seed=59)
    path = tmp_path / "dump.f64"
    a.tofile(path)
    sidecar = json.loads(mm.describe(path, a.dtype, (-1, 4)))
    assert sidecar["shape"] == [9, 4]
    dump = mm.dump(path)
    col = assert_c_order_matches(dump, a, "dump")
    assert_zero_copy_view(dump, col)


def test_describe_keeps_an_existing_sidecar_unless_forced(mm, tmp_path):
    a = sample_array("<i4", (6, 2), seed=61)
    path = tmp_path / "re.i32"
    a.tofile(path)
    mm.describe(path, a.dtype, (6, 2))
    proc = mm.cli("describe", path, "--dtype", "<i4", "--shape", "12")
    assert_cli_error(proc, sidecar_path(path), "exists")
    assert json.loads(sidecar_path(path).read_text())["shape"] == [6, 2]
    mm.describe(path, a.dtype, (12,), force=True)
    assert mm.dump(path).column.leaf_bytes == a.tobytes()
    assert mm.dump(path)["shape"] == [12]


def test_describe_refuses_a_shape_the_file_cannot_hold(mm, tmp_path):
    a = sample_array("<f4", (10,))
    path = tmp_path / "short.raw"
    write_memmap(path, a)
    proc = mm.cli("describe", path, "--dtype", "<f4", "--shape", "11")
    assert_cli_error(proc, path, "40 bytes", "44")
    assert not sidecar_path(path).exists()


# --------------------------------------------------------------------------
# 2. .npy files


NPY_DTYPES = ["|b1", "|i1", "<u2", "<i8", "<f2", "<f4", "<f8", "<c8", "<M8[ms]", "<m8[ns]", "|S7", "|V4"]


@pytest.mark.parametrize("shape", SHAPES + [(0, 3), (0,), ()], ids=SHAPE_IDS + ["empty-2d", "empty-1d", "0d"])
@pytest.mark.parametrize("dtype", NPY_DTYPES, ids=dtype_id)
def test_np_save_c_order(mm, tmp_path, dtype, shape):
    a = sample_array(dtype, shape, seed=13)
    path = tmp_path / "saved.npy"
    np.save(path, a)
    loaded = np.load(path, mmap_mode="r") if a.size else np.load(path)

    info = mm.info(path)
    assert info["source"] == ".npy header (format 1.0)"
    assert info["offset"] == npy_data_offset(path)
    assert (info["dtype"], info["shape"], info["order"]) == (a.dtype.str, list(shape), "C")
    assert info["nbytes"] == a.nbytes

    dump = mm.dump(path)
    col = assert_c_order_matches(dump, loaded, "saved")
    assert_zero_copy_view(dump, col)


@pytest.mark.parametrize("dtype", ["<f4", "|b1", "<c16", "<M8[s]", "|S7"], ids=dtype_id)
def test_np_save_fortran_2d(mm, tmp_path, dtype):
    a = np.asfortranarray(sample_array(dtype, (7, 3), seed=17))
    path = tmp_path / "fort.npy"
    np.save(path, a)
    assert mm.info(path)["order"] == "F"
    dump = mm.dump(path)
    assert dump["zero_copy"] is True
    for col in assert_columns_match(dump, np.load(path, mmap_mode="r"), "fort"):
        assert col.in_map is True


@pytest.mark.parametrize("dtype", ["<f8", "<i4", "|u1", "<c8"], ids=dtype_id)
def test_np_save_fortran_3d_needs_a_copy(mm, tmp_path, dtype):
    a = np.asfortranarray(sample_array(dtype, (2, 3, 4), seed=19))
    path = tmp_path / "f3.npy"
    np.save(path, a)
    assert_cli_error(mm.dump_proc(path), path, "Fortran", "(2, 3, 4)")
    dump = mm.dump(path, "--copy")
    assert dump["zero_copy"] is False
    assert dump["order"] == "C"
    assert any("transposed" in r for r in dump["copy_reasons"])
    col = assert_c_order_matches(dump, np.load(path), "f3")
    assert col.leaf_bytes == np.ascontiguousarray(a).tobytes()
    assert col.in_map is False


@pytest.mark.parametrize("fortran", [False, True], ids=["C", "F"])
@pytest.mark.parametrize("version", [(1, 0), (2, 0), (3, 0)], ids=lambda v: f"v{v[0]}.{v[1]}")
def test_open_memmap_header_versions(mm, tmp_path, version, fortran):
    shape = (6, 5)
    path = tmp_path / "om.npy"
    m = np.lib.format.open_memmap(
        path, mode="w+", dtype="<i4", shape=shape, fortran_order=fortran, version=version
    )
    m[...] = sample_array("<i4", shape, seed=23)
    m.flush()
    del m
    with open(path, "rb") as f:
        assert tuple(f.read(8)[6:8]) == version  # numpy wrote the version asked for
    numpy_view = np.load(path, mmap_mode="r")

    info = mm.info(path)
    assert info["source"] == f".npy header (format {version[0]}.{version[1]})"
    assert info["offset"] == npy_data_offset(path)
    assert info["order"] == ("F" if fortran else "C")
    dump = mm.dump(path)
    assert dump["zero_copy"] is True
    if fortran:
        assert_columns_match(dump, numpy_view, "om")
    else:
        assert_c_order_matches(dump, numpy_view, "om")
    assert all(c.in_map for c in dump.columns)


def test_open_memmap_3d_tensor(mm, tmp_path):
    path = tmp_path / "t3.npy"
    m = np.lib.format.open_memmap(path, mode="w+", dtype="<f4", shape=(4, 2, 5))
    m[...] = sample_array("<f4", (4, 2, 5), seed=29)
    m.flush()
    del m
    dump = mm.dump(path)
    col = assert_c_order_matches(dump, np.load(path, mmap_mode="r"), "t3")
    assert_zero_copy_view(dump, col)


BIG_ENDIAN = [">f8", ">f4", ">f2", ">i2", ">i4", ">i8", ">u2", ">u4", ">u8", ">c8", ">c16", ">M8[ns]", ">M8[s]", ">m8[us]"]


@pytest.mark.parametrize("shape", [(9,), (4, 3)], ids=["1d", "2d"])
@pytest.mark.parametrize("dtype", BIG_ENDIAN, ids=dtype_id)
def test_big_endian_npy_needs_a_copy(mm, tmp_path, dtype, shape):
    a = sample_array(dtype, shape, seed=31)
    assert a.dtype.str == dtype
    path = tmp_path / "be.npy"
    np.save(path, a)

    assert_cli_error(mm.dump_proc(path), path, "big-endian", dtype)
    info = mm.info(path)
    assert info["zero_copy"] is False and "big-endian" in info["zero_copy_blocker"]

    native = a.astype(a.dtype.newbyteorder("<"))
    dump = mm.dump(path, "--copy")
    assert dump["zero_copy"] is False
    assert dump["copy_reasons"] and "byte-swapped" in dump["copy_reasons"][0]
    assert dump["dtype"] == native.dtype.str
    col = assert_c_order_matches(dump, native, "be")
    assert col.leaf_bytes == native.tobytes()
    assert col.in_map is False


def test_big_endian_fortran_2d_npy_copy(mm, tmp_path):
    a = np.asfortranarray(sample_array(">f8", (5, 3), seed=37))
    path = tmp_path / "bef.npy"
    np.save(path, a)
    assert_cli_error(mm.dump_proc(path), path, "big-endian")
    dump = mm.dump(path, "--copy")
    assert dump["order"] == "F"
    assert "byte-swapped" in dump["copy_reasons"][0]
    assert_columns_match(dump, a.astype("<f8"), "bef")


# --------------------------------------------------------------------------
# Edge shapes: rows without elements


@pytest.mark.parametrize("shape", [(3, 0), (3, 0, 2)], ids=["3x0", "3x0x2"])
def test_zero_width_rows_keep_their_row_count(mm, tmp_path, shape):
    """numpy has 3 rows of 0 elements; Arrow must have 3 (empty) rows too,
    as ``mmarrow info`` says."""
    a = np.zeros(shape, dtype="<i2")
    path = tmp_path / "thin.npy"
    np.save(path, a)
    assert mm.info(path)["rows"] == 3
    dump = mm.dump(path)
    assert_c_order_matches(dump, a, "thin")  # num_rows == len == 3, FixedSizeList(0 x Int16)


def _fortran_without_columns(tmp_path):
    """A (3, 0) Fortran-order array: numpy.memmap cannot map 0 bytes, so the
    (empty) file and its sidecar are written by hand."""
    path = tmp_path / "nocols.raw"
    path.write_bytes(b"")
    write_sidecar_by_hand(path, np.zeros((3, 0), dtype="<f4", order="F"), order="F")
    return path


def test_fortran_2d_without_columns_dump(mm, tmp_path):
    """One Arrow column per numpy column: no columns, 3 rows; or a clean refusal."""
    path = _fortran_without_columns(tmp_path)
    proc = mm.dump_proc(path)
    if proc.returncode == 0:
        dump = json.loads(proc.stdout)
        assert dump["columns"] == [] and dump["num_rows"] == 3, dump
    else:
        assert_cli_error(proc, path)


def test_fortran_2d_without_columns_head(mm, tmp_path):
    path = _fortran_without_columns(tmp_path)
    proc = mm.cli("head", path)
    if proc.returncode != 0:
        assert_cli_error(proc, path)  # a user error (exit 2) naming the file, not exit 1


# --------------------------------------------------------------------------
# 3. Layouts


@pytest.mark.parametrize(
    "shape", [(3, 2, 3), (2, 2, 3, 4), (4, 5)], ids=["n-2-3", "n-2-3-4", "n-5"]
)
@pytest.mark.parametrize("dtype", ["<f4", "<i8", "<c8"], ids=dtype_id)
@pytest.mark.parametrize("layout", ["tensor", "list", "nested"])
def test_layouts(mm, tmp_path, layout, dtype, shape):
    a = sample_array(dtype, shape, seed=41)
    path = tmp_path / "lay.npy"
    np.save(path, a)
    dump = mm.dump(path, "--layout", layout)
    col = assert_c_order_matches(dump, a, "lay", layout=layout)
    assert_zero_copy_view(dump, col)


def test_nested_layout_type_string(mm, tmp_path):
    """The arrow-rs 59 spelling, spelled out once."""
    path = tmp_path / "n.npy"
    np.save(path, sample_array("<f4", (3, 2, 3)))
    assert mm.dump(path, "--layout", "nested").column.arrow_type == (
        "FixedSizeList(2 x FixedSizeList(3 x Float32))"
    )
    assert mm.dump(path, "--layout", "list").column.arrow_type == "FixedSizeList(6 x Float32)"
    assert mm.dump(path).column.arrow_type == "FixedSizeList(6 x Float32)"


@pytest.mark.parametrize("shape", [(13,), (5, 3)], ids=["1d", "2d"])
def test_boolean_layout(mm, tmp_path, shape):
    a = sample_array("|b1", shape, seed=43)
    assert a.any() and not a.all()
    path = tmp_path / "flags.raw"
    write_memmap(path, a, offset=1)
    mm.describe(path, a.dtype, a.shape, offset=1)

    default = mm.dump(path).column
    assert_arrow_type(default.arrow_type, row_arrow_type(a.dtype, shape[1:]))
    assert default.in_map is True

    dump = mm.dump(path, "--boolean")
    col = dump.column
    expected = "Boolean" if len(shape) == 1 else f"FixedSizeList({shape[1]} x Boolean)"
    assert_arrow_type(col.arrow_type, expected)
    if len(shape) == 1:
        assert EXT_NAME not in col.metadata  # not an arrow.bool8 any more
    # arrow_dump expands the bits to one byte per value, like numpy's bool
    assert col.leaf_bytes == a.astype(np.uint8).tobytes()
    assert col.leaf_bytes == default.leaf_bytes


# --------------------------------------------------------------------------
# 4. Refusals through the CLI


def test_object_npy_is_refused(mm, tmp_path):
    path = tmp_path / "obj.npy"
    np.save(path, np.array([1, "two", None], dtype=object), allow_pickle=True)
    assert_cli_error(mm.cli("info", path), path, "object")
    assert_cli_error(mm.dump_proc(path), path, "object")


def test_unicode_npy_is_refused(mm, tmp_path):
    path = tmp_path / "text.npy"
    np.save(path, np.array(["abc", "de"], dtype="<U3"))
    assert_cli_error(mm.cli("info", path), path, "<U3")
    assert_cli_error(mm.cli("info", path, "--json"), path, "<U3")


def test_structured_npy_is_refused(mm, tmp_path):
    path = tmp_path / "rec.npy"
    np.save(path, np.zeros(4, dtype=[("a", "<i4"), ("b", "<f8")]))
    assert_cli_error(mm.cli("info", path), path, "structured")


UNSUPPORTED = ["<M8[D]", "<m8[h]", "<M8", "<f16"]


@pytest.mark.parametrize("dtype", UNSUPPORTED, ids=["datetime-days", "timedelta-hours", "datetime-generic", "longdouble"])
def test_unmappable_dtype_npy_is_refused_naming_it(mm, tmp_path, dtype):
    path = tmp_path / "odd.npy"
    np.save(path, np.zeros(3, dtype=dtype))
    assert_cli_error(mm.cli("info", path), path, f'"{np.dtype(dtype).str}"')


def test_raw_without_sidecar_is_refused(mm, tmp_path):
    path = tmp_path / "bare.raw"
    write_memmap(path, sample_array("<f4", (4,)))
    assert_cli_error(mm.cli("info", path), path, "sidecar", "describe")


# --------------------------------------------------------------------------
# The human-facing CLI on numpy files


def test_info_json_agrees_with_numpy(mm, tmp_path):
    a = sample_array("<f4", (8, 2, 5), seed=47)
    path = tmp_path / "emb.npy"
    np.save(path, a)
    info = mm.info(path)
    assert info["dtype"] == "<f4" and info["dtype_name"] == "float32"
    assert info["shape"] == [8, 2, 5] and info["rows"] == 8
    assert info["nbytes"] == a.nbytes
    assert info["name"] == "emb"
    assert info["arrow_type"] == "FixedSizeList(10 x Float32)"
    assert info["arrow_extension_name"] == TENSOR
    assert json.loads(info["arrow_extension_metadata"]) == {"shape": [2, 5]}


def test_head_prints_numpy_values(mm, tmp_path):
    a = np.arange(15, dtype="<i4").reshape(5, 3)
    path = tmp_path / "small.npy"
    np.save(path, a)
    out = mm.ok(mm.cli("head", path, "-n", "2"))
    assert "[0, 1, 2]" in out and "[3, 4, 5]" in out
    assert "[6, 7, 8]" not in out
    assert "2 of 5 rows" in out
