"""Tracking benchmark: assay against MLflow, same machine, same process, both on local SQLite.

Method. Every measurement uses a fresh store in a temporary folder that is deleted afterwards
(assay: ``assay.Client(store_url="sqlite:///…/assay.db", artifacts_url=…)``; MLflow:
``mlflow.set_tracking_uri("sqlite:///…/mlflow.db")`` and an experiment with its own artifact
folder), and each tool is driven through its public API the way a user would write it. Repeats
of assay and MLflow are interleaved so that a change in machine load hits both; the table shows
the median over repeats and the ratio MLflow / assay (higher is better for assay). Input data is
built before the clock starts, in the form each API takes. A garbage collection runs before each
timed section; the collector stays enabled while timing, as it is for users.

Scenarios (``--quick`` divides every size by 10):

1. ``log_metric`` in a loop: 100,000 calls of ``run.log_metric(key, value, step=i)`` (assay)
   against ``mlflow.log_metric`` inside ``mlflow.start_run()``. MLflow writes each call
   synchronously (about 2–3 ms here), so it runs 2,000 calls and the table compares time per
   call; its "until durable" figure is that per-call time × 100,000 (labelled). Reported: time
   per call (loop / N), the caller-side median and p99 (a separate pass timing each call with
   ``perf_counter_ns``; includes the ~50 ns the clock itself costs), and time until durable
   (loop + ``flush()`` for assay; for MLflow the loop). Extra rows: MLflow's asynchronous
   logging (``synchronous=False`` + ``mlflow.flush_async_logging()``) and assay's fluent
   ``assay.log_metric``.
2. Bulk logging 1,000,000 points (10 keys × 100,000 steps) until durable: assay's
   ``client.log_batch(run_id, [(key, value, step), …])`` + ``flush()``, and a loop of
   ``run.log_metric`` + ``flush()``; MLflow's ``MlflowClient.log_batch`` in chunks of its maximum
   of 1,000 metrics, run on 100,000 points and scaled × 10 (labelled).
3. ``search_runs`` with ``metrics.auc > 0.85 and params.num_leaves = '31'`` and limit 20 over
   10,000 runs × 10 params × 10 metrics (the same data in both stores), 10 timed repetitions after
   one warm-up: assay's ``client.search_runs`` (a DataFrame) against ``mlflow.search_runs`` (a
   DataFrame) and ``MlflowClient.search_runs`` (a list of runs). Each store is populated as fast
   as its API allows (assay: ``start_run`` + ``log_params`` + ``log_batch`` + ``set_terminated``;
   MLflow: ``create_run`` + one ``log_batch`` + ``set_terminated``); populate time is shown but
   is not part of the search ratio. The match counts and the best AUC are checked to agree.

Run it (MLflow comes with the ``bench`` extra)::

    pip install -e ".[bench]"
    python bench/tracking.py                      # full sizes, 5–10 minutes
    python bench/tracking.py --quick              # sizes / 10, under a minute
    python bench/tracking.py --repeats 3 --out tracking.json

Progress goes to stderr, the Markdown table to stdout, raw timings to ``--out`` (JSON).
"""

from __future__ import annotations

import argparse
import functools
import gc
import logging
import os
import random
import sys
import tempfile
import time
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import assay
from _common import Row, fmt_time, machine_info, markdown_table, median, progress, timed, write_json

try:
    import mlflow
    from mlflow import MlflowClient
    from mlflow.entities import Metric, Param
except ImportError:  # pragma: no cover - depends on the environment
    sys.exit('MLflow is not installed; install the benchmark extra: pip install -e ".[bench]"')

SEARCH_FILTER = "metrics.auc > 0.85 and params.num_leaves = '31'"
MLFLOW_MAX_METRICS_PER_BATCH = 1000


@dataclass(frozen=True)
class Sizes:
    metric_calls: int  # scenario 1, assay
    metric_sample: int  # scenario 1, assay calls timed one by one
    mlflow_metric_calls: int  # scenario 1, MLflow (synchronous: ~2–3 ms a call)
    mlflow_metric_sample: int
    bulk_points: int  # scenario 2, assay
    mlflow_bulk_points: int  # scenario 2, MLflow (scaled up to bulk_points)
    runs: int  # scenario 3, in each store
    search_reps: int


