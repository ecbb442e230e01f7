"""The synthetic company: deterministic per seed, realistic shape, a churn label with real signal."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import train_test_split
from threadpoolctl import threadpool_limits

from assay.demo import customers
from assay.demo.company import CATEGORIES, FEATURES, LABEL, churn_logit, churn_probability
from assay.errors import InvalidInputError

EXPECTED_KINDS = {
    "customer_id": "string",
    "signup_date": "datetime",
    "tenure_months": "integer",
    "plan": "category",
    "contract": "category",
    "region": "category",
    "channel": "category",
    "monthly_spend": "float",
    "discount_pct": "float",
    "autopay": "boolean",
    "has_partner": "boolean",
    "age": "integer",
    "logins_30d": "integer",
    "days_since_last_login": "integer",
    "support_tickets_90d": "integer",
    "payment_failures": "integer",
    "satisfaction_score": "float",
    "churned": "integer",
}


@pytest.fixture(scope="module")
def big() -> pd.DataFrame:
    return customers(30_000, seed=7)


def _kind(series: pd.Series) -> str:
    dtype = series.dtype
    if isinstance(dtype, pd.CategoricalDtype):
        return "category"
    if pd.api.types.is_bool_dtype(dtype):
        return "boolean"
    if pd.api.types.is_integer_dtype(dtype):
        return "integer"
    if pd.api.types.is_float_dtype(dtype):
        return "float"
    if pd.api.types.is_datetime64_any_dtype(dtype):
        return "datetime"
    if pd.api.types.is_string_dtype(dtype):
        return "string"
    return str(dtype)


def test_same_seed_same_table_other_seed_other_table() -> None:
    a, b = customers(2_000, seed=3), customers(2_000, seed=3)
    pd.testing.assert_frame_equal(a, b)
    c = customers(2_000, seed=4)
    assert not a[list(FEATURES)].equals(c[list(FEATURES)])
    # same categorical dtypes whatever the seed, so models and signatures carry over between batches
    for col in CATEGORIES:
        assert a[col].dtype == c[col].dtype


def test_columns_and_kinds(big: pd.DataFrame) -> None:
    assert list(big.columns) == list(EXPECTED_KINDS)
    assert {col: _kind(big[col]) for col in big.columns} == EXPECTED_KINDS
    for col, categories in CATEGORIES.items():
        assert list(big[col].cat.categories) == list(categories)
        assert big[col].notna().all()
    assert set(big[LABEL].unique()) == {0, 1}


def test_values_are_plausible(big: pd.DataFrame) -> None:
    assert big["customer_id"].is_unique
    assert big["customer_id"].iloc[0] == "C0000001"
    assert big["age"].between(18, 85).all()
    assert big["tenure_months"].between(0, 120).all()
    assert big["discount_pct"].isin([0, 5, 10, 15, 20]).all()
    assert (big["monthly_spend"] > 0).all()
    assert (big["days_since_last_login"] >= 0).all()
    assert big["signup_date"].max() <= pd.Timestamp("2025-06-30")
    # premium costs more than basic on average; every plan is present
    spend = big.groupby("plan", observed=True)["monthly_spend"].mean()
    assert spend["basic"] < spend["standard"] < spend["premium"]


def test_missing_values_only_in_satisfaction(big: pd.DataFrame) -> None:
    missing = big.isna().mean()
    assert set(missing[missing > 0].index) == {"satisfaction_score"}
    assert 0.03 < missing["satisfaction_score"] < 0.2


@pytest.mark.parametrize("seed", [0, 1, 7, 42])
def test_churn_rate_in_range(seed: int) -> None:
    rate = customers(20_000, seed=seed)[LABEL].mean()
    assert 0.15 <= rate <= 0.25


def test_first_id_numbers_a_second_batch() -> None:
    batch = customers(10, seed=8, first_id=30_001)
    assert batch["customer_id"].tolist()[:2] == ["C0030001", "C0030002"]


def test_label_follows_the_documented_model(big: pd.DataFrame) -> None:
    p = churn_probability(big)
    assert p.shape == (len(big),)
    # the noise-free probability is calibrated on average and ranks churners well
    assert abs(p.mean() - big[LABEL].mean()) < 0.03
    assert roc_auc_score(big[LABEL], p) > 0.78
    np.testing.assert_allclose(churn_logit(big), np.log(p / (1 - p)), rtol=1e-9, atol=1e-9)


def test_a_fitted_model_finds_the_signal_and_boosting_beats_linear(big: pd.DataFrame) -> None:
    X = big[list(FEATURES)]
    Xtr, Xte, ytr, yte = train_test_split(X, big[LABEL], test_size=0.3, stratify=big[LABEL], random_state=0)
    numeric = [c for c in FEATURES if c not in CATEGORIES]
    dummies = pd.get_dummies(X[list(CATEGORIES)], dtype=float)
    Z = pd.concat([X[numeric].fillna(X["satisfaction_score"].median()), dummies], axis=1).astype(float)
    Z = (Z - Z.mean()) / Z.std()
    linear = LogisticRegression(max_iter=1000).fit(Z.loc[Xtr.index], ytr)
    auc_linear = roc_auc_score(yte, linear.predict_proba(Z.loc[Xte.index])[:, 1])
    gbm = HistGradientBoostingClassifier(max_iter=100, learning_rate=0.1, max_leaf_nodes=15, early_stopping=False)
    with threadpool_limits(limits=1):  # OpenMP threads fighting other processes make this 10× slower
        auc_gbm = roc_auc_score(yte, gbm.fit(Xtr, ytr).predict_proba(Xte)[:, 1])
    assert auc_linear > 0.75
    assert auc_gbm > auc_linear


def test_unknown_category_is_rejected() -> None:
    frame = customers(5, seed=1)
    frame["plan"] = ["gold", *frame["plan"].astype(str).tolist()[1:]]
    with pytest.raises(InvalidInputError, match="'plan' has values \\['gold'\\]"):
        churn_logit(frame)


@pytest.mark.parametrize("n", [0, -5, 2.5, True, "10"])
def test_bad_n_is_rejected(n: object) -> None:
    with pytest.raises(ValueError, match="'n' parameter of customers"):
        customers(n)  # type: ignore[arg-type]
