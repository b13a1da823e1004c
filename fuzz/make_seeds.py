"""Regenerates fuzz/seeds/ from real numpy and pyarrow output and a few
files of the Apache test corpora (see docs/fuzzing.md).

    /work/main/.venv/bin/python fuzz/make_seeds.py [--mmarrow target/release/mmarrow]

Tables are made by the `mmarrow` binary itself (`mmarrow convert x.parquet
dir`). Apache files are read from git mirrors of apache/parquet-testing and
apache/arrow-testing when present (--parquet-testing / --arrow-testing);
each copied file keeps its project's LICENSE.txt next to it.
"""

import argparse
import io
import json
import os
import shutil
import struct
import subprocess
import tempfile
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute  # noqa: F401 (pa.compute)
import pyarrow.ipc as ipc
import pyarrow.parquet as pq

ROOT = Path(__file__).resolve().parent
SEEDS = ROOT / "seeds"

PARQUET_TESTING = [
    "data/alltypes_plain.parquet",
    "data/alltypes_dictionary.parquet",
    "data/datapage_v2.snappy.parquet",
    "data/nulls.snappy.parquet",
    "data/binary.parquet",
    "data/fixed_length_decimal.parquet",
    "data/int32_decimal.parquet",
    "data/lz4_raw_compressed.parquet",
    "data/float16_nonzeros_and_nans.parquet",
    "data/dict-page-offset-zero.parquet",
    "bad_data/PARQUET-1481.parquet",
    "bad_data/ARROW-GH-45185.parquet",
    "bad_data/ARROW-RS-GH-6229-DICTHEADER.parquet",
    "bad_data/ARROW-RS-GH-6229-LEVELS.parquet",
]
ARROW_TESTING = [
    "data/arrow-ipc-stream/integration/1.0.0-littleendian/generated_datetime.arrow_file",
    "data/arrow-ipc-stream/integration/1.0.0-littleendian/generated_null_trivial.arrow_file",
    "data/arrow-ipc-stream/integration/1.0.0-littleendian/generated_primitive_no_batches.arrow_file",
    "data/arrow-ipc-stream/integration/1.0.0-littleendian/generated_custom_metadata.arrow_file",
    "data/arrow-ipc-file/clusterfuzz-testcase-arrow-ipc-file-fuzz-5298734406172672",
    "data/arrow-ipc-file/clusterfuzz-testcase-minimized-arrow-ipc-file-fuzz-5480145071243264",
    "data/arrow-ipc-file/clusterfuzz-testcase-minimized-arrow-ipc-file-fuzz-5749190446153728",
]


def put(target, name, data):
    d = SEEDS / target
    d.mkdir(parents=True, exist_ok=True)
    (d / name).write_bytes(data)


def npy_bytes(a, version=None):
    b = io.BytesIO()
    if version is None:
        np.save(b, a)
    else:
        np.lib.format.write_array(b, a, version=version)
    return b.getvalue()


def sidecar_doc(a, order="C", offset=0, **extra):
    doc = {"format": "mmarrow.array", "version": 1, "dtype": a.dtype.str,
           "shape": list(a.shape), "order": order, "offset": offset}
    doc.update(extra)
    return json.dumps(doc).encode()


def raw_array_input(doc, body, flags=0):
    return bytes([flags]) + struct.pack("<H", len(doc)) + doc + body