FULL = Sizes(100_000, 10_000, 2_000, 500, 1_000_000, 100_000, 10_000, 10)
QUICK = Sizes(10_000, 1_000, 200, 50, 100_000, 10_000, 1_000, 10)


def _n(count: int) -> str:
    """100000 → '100k', 1000000 → '1M'."""
    if count >= 1_000_000 and count % 1_000_000 == 0:
        return f"{count // 1_000_000}M"
    if count >= 1000 and count % 1000 == 0:
        return f"{count // 1000}k"
    return f"{count:,}"


# -- stores --------------------------------------------------------------------------------------
@contextmanager
def assay_store() -> Iterator[assay.Client]:
    """An assay client on SQLite in a fresh temporary folder (deleted on exit)."""
    with tempfile.TemporaryDirectory(prefix="bench-assay-") as tmp:
        client = assay.Client(store_url=f"sqlite:///{tmp}/assay.db", artifacts_url=f"{tmp}/artifacts")
        try:
            yield client
        finally:
            client.close()


@contextmanager
def mlflow_store() -> Iterator[str]:
    """MLflow on SQLite in a fresh temporary folder (deleted on exit); yields an experiment id."""
    with tempfile.TemporaryDirectory(prefix="bench-mlflow-") as tmp:
        uri = f"sqlite:///{tmp}/mlflow.db"
        mlflow.set_tracking_uri(uri)
        try:
            yield mlflow.create_experiment("bench", artifact_location=Path(tmp, "artifacts").as_uri())
        finally:
            mlflow.flush_async_logging()
            while mlflow.active_run() is not None:
                mlflow.end_run()
            _release_mlflow_engine(uri)


def _release_mlflow_engine(uri: str) -> None:
    """Close the connections MLflow keeps for ``uri`` (its engine cache is private: best effort)."""
    try:
        from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore

        engine = SqlAlchemyStore._engine_map.pop(uri, None)
        if engine is not None:
            engine.dispose()
    except Exception:  # a different MLflow layout only means connections linger until exit
        pass


