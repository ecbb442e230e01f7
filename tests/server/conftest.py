"""Server fixtures: a real store (SQLite here; PostgreSQL where a test asks for ``store_url``), the real app
behind fastapi's TestClient, seed data made with assay's own capabilities, and a team of users with tokens."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient
from sklearn.linear_model import LogisticRegression

import assay
from assay import data
from assay.governance import identity as ident
from assay.server import create_app
from assay.store import experiments as eq
from assay.tracking.client import Client

MODEL = LogisticRegression().fit([[0.0], [1.0], [2.0], [3.0]], [0, 0, 1, 1])
DAY0 = dt.datetime(2026, 11, 1)


def make_client(store_url: str, tmp_path: Path, token: str | None = None) -> Client:
    return Client(store_url=store_url, artifacts_url=str(tmp_path / "artifacts"), home=tmp_path / "home", token=token)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Client]:
    """A client on a fresh SQLite store (the app's base client)."""
    c = make_client(f"sqlite:///{tmp_path / 'assay.db'}", tmp_path)
    assay.set_client(c)
    yield c
    assay.set_client(None)
    c.close()


@pytest.fixture
def api(store: Client) -> Iterator[TestClient]:
    """The real app (API only) on ``store``, through fastapi's TestClient."""
    with TestClient(create_app(store, ui=False), raise_server_exceptions=False) as tc:
        yield tc


def seed_runs(c: Client, project: str = "churn", n: int = 3, tmp_path: Path | None = None) -> list[str]:
    """``n`` finished runs with params, metric histories and (with ``tmp_path``) an artifact."""
    ids = []
    for i in range(n):
        with c.start_run(project=project, name=f"lgbm-{i}", tags={"team": "retention"}, capture_env=False) as run:
            run.log_params({"num_leaves": 16 * (i + 1), "model": "lgbm"})
            for step in range(5):
                run.log_metric("loss", 1.0 / (step + 1 + i), step=step)
            run.log_metric("auc", 0.70 + 0.05 * i)
            if tmp_path is not None and i == 0:
                report = tmp_path / "report.txt"
                report.write_text("auc by month\n")
                run.log_artifact(report, "reports/report.txt")
            ids.append(run.id)
    return ids


def register_model(c: Client, name: str = "churn", project: str = "churn") -> int:
    with c.start_run(project=project, capture_env=False) as run:
        run.log_metric("auc", 0.82)
        return c.log_model(run.id, MODEL, name).version


def seed_dataset(c: Client, tmp_path: Path) -> Path:
    """Dataset ``customers``: two versions, a stored profile and a contract validation on the newest."""
    rng = np.random.default_rng(3)
    path = tmp_path / "customers.parquet"
    for rows in (200, 300):
        pd.DataFrame({"id": np.arange(rows), "income": rng.normal(50, 10, rows)}).to_parquet(path)
        data.record(data.profile(str(path)), str(path), dataset="customers", client=c)
    contract = data.Contract.from_dict({"dataset": "customers", "columns": {"id": {"not_null": True, "unique": True},
                                        "income": {"min": 0}}})  # fmt: skip
    data.record(contract.validate(str(path)), str(path), dataset="customers", client=c)
    return path


def seed_experiment(c: Client, name: str = "checkout-v2", analyses: int = 2) -> None:
    """An experiment with stored analyses (rows written through the store's experiment queries)."""
    variants = [{"name": "control", "weight": 0.5, "is_control": True}, {"name": "treatment", "weight": 0.5}]
    definition = {"name": name, "variants": ["control", "treatment"], "primary_metric": "conversion"}

    def write(conn: Any) -> None:
        exp_id = eq.save_experiment(conn, name, definition, variants)
        for i in range(analyses):
            eq.record_analysis(
                conn, exp_id, actor="ana", decision="ship" if i else "keep running",
                summary=f"analysis {i}: conversion up", srm_p_value=0.41,
                result={"lifts": [{"metric": "conversion", "estimate": 0.023, "ci_low": 0.008, "ci_high": 0.039}]},
                metric_rows=[{"metric": "conversion", "variant": "treatment", "slice": None, "role": "primary",
                              "relative": True, "estimate": 0.023, "ci_low": 0.008, "ci_high": 0.039,
                              "p_value": 0.004, "adjusted_p_value": 0.004, "status": "significant"}],
            )  # fmt: skip

    c.db.retrying_write(write)


def make_team(base: Client, tmp_path: Path) -> dict[str, str]:
    """Users with tokens on ``base``'s store: root (admin everywhere), sci (scientist), rev and rev2 (reviewers),
    view (viewer) in project churn, and other (scientist in project other only). Returns name -> token."""
    tokens = {"root": ident.add_user("root", role="admin", client=base)["token"]}
    root = make_client(base.settings.store_url, tmp_path, tokens["root"])
    for name, role, project in (("sci", "scientist", "churn"), ("rev", "reviewer", "churn"),
                                ("rev2", "reviewer", "churn"), ("view", "viewer", "churn"),
                                ("other", "scientist", "other")):  # fmt: skip
        ident.add_user(name, role=role, project=project, client=root)
        tokens[name] = ident.create_token(name, client=root)
    return tokens


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}