def arrays():
    rng = np.random.default_rng(7)
    npys = {
        "f4_3x4": np.arange(12, dtype="<f4").reshape(3, 4),
        "i8_5": np.arange(5, dtype="<i8"),
        "b1_6": np.array([True, False] * 3),
        "c16_2": np.array([1 + 2j, 3 - 4j]),
        "be_f8_4": np.arange(4, dtype=">f8"),
        "fortran_i2_3x2": np.asfortranarray(np.arange(6, dtype="<i2").reshape(3, 2)),
        "fortran_u1_2x2x2": np.asfortranarray(np.arange(8, dtype="u1").reshape(2, 2, 2)),
        "scalar_u4": np.array(7, dtype="<u4"),
        "empty_f4_0x3": np.zeros((0, 3), dtype="<f4"),
        "datetime_ns": np.array(["2024-01-01", "2024-06-30"], dtype="<M8[ns]"),
        "timedelta_s": np.array([1, 2, 3], dtype="<m8[s]"),
        "f2_4": rng.standard_normal(4).astype("<f2"),
        "bytes_S5": np.array([b"ab", b"hello"], dtype="S5"),
        "void_V8": np.zeros(2, dtype="V8"),
        "i4_2x2x3": np.arange(12, dtype="<i4").reshape(2, 2, 3),
    }
    for name, a in npys.items():
        data = npy_bytes(a)
        put("npy_header", f"{name}.npy", data)
        put("array_open", f"npy_{name}", bytes([1]) + data)
        put("sidecar", f"{name}.json", sidecar_doc(a, "F" if a.flags.f_contiguous and a.ndim > 1 and not a.flags.c_contiguous else "C"))
    for v in [(2, 0), (3, 0)]:
        data = npy_bytes(np.arange(6, dtype="<f8").reshape(2, 3), version=v)
        put("npy_header", f"v{v[0]}_f8_2x3.npy", data)
        put("array_open", f"npy_v{v[0]}_f8_2x3", bytes([1]) + data)
    # Raw files with sidecars: tofile() output.
    raws = [
        ("f4_4x2", np.arange(8, dtype="<f4").reshape(4, 2), "C", 0, 0),
        ("i2_offset4", np.arange(5, dtype="<i2"), "C", 4, 0),
        ("f8_misaligned_copy", np.arange(3, dtype="<f8"), "C", 3, 2),
        ("be_i4_copy", np.arange(4, dtype=">i4"), "C", 0, 2),
        ("fortran_f4_2x3", np.arange(6, dtype="<f4").reshape(2, 3), "F", 0, 0),
        ("fortran_3d_copy", np.arange(8, dtype="<u2").reshape(2, 2, 2), "F", 0, 2),
        ("b1_5", np.array([1, 0, 1, 1, 0], dtype="?"), "C", 0, 0),
        ("m8_us_2", np.array([5, 6], dtype="<m8[us]"), "C", 0, 0),
    ]
    for name, a, order, off, flags in raws:
        body = b"\0" * off + (a.tobytes(order="F") if order == "F" else a.tobytes())
        doc = sidecar_doc(a, order, off, name=name, metadata={"unit": "m"})
        put("array_open", f"raw_{name}", raw_array_input(doc, body, flags))
        put("sidecar", f"raw_{name}.json", doc)
    put("sidecar", "extra_field.json", b'{"format":"mmarrow.array","version":1,"dtype":"<f4","shape":[2],"future":{"x":1}}')
    put("sidecar", "typestr_spelling.json", b'{"format":"mmarrow.array","version":1,"dtype":"float32","shape":[2,3]}')


def parquet_tables_only():
    """The tables of `parquet_tables`, without writing their seeds."""
    return parquet_tables(write=False)


