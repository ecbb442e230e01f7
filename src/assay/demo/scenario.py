"""``assay demo``: the whole loop on a generated company, every step recorded in the store.

1. **data**: customers (with demographics), sessions and orders are generated and written to
   ``<home>/demo/``; the customers, orders and training split are checked against their contracts and the
   customers profiled, all recorded against the exact dataset versions;
2. **team**: a demo admin, scientist (ana), reviewer (rui) and viewer (mia) with API tokens (the store becomes
   multi-user; tokens in ``<home>/demo/tokens.env``), and the churn project's policy;
3. **training**: a logistic regression and LightGBM as two tracked runs by ana, registered as versions of
   ``churn``;
4. **governance**: fairness audit by gender and age band, explanations, a completed model card, policy gates;
   ana asks to promote the better model, rui approves, the promotion moves ``churn@production``;
5. **serving**: eight weeks of new customers are batch-scored, and a few online requests go through the
   inference app, whose prediction log is read back;
6. **monitoring**: a weekly monitor on the scored traffic catches the drift injected from week 5 and opens an
   incident;
7. **experiment**: an A/B test of the new model's retention offers against the old one's, analysed with CUPED;
8. **reports**: experiment, model and portfolio reports as HTML in ``<home>/demo/reports/``;
9. the URL of the web UI (``assay demo --serve`` starts it) and the commands to try next.

Example::

    from assay.demo import run_demo
    summary = run_demo(rows=6_000)
    summary["experiment"]["primary"]["estimate"], summary["elapsed_s"]
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from rich.console import Console
from rich.markup import escape
from rich.rule import Rule
from rich.text import Text

from assay.config import Settings
from assay.demo import _report as report
from assay.demo import _views as views
from assay.demo._data import check_and_profile, write_contracts
from assay.demo._experiment import EXPERIMENT, run_ab_test
from assay.demo._governance import approve_and_promote, gather_evidence, save_demo_policy, why_at_risk
from assay.demo._monitoring import MONITOR, watch_production
from assay.demo._reports import write_reports
from assay.demo._serving import SCORE_COLUMN, score_batches, score_online
from assay.demo._team import assemble_team
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
from assay.demo.activity import AS_OF, DRIFT_FROM_WEEK, TRUE_LIFT, demographics, orders, sessions, traffic
from assay.demo.company import LABEL, customers
from assay.demo.serve import ui_url
from assay.errors import InvalidInputError, StateError

if TYPE_CHECKING:
    from assay.tracking.client import Client

__all__ = ["MIN_ROWS", "run_demo"]

#: Fewest customers the demo accepts (the test split needs enough churners to score a model).
MIN_ROWS = 500
ALIAS = "production"


def run_demo(
    *,
    rows: int = 30_000,
    seed: int = 7,
    console: Console | None = None,
    client: Client | None = None,
    host: str = "127.0.0.1",
    port: int = 5000,
) -> dict[str, Any]:
    """Run the end-to-end scenario (see the module docstring) and return a JSON-safe summary of what it recorded.

    Everything is written under the client's home (``ASSAY_HOME``) in ``demo/`` and into the client's store.
    Uses :func:`assay.get_client` unless ``client`` is given; prints to ``console`` (a new
    :class:`rich.console.Console` by default). ``host``/``port`` only shape the printed UI address. About 30 s
    for 30,000 customers on two cores.

    The summary holds ``runs``, ``chosen`` (the production version), ``approval``, ``data`` (contracts,
    profile), ``serving``, ``monitoring``, ``experiment`` (the A/B readout and the true effect), ``reports``
    (HTML paths), ``team`` (users and the tokens file), ``timings`` (seconds per step) and ``elapsed_s``.

    Example::

        run_demo(rows=3_000, seed=1)["chosen"]["model_uri"]  # 'models:/churn/2'
    """
    if isinstance(rows, bool) or not isinstance(rows, int) or rows < MIN_ROWS:
        raise InvalidInputError(f"The 'rows' parameter of run_demo must be an integer ≥ {MIN_ROWS}. Got {rows!r}.")
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise InvalidInputError(f"The 'seed' parameter of run_demo must be a non-negative integer. Got {seed!r}.")
    url = ui_url(host, port)
    started = time.perf_counter()
    if client is None:
        from assay.tracking.fluent import get_client

        client = get_client()
    console = console if console is not None else Console()
    folder = client.settings.home / "demo"
    timings: dict[str, float] = {}

    def step(text: str, key: str) -> Any:
        return report.step(console, text, timings, key)

    console.print(Rule("[bold]assay demo[/]: a churn model from raw data to proven business impact", align="left"))
    console.print(f"store {client.db.safe_url} · artifacts {client.settings.artifacts_url}", style="dim", markup=False)

    # 1. the company -------------------------------------------------------------------------------------
    per_week = max(rows // 10, 250)
    with step(f"Generating a company of {rows:,} customers", "generate") as s:
        table = customers(rows, seed)
        groups = demographics(table, seed)
        files = {
            "customers": write_parquet(table, folder / "customers.parquet"),
            "demographics": write_parquet(groups, folder / "demographics.parquet"),
            "sessions": write_parquet(sessions(table, seed), folder / "sessions.parquet"),
        }
        history = orders(table, seed, start=AS_OF - pd.Timedelta(days=28))
        files["orders"] = write_parquet(history, folder / "orders.parquet")
        production = traffic(per_week, seed, first_id=rows + 1)
        files["traffic"] = write_parquet(production.drop(columns=[LABEL]), folder / "traffic.parquet")
        files["labels"] = write_parquet(production[["customer_id", LABEL]], folder / "traffic_labels.parquet")
        data = split(table, folder, seed=seed)
        files["train"], files["test"] = data.train_path, data.test_path
        churn_rate = float(table[LABEL].mean())
        s.done = (
            f"Generated {rows:,} customers ({churn_rate:.1%} churned), {len(history):,} orders, sessions, "
            f"demographics and {len(production):,} new customers over 8 weeks → {escape(str(folder))}"
        )

    # 2. the team and the policy -------------------------------------------------------------------------
    with step("Setting up the demo team and the churn policy", "team") as s:
        team = assemble_team(client, folder)
        save_demo_policy(team["demo-admin"])
        s.done = (
            f"Team {', '.join(team.tokens)} ({'created' if team.created else 'reused'}; tokens in "
            f"{escape(str(team.env_file))}); policy saved for project '{PROJECT}'"
        )
    ana = team["ana"]
    try:
        # 3. data contracts and profile ----------------------------------------------------------------------
        contracts = write_contracts(folder / "contracts")
        with step("Checking data contracts and profiling", "contracts") as s:
            checks = check_and_profile(ana, files, contracts)
            if not checks.passed:
                failed = [v.summary() for v in checks.validations.values() if not v.passed]
                raise StateError("the generated data broke its contract: " + " ".join(failed))
            s.done = "Contracts passed: " + "; ".join(v.summary().rstrip(".") for v in checks.validations.values())

        # 4. training ------------------------------------------------------------------------------------------
        trained = [_train(console, ana, spec, data, timings) for spec in (linear_spec(seed), boosting_spec(seed))]
        chosen = max(trained, key=lambda t: t.metrics["auc"])
        other = next(t for t in trained if t is not chosen)
        diff = auc_difference(data.y_test.to_numpy(), chosen.test_scores, other.test_scores)

        # 5. governance --------------------------------------------------------------------------------------
        with step("Auditing fairness, explaining and writing the model cards", "governance") as s:
            evidence = {t.version.version: gather_evidence(ana, t, data, groups, seed=seed) for t in trained}
            ev = evidence[chosen.version.version]
            s.done = (
                f"Fairness, explanations and cards stored for v{other.version.version} and v{chosen.version.version}; "
                f"top drivers of v{chosen.version.version}: {', '.join(ev.top_features)}"
            )
        with step(f"Requesting, reviewing and promoting v{chosen.version.version} to '{ALIAS}'", "approval") as s:
            approval = approve_and_promote(team, MODEL_NAME, chosen.version.version, scientist="ana", reviewer="rui")
            s.done = (
                f"ana asked, rui approved (request {approval.request_id}); gates "
                f"{'passed' if approval.gates.passed else '[red]failed[/]'}; {escape(approval.promotion.summary())} "
                f"AUC {diff['difference']:+.3f} vs {other.name} (95% CI {diff['ci_low']:+.3f} to "
                f"{diff['ci_high']:+.3f}, DeLong)"
            )

        # 6. serving -----------------------------------------------------------------------------------------
        uri = f"models:/{MODEL_NAME}@{ALIAS}"
        with step(f"Batch scoring 8 weeks of new customers with {uri}", "batch_scoring") as s:
            batch = score_batches(ana, uri, files["traffic"], files["test"], folder)
            s.done = f"{batch.summary} Reference: the test set, scored the same way."
        with step("Online scoring through the inference app (in-process)", "online_scoring") as s:
            online = score_online(ana, uri, production.drop(columns=[LABEL]))
            s.done = (
                f"{online.requests} requests ({online.rows} customers) answered by v{online.version}, median "
                f"{online.p50_latency_ms:.1f} ms; {online.logged_rows} rows in the prediction log"
            )

        # 7. monitoring --------------------------------------------------------------------------------------
        with step(f"Monitoring 8 weekly windows ('{MONITOR}')", "monitoring") as s:
            watch = watch_production(ana, f"models:/{MODEL_NAME}/{chosen.version.version}", batch.traffic_path,
                                     batch.reference_path, files["labels"])  # fmt: skip
            first = watch.first_alert_week
            s.done = (
                f"Drift injected from week {DRIFT_FROM_WEEK + 1}; first alert in week "
                f"{'-' if first is None else first + 1}; {len(watch.open_incidents)} open incident(s)"
            )

        # 8. experiment ----------------------------------------------------------------------------------------
        with step("Running and analysing the A/B test (CUPED)", "experiment") as s:
            ab, frames = run_ab_test(ana, table, other.version.uri, chosen.version.uri, seed=seed)
            write_parquet(frames["exposures"], folder / "experiment" / "exposures.parquet")
            write_parquet(frames["orders"], folder / "experiment" / "orders.parquet")
            s.done = ab.readout.summary().split(". Sample ratio")[0] + f" (true effect {TRUE_LIFT:+.0%})"

        # 9. reports -----------------------------------------------------------------------------------------
        yearly = float(history["amount"].sum()) * 365.0 / 28.0
        with step("Writing the executive reports", "reports") as s:
            written = write_reports(team["mia"], folder / "reports", experiment=EXPERIMENT, model=MODEL_NAME,
                                    baseline_revenue=yearly)  # fmt: skip
            s.done = "Reports: " + ", ".join(f"{w.name} ({w.report.decision})" for w in written)

        client.flush()
        scores = pd.read_parquet(batch.traffic_path, columns=[SCORE_COLUMN])[SCORE_COLUMN].to_numpy()
        riskiest = production.drop(columns=[LABEL]).iloc[np.argsort(-scores)[:3]].set_index("customer_id")
        reasons = why_at_risk(ana.load_model(uri), riskiest)
        console.print()
        console.print(report.runs_table(client, trained, chosen))
        console.print(
            report.versions_table(client.registry.list_versions(MODEL_NAME), {t.version.version for t in trained})
        )
        console.print(report.recorded_tree(client, trained))
        console.print(views.governance_table(approval, evidence))
        console.print(report.score_view(production, scores, uri))
        console.print(views.reasons_view(reasons))
        console.print(views.monitor_table(watch))
        console.print(views.experiment_view(ab))
        console.print(views.reports_view(written))
        server = _server_command(client, host, port)
        console.print(views.team_view(team, url, server))
        console.print(report.next_steps(_commands(trained, team, folder, server), _env_note(client)))
        elapsed = time.perf_counter() - started
        timings["total"] = round(elapsed, 3)
        console.print(views.timings_table(timings))
        console.print(Text(f"Done in {elapsed:.1f}s. The web UI of this workspace: {url} (`{server}` serves "
                           "it; `assay demo --serve` runs the demo, then serves it).", style="bold green"))  # fmt: skip
    finally:
        team.close()

    primary = ab.primary
    return {
        "project": PROJECT,
        "model_name": MODEL_NAME,
        "alias": ALIAS,
        "rows": rows,
        "seed": seed,
        "churn_rate": churn_rate,
        "train_rows": len(data.X_train),
        "test_rows": len(data.X_test),
        "data_path": str(files["customers"]),
        "workspace": str(folder),
        "store_url": client.db.safe_url,
        "data": {
            "contracts": {k: {"passed": v.passed, "summary": v.summary()} for k, v in checks.validations.items()},
            "profile": checks.profile.summary(),
            "recorded": checks.recorded,
            "files": {k: str(v) for k, v in files.items()},
        },
        "runs": [_run_summary(t) for t in trained],
        "chosen": {**_run_summary(chosen), "model_uri": chosen.version.uri},
        "auc_difference": diff,
        "governance": {
            str(v): {
                "top_features": list(e.top_features),
                "card_missing": list(e.card_missing),
                "fairness": e.fairness.summary(),
            }
            for v, e in evidence.items()
        },
        "approval": {
            "request_id": approval.request_id,
            "requested_by": approval.requested_by,
            "decided_by": approval.decided_by,
            "state": approval.decision.get("state"),
            "gates_passed": approval.gates.passed,
            "gates": [{"gate": g.gate, "status": g.status, "evidence": g.evidence} for g in approval.gates.gates],
            "promotion": approval.promotion.summary(),
            "override": approval.promotion.override,
            "version": approval.promotion.version,
        },
        "serving": {
            "scored_rows": batch.rows,
            "scored_path": str(batch.traffic_path),
            "reference_path": str(batch.reference_path),
            "rows_per_second": batch.rows_per_second,
            "mean_score": batch.mean_score,
            "online_requests": online.requests,
            "online_rows": online.rows,
            "logged_rows": online.logged_rows,
            "online_version": online.version,
        },
        "monitoring": {
            "monitor": MONITOR,
            "drift_from_week": DRIFT_FROM_WEEK + 1,
            "first_alert_week": None if watch.first_alert_week is None else watch.first_alert_week + 1,
            "weeks": [
                {
                    "window_start": w.window_start,
                    "status": w.status,
                    "share_drifted": w.figures.get("drift.share_drifted"),
                    "auc": w.figures.get("performance.auc"),
                    "alerts": [a["rule"] for a in w.alerts],
                    "incidents": list(w.incidents),
                }
                for w in watch.weeks
            ],
            "open_incidents": [i.id for i in watch.open_incidents],
        },
        "experiment": {
            "name": EXPERIMENT,
            "analysis_id": ab.analysis_id,
            "units": ab.units,
            "control_model": other.version.uri,
            "treatment_model": chosen.version.uri,
            "true_lift": ab.true_lift,
            "primary": {
                "metric": primary.metric,
                "estimate": primary.estimate,
                "ci_low": primary.ci_low,
                "ci_high": primary.ci_high,
                "p_value": primary.p_value,
                "significant": primary.significant,
                "method": str(getattr(primary.result, "method", type(primary.result).__name__)),
            },
            "covers_truth": ab.covers_truth,
            "variance_reduction": ab.variance_reduction,
            "decision": ab.readout.summary(),
        },
        "reports": {w.name: {"path": str(w.path), "decision": w.report.decision} for w in written},
        "team": {"users": list(team.tokens), "tokens_file": str(team.env_file), "team_file": str(team.file)},
        "ui_url": url,
        "timings": timings,
        "elapsed_s": round(elapsed, 3),
    }


def _train(console: Console, client: Client, spec: Any, data: DemoData, timings: dict[str, float]) -> TrainedModel:
    with report.step(console, f"Training {spec.name}", timings, f"train_{spec.name}") as s:
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


def _server_command(client: Client, host: str, port: int) -> str:
    """The command that serves this demo's store (its store and artifacts named when not the default)."""
    where = "" if _env_note(client) is None else (
        f"--store-url {client.db.safe_url} --artifacts-url {client.settings.artifacts_url} "
    )  # fmt: skip
    address = "" if (host, port) == ("127.0.0.1", 5000) else f" --host {host} --port {port}"
    return f"assay {where}server{address}"


def _commands(trained: list[TrainedModel], team: Any, folder: Path, server: str) -> list[str]:
    return [
        f"set -a; . {team.env_file}; set +a   # the demo users' tokens",
        f"assay runs list --project {PROJECT}",
        *(f"assay runs show {t.run_id}" for t in trained),
        f"assay models show {MODEL_NAME}",
        f"ASSAY_TOKEN=$ASSAY_TOKEN_RUI assay models requests {MODEL_NAME}",
        f"assay monitor show {MONITOR}   # eight weekly windows; drift from week {DRIFT_FROM_WEEK + 1}",
        "assay incident list   # the drift incident the monitor opened",
        f"assay exp show {EXPERIMENT}",
        f"assay report experiment {EXPERIMENT}",
        f"open {folder / 'reports' / 'experiment.html'}",
        f"{server}   # then open the UI and log in with a token from tokens.env",
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
