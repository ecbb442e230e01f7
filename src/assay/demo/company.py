"""A synthetic subscription company: customers with realistic features and a churn label.

Every table is generated with vectorised numpy from one seed, so the same ``(n, seed)`` always
gives the same frame, and 30,000 customers take a few tens of milliseconds. Features are drawn in small
steps (profile → contract → usage → support and billing → survey) so later parts of the demo
(experiments, monitoring, drift) can reuse or perturb one step without rewriting the rest.

The churn label comes from a documented logistic model (:func:`churn_logit`) plus unobserved
noise, so a model can learn real signal but never all of it. The model has non-linear terms and
interactions (a discount that ends around month 12, support tickets hurting basic plans more,
a U-shaped age effect, a cliff after two weeks without a login), so gradient boosting beats a
linear model a little.

Example::

    from assay.demo.company import customers, FEATURES, LABEL
    df = customers(30_000, seed=7)
    df[LABEL].mean()  # about 0.2
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from assay.errors import InvalidInputError

__all__ = [
    "AS_OF",
    "CATEGORIES",
    "CHURN_INTERCEPT",
    "CHURN_NOISE_SD",
    "FEATURES",
    "LABEL",
    "churn_logit",
    "churn_probability",
    "customers",
]

#: The date the snapshot is taken ("today" for the synthetic company).
AS_OF = pd.Timestamp("2025-06-30")

#: Fixed category lists, so every generated frame has identical categorical dtypes.
CATEGORIES: dict[str, tuple[str, ...]] = {
    "plan": ("basic", "standard", "premium"),
    "contract": ("monthly", "annual"),
    "region": ("north_america", "europe", "asia_pacific", "latin_america"),
    "channel": ("organic", "paid_search", "referral", "partner"),
}

#: Model inputs, in the order they appear in the frame (``customer_id``, ``signup_date`` and the label excluded).
FEATURES: tuple[str, ...] = (
    "tenure_months",
    "plan",
    "contract",
    "region",
    "channel",
    "monthly_spend",
    "discount_pct",
    "autopay",
    "has_partner",
    "age",
    "logins_30d",
    "days_since_last_login",
    "support_tickets_90d",
    "payment_failures",
    "satisfaction_score",
)
LABEL = "churned"

#: Intercept of the churn logit, chosen so about 20% of customers churn.
CHURN_INTERCEPT = -1.35
#: Standard deviation of the unobserved part of the churn logit (what no model can learn).
CHURN_NOISE_SD = 0.6

_PLAN_PRICE = np.array([29.0, 59.0, 99.0])  # list price per plan, in CATEGORIES["plan"] order
_REGION_EFFECT = np.array([0.0, -0.1, 0.15, 0.3])  # churn logit shift per region


def customers(n: int = 30_000, seed: int = 7, *, first_id: int = 1) -> pd.DataFrame:
    """A customer snapshot of ``n`` rows with a ``churned`` label (0/1), deterministic per ``seed``.

    Columns: ``customer_id`` (string), ``signup_date`` (datetime), the :data:`FEATURES`
    (integers, floats, booleans and four categoricals; ``satisfaction_score`` is missing for
    survey non-responders) and :data:`LABEL`. ``first_id`` numbers the customers, so a second
    batch (another seed) can get ids that do not collide with the first.

    Example::

        df = customers(1_000, seed=1)
        df.shape  # (1000, 18)
    """
    if isinstance(n, bool) or not isinstance(n, int | np.integer) or n < 1:
        raise InvalidInputError(f"The 'n' parameter of customers must be a positive integer. Got {n!r}.")
    if isinstance(first_id, bool) or not isinstance(first_id, int | np.integer) or first_id < 0:
        raise InvalidInputError(
            f"The 'first_id' parameter of customers must be a non-negative integer. Got {first_id!r}."
        )
    n = int(n)
    rng = np.random.default_rng(seed)
    cols: dict[str, np.ndarray] = {}
    cols.update(_profile(rng, n))
    cols.update(_contract(rng, cols))
    cols.update(_usage(rng, cols))
    cols.update(_support_and_billing(rng, cols))
    cols.update(_survey(rng, cols))
    cols.pop("_engagement")

    frame = pd.DataFrame(
        {
            "customer_id": _customer_ids(first_id, n),
            "signup_date": _signup_dates(rng, cols["tenure_months"]),
            **{name: _as_column(name, cols[name]) for name in FEATURES},
        }
    )
    logit = churn_logit(frame) + CHURN_NOISE_SD * rng.standard_normal(n)
    frame[LABEL] = (rng.random(n) < _sigmoid(logit)).astype("int64")
    return frame


def churn_logit(frame: pd.DataFrame) -> np.ndarray:
    """The observable part of the churn log-odds for each customer (the "true" model, minus noise).

    ``P(churn) = sigmoid(churn_logit(x) + ε)`` with ``ε ~ N(0, CHURN_NOISE_SD²)``::

        CHURN_INTERCEPT
        + 1.0 · [contract = monthly]
        − 0.55 · log(1 + tenure_months)                     early months are the riskiest
        + 1.5 · [discount_pct ≥ 15 and 10 ≤ tenure ≤ 14]    the intro discount ends: a price shock
        + 0.01 · (monthly_spend − list price of the plan)   add-ons raise it, discounts lower it
        − 0.05 · logins_30d
        + 1.5 · [days_since_last_login > 14] + 0.015 · min(days_since_last_login, 60)
        + 0.35 · support_tickets_90d · (1.6 if plan = basic else 0.6)
        + 0.6 · payment_failures · (0.5 if autopay else 1.0)
        − 0.25 · (satisfaction_score − 7), or + 0.3 when the survey went unanswered
        − 0.3 · [has_partner]
        + 0.0015 · (age − 45)²                              the youngest and oldest leave more
        + region effect (north_america 0, europe −0.1, asia_pacific 0.15, latin_america 0.3)

    Experiments and monitoring scenarios can shift this logit (a retention offer, a price rise)
    and redraw labels with :func:`churn_probability`.

    Example::

        churn_logit(customers(10)).shape  # (10,)
    """
    tenure = frame["tenure_months"].to_numpy(dtype=float)
    plan = _codes(frame["plan"], "plan")
    days_idle = frame["days_since_last_login"].to_numpy(dtype=float)
    satisfaction = frame["satisfaction_score"].to_numpy(dtype=float)
    answered = ~np.isnan(satisfaction)
    autopay = frame["autopay"].to_numpy(dtype=bool)
    age = frame["age"].to_numpy(dtype=float)

    z = np.full(len(frame), CHURN_INTERCEPT)
    z += 1.0 * (_codes(frame["contract"], "contract") == 0)
    z -= 0.55 * np.log1p(tenure)
    z += 1.5 * ((frame["discount_pct"].to_numpy(dtype=float) >= 15) & (tenure >= 10) & (tenure <= 14))
    z += 0.01 * (frame["monthly_spend"].to_numpy(dtype=float) - _PLAN_PRICE[plan])
    z -= 0.05 * frame["logins_30d"].to_numpy(dtype=float)
    z += 1.5 * (days_idle > 14) + 0.015 * np.minimum(days_idle, 60)
    z += 0.35 * frame["support_tickets_90d"].to_numpy(dtype=float) * np.where(plan == 0, 1.6, 0.6)
    z += 0.6 * frame["payment_failures"].to_numpy(dtype=float) * np.where(autopay, 0.5, 1.0)
    z += np.where(answered, -0.25 * (np.nan_to_num(satisfaction, nan=7.0) - 7.0), 0.3)
    z -= 0.3 * frame["has_partner"].to_numpy(dtype=bool)
    z += 0.0015 * (age - 45.0) ** 2
    z += _REGION_EFFECT[_codes(frame["region"], "region")]
    return z


def churn_probability(frame: pd.DataFrame) -> np.ndarray:
    """``sigmoid(churn_logit(frame))``: churn probability with the unobserved noise at zero.

    Example::

        churn_probability(customers(5)).round(2)
    """
    return _sigmoid(churn_logit(frame))


# -- generation steps: each takes the generator and what earlier steps drew ------------------------


def _profile(rng: np.random.Generator, n: int) -> dict[str, np.ndarray]:
    """Who the customer is: age, region, acquisition channel, household, tenure, latent engagement."""
    return {
        "age": np.clip(np.rint(rng.normal(42.0, 13.0, n)), 18, 85).astype("int64"),
        "region": rng.choice(4, size=n, p=[0.4, 0.3, 0.2, 0.1]),
        "channel": rng.choice(4, size=n, p=[0.4, 0.3, 0.2, 0.1]),
        "has_partner": rng.random(n) < 0.45,
        "tenure_months": np.minimum(np.floor(rng.gamma(1.3, 18.0, n)), 120).astype("int64"),
        "_engagement": rng.standard_normal(n),
    }


def _contract(rng: np.random.Generator, cols: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """What they pay for: plan (referrals upgrade more), contract, discount (paid search discounts more), spend."""
    n = len(cols["age"])
    referral = cols["channel"] == 2
    u = rng.random(n)
    plan = np.where(u < np.where(referral, 0.35, 0.5), 0, np.where(u < np.where(referral, 0.75, 0.85), 1, 2))
    annual = rng.random(n) < np.array([0.2, 0.35, 0.5])[plan]
    discount_p = np.where((cols["channel"] == 1)[:, None], [0.35, 0.15, 0.2, 0.2, 0.1], [0.6, 0.15, 0.13, 0.08, 0.04])
    discount = np.array([0.0, 5.0, 10.0, 15.0, 20.0])[_choice_rows(rng, discount_p)]
    add_ons = rng.lognormal(1.5, 0.9, n) * (rng.random(n) < 0.4)
    spend = _PLAN_PRICE[plan] * (1 - discount / 100) + add_ons
    return {
        "plan": plan,
        "contract": np.where(annual, 1, 0),
        "discount_pct": discount,
        "monthly_spend": np.round(spend, 2),
        "autopay": rng.random(n) < 0.65,
    }


def _usage(rng: np.random.Generator, cols: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Product usage over the last 30 days, driven by latent engagement (premium users log in more)."""
    n = len(cols["age"])
    rate = np.exp(2.2 + 0.6 * cols["_engagement"] + 0.2 * (cols["plan"] == 2))
    logins = rng.poisson(rate)
    idle_active = np.minimum(np.floor(rng.exponential(30.0 / (logins + 1.0))), 29)
    idle_dormant = 30 + np.floor(rng.exponential(25.0, n))
    idle = np.where(logins > 0, idle_active, np.minimum(idle_dormant, 180))
    return {"logins_30d": logins.astype("int64"), "days_since_last_login": idle.astype("int64")}


