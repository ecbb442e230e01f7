"""The demo's A/B test: retention offers chosen by the new churn model (treatment) against the old one
(control), customers split by :func:`assay.experiments.assign`, revenue and orders per customer over the 28
days after exposure, analysed by :func:`assay.experiments.analyze` with CUPED (the same metric in the 28 days
before exposure as covariate), and saved with each arm linked to its model version.

The true effect is :data:`assay.demo.activity.TRUE_LIFT` (relative, on orders and so on revenue): the readout's
interval should cover it.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import TYPE_CHECKING

import pandas as pd

from assay.demo.activity import TRUE_LIFT, ab_test_data
from assay.experiments import Experiment, ExperimentResult, Readout, analyze, assign, save_result

if TYPE_CHECKING:
    from assay.experiments import MetricResult
    from assay.tracking.client import Client

__all__ = ["EXPERIMENT", "ABTest", "run_ab_test"]

EXPERIMENT = "churn-model-retention-offers"

_YAML = """
name: {name}
description: >-
  Retention offers go to the customers each arm's churn model ranks riskiest. Control: the old model
  ({control}); treatment: the new one ({treatment}). Does the new model keep more customers buying?
exposures: {{source: exposures, unit_column: customer_id, variant_column: variant, timestamp_column: exposed_at}}
variants: [control, treatment]
weights: [0.5, 0.5]
primary_metric: revenue
secondary_metrics: [orders]
dimensions: [plan]
cuped: {{pre_period: 28d}}
alpha: 0.05
method: fixed
multiple_testing: holm
models: {{control: "{control}", treatment: "{treatment}"}}
metrics:
  revenue: {{source: orders, timestamp_column: ts, value: amount, window: {{end: 28d}},
            description: "Revenue per customer in the 28 days after exposure"}}
  orders: {{source: orders, timestamp_column: ts, value: "1", window: {{end: 28d}},
           description: "Orders per customer in the 28 days after exposure"}}
"""


@dataclass(frozen=True)
class ABTest:
    """The analysis, its readout, what CUPED bought, and the id it was saved under."""

    result: ExperimentResult
    readout: Readout
    analysis_id: int
    units: int
    true_lift: float
    variance_reduction: float  # 1 - (CUPED interval width / unadjusted width)², primary metric

    @property
    def primary(self) -> MetricResult:
        return next(m for m in self.result.primary if m.slice is None)

    @property
    def covers_truth(self) -> bool:
        return self.primary.ci_low <= self.true_lift <= self.primary.ci_high


def experiment(control_uri: str, treatment_uri: str) -> Experiment:
    """The experiment definition (pure configuration)."""
    return Experiment.from_yaml(_YAML.format(name=EXPERIMENT, control=control_uri, treatment=treatment_uri))


def run_ab_test(
    client: Client, table: pd.DataFrame, control_uri: str, treatment_uri: str, *, seed: int, lift: float = TRUE_LIFT
) -> tuple[ABTest, dict[str, pd.DataFrame]]:
    """Assign the customers, generate what they did, analyse with and without CUPED, save the CUPED analysis."""
    variant = assign.assign(table["customer_id"].tolist(), EXPERIMENT, ["control", "treatment"])
    frames = ab_test_data(table, variant, seed, lift=lift)
    exp = experiment(control_uri, treatment_uri)
    result = analyze(exp, sources=frames)
    plain = analyze(dataclasses.replace(exp, cuped=None, dimensions=()), sources=frames)
    readout = Readout.from_result(result)
    analysis_id = save_result(result, client=client, readout=readout, status="concluded")
    primary = next(m for m in result.primary if m.slice is None)
    unadjusted = next(m for m in plain.primary if m.slice is None)
    width, width0 = primary.ci_high - primary.ci_low, unadjusted.ci_high - unadjusted.ci_low
    reduction = 1.0 - (width / width0) ** 2 if width0 > 0 else float("nan")
    test = ABTest(result, readout, analysis_id, len(frames["exposures"]), lift, reduction)
    return test, frames
