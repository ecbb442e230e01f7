"""The synthetic company's people and behaviour around the customer snapshot: demographics, sessions, orders,
production traffic with a drift that starts mid-way, and an A/B test with a known effect.

Everything is vectorised numpy from one seed. The documented truths the demo's figures are checked against:

* :data:`TRUE_LIFT`: customers whose retention offers are picked by the new churn model order ``1 + TRUE_LIFT``
  times as much (in expectation) in the 28 days after exposure as they would under the old model; spend per
  order is unchanged, so revenue per customer rises by the same relative amount;
* :func:`drift`: from week :data:`DRIFT_FROM_WEEK` of production traffic on, a partner campaign brings in
  younger, newer customers on deep discounts (``age``, ``tenure_months``, ``channel``, ``discount_pct`` and
  ``monthly_spend`` shift); churn labels of the drifted customers are redrawn from the same true churn process.

Example::

    from assay.demo.company import customers
    from assay.demo.activity import orders, traffic
    table = customers(2_000, seed=7)
    history = orders(table, seed=7, start=pd.Timestamp("2025-06-02"), days=28)
    weeks = traffic(500, seed=7, first_id=10_001)          # 8 weeks of new customers, drift from week 4
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from assay.demo.company import AS_OF, CATEGORIES, CHURN_NOISE_SD, LABEL, churn_logit, customers
from assay.errors import InvalidInputError

__all__ = [
    "DRIFTED_COLUMNS",
    "DRIFT_FROM_WEEK",
    "EXPERIMENT_START",
    "PRODUCTION_START",
    "TRUE_LIFT",
    "WEEKS",
    "ab_test_data",
    "demographics",
    "drift",
    "order_rate",
    "orders",
    "sessions",
    "traffic",
]

#: Relative lift in orders (and revenue) per customer that the new model's retention offers cause.
TRUE_LIFT = 0.08
#: Weeks of production traffic the demo scores and monitors, and the first drifted week (0-based).
WEEKS = 8
DRIFT_FROM_WEEK = 4
#: Columns the injected drift moves.
DRIFTED_COLUMNS = ("age", "tenure_months", "channel", "discount_pct", "monthly_spend")
#: Production starts the day after the training snapshot; the A/B test starts after the monitored weeks.
PRODUCTION_START = AS_OF + pd.Timedelta(days=1)
EXPERIMENT_START = PRODUCTION_START + pd.Timedelta(weeks=WEEKS + 1)

_GENDERS = ("female", "male", "non_binary")
_AGE_BANDS = ("18-29", "30-44", "45-59", "60+")
_MEAN_ORDER = 25.0  # mean order value, in dollars


def demographics(table: pd.DataFrame, seed: int) -> pd.DataFrame:
    """Gender (independent of churn, by construction) and age band per customer, for fairness audits.

    Example::

        demographics(customers(100), seed=1).columns.tolist()  # ['customer_id', 'gender', 'age_band']
    """
    rng = np.random.default_rng([seed, 1])
    n = len(table)
    gender = rng.choice(len(_GENDERS), size=n, p=[0.49, 0.49, 0.02])
    band = np.digitize(table["age"].to_numpy(), [30, 45, 60])
    return pd.DataFrame(
        {
            "customer_id": table["customer_id"].to_numpy(),
            "gender": pd.Categorical.from_codes(gender, categories=list(_GENDERS)),
            "age_band": pd.Categorical.from_codes(band, categories=list(_AGE_BANDS)),
        }
    )


def sessions(table: pd.DataFrame, seed: int) -> pd.DataFrame:
    """One row per login in the 30 days before the snapshot, consistent with ``logins_30d`` and
    ``days_since_last_login`` (the last session is exactly that many days before :data:`AS_OF`).

    Example::

        s = sessions(customers(100), seed=1)
        s.groupby("customer_id").size()  # equals logins_30d of each customer who logged in
    """
    rng = np.random.default_rng([seed, 2])
    logins = table["logins_30d"].to_numpy()
    idle = np.minimum(table["days_since_last_login"].to_numpy(), 29).astype(float)
    owner = np.repeat(np.arange(len(table)), logins)
    first = np.r_[0, np.cumsum(logins)[:-1]]
    is_last = np.zeros(len(owner), dtype=bool)
    is_last[(first + logins - 1)[logins > 0]] = True
    last_day = idle[owner]
    # other sessions fall uniformly between 30 days ago and the last session
    back = np.where(is_last, last_day, last_day + rng.uniform(0.0, 1.0, len(owner)) * (30.0 - last_day))
    started = AS_OF - pd.to_timedelta(np.round(back * 86_400), unit="s")
    return pd.DataFrame(
        {
            "session_id": np.arange(1, len(owner) + 1, dtype="int64"),
            "customer_id": table["customer_id"].to_numpy()[owner],
            "started_at": started.astype("datetime64[ns]"),
            "minutes": np.round(rng.gamma(2.0, 6.0, len(owner)), 1),
        }
    )


def order_rate(table: pd.DataFrame, seed: int) -> np.ndarray:
    """Expected orders per 28 days per customer: higher with spend and logins, plus a persistent personal part.

    The personal part is what makes a customer's past orders predict their future ones (CUPED's covariate).
    """
    rng = np.random.default_rng([seed, 3])
    spend = table["monthly_spend"].to_numpy(dtype=float)
    logins = table["logins_30d"].to_numpy(dtype=float)
    z = 0.7 + 0.006 * (spend - 50.0) + 0.25 * np.log1p(logins) + rng.normal(0.0, 0.9, len(table)) - 0.4
    return np.exp(z)


def orders(
    table: pd.DataFrame,
    seed: int,
    *,
    start: pd.Timestamp | pd.Series,
    days: int = 28,
    rate: np.ndarray | None = None,
    multiplier: np.ndarray | float = 1.0,
    first_order_id: int = 1,
) -> pd.DataFrame:
    """Orders placed in ``[start, start + days)`` (``start`` one time or one per customer), Poisson per customer
    with :func:`order_rate` (or ``rate``) times ``multiplier``; order values are gamma-distributed around the
    customer's typical basket (about $30 on average).

    Example::

        orders(customers(100), seed=1, start=pd.Timestamp("2025-06-02")).columns.tolist()
        # ['order_id', 'customer_id', 'ts', 'amount']
    """
    if isinstance(days, bool) or not isinstance(days, int) or days < 1:
        raise InvalidInputError(f"The 'days' parameter of orders must be a positive integer. Got {days!r}.")
    rng = np.random.default_rng([seed, 4, days])
    lam = (order_rate(table, seed) if rate is None else rate) * (days / 28.0) * multiplier
    counts = rng.poisson(lam)
    # each customer's typical basket follows their spend: past baskets predict future ones
    basket = _MEAN_ORDER * table["monthly_spend"].to_numpy(dtype=float) / 55.0 + 5.0
    owner = np.repeat(np.arange(len(table)), counts)
    base = pd.Series(start).to_numpy() if isinstance(start, pd.Series) else np.full(len(table), np.datetime64(start))
    offset = pd.to_timedelta(np.floor(rng.uniform(0.0, days * 86_400.0, len(owner))), unit="s").to_numpy()
    return pd.DataFrame(
        {
            "order_id": np.arange(first_order_id, first_order_id + len(owner), dtype="int64"),
            "customer_id": table["customer_id"].to_numpy()[owner],
            "ts": (base[owner] + offset).astype("datetime64[ns]"),
            "amount": np.round(rng.gamma(4.0, basket[owner] / 4.0), 2),
        }
    )


def drift(frame: pd.DataFrame, seed: int) -> pd.DataFrame:
    """The partner campaign: younger, newer customers from partners on deep discounts; labels redrawn from the
    same true churn process (:func:`assay.demo.company.churn_logit`).

    Example::

        drift(customers(1_000), seed=1)["age"].mean()  # about 12 years younger than before
    """
    rng = np.random.default_rng([seed, 5])
    out = frame.copy()
    n = len(out)
    out["age"] = np.clip(out["age"].to_numpy() - 12, 18, 85)
    out["tenure_months"] = np.minimum(np.floor(rng.gamma(1.0, 4.0, n)), 120).astype("int64")
    partner = rng.random(n) < 0.6
    channel = np.where(partner, CATEGORIES["channel"].index("partner"), out["channel"].cat.codes.to_numpy())
    out["channel"] = pd.Categorical.from_codes(channel, categories=list(CATEGORIES["channel"]))
    deep = partner | (rng.random(n) < 0.3)
    old_discount = out["discount_pct"].to_numpy(dtype=float)
    new_discount = np.where(deep, 20.0, old_discount)
    out["discount_pct"] = new_discount
    spend = out["monthly_spend"].to_numpy(dtype=float)
    out["monthly_spend"] = np.round(spend * (1 - new_discount / 100) / (1 - old_discount / 100), 2)
    logit = churn_logit(out) + CHURN_NOISE_SD * rng.standard_normal(n)
    out[LABEL] = (rng.random(n) < 1.0 / (1.0 + np.exp(-logit))).astype("int64")
    return out


def traffic(
    per_week: int, seed: int, *, first_id: int, weeks: int = WEEKS, drift_from: int = DRIFT_FROM_WEEK
) -> pd.DataFrame:
    """``weeks`` weeks of customers to score from :data:`PRODUCTION_START`, ``per_week`` each, with a
    ``scored_at`` time; weeks from ``drift_from`` on carry the injected :func:`drift`.

    Example::

        t = traffic(300, seed=1, first_id=50_001)
        t.groupby(t["scored_at"].dt.isocalendar().week)["age"].mean()  # drops from week 4 on
    """
    if isinstance(per_week, bool) or not isinstance(per_week, int) or per_week < 1:
        raise InvalidInputError(f"The 'per_week' parameter of traffic must be a positive integer. Got {per_week!r}.")
    parts = []
    for week in range(weeks):
        batch = customers(per_week, seed=seed * 1_000 + week, first_id=first_id + week * per_week)
        if week >= drift_from:
            batch = drift(batch, seed * 1_000 + week)
        rng = np.random.default_rng([seed, 6, week])
        start = PRODUCTION_START + pd.Timedelta(weeks=week)
        seconds = np.sort(np.floor(rng.uniform(0.0, 7 * 86_400.0, per_week)))
        batch.insert(0, "scored_at", (start + pd.to_timedelta(seconds, unit="s")).astype("datetime64[ns]"))
        parts.append(batch)
    return pd.concat(parts, ignore_index=True)


def ab_test_data(
    table: pd.DataFrame, variant: np.ndarray, seed: int, *, lift: float = TRUE_LIFT, days: int = 28
) -> dict[str, pd.DataFrame]:
    """Exposures (one per assigned customer, spread over the test's first week from :data:`EXPERIMENT_START`)
    and orders in the ``days`` before (CUPED's covariate) and after exposure; treatment's after-rate is
    ``1 + lift`` times its own rate.

    Example::

        data = ab_test_data(table, variant, seed=7)
        data["exposures"].columns.tolist()  # ['customer_id', 'variant', 'exposed_at', 'region', 'plan']
    """
    keep = pd.notna(variant)
    units = table.loc[keep].reset_index(drop=True)
    arm = np.asarray(variant, dtype=object)[keep]
    rng = np.random.default_rng([seed, 7])
    exposed = EXPERIMENT_START + pd.to_timedelta(np.floor(rng.uniform(0.0, 7 * 86_400.0, len(units))), unit="s")
    exposed = pd.Series(exposed).astype("datetime64[ns]")
    rate = order_rate(units, seed)
    before = orders(units, seed, start=exposed - pd.Timedelta(days=days), days=days, rate=rate)
    effect = np.where(arm == "treatment", 1.0 + lift, 1.0)
    after = orders(
        units, seed + 1, start=exposed, days=days, rate=rate, multiplier=effect, first_order_id=len(before) + 1
    )
    exposures = pd.DataFrame(
        {
            "customer_id": units["customer_id"].to_numpy(),
            "variant": arm.astype(str),
            "exposed_at": exposed.to_numpy(),
            "region": units["region"].astype(str).to_numpy(),
            "plan": units["plan"].astype(str).to_numpy(),
        }
    )
    return {"exposures": exposures, "orders": pd.concat([before, after], ignore_index=True)}
