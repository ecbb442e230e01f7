"""Data-quality benchmark: the same 20 checks with assay, Great Expectations and Pandera.

Data: 10,000,000 rows × 20 columns in one Parquet file (ids, amounts, quantities, statuses,
countries, emails, SKUs, zip codes, timestamps...), generated once with DuckDB under
``bench/_work/`` with a few violations planted in every checked column (nulls, duplicates,
out-of-range values, unknown categories, malformed strings; 0.01–0.1% of rows each).

Checks (the same 20 in every tool; nulls are ignored by every check but not_null):
not_null on id, customer_id and score; unique id; min/max on amount, quantity, discount and
age; allowed set on status, country, channel, rating and currency; regex on email, sku and zip
(anchored ``^...$`` patterns, so "search" and "match" semantics agree).

* assay: ``Contract.validate(path)`` on the Parquet file (DuckDB reads it; one aggregate scan
  computes every failing count, then one small query per failed check fetches 5 sample rows).
* Great Expectations 1.x (pandas): ``pd.read_parquet`` then ``batch.validate(suite, result_format="BASIC")``
  with one expectation per check. GE runs in its own virtual environment under
  ``bench/_work/venv-ge`` (pandas < 3), created by this script when GE does not import here.
* Pandera (pandas): ``pd.read_parquet`` then ``schema.validate(df, lazy=True)``; failing counts
  are read from ``SchemaErrors.failure_cases``.

The pandas tools' times INCLUDE reading the Parquet file into pandas (that is what a user runs);
their read time alone is shown in a separate column. Every repeat runs in a fresh subprocess (peak RSS
from ``/proc/self/status``, imports not timed); the table shows medians and the ratio peer / assay.
Agreement: the number of checks whose failing count equals assay's.

Run it::

    python bench/data_quality.py                 # 10M rows, 3 repeats per tool (~10 minutes with GE)
    python bench/data_quality.py --quick         # 200k rows: a smoke run
    python bench/data_quality.py --repeats 5 --out dq.json
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from _common import Row, fmt_time, machine_info, markdown_table, median, progress, write_json

WORK = Path(__file__).resolve().parent / "_work"
GE_VENV = WORK / "venv-ge"
GE_TARGET, PANDERA_TARGET = 20.0, 5.0

STATUS = ["new", "paid", "shipped", "refunded"]
COUNTRIES = ["US", "GB", "DE", "FR", "ES", "IT", "NL", "SE", "PL", "JP"]
CHANNELS = ["web", "app", "store", "phone"]
CURRENCIES = ["USD", "EUR", "GBP", "JPY"]
EMAIL, SKU, ZIP = r"^[^@\s]+@[^@\s]+\.[a-z]+$", r"^SKU-[0-9]{6}$", r"^[0-9]{5}$"

# (name, column, kind, argument) — the 20 checks every tool runs
CHECKS: list[tuple[str, str, str, Any]] = [
    ("id_not_null", "id", "not_null", None),
    ("id_unique", "id", "unique", None),
    ("customer_not_null", "customer_id", "not_null", None),
    ("score_not_null", "score", "not_null", None),
    ("amount_min", "amount", "min", 0),
    ("amount_max", "amount", "max", 10_000),
    ("quantity_min", "quantity", "min", 1),
    ("quantity_max", "quantity", "max", 100),
    ("discount_min", "discount", "min", 0),
    ("discount_max", "discount", "max", 1),
    ("age_min", "age", "min", 18),
    ("age_max", "age", "max", 100),
    ("status_in", "status", "in", STATUS),
    ("country_in", "country", "in", COUNTRIES),
    ("channel_in", "channel", "in", CHANNELS),
    ("rating_in", "rating", "in", [1, 2, 3, 4, 5]),
    ("currency_in", "currency", "in", CURRENCIES),
    ("email_regex", "email", "regex", EMAIL),
    ("sku_regex", "sku", "regex", SKU),
    ("zip_regex", "zip", "regex", ZIP),
]


def _pick(values: list[str], expr: str) -> str:
    arr = "[" + ", ".join(f"'{v}'" for v in values) + "]"
    return f"{arr}[1 + CAST({expr} % {len(values)} AS BIGINT)]"


def generate(path: Path, rows: int) -> None:
    """Write the benchmark table with DuckDB (violations planted at fixed row positions)."""
    import duckdb

    h = "hash(i * 7919 + {k})"
    sql = f"""
    COPY (SELECT
      CASE WHEN i % 1000003 = 17 THEN i - 1 WHEN i % 2000003 = 5 THEN NULL ELSE i END AS id,
      CASE WHEN i % 1009 = 0 THEN NULL ELSE CAST({h.format(k=1)} % 1000000 AS BIGINT) END AS customer_id,
      CASE WHEN i % 4001 = 0 THEN -5.0 WHEN i % 9001 = 0 THEN 25000.0
           ELSE round(({h.format(k=2)} % 900000) / 100.0, 2) END AS amount,
      CASE WHEN i % 5003 = 0 THEN 0 WHEN i % 7001 = 0 THEN 150 ELSE 1 + CAST({h.format(k=3)} % 100 AS INTEGER) END
        AS quantity,
      CASE WHEN i % 6007 = 0 THEN 1.5 WHEN i % 8009 = 0 THEN -0.1 ELSE ({h.format(k=4)} % 1000) / 1000.0 END
        AS discount,
      round(({h.format(k=5)} % 100000) / 10.0, 2) AS price,
      CASE WHEN i % 3001 = 0 THEN 'unknown' ELSE {_pick(STATUS, h.format(k=6))} END AS status,
      CASE WHEN i % 2503 = 0 THEN 'XX' WHEN i % 50021 = 0 THEN NULL ELSE {_pick(COUNTRIES, h.format(k=7))} END
        AS country,
      CASE WHEN i % 7507 = 0 THEN 'fax' ELSE {_pick(CHANNELS, h.format(k=8))} END AS channel,
      CASE WHEN i % 1999 = 0 THEN 'user' || i || '-at-example.com' WHEN i % 30011 = 0 THEN NULL
           ELSE 'user' || i || '@example.com' END AS email,
      CASE WHEN i % 2999 = 0 THEN 'SKU-' || (i % 1000)
           ELSE 'SKU-' || lpad(CAST({h.format(k=9)} % 1000000 AS VARCHAR), 6, '0') END AS sku,
      TIMESTAMP '2024-01-01' + to_seconds(CAST(i % 31536000 AS BIGINT)) AS created_at,
      CASE WHEN i % 10007 = 0 THEN NULL ELSE ({h.format(k=10)} % 10000) / 10000.0 END AS score,
      CASE WHEN i % 4999 = 0 THEN 15 WHEN i % 6997 = 0 THEN 120 ELSE 18 + CAST({h.format(k=11)} % 83 AS INTEGER) END
        AS age,
      ({h.format(k=12)} % 3) = 0 AS is_member,
      CASE WHEN i % 8999 = 0 THEN 0 ELSE 1 + CAST({h.format(k=13)} % 5 AS INTEGER) END AS rating,
      CASE WHEN i % 3989 = 0 THEN 'BTC' ELSE {_pick(CURRENCIES, h.format(k=14))} END AS currency,
      round(({h.format(k=15)} % 10000) / 100.0, 2) AS tax,
      CASE WHEN i % 4993 = 0 THEN '1234' ELSE lpad(CAST({h.format(k=16)} % 100000 AS VARCHAR), 5, '0') END AS zip,
      CASE WHEN i % 3 = 0 THEN NULL ELSE 'note ' || (i % 97) END AS notes
    FROM range({rows}) AS r(i)) TO '{path}' (FORMAT parquet, ROW_GROUP_SIZE 1000000)
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    con = duckdb.connect()
    con.execute(sql.replace(f"'{path}'", f"'{tmp}'"))
    con.close()
    tmp.rename(path)