def parquet_tables(write=True):
    n = 40
    idx = np.arange(n)
    mask = idx % 5 == 0
    tables = {
        "ints": pa.table({"a": pa.array(idx, pa.int32()), "b": pa.array(idx * 3, pa.int64())}),
        "f8_nulls": pa.table({"x": pa.array(idx / 3.0, pa.float64(), mask=mask)}),
        "strings": pa.table({"s": pa.array([f"s{i % 7}" for i in idx], pa.string())}),
        "large_strings_nulls": pa.table({"s": pa.array([None if m else "é" * (i % 4) for i, m in zip(idx, mask)], pa.large_string())}),
        "bools": pa.table({"b": pa.array(idx % 3 == 0, mask=mask)}),
        "tensor": pa.table({"t": pa.FixedSizeListArray.from_arrays(pa.array(np.arange(n * 3, dtype="f4")), 3)}),
        "timestamp_tz": pa.table({"t": pa.array(idx * 10**9, pa.timestamp("ns", tz="Europe/Paris"))}),
        "dates_decimal": pa.table({"d": pa.array(idx.astype("i4"), pa.int32()).cast(pa.date32()),
                                   "m": pa.array([__import__("decimal").Decimal(int(i)) for i in idx], pa.decimal128(10, 2))}),
        "fixed_binary": pa.table({"f": pa.array([bytes([i % 256]) * 4 for i in idx], pa.binary(4))}),
        "f2_u8": pa.table({"h": pa.array(np.arange(n, dtype="f2")), "u": pa.array(idx.astype("u8"))}),
        "durations": pa.table({"d": pa.array(idx, pa.duration("ms"))}),
    }
    variants = [
        ("plain_v1_none", dict(compression="none", use_dictionary=False, data_page_version="1.0")),
        ("dict_v1_snappy", dict(compression="snappy", use_dictionary=True, data_page_version="1.0")),
        ("plain_v2_zstd", dict(compression="zstd", use_dictionary=False, data_page_version="2.0")),
        ("dict_v2_gzip", dict(compression="gzip", use_dictionary=True, data_page_version="2.0")),
        ("plain_v1_lz4", dict(compression="lz4", use_dictionary=False, data_page_version="1.0", data_page_size=64)),
    ]
    if not write:
        return tables
    out = {}
    for tname, t in tables.items():
        for vname, kw in variants:
            b = io.BytesIO()
            pq.write_table(t, b, row_group_size=16, **kw)
            out[f"{tname}.{vname}.parquet"] = b.getvalue()
    for name, data in out.items():
        put("parquet", name, data)
    # IPC: the same tables, uncompressed and compressed.
    for tname, t in tables.items():
        for comp in [None, "lz4", "zstd"]:
            b = io.BytesIO()
            with ipc.new_file(b, t.schema, options=ipc.IpcWriteOptions(compression=comp)) as w:
                for batch in t.to_batches(max_chunksize=16):
                    w.write_batch(batch)
            put("ipc", f"{tname}.{comp or 'none'}.arrow", b.getvalue())
    dict_t = pa.table({"d": pa.array(["a", "b", "a"]).dictionary_encode()})
    b = io.BytesIO()
    with ipc.new_file(b, dict_t.schema) as w:
        w.write_table(dict_t)
    put("ipc", "dictionary.none.arrow", b.getvalue())
    return tables


