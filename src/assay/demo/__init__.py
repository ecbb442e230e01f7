"""The synthetic company and the end-to-end scenario behind ``assay demo``.

The company (:mod:`assay.demo.company`, :mod:`assay.demo.activity`): customers with demographics, sessions and
orders, a true churn process, a true treatment effect and a drift that starts mid-way. The scenario
(:mod:`assay.demo.scenario`) walks the whole loop on it: contracts and profile, two tracked models, gates, card,
fairness and explanations, a reviewer's approval, the ``production`` alias, batch and online scoring, a monitor
that catches the drift and opens an incident, an A/B test analysed with CUPED, and executive reports.

Example::

    from assay.demo import customers, run_demo
    df = customers(30_000, seed=7)   # a customer table with a churn label
    summary = run_demo(rows=30_000)  # the whole loop, recorded in the default store (about 10 s)
"""

from assay.demo.company import customers
from assay.demo.scenario import run_demo

__all__ = ["customers", "run_demo"]
