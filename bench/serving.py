"""Serving benchmark: ``assay serve`` / ``assay score`` against ``mlflow models serve`` / MLflow pyfunc, same run.

The model. A LightGBM binary classifier (``LGBMClassifier()`` defaults: 100 trees of 31 leaves) on 30 numeric
features, trained on 50,000 generated rows, registered in a temporary assay store (``models:/bench@production``)
and logged + registered in a temporary MLflow tracking store (SQLite, ``models:/bench/1``).

Online (loopback, single-row requests, both servers with ``--workers`` uvicorn workers, default 1):

* assay: ``assay serve models:/bench@production --port P --workers W`` (prediction log on, as shipped),
  ``POST /predict`` with ``[{"f0": ..., ..., "f29": ...}]``;
* MLflow: ``mlflow models serve -m models:/bench/1 --env-manager local -p P -w W``, ``POST /invocations`` with
  ``{"dataframe_records": [{...}]}``.

The load comes from one asyncio HTTP/1.1 client in this process (uvloop when installed, keep-alive connections,
bodies prepared beforehand, rows cycled from 1,000 distinct ones), the same client for both servers:

* saturation: closed loop, ``--concurrency`` connections (32) each sending its next request as soon as the
  last one is answered, for ``--seconds`` (10) after a warm-up; throughput = answered-with-200 per second;
* latency: open loop at a fixed rate, half of assay's measured saturation throughput, for ``--seconds``; each
  request is sent at its scheduled time on a free connection (new ones are opened when all are busy) and its
  latency counts from that scheduled time, so a stalled server cannot hide its queueing (no coordinated
  omission). MLflow gets the same rate, unless that is past its own saturation (its queue would only grow):
  then it runs at half of its own saturation throughput, and the table says so.

Batch (``--batch-rows`` rows, 10,000,000; an ``id`` and the 30 features in Parquet, generated once into
``bench/_work/serving/``, row groups of 1M rows): each tool in a fresh subprocess that reports its wall time
(from the first read to the written output, imports and model loading excluded) and its peak RSS (``VmHWM``):

* assay: ``score("models:/bench@production", input, "scored.parquet", passthrough=["id"])`` — streamed;
* MLflow: ``mlflow.pyfunc.load_model(...)``, ``pd.read_parquet`` → ``model.predict(df[features])`` →
  ``DataFrame({"id", "prediction"}).to_parquet(...)`` — the pyfunc way (MLflow has no streaming batch scorer
  outside Spark); assay writes class probabilities too, MLflow's pyfunc only labels;
* floor: LightGBM's own ``booster.predict`` on an in-memory float matrix of 1M rows (no I/O at all): the most
  any scorer of this model can do on this machine;
* memory flat: assay's peak RSS on 10× fewer rows, against the full run.

Targets: online throughput ≥ 3× MLflow's; p99 ≤ 10 ms at half of assay's saturation rate; batch ≥ 1,000,000
rows/s with memory flat (10× the rows, at most 10% more peak RSS: peak at N rows ≤ 1.1 × peak at N/10).

Run it::

    python bench/serving.py                         # full: 10M-row batch (~2.6 GB of Parquet, generated once)
    python bench/serving.py --quick                 # 1M-row batch, 5 s windows
    python bench/serving.py --workers 2 --concurrency 64 --out serving.json
    python bench/serving.py --skip-online           # batch only (or --skip-batch)

Progress goes to stderr, the Markdown table to stdout, raw figures to ``--out`` (JSON).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

from _common import machine_info, progress, write_json

BENCH = Path(__file__).resolve().parent
WORK = BENCH / "_work" / "serving"
N_FEATURES = 30
FEATURES = [f"f{i}" for i in range(N_FEATURES)]
SEED = 20261125
MIB = 2**20


# -- model and stores -------------------------------------------------------------------------------------------
def _features(rng: Any, n: int) -> Any:
    return rng.normal(size=(n, N_FEATURES))


def _label(rng: Any, x: Any) -> Any:
    logit = x[:, 0] + 0.8 * x[:, 1] * x[:, 2] - 0.5 * x[:, 3] ** 2 + 0.3 * x[:, 4:10].sum(axis=1)
    return (logit + rng.normal(0, 1, len(x)) > 0).astype(int)


def setup_models(tmp: Path) -> dict[str, Any]:
    """Train the model; register it in a fresh assay store and a fresh MLflow store."""
    import lightgbm as lgb
    import numpy as np
    import pandas as pd

    from assay.tracking.client import Client

    rng = np.random.default_rng(SEED)
    x = _features(rng, 50_000)
    frame = pd.DataFrame(x, columns=FEATURES)
    model = lgb.LGBMClassifier(verbose=-1).fit(frame, _label(rng, x))
    assay_args = {
        "store_url": f"sqlite:///{tmp / 'assay.db'}",
        "artifacts_url": str(tmp / "assay-artifacts"),
        "home": str(tmp / "assay-home"),
    }
    client = Client(**assay_args)
    run = client.start_run("bench", "serving")
    version = run.log_model(model, "bench", input_example=frame.head(5))
    run.end()
    client.set_alias("bench", "production", version.version)
    client.close()

    import mlflow

    mlflow_uri = f"sqlite:///{tmp / 'mlflow.db'}"
    mlflow.set_tracking_uri(mlflow_uri)
    mlflow.set_experiment("bench")
    with mlflow.start_run():
        mlflow.lightgbm.log_model(model, name="model", input_example=frame.head(5), registered_model_name="bench")
    return {"assay": assay_args, "mlflow_uri": mlflow_uri, "model": model, "mlflow_version": mlflow.__version__}


# -- servers ----------------------------------------------------------------------------------------------------
def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    return env


def start_server(tool: str, setup: dict[str, Any], workers: int, tmp: Path) -> tuple[subprocess.Popen, int]:
    port = _free_port()
    env = _env()
    if tool == "assay":
        a = setup["assay"]
        cmd = ["assay", "--store-url", a["store_url"], "--artifacts-url", a["artifacts_url"], "--home", a["home"],
               "serve", "models:/bench@production", "--port", str(port), "--workers", str(workers)]  # fmt: skip
        ready = "/ready"
    else:
        env["MLFLOW_TRACKING_URI"] = setup["mlflow_uri"]
        cmd = ["mlflow", "models", "serve", "-m", "models:/bench/1", "--env-manager", "local", "-p", str(port),
               "-w", str(workers)]  # fmt: skip
        ready = "/ping"
    log = open(tmp / f"{tool}-server.log", "wb")  # noqa: SIM115 - closed with the process
    proc = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True, cwd=tmp)
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{tool} server exited: {(tmp / f'{tool}-server.log').read_text()[-2000:]}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}{ready}", timeout=2) as resp:
                if resp.status == 200:
                    return proc, port
        except OSError:
            time.sleep(0.5)
    stop_server(proc)
    raise RuntimeError(f"{tool} server did not become ready in 180 s")


def stop_server(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)  # the server's own process group (uvicorn workers included)
        try:
            proc.wait(timeout=40)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def request_bodies(tool: str, port: int, n: int = 1_000) -> list[bytes]:
    import numpy as np

    x = _features(np.random.default_rng(SEED + 1), n)
    path = "/predict" if tool == "assay" else "/invocations"
    raws = []
    for row in x:
        record = {name: round(float(v), 6) for name, v in zip(FEATURES, row, strict=True)}
        body = json.dumps([record] if tool == "assay" else {"dataframe_records": [record]}).encode()
        head = (
            f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n"
        ).encode()
        raws.append(head + body)
    return raws


# -- load generator ---------------------------------------------------------------------------------------------
async def _send(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, raw: bytes) -> int:
    writer.write(raw)
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    lower = head.lower()
    i = lower.find(b"content-length:")
    if i >= 0:
        await reader.readexactly(int(lower[i + 15 : lower.index(b"\r\n", i)]))
    elif b"transfer-encoding: chunked" in lower:
        while True:
            size = int((await reader.readuntil(b"\r\n")).strip(), 16)
            await reader.readexactly(size + 2)
            if size == 0:
                break
    return status


async def closed_loop(port: int, raws: list[bytes], concurrency: int, seconds: float) -> dict[str, Any]:
    statuses: dict[int, int] = {}
    latencies: list[float] = []
    stop_at = time.perf_counter() + seconds

    async def worker(k: int) -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        i = k
        try:
            while (t0 := time.perf_counter()) < stop_at:
                status = await _send(reader, writer, raws[i % len(raws)])
                latencies.append(time.perf_counter() - t0)
                statuses[status] = statuses.get(status, 0) + 1
                i += concurrency
        finally:
            writer.close()

    start = time.perf_counter()
    await asyncio.gather(*(worker(k) for k in range(concurrency)))
    elapsed = time.perf_counter() - start
    return {"rps": statuses.get(200, 0) / elapsed, "statuses": statuses, **_percentiles(latencies)}


async def open_loop(
    port: int, raws: list[bytes], rate: float, seconds: float, max_connections: int = 256
) -> dict[str, Any]:
    """Requests scheduled at ``rate`` per second; latency from the scheduled time (no coordinated omission).

    At most ``max_connections`` are open; past that a request waits for a free one (its wait counts as latency).
    """
    idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []
    freed = asyncio.Condition()
    for _ in range(16):
        idle.append(await asyncio.open_connection("127.0.0.1", port))
    opened = len(idle)
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    total = int(rate * seconds)

    async def one(i: int, scheduled: float) -> None:
        nonlocal opened
        if not idle and opened < max_connections:
            opened += 1
            conn = await asyncio.open_connection("127.0.0.1", port)
        else:
            async with freed:
                await freed.wait_for(lambda: bool(idle))
                conn = idle.pop()
        status = -1
        for _attempt in range(2):  # a keep-alive connection idle past the server's timeout is closed: reconnect once
            try:
                status = await _send(conn[0], conn[1], raws[i % len(raws)])
                break
            except (OSError, asyncio.IncompleteReadError):
                conn[1].close()
                conn = await asyncio.open_connection("127.0.0.1", port)
        if status == -1:
            statuses[-1] = statuses.get(-1, 0) + 1
        else:
            latencies.append(time.perf_counter() - scheduled)
            statuses[status] = statuses.get(status, 0) + 1
        async with freed:
            idle.append(conn)
            freed.notify()

    tasks = []
    start = time.perf_counter() + 0.01
    sent = 0
    while sent < total:
        now = time.perf_counter()
        due = min(total, int((now - start) * rate) + 1)
        while sent < due:
            tasks.append(asyncio.create_task(one(sent, start + sent / rate)))
            sent += 1
        await asyncio.sleep(max(0.0, start + sent / rate - time.perf_counter()))
    await asyncio.gather(*tasks)
    for _, writer in idle:
        writer.close()
    return {"rate": rate, "sent": total, "statuses": statuses, "connections": opened, **_percentiles(latencies)}


def _percentiles(latencies: list[float]) -> dict[str, float | None]:
    if not latencies:
        return {"p50_ms": None, "p99_ms": None}
    import numpy as np

    arr = np.asarray(latencies) * 1000.0
    return {"p50_ms": float(np.percentile(arr, 50)), "p99_ms": float(np.percentile(arr, 99))}


def _run(coro: Any) -> Any:
    try:
        import uvloop

        return uvloop.run(coro)
    except ImportError:
        return asyncio.run(coro)


def bench_online(setup: dict[str, Any], args: argparse.Namespace, tmp: Path) -> dict[str, Any]:
    results: dict[str, Any] = {}
    for tool in ("assay", "mlflow"):
        progress(f"{tool}: starting the server ({args.workers} worker(s))")
        proc, port = start_server(tool, setup, args.workers, tmp)
        try:
            raws = request_bodies(tool, port)
            warm = _run(closed_loop(port, raws, 4, 2.0))
            if warm["statuses"].get(200, 0) == 0:
                raise RuntimeError(f"{tool}: no successful request in the warm-up: {warm['statuses']}")
            progress(f"{tool}: saturation, {args.concurrency} connections × {args.seconds:g} s")
            results[tool] = {"saturation": _run(closed_loop(port, raws, args.concurrency, args.seconds))}
            progress(
                f"{tool}: {results[tool]['saturation']['rps']:,.0f} req/s {results[tool]['saturation']['statuses']}"
            )
            if tool == "assay":
                results["rate"] = max(1.0, 0.5 * results["assay"]["saturation"]["rps"])
            rate = results["rate"]
            if results[tool]["saturation"]["rps"] < rate:  # past its saturation the queue only grows: use its own half
                rate = max(1.0, 0.5 * results[tool]["saturation"]["rps"])
                results[tool]["own_rate"] = rate
            progress(f"{tool}: open loop at {rate:,.0f} req/s × {args.seconds:g} s")
            results[tool]["fixed_rate"] = _run(open_loop(port, raws, rate, args.seconds))
            fixed = results[tool]["fixed_rate"]
            progress(f"{tool}: p50 {fixed['p50_ms']:.2f} ms, p99 {fixed['p99_ms']:.2f} ms {fixed['statuses']}")
        finally:
            stop_server(proc)
    return results


# -- batch ------------------------------------------------------------------------------------------------------
def ensure_batch_data(rows: int) -> Path:
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = WORK / f"batch_{rows}.parquet"
    if path.exists():
        return path
    WORK.mkdir(parents=True, exist_ok=True)
    progress(f"generating {rows:,} rows × {N_FEATURES} features into {path}")
    rng = np.random.default_rng(SEED + 2)
    tmp = path.with_suffix(".tmp")
    schema = pa.schema([("id", pa.int64()), *((f, pa.float64()) for f in FEATURES)])
    chunk = 1_000_000
    with pq.ParquetWriter(tmp, schema) as writer:
        for start in range(0, rows, chunk):
            n = min(chunk, rows - start)
            x = _features(rng, n)
            cols = {"id": np.arange(start, start + n), **{f: x[:, i] for i, f in enumerate(FEATURES)}}
            writer.write_table(pa.table(cols, schema=schema))
    tmp.rename(path)
    return path


_HWM = """
def _hwm():
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
"""

_ASSAY_BATCH = (
    _HWM
    + """