def nested_tables():
    """Tables of the nested and other types a v2 table holds (format v2's
    node trees), written through IPC so that every type reaches the table."""
    n = 12
    idx = np.arange(n)
    mask = idx % 4 == 0
    return {
        "list_struct": pa.table({
            "l": pa.array([None if i % 5 == 0 else list(range(i % 3)) for i in idx], pa.list_(pa.int32())),
            "s": pa.StructArray.from_arrays([pa.array(idx, pa.int64()), pa.array([f"v{i}" for i in idx])],
                                            names=["a", "b"], mask=pa.array(mask)),
        }),
        "dict_map": pa.table({
            "d": pa.array([["x", "y", None][i % 3] for i in idx]).dictionary_encode(),
            "m": pa.array([[("k", float(i))] if i % 2 else [] for i in idx], pa.map_(pa.string(), pa.float64())),
        }),
        "views_large": pa.table({
            "sv": pa.array([None if m else "a long enough string %d" % i for i, m in zip(idx, mask)], pa.string_view()),
            "ll": pa.array([[float(i)] * (i % 3) for i in idx], pa.large_list(pa.float32())),
            "lv": pa.array([list(range(i % 3)) for i in idx], pa.list_view(pa.int16())),
        }),
        "union_ree": pa.table({
            "u": pa.UnionArray.from_sparse(pa.array((idx % 2).astype("i1")),
                                           [pa.array(idx, pa.int32()), pa.array([f"s{i}" for i in idx])]),
            "r": pa.compute.run_end_encode(pa.array([i // 4 for i in idx], pa.int64())),
        }),
    }


def node_files(node):
    """A v2 node's file names in the order `Manifest::files` lists them."""
    out = [node["validity"]["file"]] if node.get("validity") else []
    out += [b["file"] for b in node.get("buffers", [])]
    for c in node.get("children", []):
        out += node_files(c)
    if node.get("dictionary"):
        out += node_files(node["dictionary"])
    return out


def table_seed(dst: Path) -> bytes:
    """The table_open input of the table directory `dst`: the manifest's
    length and text, then each file it names (columns, then the commit
    log), as the harness reads them."""
    text = (dst / "manifest.json").read_bytes()
    m = json.loads(text)
    names = [f for c in m["columns"] for f in node_files(c["node"])]
    if m.get("log"):
        names.append(m["log"]["file"])
    data = struct.pack("<H", len(text)) + text
    for name in names:
        body = (dst / name).read_bytes()
        data += struct.pack("<I", len(body)) + body
    return data


def tables(mm, tabs):
    with tempfile.TemporaryDirectory() as tmp:
        for tname, t in tabs.items():
            src = Path(tmp) / f"{tname}.parquet"
            pq.write_table(t.slice(0, 10), src)
            dst = Path(tmp) / f"{tname}.table"
            subprocess.run([mm, "convert", str(src), str(dst), "--table"], check=True,
                           stdout=subprocess.DEVNULL)
            put("manifest", f"{tname}.json", (dst / "manifest.json").read_bytes())
            put("table_open", tname, table_seed(dst))
        for tname, t in nested_tables().items():
            src = Path(tmp) / f"{tname}.arrow"
            with ipc.new_file(src, t.schema) as w:
                for batch in t.to_batches(max_chunksize=5):
                    w.write_batch(batch)
            dst = Path(tmp) / f"{tname}.table"
            subprocess.run([mm, "convert", str(src), f"{dst}/"], check=True, stdout=subprocess.DEVNULL)
            put("manifest", f"{tname}.json", (dst / "manifest.json").read_bytes())
            put("table_open", tname, table_seed(dst))


def apache(repo, files, target, subdir):
    if not repo or not Path(repo).exists():
        print(f"no mirror {repo}: {target} gets generated seeds only")
        return
    d = SEEDS / target / subdir
    d.mkdir(parents=True, exist_ok=True)
    for f in files + ["LICENSE.txt"]:
        data = subprocess.run(["git", "-C", repo, "show", f"HEAD:{f}"], check=True,
                              capture_output=True).stdout
        (d / Path(f).name).write_bytes(data)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--mmarrow", default=str(ROOT.parent / "target/release/mmarrow"))
    p.add_argument("--parquet-testing", default="/work/.mirror/apache+parquet-testing/repo")
    p.add_argument("--arrow-testing", default="/work/.mirror/apache+arrow-testing/repo")
    p.add_argument("--tables-only", action="store_true",
                   help="regenerate only the table_open and manifest seeds")
    a = p.parse_args()
    if a.tables_only:
        for t in ("table_open", "manifest"):
            shutil.rmtree(SEEDS / t, ignore_errors=True)
        tables(a.mmarrow, parquet_tables_only())
        return
    if SEEDS.exists():
        shutil.rmtree(SEEDS)
    arrays()
    tabs = parquet_tables()
    tables(a.mmarrow, tabs)
    apache(a.parquet_testing, PARQUET_TESTING, "parquet", "apache-parquet-testing")
    apache(a.arrow_testing, ARROW_TESTING, "ipc", "apache-arrow-testing")
    total = sum(f.stat().st_size for f in SEEDS.rglob("*") if f.is_file())
    print(f"{sum(1 for f in SEEDS.rglob('*') if f.is_file())} seed files, {total} bytes")


if __name__ == "__main__":
    main()
