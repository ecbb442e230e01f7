"""Fixtures for the online server: a store with small registered LightGBM and scikit-learn models."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import lightgbm as lgb
import numpy as np
import pandas as pd
import pytest
from fastapi import FastAPI
from sklearn.compose import ColumnTransformer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder

from assay.serving.app import create_app
from assay.tracking.client import Client

FEATURES = [f"x{i}" for i in range(6)]


def make_frame(n: int = 300, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = pd.DataFrame(rng.normal(size=(n, len(FEATURES))), columns=FEATURES)
    y = ((x["x0"] + 0.5 * x["x1"] + rng.normal(0, 0.5, n)) > 0).astype(int).to_numpy()
    return x, y


@dataclass
class Store:
    client: Client
    x: pd.DataFrame
    log_root: Path

    def record(self, i: int = 0) -> dict[str, float]:
        return {k: float(v) for k, v in self.x.iloc[i].items()}


@pytest.fixture(scope="module")
def _module_store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    tmp = tmp_path_factory.mktemp("serving")
    client = Client(store_url=f"sqlite:///{tmp / 'assay.db'}", artifacts_url=str(tmp / "artifacts"), home=tmp / "home")
    yield _register(client, tmp)
    client.close()


@pytest.fixture
def store(_module_store: Store, tmp_path: Path) -> Iterator[Store]:
    """One SQLite store per test module (models are registered once); each test gets its own log folder and
    finds ``churn@production`` on version 1 (a test that moves it is undone afterwards)."""
    yield Store(_module_store.client, _module_store.x, tmp_path / "logs")
    _module_store.client.set_alias("churn", "production", 1)


def _register(client: Client, tmp: Path) -> Store:
    """churn v1, v2 (LightGBM classifiers, production -> v1), v3 (raw LightGBM booster); plans v1 (sklearn)."""
    x, y = make_frame()
    m1 = lgb.LGBMClassifier(n_estimators=15, num_leaves=7, verbose=-1).fit(x, y)
    m2 = lgb.LGBMClassifier(n_estimators=30, num_leaves=5, learning_rate=0.3, verbose=-1).fit(x, y)
    booster = lgb.train({"objective": "binary", "verbose": -1, "num_leaves": 7}, lgb.Dataset(x, y), 10)
    plans = x.assign(plan=np.where(x["x2"] > 0, "pro", "free"))
    pipe = Pipeline(
        [
            ("prep", ColumnTransformer([("plan", OneHotEncoder(), ["plan"])], remainder="passthrough")),
            ("model", LogisticRegression()),
        ]
    ).fit(plans, y)
    with client.start_run(project="churn") as run:
        run.log_model(m1, name="churn", input_example=x.head(5))
        run.log_model(m2, name="churn", input_example=x.head(5), artifact_path="model2")
        run.log_model(booster, name="churn", input_example=x.head(5), artifact_path="model3")
        run.log_model(pipe, name="plans", input_example=plans.head(5), artifact_path="plans")
    client.set_alias("churn", "production", 1)
    return Store(client, x, tmp / "logs")


@pytest.fixture
def make_app(store: Store) -> Iterator[Callable[..., FastAPI]]:
    """``make_app(uri="models:/churn@production", **settings)``; every runtime is closed at teardown."""
    apps: list[FastAPI] = []

    def build(uri: str = "models:/churn@production", **settings: Any) -> FastAPI:
        settings.setdefault("log_root", str(store.log_root))
        settings.setdefault("reload_interval_s", 0)
        app = create_app(uri, client=store.client, **settings)
        apps.append(app)
        return app

    yield build
    for app in apps:
        app.state.runtime.close()