import json, sys, time
from assay.tracking.client import Client
from assay.serving.batch import score
args = json.loads(sys.argv[1])
client = Client(**args["assay"])
predictor = client.load_model("models:/bench@production")
result = score(predictor, args["input"], args["output"], passthrough=["id"], show_progress=False)
print(json.dumps({"seconds": result.seconds, "rows": result.rows, "peak_rss": _hwm(), "fast_path": result.fast_path}))
"""
)

_MLFLOW_BATCH = (
    _HWM
    + """
import json, sys, time
import mlflow, pandas as pd
args = json.loads(sys.argv[1])
mlflow.set_tracking_uri(args["mlflow_uri"])
model = mlflow.pyfunc.load_model("models:/bench/1")
t0 = time.perf_counter()
df = pd.read_parquet(args["input"])
pred = model.predict(df[args["features"]])
pd.DataFrame({"id": df["id"], "prediction": pred}).to_parquet(args["output"])
seconds = time.perf_counter() - t0
print(json.dumps({"seconds": seconds, "rows": len(df), "peak_rss": _hwm()}))
"""
)

_FLOOR = """
import json, sys, time
import numpy as np, pyarrow.parquet as pq
from assay.tracking.client import Client
args = json.loads(sys.argv[1])
booster = Client(**args["assay"]).load_model("models:/bench@production").model.booster_
table = next(pq.ParquetFile(args["input"]).iter_batches(batch_size=1_000_000, columns=args["features"]))
x = np.asfortranarray(np.column_stack([c.to_numpy() for c in table.columns]))
booster.predict(x[:10_000])
best = min((lambda t0: (booster.predict(x), time.perf_counter() - t0)[1])(time.perf_counter()) for _ in range(3))
print(json.dumps({"seconds": best, "rows": len(x)}))
"""


def _subprocess(script: str, payload: dict[str, Any]) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, "-c", script, json.dumps(payload)], capture_output=True, text=True, check=False, env=_env()
    )
    if done.returncode != 0:
        raise RuntimeError(f"batch worker failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def _fmt_run(res: dict[str, Any]) -> str:
    return f"{res['rows'] / res['seconds']:,.0f} rows/s, peak {res['peak_rss'] / MIB:,.0f} MiB"


def bench_batch(setup: dict[str, Any], args: argparse.Namespace, tmp: Path) -> dict[str, Any]:
    big = ensure_batch_data(args.batch_rows)
    small = ensure_batch_data(max(1, args.batch_rows // 10))
    payload = {"assay": setup["assay"], "mlflow_uri": setup["mlflow_uri"], "features": FEATURES}
    out: dict[str, Any] = {"rows": args.batch_rows}
    for path in (big, small):  # warm the page cache so neither tool pays the first read from disk
        with open(path, "rb") as fh:
            while fh.read(64 * MIB):
                pass
    progress("batch: floor (LightGBM predict on an in-memory 1M-row matrix)")
    out["floor"] = _subprocess(_FLOOR, {**payload, "input": str(big)})
    progress(f"batch: floor {out['floor']['rows'] / out['floor']['seconds']:,.0f} rows/s")
    runs: dict[str, list[dict[str, Any]]] = {"assay": [], "assay_small": [], "mlflow": []}
    for r in range(args.batch_repeats):
        for name, script, path in (("assay", _ASSAY_BATCH, big), ("assay_small", _ASSAY_BATCH, small)):
            res = _subprocess(script, {**payload, "input": str(path), "output": str(tmp / "assay-scored.parquet")})
            runs[name].append(res)
            progress(f"batch {r + 1}: {name} {_fmt_run(res)}")
        if not args.skip_mlflow_batch:
            res = _subprocess(
                _MLFLOW_BATCH, {**payload, "input": str(big), "output": str(tmp / "mlflow-scored.parquet")}
            )
            runs["mlflow"].append(res)
            progress(f"batch {r + 1}: mlflow {_fmt_run(res)}")
    out["runs"] = runs
    return out


# -- report -----------------------------------------------------------------------------------------------------
def _median(values: list[float]) -> float:
    import statistics

    return statistics.median(values)


def table(online: dict[str, Any] | None, batch: dict[str, Any] | None) -> str:
    lines = ["| scenario | assay | MLflow | ratio (assay/MLflow) | target | met? |", "|---|---|---|---|---|---|"]

    def met(ok: bool | None) -> str:
        return {None: "—", True: "yes", False: "**no**"}[ok]

    if online:
        a, m = online["assay"], online["mlflow"]
        ratio = a["saturation"]["rps"] / m["saturation"]["rps"] if m["saturation"]["rps"] else float("inf")
        lines.append(
            f"| throughput at saturation, single-row requests | {a['saturation']['rps']:,.0f} req/s | "
            f"{m['saturation']['rps']:,.0f} req/s | {ratio:.2f}× | ≥ 3× | {met(ratio >= 3)} |"
        )
        own = m.get("own_rate")
        for key, label in (("p50_ms", "p50"), ("p99_ms", "p99")):
            av, mv = a["fixed_rate"][key], m["fixed_rate"][key]
            target, ok = ("≤ 10 ms", av <= 10) if key == "p99_ms" else ("—", None)
            m_cell = f"{mv:.2f} ms" + (f" (at its own half-saturation, {own:,.0f} req/s)" if own else "")
            ratio_cell = "— (different rates)" if own else f"{mv / av:.2f}× lower"
            lines.append(
                f"| {label} latency at {online['rate']:,.0f} req/s (half of assay's saturation) | {av:.2f} ms | "
                f"{m_cell} | {ratio_cell} | {target} | {met(ok)} |"
            )
        lines.append(
            f"| non-200 answers (saturation / fixed rate) | {_errors(a)} | {_errors(m)} | — | 0 | "
            f"{met(_errors(a) == '0 / 0')} |"
        )
    if batch:
        runs = batch["runs"]
        a_rps = _median([r["rows"] / r["seconds"] for r in runs["assay"]])
        a_peak = _median([r["peak_rss"] for r in runs["assay"]])
        s_peak = _median([r["peak_rss"] for r in runs["assay_small"]])
        m_rps = _median([r["rows"] / r["seconds"] for r in runs["mlflow"]]) if runs["mlflow"] else None
        m_peak = _median([r["peak_rss"] for r in runs["mlflow"]]) if runs["mlflow"] else None
        rows = batch["rows"]
        m_cell = f"{m_rps:,.0f} rows/s" if m_rps else "—"
        r_cell = f"{a_rps / m_rps:.2f}×" if m_rps else "—"
        lines.append(
            f"| batch scoring, {rows:,} rows | {a_rps:,.0f} rows/s | {m_cell} | {r_cell} | ≥ 1,000,000 rows/s "
            f"| {met(a_rps >= 1_000_000)} |"
        )
        mp = f"{m_peak / MIB:,.0f} MiB" if m_peak else "—"
        lines.append(
            f"| batch peak RSS, {rows:,} rows (vs {rows // 10:,} rows) | {a_peak / MIB:,.0f} MiB "
            f"(vs {s_peak / MIB:,.0f} MiB) | {mp} | {(m_peak or 0) / a_peak:.1f}× less | flat: 10× rows, ≤ +10% | "
            f"{met(a_peak <= 1.1 * s_peak)} |"
        )
        floor = batch["floor"]["rows"] / batch["floor"]["seconds"]
        lines.append(f"| floor: LightGBM predict, in-memory matrix, no I/O | {floor:,.0f} rows/s | — | — | — | — |")
    return "\n".join(lines)


def _errors(tool: dict[str, Any]) -> str:
    bad = [sum(n for s, n in tool[k]["statuses"].items() if int(s) != 200) for k in ("saturation", "fixed_rate")]
    return f"{bad[0]} / {bad[1]}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="1M-row batch and 5 s windows")
    parser.add_argument("--workers", type=int, default=1, help="uvicorn workers for both servers")
    parser.add_argument("--concurrency", type=int, default=32, help="connections in the closed loop")
    parser.add_argument("--seconds", type=float, default=10.0, help="length of each load window")
    parser.add_argument("--batch-rows", type=int, default=10_000_000)
    parser.add_argument("--batch-repeats", type=int, default=1)
    parser.add_argument("--skip-online", action="store_true")
    parser.add_argument("--skip-batch", action="store_true")
    parser.add_argument("--skip-mlflow-batch", action="store_true", help="MLflow's in-memory batch needs ~10 GB")
    parser.add_argument("--out", help="write raw figures as JSON here")
    args = parser.parse_args(argv)
    if args.quick:
        args.batch_rows, args.seconds = min(args.batch_rows, 1_000_000), min(args.seconds, 5.0)
    with tempfile.TemporaryDirectory(prefix="assay-bench-serving-") as name:
        tmp = Path(name)
        progress("training the model; registering it with assay and MLflow")
        setup = setup_models(tmp)
        online = None if args.skip_online else bench_online(setup, args, tmp)
        batch = None if args.skip_batch else bench_batch(setup, args, tmp)
    import lightgbm

    import assay

    info = machine_info(assay=assay.__version__, mlflow=setup["mlflow_version"], lightgbm=lightgbm.__version__)
    print(
        f"\n## Serving: assay vs MLflow {setup['mlflow_version']} ({info['cpus']} CPUs, load {info['load_average']})\n"
    )
    print(table(online, batch))
    if args.out:
        write_json(args.out, {"machine": info, "args": vars(args), "online": online, "batch": batch})
    return 0


if __name__ == "__main__":
    sys.exit(main())
