"""The server for real: uvicorn on loopback, one keep-alive httpx connection logging batches as a remote client
will; and ``assay server`` started from the command line."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import uvicorn

from assay.server import create_app
from assay.tracking.client import Client


@pytest.fixture
def live_url(store: Client) -> Iterator[str]:
    config = uvicorn.Config(create_app(store, ui=False), host="127.0.0.1", port=0, log_level="warning")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    for _ in range(500):
        if server.started:
            break
        time.sleep(0.01)
    assert server.started, "uvicorn did not start"
    port = server.servers[0].sockets[0].getsockname()[1]
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)


def test_batches_over_one_keep_alive_connection(live_url: str, store: Client) -> None:
    connections: list[object] = []
    with httpx.Client(base_url=f"{live_url}/api/v1", timeout=10) as http:
        run_id = http.post("/runs", json={"project": "live", "name": "remote"}).json()["run_id"]
        for step in range(20):
            points = [{"key": "loss", "value": 1 / (step * 10 + i + 1), "step": step * 10 + i} for i in range(10)]
            answer = http.post(f"/runs/{run_id}/batch", json={"metrics": points, "tags": {"step": step}})
            assert answer.status_code == 200 and answer.json()["metrics"] == 10
            connections.append(answer.extensions["network_stream"].get_extra_info("client_addr"))
        http.post(f"/runs/{run_id}/terminate", json={})
        found = http.get("/runs", params={"project": "live", "filter": "metrics.loss < 0.01"}).json()
        missing = http.get("/runs/nope")
    assert len(set(connections)) == 1  # one connection, reused: no handshake per batch
    assert len(store.metric_history(run_id, "loss")) == 200
    assert found["total"] == 1 and found["items"][0]["status"] == "finished"
    assert missing.status_code == 404 and missing.json()["error"] == "NotFoundError"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_assay_server_command(tmp_path: Path) -> None:
    port = _free_port()
    env = {**os.environ, "ASSAY_HOME": str(tmp_path / "home")}
    cmd = [sys.executable, "-m", "assay.cli.main", "server", "--host", "127.0.0.1", "--port", str(port), "--no-ui"]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        health = None
        for _ in range(300):
            try:
                health = httpx.get(f"http://127.0.0.1:{port}/api/v1/health", timeout=1)
                break
            except httpx.TransportError:
                time.sleep(0.05)
        assert health is not None and health.json()["status"] == "ok"
        doc = httpx.get(f"http://127.0.0.1:{port}/api/v1/openapi.json").json()
        assert doc["info"]["title"] == "assay" and "/api/v1/runs/{run_id}/batch" in doc["paths"]
    finally:
        proc.terminate()
        proc.wait(timeout=10)
