"""The report document: validation, JSON, notebook view, atomic writes, and Latin-1 text for the PDF fonts."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from assay.errors import InvalidInputError
from assay.reports import Bars, Bullets, Forest, ForestRow, KeyFigure, Paragraph, Report, Section, Table
from assay.reports._pdf import latin1

from .conftest import assert_offline, pdf_pages, pdf_text


def _report(**kw: object) -> Report:
    sections = (
        Section(
            "Findings",
            (
                Paragraph("Conversion rose ≥ 2% – a clear gain → ship.", "good"),
                Bullets(("one", "two"), ("bad",)),
                Table(("a", "b"), (("1", "2"),), "caption text"),
                Forest("Lifts", (ForestRow("x", 0.02, 0.01, 0.03, "good"), ForestRow("y", -0.01, None, 0.02))),
                Bars("Rates", (ForestRow("F", 0.3, 0.28, 0.32),), percent=True),
            ),
        ),
    )
    fields = {"kind": "experiment", "title": "T <b>", "subtitle": "s", "decision": "Ship", "verdict": "ship",
              "headline": "h", "tone": "good", "key_figures": (KeyFigure("Lift", "+2.0%", "between +1.0% and +3.0%"),),
              "sections": sections} | kw  # fmt: skip
    return Report(**fields)  # type: ignore[arg-type]


def test_renderings_escape_and_stay_offline(tmp_path: Path) -> None:
    r = _report()
    html = r.html
    assert "T &lt;b&gt;" in html and "<b>" not in html.split("<body>")[1].split("</header>")[0]
    assert_offline(html)
    assert html.count("Plotly.newPlot") == 2
    notebook = r._repr_html_()
    assert "Ship" in notebook and "<script" not in notebook and "Lifts" in notebook  # charts as tables
    data = r.to_pdf()
    text = pdf_text(data)
    assert pdf_pages(data) == 1 and "Conversion rose >= 2% - a clear gain -> ship." in text
    assert "+2.0% (+1.0% to +3.0%)" in text and "30.0% (28.0% to 32.0%)" in text  # forest signed, bars not
    assert json.loads(json.dumps(r.to_dict()))["sections"][0]["blocks"][3]["type"] == "forest"
    assert r.summary() == "T <b>. Ship: h Lift: +2.0% (between +1.0% and +3.0%)."


def test_validation_and_writes(tmp_path: Path) -> None:
    with pytest.raises(InvalidInputError, match="'tone' of a Report must be one of good, bad, warn, neutral"):
        _report(tone="green")
    with pytest.raises(InvalidInputError, match="is a folder"):
        _report().write_html(tmp_path)
    path = _report().write_pdf(tmp_path / "deep" / "r.pdf")
    assert path.read_bytes().startswith(b"%PDF-") and not list(path.parent.glob(".*.tmp"))
    assert _report().write(tmp_path / "r.HTML").read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    assert _report().write(tmp_path / "r2.pdf").read_bytes().startswith(b"%PDF-")
    with pytest.raises(InvalidInputError, match=r"end it in \.html or \.pdf"):
        _report().write(tmp_path / "r.docx")
    with pytest.raises(KeyError, match="sections: \\['Findings'\\]"):
        _report().section("Nope")


def test_latin1_mapping() -> None:
    assert latin1("a – b ≥ c → d … ±5% × 2 ✓ 中") == "a - b >= c -> d ... ±5% × 2 v ?"
