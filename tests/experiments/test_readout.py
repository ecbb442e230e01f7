"""Readout decisions on constructed results: ship, don't ship, guardrail harm, SRM, inconclusive, multi-variant."""

from __future__ import annotations

import json
import math
import re

import pytest

from assay.experiments import Experiment, Metric, Readout, evaluate, stats
from assay.experiments.compile import Cell

METRICS = [
    Metric("checkout_conversion", kind="proportion", source="events", filter="event = 'purchase'"),
    Metric("latency_ms", source="requests", value="latency_ms", direction="decrease", margin=0.05),
]


def rate(n: int, share: float) -> stats.MeanStats:
    k = round(n * share)
    return stats.MeanStats(n, float(k), float(k))


def normal(n: int, mean: float, sd: float) -> stats.MeanStats:
    return stats.MeanStats(n, n * mean, max(n - 1, 0) * sd * sd + n * mean * mean)


def readout(arms: dict[str, tuple[int, float, float]], method: str = "fixed", guardrail: bool = True) -> Readout:
    """``arms``: variant → (units, conversion rate, mean latency); the first is control."""
    e = Experiment(
        "checkout-v2", exposures={"source": "exposures"}, variants=list(arms), primary_metric="checkout_conversion",
        guardrail_metrics=["latency_ms"] if guardrail else [], metrics=METRICS, method=method,
    )  # fmt: skip
    cells = [
        Cell(v, False, None, None, n, {"checkout_conversion": rate(n, p), "latency_ms": normal(n, lat, 50.0)})
        for v, (n, p, lat) in arms.items()
    ]
    return Readout.from_result(evaluate(e, cells))


def test_ship_reads_like_a_sentence() -> None:
    r = readout({"control": (20000, 0.100, 300.0), "treatment": (20000, 0.108, 300.0)})
    assert r.decision == "ship" and r.variant == "treatment" and r.srm_ok and r.guardrails_ok
    text = r.summary()
    assert text.startswith("Treatment raised checkout conversion by +8.0% (95% CI +")
    assert re.search(
        r"to \+[\d.]+%, p = 0\.0\d\d, n = 20,000 control, 20,000 treatment\)\. Sample ratio OK\. "
        r"Guardrails OK\. Recommendation: ship\.$",
        text,
    )
    assert text.endswith("Recommendation: ship.")
    json.dumps(r.to_dict(), allow_nan=False)
    assert "Recommendation: ship." in r._repr_html_()


def test_wrong_direction_is_dont_ship() -> None:
    r = readout({"control": (20000, 0.100, 300.0), "treatment": (20000, 0.090, 300.0)})
    assert r.decision == "don't ship" and "Treatment lowered checkout conversion by -10.0%" in r.summary()
    assert r.reasons == ("treatment: checkout_conversion worsened",)


def test_guardrail_harm_blocks_a_winner() -> None:
    r = readout({"control": (20000, 0.100, 300.0), "treatment": (20000, 0.110, 330.0)})
    assert r.decision == "don't ship" and not r.guardrails_ok
    assert "Guardrail latency ms harmed by treatment: +10.0% (95% lower bound +" in r.summary()
    assert "beyond the 5% margin" in r.summary()
    small = readout({"control": (20000, 0.100, 300.0), "treatment": (20000, 0.110, 303.0)})  # +1%: inside margin
    assert small.decision == "ship" and small.guardrails_ok


def test_sample_ratio_mismatch_means_investigate() -> None:
    r = readout({"control": (20000, 0.100, 300.0), "treatment": (21000, 0.120, 300.0)})
    assert r.decision == "investigate" and not r.srm_ok and r.reasons == ("sample ratio mismatch",)
    assert "Sample ratio mismatch" in r.summary() and r.summary().endswith("Recommendation: investigate.")


def test_inconclusive_means_keep_running_with_the_mde() -> None:
    r = readout({"control": (2000, 0.100, 300.0), "treatment": (2000, 0.103, 300.0)})
    assert r.decision == "keep running" and r.mde is not None and 0.1 < r.mde < 0.5
    text = r.summary()
    assert "changed checkout conversion by +3.0% (95% CI" in text and "not statistically significant" in text
    assert "with 2,000 units per arm this test detects a change of ±" in text and "80% power" in text


def test_multi_variant_names_the_best() -> None:
    arms = {"control": (20000, 0.100, 300.0), "a": (20000, 0.104, 300.0), "b": (20000, 0.112, 300.0),
            "c": (20000, 0.101, 300.0)}  # fmt: skip
    r = readout(arms)
    assert r.decision == "ship" and r.variant == "b"
    assert r.summary().startswith("B raised checkout conversion by +12.0%") and "Recommendation: ship b." in r.summary()
    both = readout({"control": arms["control"], "a": (20000, 0.115, 380.0), "b": (20000, 0.101, 300.0)})
    assert both.decision == "keep running"  # a harms latency; b is still open
    assert both.variant == "a"  # leads on the primary metric
    losing = readout({"control": arms["control"], "a": (20000, 0.115, 380.0), "b": (20000, 0.090, 300.0)})
    assert losing.decision == "don't ship"


def test_empty_arm_and_unevaluable_primary_mean_investigate() -> None:
    r = readout({"control": (20000, 0.100, 300.0), "treatment": (0, 0.0, 0.0)})
    assert r.decision == "investigate" and r.reasons == ("sample ratio mismatch", "data quality: empty_arm")
    assert "could not be compared on checkout conversion" in r.summary()
    flat = readout({"control": (2000, 0.0, 300.0), "treatment": (2000, 0.0, 300.0)})
    assert flat.decision == "investigate" and flat.reasons == ("primary metric could not be evaluated",)


def test_bayesian_readout() -> None:
    r = readout({"control": (20000, 0.100, 300.0), "treatment": (20000, 0.108, 300.0)}, method="bayesian")
    assert r.decision == "ship" and "credible interval" in r.summary() and "chance to beat control" in r.summary()


def test_without_guardrails() -> None:
    r = readout({"control": (20000, 0.100, 300.0), "treatment": (20000, 0.108, 300.0)}, guardrail=False)
    assert "No guardrail metrics." in r.summary() and r.guardrails_ok and r.decision == "ship"
    assert not math.isnan(r.to_dict()["srm_ok"])


@pytest.mark.parametrize("method", ["fixed", "sequential"])
def test_every_figure_has_its_interval(method: str) -> None:
    text = readout({"control": (20000, 0.100, 300.0), "treatment": (20000, 0.108, 300.0)}, method=method).summary()
    assert "95% " in text and "n = 20,000 control" in text
    if method == "sequential":
        assert "always-valid CI" in text
