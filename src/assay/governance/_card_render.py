"""Markdown and HTML renderings of a :class:`~assay.governance.card.ModelCard`.

Both renderings walk the same list of sections. Every value that came from a person or a run (field text,
param values, dataset names, the fairness report) is escaped: ``html.escape`` in HTML; in Markdown ``&``, ``<``
and ``>`` become entities (most Markdown viewers pass raw HTML through) and table cells also escape ``|``.
The HTML page is self-contained: inline CSS, no scripts, no external resources.
"""

from __future__ import annotations

import html
import json
import math
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from assay.governance.card import CardDataset, CardMetric, ModelCard

__all__ = ["render_html", "render_html_body", "render_markdown"]

_MAX_ROWS = 200
# Blocks: ("text", str) | ("table", title, columns, rows) | ("missing", message) | ("pre", title, str)
Block = tuple[Any, ...]

_CSS = """
body{font-family:-apple-system,Segoe UI,Helvetica,Arial,sans-serif;max-width:960px;margin:2em auto;padding:0 1em;
color:#1b1f23;line-height:1.5}
h1{border-bottom:2px solid #d0d7de;padding-bottom:.3em}h2{border-bottom:1px solid #d0d7de;margin-top:1.6em}
table{border-collapse:collapse;margin:.6em 0}th,td{border:1px solid #d0d7de;padding:.25em .6em;text-align:left;
vertical-align:top}th{background:#f6f8fa}
.banner{background:#fff4ce;border:2px solid #d4a72c;padding:.8em 1em;border-radius:6px;font-weight:600}
.complete{background:#dafbe1;border:2px solid #2da44e;padding:.6em 1em;border-radius:6px}
.missing{color:#9a6700;background:#fff8e1;border-left:4px solid #d4a72c;padding:.4em .8em}
pre{background:#f6f8fa;padding:.6em;overflow:auto;white-space:pre-wrap}.muted{color:#57606a;font-size:.9em}
"""
_BANNER = "background:#fff4ce;border:2px solid #d4a72c;padding:.8em 1em;font-weight:600"  # inline: notebooks


def _num(value: float | None) -> str:
    if value is None:
        return "-"
    if isinstance(value, float) and math.isnan(value):
        return "nan"
    return f"{value:.4g}"


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, float):
        return _num(value)
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, dict | list):
        return json.dumps(value, default=str)[:500]
    return str(value)


def _metric_row(m: CardMetric) -> list[Any]:
    if m.ci_low is not None or m.ci_high is not None:
        level = f" ({m.ci_level:.0%})" if m.ci_level is not None and 0 < m.ci_level < 1 else ""
        interval = f"[{_num(m.ci_low)}, {_num(m.ci_high)}]{level}"
    else:
        interval = "not logged"
    return [m.name, _num(m.value), interval, m.status]


def _dataset_rows(data: tuple[CardDataset, ...]) -> list[list[Any]]:
    return [[d.role, d.name, d.num_rows, d.num_columns, d.fingerprint[:16], d.source_uri or "-"] for d in data]


def _missing(card: ModelCard, key: str) -> Block:
    from assay.governance.card import _BY_NAME

    spec = _BY_NAME.get(key)
    if key == "metrics":
        return ("missing", "MISSING: no metrics were logged on the model's run; log them (run.log_metric) "
                           "with their intervals as <metric>_ci_low / <metric>_ci_high.")  # fmt: skip
    hint = f" (or record {spec.unless})" if spec and spec.unless else ""
    what = spec.description if spec else ""
    return ("missing", f"MISSING: {what} Fill it with edit_card('{card.uri}', {{'{key}': ...}}){hint}.")


def _human(card: ModelCard, key: str, *, title: str | None = None) -> list[Block]:
    text = card.fields.get(key)
    if text:
        return [("sub", title), ("text", text)] if title else [("text", text)]
    return []


