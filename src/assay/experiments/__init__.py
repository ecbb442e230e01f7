"""Experiments: design (power, MDE), assignment, metric definitions and rigorous A/B analysis.

``assay.experiments.stats`` is the pure statistics core (numpy/scipy only, no I/O)::

    from assay.experiments import stats
    r = stats.ttest(stats.MeanStats(3407, 1396.87, 52377.9767), stats.MeanStats(3461, 2422.7, 134698.29))
    print(r.summary())
"""

from assay.experiments import stats

__all__ = ["stats"]