# -- the three tools (each called inside a fresh worker process) ---------------------------------------------
def run_assay(path: str) -> dict[str, int]:
    from assay.data.contract import Contract

    columns: dict[str, dict[str, Any]] = {}
    for _, col, kind, arg in CHECKS:
        rule = columns.setdefault(col, {})
        key = {"not_null": "not_null", "unique": "unique", "min": "min", "max": "max", "in": "in", "regex": "regex"}[
            kind
        ]
        rule[key] = True if arg is None else arg
    contract = Contract.from_dict({"dataset": "orders", "columns": columns})
    result = contract.validate(path)
    by = {c.name: c.failing for c in result.checks}
    return {name: by[f"{col}.{kind}"] for name, col, kind, _ in CHECKS}


def run_pandera(path: str) -> dict[str, int]:
    import pandas as pd
    import pandera.pandas as pa
    from pandera.errors import SchemaErrors

    df = pd.read_parquet(path)
    cols: dict[str, dict[str, Any]] = {}
    position: dict[str, int] = {}  # failure_cases names built-in checks by column and check_number
    for name, col, kind, arg in CHECKS:
        spec = cols.setdefault(col, {"checks": [], "nullable": True, "unique": False})
        if kind == "not_null":
            spec["nullable"] = False
        elif kind == "unique":
            spec["unique"] = True
        else:
            make = {"min": pa.Check.ge, "max": pa.Check.le, "in": pa.Check.isin, "regex": pa.Check.str_matches}[kind]
            position[name] = len(spec["checks"])
            spec["checks"].append(make(arg))
    schema = pa.DataFrameSchema({c: pa.Column(**s) for c, s in cols.items()})
    counts = {name: 0 for name, *_ in CHECKS}
    try:
        schema.validate(df, lazy=True)
    except SchemaErrors as err:
        fc = err.failure_cases
        for name, col, kind, _ in CHECKS:
            rows = fc["column"] == col
            if kind in ("not_null", "unique"):
                rows &= fc["check"] == {"not_null": "not_nullable", "unique": "field_uniqueness"}[kind]
            else:
                rows &= fc["check_number"] == position[name]
            counts[name] = int(rows.sum())
    return counts


