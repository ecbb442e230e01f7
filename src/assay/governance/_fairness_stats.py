"""Fairness maths, pure numpy: per-group rates from confusion counts, gaps between groups, bootstrap intervals.

Every rate a fairness audit needs is a ratio of one group's confusion-matrix counts (TP, FP, FN, TN), so a
stratified row bootstrap of the rates is the same as drawing each group's counts from a multinomial with the
observed cell shares: O(groups) per resample whatever the number of rows (Efron & Tibshirani 1993, ch. 6).
Intervals are percentile intervals (ibid., ch. 13). Undefined rates (no denominator) are ``nan``.
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np

__all__ = [
    "CELLS",
    "calibration_ci",
    "confusion_cells",
    "gaps",
    "multinomial_draws",
    "percentile_ci",
    "rates",
    "spread",
]

CELLS = ((1, 1), (0, 1), (1, 0), (0, 0))  # (label, prediction) of TP, FP, FN, TN
_CHUNK = 4_000_000  # resampled row indices held at once for the calibration bootstrap


def confusion_cells(codes: np.ndarray, y_true: np.ndarray, y_pred: np.ndarray, n_groups: int) -> np.ndarray:
    """``(groups, 4)`` counts of TP, FP, FN, TN per group code."""
    cells = np.zeros((n_groups, 4), dtype=np.int64)
    for j, (t, p) in enumerate(CELLS):
        cells[:, j] = np.bincount(codes[(y_true == t) & (y_pred == p)], minlength=n_groups)
    return cells


def multinomial_draws(cells: np.ndarray, n_bootstrap: int, rng: np.random.Generator) -> np.ndarray | None:
    """``(B, groups, 4)`` resampled confusion counts: a stratified row bootstrap, drawn per group at once."""
    if n_bootstrap == 0:
        return None
    n = cells.sum(axis=1)
    return rng.multinomial(n, cells / n[:, None], size=(n_bootstrap, len(n)))


def rates(cells: np.ndarray) -> dict[str, np.ndarray]:
    """Selection rate, TPR, FPR and precision from counts of shape ``(..., 4)``; ``nan`` where undefined."""
    tp, fp, fn, tn = np.moveaxis(cells, -1, 0).astype(float)
    with np.errstate(divide="ignore", invalid="ignore"):
        return {
            "selection_rate": (tp + fp) / (tp + fp + fn + tn),
            "true_positive_rate": tp / (tp + fn),
            "false_positive_rate": fp / (fp + tn),
            "precision": tp / (tp + fp),
        }


def gaps(by_group: dict[str, np.ndarray]) -> tuple[Any, Any, Any]:
    """Demographic-parity difference and ratio, equalized-odds difference (worst of the TPR and FPR spreads,
    as fairlearn's ``agg="worst_case"``) over the last axis (groups)."""
    sr = by_group["selection_rate"]
    with np.errstate(divide="ignore", invalid="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        dp = spread(sr)
        top = np.nanmax(sr, axis=-1)
        ratio = np.where(top > 0, np.nanmin(sr, axis=-1) / top, np.nan)
        eo = np.maximum(spread(by_group["true_positive_rate"]), spread(by_group["false_positive_rate"]))  # nan wins
    if np.ndim(dp) == 0:
        return float(dp), float(ratio), float(eo)
    return dp, ratio, eo


def spread(values: np.ndarray) -> np.ndarray:
    """max - min over groups, ``nan`` where fewer than two groups have a defined value."""
    enough = np.sum(~np.isnan(values), axis=-1) >= 2
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return np.where(enough, np.nanmax(values, axis=-1) - np.nanmin(values, axis=-1), np.nan)


def percentile_ci(draws: np.ndarray, alpha: float) -> np.ndarray:
    """``(groups, 2)`` percentile interval over axis 0, ignoring undefined draws."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return np.nanquantile(draws, [alpha / 2, 1 - alpha / 2], axis=0).T


def calibration_ci(
    diff: np.ndarray, codes: np.ndarray, n: np.ndarray, n_bootstrap: int, alpha: float, rng: np.random.Generator
) -> np.ndarray:
    """Bootstrap interval of each group's mean ``score - label``, resampling rows within the group."""
    out = np.full((len(n), 2), math.nan)
    if n_bootstrap == 0:
        return out
    order = np.argsort(codes, kind="stable")
    bounds = np.concatenate([[0], np.cumsum(n)])
    for g in range(len(n)):
        values = diff[order[bounds[g] : bounds[g + 1]]]
        size = len(values)
        step = max(1, _CHUNK // size)
        means = np.concatenate(
            [
                values[rng.integers(0, size, (min(step, n_bootstrap - b), size))].mean(axis=1)
                for b in range(0, n_bootstrap, step)
            ]
        )
        out[g] = np.quantile(means, [alpha / 2, 1 - alpha / 2])
    return out
