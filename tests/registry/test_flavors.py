"""Flavors: every supported model type round-trips through a folder with identical predictions."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import lightgbm as lgb
import numpy as np
import pandas as pd
import pytest
import xgboost as xgb
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.compose import make_column_transformer
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer, OneHotEncoder, StandardScaler

from assay.errors import (
    ArtifactStoreError,
    InvalidInputError,
    NotFoundError,
    UnsafePathError,
    UntrustedModelError,
)
from assay.registry.flavors import FlavorInfo, _auto_trusted, flavor_of, load_model, save_model

RNG = np.random.default_rng(7)
N = 200
FRAME = pd.DataFrame(
    {
        "tenure": RNG.integers(1, 60, N),
        "spend": RNG.normal(50, 15, N).round(2),
        "plan": RNG.choice(["free", "pro", "team"], N),
    }
)
LABELS = ((FRAME["tenure"] > 20) ^ (FRAME["plan"] == "free") ^ (RNG.random(N) < 0.1)).astype(int).to_numpy()
NUMERIC = FRAME[["tenure", "spend"]].astype(float)
WITH_CATEGORY = FRAME.assign(plan=FRAME["plan"].astype("category"))


class MeanModel:
    """Not a scikit-learn estimator: goes to the pickle flavor."""

    def fit(self, X: pd.DataFrame, y: np.ndarray) -> MeanModel:
        self.mean_ = float(np.mean(y))
        return self

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        return np.full(len(X), self.mean_)


class AddOne(TransformerMixin, BaseEstimator):
    """A custom transformer: skops can store it, but loading it needs trust."""

    def fit(self, X: Any, y: Any = None) -> AddOne:
        return self

    def transform(self, X: Any) -> Any:
        return np.asarray(X, dtype=float) + 1.0


def _pipeline() -> Any:
    encode = make_column_transformer(
        (OneHotEncoder(handle_unknown="ignore"), ["plan"]), (StandardScaler(), ["tenure", "spend"])
    )
    return make_pipeline(encode, LogisticRegression()).fit(FRAME, LABELS)


def _lgb_booster() -> lgb.Booster:
    params = {"objective": "binary", "verbose": -1, "num_leaves": 7, "min_data_in_leaf": 5}
    return lgb.train(params, lgb.Dataset(WITH_CATEGORY, LABELS), num_boost_round=5)


def _xgb_booster() -> xgb.Booster:
    dtrain = xgb.DMatrix(NUMERIC, LABELS)
    return xgb.train({"objective": "binary:logistic", "max_depth": 3}, dtrain, num_boost_round=5)


# name -> (build, prediction input, expected flavor)
CASES: dict[str, tuple[Callable[[], Any], pd.DataFrame, str]] = {
    "logistic": (lambda: LogisticRegression().fit(NUMERIC, LABELS), NUMERIC, "sklearn"),
    "linear_on_numpy": (lambda: LinearRegression().fit(NUMERIC.to_numpy(), LABELS), NUMERIC, "sklearn"),
    "pipeline_onehot": (_pipeline, FRAME, "sklearn"),
    "hist_gb": (lambda: HistGradientBoostingClassifier(max_iter=10).fit(NUMERIC, LABELS), NUMERIC, "sklearn"),
    "hist_gb_categorical": (  # keeps functools.partial(sklearn.utils.validation.check_array) inside
        lambda: HistGradientBoostingClassifier(max_iter=10, categorical_features="from_dtype").fit(
            WITH_CATEGORY, LABELS
        ),
        WITH_CATEGORY,
        "sklearn",
    ),
    "lgbm_classifier": (
        lambda: lgb.LGBMClassifier(n_estimators=5, num_leaves=7, verbose=-1).fit(WITH_CATEGORY, LABELS),
        WITH_CATEGORY,
        "lightgbm",
    ),
    "lgb_booster": (_lgb_booster, WITH_CATEGORY, "lightgbm"),
    "xgb_classifier": (
        lambda: xgb.XGBClassifier(n_estimators=5, max_depth=3).fit(NUMERIC, LABELS),
        NUMERIC,
        "xgboost",
    ),
    "xgb_booster": (_xgb_booster, NUMERIC, "xgboost"),
    "custom_pickle": (lambda: MeanModel().fit(NUMERIC, LABELS), NUMERIC, "pickle"),
}


def _outputs(model: Any, X: pd.DataFrame) -> list[np.ndarray]:
    if isinstance(model, xgb.Booster):
        return [model.predict(xgb.DMatrix(X))]
    if isinstance(model, lgb.Booster):
        return [model.predict(X)]
    data = X.to_numpy() if not hasattr(model, "feature_names_in_") and hasattr(model, "n_features_in_") else X
    outputs = [np.asarray(model.predict(data))]
    if hasattr(model, "predict_proba"):
        outputs.append(np.asarray(model.predict_proba(data)))
    return outputs


@pytest.mark.parametrize("case", list(CASES))
def test_round_trip_gives_identical_predictions(case: str, tmp_path: Path) -> None:
    build, X, flavor = CASES[case]
    model = build()
    info = save_model(model, tmp_path / "model")
    assert info.flavor == flavor == flavor_of(model)
    assert info.model_class == f"{type(model).__module__}.{type(model).__qualname__}"
    assert all((tmp_path / "model" / name).is_file() for name in info.files)
    info = FlavorInfo.from_dict(json.loads(json.dumps(info.to_dict())))  # as the registry would store it

    loaded = load_model(tmp_path / "model", info, trusted=flavor == "pickle")
    assert type(loaded) is type(model)
    for before, after in zip(_outputs(model, X), _outputs(loaded, X), strict=True):
        np.testing.assert_array_equal(before, after)


def test_flavor_info_records_files_and_versions(tmp_path: Path) -> None:
    build, _, _ = CASES["lgbm_classifier"]
    info = save_model(build(), tmp_path)
    assert info.files == ("model.skops", "booster.txt")
    assert info.extra == {"kind": "sklearn-wrapper"}
    assert info.library_versions["lightgbm"] == lgb.__version__
    assert {"python", "numpy", "scikit-learn", "skops"} <= set(info.library_versions)
    native = lgb.Booster(model_file=str(tmp_path / "booster.txt"))  # readable without the wrapper
    assert native.num_trees() == 5
    assert "lightgbm" in info.summary()

    info = save_model(_xgb_booster(), tmp_path / "xgb")
    assert (info.files, info.extra) == (("model.json",), {"kind": "booster"})
    assert info.library_versions["xgboost"] == xgb.__version__


def test_pickle_needs_trust(tmp_path: Path) -> None:
    info = save_model(MeanModel().fit(NUMERIC, LABELS), tmp_path)
    assert info.extra["pickler"] in {"cloudpickle", "pickle"}
    with pytest.raises(UntrustedModelError, match="trusted=True") as exc_info:
        load_model(tmp_path, info)
    assert "pickle" in str(exc_info.value) and "arbitrary code" in str(exc_info.value)
    assert isinstance(exc_info.value, PermissionError)


def test_skops_with_custom_type_needs_trust(tmp_path: Path) -> None:
    model = make_pipeline(AddOne(), LogisticRegression()).fit(NUMERIC, LABELS)
    info = save_model(model, tmp_path)
    assert info.flavor == "sklearn"
    with pytest.raises(UntrustedModelError, match="AddOne") as exc_info:
        load_model(tmp_path, info)
    assert "trusted=True" in str(exc_info.value)
    loaded = load_model(tmp_path, info, trusted=True)
    np.testing.assert_array_equal(loaded.predict_proba(NUMERIC), model.predict_proba(NUMERIC))


def test_skops_with_dangerous_function_needs_trust(tmp_path: Path) -> None:
    model = FunctionTransformer(print).fit(NUMERIC)
    info = save_model(model, tmp_path)
    with pytest.raises(UntrustedModelError, match=r"builtins\.print"):
        load_model(tmp_path, info)


@pytest.mark.parametrize(
    ("name", "trusted"),
    [
        ("sklearn.linear_model._logistic.LogisticRegression", True),
        ("lightgbm.basic.Booster", True),
        ("xgboost.core.Booster", True),
        ("collections.OrderedDict", True),
        ("numpy.load", False),  # a function, not a class
        ("numpy.log1p", True),  # a ufunc
        ("sklearn.utils.validation.check_array", True),  # scikit-learn's own function
        ("functools.partial", True),
        ("sklearn.utils.validation.os.system", False),  # reached through sklearn, but not sklearn's
        ("posix.system", False),
        ("builtins.eval", False),
        ("sklearnx.Evil", False),
        ("sklearn.no_such_module.Thing", False),
    ],
)
def test_allow_list(name: str, trusted: bool) -> None:
    assert _auto_trusted(name) is trusted


@pytest.mark.parametrize("case", ["logistic", "lgb_booster", "xgb_classifier", "custom_pickle"])
def test_corrupt_file_raises_typed_error(case: str, tmp_path: Path) -> None:
    build, _, _ = CASES[case]
    info = save_model(build(), tmp_path)
    (tmp_path / info.files[0]).write_bytes(b"\x00not a model\xff")
    with pytest.raises(ArtifactStoreError, match="Could not load"):
        load_model(tmp_path, info, trusted=True)


def test_missing_file_raises_not_found(tmp_path: Path) -> None:
    info = save_model(LogisticRegression().fit(NUMERIC, LABELS), tmp_path)
    (tmp_path / "model.skops").unlink()
    with pytest.raises(NotFoundError, match=r"'model\.skops' is missing"):
        load_model(tmp_path, info)


@pytest.mark.parametrize("name", ["../model.skops", "/etc/passwd", "a/b.skops", "..", ""])
def test_unsafe_file_names_are_refused(name: str, tmp_path: Path) -> None:
    info = FlavorInfo("sklearn", (name,), "sklearn.linear_model.LogisticRegression")
    with pytest.raises(UnsafePathError):
        load_model(tmp_path, info)


def test_bad_metadata_is_refused(tmp_path: Path) -> None:
    with pytest.raises(InvalidInputError, match="flavor"):
        FlavorInfo("onnx", ("m.onnx",), "x.Y")
    with pytest.raises(InvalidInputError, match="model_class"):
        FlavorInfo.from_dict({"flavor": "sklearn"})
    with pytest.raises(InvalidInputError):
        load_model(tmp_path, {"flavor": "sklearn"})  # type: ignore[arg-type]


def test_xgboost_class_outside_xgboost_needs_trust(tmp_path: Path) -> None:
    info = save_model(xgb.XGBRegressor(n_estimators=2).fit(NUMERIC, LABELS), tmp_path)
    forged = FlavorInfo.from_dict({**info.to_dict(), "model_class": "os.system"})
    with pytest.raises(UntrustedModelError):
        load_model(tmp_path, forged)
    with pytest.raises(ArtifactStoreError, match="not an xgboost model class"):
        load_model(tmp_path, forged, trusted=True)


def test_unfitted_xgboost_cannot_be_saved(tmp_path: Path) -> None:
    with pytest.raises(InvalidInputError, match="Fit it"):
        save_model(xgb.XGBClassifier(), tmp_path)
