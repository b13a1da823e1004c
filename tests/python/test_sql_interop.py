"""`mmarrow sql` (DataFusion over mmarrow tables) against DuckDB over the same
data in Parquet: the same answers for filters, group-bys, a join, order/limit,
timestamp and string aggregates, a nested column and a k-NN query."""

import datetime as dt
import math

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

ROWS = 200_000
DIM = 8


@pytest.fixture(scope="module")
def data(tmp_path_factory, binaries):
    from conftest import Mmarrow

    mm = Mmarrow(binaries)
    d = tmp_path_factory.mktemp("sql")
    rng = np.random.default_rng(7)
    ids = np.arange(ROWS, dtype=np.int64)
    x = rng.random(ROWS)
    x_null = rng.random(ROWS) < 0.05
    cats = np.array([f"c{i:02d}" for i in range(40)])
    cat = cats[rng.integers(0, 40, ROWS)]
    ts = np.datetime64("2026-01-01T00:00:00", "us") + rng.integers(0, 30 * 86_400_000_000, ROWS).astype("timedelta64[us]")
    emb = rng.standard_normal((ROWS, DIM), dtype=np.float32)
    tags = [[f"t{j}" for j in range(i % 4)] for i in range(ROWS)]
    t = pa.table(
        {
            "id": ids,
            "x": pa.array(x, mask=x_null),
            "cat": cat,
            "ts": pa.array(ts, pa.timestamp("us")),
            "emb": pa.FixedSizeListArray.from_arrays(pa.array(emb.ravel()), DIM),
            "tags": pa.array(tags, pa.list_(pa.string())),
        }
    )
    dim = pa.table({"cat": cats, "label": [f"group{i % 3}" for i in range(40)]})
    pq.write_table(t, d / "t.parquet", row_group_size=50_000)
    pq.write_table(dim, d / "dim.parquet")
    mm.ok(mm.cli("convert", d / "t.parquet", d / "t"))
    mm.ok(mm.cli("convert", d / "dim.parquet", d / "dim"))
    return mm, d, emb


def mmarrow_sql(data, query):
    mm, d, _ = data
    out = d / "result.arrow"
    mm.ok(mm.cli("sql", query, "-t", d / "t", "-t", d / "dim", "-o", out, "--force"))
    with pa.memory_map(str(out)) as f:
        return pa.ipc.open_file(f).read_all().to_pylist()


def duckdb_sql(data, query):
    _, d, _ = data
    con = duckdb.connect()
    con.execute(f"CREATE VIEW t AS SELECT * FROM read_parquet('{d / 't.parquet'}')")
    con.execute(f"CREATE VIEW dim AS SELECT * FROM read_parquet('{d / 'dim.parquet'}')")
    return con.sql(query).to_arrow_table().to_pylist()


def same(a, b):
    if isinstance(a, float) and isinstance(b, float):
        return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9)
    if isinstance(a, dict) and isinstance(b, dict):
        return list(a.values()).__len__() == len(b) and all(same(x, y) for x, y in zip(a.values(), b.values()))
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    if isinstance(a, dt.datetime) and isinstance(b, dt.datetime):
        return a.replace(tzinfo=None) == b.replace(tzinfo=None)
    return a == b


QUERIES = {
    "filter": "SELECT id, x FROM t WHERE x > 0.5 AND cat = 'c03' ORDER BY id",
    "range": "SELECT count(*) AS n, sum(x) AS s FROM t WHERE id BETWEEN 70000 AND 70999",
    "group_by": "SELECT cat, count(*) AS n, count(x) AS nx, sum(x) AS s, min(ts) AS lo, max(ts) AS hi FROM t GROUP BY cat ORDER BY cat",
    "join": "SELECT dim.label, count(*) AS n, avg(t.x) AS ax FROM t JOIN dim ON t.cat = dim.cat GROUP BY dim.label ORDER BY dim.label",
    "top_k": "SELECT id, x FROM t WHERE x IS NOT NULL ORDER BY x DESC, id LIMIT 10",
    "strings": "SELECT min(cat) AS lo, max(cat) AS hi, count(DISTINCT cat) AS n FROM t WHERE cat LIKE 'c1%'",
    "timestamps": "SELECT date_trunc('day', ts) AS day, count(*) AS n FROM t WHERE ts < TIMESTAMP '2026-01-05 00:00:00' GROUP BY day ORDER BY day",
    "nested": "SELECT id, tags FROM t WHERE id < 12 ORDER BY id",
}


@pytest.mark.parametrize("name", sorted(QUERIES))
def test_mmarrow_sql_answers_as_duckdb_does(data, name):
    q = QUERIES[name]
    ours, theirs = mmarrow_sql(data, q), duckdb_sql(data, q)
    assert len(ours) == len(theirs) and len(ours) > 0, (len(ours), len(theirs))
    for a, b in zip(ours, theirs):
        assert same(a, b), (a, b)


def test_nearest_neighbours_match_duckdb_array_distance(data):
    _, _, emb = data
    q = emb[1234] + 0.01
    lit = ", ".join(f"{v:.6f}" for v in q)
    ours = mmarrow_sql(data, f"SELECT id, l2_distance(emb, [{lit}]) AS d FROM t ORDER BY d LIMIT 10")
    theirs = duckdb_sql(
        data,
        f"SELECT id, array_distance(emb::FLOAT[{DIM}], [{lit}]::FLOAT[{DIM}]) AS d FROM t ORDER BY d LIMIT 10",
    )
    assert [r["id"] for r in ours] == [r["id"] for r in theirs]
    assert ours[0]["id"] == 1234
    for a, b in zip(ours, theirs):
        assert math.isclose(a["d"], b["d"], rel_tol=1e-4)
