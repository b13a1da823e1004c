"""Writes the bad-input corpus tests/corpus/bad/ and its manifest cases.txt.

    /work/main/.venv/bin/python tests/corpus/make_bad.py

Every case is malformed: tests/it/bad_corpus.rs runs each through the library
and the CLI and expects a typed error naming the file. Cases whose path starts
with `@` are made by the test itself (FIFOs, symlinks, directories, sparse
huge files); they are listed here so that cases.txt is the one list.

A `known-failing: REASON` mark in cases.txt is kept when this script rewrites
the file: marks are edited by hand (the lead removes one after fixing it).
"""

import io
import json
import shutil
import struct
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.ipc as ipc
import pyarrow.parquet as pq

HERE = Path(__file__).resolve().parent
BAD = HERE / "bad"
CASES = []  # (path, how, description)


def case(path, how, desc):
    CASES.append((path, how, desc))


def put(rel, data):
    p = BAD / rel
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_bytes(data)


def npy_raw(header_text, data=b"", version=(1, 0), hlen=None, encoding="latin-1"):
    h = header_text.encode(encoding) if isinstance(header_text, str) else header_text
    pre = b"\x93NUMPY" + bytes(version)
    if version[0] == 1:
        pre += struct.pack("<H", len(h) if hlen is None else hlen)
    else:
        pre += struct.pack("<I", len(h) if hlen is None else hlen)
    return pre + h + data


def dict_header(descr="'<f4'", fortran="False", shape="(4,)"):
    d = "{'descr': %s, 'fortran_order': %s, 'shape': %s, }" % (descr, fortran, shape)
    total = (10 + len(d) + 1 + 63) // 64 * 64
    return d + " " * (total - 10 - len(d) - 1) + "\n"


def npy_case(name, data, desc):
    put(f"npy/{name}.npy", data)
    case(f"npy/{name}.npy", "array", desc)


