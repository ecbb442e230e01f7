"""The runs table on 10,000 runs: pages are cut on the server (50 rows of HTML, never 10,000), the last page
is reachable, and filter and sort run in the store over every run, not just the page shown."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from assay.server import create_app
from assay.store import runs as rq
from assay.store.models import Param, Run
from assay.tracking.client import Client

N_RUNS = 10_000


@pytest.fixture(scope="module")
def big(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[TestClient, list[str]]]:
    """A single-user store with 10,000 runs in project ``big`` (bulk-written: params ``i``, metric ``auc``)."""
    folder: Path = tmp_path_factory.mktemp("ui-big")
    c = Client(store_url=f"sqlite:///{folder / 'assay.db'}", artifacts_url=str(folder / "a"), home=folder)
    ids = [uuid.uuid4().hex for _ in range(N_RUNS)]
    start = rq.now_ms() - N_RUNS * 1000

    def write(conn: object) -> None:
        pid = rq.get_or_create_project(conn, "big")  # type: ignore[arg-type]
        runs = [
            {"id": run_id, "project_id": pid, "name": f"run-{i:05d}", "status": "finished",
             "start_ms": start + i * 1000, "end_ms": start + i * 1000 + 500, "user": "ada", "host": "h", "pid": 1}
            for i, run_id in enumerate(ids)
        ]  # fmt: skip
        conn.execute(Run.__table__.insert(), runs)  # type: ignore[attr-defined]
        conn.execute(Param.__table__.insert(), [{"run_id": r, "key": "i", "value": str(i)} for i, r in enumerate(ids)])  # type: ignore[attr-defined]
        rq.insert_metrics(conn, [(r, "auc", i / N_RUNS, 0, start) for i, r in enumerate(ids)])  # type: ignore[arg-type]

    c.db.retrying_write(write)
    with TestClient(create_app(c), raise_server_exceptions=False) as tc:
        yield tc, ids
    c.close()


def _names(html: str) -> list[str]:
    return re.findall(r'href="/ui/runs/\w+">(run-\d+)<', html)


def test_pages_of_ten_thousand_runs(big: tuple[TestClient, list[str]]) -> None:
    tc, _ = big
    first = tc.get("/ui/projects/big")
    assert first.status_code == 200 and "10,000 runs · page 1 of 200" in first.text
    assert _names(first.text) == [f"run-{i:05d}" for i in range(9_999, 9_949, -1)]  # newest first
    assert len(first.content) < 200_000

    last = tc.get("/ui/projects/big", params={"page": "200"}, headers={"HX-Request": "true"})
    assert _names(last.text)[-1] == "run-00000" and len(_names(last.text)) == 50 and "next-page" not in last.text
    assert tc.get("/ui/projects/big", params={"page": "201"}).text.count("No run matches") == 1


def test_filter_and_sort_cover_every_run(big: tuple[TestClient, list[str]]) -> None:
    tc, _ = big
    r = tc.get("/ui/projects/big", params={"filter": "metrics.auc < 0.0005", "order": "metrics.auc asc"},
               headers={"HX-Request": "true"})  # fmt: skip
    assert _names(r.text) == ["run-00000", "run-00001", "run-00002", "run-00003", "run-00004"]
    r = tc.get("/ui/projects/big", params={"order": "metrics.auc desc", "size": "25", "col": "metrics.auc"},
               headers={"HX-Request": "true"})  # fmt: skip
    assert _names(r.text)[:2] == ["run-09999", "run-09998"] and "0.9999" in r.text
    r = tc.get("/ui/projects/big", params={"filter": "params.i = 1234"}, headers={"HX-Request": "true"})
    assert _names(r.text) == ["run-01234"]
