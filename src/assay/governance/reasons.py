"""Adverse-action reason codes: for each row, the features that pushed hardest against a good outcome.

Built on :func:`~assay.governance.explain.explain`: contributions add up exactly to the model's raw output,
so the features with the largest contributions *against* the favourable outcome are the reasons. For a
default-risk score a low score is favourable (``favourable="low"``) and the reasons are the features
that raised it; for an approval score (``favourable="high"``) they are the features that lowered it.

Each reason gets a code (stable per feature: ``R01`` for the model's first feature, or your own via
``codes=``) and a phrase: from ``phrases`` (a plain phrase, a template such as
``"Balance is high ({value:,.0f})"`` with ``{value}``, ``{feature}`` and ``{name}``, or a callable of the
value), else one made from the feature name (``"Balance amount (12,500)"``).

Example::

    codes = reason_codes(model, applicants, k=4, phrases={"balance": "Balance is high ({value:,.0f})"})
    codes.to_frame()          # row, rank, code, feature, phrase, contribution, value
    codes.for_row(0)          # ["Balance is high (12,500)", "Age (23)", ...]
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from assay.errors import InvalidInputError
from assay.governance.explain import LocalExplanation, explain
from assay.results import ResultMixin

__all__ = ["Reason", "ReasonCodes", "reason_codes"]

Phrase = str | Callable[[Any], str]
_NO_SPEC = re.compile(r"\{value(![rsa])?:[^{}]*\}")


@dataclass(frozen=True)
class Reason:
    """One reason for one row: its code, feature, phrase, contribution (raw-output units) and the value."""

    code: str
    feature: str
    phrase: str
    contribution: float
    value: Any


@dataclass(frozen=True, eq=False)
class ReasonCodes(ResultMixin):
    """Up to ``k`` reasons per row, strongest first; a row with nothing against it has no reasons."""

    model: str
    favourable: str  # "low" | "high": which end of the model's output is the good outcome
    k: int
    output: str  # the scale contributions are on (log-odds, raw score, ...)
    method: str  # how contributions were computed
    index: tuple[Any, ...]
    reasons: tuple[tuple[Reason, ...], ...]

    def summary(self) -> str:
        n = len(self.reasons)
        by_feature = Counter(r[0].feature for r in self.reasons if r)
        text = (
            f"Reason codes for {n:,} rows (up to {self.k} each; a {self.favourable} {self.output} is the "
            f"favourable outcome)."
        )
        if by_feature:
            top = [f"{feature} ({count:,} rows)" for feature, count in by_feature.most_common(3)]
            text += f" The most common main reason is {top[0]}" + (f", then {', '.join(top[1:])}." if top[1:] else ".")
        empty = sum(1 for r in self.reasons if not r)
        if empty:
            text += f" {empty:,} rows have no feature pushing against them, so no reason."
        return text

    def for_row(self, position: int) -> list[str]:
        """The phrases of the row at ``position`` (0-based, in the order of the input), strongest first."""
        if not -len(self.reasons) <= position < len(self.reasons):
            raise InvalidInputError(f"row position {position} is out of range; there are {len(self.reasons)} rows.")
        return [r.phrase for r in self.reasons[position]]

    def to_frame(self) -> pd.DataFrame:
        """One line per (row, reason): row label, rank (1 = strongest), code, feature, phrase, contribution, value."""
        records = [
            {
                "row": label,
                "rank": rank,
                "code": r.code,
                "feature": r.feature,
                "phrase": r.phrase,
                "contribution": r.contribution,
                "value": r.value,
            }
            for label, row in zip(self.index, self.reasons, strict=True)
            for rank, r in enumerate(row, start=1)
        ]
        columns = ["row", "rank", "code", "feature", "phrase", "contribution", "value"]
        return pd.DataFrame.from_records(records, columns=columns)


def reason_codes(
    model: Any,
    X: Any = None,
    k: int = 4,
    *,
    phrases: Mapping[str, Phrase] | None = None,
    favourable: str = "low",
    min_contribution: float = 0.0,
    codes: Mapping[str, str] | None = None,
    **explain_kwargs: Any,
) -> ReasonCodes:
    """Per row, the top ``k`` features pushing against the favourable outcome, as codes and phrases.

    ``model`` is anything :func:`~assay.governance.explain.explain` takes (``explain_kwargs`` go to it:
    ``background=``, ``class_index=``, ...) or an already computed :class:`LocalExplanation` (then ``X`` is
    not needed). A feature counts only if its contribution against the outcome exceeds ``min_contribution``
    (and float rounding: 1e-9 of the largest contribution).

    Example::

        reason_codes(default_model, X, k=4, favourable="low", phrases={"utilisation": "Utilisation {value:.0%}"})
    """
    _check(k, favourable, min_contribution, phrases, codes)
    exp = model if isinstance(model, LocalExplanation) else explain(model, X, **explain_kwargs)
    sign = 1.0 if favourable == "low" else -1.0
    against = sign * exp.contributions
    order = np.argsort(-against, axis=1, kind="stable")
    # Contributions within float rounding of zero (e.g. a coefficient of 1e-16) are never reasons.
    floor = max(float(min_contribution), 1e-9 * float(np.abs(exp.contributions).max(initial=0.0)))
    code_of = {f: (codes or {}).get(f, f"R{i + 1:02d}") for i, f in enumerate(exp.features)}
    rows = []
    for i in range(len(exp.index)):
        chosen = [j for j in order[i, :k] if against[i, j] > floor]
        rows.append(
            tuple(
                Reason(
                    code=code_of[exp.features[j]],
                    feature=exp.features[j],
                    phrase=_phrase(exp.features[j], exp.values[i, j], (phrases or {}).get(exp.features[j])),
                    contribution=float(exp.contributions[i, j]),
                    value=_plain(exp.values[i, j]),
                )
                for j in chosen
            )
        )
    return ReasonCodes(
        model=exp.model,
        favourable=favourable,
        k=k,
        output=exp.output,
        method=exp.method,
        index=exp.index,
        reasons=tuple(rows),
    )


def _check(k: Any, favourable: Any, min_contribution: Any, phrases: Any, codes: Any) -> None:
    if isinstance(k, bool) or not isinstance(k, int | np.integer) or k < 1:
        raise InvalidInputError(f"The 'k' parameter of reason_codes must be an integer >= 1. Got {k!r}.")
    if favourable not in ("low", "high"):
        raise InvalidInputError(
            f"The 'favourable' parameter must be 'low' (a low score is good, e.g. default risk) or 'high'. "
            f"Got {favourable!r}."
        )
    if (
        isinstance(min_contribution, bool)
        or not isinstance(min_contribution, int | float)
        or not (math.isfinite(min_contribution) and min_contribution >= 0)
    ):
        raise InvalidInputError(f"The 'min_contribution' parameter must be a number >= 0. Got {min_contribution!r}.")
    for name, mapping, ok in (("phrases", phrases, (str,)), ("codes", codes, (str,))):
        if mapping is None:
            continue
        if not isinstance(mapping, Mapping):
            raise InvalidInputError(f"The '{name}' parameter must be a dict of feature -> text. Got {mapping!r}.")
        bad = [f for f, v in mapping.items() if not (isinstance(v, ok) or (name == "phrases" and callable(v)))]
        if bad:
            raise InvalidInputError(f"'{name}' for {bad[:5]} must be text{' or a callable' * (name == 'phrases')}.")


def _phrase(feature: str, value: Any, template: Phrase | None) -> str:
    label = _label(feature)
    if template is None:
        return f"{label} ({_show(value)})"
    if callable(template):
        try:
            return str(template(_plain(value)))
        except Exception as exc:
            raise InvalidInputError(f"the phrase function for '{feature}' failed on value {value!r}: {exc}") from exc
    # The raw value first (for format specs), then as text, then as text without the value's format spec
    # (a missing value cannot take "{value:,.0f}").
    attempts = ((template, _plain(value)), (template, _show(value)), (_NO_SPEC.sub("{value}", template), _show(value)))
    for text, shown in attempts:
        try:
            return text.format(value=shown, feature=label, name=feature)
        except (ValueError, TypeError, KeyError, IndexError, AttributeError):
            continue
    raise InvalidInputError(
        f"the phrase template {template!r} for '{feature}' cannot be filled: use {{value}}, {{feature}} or {{name}} "
        "(with a format spec that suits the value, e.g. {value:,.0f} for numbers)."
    )


def _label(feature: str) -> str:
    """'num__balance_amount' -> 'Balance amount'."""
    text = feature.split("__")[-1].replace("_", " ").strip() or feature
    return text[:1].upper() + text[1:]


def _plain(value: Any) -> Any:
    if isinstance(value, np.generic):
        value = value.item()
    if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA or value is pd.NaT:
        return None
    return value


def _show(value: Any) -> str:
    value = _plain(value)
    if value is None:
        return "missing"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:,.0f}" if abs(value) >= 1000 else f"{value:.3g}"
    return str(value)
