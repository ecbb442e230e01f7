"""Rich rendering for the demo: progress steps, what was recorded, scores, and where to look next.

Everything shown about runs and versions is read back from the store, so the output is proof that
the data arrived, not an echo of what the demo meant to write.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from rich import box
from rich.console import Console, Group
from rich.panel import Panel
from rich.table import Table
from rich.text import Text
from rich.tree import Tree

if TYPE_CHECKING:
    from assay.demo._train import TrainedModel
    from assay.registry.registry import ModelVersion
    from assay.tracking.client import Client

__all__ = ["Step", "next_steps", "recorded_tree", "runs_table", "score_view", "step", "versions_table"]


@dataclass
class Step:
    """A progress step; set ``done`` to the line printed when it finishes."""

    text: str
    done: str | None = None
    seconds: float = 0.0


@contextmanager
def step(
    console: Console, text: str, timings: dict[str, float] | None = None, key: str | None = None
) -> Iterator[Step]:
    """Show a spinner while the block runs, then a ✓ line with the elapsed seconds (also added to
    ``timings[key or text]`` when given)."""
    current = Step(text)
    started = time.perf_counter()
    with console.status(f"{text}…", spinner="dots"):
        yield current
    current.seconds = time.perf_counter() - started
    if timings is not None:
        name = key or text
        timings[name] = round(timings.get(name, 0.0) + current.seconds, 3)
    console.print(f"[green]✓[/] {current.done or text} [dim]({current.seconds:.1f}s)[/]")


def runs_table(client: Client, trained: Sequence[TrainedModel], chosen: TrainedModel) -> Table:
    """One row per run, read back from the store: status, test metrics with the AUC interval, version."""
    table = _table("Runs in project 'churn' (metrics on the test set)")
    table.add_column("run", no_wrap=True)
    table.add_column("status")
    table.add_column("AUC ± 95% CI", no_wrap=True)
    table.add_column("log loss", justify="right")
    table.add_column("Brier", justify="right")
    table.add_column("model", no_wrap=True)
    for t in trained:
        info = client.run_info(t.run_id)
        m = info["metrics"]
        table.add_row(
            info["name"],
            info["status"],
            f"{m['auc']:.3f} ± {(m['auc_ci_high'] - m['auc_ci_low']) / 2:.3f}",
            f"{m['log_loss']:.3f}",
            f"{m['brier']:.3f}",
            f"v{t.version.version}{' [bold green]★[/]' if t is chosen else ''}",
        )
    return table


def versions_table(versions: Sequence[ModelVersion], ours: set[int], *, limit: int = 6) -> Table:
    """Registered versions of ``churn`` (newest first), aliases included; this demo's marked ``new``."""
    table = _table("Model 'churn' in the registry")
    for col in ("version", "aliases", "class", "stored as", "from run", ""):
        table.add_column(col)
    newest = sorted(versions, key=lambda v: v.version, reverse=True)
    for v in newest[:limit]:
        table.add_row(
            f"v{v.version}",
            ", ".join(v.aliases) or "-",
            v.model_class.rsplit(".", 1)[-1],
            v.flavor,
            (v.run_id or "-")[:12],
            "[cyan]new[/]" if v.version in ours else "",
        )
    if len(newest) > limit:
        table.caption = f"{len(newest) - limit} older version(s) not shown"
    return table


def recorded_tree(client: Client, trained: Sequence[TrainedModel]) -> Tree:
    """What each run holds in the store: params, metrics, curve points, datasets, artifacts."""
    tree = Tree("[bold]What was recorded[/] (read back from the store)")
    for t in trained:
        info = client.run_info(t.run_id)
        inputs = client.run_inputs(t.run_id)
        artifacts = [a["path"] for a in client.list_artifacts(t.run_id)]
        node = tree.add(f"[bold]{info['name']}[/] [dim]run {t.run_id}[/]")
        curve = f" + {t.curve_points} training-curve points (one per iteration)" if t.curve_points else ""
        node.add(f"{len(info['params'])} params, {len(info['metrics'])} metrics{curve}")
        datasets = ", ".join(
            f"{i['role']} = {i['name']} ({_int(i.get('num_rows'))} rows, sha256 {str(i.get('fingerprint'))[:10]}…)"
            for i in inputs
        )
        node.add(f"datasets: {datasets}")
        evaluation = [p.split("/", 1)[1] for p in artifacts if p.startswith("evaluation/")]
        model_files = sum(p.startswith("model/") for p in artifacts)
        node.add(f"artifacts: evaluation/ ({', '.join(evaluation)}), model/ ({model_files} files)")
    return tree


def score_view(batch: pd.DataFrame, scores: np.ndarray, uri: str, *, top: int = 8) -> Group:
    """Distribution of churn scores over a batch (ten bands) and the riskiest customers."""
    bands = pd.cut(scores, np.linspace(0, 1, 11), include_lowest=True, right=False)
    counts = pd.Series(bands).value_counts(sort=False)
    hist = _table(f"Churn scores from {uri} ({len(scores):,} new customers)")
    hist.add_column("probability")
    hist.add_column("customers", justify="right")
    hist.add_column("share", justify="right")
    hist.add_column("")
    peak = max(int(counts.max()), 1)
    for interval, count in counts.items():
        bar = "█" * round(30 * int(count) / peak)
        hist.add_row(f"{interval.left:.1f}–{interval.right:.1f}", f"{int(count):,}", f"{count / len(scores):.1%}", bar)
    expected = float(scores.sum())
    caption = Text(
        f"mean score {scores.mean():.3f}; expected churners {expected:,.0f} of {len(scores):,} "
        f"({expected / len(scores):.1%}); {int((scores >= 0.5).sum()):,} score ≥ 0.5",
        style="dim",
    )

    cols = {
        "customer_id": "customer",
        "plan": "plan",
        "contract": "contract",
        "tenure_months": "tenure",
        "days_since_last_login": "idle days",
        "support_tickets_90d": "tickets",
        "payment_failures": "failures",
    }
    order = np.argsort(-scores, kind="stable")[:top]
    risky = _table(f"Top {len(order)} customers at risk")
    risky.add_column("p(churn)", justify="right")
    for col, header in cols.items():
        risky.add_column(header, justify="left" if col in ("customer_id", "plan", "contract") else "right")
    for i in order:
        row = batch.iloc[int(i)]
        risky.add_row(f"{scores[i]:.2f}", *(str(row[c]) for c in cols))
    legend = Text(
        "tenure in months; idle days since the last login; support tickets in the last 90 days; failed payments",
        style="dim",
    )
    return Group(hist, caption, Text(""), risky, legend)


def next_steps(commands: Sequence[str], note: str | None = None) -> Panel:
    """The commands that show what the demo recorded."""
    body = Text()
    if note:
        body.append(note + "\n\n", style="dim")
    for i, cmd in enumerate(commands):
        body.append(("\n" if i else "") + "$ ", style="dim")
        body.append(cmd, style="bold cyan")
    return Panel(body, title="Look at it", title_align="left", expand=False)


def _table(title: str) -> Table:
    return Table(title=title, title_justify="left", title_style="bold", box=box.SIMPLE_HEAD, pad_edge=False)


def _int(value: Any) -> str:
    return "?" if value is None else f"{int(value):,}"
