"""``assay report ...``: files written where asked, decision printed, exit codes for bad input and unknown names."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from assay.cli.main import app
from assay.cli.report import output_paths
from assay.errors import InvalidInputError

from .conftest import World, assert_offline, pdf_text


def _run(world: World, *args: str) -> Result:
    s = world.client.settings
    base = ["--store-url", s.store_url, "--artifacts-url", s.artifacts_url, "--home", str(s.home)]
    return CliRunner().invoke(app, [*base, "report", *args], env={"COLUMNS": "200"})


def test_experiment_report_to_html_and_pdf(world: World, tmp_path: Path) -> None:
    out = tmp_path / "exp.html"
    result = _run(
        world,
        "experiment",
        "retention-offers",
        "-o",
        str(out),
        "--pdf",
        str(tmp_path / "exp.pdf"),
        "--baseline-revenue",
        "2000000",
        "--currency",
        "€",
    )
    assert result.exit_code == 0, result.output
    assert "Ship treatment" in result.stdout and f"wrote HTML: {out}" in result.stdout
    html = out.read_text(encoding="utf-8")
    assert "Projected revenue per year" in html and "€" in html
    assert_offline(html)
    assert "Ship treatment" in pdf_text((tmp_path / "exp.pdf").read_bytes())


def test_format_both_and_json(world: World, tmp_path: Path) -> None:
    result = _run(world, "model", "churn@production", "--format", "both", "-o", str(tmp_path / "churn"), "--json")
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    assert payload["verdict"] == "at risk" and payload["facts"]["model"] == "churn"
    assert payload["files"] == {"html": str(tmp_path / "churn.html"), "pdf": str(tmp_path / "churn.pdf")}
    assert (tmp_path / "churn.pdf").read_bytes().startswith(b"%PDF-")


def test_default_file_name_in_the_current_folder(world: World, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    result = _run(world, "portfolio", "--format", "pdf")
    assert result.exit_code == 0, result.output
    assert (tmp_path / "report-portfolio.pdf").read_bytes().startswith(b"%PDF-")
    assert "Data-science portfolio" in result.stdout


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["experiment", "nope"], 3, "error: experiment 'nope' not found; recorded experiments:"),
        (["model", "nope@production"], 3, "error: model 'nope' not found"),
        (["model", "churn@staging"], 3, "has no alias 'staging'"),
        (["experiment", "retention-offers", "--format", "docx"], 2, "--format must be one of html, pdf, both"),
        (["experiment", "retention-offers", "-o", "out.txt"], 2, "has no .html or .pdf suffix"),
        (["experiment", "retention-offers", "-o", "a.pdf", "--format", "html"], 2, "make them agree"),
        (["experiment", "retention-offers", "--baseline-revenue", "-1"], 2, "'baseline_revenue' parameter"),
        (["portfolio", "--catalog", "missing.yaml"], 2, "is not a file"),
    ],
)
def test_errors_map_to_exit_codes(
    world: World, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, args: list[str], code: int, message: str
) -> None:
    monkeypatch.chdir(tmp_path)
    result = _run(world, *args)
    assert result.exit_code == code, result.output
    assert message in result.stderr and "Traceback" not in result.output
    assert not list(tmp_path.iterdir())  # nothing half-written


def test_output_paths() -> None:
    assert output_paths("experiment", "a b", None, None, "both") == {
        "html": Path("report-experiment-a-b.html"),
        "pdf": Path("report-experiment-a-b.pdf"),
    }
    assert output_paths("model", "m", Path("x.html"), Path("y.pdf"), None) == {
        "html": Path("x.html"),
        "pdf": Path("y.pdf"),
    }
    assert output_paths("model", "m", None, Path("y.pdf"), None) == {"pdf": Path("y.pdf")}
    with pytest.raises(InvalidInputError, match=r"must end in \.pdf"):
        output_paths("model", "m", None, Path("y.html"), None)