def run_ge(path: str) -> dict[str, int]:
    import great_expectations as gx
    import pandas as pd

    df = pd.read_parquet(path)
    context = gx.get_context(mode="ephemeral")
    batch_def = (
        context.data_sources.add_pandas("bench").add_dataframe_asset("orders").add_batch_definition_whole_dataframe("b")
    )
    suite = gx.ExpectationSuite(name="orders")
    E = gx.expectations
    for _, col, kind, arg in CHECKS:
        if kind == "not_null":
            expectation = E.ExpectColumnValuesToNotBeNull(column=col)
        elif kind == "unique":
            expectation = E.ExpectColumnValuesToBeUnique(column=col)
        elif kind == "min":
            expectation = E.ExpectColumnValuesToBeBetween(column=col, min_value=arg)
        elif kind == "max":
            expectation = E.ExpectColumnValuesToBeBetween(column=col, max_value=arg)
        elif kind == "in":
            expectation = E.ExpectColumnValuesToBeInSet(column=col, value_set=arg)
        else:
            expectation = E.ExpectColumnValuesToMatchRegex(column=col, regex=arg)
        suite.add_expectation(expectation)
    suite = context.suites.add(suite)
    result = batch_def.get_batch(batch_parameters={"dataframe": df}).validate(suite, result_format="BASIC")
    counts = [int(r.result.get("unexpected_count") or 0) for r in result.results]
    return {name: n for (name, *_), n in zip(CHECKS, counts, strict=True)}


TOOLS = {"assay": run_assay, "pandera": run_pandera, "ge": run_ge}
IMPORTS = {
    "assay": ["assay.data.contract", "assay.engine.duckdb_engine", "duckdb"],
    "pandera": ["pandas", "pandera.pandas", "pyarrow"],
    "ge": ["pandas", "great_expectations", "pyarrow"],
}


def _status_bytes(field: str) -> int:
    with open("/proc/self/status", encoding="ascii") as fh:
        for line in fh:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    return 0


def worker(tool: str, path: str) -> None:
    """One timed run of one tool in this fresh process; prints JSON (wall/CPU seconds, read time, peak RSS, counts)."""
    import importlib
    import warnings

    warnings.filterwarnings("ignore")
    for module in IMPORTS[tool]:
        importlib.import_module(module)
    read_s = None
    if tool != "assay":  # reading alone, for the table (not subtracted from the tool's time)
        import pandas as pd

        start = time.perf_counter()
        pd.read_parquet(path)
        read_s = time.perf_counter() - start
    start, cpu_start = time.perf_counter(), time.process_time()
    counts = TOOLS[tool](path)
    seconds, cpu = time.perf_counter() - start, time.process_time() - cpu_start
    peak = _status_bytes("VmHWM")
    print(
        json.dumps({"seconds": seconds, "cpu_seconds": cpu, "read_seconds": read_s, "peak_rss": peak, "counts": counts})
    )


# -- harness ------------------------------------------------------------------------------------------------
def _python_for(tool: str) -> str | None:
    """The interpreter that runs ``tool``: this one when it imports here, else GE's own venv (created once)."""
    module = {"assay": "assay", "pandera": "pandera.pandas", "ge": "great_expectations"}[tool]
    probe = subprocess.run([sys.executable, "-c", f"import {module}"], capture_output=True, check=False)
    if probe.returncode == 0:
        return sys.executable
    if tool != "ge":
        return None
    python = GE_VENV / "bin" / "python"
    if not python.exists():
        progress(f"creating {GE_VENV} for Great Expectations (pandas < 3) ...")
        subprocess.run([sys.executable, "-m", "venv", str(GE_VENV)], check=True)
        subprocess.run(
            [str(python), "-m", "pip", "install", "-q", "great_expectations", "pandas<3", "pyarrow"], check=True
        )
    ok = subprocess.run([str(python), "-c", "import great_expectations"], capture_output=True, check=False)
    return str(python) if ok.returncode == 0 else None


