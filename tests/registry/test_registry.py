"""Model registry over a real store: versions, aliases, URIs, safe loading."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression

import assay
from assay.errors import InvalidInputError, NotFoundError, SchemaMismatchError, UntrustedModelError
from assay.registry.registry import parse_model_uri
from assay.tracking.client import Client


class Doubler:
    """Not a known library type: it can only be stored as a pickle."""

    def predict(self, x: pd.DataFrame) -> np.ndarray:
        return np.asarray(x["a"]) * 2


@pytest.fixture
def data() -> tuple[pd.DataFrame, pd.Series]:
    rng = np.random.default_rng(0)
    x = pd.DataFrame({"tenure": rng.integers(0, 60, 300), "spend": rng.normal(50, 10, 300)})
    y = pd.Series((x["tenure"] < 12).astype(int))
    return x, y


def test_versions_aliases_and_uris(client: Client, data: tuple[pd.DataFrame, pd.Series]) -> None:
    x, y = data
    models = [LogisticRegression(C=c, max_iter=500).fit(x, y) for c in (0.01, 1.0)]
    with assay.start_run(project="churn") as run:
        v1 = run.log_model(models[0], name="churn", input_example=x.head(5))
        v2 = run.log_model(models[1], name="churn", input_example=x.head(5), artifact_path="model2")
    assert (v1.version, v2.version) == (1, 2)
    assert v1.run_id == run.id and v1.flavor == "sklearn"
    assay.set_alias("churn", "production", 1)
    assay.set_alias("churn", "challenger", 2)
    by_alias = assay.load_model("models:/churn@production")
    by_number = assay.load_model("models:/churn/2")
    latest = assay.load_model("models:/churn/latest")
    from_run = assay.load_model(f"runs:/{run.id}/model")
    np.testing.assert_array_equal(by_alias.predict(x), models[0].predict(x))
    np.testing.assert_array_equal(by_number.predict_proba(x), models[1].predict_proba(x))
    np.testing.assert_array_equal(latest.predict(x), models[1].predict(x))
    np.testing.assert_array_equal(from_run.predict(x), models[0].predict(x))
    assert by_alias.version == 1 and by_alias.name == "churn"
    # moving an alias
    assay.set_alias("churn", "production", 2)
    np.testing.assert_array_equal(assay.load_model("models:/churn@production").predict(x), models[1].predict(x))
    assert client.registry.get_version("churn", 2).aliases == ("challenger", "production")
    listed = client.registry.list_models()
    assert listed[0]["name"] == "churn" and listed[0]["latest_version"] == 2
    assert listed[0]["aliases"] == {"production": 2, "challenger": 2}
    client.registry.delete_alias("churn", "challenger")
    assert client.registry.get_version("churn", 2).aliases == ("production",)
    assert [v.version for v in client.registry.list_versions("churn")] == [1, 2]


def test_predict_validates_signature(client: Client, data: tuple[pd.DataFrame, pd.Series]) -> None:
    x, y = data
    with client.start_run(project="churn") as run:
        run.log_model(LogisticRegression().fit(x, y), name="churn", input_example=x.head(5))
    predictor = client.load_model("models:/churn/1")
    with pytest.raises(SchemaMismatchError, match="spend") as err:
        predictor.predict(x.drop(columns=["spend"]))
    assert err.value.column == "spend"
    with pytest.raises(SchemaMismatchError, match="tenure"):
        predictor.predict(x.assign(tenure=["a"] * len(x)))
    reordered = x[["spend", "tenure"]].assign(extra=1)
    np.testing.assert_array_equal(predictor.predict(reordered), predictor.predict(x))


def test_pickle_needs_trust(client: Client) -> None:
    with client.start_run(project="misc") as run:
        mv = run.log_model(Doubler(), name="doubler", input_example=pd.DataFrame({"a": [1.0, 2.0]}))
    assert mv.flavor == "pickle"
    with pytest.raises(UntrustedModelError, match="trusted=True"):
        client.load_model("models:/doubler/1")
    predictor = client.load_model("models:/doubler/1", trusted=True)
    np.testing.assert_array_equal(predictor.predict(pd.DataFrame({"a": [1.0, 3.0]})), [2.0, 6.0])


def test_unknown_names(client: Client, data: tuple[pd.DataFrame, pd.Series]) -> None:
    x, y = data
    with pytest.raises(NotFoundError, match="model 'ghost' not found"):
        client.load_model("models:/ghost/1")
    with client.start_run(project="churn") as run:
        run.log_model(LogisticRegression().fit(x, y), name="churn")
    with pytest.raises(NotFoundError, match="no alias 'production'"):
        client.load_model("models:/churn@production")
    with pytest.raises(NotFoundError, match=r"no version 7; its versions are \[1\]"):
        client.load_model("models:/churn/7")
    with pytest.raises(NotFoundError, match="no version 9"):
        client.set_alias("churn", "production", 9)
    with pytest.raises(NotFoundError, match="no model at"):
        client.load_model(f"runs:/{run.id}/elsewhere")
    with pytest.raises(NotFoundError, match="run 'nope' not found"):
        client.load_model("runs:/nope/model")
    with pytest.raises(NotFoundError, match="no alias 'staging'"):
        client.registry.delete_alias("churn", "staging")


@pytest.mark.parametrize("alias", ["", "1abc", "latest", "has space", "x" * 65])
def test_bad_alias_names(client: Client, data: tuple[pd.DataFrame, pd.Series], alias: str) -> None:
    x, y = data
    with client.start_run(project="churn") as run:
        run.log_model(LogisticRegression().fit(x, y), name="churn")
    with pytest.raises(InvalidInputError, match="alias"):
        client.set_alias("churn", alias, 1)


def test_bad_model_names(client: Client) -> None:
    with client.start_run(project="churn") as run, pytest.raises(InvalidInputError, match="model name"):
        run.log_model(LogisticRegression(), name="bad/name")


@pytest.mark.parametrize(
    ("uri", "parsed"),
    [
        ("models:/churn@production", ("alias", "churn", "production")),
        ("models:/churn/3", ("version", "churn", "3")),
        ("models:/churn/latest", ("latest", "churn", "latest")),
        ("runs:/abc123/model", ("run", "abc123", "model")),
        ("runs:/abc123/sub/model", ("run", "abc123", "sub/model")),
    ],
)
def test_parse_model_uri(uri: str, parsed: tuple[str, str, str]) -> None:
    assert parse_model_uri(uri) == parsed


@pytest.mark.parametrize("uri", ["churn", "models:/churn", "models:/churn/x", "runs:/abc", "s3://b/k", ""])
def test_parse_model_uri_rejects(uri: str) -> None:
    with pytest.raises(InvalidInputError, match="not understood"):
        parse_model_uri(uri)


def test_alias_moves_are_audited(client: Client, data: tuple[pd.DataFrame, pd.Series]) -> None:
    from sqlalchemy import select

    from assay.store.models import Event

    x, y = data
    with client.start_run(project="churn") as run:
        run.log_model(LogisticRegression().fit(x, y), name="churn")
        run.log_model(LogisticRegression(C=0.1).fit(x, y), name="churn")
    client.set_alias("churn", "production", 1)
    client.set_alias("churn", "production", 2)
    with client.db.read() as conn:
        rows = conn.execute(select(Event.payload).where(Event.action == "model.alias").order_by(Event.id)).all()
    assert [r.payload for r in rows] == [
        {"alias": "production", "version": 1, "previous": None},
        {"alias": "production", "version": 2, "previous": 1},
    ]
