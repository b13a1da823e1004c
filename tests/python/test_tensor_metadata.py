"""``arrow.fixed_shape_tensor`` metadata: mmarrow and pyarrow must read each
other's JSON.

* mmarrow → pyarrow: the JSON from ``tensor_meta encode`` and the field
  metadata ``arrow_dump`` prints for real files, put on a pyarrow field and
  sent through Arrow IPC, must come back as ``pa.fixed_shape_tensor`` with
  the same shape, dim_names and permutation (pyarrow validates strictly:
  nulls, product of the shape vs the list size, permutations).
* pyarrow → mmarrow: pyarrow's own JSON must decode and re-encode to the
  same document; arrow-rs 59's spelling (``permutations``, nulls) too.
"""

from __future__ import annotations

import ctypes
import json
import math

import numpy as np
import pyarrow as pa
import pytest

from conftest import assert_cli_error, dtype_id, sample_array

EXT_NAME = b"ARROW:extension:name"
EXT_META = b"ARROW:extension:metadata"
TENSOR = b"arrow.fixed_shape_tensor"

CASES = [
    {"shape": [3]},
    {"shape": [2, 5]},
    {"shape": [2, 5], "dim_names": ["a", "b"]},
    {"shape": [2, 5], "permutation": [1, 0]},
    {"shape": [2, 5], "dim_names": ["a", "b"], "permutation": [1, 0]},
    {"shape": [2, 3, 4], "dim_names": ["x", "y", "z"], "permutation": [2, 0, 1]},
]


def case_id(case) -> str:
    parts = ["x".join(map(str, case["shape"]))]
    if "dim_names" in case:
        parts.append("names")
    if "permutation" in case:
        parts.append("perm-" + "".join(map(str, case["permutation"])))
    return "-".join(parts)


# --------------------------------------------------------------------------
# Helpers


def encode(mm, case) -> str:
    args = ["encode", ",".join(map(str, case["shape"]))]
    if "dim_names" in case:
        args += ["--dim-names", ",".join(case["dim_names"])]
    if "permutation" in case:
        args += ["--permutation", ",".join(map(str, case["permutation"]))]
    return mm.ok(mm.tensor_meta(*args)).strip()


def decode(mm, text: str) -> str:
    return mm.ok(mm.tensor_meta("decode", text)).strip()


def tensor_field(name, value_type, size, metadata_json, extra=None) -> pa.Field:
    """A plain FixedSizeList field carrying the extension as metadata: what a
    reader sees of a column written by mmarrow."""
    md = {EXT_NAME: TENSOR, EXT_META: metadata_json.encode() if isinstance(metadata_json, str) else metadata_json}
    md.update(extra or {})
    return pa.field(name, pa.list_(value_type, size), metadata=md)


def via_ipc_schema(field: pa.Field) -> pa.Field:
    schema = pa.schema([field])
    return pa.ipc.read_schema(pa.py_buffer(schema.serialize())).field(field.name)


def via_ipc_stream(table: pa.Table) -> pa.Table:
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return pa.ipc.open_stream(sink.getvalue()).read_all()


def empty_table(field: pa.Field) -> pa.Table:
    return pa.table([pa.array([], type=field.type)], schema=pa.schema([field]))


def assert_pyarrow_tensor(t, value_type, case):
    assert isinstance(t, pa.FixedShapeTensorType), f"pyarrow did not restore the tensor type: {t}"
    assert t.value_type == value_type
    assert list(t.shape) == case["shape"]
    assert t.dim_names == case.get("dim_names")
    assert t.permutation == case.get("permutation")


class _ArrowSchema(ctypes.Structure):
    """The C Data Interface's ``struct ArrowSchema``."""

    _fields_ = [
        ("format", ctypes.c_char_p),
        ("name", ctypes.c_char_p),
        ("metadata", ctypes.c_void_p),
        ("flags", ctypes.c_int64),
        ("n_children", ctypes.c_int64),
        ("children", ctypes.c_void_p),
        ("dictionary", ctypes.c_void_p),
        ("release", ctypes.c_void_p),
        ("private_data", ctypes.c_void_p),
    ]


