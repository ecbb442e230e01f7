"""ServedModel: the native LightGBM fast path gives exactly what the registry Predictor gives."""

from __future__ import annotations

from pathlib import Path

import lightgbm as lgb
import numpy as np
import pandas as pd
import pytest

from assay.registry.flavors import save_model
from assay.registry.predictor import Predictor
from assay.registry.signature import infer_signature
from assay.serving.model import ServedModel

from .conftest import make_frame


def _served(model: object, x: pd.DataFrame, tmp_path: Path) -> tuple[ServedModel, Predictor]:
    info = save_model(model, tmp_path)
    predictor = Predictor.load(tmp_path, info, signature=infer_signature(x), name="m", version=1)
    return ServedModel(predictor), predictor


@pytest.mark.parametrize("kind", ["multiclass", "regressor", "multiclass-booster", "shuffled-signature"])
def test_fast_path_matches_the_predictor(kind: str, tmp_path: Path) -> None:
    x, y = make_frame(240, seed=4)
    labels = np.array(["low", "mid", "high"])[np.digitize(x["x0"], [-0.5, 0.5])]
    if kind == "multiclass":
        model = lgb.LGBMClassifier(n_estimators=10, verbose=-1).fit(x, labels)
    elif kind == "regressor":
        model = lgb.LGBMRegressor(n_estimators=10, verbose=-1).fit(x, x["x1"] * 2)
    elif kind == "multiclass-booster":
        codes = np.digitize(x["x0"], [-0.5, 0.5])
        model = lgb.train({"objective": "multiclass", "num_class": 3, "verbose": -1}, lgb.Dataset(x, codes), 5)
    else:  # the signature lists the columns in another order than training: the booster gets its own order
        model = lgb.LGBMClassifier(n_estimators=10, verbose=-1).fit(x, y)
        x = x[list(reversed(x.columns))]
    served, predictor = _served(model, x, tmp_path)
    assert served.fast_path
    rows = x.head(9)
    scored = served.score(served.schema.batch(rows.to_dict("records")))
    expected = predictor.predict(rows)
    if kind == "shuffled-signature":  # both feed the model its training order, whatever the signature's order
        np.testing.assert_array_equal(expected, model.predict(rows[sorted(rows.columns, key=lambda c: int(c[1:]))]))
    assert scored.predictions == expected.tolist() or np.allclose(scored.predictions, expected, rtol=1e-12)
    if served.has_proba:
        np.testing.assert_allclose(scored.probabilities, predictor.predict_proba(rows), rtol=1e-12)
    if kind == "regressor":
        np.testing.assert_allclose(scored.scores, expected, rtol=1e-12)
    elif kind != "shuffled-signature":
        assert scored.scores == [None] * 9  # multiclass: no single score
