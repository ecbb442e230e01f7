"""The ``assay`` command line (Typer + Rich): ``assay init``, ``assay runs ...``, ``assay models ...``.

The Typer app lives in :mod:`assay.cli.main` (the console script ``assay = "assay.cli.main:app"``);
it is not imported here so that ``python -m assay.cli.main`` runs cleanly.

Example::

    $ assay runs list --project churn --order-by "metrics.auc desc" --limit 5
    $ assay runs show 3f2a9c --json | jq .metrics
"""