def npys():
    f16 = np.arange(4, dtype="<f4").tobytes()
    good = io.BytesIO()
    np.save(good, np.arange(4, dtype="<f4"))
    good = good.getvalue()
    npy_case("empty", b"", "empty file named .npy")
    npy_case("magic_only", b"\x93NUMPY", "the magic and nothing else")
    npy_case("bad_magic", b"\x93NUMPZ" + good[6:], "wrong magic bytes")
    npy_case("truncated_in_version", b"\x93NUMPY\x01", "truncated inside the version bytes")
    npy_case("truncated_in_hlen_v1", b"\x93NUMPY\x01\x00\x40", "v1.0, truncated inside the u16 header length")
    npy_case("truncated_in_hlen_v2", b"\x93NUMPY\x02\x00\x40\x00\x00", "v2.0, truncated inside the u32 header length")
    npy_case("version_4", npy_raw(dict_header(), f16, version=(4, 0)), "unknown format version 4.0")
    npy_case("version_0", npy_raw(dict_header(), f16, version=(0, 0)), "unknown format version 0.0")
    npy_case("huge_hlen_v2", npy_raw(dict_header(), f16, version=(2, 0), hlen=0xFFFFFFFF), "v2.0 header length 4 GiB - 1 (must be refused before allocating)")
    npy_case("huge_hlen_v3", npy_raw(dict_header(), f16, version=(3, 0), hlen=0x7FFFFFF0), "v3.0 header length 2 GiB (must be refused before allocating)")
    npy_case("hlen_past_end", npy_raw(dict_header()[:40], version=(1, 0), hlen=1000), "header length 1000, file ends after 40 header bytes")
    npy_case("header_not_a_dict", npy_raw("[1, 2, 3]" + " " * 54 + "\n", f16), "header is a list literal, not a dict")
    npy_case("header_garbage", npy_raw(bytes(range(256))[128:182] + b"\n", f16), "header is binary garbage")
    npy_case("missing_descr", npy_raw("{'fortran_order': False, 'shape': (4,), }" + " " * 12 + "\n", f16), "header dict lacks descr")
    npy_case("missing_shape", npy_raw("{'descr': '<f4', 'fortran_order': False, }" + " " * 11 + "\n", f16), "header dict lacks shape")
    npy_case("unterminated_dict", npy_raw("{'descr': '<f4', 'fortran_order': False, 'shape': (4," + "\n", f16), "dict literal never closed")
    npy_case("negative_shape", npy_raw(dict_header(shape="(-3,)"), f16), "negative dimension")
    npy_case("overflow_shape", npy_raw(dict_header(shape="(4611686018427387904, 4611686018427387904)"), f16), "shape whose element count overflows u64")
    npy_case("dim_above_u64", npy_raw(dict_header(shape="(18446744073709551616,)"), f16), "a dimension of 2**64")
    npy_case("float_shape", npy_raw(dict_header(shape="(4.0,)"), f16), "float dimension")
    npy_case("nan_shape", npy_raw(dict_header(shape="(nan,)"), f16), "NaN dimension")
    npy_case("shape_not_tuple", npy_raw(dict_header(shape="4"), f16), "shape is an int, not a tuple")
    npy_case("zero_dim_huge_row", npy_raw(dict_header(shape="(0, 9223372036854775807)"), b""), "zero rows of 2**63-1 elements (row too wide for Arrow)")
    npy_case("data_too_short", npy_raw(dict_header(shape="(100,)"), f16), "shape (100,) of <f4 needs 400 bytes, 16 present")
    npy_case("fortran_order_not_bool", npy_raw(dict_header(fortran="'yes'"), f16), "fortran_order is a string")
    npy_case("descr_object", npy_raw(dict_header(descr="'|O'"), b"\0" * 32), "object dtype |O")
    npy_case("descr_unicode", npy_raw(dict_header(descr="'<U5'"), b"\0" * 80), "unicode dtype <U5")
    npy_case("descr_structured", npy_raw(dict_header(descr="[('a', '<i4'), ('b', '<f8')]"), b"\0" * 48), "structured dtype")
    npy_case("descr_unknown", npy_raw(dict_header(descr="'<q9'"), f16), "unknown typestr <q9")
    npy_case("descr_not_string", npy_raw(dict_header(descr="4"), f16), "descr is an int")
    npy_case("v3_header_not_utf8", npy_raw(b"{'descr': '<f4', 'fortran_order': False, 'shape': (4,), '\xff\xfe': 1}     \n", f16, version=(3, 0)), "v3.0 header that is not UTF-8")
    npy_case("header_with_nul", npy_raw("{'descr': '<f4',\0 'fortran_order': False, 'shape': (4,), }" + " " * 9 + "\n", f16), "NUL byte inside the header")


def sidecar_case(name, doc, data, desc, how="array", raw=False):
    rel = f"sidecar/{name}.bin"
    put(rel, data)
    put(rel + ".mmarrow.json", doc if raw else json.dumps(doc).encode())
    case(rel, how, desc)