def _c_schema_metadata(obj) -> dict[bytes, bytes]:
    """The metadata of ``obj``'s exported ``ArrowSchema`` (C Data Interface:
    int32 count, then int32-length-prefixed keys and values)."""
    capsule = obj.__arrow_c_schema__()
    get = ctypes.pythonapi.PyCapsule_GetPointer
    get.restype = ctypes.c_void_p
    get.argtypes = [ctypes.py_object, ctypes.c_char_p]
    schema = _ArrowSchema.from_address(get(capsule, b"arrow_schema"))
    out = {}
    if schema.metadata:
        base, pos = schema.metadata, 4
        for _ in range(ctypes.c_int32.from_address(base).value):
            n = ctypes.c_int32.from_address(base + pos).value
            key = ctypes.string_at(base + pos + 4, n)
            pos += 4 + n
            n = ctypes.c_int32.from_address(base + pos).value
            out[key] = ctypes.string_at(base + pos + 4, n)
            pos += 4 + n
    return out  # the capsule (still referenced above) releases the schema


def pyarrow_extension_json(t: pa.FixedShapeTensorType) -> str:
    """The JSON pyarrow writes for ``t``. pyarrow 26's C++-backed
    FixedShapeTensorType has no ``__arrow_ext_serialize__``; the extension
    metadata it exports through the C Data Interface is the same text."""
    serialize = getattr(t, "__arrow_ext_serialize__", None)
    if serialize is not None:
        return serialize().decode()
    md = _c_schema_metadata(t)
    assert md[EXT_NAME] == TENSOR, md
    return md[EXT_META].decode()


# --------------------------------------------------------------------------
# mmarrow's JSON → pyarrow


@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_encode_writes_the_spec_form(mm, case):
    text = encode(mm, case)
    assert json.loads(text) == case  # absent fields are omitted, not null
    assert "null" not in text and "permutations" not in text


@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_pyarrow_restores_mmarrow_json_from_ipc_schema(mm, case):
    size = math.prod(case["shape"])
    field = tensor_field("t", pa.float32(), size, encode(mm, case))
    assert_pyarrow_tensor(via_ipc_schema(field).type, pa.float32(), case)


@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_pyarrow_restores_mmarrow_json_from_ipc_stream(mm, case):
    size = math.prod(case["shape"])
    field = tensor_field("t", pa.float32(), size, encode(mm, case))
    back = via_ipc_stream(empty_table(field))
    assert back.num_rows == 0
    assert_pyarrow_tensor(back.schema.field("t").type, pa.float32(), case)


def test_pyarrow_checks_the_shape_against_the_list_size(mm):
    """The round trip above is a real check: pyarrow refuses a shape whose
    product is not the list size."""
    field = tensor_field("t", pa.float32(), 9, encode(mm, {"shape": [2, 5]}))
    with pytest.raises(pa.ArrowInvalid, match="does not match"):
        via_ipc_schema(field)


REAL_FILES = [
    # dtype, shape of the numpy array, pyarrow value type
    ("<f4", (6, 2, 5), pa.float32()),
    ("<f4", (4, 5), pa.float32()),
    ("<i2", (3, 2, 3, 2), pa.int16()),
    ("<f8", (5, 1, 4), pa.float64()),
    ("<c8", (3, 4), pa.float32()),  # complex: a trailing dimension of 2 floats
]


