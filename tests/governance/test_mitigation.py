"""Mitigation: per-group thresholds shrink the gap; the mitigated model round-trips through the registry."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression
from sqlalchemy import select

from assay.errors import InvalidInputError, SchemaMismatchError, UntrustedModelError
from assay.governance.fairness import fairness
from assay.governance.mitigation import MitigatedModel, mitigate, register_mitigated
from assay.store.models import Event
from assay.tracking.client import Client


def _biased(n: int = 3000, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    """Group 'a' has a higher feature value, so a plain model selects it far more often."""
    rng = np.random.default_rng(seed)
    group = rng.choice(["a", "b"], n, p=[0.6, 0.4])
    x = rng.normal(size=n) + np.where(group == "a", 0.8, -0.4)
    z = rng.normal(size=n)
    y = (rng.random(n) < 1 / (1 + np.exp(-(1.5 * x + 0.5 * z)))).astype(int)
    return pd.DataFrame({"x": x, "z": z, "group": group}), y


@pytest.fixture
def fitted() -> tuple[LogisticRegression, pd.DataFrame, np.ndarray, pd.DataFrame, np.ndarray]:
    X, y = _biased()
    model = LogisticRegression().fit(X[["x", "z"]], y)
    X_new, y_new = _biased(2000, seed=1)
    return model, X, y, X_new, y_new


def _dp(y: np.ndarray, pred: np.ndarray, group: pd.Series) -> float:
    return fairness(y, pred, group, n_bootstrap=0).demographic_parity_difference


def test_demographic_parity_gap_shrinks(fitted) -> None:
    model, X, y, X_new, y_new = fitted
    mitigated = mitigate(model, X, y, "group")
    assert isinstance(mitigated, MitigatedModel)
    assert mitigated.feature_columns == ("x", "z") and mitigated.sensitive_columns == ("group",)
    before = _dp(y_new, model.predict(X_new[["x", "z"]]), X_new["group"])
    after = _dp(y_new, mitigated.predict(X_new), X_new["group"])
    assert before > 0.3
    assert after < 0.08 and after < before / 4
    proba = mitigated.predict_proba(X_new)
    assert proba.shape == (2000, 2) and np.allclose(proba.sum(axis=1), 1)
    assert np.array_equal(mitigated.predict(X_new), mitigated.predict(X_new))  # repeatable


def test_equalized_odds_constraint(fitted) -> None:
    model, X, y, X_new, y_new = fitted
    mitigated = mitigate(model, X, y, "group", constraint="equalized_odds", objective="balanced_accuracy_score")
    before = fairness(y_new, model.predict(X_new[["x", "z"]]), X_new["group"]).equalized_odds_difference
    after = fairness(y_new, mitigated.predict(X_new), X_new["group"]).equalized_odds_difference
    assert after < before


def test_sensitive_values_given_apart_and_string_classes() -> None:
    X, y = _biased()
    labels = np.where(y == 1, "churn", "stay")
    model = LogisticRegression().fit(X[["x", "z"]], labels)  # classes_ = ['churn', 'stay']: 'stay' is positive
    gender = pd.Series(X["group"].map({"a": "F", "b": "M"}), name="gender")
    mitigated = mitigate(model, X[["x", "z"]], labels, gender)
    assert mitigated.sensitive_columns == ("gender",)
    pred = mitigated.predict(X[["x", "z"]].assign(gender=gender))
    assert set(pred) <= {"churn", "stay"}
    with pytest.raises(SchemaMismatchError, match="gender") as err:
        mitigated.predict(X[["x", "z"]])
    assert err.value.column == "gender"
    with pytest.raises(InvalidInputError, match="not seen"):
        mitigated.predict(X[["x", "z"]].head(3).assign(gender=["F", "M", "X"]))


def test_model_fitted_on_arrays_and_prefit_false() -> None:
    X, y = _biased(1500)
    on_arrays = LogisticRegression().fit(X[["x", "z"]].to_numpy(), y)
    mitigated = mitigate(on_arrays, X, y, "group", feature_columns=["x", "z"])
    assert len(mitigated.predict(X)) == 1500
    refit = mitigate(LogisticRegression(), X, y, "group", prefit=False, feature_columns=["x", "z"])
    assert _dp(y, refit.predict(X), X["group"]) < 0.08


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"constraint": "parity"}, InvalidInputError, "'constraint'"),
        ({"objective": "f1"}, InvalidInputError, "'objective'"),
        ({"sensitive_features": "gender"}, SchemaMismatchError, "not a column"),
        ({"sensitive_features": pd.Series(["a", "b"])}, InvalidInputError, "align"),
        ({"sensitive_features": pd.Series(["a"] * 300, name="x")}, InvalidInputError, "already has a column"),
        ({"y": np.full(300, 2)}, InvalidInputError, "not among"),
        ({"model": LogisticRegression()}, InvalidInputError, "prefit=False"),
        ({"X": np.zeros((300, 2))}, InvalidInputError, "DataFrame"),
    ],
)
def test_bad_input(kwargs: dict, error: type, match: str) -> None:
    X, y = _biased(300)
    args = {"model": LogisticRegression().fit(X[["x", "z"]], y), "X": X, "y": y, "sensitive_features": "group"}
    args.update(kwargs)
    with pytest.raises(error, match=match):
        mitigate(**args)


def test_register_mitigated_creates_a_derived_version(client: Client, fitted) -> None:
    model, X, y, X_new, _ = fitted
    with client.start_run(project="churn") as run:
        original = run.log_model(model, "churn", input_example=X[["x", "z"]].head())
    result = register_mitigated(client, "models:/churn/latest", X, y, "group")
    version = result.model_version
    assert (version.name, version.version) == ("churn", original.version + 1)
    assert result.derived_from == "models:/churn/1"
    assert "models:/churn/1" in version.description and "trusted=True" in version.description
    assert result.demographic_parity_after < result.demographic_parity_before / 4
    assert "demographic-parity difference went from" in result.summary()
    info = client.run_info(result.run_id)
    assert info["project"] == "churn"
    assert info["params"]["derived_from"] == "models:/churn/1"
    assert info["tags"]["assay.derived_from_run"] == original.run_id
    assert "demographic_parity_difference_after" in info["metrics"]
    assert [i["role"] for i in client.run_inputs(result.run_id)] == ["mitigation"]
    with client.db.read() as conn:
        events = conn.execute(select(Event.payload).where(Event.action == "model.derive")).scalars().all()
    assert events == [
        {
            "derived_from": "models:/churn/1",
            "run_id": result.run_id,
            "constraint": "demographic_parity",
            "sensitive": ["group"],
        }
    ]
    with pytest.raises(UntrustedModelError):
        client.load_model(version.uri)
    loaded = client.load_model(version.uri, trusted=True)
    assert loaded.signature.input_names == ["x", "z", "group"]
    in_memory = mitigate(model, X, y, "group")
    assert np.array_equal(loaded.predict(X_new), in_memory.predict(X_new[["x", "z", "group"]]))
    with pytest.raises(SchemaMismatchError, match="group"):
        loaded.predict(X_new[["x", "z"]])


def test_register_mitigated_needs_a_name_for_run_models(client: Client, fitted) -> None:
    model, X, y, _, _ = fitted
    with client.start_run() as run:
        saved = client.registry.save_to_run(run.id, model, input_example=X[["x", "z"]].head())
    with pytest.raises(InvalidInputError, match="name="):
        register_mitigated(client, saved["uri"], X, y, "group")
    result = register_mitigated(client, saved["uri"], X, y, "group", name="churn-fair")
    assert result.model_version.uri == "models:/churn-fair/1" and result.derived_from == saved["uri"]
