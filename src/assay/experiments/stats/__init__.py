"""Pure statistics for A/B and multi-variant tests, over per-arm sufficient statistics (no I/O).

The engine computes ``n``, sums and sums of squares per arm in SQL; everything here is a function of
those. Every function returns a frozen result with ``summary()``, ``to_dict()`` and ``_repr_html_()``,
plus a ``status`` and ``warnings`` for degenerate input instead of silent zeros.

======================  ==================================================================
sufficient statistics   :class:`MeanStats`, :class:`RatioStats`, :class:`CupedStats`, :class:`CupedRatioStats`
fixed horizon           :func:`ttest`, :func:`ratio_ttest`, :func:`cuped_ttest`
margins                 :func:`noninferiority_ttest`, :func:`guardrail_ttest`
always valid            :func:`sequential_ttest`
Bayesian                :func:`bayesian` with an optional :class:`NormalPrior`
health and families     :func:`srm`, :func:`adjust_pvalues`
design                  :func:`sample_size`, :func:`mde`, :func:`duration`
======================  ==================================================================

Example::

    >>> from assay.experiments import stats
    >>> c = stats.MeanStats(n=3407, sum=1396.87, sum_squares=52377.9767)
    >>> t = stats.MeanStats(n=3461, sum=2422.7, sum_squares=134698.29)
    >>> print(stats.ttest(c, t, relative=False).summary())  # doctest: +NORMALIZE_WHITESPACE
    Treatment is +0.29 vs control (95% CI +0.0454 to +0.535, p = 0.020, n = 3,407 control,
    3,461 treatment): statistically significant at the 5% level.
"""

from assay.experiments.stats.bayesian import BayesianResult, NormalPrior, bayesian
from assay.experiments.stats.cuped import CupedResult, cuped_ttest
from assay.experiments.stats.frequentist import TestResult, ttest
from assay.experiments.stats.margin import MarginResult, guardrail_ttest, noninferiority_ttest
from assay.experiments.stats.multiple import AdjustedPValues, adjust_pvalues
from assay.experiments.stats.power import DurationResult, MdeResult, SampleSizeResult, duration, mde, sample_size
from assay.experiments.stats.ratio import ratio_ttest
from assay.experiments.stats.sequential import SequentialResult, sequential_ttest
from assay.experiments.stats.srm import SrmResult, srm
from assay.experiments.stats.sufficient import CupedRatioStats, CupedStats, MeanStats, RatioStats

__all__ = [
    "AdjustedPValues",
    "BayesianResult",
    "CupedRatioStats",
    "CupedResult",
    "CupedStats",
    "DurationResult",
    "MarginResult",
    "MdeResult",
    "MeanStats",
    "NormalPrior",
    "RatioStats",
    "SampleSizeResult",
    "SequentialResult",
    "SrmResult",
    "TestResult",
    "adjust_pvalues",
    "bayesian",
    "cuped_ttest",
    "duration",
    "guardrail_ttest",
    "mde",
    "noninferiority_ttest",
    "ratio_ttest",
    "sample_size",
    "sequential_ttest",
    "srm",
    "ttest",
]
