"""Data-drift benchmark: assay's ``monitoring.drift`` against Evidently's ``DataDriftPreset``, same data, same run.

The task. Reference and current tables of 1,000,000 rows each × 50 columns (40 numeric: normal, log-normal,
exponential, uniform, gamma, Student-t, integer counts, a few with 1% missing values; 10 categorical with 3 to 50
zipf-distributed string values). Drifted on purpose: 4 numeric columns (mean shift of 0.3 sd, scale × 1.5,
log-normal location shift, counts rate up 30%) and 2 categorical ones (a new category at 10%, shares moved).
Parquet, generated once with numpy (seeded) into ``bench/_work/monitoring/<rows>/`` (git-ignored;
``--regenerate`` rebuilds it).

Both tools run the same tests: normalised Wasserstein distance on numeric columns and Jensen-Shannon distance on
categorical ones (threshold 0.1; the default both pick for samples over 1,000 rows, forced explicitly here), and
the dataset verdict at a drift share of 0.5.

* assay: ``drift(reference.parquet, current.parquet, method={...})`` — DuckDB scans the files in place.
* Evidently 0.7 (``Report([DataDriftPreset(num_method="wasserstein", cat_method="jensenshannon")])`` on two
  ``Dataset.from_pandas`` with an explicit ``DataDefinition``): the files read with ``pd.read_parquet``
  (pyarrow); its time includes that read (a user must load the data into pandas), and the report alone is shown
  too. Evidently 0.7 does not import beside pandas 3, so the benchmark builds its own virtual environment
  (``bench/_work/evidently-venv``: ``evidently<0.8``, ``pandas<3``, ``pyarrow``) on first use and runs Evidently
  there.

Each repeat of each tool runs in a fresh subprocess that reports its wall time (from the first line of the task to
the finished result, imports excluded) and its peak resident memory (``VmHWM`` of that process — not the parent's
``ru_maxrss``, which Linux carries over ``fork``); tools are interleaved within each repeat; the table shows
medians over ``--repeats`` (3). The per-column statistics of the last repeat are compared: Evidently computes the
same definitions on the raw values, assay on the engine's histogram (exact per distinct value where a bin holds one
value, otherwise within a stated bound), so they agree to a few decimal places.

Targets: assay ≥ 20× faster than Evidently; assay's peak memory ≤ 1/3 of Evidently's.

Run it::

    python bench/monitoring.py                 # 1M × 1M rows × 50 columns (data generation ~1 min the first time)
    python bench/monitoring.py --quick         # 100k rows
    python bench/monitoring.py --rows 300_000 --repeats 5 --out monitoring.json

Progress goes to stderr, the Markdown tables to stdout, raw timings to ``--out`` (JSON).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from _common import fmt_time, machine_info, median, progress, write_json

BENCH = Path(__file__).resolve().parent
WORK = BENCH / "_work" / "monitoring"
VENV = BENCH / "_work" / "evidently-venv"
EVIDENTLY_REQS = ("evidently>=0.7,<0.8", "pandas<3", "pyarrow")
SEED = 20240607
N_NUMERIC, N_CATEGORICAL = 40, 10
DRIFTED = ("num_00", "num_01", "num_02", "num_03", "cat_0", "cat_1")
GB = 1024**3


# -- data -------------------------------------------------------------------------------------------------
def _numeric(rng: Any, i: int, n: int, drifted: bool) -> Any:
    import numpy as np

    kind = i % 8
    if kind == 0:
        x = rng.normal(10 + i, 2.0 + i / 10, n) + (0.3 * (2.0 + i / 10) if drifted else 0.0)
    elif kind == 1:
        x = rng.normal(0, 1.5 if drifted else 1.0, n) * (1 + i)
    elif kind == 2:
        x = rng.lognormal(0.25 if drifted else 0.0, 1.0, n)
    elif kind == 3:
        x = rng.poisson(13.0 if drifted else 10.0, n).astype(float)
    elif kind == 4:
        x = rng.exponential(5.0, n)
    elif kind == 5:
        x = rng.uniform(-i, i, n)
    elif kind == 6:
        x = rng.gamma(2.0, 3.0, n)
    else:
        x = rng.standard_t(4, n) * 100
    if i % 5 == 4:  # 1% missing
        x[rng.uniform(size=n) < 0.01] = np.nan
    return x


def _categorical(rng: Any, i: int, n: int, drifted_new: bool, drifted_shift: bool) -> Any:
    import numpy as np
    import pyarrow as pa

    k = (3, 5, 10, 20, 50)[i % 5]
    p = 1.0 / np.arange(1, k + 1) ** 1.1
    if drifted_shift:
        p = p[::-1].copy()
    p /= p.sum()
    values = [f"v{j:02d}" for j in range(k)]
    if drifted_new:
        values.append("new")
        p = np.append(p * 0.9, 0.1)
    codes = rng.choice(len(values), size=n, p=p)
    return pa.DictionaryArray.from_arrays(pa.array(codes, pa.int32()), pa.array(values)).cast(pa.string())


def ensure_data(rows: int, regenerate: bool) -> Path:
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    folder = WORK / str(rows)
    done = folder / "_done.json"
    if done.exists() and not regenerate:
        return folder
    folder.mkdir(parents=True, exist_ok=True)
    progress(f"generating {rows:,} × {N_NUMERIC + N_CATEGORICAL} columns per side into {folder}")
    for side, seed in (("reference", SEED), ("current", SEED + 1)):
        rng = np.random.default_rng(seed)
        cur = side == "current"
        cols: dict[str, Any] = {}
        for i in range(N_NUMERIC):
            cols[f"num_{i:02d}"] = _numeric(rng, i, rows, cur and f"num_{i:02d}" in DRIFTED)
        for i in range(N_CATEGORICAL):
            cols[f"cat_{i}"] = _categorical(rng, i, rows, cur and i == 0, cur and i == 1)
        pq.write_table(pa.table(cols), folder / f"{side}.parquet", row_group_size=128 * 1024)
        del cols
    done.write_text(json.dumps({"rows": rows, "seed": SEED}) + "\n")
    return folder


def warm_page_cache(folder: Path) -> None:
    for f in folder.glob("*.parquet"):
        with open(f, "rb") as fh:
            while fh.read(1 << 24):
                pass


def ensure_venv() -> Path:
    """The Evidently environment under bench/_work (created on first use: needs PyPI)."""
    python = VENV / "bin" / "python"
    if python.exists() and subprocess.run([str(python), "-c", "import evidently"], capture_output=True).returncode == 0:
        return python
    progress(f"creating {VENV} with {' '.join(EVIDENTLY_REQS)} (once)")
    subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
    subprocess.run([str(python), "-m", "pip", "install", "-q", *EVIDENTLY_REQS], check=True)
    return python


# -- workers (each in its own process) -------------------------------------------------------------------
def _columns(path: Path) -> tuple[list[str], list[str]]:
    import pyarrow.parquet as pq

    names = pq.read_schema(path).names
    return [n for n in names if n.startswith("num_")], [n for n in names if n.startswith("cat_")]


def run_assay(folder: Path) -> dict[str, Any]:
    from assay.monitoring.drift import drift

    num, cat = _columns(folder / "reference.parquet")
    methods = {**dict.fromkeys(num, "wasserstein"), **dict.fromkeys(cat, "jensenshannon")}
    start = time.perf_counter()
    report = drift(str(folder / "reference.parquet"), str(folder / "current.parquet"), method=methods)
    seconds = time.perf_counter() - start
    return {
        "seconds": seconds,
        "values": {c.column: c.statistic for c in report.columns},
        "drifted": sorted(report.drifted_columns),
        "dataset_drifted": report.dataset_drifted,
        "summary": report.summary(),
    }


def run_evidently(folder: Path) -> dict[str, Any]:
    import pandas as pd
    from evidently import DataDefinition, Dataset, Report
    from evidently.presets import DataDriftPreset

    num, cat = _columns(folder / "reference.parquet")
    start = time.perf_counter()
    ref = pd.read_parquet(folder / "reference.parquet")
    cur = pd.read_parquet(folder / "current.parquet")
    loaded = time.perf_counter()
    definition = DataDefinition(numerical_columns=num, categorical_columns=cat)
    report = Report([DataDriftPreset(num_method="wasserstein", cat_method="jensenshannon")])
    snapshot = report.run(
        current_data=Dataset.from_pandas(cur, data_definition=definition),
        reference_data=Dataset.from_pandas(ref, data_definition=definition),
    )
    metrics = snapshot.dict()["metrics"]
    seconds = time.perf_counter() - start
    values = {m["config"]["column"]: float(m["value"]) for m in metrics if m["config"]["type"].endswith("ValueDrift")}
    count = next(m["value"] for m in metrics if m["config"]["type"].endswith("DriftedColumnsCount"))
    return {
        "seconds": seconds,
        "report_seconds": seconds - (loaded - start),
        "values": values,
        "drifted": sorted(c for c, v in values.items() if v >= 0.1),
        "dataset_drifted": count["share"] >= 0.5,
    }


TOOLS = {"assay": run_assay, "evidently": run_evidently}


def worker(name: str, folder: Path) -> int:
    result = TOOLS[name](folder)
    result["peak_rss"] = _status_bytes("VmHWM")
    print(json.dumps(result, default=float))
    return 0


def _status_bytes(field: str) -> int:
    with open("/proc/self/status", encoding="ascii") as fh:
        for line in fh:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    raise RuntimeError(f"no {field} in /proc/self/status (the benchmark measures memory on Linux only)")


def measure(name: str, folder: Path, python: str) -> dict[str, Any]:
    cmd = [python, str(Path(__file__).resolve()), "--worker", name, "--data", str(folder)]
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False, env=env)
    if proc.returncode != 0:
        raise RuntimeError(f"{name} failed (exit {proc.returncode}):\n{proc.stderr[-4000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


# -- report -----------------------------------------------------------------------------------------------
def _fmt_bytes(n: float) -> str:
    return f"{n / GB:.2f} GiB" if n >= GB / 4 else f"{n / 1024**2:.0f} MiB"


def agreement(ours: dict[str, float], theirs: dict[str, float]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for prefix, label in (("num_", "numeric (Wasserstein, normed)"), ("cat_", "categorical (Jensen-Shannon)")):
        cols = [c for c in ours if c.startswith(prefix) and c in theirs]
        diffs = [abs(ours[c] - theirs[c]) for c in cols]
        rel = [abs(ours[c] - theirs[c]) / abs(theirs[c]) for c in cols if theirs[c]]
        worst = max(cols, key=lambda c: abs(ours[c] - theirs[c])) if cols else None
        out[label] = {"columns": len(cols), "max_abs_diff": max(diffs, default=math.nan),
                      "max_rel_diff": max(rel, default=math.nan), "worst": worst}  # fmt: skip
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="100,000 rows per side instead of 1,000,000")
    parser.add_argument("--rows", type=lambda s: int(s.replace("_", "")), help="rows per side (overrides --quick)")
    parser.add_argument("--repeats", type=int, default=3, help="repeats of each tool; default 3")
    parser.add_argument("--regenerate", action="store_true", help="rebuild the cached data")
    parser.add_argument("--out", type=Path, help="write raw timings and the tables as JSON to this file")
    parser.add_argument("--worker", choices=tuple(TOOLS), help=argparse.SUPPRESS)
    parser.add_argument("--data", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        return worker(args.worker, args.data)
    if args.repeats < 1:
        parser.error("--repeats must be at least 1")
    rows = args.rows or (100_000 if args.quick else 1_000_000)

    import duckdb

    import assay

    evidently_python = ensure_venv()
    ev_version = subprocess.run(
        [str(evidently_python), "-c", "import evidently, pandas; print(evidently.__version__, pandas.__version__)"],
        capture_output=True, text=True, check=True,
    ).stdout.split()  # fmt: skip
    info = machine_info(assay=assay.__version__, duckdb=duckdb.__version__, evidently=ev_version[0],
                        evidently_pandas=ev_version[1])  # fmt: skip
    progress(f"assay {info['assay']} (DuckDB {info['duckdb']}), Evidently {info['evidently']} (pandas "
             f"{info['evidently_pandas']}) on {info['cpus']} CPUs")  # fmt: skip
    folder = ensure_data(rows, args.regenerate)
    warm_page_cache(folder)
    runs: dict[str, list[dict[str, Any]]] = {"assay": [], "evidently": []}
    for rep in range(args.repeats):
        for name, python in (("assay", sys.executable), ("evidently", str(evidently_python))):
            res = measure(name, folder, python)
            runs[name].append(res)
            progress(f"repeat {rep + 1}/{args.repeats} {name}: {fmt_time(res['seconds'])}, "
                     f"peak {_fmt_bytes(res['peak_rss'])}")  # fmt: skip
    ours, theirs = runs["assay"][-1], runs["evidently"][-1]
    t_a, t_e = median([r["seconds"] for r in runs["assay"]]), median([r["seconds"] for r in runs["evidently"]])
    t_er = median([r["report_seconds"] for r in runs["evidently"]])
    m_a, m_e = median([r["peak_rss"] for r in runs["assay"]]), median([r["peak_rss"] for r in runs["evidently"]])
    speed, mem = t_e / t_a, m_a / m_e
    size = f"{rows:,} × {rows:,} rows × {N_NUMERIC + N_CATEGORICAL} columns"
    lines = [
        f"Data drift, {size} ({info['cpus']} CPUs, medians of {args.repeats})",
        "",
        "| tool | median time | peak memory (RSS) |",
        "|---|---|---|",
        f"| assay `drift` (DuckDB on the Parquet files) | {fmt_time(t_a)} | {_fmt_bytes(m_a)} |",
        f"| Evidently `DataDriftPreset` (read_parquet + report) | {fmt_time(t_e)} (report alone {fmt_time(t_er)}) "
        f"| {_fmt_bytes(m_e)} |",
        "",
        "| measure | ratio | target | met? |",
        "|---|---|---|---|",
        f"| speed-up (Evidently time / assay time) | {speed:,.1f}× | ≥ 20× | {'yes' if speed >= 20 else '**no**'} |",
        f"| speed-up vs the report alone | {t_er / t_a:,.1f}× | — | — |",
        f"| memory (assay peak / Evidently peak) | {mem:.2f} | ≤ 0.33 | {'yes' if mem <= 1 / 3 else '**no**'} |",
        "",
        "| statistic | columns | max abs difference | max relative difference | worst column |",
        "|---|---|---|---|---|",
    ]
    agree = agreement(ours["values"], theirs["values"])
    for label, a in agree.items():
        lines.append(f"| {label} | {a['columns']} | {a['max_abs_diff']:.2e} | {a['max_rel_diff']:.2e} | {a['worst']} |")
    same = ours["drifted"] == theirs["drifted"]
    lines += [
        "",
        f"Drifted columns — assay: {', '.join(ours['drifted']) or 'none'}; Evidently: "
        f"{', '.join(theirs['drifted']) or 'none'} ({'identical' if same else '**different**'}); dataset drift: "
        f"assay {ours['dataset_drifted']}, Evidently {theirs['dataset_drifted']}. Planted: {', '.join(DRIFTED)}.",
        "",
        f"assay's summary: {ours['summary']}",
    ]
    print("\n".join(lines))
    if args.out:
        write_json(args.out, {"machine": info, "rows": rows, "runs": runs, "agreement": agree, "table": lines})
    return 0


if __name__ == "__main__":
    sys.exit(main())
