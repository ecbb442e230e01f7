"""The server on loopback: uvicorn in a thread under concurrent load, and ``assay serve`` as a real process."""

from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
import uvicorn

from assay.serving import read_prediction_log

from .conftest import Store


@contextmanager
def _serving(app: Any) -> Iterator[int]:
    """uvicorn on 127.0.0.1 (a free port) in a thread; leaving shuts it down gracefully (lifespan flushes)."""
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", access_log=False))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.01)
    assert server.started, "uvicorn did not start"
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield port
    finally:
        server.should_exit = True
        thread.join(timeout=60)


def _hammer(
    port: int, bodies: list[bytes], threads: int, per_thread: int, tag: str
) -> list[tuple[int, str, str | None]]:
    """Each thread sends ``per_thread`` requests on one keep-alive connection: (status, request id, retry-after)."""
    results: list[tuple[int, str, str | None]] = []
    lock = threading.Lock()

    def work(t: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        mine = []
        for i in range(per_thread):
            rid = f"{tag}{t}-{i}"
            conn.request("POST", "/predict", bodies[(t + i) % len(bodies)], {"X-Request-Id": rid})
            resp = conn.getresponse()
            resp.read()
            mine.append((resp.status, rid, resp.getheader("Retry-After")))
        conn.close()
        with lock:
            results.extend(mine)

    workers = [threading.Thread(target=work, args=(t,)) for t in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    return results


@pytest.mark.slow
def test_load_on_loopback_no_500_bounded_503_and_a_complete_log(store: Store, make_app: Callable) -> None:
    app = make_app(max_concurrency=4, shadow_uri="models:/churn/2")
    bodies = [json.dumps([store.record(i)]).encode() for i in range(50)]
    with _serving(app) as port:
        within = _hammer(port, bodies, threads=4, per_thread=100, tag="a")  # at most 4 in flight: never refused
        beyond = _hammer(port, bodies, threads=24, per_thread=100, tag="b")  # far past the bound
        conn = http.client.HTTPConnection("127.0.0.1", port)
        conn.request("GET", "/metrics")
        metrics = conn.getresponse().read().decode()
    assert {s for s, _, _ in within} == {200}
    assert {s for s, _, _ in beyond} <= {200, 503}  # no 500, no crash
    refused = [r for r in beyond if r[0] == 503]
    assert all(retry == "1" for _, _, retry in refused)
    overload = f'assay_serving_errors_total{{endpoint="/predict",kind="overload"}} {float(len(refused))}'
    assert len(refused) == 0 or overload in metrics
    accepted = {rid for s, rid, _ in within + beyond if s == 200}
    log = read_prediction_log("churn", root=store.log_root)  # the server has shut down: flushed
    live = log[log["arm"] == "live"]
    assert set(live["request_id"]) == accepted and len(live) == len(accepted)  # each accepted one, once
    shadow = log[log["arm"] == "shadow"]
    assert set(shadow["request_id"]) <= accepted and len(shadow) + app.state.runtime.shadow_dropped == len(accepted)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(port: int, path: str, body: bytes | None = None) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    conn.request("POST" if body is not None else "GET", path, body)
    resp = conn.getresponse()
    return resp.status, resp.read()


@pytest.mark.slow
@pytest.mark.parametrize("workers", [1, 2])
def test_assay_serve_command(store: Store, workers: int) -> None:
    settings = store.client.settings
    port = _free_port()
    cmd = [sys.executable, "-m", "assay.cli.main", "--store-url", settings.store_url, "--artifacts-url",
           settings.artifacts_url, "--home", str(settings.home), "serve", "models:/churn@production", "--port",
           str(port), "--workers", str(workers), "--log-root", str(store.log_root)]  # fmt: skip
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            try:
                if _get(port, "/ready")[0] == 200:
                    break
            except OSError:
                time.sleep(0.2)
        else:
            pytest.fail(f"server not ready: {proc.stdout.read(2000) if proc.poll() is not None else ''}")
        answers = [json.loads(_get(port, "/predict", json.dumps([store.record(i)]).encode())[1]) for i in range(40)]
        assert all(a["version"] == 1 for a in answers)
        status, metrics = _get(port, "/metrics")
        assert status == 200 and b"assay_serving_requests_total" in metrics
    finally:
        os.killpg(proc.pid, signal.SIGINT) if workers > 1 else proc.send_signal(signal.SIGINT)
        output = proc.communicate(timeout=60)[0].decode()
    assert proc.returncode == 0, output
    log = read_prediction_log("churn", root=store.log_root)
    assert set(log["request_id"]) == {a["request_id"] for a in answers}
