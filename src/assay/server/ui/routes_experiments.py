"""Experiments: the list, and the readout of the latest analysis — decision and plain-language summary, a forest
plot of the effect of every variant on every metric with its interval, sample-ratio check and guardrails."""

from __future__ import annotations

import math
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse

from assay.experiments.persist import list_experiments, load_experiment
from assay.server.ui import charts
from assay.server.ui._web import PREFIX, UiActor, page, router

__all__ = ["routes"]

routes = router()


@routes.get(PREFIX + "/experiments", response_class=HTMLResponse)
def experiments(request: Request, actor: UiActor) -> HTMLResponse:
    actor.require("viewer", None, action="read experiments")
    return page(request, "experiments.html", actor, experiments=list_experiments(actor.client))


def _scaled(value: Any, relative: bool) -> float | None:
    if value is None:
        return None
    number = float(value)
    if math.isnan(number):
        return None
    return number * 100 if relative else number


def _effect_text(row: dict[str, Any]) -> str:
    rel = bool(row["relative"])
    unit = "%" if rel else ""

    def show(v: Any) -> str:
        s = _scaled(v, rel)
        if s is None or not math.isfinite(s):
            return "unbounded"
        return f"{s:+.2f}{unit}"

    return f"{show(row['estimate'])} ({show(row['ci_low'])} to {show(row['ci_high'])})"


@routes.get(PREFIX + "/experiments/{name}", response_class=HTMLResponse)
def readout(request: Request, name: str, actor: UiActor) -> HTMLResponse:
    """The readout of the newest analysis (earlier analyses are listed below it)."""
    actor.require("viewer", None, action="read experiments")
    exp = load_experiment(name, actor.client, analyses=10)
    latest = exp["latest_analyses"][0] if exp["latest_analyses"] else None
    context: dict[str, Any] = {"exp": exp, "latest": latest, "forest": None, "rows": [], "guardrails": [],
                               "srm": None}  # fmt: skip
    if latest is not None:
        overall = [m for m in latest["metrics"] if m["slice"] is None]
        order = {"primary": 0, "secondary": 1, "guardrail": 2}
        overall.sort(key=lambda m: (order.get(m["role"], 3), m["metric"], m["variant"]))
        multi = len({m["variant"] for m in overall}) > 1
        plotted = []
        for m in overall:
            label = m["metric"] + (f" · {m['variant']}" if multi else "") + (" (%)" if m["relative"] else "")
            plotted.append({"label": label, "role": m["role"], "text": _effect_text(m),
                            "estimate": _scaled(m["estimate"], m["relative"]),
                            "ci_low": _scaled(m["ci_low"], m["relative"]),
                            "ci_high": _scaled(m["ci_high"], m["relative"])})  # fmt: skip
            m["text"] = _effect_text(m)
        context["rows"] = overall
        context["forest"] = (
            charts.forest_plot(plotted, title="Effect vs control, with 95% intervals") if plotted else None
        )
        result = latest["result"] or {}
        context["srm"] = result.get("srm")
        context["guardrails"] = [
            {"metric": r["metric"], "variant": r["variant"], "outcome": r.get("outcome"), "status": r.get("status"),
             "margin": (r.get("result") or {}).get("margin"), "passed": (r.get("result") or {}).get("passed"),
             "warnings": r.get("warnings") or []}
            for r in result.get("results", []) if r.get("role") == "guardrail" and r.get("slice") is None
        ]  # fmt: skip
        context["counts"] = result.get("counts") or {}
    return page(request, "readout.html", actor, charts_on_page=True, **context)