def sidecars():
    d16 = bytes(16)
    base = {"format": "mmarrow.array", "version": 1, "dtype": "<f4", "shape": [4]}

    def with_(**kw):
        d = dict(base)
        d.update(kw)
        return d

    sidecar_case("not_json", b"dtype=f4", d16, "sidecar is not JSON", raw=True)
    sidecar_case("empty_sidecar", b"", d16, "sidecar file is empty", raw=True)
    sidecar_case("sidecar_not_utf8", b'{"format":"mmarrow.array","dtype":"\xff\xfe"}', d16, "sidecar is not UTF-8", raw=True)
    sidecar_case("sidecar_is_list", b"[1, 2, 3]", d16, "sidecar is a JSON list", raw=True)
    sidecar_case("nan_shape", b'{"format":"mmarrow.array","version":1,"dtype":"<f4","shape":[NaN]}', d16, "NaN in shape (not JSON)", raw=True)
    sidecar_case("shape_string", with_(shape="4"), d16, "shape is a string")
    sidecar_case("float_shape", with_(shape=[2.5, 2]), d16, "float dimension")
    sidecar_case("negative_shape", with_(shape=[-4]), d16, "negative dimension")
    sidecar_case("zero_and_inferred", with_(shape=[0, -1]), d16, "a zero dimension next to an inferred -1")
    sidecar_case("overflow_shape", with_(shape=[4294967296, 4294967296, 4294967296]), d16, "element count overflows u64")
    sidecar_case("dim_above_u64", b'{"format":"mmarrow.array","version":1,"dtype":"<f4","shape":[18446744073709551616]}', d16, "a dimension of 2**64", raw=True)
    sidecar_case("row_too_wide", with_(shape=[1, 4294967296]), d16, "one row of 2**32 elements (wider than an Arrow list)")
    sidecar_case("shape_needs_more", with_(shape=[1000]), d16, "shape needs 4000 bytes, file has 16")
    sidecar_case("unknown_version", with_(version=99), d16, "sidecar version 99")
    sidecar_case("version_zero", with_(version=0), d16, "sidecar version 0")
    sidecar_case("version_string", with_(version="1"), d16, "version is a string")
    sidecar_case("wrong_format", with_(format="numpy"), d16, "format is not mmarrow.array")
    sidecar_case("missing_dtype", {k: v for k, v in base.items() if k != "dtype"}, d16, "no dtype")
    sidecar_case("dtype_number", with_(dtype=4), d16, "dtype is a number")
    sidecar_case("dtype_object", with_(dtype="|O"), d16, "object dtype |O")
    sidecar_case("dtype_unicode", with_(dtype="<U4"), d16, "unicode dtype <U4")
    sidecar_case("dtype_structured", with_(dtype="[('a', '<i4')]"), d16, "structured dtype spelled as a list literal")
    sidecar_case("dtype_generic_datetime", with_(dtype="<M8"), d16, "datetime64 without a unit")
    sidecar_case("offset_past_end", with_(offset=1000), d16, "offset 1000 in a 16-byte file")
    sidecar_case("offset_negative", with_(offset=-1), d16, "negative offset")
    sidecar_case("offset_overflow", with_(offset=18446744073709551615), d16, "offset u64::MAX (offset + size overflows)")
    sidecar_case("order_unknown", with_(order="X"), d16, "order X")
    sidecar_case("metadata_not_strings", with_(metadata={"a": 1}), d16, "metadata value is a number")
    sidecar_case("name_number", with_(name=5), d16, "name is a number")
    sidecar_case("empty_data_file", base, b"", "empty data file, sidecar says 4 floats")
    sidecar_case("not_whole_items", with_(dtype="<f8", shape=[2]), bytes(15), "15 bytes for two <f8")
    put("raw/no_sidecar_zero_inferred.bin", d16)
    case("raw/no_sidecar_zero_inferred.bin", "array --dtype f4 --shape 0,-1", "no sidecar; options say shape 0,-1 (inference against a zero dimension)")
    put("raw/no_sidecar_not_whole.bin", bytes(10))
    case("raw/no_sidecar_not_whole.bin", "array --dtype f4 --shape -1", "no sidecar; 10 bytes are not whole <f4 items")


COL_I64 = {"field": {"name": "n", "type": {"name": "int64"}, "nullable": False},
           "files": {"values": "c0.values"}, "null_count": 0}
COL_STR = {"field": {"name": "s", "type": {"name": "utf8"}, "nullable": True},
           "files": {"validity": "c1.validity", "offsets": "c1.offsets", "values": "c1.values"},
           "null_count": 1}


def manifest(rows=4, columns=None, **kw):
    m = {"format": "mmarrow.table", "version": 1, "rows": rows,
         "columns": [COL_I64] if columns is None else columns, "metadata": {}}
    m.update(kw)
    return json.dumps(m, indent=1).encode()


def table_case(name, files, desc, how="table"):
    for f, data in files.items():
        put(f"table/{name}/{f}", data)
    case(f"table/{name}", how, desc)


def col(**kw):
    c = json.loads(json.dumps(COL_I64))
    for k, v in kw.items():
        if k == "type":
            c["field"]["type"] = v
        elif k == "nullable":
            c["field"]["nullable"] = v
        elif k == "files":
            c["files"] = v
        else:
            c[k] = v
    return c


