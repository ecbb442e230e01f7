"""The executive report as a document: a decision, key figures and sections of blocks, rendered to HTML and PDF.

A :class:`Report` is built once from what the store holds (see :mod:`assay.reports.experiment`,
:mod:`~assay.reports.model`, :mod:`~assay.reports.portfolio`) and rendered by two writers that read the same
blocks: :mod:`assay.reports._html` (self-contained HTML, Plotly charts with plotly.js inlined) and
:mod:`assay.reports._pdf` (fpdf2, charts drawn with its primitives). Blocks are plain frozen dataclasses:
:class:`Paragraph`, :class:`Bullets`, :class:`Table`, :class:`Forest` (estimates with intervals) and
:class:`Bars` (values with intervals).

Example::

    report = experiment_report("checkout-v2", baseline_revenue=12_000_000)
    print(report.summary())
    report.write_html("checkout.html"); report.write_pdf("checkout.pdf")
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import html
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from assay.errors import InvalidInputError
from assay.results import ResultMixin

__all__ = [
    "TONES",
    "Bars",
    "Block",
    "Bullets",
    "Forest",
    "ForestRow",
    "KeyFigure",
    "Paragraph",
    "Report",
    "Section",
    "Table",
]

#: How a decision or a finding reads at a glance: colour of its box in both renderings.
TONES = ("good", "bad", "warn", "neutral")


@dataclass(frozen=True)
class Paragraph:
    """A paragraph of plain text; ``tone`` other than ``neutral`` renders it as a call-out."""

    text: str
    tone: str = "neutral"


@dataclass(frozen=True)
class Bullets:
    """A bulleted list; each item may carry a tone (a coloured marker)."""

    items: tuple[str, ...]
    tones: tuple[str, ...] = ()

    def tone(self, i: int) -> str:
        return self.tones[i] if i < len(self.tones) else "neutral"


@dataclass(frozen=True)
class Table:
    """A small table of text cells (the renderers do not paginate rows across columns)."""

    columns: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    caption: str = ""


@dataclass(frozen=True)
class ForestRow:
    """One estimate with its interval; ``low``/``high`` may be ``None`` for an open (one-sided) bound."""

    label: str
    estimate: float
    low: float | None
    high: float | None
    tone: str = "neutral"


@dataclass(frozen=True)
class Forest:
    """A forest plot: estimates with intervals against a reference line (0 for lifts)."""

    title: str
    rows: tuple[ForestRow, ...]
    percent: bool = True
    reference: float = 0.0
    caption: str = ""


@dataclass(frozen=True)
class Bars:
    """Horizontal bars with optional interval whiskers (``rows`` reuse :class:`ForestRow`)."""

    title: str
    rows: tuple[ForestRow, ...]
    percent: bool = False
    caption: str = ""


Block = Paragraph | Bullets | Table | Forest | Bars


@dataclass(frozen=True)
class Section:
    """A titled section of blocks."""

    title: str
    blocks: tuple[Block, ...]


@dataclass(frozen=True)
class KeyFigure:
    """A headline number: ``value`` as shown, ``detail`` its uncertainty or sample size."""

    label: str
    value: str
    detail: str = ""


@dataclass(frozen=True)
class Report(ResultMixin):
    """An executive report: the decision first, then key figures and sections.

    ``kind`` is ``experiment``, ``model`` or ``portfolio``; ``decision`` the short verdict (``"Ship
    treatment"``), ``verdict`` its machine-friendly key (``ship``, ``don't ship``, ``keep running``,
    ``investigate``, ``no readout``; for models ``healthy``, ``needs attention``, ``at risk``; for the
    portfolio ``on track``, ``needs attention``), ``headline`` the sentence that justifies it, ``tone`` its
    colour; ``facts`` the figures behind the text as JSON-safe data (for programs and tests).

    Example::

        r = experiment_report("checkout-v2")
        r.verdict, r.decision                 # ('ship', 'Ship treatment')
        Path("checkout.html").write_text(r.html)
    """

    kind: str
    title: str
    subtitle: str
    decision: str
    verdict: str
    headline: str
    tone: str
    key_figures: tuple[KeyFigure, ...]
    sections: tuple[Section, ...]
    facts: dict[str, Any] = field(default_factory=dict)
    generated_at: str = field(default_factory=lambda: dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"))

    def __post_init__(self) -> None:
        if self.tone not in TONES:
            raise InvalidInputError(f"The 'tone' of a Report must be one of {', '.join(TONES)}. Got {self.tone!r}.")

    def summary(self) -> str:
        figures = "; ".join(f"{k.label}: {k.value}" + (f" ({k.detail})" if k.detail else "") for k in self.key_figures)
        return f"{self.title}. {self.decision}: {self.headline}" + (f" {figures}." if figures else "")

    def section(self, title: str) -> Section:
        """The section called ``title`` (raises ``KeyError`` naming the sections there are)."""
        for s in self.sections:
            if s.title == title:
                return s
        raise KeyError(f"no section {title!r}; sections: {[s.title for s in self.sections]}")

    def text(self) -> str:
        """Every sentence of the report as plain text (headings, paragraphs, bullets, table cells)."""
        lines = [self.title, self.subtitle, f"{self.decision}: {self.headline}"]
        lines += [f"{k.label}: {k.value} {k.detail}".strip() for k in self.key_figures]
        for s in self.sections:
            lines.append(s.title)
            for b in s.blocks:
                if isinstance(b, Paragraph):
                    lines.append(b.text)
                elif isinstance(b, Bullets):
                    lines += [f"- {item}" for item in b.items]
                elif isinstance(b, Table):
                    lines += [" | ".join(b.columns), *(" | ".join(r) for r in b.rows)]
                    lines += [b.caption] if b.caption else []
                else:
                    lines += [b.title, *(r.label for r in b.rows)] + ([b.caption] if b.caption else [])
        return "\n".join(line for line in lines if line)

    @property
    def html(self) -> str:
        """The report as one self-contained HTML page (inline CSS, plotly.js embedded; opens offline)."""
        from assay.reports._html import render_html

        return render_html(self)

    def to_pdf(self) -> bytes:
        """The report as PDF bytes (fpdf2; charts drawn with its primitives, no browser needed)."""
        from assay.reports._pdf import render_pdf

        return render_pdf(self)

    def write_html(self, path: str | os.PathLike[str]) -> Path:
        """Write :attr:`html` to ``path`` (folders created); return the path."""
        return _write(path, self.html.encode("utf-8"))

    def write_pdf(self, path: str | os.PathLike[str]) -> Path:
        """Write :meth:`to_pdf` to ``path`` (folders created); return the path."""
        return _write(path, self.to_pdf())

    def write(self, path: str | os.PathLike[str]) -> Path:
        """Write HTML or PDF, chosen by the suffix of ``path`` (``.html``/``.htm`` or ``.pdf``)."""
        suffix = Path(path).suffix.lower()
        if suffix in (".html", ".htm"):
            return self.write_html(path)
        if suffix == ".pdf":
            return self.write_pdf(path)
        raise InvalidInputError(f"Cannot tell the format of {str(path)!r}: end it in .html or .pdf.")

    def to_dict(self) -> dict[str, Any]:
        out = super().to_dict()
        out["sections"] = [
            {"title": s.title, "blocks": [{"type": type(b).__name__.lower(), **_plain(b)} for b in s.blocks]}
            for s in self.sections
        ]
        return out

    def _repr_html_(self) -> str:
        from assay.reports._html import render_body

        return f"<div class='assay-report'>{render_body(self, charts=False)}</div>"


def _plain(block: Block) -> dict[str, Any]:
    from assay.results import json_safe

    return {f.name: json_safe(getattr(block, f.name)) for f in dataclasses.fields(block)}


def _write(path: str | os.PathLike[str], data: bytes) -> Path:
    target = Path(path)
    if target.exists() and target.is_dir():
        raise InvalidInputError(f"{str(target)!r} is a folder; give a file path such as report.html or report.pdf.")
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, target)
    return target


def escape(text: str) -> str:
    """HTML-escape ``text`` (quotes included)."""
    return html.escape(text, quote=True)