# -- scenario 1: log_metric in a loop -------------------------------------------------------------
def measure_logging(
    log: Callable[..., Any], flush: Callable[[], Any], values: list[float], calls: int, sample: int
) -> dict[str, float]:
    """Loop time per call, time until durable, and the median / p99 of individually timed calls."""
    gc.collect()
    start = time.perf_counter()
    for i in range(calls):
        log("loss", values[i], step=i)
    looped = time.perf_counter()
    flush()
    durable = time.perf_counter()
    latencies = [0] * sample
    clock = time.perf_counter_ns
    for i in range(sample):
        t0 = clock()
        log("latency", values[i], step=i)
        latencies[i] = clock() - t0
    flush()
    latencies.sort()
    return {
        "per_call": (looped - start) / calls,
        "durable": durable - start,
        "median_call": latencies[sample // 2] * 1e-9,
        "p99_call": latencies[min(sample - 1, int(sample * 0.99))] * 1e-9,
    }


def _assay_logging(values: list[float], calls: int, sample: int, *, fluent: bool) -> dict[str, float]:
    with assay_store() as client:
        if fluent:
            assay.set_client(client)
            try:
                with assay.start_run(project="bench") as run:
                    return measure_logging(assay.log_metric, run.flush, values, calls, sample)
            finally:
                assay.set_client(None)
        with client.start_run(project="bench") as run:
            return measure_logging(run.log_metric, run.flush, values, calls, sample)


def _mlflow_logging(values: list[float], calls: int, sample: int, *, synchronous: bool) -> dict[str, float]:
    log = mlflow.log_metric if synchronous else functools.partial(mlflow.log_metric, synchronous=False)
    flush = (lambda: None) if synchronous else mlflow.flush_async_logging
    with mlflow_store() as experiment_id, mlflow.start_run(experiment_id=experiment_id):
        return measure_logging(log, flush, values, calls, sample)


def scenario_log_metric(sizes: Sizes, repeats: int, peer_repeats: int) -> tuple[list[Row], dict[str, Any]]:
    rng = random.Random(1)
    values = [rng.random() for _ in range(max(sizes.metric_calls, sizes.metric_sample))]
    raw: dict[str, list[dict[str, float]]] = {"assay": [], "assay_fluent": [], "mlflow": [], "mlflow_async": []}
    for rep in range(repeats):
        raw["assay"].append(_assay_logging(values, sizes.metric_calls, sizes.metric_sample, fluent=False))
        raw["assay_fluent"].append(_assay_logging(values, sizes.metric_calls, sizes.metric_sample, fluent=True))
        progress(
            f"1 · assay {rep + 1}/{repeats}: {fmt_time(raw['assay'][-1]['per_call'])}/call, "
            f"durable {fmt_time(raw['assay'][-1]['durable'])}"
        )
        if rep < peer_repeats:
            raw["mlflow"].append(
                _mlflow_logging(values, sizes.mlflow_metric_calls, sizes.mlflow_metric_sample, synchronous=True)
            )
            raw["mlflow_async"].append(
                _mlflow_logging(values, sizes.mlflow_metric_calls, sizes.mlflow_metric_sample, synchronous=False)
            )
            progress(
                f"1 · MLflow {rep + 1}/{peer_repeats}: {fmt_time(raw['mlflow'][-1]['per_call'])}/call, "
                f"async {fmt_time(raw['mlflow_async'][-1]['per_call'])}/call, "
                f"async durable {fmt_time(raw['mlflow_async'][-1]['durable'])} "
                f"for {_n(sizes.mlflow_metric_calls)}"
            )

    def med(tool: str, field: str) -> float:
        return median([r[field] for r in raw[tool]])

    scale = sizes.metric_calls / sizes.mlflow_metric_calls
    peer_calls = f"({_n(sizes.mlflow_metric_calls)} calls)"
    peer_scaled = f"({_n(sizes.mlflow_metric_calls)} calls × {scale:g})"
    ours_per_call, ours_durable = med("assay", "per_call"), med("assay", "durable")
    per_call = Row(
        f"1 · {_n(sizes.metric_calls)} × `run.log_metric` vs `mlflow.log_metric`: time per call (loop / N)",
        ours_per_call,
        med("mlflow", "per_call"),
        "≥ 100× MLflow",
        peer_note=peer_calls,
    )
    per_call.met = per_call.ratio is not None and per_call.ratio >= 100
    median_call = med("assay", "median_call")
    rows = [
        per_call,
        Row(
            "1 · caller-side latency per call, median",
            median_call,
            med("mlflow", "median_call"),
            "≤ 10 µs",
            median_call <= 10e-6,
            f"({_n(sizes.mlflow_metric_sample)} calls)",
        ),
        Row(
            "1 · caller-side latency per call, p99",
            med("assay", "p99_call"),
            med("mlflow", "p99_call"),
            peer_note=f"({_n(sizes.mlflow_metric_sample)} calls)",
        ),
        Row(
            f"1 · {_n(sizes.metric_calls)} calls until durable (assay: loop + flush; MLflow: loop)",
            ours_durable,
            med("mlflow", "durable") * scale,
            peer_note=peer_scaled,
        ),
        Row(
            "1 · extra: vs MLflow async (`synchronous=False`), time per call",
            ours_per_call,
            med("mlflow_async", "per_call"),
            peer_note=peer_calls,
        ),
        Row(
            "1 · extra: vs MLflow async, until durable (+ `flush_async_logging()`)",
            ours_durable,
            med("mlflow_async", "durable") * scale,
            peer_note=peer_scaled,
        ),
        Row(
            "1 · extra: fluent `assay.log_metric` vs `mlflow.log_metric`, time per call",
            med("assay_fluent", "per_call"),
            med("mlflow", "per_call"),
            peer_note=peer_calls,
        ),
    ]
    return rows, raw


# -- scenario 2: bulk logging ---------------------------------------------------------------------
def _assay_bulk(points: list[tuple[str, float, int]], *, batch: bool, check: bool) -> float:
    with assay_store() as client, client.start_run(project="bench", capture_env=False) as run:
        if batch:
            seconds = timed(lambda: (client.log_batch(run.id, points), client.flush()))
        else:

            def loop() -> None:
                for key, value, step in points:
                    run.log_metric(key, value, step=step)
                run.flush()

            seconds = timed(loop)
        if check:
            stored = len(run.metric_history(points[0][0]))
            expected = sum(1 for p in points if p[0] == points[0][0])
            if stored != expected:
                raise RuntimeError(f"assay stored {stored} points of {points[0][0]!r}, expected {expected}")
        return seconds


def _mlflow_bulk(chunks: list[list[Metric]], *, check: bool) -> float:
    with mlflow_store() as experiment_id:
        client = MlflowClient()
        run_id = client.create_run(experiment_id).info.run_id

        def log() -> None:
            for chunk in chunks:
                client.log_batch(run_id, metrics=chunk)

        seconds = timed(log)
        client.set_terminated(run_id)
        if check:
            key = chunks[0][0].key
            stored = len(client.get_metric_history(run_id, key))
            expected = sum(1 for c in chunks for m in c if m.key == key)
            if stored != expected:
                raise RuntimeError(f"MLflow stored {stored} points of {key!r}, expected {expected}")
        return seconds


def scenario_bulk(sizes: Sizes, repeats: int, peer_repeats: int, bulk_target: float) -> tuple[list[Row], dict]:
    rng = random.Random(2)
    points = [(f"m{i % 10}", rng.random(), i // 10) for i in range(sizes.bulk_points)]
    ts = int(time.time() * 1000)
    peer = [Metric(k, v, ts, s) for k, v, s in points[: sizes.mlflow_bulk_points]]
    chunks = [peer[i : i + MLFLOW_MAX_METRICS_PER_BATCH] for i in range(0, len(peer), MLFLOW_MAX_METRICS_PER_BATCH)]
    raw: dict[str, list[float]] = {"assay_log_batch": [], "assay_loop": [], "mlflow_log_batch": []}
    for rep in range(repeats):
        raw["assay_log_batch"].append(_assay_bulk(points, batch=True, check=rep == 0))
        raw["assay_loop"].append(_assay_bulk(points, batch=False, check=rep == 0))
        progress(
            f"2 · assay {rep + 1}/{repeats}: log_batch {fmt_time(raw['assay_log_batch'][-1])}, "
            f"loop {fmt_time(raw['assay_loop'][-1])} for {_n(sizes.bulk_points)} points"
        )
        if rep < peer_repeats:
            raw["mlflow_log_batch"].append(_mlflow_bulk(chunks, check=rep == 0))
            progress(
                f"2 · MLflow {rep + 1}/{peer_repeats}: log_batch {fmt_time(raw['mlflow_log_batch'][-1])} "
                f"for {_n(sizes.mlflow_bulk_points)} points"
            )
    scale = sizes.bulk_points / sizes.mlflow_bulk_points
    peer_time = median(raw["mlflow_log_batch"]) * scale
    note = f"(`MlflowClient.log_batch` ×1000, {_n(sizes.mlflow_bulk_points)} points × {scale:g})"
    target = f"≤ {bulk_target:g} s"
    rows = []
    for key, api in (
        ("assay_log_batch", "`client.log_batch` + flush"),
        ("assay_loop", "`run.log_metric` loop + flush"),
    ):
        ours = median(raw[key])
        rows.append(
            Row(
                f"2 · {_n(sizes.bulk_points)} points until durable: {api}",
                ours,
                peer_time,
                target,
                ours <= bulk_target,
                note,
            )
        )
    return rows, raw


# -- scenario 3: search ---------------------------------------------------------------------------
def make_runs(count: int) -> list[tuple[dict[str, str], dict[str, float]]]:
    """``count`` × (10 params, 10 metrics); about 30 % have auc > 0.85 and 25 % num_leaves 31."""
    rng = random.Random(3)
    runs = []
    for _ in range(count):
        params = {"num_leaves": str(rng.choice([15, 31, 63, 127]))}
        params.update({f"param_{j}": str(rng.randint(0, 1000)) for j in range(9)})
        metrics = {"auc": rng.uniform(0.5, 1.0)}
        metrics.update({f"metric_{j}": rng.random() for j in range(9)})
        runs.append((params, metrics))
    return runs


def _populate_assay(client: assay.Client, runs: list[tuple[dict[str, str], dict[str, float]]]) -> float:
    def populate() -> None:
        for i, (params, metrics) in enumerate(runs):
            run = client.start_run(project="search", capture_env=False)
            run.log_params(params)
            client.log_batch(run.id, [(k, v, 0) for k, v in metrics.items()])
            client.set_terminated(run.id)
            if (i + 1) % 2000 == 0:
                progress(f"3 · assay: populated {i + 1:,} runs")
        client.flush()

    return timed(populate)


def _populate_mlflow(experiment_id: str, runs: list[tuple[dict[str, str], dict[str, float]]]) -> float:
    client = MlflowClient()
    ts = int(time.time() * 1000)

    def populate() -> None:
        for i, (params, metrics) in enumerate(runs):
            run_id = client.create_run(experiment_id).info.run_id
            client.log_batch(
                run_id,
                metrics=[Metric(k, v, ts, 0) for k, v in metrics.items()],
                params=[Param(k, v) for k, v in params.items()],
            )
            client.set_terminated(run_id)
            if (i + 1) % 2000 == 0:
                progress(f"3 · MLflow: populated {i + 1:,} runs")

    return timed(populate)


def scenario_search(sizes: Sizes) -> tuple[list[Row], dict[str, Any]]:
    runs = make_runs(sizes.runs)
    raw: dict[str, Any] = {}
    with assay_store() as client, mlflow_store() as experiment_id:
        raw["populate_assay"] = _populate_assay(client, runs)
        progress(f"3 · assay: {sizes.runs:,} runs in {fmt_time(raw['populate_assay'])}")
        raw["populate_mlflow"] = _populate_mlflow(experiment_id, runs)
        progress(f"3 · MLflow: {sizes.runs:,} runs in {fmt_time(raw['populate_mlflow'])}")
        mlflow_client = MlflowClient()
        queries: dict[str, Callable[[], Any]] = {
            "assay": lambda: client.search_runs(project="search", filter=SEARCH_FILTER, limit=20),
            "mlflow_df": lambda: mlflow.search_runs([experiment_id], filter_string=SEARCH_FILTER, max_results=20),
            "mlflow_client": lambda: mlflow_client.search_runs(
                [experiment_id], filter_string=SEARCH_FILTER, max_results=20
            ),
            "assay_ordered": lambda: client.search_runs(
                project="search", filter=SEARCH_FILTER, order_by=["metrics.auc desc"], limit=20
            ),
            "mlflow_df_ordered": lambda: mlflow.search_runs(
                [experiment_id], filter_string=SEARCH_FILTER, order_by=["metrics.auc DESC"], max_results=20
            ),
        }
        _check_search(client, experiment_id, runs, queries)
        times: dict[str, list[float]] = {name: [] for name in queries}
        for rep in range(sizes.search_reps):
            for name, query in queries.items():
                times[name].append(timed(query))
            progress(
                f"3 · search {rep + 1}/{sizes.search_reps}: "
                + ", ".join(f"{k} {fmt_time(v[-1])}" for k, v in times.items())
            )
        raw.update(times)

    def search_row(label: str, ours: str, peer: str, target: bool) -> Row:
        row = Row(label, median(times[ours]), median(times[peer]))
        if target:
            row.target = "≤ 100 ms and ≥ 10× MLflow"
            row.met = row.ours <= 0.1 and (row.ratio or 0) >= 10
        return row

    where = f"`{SEARCH_FILTER}`, limit 20, {_n(sizes.runs)} runs"
    rows = [
        search_row(f"3 · search_runs {where}: vs `mlflow.search_runs` (DataFrame)", "assay", "mlflow_df", True),
        search_row("3 · same search: vs `MlflowClient.search_runs` (list of Run)", "assay", "mlflow_client", True),
        search_row(
            "3 · extra: same + order by `metrics.auc desc`, vs `mlflow.search_runs`",
            "assay_ordered",
            "mlflow_df_ordered",
            False,
        ),
        Row(
            f"3 · setup, not in the search ratio: populate {_n(sizes.runs)} runs × 10 params × 10 metrics",
            raw["populate_assay"],
            raw["populate_mlflow"],
        ),
    ]
    return rows, raw


def _check_search(client: assay.Client, experiment_id: str, runs: list, queries: dict[str, Callable[[], Any]]) -> None:
    """Both stores hold the same data: same number of matches, same best AUC; each query returns 20 rows."""
    expected = sum(1 for p, m in runs if m["auc"] > 0.85 and p["num_leaves"] == "31")
    ours = len(client.search_runs(project="search", filter=SEARCH_FILTER))
    theirs = len(mlflow.search_runs([experiment_id], filter_string=SEARCH_FILTER, max_results=100_000))
    if not ours == theirs == expected:
        raise RuntimeError(f"match counts differ: assay {ours}, MLflow {theirs}, expected {expected}")
    for name, query in queries.items():
        if len(query()) != min(20, expected):
            raise RuntimeError(f"{name} did not return {min(20, expected)} rows")
    best_ours = queries["assay_ordered"]()["metrics.auc"].iloc[0]
    best_theirs = queries["mlflow_df_ordered"]()["metrics.auc"].iloc[0]
    if abs(best_ours - best_theirs) > 1e-12:
        raise RuntimeError(f"best auc differs: assay {best_ours}, MLflow {best_theirs}")
    progress(f"3 · checked: {expected} matching runs in both stores, best auc {best_ours:.6f} in both")


# -- main ------------------------------------------------------------------------------------------
def _quiet_mlflow() -> None:
    for name in ("mlflow", "alembic"):
        logging.getLogger(name).setLevel(logging.WARNING)
    warnings.filterwarnings("ignore", module=r"mlflow(\.|$)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="divide every size by 10 (smoke run)")
    parser.add_argument("--repeats", type=int, default=5, help="repeats for assay (MLflow: at most 3); default 5")
    parser.add_argument("--out", type=Path, help="write raw timings and the table as JSON to this file")
    parser.add_argument(
        "--only",
        choices=["log_metric", "bulk", "search"],
        action="append",
        help="run only these scenarios (repeatable); default: all three",
    )
    args = parser.parse_args(argv)
    if args.repeats < 1:
        parser.error("--repeats must be at least 1")
    _quiet_mlflow()
    sizes = QUICK if args.quick else FULL
    peer_repeats = min(args.repeats, 3)
    bulk_target = 5.0 * sizes.bulk_points / 1_000_000
    info = machine_info(assay=assay.__version__, mlflow=mlflow.__version__)
    progress(f"assay {info['assay']} vs MLflow {info['mlflow']} on {info['cpus']} CPUs, load {info['load_average']}")

    only = set(args.only or ["log_metric", "bulk", "search"])
    rows1, raw1 = scenario_log_metric(sizes, args.repeats, peer_repeats) if "log_metric" in only else ([], {})
    rows2, raw2 = scenario_bulk(sizes, args.repeats, peer_repeats, bulk_target) if "bulk" in only else ([], {})
    rows3, raw3 = scenario_search(sizes) if "search" in only else ([], {})
    rows = rows1 + rows2 + rows3

    mode = "quick (sizes ÷ 10)" if args.quick else "full"
    print(
        f"\nassay {info['assay']} vs MLflow {info['mlflow']}, Python {info['python']}, {info['cpus']} CPUs, "
        f"local SQLite, {mode}; medians of {args.repeats} repeats (MLflow {peer_repeats}), "
        f"search: {sizes.search_reps} repetitions\n"
    )
    print(markdown_table(rows, "assay", "MLflow"))
    if args.out:
        payload = {
            "machine": {**info, "load_average_end": os.getloadavg()},
            "mode": mode,
            "sizes": asdict(sizes),
            "repeats": args.repeats,
            "mlflow_repeats": peer_repeats,
            "rows": [r.to_dict() for r in rows],
            "raw": {"log_metric": raw1, "bulk": raw2, "search": raw3},
        }
        write_json(args.out, payload)
        progress(f"raw timings written to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
