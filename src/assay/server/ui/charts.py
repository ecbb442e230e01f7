"""Plotly figures of the UI, rendered as ``<div>`` + script snippets for plotly.js served by the app itself.

Each builder takes plain data (already read by a route) and returns HTML; nothing here touches the store.

Example::

    html = line_chart("auc", {"run-a": [(0, 0.71), (1, 0.74)]}, x_title="step")
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import plotly.graph_objects as go
import plotly.io as pio

__all__ = ["bar_chart", "forest_plot", "heat_map", "line_chart", "lineage_graph", "to_html"]

_CONFIG = {"displaylogo": False, "responsive": True, "modeBarButtonsToRemove": ["select2d", "lasso2d"]}
_LAYOUT = {
    "template": "plotly_white",
    "margin": {"l": 60, "r": 20, "t": 40, "b": 40},
    "font": {"family": "system-ui, sans-serif", "size": 12},
    "legend": {"orientation": "h", "yanchor": "top", "y": -0.25, "x": 0},
}


def to_html(fig: go.Figure, *, height: int = 320) -> str:
    """The figure as ``<div class="plot">`` holding its JSON; ``static/ui.js`` draws every such div once the
    layout is final (and again after an HTMX swap), so each chart fits the box it ends up in."""
    fig.update_layout(height=height, **_LAYOUT)
    spec = pio.to_json({"data": fig.data, "layout": fig.layout, "config": _CONFIG}, validate=False)
    safe = spec.replace("</", "<\\/")  # JSON inside <script>: no "</script>" can end it early
    return f'<div class="plot" style="height:{height}px"><script type="application/json">{safe}</script></div>'


def _finite(v: Any) -> float | None:
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return f if math.isfinite(f) else None


def line_chart(
    title: str,
    series: Mapping[str, Sequence[tuple[Any, Any]]],
    *,
    x_title: str = "",
    y_title: str = "",
    height: int = 300,
    categorical_x: bool = False,
) -> str:
    """One line per named series of ``(x, y)`` points (``categorical_x``: x values are labels, e.g. windows)."""
    fig = go.Figure()
    for name, points in series.items():
        xs = [p[0] for p in points]
        ys = [_finite(p[1]) for p in points]
        fig.add_trace(go.Scatter(x=xs, y=ys, name=name, mode="lines+markers"))
    fig.update_layout(title=title, xaxis_title=x_title, yaxis_title=y_title, showlegend=len(series) > 1)
    if categorical_x:
        fig.update_xaxes(type="category")
    return to_html(fig, height=height)


def heat_map(
    title: str, x: Sequence[str], y: Sequence[str], z: Sequence[Sequence[Any]], *, colorbar: str = "", height: int = 0
) -> str:
    """A heat map of ``z[row][column]`` (rows ``y``, columns ``x``); missing cells stay blank."""
    values = [[_finite(v) for v in row] for row in z]
    fig = go.Figure(go.Heatmap(x=list(x), y=list(y), z=values, colorscale="YlOrRd", colorbar={"title": colorbar},
                               hoverongaps=False))  # fmt: skip
    fig.update_layout(title=title, yaxis={"automargin": True}, xaxis={"type": "category"})
    return to_html(fig, height=height or max(220, 100 + 32 * len(y)))


def forest_plot(rows: Sequence[Mapping[str, Any]], *, title: str = "Effect per metric", height: int = 0) -> str:
    """Estimates with their intervals, one line per row (``label``, ``estimate``, ``ci_low``, ``ci_high``,
    ``role``); relative effects are shown in percent. One-sided (infinite) bounds are drawn to the axis edge."""
    fig = go.Figure()
    finite = [v for r in rows for v in (r["ci_low"], r["ci_high"], r["estimate"]) if _finite(v) is not None]
    span = (max(finite) - min(finite)) if finite else 1.0
    lo_edge = (min(finite) if finite else -1.0) - 0.25 * (span or 1.0)
    hi_edge = (max(finite) if finite else 1.0) + 0.25 * (span or 1.0)
    colours = {"primary": "#1f5fbf", "secondary": "#6b7280", "guardrail": "#b45309"}
    for role in ("primary", "secondary", "guardrail"):
        mine = [r for r in rows if r.get("role") == role]
        if not mine:
            continue
        est = [_finite(r["estimate"]) for r in mine]
        low = [_finite(r["ci_low"]) for r in mine]
        high = [_finite(r["ci_high"]) for r in mine]
        low = [lo_edge if lv is None else lv for lv in low]
        high = [hi_edge if hv is None else hv for hv in high]
        fig.add_trace(
            go.Scatter(
                x=est,
                y=[r["label"] for r in mine],
                mode="markers",
                name=role,
                marker={"size": 10, "color": colours[role]},
                error_x={
                    "type": "data",
                    "symmetric": False,
                    "array": [h - e if e is not None else 0 for e, h in zip(est, high, strict=True)],
                    "arrayminus": [e - lv if e is not None else 0 for e, lv in zip(est, low, strict=True)],
                    "thickness": 2,
                    "width": 6,
                },
                customdata=[[r.get("text", "")] for r in mine],
                hovertemplate="%{y}: %{customdata[0]}<extra></extra>",
            )
        )
    fig.add_vline(x=0, line_dash="dash", line_color="#9ca3af")
    fig.update_layout(
        title=title,
        xaxis_title="effect (relative effects in %)",
        yaxis={"autorange": "reversed", "automargin": True},
    )
    return to_html(fig, height=height or max(220, 90 + 44 * len(rows)))


def bar_chart(
    title: str,
    labels: Sequence[Any],
    values: Sequence[Any],
    *,
    errors: Sequence[tuple[Any, Any]] | None = None,
    horizontal: bool = True,
    x_title: str = "",
    height: int = 0,
) -> str:
    """Bars (horizontal by default, largest first as given), with optional ``(low, high)`` intervals."""
    vals = [_finite(v) for v in values]
    error = None
    if errors is not None:
        plus, minus = [], []
        for v, (lo, hi) in zip(vals, errors, strict=True):
            low, high = _finite(lo), _finite(hi)
            plus.append(high - v if v is not None and high is not None else 0)
            minus.append(v - low if v is not None and low is not None else 0)
        error = {"type": "data", "symmetric": False, "array": plus, "arrayminus": minus}
    if horizontal:
        bar = go.Bar(x=vals, y=list(labels), orientation="h", error_x=error, marker_color="#1f5fbf")
    else:
        bar = go.Bar(x=list(labels), y=vals, error_y=error, marker_color="#1f5fbf")
    fig = go.Figure(bar)
    fig.update_layout(title=title, xaxis_title=x_title, yaxis={"autorange": "reversed", "automargin": True}
                      if horizontal else {})  # fmt: skip
    return to_html(fig, height=height or (max(220, 80 + 26 * len(labels)) if horizontal else 320))


def lineage_graph(columns: Sequence[Sequence[tuple[str, str]]], edges: Sequence[tuple[str, str]]) -> str:
    """A left-to-right graph: ``columns`` are stages, each a list of ``(node id, label)``; ``edges`` join ids."""
    pos: dict[str, tuple[float, float]] = {}
    labels: dict[str, str] = {}
    for i, nodes in enumerate(columns):
        for j, (node, label) in enumerate(nodes):
            pos[node] = (float(i), -(j - (len(nodes) - 1) / 2))
            labels[node] = label
    fig = go.Figure()
    ex: list[float | None] = []
    ey: list[float | None] = []
    for a, b in edges:
        if a in pos and b in pos:
            ex += [pos[a][0], pos[b][0], None]
            ey += [pos[a][1], pos[b][1], None]
    fig.add_trace(go.Scatter(x=ex, y=ey, mode="lines", line={"color": "#9ca3af", "width": 1.5}, hoverinfo="skip"))
    fig.add_trace(
        go.Scatter(
            x=[p[0] for p in pos.values()],
            y=[p[1] for p in pos.values()],
            mode="markers+text",
            text=[labels[n] for n in pos],
            textposition="bottom center",
            marker={"size": 18, "color": "#1f5fbf", "symbol": "square"},
            hovertext=[labels[n] for n in pos],
            hoverinfo="text",
        )
    )
    rows = max((len(c) for c in columns), default=1)
    fig.update_layout(showlegend=False, xaxis={"visible": False, "range": [-0.6, len(columns) - 0.4]},
                      yaxis={"visible": False, "range": [-(rows / 2) - 0.6, rows / 2 + 0.3]})  # fmt: skip
    return to_html(fig, height=max(220, 90 * rows))
