"""Remote mode against a live uvicorn on loopback: the fluent API end to end, the same search frame as embedded
mode, batching (one request per batch, one keep-alive connection), typed errors, tokens and roles, models."""

from __future__ import annotations

import json
import os
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pandas as pd
import pytest
import uvicorn
from sklearn.linear_model import LogisticRegression
from typer.testing import CliRunner

import assay
from assay.cli.main import app as cli_app
from assay.config import Settings
from assay.errors import (
    ConfigError,
    ConflictError,
    InvalidInputError,
    NotFoundError,
    PermissionDeniedError,
    StateError,
    StoreError,
)
from assay.governance import identity as ident
from assay.server import create_app
from assay.tracking.client import Client
from assay.tracking.remote import RemoteClient


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Client]:
    """The server's own (embedded) client on a fresh SQLite store."""
    c = Client(store_url=f"sqlite:///{tmp_path / 'server.db'}", artifacts_url=str(tmp_path / "server-artifacts"))
    yield c
    c.close()


@pytest.fixture
def url(store: Client) -> Iterator[str]:
    """A live uvicorn serving ``create_app(store)`` on a free loopback port, in a thread."""
    server = uvicorn.Server(uvicorn.Config(create_app(store, ui=False), host="127.0.0.1", port=0, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    for _ in range(1000):
        if server.started:
            break
        time.sleep(0.01)
    assert server.started, "uvicorn did not start"
    yield f"http://127.0.0.1:{server.servers[0].sockets[0].getsockname()[1]}"
    server.should_exit = True
    thread.join(timeout=10)


class Traffic:
    """Every request a remote client sends (method, path, JSON body) and the local address of each answer."""

    def __init__(self, client: RemoteClient) -> None:
        self.requests: list[tuple[str, str, Any]] = []
        self.connections: set[Any] = set()
        client._http.http.event_hooks = {"request": [self._request], "response": [self._response]}

    def _request(self, request: httpx.Request) -> None:
        body = json.loads(request.content) if request.headers.get("content-type") == "application/json" else None
        self.requests.append((request.method, request.url.path.removeprefix("/api/v1"), body))

    def _response(self, response: httpx.Response) -> None:
        self.connections.add(response.extensions["network_stream"].get_extra_info("client_addr"))

    def batches(self) -> list[Any]:
        return [body for method, path, body in self.requests if method == "POST" and path.endswith("/metric-columns")]


@pytest.fixture
def remote(url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[RemoteClient]:
    """The default client with ASSAY_TRACKING_URL set: what ``assay.start_run`` uses."""
    monkeypatch.setenv("ASSAY_TRACKING_URL", url)
    assay.set_client(None)
    client = assay.get_client()
    assert isinstance(client, RemoteClient)
    yield client
    assay.set_client(None)
    client.close()


def test_fluent_api_end_to_end(remote: RemoteClient, store: Client, tmp_path: Path) -> None:
    (tmp_path / "plots").mkdir()
    (tmp_path / "plots" / "roc.txt").write_text("roc")
    (tmp_path / "plots" / "pr.txt").write_text("pr")
    (tmp_path / "notes.md").write_text("# notes\n")
    frame = pd.DataFrame({"age": [31, 45, 22], "income": [1.5, 2.5, 3.0]})
    with assay.start_run(project="churn", name="remote-1", tags={"team": "retention"}) as run:
        assay.log_param("lr", 0.1)
        assay.log_params({"num_leaves": 31, "model": "lgbm"})
        for step in range(300):
            assay.log_metric("train/loss", 1.0 / (step + 1))
        assay.log_metrics({"auc": 0.91, "diverged": float("nan"), "blowup": float("inf")}, step=3)
        assay.set_tags({"stage": "cv"})
        assert assay.log_artifact(tmp_path / "notes.md") == "notes.md"
        assert assay.log_artifact(tmp_path / "plots", "figures") == "figures"
        linked = assay.log_dataset(frame, role="train", name="customers")
    assert run.status == "finished"

    info = store.run_info(run.id)  # what the server's store holds
    assert info["params"] == {"lr": "0.1", "num_leaves": "31", "model": "lgbm"}
    assert info["tags"] == {"team": "retention", "stage": "cv"}
    assert info["metrics"]["auc"] == 0.91 and info["metrics"]["train/loss"] == pytest.approx(1 / 300)
    assert info["host"] == socket.gethostname() and info["pid"] == os.getpid()
    assert info["environment"]  # captured on the client, not left empty by the server
    assert store.metric_history(run.id, "train/loss") == remote.metric_history(run.id, "train/loss")
    history = run.metric_history("train/loss")
    assert list(history["step"]) == list(range(300)) and str(history["timestamp"].dt.tz) == "UTC"
    assert np.isnan(run.metric_history("diverged")["value"][0]) and run.metric_history("blowup")["value"][0] == np.inf
    assert remote.run_info(run.id).keys() == info.keys()
    assert remote.run_info(run.id)["start_time"] == info["start_time"]
    assert sorted(a["path"] for a in run.artifacts()) == ["figures/pr.txt", "figures/roc.txt", "notes.md"]
    assert Path(run.download_artifact("figures/roc.txt", tmp_path / "out.txt")).read_text() == "roc"
    assert [i["name"] for i in run.inputs()] == ["customers"] and store.run_inputs(run.id)[0]["role"] == "train"
    assert linked["dataset_version_id"] == store.run_inputs(run.id)[0]["dataset_version_id"]
    assert remote.get_run(run.id).name == "remote-1" and remote.list_projects() == store.list_projects() == ["churn"]


def test_search_runs_returns_the_embedded_frame(remote: RemoteClient, store: Client) -> None:
    for i in range(4):
        with remote.start_run(project="churn" if i < 3 else "ltv", name=f"r{i}", capture_env=False) as run:
            run.log_params({"model": "lgbm", **({"depth": i} if i % 2 else {})})
            run.log_metric("auc", 0.7 + i / 100)
            run.log_metric("val/loss", float("nan") if i == 0 else 1 / (i + 1))
            run.log_metric("always_nan", float("nan"))
            run.log_metric("extreme", float("inf") if i == 1 else -float("inf") if i == 2 else 1e308)
            if i == 2:
                run.set_tags({"best": "yes"})
    cases: list[dict[str, Any]] = [
        {},
        {"project": "churn"},
        {"project": ["churn", "ltv"], "filter": "metrics.auc > 0.705", "order_by": ["metrics.auc desc"]},
        {"filter": "params.depth = '1'", "limit": 1},
        {"order_by": ["attributes.name asc"], "limit": 2, "offset": 1},
        {"filter": "metrics.auc > 5"},
    ]
    for kwargs in cases:
        pd.testing.assert_frame_equal(remote.search_runs(**kwargs), store.search_runs(**kwargs))
    assert len(assay.search_runs(project="churn")) == 3
    with pytest.raises(NotFoundError):
        remote.search_runs(project="nope")


def test_metrics_go_in_one_request_per_batch(remote: RemoteClient, store: Client) -> None:
    traffic = Traffic(remote)
    remote._writer.interval = 3600  # no tick: only a flush (or a full buffer) sends
    runs = [remote.start_run(project="churn", capture_env=False) for _ in range(2)]
    for step in range(5000):
        runs[0].log_metric("loss", 1 / (step + 1))
    runs[1].log_metrics({"a": 1.0, "b": 2.0})
    remote.flush()
    batches = traffic.batches()
    assert len(batches) == 2  # one request per run of the batch, not one per point
    assert sorted(len(b["key"]) for b in batches) == [2, 5000]

    remote._writer.batch_size = 1000  # a full buffer sends at once, at most batch_size points per request
    for step in range(3500):
        runs[0].log_metric("acc", step / 3500)
    for run in runs:
        run.end()
    sizes = [len(b["key"]) for b in traffic.batches()[2:]]
    assert sum(sizes) == 3500 and max(sizes) <= 1000 and len(sizes) <= 8
    assert (
        len(store.metric_history(runs[0].id, "loss")) == 5000 and len(store.metric_history(runs[0].id, "acc")) == 3500
    )
    assert len(traffic.connections) == 1  # one keep-alive connection for everything


def test_server_errors_come_back_typed(remote: RemoteClient, store: Client, tmp_path: Path) -> None:
    with pytest.raises(NotFoundError, match="nope"):
        remote.get_run("nope")
    run = remote.start_run(project="churn", capture_env=False)
    run.log_param("lr", 0.1)
    with pytest.raises(ConflictError, match="lr"):
        run.log_param("lr", 0.2)
    with pytest.raises(InvalidInputError, match="position"):
        remote.search_runs(filter="metrics.auc >>> 1")
    with pytest.raises(InvalidInputError):
        remote.set_alias("churn", "not valid!", 1)
    with pytest.raises(NotFoundError):
        remote.load_model("models:/unknown@production")
    with pytest.raises(NotFoundError, match="no metric"):
        remote.metric_history(run.id, "missing")
    run.end()
    with pytest.raises(StateError, match="resume"):
        remote.log_params(run.id, {"late": 1})  # the server refuses: the run has ended
    remote.resume_run(run.id).log_params({"late": 1})
    assert store.run_info(run.id)["params"]["late"] == "1"


def test_unreachable_server_is_a_store_error(tmp_path: Path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    client = Client(tracking_url=f"http://127.0.0.1:{port}")
    client._http.retries = 1
    with pytest.raises(StoreError, match="cannot reach the assay server"):
        client.get_run("abc")
    client.close()


def test_tokens_and_roles_are_enforced(url: str, store: Client, monkeypatch: pytest.MonkeyPatch) -> None:
    root_token = ident.add_user("root", role="admin", client=store)["token"]
    root = Client(store_url=store.settings.store_url, artifacts_url=store.settings.artifacts_url, token=root_token)
    ident.add_user("sci", role="scientist", project="churn", client=root)
    ident.add_user("view", role="viewer", project="churn", client=root)
    sci_token, view_token = ident.create_token("sci", client=root), ident.create_token("view", client=root)

    anonymous = Client(tracking_url=url)
    with pytest.raises(PermissionDeniedError, match="ASSAY_TOKEN"):
        anonymous.list_projects()
    monkeypatch.setenv("ASSAY_TRACKING_URL", url)
    monkeypatch.setenv("ASSAY_TOKEN", sci_token)
    sci = Client()
    with sci.start_run(project="churn", capture_env=False) as run:
        run.log_metric("auc", 0.9)
    assert store.run_info(run.id)["user"] == "sci"
    with pytest.raises(PermissionDeniedError, match="scientist"):
        sci.start_run(project="other")
    viewer = Client(tracking_url=url, token=view_token)
    assert viewer.search_runs(project="churn")["run_id"].tolist() == [run.id]
    with pytest.raises(PermissionDeniedError, match="view cannot"):
        viewer.start_run(project="churn")
    with pytest.raises(PermissionDeniedError):
        viewer.set_tags(run.id, {"stage": "x"})
    for c in (anonymous, sci, viewer):
        c.close()
    root.close()


def test_log_model_alias_and_load(remote: RemoteClient, store: Client) -> None:
    X = pd.DataFrame({"x": [0.0, 1.0, 2.0, 3.0]})
    model = LogisticRegression().fit(X, [0, 0, 1, 1])
    with assay.start_run(project="churn", capture_env=False) as run:
        mv = assay.log_model(model, "churn", input_example=X)
    assert (mv.name, mv.version, mv.run_id, mv.flavor) == (
        "churn",
        1,
        run.id,
        store.registry.get_version("churn", 1).flavor,
    )
    assay.set_alias("churn", "staging", 1)
    assert store.registry.get_version("churn", 1).aliases == ("staging",)
    expected = model.predict_proba(X)
    for uri in ("models:/churn@staging", "models:/churn/1", "models:/churn/latest", f"runs:/{run.id}/model"):
        predictor = assay.load_model(uri, trusted=True)
        np.testing.assert_allclose(predictor.predict_proba(X), expected)
    assert assay.load_model("models:/churn@staging", trusted=True).version == 1
    np.testing.assert_allclose(store.load_model("models:/churn/1", trusted=True).predict_proba(X), expected)
    assert [v.version for v in remote.registry.list_versions("churn")] == [1]
    remote.registry.delete_alias("churn", "staging")
    assert store.registry.get_version("churn", 1).aliases == ()

    runner, env = CliRunner(), {"ASSAY_TRACKING_URL": remote.tracking_url, "COLUMNS": "200"}
    moved = runner.invoke(cli_app, ["models", "alias", "churn", "candidate", "1"], env=env)
    assert moved.exit_code == 0, moved.output
    listed = runner.invoke(cli_app, ["models", "list", "--json"], env=env)
    assert listed.exit_code == 0, listed.output
    assert [(m["name"], m["aliases"]) for m in json.loads(listed.stdout)] == [("churn", {"candidate": 1})]
    shown = runner.invoke(cli_app, ["models", "show", "churn", "--version", "1"], env=env)
    assert shown.exit_code == 0 and "LogisticRegression" in shown.output


def test_store_only_operations_say_so(remote: RemoteClient) -> None:
    with pytest.raises(StateError, match="needs direct store access"):
        remote.db  # noqa: B018
    with pytest.raises(StateError, match="needs direct store access"):
        remote.registry.resolve("models:/churn/1")


def test_cli_runs_commands_work_remotely(remote: RemoteClient, url: str) -> None:
    with remote.start_run(project="churn", name="from-cli", capture_env=False) as run:
        run.log_metric("auc", 0.8)
    runner = CliRunner()
    env = {"ASSAY_TRACKING_URL": url, "COLUMNS": "200"}
    listed = runner.invoke(cli_app, ["runs", "list", "--project", "churn", "--json"], env=env)
    assert listed.exit_code == 0, listed.output
    assert [r["run_id"] for r in json.loads(listed.stdout)] == [run.id]
    shown = runner.invoke(cli_app, ["runs", "show", run.id[:8]], env=env)
    assert shown.exit_code == 0 and "from-cli" in shown.output
    audit = runner.invoke(cli_app, ["audit", "verify"], env=env)
    assert audit.exit_code != 0 and "needs direct store access" in audit.output


def test_settings_resolve_the_tracking_url(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ASSAY_TRACKING_URL", "http://server:5000/")
    assert Settings.load(cwd=tmp_path).tracking_url == "http://server:5000"
    assert Settings.load(cwd=tmp_path, store_url="sqlite:///x.db").tracking_url is None  # an explicit store wins
    assert type(Client(store_url=f"sqlite:///{tmp_path / 'a.db'}")) is Client
    monkeypatch.delenv("ASSAY_TRACKING_URL")
    (tmp_path / "assay.toml").write_text('tracking_url = "https://assay.example.com"\ntoken = "t0k"\n')
    s = Settings.load(cwd=tmp_path)
    assert (s.tracking_url, s.token) == ("https://assay.example.com", "t0k")
    with pytest.raises(ConfigError, match="ASSAY_TRACKING_URL"):
        Settings.load(cwd=tmp_path, tracking_url="server:5000")


def test_safe_requests_are_retried_and_posts_are_not() -> None:
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    from assay.tracking._http import HttpSession

    seen: list[str] = []

    class Flaky(BaseHTTPRequestHandler):
        def _answer(self) -> None:
            seen.append(self.command)
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            ok = self.command == "GET" and seen.count("GET") > 1  # the first GET fails
            body = b'{"ok": 1}' if ok else b'{"error": "StoreError", "message": "database is locked"}'
            self.send_response(200 if ok else 503)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_GET = do_POST = _answer

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Flaky)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    http = HttpSession(f"http://127.0.0.1:{server.server_address[1]}")
    try:
        assert http.request("GET", "/x") == {"ok": 1} and seen == ["GET", "GET"]
        with pytest.raises(StoreError, match="database is locked"):
            http.request("POST", "/x", json={})
        assert seen == ["GET", "GET", "POST"]  # a POST that reached the server is never re-sent
    finally:
        http.close()
        server.shutdown()
        server.server_close()