def _version(python: str, module: str) -> str:
    code = f"import importlib.metadata as m; print(m.version('{module}'))"
    out = subprocess.run([python, "-c", code], capture_output=True, text=True, check=False)
    return out.stdout.strip() or "?"


def measure(tool: str, python: str, path: Path) -> dict[str, Any]:
    cmd = [python, str(Path(__file__).resolve()), "--worker", tool, "--data", str(path)]
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False, env=env)
    if proc.returncode != 0:
        raise RuntimeError(f"{tool} failed (exit {proc.returncode}):\n{proc.stderr[-4000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="200,000 rows instead of 10,000,000")
    parser.add_argument("--rows", type=int, help="number of rows (overrides --quick)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--tools", default="assay,pandera,ge", help="comma-separated subset of assay,pandera,ge")
    parser.add_argument("--regenerate", action="store_true")
    parser.add_argument("--out", help="write raw timings as JSON")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--data", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args.worker, args.data)
        return
    rows = args.rows or (200_000 if args.quick else 10_000_000)
    path = WORK / f"dq_{rows}.parquet"
    if args.regenerate or not path.exists():
        progress(f"generating {rows:,} rows × 20 columns -> {path}")
        generate(path, rows)
    runs: dict[str, list[dict[str, Any]]] = {}
    versions: dict[str, str] = {}
    pythons = {t: _python_for(t) for t in args.tools.split(",")}
    for rep in range(args.repeats):  # interleaved so that a change in load hits every tool
        for tool, python in pythons.items():
            if python is None:
                continue
            versions.setdefault(tool, _version(python, {"ge": "great_expectations"}.get(tool, tool)))
            progress(f"{tool} run {rep + 1}/{args.repeats}")
            runs.setdefault(tool, []).append(measure(tool, python, path))
            progress(f"  {runs[tool][-1]['seconds']:.2f} s")
    report(runs, rows, versions, args.out, pythons)


def report(runs: dict[str, list[dict[str, Any]]], rows: int, versions: dict[str, str], out: str | None,
           pythons: dict[str, str | None]) -> None:  # fmt: skip
    ours = median([r["seconds"] for r in runs["assay"]])
    truth = runs["assay"][0]["counts"]
    table, lines = [], []
    names = {"pandera": "Pandera (pandas)", "ge": "Great Expectations (pandas)"}
    targets = {"pandera": PANDERA_TARGET, "ge": GE_TARGET}
    size = f"{rows / 1e6:g}M" if rows >= 1_000_000 else f"{rows // 1000}k"
    for tool in ("pandera", "ge"):
        if tool not in runs:
            lines.append(f"- {names[tool]}: not run ({'not installed' if pythons.get(tool) is None else 'skipped'})")
            continue
        peer = median([r["seconds"] for r in runs[tool]])
        read = median([r["read_seconds"] for r in runs[tool]])
        agree = sum(runs[tool][0]["counts"][n] == truth[n] for n in truth)
        row = Row(f"20 checks, {size} rows × 20 cols: assay vs {names[tool]}", ours, peer,
                  f"≥ {targets[tool]:g}×", peer / ours >= targets[tool], f"(incl. {fmt_time(read)} read)")  # fmt: skip
        table.append(row)
        diff = [
            f"{n}: {runs[tool][0]['counts'][n]} vs {truth[n]}" for n in truth if runs[tool][0]["counts"][n] != truth[n]
        ]
        lines.append(
            f"- {names[tool]} agrees with assay on {agree}/20 failing counts"
            + (f" ({'; '.join(diff)})" if diff else "")
        )
    print(markdown_table(table, "assay", "peer"))
    print()
    mem = ", ".join(f"{t} {max(r['peak_rss'] for r in rs) / 2**30:.2f} GiB" for t, rs in runs.items())
    cpu = ", ".join(f"{t} {median([r['cpu_seconds'] for r in rs]):.1f} s" for t, rs in runs.items())
    print(f"Peak RSS per run: {mem}. CPU time (user+sys, median): {cpu}. Load average at the end: {os.getloadavg()}.")
    print(f"{os.cpu_count()} CPUs. Repeats: {len(runs['assay'])} (median). Versions: {versions}.")
    print("\n".join(lines))
    print("Failing counts (assay): " + ", ".join(f"{n}={c}" for n, c in truth.items()))
    if out:
        payload = {
            "machine": machine_info(**versions),
            "rows": rows,
            "runs": runs,
            "table": [r.to_dict() for r in table],
        }
        write_json(out, payload)


if __name__ == "__main__":
    main()