@pytest.mark.parametrize(
    "dtype,shape,value_type",
    REAL_FILES,
    ids=[f"{dtype_id(d)}-{'x'.join(map(str, s))}" for d, s, _ in REAL_FILES],
)
def test_pyarrow_reads_arrow_dump_tensor_of_a_real_file(mm, tmp_path, dtype, shape, value_type):
    a = sample_array(dtype, shape, seed=53)
    if a.dtype.kind == "f":
        a[np.isnan(a)] = 0  # compared with ==, not as bytes, below
    path = tmp_path / "emb.raw"
    m = np.memmap(path, dtype=a.dtype, mode="w+", shape=a.shape)
    m[...] = a
    m.flush()
    del m
    mm.describe(path, a.dtype, a.shape)
    col = mm.dump(path).column

    metadata = {k.encode(): v.encode() for k, v in col.metadata.items()}
    assert metadata[EXT_NAME] == TENSOR
    np_value = value_type.to_pandas_dtype()
    logical = a.view(np_value).reshape(shape[0], *shape[1:], -1) if a.dtype.kind == "c" else a
    row_shape = list(logical.shape[1:])
    assert json.loads(metadata[EXT_META]) == {"shape": row_shape}

    size = math.prod(row_shape)
    field = pa.field(col.name, pa.list_(value_type, size), metadata=metadata)
    restored = via_ipc_schema(field).type
    assert_pyarrow_tensor(restored, value_type, {"shape": row_shape})

    # The values too: Arrow's leaf bytes, seen by pyarrow as tensors, are numpy's array.
    values = pa.array(np.frombuffer(col.leaf_bytes, dtype=np_value))
    storage = pa.FixedSizeListArray.from_arrays(values, size)
    table = pa.Table.from_arrays([storage], schema=pa.schema([field]))
    back = via_ipc_stream(table).column(col.name).combine_chunks()
    assert isinstance(back.type, pa.FixedShapeTensorType)
    got = back.to_numpy_ndarray()
    assert got.shape == logical.shape
    np.testing.assert_array_equal(got, logical)


# --------------------------------------------------------------------------
# pyarrow's JSON → mmarrow


@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_mmarrow_decodes_pyarrow_json(mm, case):
    t = pa.fixed_shape_tensor(
        pa.float32(), case["shape"], dim_names=case.get("dim_names"), permutation=case.get("permutation")
    )
    theirs = pyarrow_extension_json(t)
    assert json.loads(theirs)["shape"] == case["shape"]
    ours = decode(mm, theirs)
    assert json.loads(ours) == json.loads(theirs)
    # and what mmarrow re-encodes is what it encodes from scratch
    assert ours == encode(mm, case)


def test_mmarrow_decodes_pyarrow_identity_permutation(mm):
    t = pa.fixed_shape_tensor(pa.float32(), [2, 5], permutation=[0, 1])
    theirs = pyarrow_extension_json(t)
    assert json.loads(decode(mm, theirs)) == json.loads(theirs) == {"shape": [2, 5], "permutation": [0, 1]}


ARROW_RS_59 = [
    ('{"shape":[2,3],"dim_names":null,"permutations":null}', {"shape": [2, 3]}),
    (
        '{"shape":[2,3],"dim_names":["h","w"],"permutations":[1,0]}',
        {"shape": [2, 3], "dim_names": ["h", "w"], "permutation": [1, 0]},
    ),
]


@pytest.mark.parametrize("text,expected", ARROW_RS_59, ids=["nulls", "values"])
def test_mmarrow_decodes_arrow_rs_59_spelling_into_what_pyarrow_reads(mm, text, expected):
    ours = decode(mm, text)
    assert json.loads(ours) == expected
    # pyarrow refuses arrow-rs's form, but accepts mmarrow's re-encoding of it.
    if "null" in text:
        with pytest.raises(pa.ArrowInvalid, match="null"):
            via_ipc_schema(tensor_field("t", pa.float32(), 6, text))
    assert_pyarrow_tensor(via_ipc_schema(tensor_field("t", pa.float32(), 6, ours)).type, pa.float32(), expected)


INVALID = {
    "not-json": "not json",
    "no-shape": "{}",
    "shape-not-array": '{"shape":"x"}',
    "negative-shape": '{"shape":[-2,-3]}',
    "names-length": '{"shape":[2,3],"dim_names":["a"]}',
    "names-not-strings": '{"shape":[2,3],"dim_names":[1,2]}',
    "perm-repeats": '{"shape":[2,3],"permutation":[0,0]}',
    "perm-range": '{"shape":[2,3],"permutation":[0,2]}',
    "perm-length": '{"shape":[2,3],"permutation":[1]}',
}


@pytest.mark.parametrize("text", INVALID.values(), ids=INVALID.keys())
def test_metadata_pyarrow_refuses_mmarrow_refuses(mm, text):
    with pytest.raises(pa.ArrowInvalid):
        via_ipc_schema(tensor_field("t", pa.float32(), 6, text))
    assert_cli_error(mm.tensor_meta("decode", text), None, "fixed_shape_tensor")
