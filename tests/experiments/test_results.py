"""Every result: frozen, summary() in plain words, JSON-safe to_dict(), notebook HTML; and the docstring examples."""

from __future__ import annotations

import dataclasses
import doctest
import importlib
import json
import pkgutil

import numpy as np
import pytest

import assay.experiments.stats as stats_pkg
from assay.experiments import stats

C = stats.MeanStats(n=3407, sum=1396.87, sum_squares=52377.9767)
T = stats.MeanStats(n=3461, sum=2422.7, sum_squares=134698.29)
EMPTY = stats.MeanStats(0, 0, 0)
_rng = np.random.default_rng(0)
_x = _rng.normal(10, 2, (2, 300))
CUPED = [stats.CupedStats.from_values(_x[a] + _rng.normal(0, 1, 300), _x[a]) for a in (0, 1)]
RATIO = [stats.RatioStats.from_values(_rng.poisson(2, 300), _rng.poisson(5, 300) + 1) for _ in (0, 1)]

RESULTS = {
    "ttest": lambda: stats.ttest(C, T),
    "ttest_one_sided": lambda: stats.ttest(C, T, alternative="less"),
    "ttest_empty": lambda: stats.ttest(EMPTY, T),
    "ratio": lambda: stats.ratio_ttest(*RATIO),
    "cuped": lambda: stats.cuped_ttest(*CUPED),
    "cuped_empty": lambda: stats.cuped_ttest(stats.CupedStats(0, 0, 0, 0, 0, 0), CUPED[1]),
    "noninferiority": lambda: stats.noninferiority_ttest(C, T, margin=0.05),
    "guardrail": lambda: stats.guardrail_ttest(C, T),
    "sequential": lambda: stats.sequential_ttest(C, T),
    "sequential_empty": lambda: stats.sequential_ttest(C, EMPTY),
    "bayesian": lambda: stats.bayesian(C, T, prior=stats.NormalPrior(0, 0.2)),
    "bayesian_empty": lambda: stats.bayesian(EMPTY, T),
    "srm": lambda: stats.srm([1000, 1200], [0.5, 0.5]),
    "srm_empty": lambda: stats.srm([0, 0], [1, 1]),
    "adjust": lambda: stats.adjust_pvalues([0.01, float("nan"), 0.3], method="bh"),
    "sample_size": lambda: stats.sample_size(mean=0.1, mde=0.05, variants=3, cuped_correlation=0.4),
    "mde": lambda: stats.mde(1000, mean=5.0, sd=2.0),
    "mde_unreachable": lambda: stats.mde(2, mean=0.5),
    "duration": lambda: stats.duration(50_000, 3_000),
}


@pytest.mark.parametrize("name", sorted(RESULTS))
def test_result_protocol(name: str) -> None:
    r = RESULTS[name]()
    assert dataclasses.is_dataclass(r)
    with pytest.raises(dataclasses.FrozenInstanceError):
        r.status = "ok"  # type: ignore[misc]
    assert r.status in {"ok", "insufficient_data", "zero_variance", "undefined_relative", "undefined_ratio"}
    assert isinstance(r.warnings, tuple)
    text = r.summary()
    assert isinstance(text, str) and text.endswith(".") and "nan" not in text.lower()
    data = r.to_dict()
    json.dumps(data, allow_nan=False)  # NaN and inf became None
    assert set(data) == {f.name for f in dataclasses.fields(r)}
    html = r._repr_html_()
    assert html.startswith("<div") and type(r).__name__ in html


def test_nested_results_serialise_recursively() -> None:
    data = stats.cuped_ttest(*CUPED).to_dict()
    assert data["adjusted"]["method"] == "cuped_welch_t" and data["unadjusted"]["method"] == "welch_t"
    assert "<table>" in stats.cuped_ttest(*CUPED)._repr_html_()


def test_public_names() -> None:
    assert sorted(stats.__all__) == sorted(n for n in stats.__all__ if hasattr(stats, n))
    for name in ("MeanStats", "RatioStats", "CupedStats", "ttest", "cuped_ttest", "ratio_ttest", "sequential_ttest",
                 "bayesian", "srm", "adjust_pvalues", "sample_size", "mde", "duration"):  # fmt: skip
        assert name in stats.__all__


@pytest.mark.parametrize("module", ["__init__", *sorted(m.name for m in pkgutil.iter_modules(stats_pkg.__path__))])
def test_docstring_examples_run(module: str) -> None:
    mod = stats_pkg if module == "__init__" else importlib.import_module(f"assay.experiments.stats.{module}")
    result = doctest.testmod(mod, extraglobs=vars(stats), optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0
