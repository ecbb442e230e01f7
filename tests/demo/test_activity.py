"""The company's behaviour around the snapshot: sessions, orders, demographics, drifting traffic, the A/B truth;
the demo team's tokens; the UI address."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from assay.demo._team import MEMBERS, assemble_team
from assay.demo.activity import (
    AS_OF,
    DRIFT_FROM_WEEK,
    PRODUCTION_START,
    TRUE_LIFT,
    WEEKS,
    ab_test_data,
    demographics,
    drift,
    order_rate,
    orders,
    sessions,
    traffic,
)
from assay.demo.company import LABEL, customers
from assay.demo.serve import ui_url
from assay.errors import InvalidInputError, PermissionDeniedError
from assay.governance import identity as ident
from assay.tracking.client import Client


@pytest.fixture(scope="module")
def table() -> pd.DataFrame:
    return customers(20_000, seed=5)


def test_sessions_match_logins_and_idle_days(table: pd.DataFrame) -> None:
    s = sessions(table, seed=5)
    counts = s.groupby("customer_id").size().reindex(table["customer_id"]).fillna(0).to_numpy()
    np.testing.assert_array_equal(counts, table["logins_30d"].to_numpy())
    last = s.groupby("customer_id")["started_at"].max()
    active = table.set_index("customer_id").loc[last.index]
    idle_days = ((AS_OF - last).dt.total_seconds() / 86_400).round().astype(int)
    np.testing.assert_array_equal(idle_days.to_numpy(), np.minimum(active["days_since_last_login"], 29).to_numpy())
    assert s["started_at"].between(AS_OF - pd.Timedelta(days=30), AS_OF).all()


def test_orders_fall_in_their_window_and_repeat_per_customer(table: pd.DataFrame) -> None:
    start = AS_OF - pd.Timedelta(days=28)
    o = orders(table, seed=5, start=start)
    assert o["ts"].between(start, AS_OF, inclusive="left").all() and (o["amount"] > 0).all()
    assert o["order_id"].is_unique and set(o["customer_id"]) <= set(table["customer_id"])
    later = orders(table, seed=6, start=AS_OF, rate=order_rate(table, 5))  # same customers, next 28 days
    per = pd.DataFrame({"a": o.groupby("customer_id").size(), "b": later.groupby("customer_id").size()})
    per = per.reindex(table["customer_id"]).fillna(0)
    assert per["a"].corr(per["b"]) > 0.4  # a persistent personal rate: what CUPED's covariate feeds on
    with pytest.raises(InvalidInputError, match="'days' parameter of orders"):
        orders(table, seed=5, start=start, days=0)


def test_demographics_are_independent_of_churn(table: pd.DataFrame) -> None:
    groups = demographics(table, seed=5)
    assert list(groups["gender"].cat.categories) == ["female", "male", "non_binary"]
    rates = table[LABEL].groupby(groups["gender"].to_numpy()).mean()
    assert abs(rates["female"] - rates["male"]) < 0.03
    assert (groups["age_band"] == "60+").sum() == (table["age"] >= 60).sum()


def test_traffic_drifts_from_the_named_week() -> None:
    t = traffic(2_000, seed=5, first_id=100_001)
    assert len(t) == 2_000 * WEEKS and t["customer_id"].is_unique
    week = ((t["scored_at"] - PRODUCTION_START).dt.days // 7).to_numpy()
    assert week.min() == 0 and week.max() == WEEKS - 1
    by_week = t.groupby(week)[["age", "tenure_months"]].mean()
    before, after = by_week.loc[: DRIFT_FROM_WEEK - 1], by_week.loc[DRIFT_FROM_WEEK:]
    assert (after["age"].max() < before["age"].min() - 8) and (after["tenure_months"].max() < 8)
    partner = t.groupby(week)["channel"].apply(lambda s: (s == "partner").mean())
    assert partner.loc[DRIFT_FROM_WEEK:].min() > 0.5 > 0.2 > partner.loc[: DRIFT_FROM_WEEK - 1].max()
    with pytest.raises(InvalidInputError, match="'per_week' parameter of traffic"):
        traffic(0, seed=1, first_id=1)


def test_drift_redraws_labels_from_the_true_process() -> None:
    base = customers(20_000, seed=9)
    moved = drift(base, seed=9)
    assert moved[LABEL].mean() > base[LABEL].mean() + 0.05  # newer customers churn more, by the true model
    assert (moved["discount_pct"] >= base["discount_pct"]).all()


def test_the_ab_data_carries_the_true_lift(table: pd.DataFrame) -> None:
    variant = np.where(np.arange(len(table)) % 2 == 0, "control", "treatment").astype(object)
    variant[:10] = None  # not in the experiment
    data = ab_test_data(table, variant, seed=5, lift=0.5)
    exp, o = data["exposures"], data["orders"]
    assert len(exp) == len(table) - 10
    merged = o.merge(exp, on="customer_id")
    after = merged[merged["ts"] >= merged["exposed_at"]]
    before = merged[merged["ts"] < merged["exposed_at"]]
    ratio_after = after.groupby("variant").size() / exp["variant"].value_counts()
    ratio_before = before.groupby("variant").size() / exp["variant"].value_counts()
    lift_after = ratio_after["treatment"] / ratio_after["control"]
    lift_before = ratio_before["treatment"] / ratio_before["control"]
    assert lift_after / lift_before == pytest.approx(1.5, abs=0.06)
    assert 0 < TRUE_LIFT < 0.2


def test_team_tokens_are_written_reused_and_refused_to_non_admins(client: Client, tmp_path: Path) -> None:
    team = assemble_team(client, tmp_path / "demo")
    try:
        assert team.created and set(team.tokens) == set(MEMBERS)
        assert {u["name"] for u in ident.list_users(client=client)} == set(MEMBERS)
        assert ident.current_identity(team["rui"]).can("reviewer", "churn")
        assert not ident.current_identity(team["ana"]).can("reviewer", "churn")
        assert team.env_file.stat().st_mode & 0o077 == 0  # private
        again = assemble_team(client, tmp_path / "demo")
        assert not again.created and again.tokens == team.tokens
        again.close()
        # another workspace on the same (now multi-user) store: only an admin may create the team there
        viewer = Client(store_url=client.settings.store_url, artifacts_url=client.settings.artifacts_url,
                        token=team.tokens["mia"])  # fmt: skip
        with pytest.raises(PermissionDeniedError, match="not an admin"):
            assemble_team(viewer, tmp_path / "elsewhere")
        viewer.close()
    finally:
        team.close()


def test_ui_url() -> None:
    assert ui_url() == "http://127.0.0.1:5000/ui/"
    assert ui_url("0.0.0.0", 8080) == "http://localhost:8080/ui/"
    assert ui_url("::1", 80) == "http://[::1]:80/ui/"
    with pytest.raises(InvalidInputError, match="'port' parameter"):
        ui_url(port=0)
