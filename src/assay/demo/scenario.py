"""``assay demo``: a churn model from raw data to a production alias, every step recorded.

The scenario generates the synthetic company's customers (:mod:`assay.demo.company`), writes them
to Parquet, trains a logistic-regression pipeline and a gradient-boosting model as two tracked
runs in project ``churn``, registers both as versions of model ``churn``, points the
``production`` alias at the one with the better test AUC, loads it back through the registry,
scores a fresh batch of customers and prints what the store now holds and how to look at it.

Example::

    from assay.demo import run_demo
    summary = run_demo(rows=5_000)
    summary["chosen"]["version"], summary["elapsed_s"]
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

import numpy as np
from rich.console import Console
from rich.markup import escape
from rich.rule import Rule
from rich.text import Text

from assay.config import Settings
from assay.demo import _report as report
from assay.demo._train import (
    MODEL_NAME,
    PROJECT,
    DemoData,
    TrainedModel,
    auc_difference,
    boosting_spec,
    linear_spec,
    split,
    train_and_track,
    write_parquet,
)
from assay.demo.company import LABEL, customers
from assay.errors import InvalidInputError

if TYPE_CHECKING:
    from assay.tracking.client import Client

__all__ = ["MIN_ROWS", "run_demo"]

#: Fewest customers the demo accepts (the test split needs enough churners to score a model).
MIN_ROWS = 500
ALIAS = "production"
_BATCH_ROWS = 5_000


def run_demo(
    *,
    rows: int = 30_000,
    seed: int = 7,
    console: Console | None = None,
    client: Client | None = None,
) -> dict[str, Any]:
    """Run the end-to-end churn scenario and return a JSON-safe summary of what it recorded.

    Writes ``<home>/demo/customers.parquet`` (plus the train/test splits and the scored batch)
    under the client's home (``ASSAY_HOME``), logs two runs to project ``churn``, registers two
    versions of model ``churn`` and moves alias ``production`` to the better one.
    Uses :func:`assay.get_client` unless ``client`` is given; prints to ``console`` (a new
    :class:`rich.console.Console` by default). Takes a few seconds for 30,000 rows.

    The summary holds ``runs`` (name, run id, AUC with its 95% interval, version per run),
    ``chosen`` (the production version), ``auc_difference`` (paired DeLong comparison),
    ``scored_rows``, paths and ``elapsed_s``.

    Example::

        run_demo(rows=3_000, seed=1)["chosen"]["model_uri"]  # 'models:/churn/2'
    """
    if isinstance(rows, bool) or not isinstance(rows, int) or rows < MIN_ROWS:
        raise InvalidInputError(f"The 'rows' parameter of run_demo must be an integer ≥ {MIN_ROWS}. Got {rows!r}.")
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise InvalidInputError(f"The 'seed' parameter of run_demo must be a non-negative integer. Got {seed!r}.")
    started = time.perf_counter()
    if client is None:
        from assay.tracking.fluent import get_client

        client = get_client()
    console = console if console is not None else Console()
    folder = client.settings.home / "demo"

    console.print(Rule("[bold]assay demo[/]: a churn model from raw data to production", align="left"))
    console.print(f"store {client.db.safe_url} · artifacts {client.settings.artifacts_url}", style="dim", markup=False)

    with report.step(console, f"Generating {rows:,} customers") as s:
        table = customers(rows, seed)
        data_path = write_parquet(table, folder / "customers.parquet")
        churn_rate = float(table[LABEL].mean())
        s.done = f"Generated {rows:,} customers ({churn_rate:.1%} churned) → {escape(str(data_path))}"
    with report.step(console, "Splitting train/test") as s:
        data = split(table, folder, seed=seed)
        s.done = f"Split {len(data.X_train):,} train / {len(data.X_test):,} test rows (stratified, seed {seed})"

    trained = [_train(console, client, spec, data) for spec in (linear_spec(seed), boosting_spec(seed))]

    chosen = max(trained, key=lambda t: t.metrics["auc"])
    other = next(t for t in trained if t is not chosen)
    diff = auc_difference(data.y_test.to_numpy(), chosen.test_scores, other.test_scores)
    with report.step(console, f"Setting alias '{ALIAS}'") as s:
        client.set_alias(MODEL_NAME, ALIAS, chosen.version.version)
        s.done = (
            f"Chose [bold]{chosen.name}[/]: AUC {diff['difference']:+.3f} vs {other.name} "
            f"(95% CI {diff['ci_low']:+.3f} to {diff['ci_high']:+.3f}, DeLong, n={len(data.y_test):,}) "
            f"→ {MODEL_NAME}@{ALIAS} = v{chosen.version.version}"
        )

    uri = f"models:/{MODEL_NAME}@{ALIAS}"
    batch_rows = min(_BATCH_ROWS, rows)
    with report.step(console, f"Loading {uri} and scoring {batch_rows:,} new customers") as s:
        predictor = client.load_model(uri)
        batch = customers(batch_rows, seed + 1, first_id=rows + 1)
        scores = np.asarray(predictor.predict_proba(batch.drop(columns=[LABEL])))[:, 1]
        scored = batch.drop(columns=[LABEL]).assign(churn_probability=scores)
        scored_path = write_parquet(scored, folder / "scored_customers.parquet")
        s.done = (
            f"Loaded {uri} (v{predictor.version}) and scored {batch_rows:,} new customers → {escape(str(scored_path))}"
        )

    client.flush()
    versions = client.registry.list_versions(MODEL_NAME)
    console.print()
    console.print(report.runs_table(client, trained, chosen))
    console.print(report.versions_table(versions, {t.version.version for t in trained}))
    console.print(report.recorded_tree(client, trained))
    console.print()
    console.print(report.score_view(batch, scores, uri))
    console.print(report.next_steps(_commands(trained), _env_note(client)))
    elapsed = time.perf_counter() - started
    console.print(Text(f"Done in {elapsed:.1f}s.", style="bold green"))

    return {
        "project": PROJECT,
        "model_name": MODEL_NAME,
        "alias": ALIAS,
        "rows": rows,
        "seed": seed,
        "churn_rate": churn_rate,
        "train_rows": len(data.X_train),
        "test_rows": len(data.X_test),
        "data_path": str(data_path),
        "store_url": client.db.safe_url,
        "runs": [_run_summary(t) for t in trained],
        "chosen": {**_run_summary(chosen), "model_uri": chosen.version.uri},
        "auc_difference": diff,
        "scored_rows": len(scores),
        "scored_path": str(scored_path),
        "mean_score": float(scores.mean()),
        "elapsed_s": round(elapsed, 3),
    }


def _train(console: Console, client: Client, spec: Any, data: DemoData) -> TrainedModel:
    with report.step(console, f"Training {spec.name}") as s:
        result = train_and_track(client, spec, data)
        m = result.metrics
        s.done = (
            f"Trained [bold]{spec.name}[/]: test AUC {m['auc']:.3f} ({m['auc_ci_low']:.3f}–{m['auc_ci_high']:.3f}), "
            f"run {result.run_id[:12]} → {MODEL_NAME} v{result.version.version}"
        )
    return result


def _run_summary(t: TrainedModel) -> dict[str, Any]:
    m = t.metrics
    return {
        "name": t.name,
        "run_id": t.run_id,
        "version": t.version.version,
        "model_class": t.version.model_class,
        "auc": m["auc"],
        "auc_ci_low": m["auc_ci_low"],
        "auc_ci_high": m["auc_ci_high"],
        "log_loss": m["log_loss"],
        "brier": m["brier"],
        "fit_seconds": round(t.seconds, 3),
    }


def _commands(trained: list[TrainedModel]) -> list[str]:
    return [
        f"assay runs list --project {PROJECT}",
        *(f"assay runs show {t.run_id}" for t in trained),
        f"assay models show {MODEL_NAME}",
    ]


def _env_note(client: Client) -> str | None:
    """How to point the CLI at this store when it is not the one the CLI would open by default."""
    default = Settings.load()
    if (default.store_url, default.artifacts_url) == (client.settings.store_url, client.settings.artifacts_url):
        return None
    return (
        "These commands open the store named by ASSAY_HOME / ASSAY_STORE_URL; to see this demo's store, set "
        f"ASSAY_STORE_URL={client.db.safe_url} and ASSAY_ARTIFACTS_URL={client.settings.artifacts_url}."
    )