def tables():
    v4 = np.arange(4, dtype="<i8").tobytes()
    ok = {"c0.values": v4}
    # a utf8 column: rows 4, one null (row 2)
    offs = np.array([0, 1, 3, 3, 6], dtype="<i4").tobytes()
    strs = {"c1.validity": bytes([0b1011]), "c1.offsets": offs, "c1.values": b"abcdef"}
    table_case("missing_manifest", ok, "a directory of column files without manifest.json")
    table_case("manifest_not_json", {"manifest.json": b"{rows: 4", **ok}, "manifest is not JSON")
    table_case("manifest_empty", {"manifest.json": b"", **ok}, "manifest is empty")
    table_case("manifest_not_utf8", {"manifest.json": b'{"format": "mmarrow.table\xff"}', **ok}, "manifest is not UTF-8")
    table_case("wrong_format", {"manifest.json": manifest(format="mmarrow.array"), **ok}, "format is mmarrow.array")
    table_case("unknown_version", {"manifest.json": manifest(version=2), **ok}, "table version 2")
    table_case("rows_negative", {"manifest.json": manifest(rows=-1), **ok}, "rows is -1")
    table_case("rows_float", {"manifest.json": manifest(rows=4.5), **ok}, "rows is 4.5")
    table_case("rows_huge", {"manifest.json": manifest(rows=2**63), **ok}, "rows 2**63 against a 32-byte column file")
    table_case("columns_not_list", {"manifest.json": manifest(columns={"a": 1}), **ok}, "columns is an object")
    table_case("missing_column_file", {"manifest.json": manifest()}, "the values file is absent")
    table_case("short_column_file", {"manifest.json": manifest(), "c0.values": v4[:20]}, "values file has 20 bytes, 4 int64 rows need 32")
    table_case("empty_column_file", {"manifest.json": manifest(), "c0.values": b""}, "values file is empty")
    table_case("name_dotdot", {"manifest.json": manifest(columns=[col(files={"values": ".."})]), **ok}, "values file named ..")
    table_case("name_parent_path", {"manifest.json": manifest(columns=[col(files={"values": "../c0.values"})]), **ok}, "values file ../c0.values")
    table_case("name_absolute", {"manifest.json": manifest(columns=[col(files={"values": "/etc/passwd"})]), **ok}, "values file is an absolute path")
    table_case("name_separator", {"manifest.json": manifest(columns=[col(files={"values": "sub/c0.values"})]), "sub/c0.values": v4}, "values file in a subdirectory")
    table_case("name_empty", {"manifest.json": manifest(columns=[col(files={"values": ""})]), **ok}, "values file name is empty")
    table_case("name_not_string", {"manifest.json": manifest(columns=[col(files={"values": 7})]), **ok}, "values file name is a number")
    table_case("no_files", {"manifest.json": manifest(columns=[{"field": COL_I64["field"]}]), **ok}, "column has no files")
    table_case("unknown_type", {"manifest.json": manifest(columns=[col(type={"name": "list"})]), **ok}, "type list is not supported")
    table_case("type_without_name", {"manifest.json": manifest(columns=[col(type={"unit": "s"})]), **ok}, "type lacks a name")
    table_case("bad_time_unit", {"manifest.json": manifest(columns=[col(type={"name": "timestamp", "unit": "fortnight"})]), **ok}, "timestamp unit fortnight")
    table_case("bad_timezone", {"manifest.json": manifest(columns=[col(type={"name": "timestamp", "unit": "s", "timezone": "Mars/Olympus_Mons"})]), **ok}, "timestamp time zone Mars/Olympus_Mons")
    table_case("bad_timezone_offset", {"manifest.json": manifest(columns=[col(type={"name": "timestamp", "unit": "s", "timezone": "+99:99"})]), **ok}, "timestamp time zone +99:99")
    table_case("decimal_precision_200", {"manifest.json": manifest(columns=[col(type={"name": "decimal128", "precision": 200, "scale": 2})]), "c0.values": bytes(64)}, "decimal128 precision 200 (max 38)")
    table_case("decimal_precision_zero", {"manifest.json": manifest(columns=[col(type={"name": "decimal128", "precision": 0, "scale": 0})]), "c0.values": bytes(64)}, "decimal128 precision 0")
    table_case("decimal_scale_above_precision", {"manifest.json": manifest(columns=[col(type={"name": "decimal128", "precision": 5, "scale": 9})]), "c0.values": bytes(64)}, "decimal128 scale 9 above precision 5")
    table_case("fixed_binary_negative", {"manifest.json": manifest(columns=[col(type={"name": "fixed_size_binary", "width": -5})]), **ok}, "fixed_size_binary width -5")
    big_list = {"name": "fixed_size_list", "size": 2147483647,
                "item": {"name": "item", "type": {"name": "fixed_size_list", "size": 2147483647,
                                                  "item": {"name": "item", "type": {"name": "int64"}}}}}
    table_case("list_width_overflow", {"manifest.json": manifest(columns=[col(type=big_list)]), **ok}, "nested fixed_size_list whose row width overflows")
    table_case("list_size_negative", {"manifest.json": manifest(columns=[col(type={"name": "fixed_size_list", "size": -2, "item": {"name": "item", "type": {"name": "int64"}}})]), **ok}, "fixed_size_list size -2")
    t = {"name": "int64"}
    for _ in range(20):
        t = {"name": "fixed_size_list", "size": 1, "item": {"name": "item", "type": t}}
    table_case("list_nesting_deep", {"manifest.json": manifest(columns=[col(type=t)]), **ok}, "fixed_size_list nested 20 deep")
    table_case("validity_on_non_nullable", {"manifest.json": manifest(columns=[col(files={"validity": "c0.validity", "values": "c0.values"})]), "c0.validity": b"\x0f", **ok}, "validity file on a non-nullable field")
    table_case("offsets_on_fixed", {"manifest.json": manifest(columns=[col(files={"offsets": "c0.offsets", "values": "c0.values"})]), "c0.offsets": bytes(20), **ok}, "offsets file for an int64 column")
    table_case("null_count_negative", {"manifest.json": manifest(columns=[dict(COL_STR, null_count=-1)]), **strs}, "null_count -1")
    table_case("null_count_above_rows", {"manifest.json": manifest(columns=[dict(COL_STR, null_count=9)]), **strs}, "null_count 9 of 4 rows")
    table_case("null_count_wrong", {"manifest.json": manifest(columns=[dict(COL_STR, null_count=3)]), **strs}, "null_count 3, the bitmap has 1 null", how="table-count")
    table_case("null_count_without_validity", {"manifest.json": manifest(columns=[col(null_count=2)]), **ok}, "null_count 2 on a column without validity")
    table_case("validity_short", {"manifest.json": manifest(rows=12, columns=[COL_STR]), **dict(strs, **{"c1.offsets": np.zeros(13, "<i4").tobytes()})}, "12 rows, 1-byte validity bitmap")
    table_case("offsets_short", {"manifest.json": manifest(columns=[COL_STR]), **dict(strs, **{"c1.offsets": offs[:12]})}, "offsets file holds 3 of 5 entries")
    table_case("offsets_decreasing", {"manifest.json": manifest(columns=[COL_STR]), **dict(strs, **{"c1.offsets": np.array([0, 4, 2, 3, 6], "<i4").tobytes()})}, "offsets decrease", how="table-content")
    table_case("offsets_negative", {"manifest.json": manifest(columns=[COL_STR]), **dict(strs, **{"c1.offsets": np.array([0, -4, 2, 3, 6], "<i4").tobytes()})}, "a negative offset", how="table-content")
    table_case("offsets_past_values", {"manifest.json": manifest(columns=[COL_STR]), **dict(strs, **{"c1.offsets": np.array([0, 1, 3, 3, 600], "<i4").tobytes()})}, "last offset 600, values file has 6 bytes")
    table_case("first_offset_nonzero", {"manifest.json": manifest(columns=[COL_STR]), **dict(strs, **{"c1.offsets": np.array([2, 3, 3, 4, 6], "<i4").tobytes()})}, "first offset is 2")
    table_case("utf8_invalid", {"manifest.json": manifest(columns=[COL_STR]), **dict(strs, **{"c1.values": b"a\xff\xfedef"})}, "utf8 column with invalid UTF-8", how="table-content")
    table_case("utf8_split_char", {"manifest.json": manifest(columns=[COL_STR]), **dict(strs, **{"c1.values": "aé€".encode(), "c1.offsets": np.array([0, 2, 3, 3, 6], "<i4").tobytes()})}, "an offset splits the two bytes of é", how="table-content")
    table_case("bool_values_short", {"manifest.json": manifest(rows=20, columns=[col(type={"name": "bool"})]), "c0.values": b"\xff"}, "20 bool rows, 1-byte bitmap")
    table_case("large_utf8_offsets_huge", {"manifest.json": manifest(columns=[dict(COL_STR, field={"name": "s", "type": {"name": "large_utf8"}, "nullable": True})]),
                                           **dict(strs, **{"c1.offsets": np.array([0, 1, 3, 3, 2**62], "<i8").tobytes()})}, "large_utf8 last offset 2**62")