def _support_and_billing(rng: np.random.Generator, cols: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Support tickets (basic plans and disengaged users file more) and failed payments (worse without autopay)."""
    tickets = rng.poisson(0.5 + 0.4 * (cols["plan"] == 0) + 0.4 * np.maximum(-cols["_engagement"], 0))
    failures = rng.poisson(np.where(cols["autopay"], 0.1, 0.35))
    return {"support_tickets_90d": tickets.astype("int64"), "payment_failures": failures.astype("int64")}


def _survey(rng: np.random.Generator, cols: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Satisfaction survey, 0–10; disengaged customers answer less often (missing, about 10%)."""
    n = len(cols["age"])
    score = 7.2 + 1.0 * cols["_engagement"] - 0.5 * cols["support_tickets_90d"] + rng.normal(0.0, 1.3, n)
    score = np.clip(np.rint(score), 0, 10)
    no_answer = rng.random(n) < _sigmoid(-2.4 - 0.6 * cols["_engagement"])
    return {"satisfaction_score": np.where(no_answer, np.nan, score)}


# -- helpers ---------------------------------------------------------------------------------------


def _as_column(name: str, values: np.ndarray) -> pd.Series | np.ndarray:
    if name in CATEGORIES:
        return pd.Categorical.from_codes(values, categories=list(CATEGORIES[name]))
    return values


def _codes(column: pd.Series, name: str) -> np.ndarray:
    """Integer codes of a categorical (or string) column in :data:`CATEGORIES` order."""
    categories = list(CATEGORIES[name])
    if isinstance(column.dtype, pd.CategoricalDtype) and list(column.cat.categories) == categories:
        codes = column.cat.codes.to_numpy(dtype="int64")  # -1 marks a missing value
    else:
        codes = pd.Index(categories).get_indexer(column.astype(object))
    if (codes < 0).any():
        bad = sorted(set(pd.Series(column)[codes < 0].astype(str)))[:5]
        raise InvalidInputError(f"column '{name}' has values {bad} outside {categories}.")
    return codes


def _customer_ids(first_id: int, n: int) -> pd.Series:
    return pd.Series(np.arange(first_id, first_id + n)).map("C{:07d}".format).astype("str")


def _signup_dates(rng: np.random.Generator, tenure_months: np.ndarray) -> pd.Series:
    days = np.floor(tenure_months * 30.44 + rng.uniform(0.0, 30.0, len(tenure_months)))
    return pd.Series(AS_OF - pd.to_timedelta(days, unit="D")).astype("datetime64[ns]")


def _choice_rows(rng: np.random.Generator, probs: np.ndarray) -> np.ndarray:
    """One categorical draw per row from a per-row probability table (vectorised inverse CDF)."""
    cdf = np.cumsum(probs, axis=1)
    return np.minimum((rng.random(len(probs))[:, None] > cdf).sum(axis=1), probs.shape[1] - 1)


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-z))