def _fairness_blocks(report: dict[str, Any]) -> list[Block]:
    """A generic, bounded rendering of a fairness report's JSON: scalars, tables of records, the rest as JSON."""
    blocks: list[Block] = []
    if isinstance(report.get("summary"), str):
        blocks.append(("text", report["summary"]))
    scalars = [[k, v] for k, v in report.items() if k != "summary" and not isinstance(v, dict | list)]
    if scalars:
        blocks.append(("table", None, ["figure", "value"], scalars))
    for key, value in report.items():
        if isinstance(value, list) and value and all(isinstance(r, dict) for r in value):
            cols = list(dict.fromkeys(c for r in value[:_MAX_ROWS] for c in r))
            blocks.append(("table", key, cols, [[r.get(c) for c in cols] for r in value[:_MAX_ROWS]]))
        elif isinstance(value, dict) and value and all(isinstance(r, dict) for r in value.values()):
            cols = list(dict.fromkeys(c for r in list(value.values())[:_MAX_ROWS] for c in r))
            rows = [[k, *(r.get(c) for c in cols)] for k, r in list(value.items())[:_MAX_ROWS]]
            blocks.append(("table", key, ["", *cols], rows))
        elif isinstance(value, dict) and value and not any(isinstance(v, dict | list) for v in value.values()):
            blocks.append(("table", key, ["", "value"], [[k, v] for k, v in value.items()]))
        elif isinstance(value, dict | list):
            blocks.append(("pre", key, json.dumps(value, indent=2, default=str)[:20_000]))
    return blocks


def _sections(card: ModelCard) -> list[tuple[str, list[Block]]]:
    run = f"{card.run_id} ({card.run_name}, project {card.project})" if card.project else (card.run_id or "-")
    details: list[Block] = [
        *_human(card, "overview"),
        (
            "table",
            None,
            ["", ""],
            [
                ["Name", card.name],
                ["Version", card.version],
                ["URI", card.uri],
                ["Aliases", ", ".join(card.aliases) or "-"],
                ["Flavor", card.flavor],
                ["Class", card.model_class or "-"],
                ["Created", f"{card.created_at:%Y-%m-%d %H:%M} UTC"],
                ["Author (run user)", card.author or "-"],
                ["Run", run],
                ["Description", card.description or "-"],
            ],
        ),
        *_human(card, "owners", title="Owners"),
    ]
    if card.params:
        details += [
            ("sub", "Parameters"),
            ("table", None, ["param", "value"], [[k, v] for k, v in card.params.items()]),
        ]
    if card.features:
        details += [
            ("sub", "Features (signature)"),
            ("table", None, ["column", "type"], [list(f) for f in card.features]),
        ]
    if card.outputs:
        details += [("sub", "Outputs"), ("table", None, ["column", "type"], [list(f) for f in card.outputs])]
    use = _human(card, "intended_use") or [_missing(card, "intended_use")]
    use += _human(card, "intended_users", title="Intended users") + _human(
        card, "out_of_scope_uses", title="Out-of-scope uses"
    )
    metrics: list[Block] = (
        [("table", None, ["metric", "value", "interval", "status"], [_metric_row(m) for m in card.metrics])]
        if card.metrics
        else [_missing(card, "metrics")]
    )
    no_ci = [m.name for m in card.metrics if m.status != "ok"]
    if no_ci:
        rows = sum(d.num_rows or 0 for d in card.evaluation_data)
        sample = f"evaluation sample: {rows:,} rows" if rows else "no evaluation dataset recorded, so no sample size"
        metrics.append(
            (
                "text",
                f"No valid interval for {', '.join(no_ci)} ({sample}): log <metric>_ci_low and <metric>_ci_high "
                "(e.g. from a bootstrap) on the run.",
            )
        )
    ds_cols = ["role", "dataset", "rows", "columns", "fingerprint", "source"]
    evaluation: list[Block] = []
    if card.evaluation_data:
        evaluation.append(("table", None, ds_cols, _dataset_rows(card.evaluation_data)))
    evaluation += _human(card, "evaluation_data")
    if "evaluation_data" in card.missing:
        evaluation.append(_missing(card, "evaluation_data"))
    training: list[Block] = []
    if card.training_data:
        training.append(("table", None, ds_cols, _dataset_rows(card.training_data)))
    else:
        training.append(("text", "No training dataset was recorded on the run (run.log_dataset(df, role='train'))."))
    training += _human(card, "training_data")
    quant: list[Block] = []
    if card.fairness is not None:
        quant += [("sub", "Fairness by group"), *_fairness_blocks(card.fairness)]
    quant += _human(card, "quantitative_analyses")
    if "quantitative_analyses" in card.missing:
        quant.append(_missing(card, "quantitative_analyses"))
    sections = [
        ("Model details", details),
        ("Intended use", use),
        ("Factors", _human(card, "factors") or [_missing(card, "factors")]),
        ("Metrics", metrics),
        ("Evaluation data", evaluation),
        ("Training data", training),
        ("Quantitative analyses", quant),
        (
            "Ethical considerations",
            _human(card, "ethical_considerations") or [_missing(card, "ethical_considerations")],
        ),
        (
            "Caveats and recommendations",
            _human(card, "caveats_and_recommendations") or [_missing(card, "caveats_and_recommendations")],
        ),
    ]
    if card.notes:
        sections.append(("Notes", [("text", n) for n in card.notes]))
    return sections


