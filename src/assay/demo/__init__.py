"""The synthetic company and the end-to-end scenario behind ``assay demo``.

Example::

    from assay.demo import customers, run_demo
    df = customers(30_000, seed=7)   # a customer table with a churn label
    summary = run_demo(rows=30_000)  # train, track, register, promote, score, report
"""

from assay.demo.company import customers
from assay.demo.scenario import run_demo

__all__ = ["customers", "run_demo"]