def truncations(name, data, how, what, points):
    for frac in points:
        n = int(len(data) * frac)
        rel = f"{how}/{name}_truncated_{int(frac * 100)}pct.{'parquet' if how == 'parquet' else 'arrow'}"
        put(rel, data[:n])
        case(rel, how, f"{what} truncated to {n} of {len(data)} bytes")


def parquets():
    t = pa.table({"x": pa.array(np.arange(64, dtype="<f8")),
                  "s": pa.array([f"v{i}" for i in range(64)], mask=np.arange(64) % 7 == 0)})
    b = io.BytesIO()
    pq.write_table(t, b, row_group_size=32, compression="snappy")
    good = b.getvalue()
    one = io.BytesIO()
    pq.write_table(t.select(["x"]), one, compression="none", use_dictionary=False)
    one = one.getvalue()

    def p(name, data, desc):
        put(f"parquet/{name}.parquet", data)
        case(f"parquet/{name}.parquet", "parquet", desc)

    p("empty", b"", "empty file named .parquet")
    p("magic_only", b"PAR1", "the magic and nothing else")
    p("two_magics", b"PAR1PAR1", "head and tail magic, no footer length")
    truncations("two_columns", good, "parquet", "Parquet file (2 columns, 2 row groups)", [0.1, 0.5, 0.9, 0.999])
    footer = struct.unpack("<I", good[-8:-4])[0]
    p("footer_len_huge", good[:-8] + struct.pack("<I", 0x7FFFFFFF) + b"PAR1", "footer length 2 GiB - 1")
    p("footer_len_past_start", good[:-8] + struct.pack("<I", len(good)) + b"PAR1", "footer length larger than the file")
    p("footer_len_zero", good[:-8] + struct.pack("<I", 0) + b"PAR1", "footer length 0")
    p("bad_tail_magic", good[:-4] + b"PAR2", "tail magic PAR2")
    start = len(good) - 8 - footer
    garbled = bytearray(good)
    for i in range(start, start + footer, 3):
        garbled[i] ^= 0x5A
    p("footer_garbled", bytes(garbled), "footer metadata bytes scrambled")
    pages = bytearray(one)
    for i in range(4, min(len(one) // 2, 200)):
        pages[i] ^= 0xFF
    p("page_headers_garbled", bytes(pages), "one-column file, page headers and values inverted")
    # A column chunk offset pointing past the end: rewrite the data to zeros.
    p("data_zeroed", b"PAR1" + bytes(len(one) - 12 - struct.unpack("<I", one[-8:-4])[0]) + one[len(one) - 8 - struct.unpack("<I", one[-8:-4])[0]:], "one-column file, pages zeroed, footer intact")
    p("not_parquet", b"\x93NUMPY" + bytes(100) + b"PAR1", "an .npy-like file ending in PAR1")


def ipcs():
    t = pa.table({"x": pa.array(np.arange(64, dtype="<i4")),
                  "s": pa.array([f"v{i}" for i in range(64)], mask=np.arange(64) % 7 == 0)})
    b = io.BytesIO()
    with ipc.new_file(b, t.schema) as w:
        for batch in t.to_batches(max_chunksize=32):
            w.write_batch(batch)
    good = b.getvalue()

    def a(name, data, desc):
        put(f"ipc/{name}.arrow", data)
        case(f"ipc/{name}.arrow", "ipc", desc)

    a("empty", b"", "empty file named .arrow")
    a("magic_only", b"ARROW1", "the magic and nothing else")
    a("magics_no_footer", b"ARROW1\0\0ARROW1", "head and tail magic, no footer")
    truncations("two_columns", good, "ipc", "Arrow IPC file (2 columns, 2 batches)", [0.1, 0.5, 0.9, 0.99])
    a("footer_len_huge", good[:-10] + struct.pack("<i", 0x7FFFFFFF) + b"ARROW1", "footer length 2 GiB - 1")
    a("footer_len_negative", good[:-10] + struct.pack("<i", -16) + b"ARROW1", "negative footer length")
    garbled = bytearray(good)
    for i in range(len(good) // 3, 2 * len(good) // 3, 2):
        garbled[i] ^= 0xA5
    a("body_garbled", bytes(garbled), "middle third of the file scrambled")
    s = io.BytesIO()
    with ipc.new_stream(s, t.schema) as w:
        w.write_table(t)
    a("stream_format", s.getvalue(), "an IPC stream, not an IPC file")
    comp = io.BytesIO()
    with ipc.new_file(comp, t.schema, options=ipc.IpcWriteOptions(compression="zstd")) as w:
        w.write_table(t)
    comp = bytearray(comp.getvalue())
    for i in range(len(comp) // 2, len(comp) // 2 + 64):
        comp[i] ^= 0x33
    a("zstd_body_garbled", bytes(comp), "zstd-compressed body scrambled")


def generated():
    for name, how, desc in [
        ("@fifo_raw", "array", "a FIFO as a raw array file (with a valid sidecar)"),
        ("@fifo_npy", "array", "a FIFO named .npy"),
        ("@fifo_sidecar", "array", "the sidecar is a FIFO"),
        ("@dir_as_array", "array", "a directory given as an array file"),
        ("@sidecar_is_dir", "array", "the sidecar path is a directory"),
        ("@huge_sidecar", "array", "a sparse 64 MiB sidecar (above the 1 MiB cap)"),
        ("@huge_npy_header", "array", "a sparse 64 MiB .npy file whose v2 header claims 64 MiB"),
        ("@fifo_manifest", "table", "manifest.json is a FIFO"),
        ("@manifest_is_dir", "table", "manifest.json is a directory"),
        ("@huge_manifest", "table", "a sparse 64 MiB manifest (above the 16 MiB cap)"),
        ("@fifo_column", "table", "the values file is a FIFO"),
        ("@column_is_dir", "table", "the values file is a directory"),
        ("@symlink_outside", "table", "the values file is a symlink to a file outside the table"),
        ("@symlink_loop", "table", "the values file is a symlink to itself"),
        ("@symlink_dangling", "table", "the values file is a dangling symlink"),
        ("@fifo_parquet", "parquet", "a FIFO named .parquet"),
        ("@fifo_ipc", "ipc", "a FIFO named .arrow"),
        ("@dir_as_parquet", "parquet", "a directory named .parquet"),
    ]:
        case(name, how, desc)


def main():
    old = {}
    cases_txt = BAD / "cases.txt"
    if cases_txt.exists():
        for line in cases_txt.read_text().splitlines():
            parts = [p.strip() for p in line.split(" | ")]
            if len(parts) == 4 and not line.startswith("#"):
                old[parts[0]] = parts[3]
    if BAD.exists():
        shutil.rmtree(BAD)
    npys()
    sidecars()
    tables()
    parquets()
    ipcs()
    generated()
    lines = [
        "# The bad-input corpus: PATH | HOW | DESCRIPTION [| known-failing: REASON]",
        "# HOW: array [CLI options] / table / table-content / table-count / parquet / ipc. PATH is",
        "# relative to this directory. table-content: only the rows are bad (offsets,",
        "# UTF-8), which `mmarrow info` does not read by design (it checks the",
        "# manifest and file sizes, O(columns)); head/verify/open must fail.",
        "# table-count: only the manifest's null count is wrong; verify and the",
        "# whole-table open must fail (head counts its rows' nulls from the bitmap).",
        "# @NAME cases are made by tests/it/bad_corpus.rs at test time.",
        "# Regenerate with tests/corpus/make_bad.py (keeps known-failing marks).",
    ]
    w = max(len(p) for p, _, _ in CASES)
    for path, how, desc in CASES:
        line = f"{path.ljust(w)} | {how} | {desc}"
        if path in old:
            line += f" | {old[path]}"
        lines.append(line)
    cases_txt.write_text("\n".join(lines) + "\n")
    total = sum(f.stat().st_size for f in BAD.rglob("*") if f.is_file())
    print(f"{len(CASES)} cases, {total} bytes")


if __name__ == "__main__":
    main()