def _banner_text(card: ModelCard) -> str:
    from assay.governance.card import SECTION_TITLES

    return "INCOMPLETE model card: missing " + ", ".join(SECTION_TITLES[m] for m in card.missing) + "."


def _footer(card: ModelCard) -> str:
    edited = (
        f"Human-written fields last edited by {card.updated_by} on {card.updated_at:%Y-%m-%d %H:%M} UTC."
        if card.updated_at is not None
        else "No human-written fields yet."
    )
    return f"Generated by assay from the registry, the run and its lineage. {edited}"


# -- Markdown ------------------------------------------------------------------------------------------
def _md(text: Any) -> str:
    return str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _md_cell(value: Any) -> str:
    return _md(_cell(value)).replace("|", "\\|").replace("\r", " ").replace("\n", " ")


def _md_block(block: Block) -> list[str]:
    kind = block[0]
    if kind == "text":
        return [_md(block[1]), ""]
    if kind == "sub":
        return [f"### {_md(block[1])}", ""]
    if kind == "missing":
        return [f"> **{_md(block[1])}**", ""]
    if kind == "pre":
        return [f"**{_md(block[1])}**", "", "```", _md(block[2]).replace("```", "'''"), "```", ""]
    _, title, cols, rows = block
    out = [f"**{_md(title)}**", ""] if title else []
    out += ["| " + " | ".join(_md_cell(c) for c in cols) + " |", "|" + "---|" * len(cols)]
    out += ["| " + " | ".join(_md_cell(v) for v in row) + " |" for row in rows]
    return [*out, ""]


def render_markdown(card: ModelCard) -> str:
    lines = [f"# Model card: {_md(card.name)} v{card.version}", ""]
    if not card.complete:
        lines += [f"> **⚠ {_md(_banner_text(card))}**", ""]
    lines += [_md(card.summary()), ""]
    for title, blocks in _sections(card):
        lines += [f"## {title}", ""]
        for block in blocks:
            lines += _md_block(block)
    lines += ["---", "", f"_{_md(_footer(card))}_", ""]
    return "\n".join(lines)


# -- HTML ----------------------------------------------------------------------------------------------
def _h(text: Any) -> str:
    return html.escape(str(text), quote=True)


def _h_text(text: str) -> str:
    paragraphs = [p for p in str(text).replace("\r\n", "\n").split("\n\n") if p.strip()]
    return "".join(f"<p>{_h(p).replace(chr(10), '<br>')}</p>" for p in paragraphs)


def _h_block(block: Block) -> str:
    kind = block[0]
    if kind == "text":
        return _h_text(block[1])
    if kind == "sub":
        return f"<h3>{_h(block[1])}</h3>"
    if kind == "missing":
        return f"<p class='missing' style='color:#9a6700'>{_h(block[1])}</p>"
    if kind == "pre":
        return f"<h4>{_h(block[1])}</h4><pre>{_h(block[2])}</pre>"
    _, title, cols, rows = block
    head = f"<h4>{_h(title)}</h4>" if title else ""
    th = "" if not any(cols) else "<tr>" + "".join(f"<th>{_h(c)}</th>" for c in cols) + "</tr>"
    body = "".join("<tr>" + "".join(f"<td>{_h(_cell(v))}</td>" for v in row) + "</tr>" for row in rows)
    return f"{head}<table>{th}{body}</table>"


def render_html_body(card: ModelCard) -> str:
    """The card as an HTML fragment (for notebooks), every value escaped."""
    parts = [f"<div class='assay-model-card'><h1>Model card: {_h(card.name)} v{card.version}</h1>"]
    if card.complete:
        parts.append("<div class='complete'>Complete: every required section is filled.</div>")
    else:
        parts.append(f"<div class='banner' role='alert' style='{_BANNER}'>⚠ {_h(_banner_text(card))}</div>")
    parts.append(f"<p>{_h(card.summary())}</p>")
    for title, blocks in _sections(card):
        parts.append(f"<h2>{_h(title)}</h2>" + "".join(_h_block(b) for b in blocks))
    parts.append(f"<hr><p class='muted'>{_h(_footer(card))}</p></div>")
    return "".join(parts)


def render_html(card: ModelCard) -> str:
    """The card as one self-contained HTML page."""
    status = "complete" if card.complete else "incomplete"
    return (
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
        f"<title>Model card: {_h(card.name)} v{card.version} ({status})</title>"
        f"<style>{_CSS}</style></head><body>{render_html_body(card)}</body></html>\n"
    )
