"""``assay report ...``: executive reports as self-contained HTML (opens offline) and PDF.

Where the report goes: ``--output PATH`` (the format follows the suffix, ``.html`` or ``.pdf``), ``--pdf PATH``
for a PDF beside it, and ``--format html|pdf|both`` (``both`` writes ``PATH`` with each suffix). Without
``--output`` the report is written to ``report-<kind>-<name>.<suffix>`` in the current folder. The decision
and the paths written are printed (``--json``: as JSON).

Example::

    $ assay report experiment checkout-v2 --baseline-revenue 12000000 --format both
    $ assay report model churn@production --output churn.html --pdf churn.pdf
    $ assay report portfolio --catalog metrics.yaml -o portfolio.pdf
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated

import typer
from rich.text import Text

from assay.cli.context import get_state
from assay.cli.render import JsonOption, print_json, stdout
from assay.errors import InvalidInputError
from assay.reports import Report, experiment_report, model_report, portfolio_report
from assay.reports.impact import BusinessInputs

__all__ = ["app", "output_paths"]

app = typer.Typer(help="Executive reports (HTML and PDF): experiment, model, portfolio.", no_args_is_help=True)

FORMATS = ("html", "pdf", "both")
_SUFFIX = {".html": "html", ".htm": "html", ".pdf": "pdf"}
_TONE_STYLE = {"good": "bold green", "bad": "bold red", "warn": "bold yellow", "neutral": "bold"}

OutputOption = Annotated[
    Path | None, typer.Option("--output", "-o", help="Where to write the report (.html or .pdf).", metavar="PATH")
]
PdfOption = Annotated[Path | None, typer.Option("--pdf", help="Also write a PDF to this path.", metavar="PATH")]
FormatOption = Annotated[
    str | None, typer.Option("--format", help="html, pdf or both (default: from --output's suffix, else html).")
]
BaselineOption = Annotated[
    float | None,
    typer.Option(
        "--baseline-revenue",
        help="Yearly revenue that moves with the primary metric (for the projected "
        "impact; stated by you, never guessed).",
        metavar="AMOUNT",
    ),
]
CurrencyOption = Annotated[str, typer.Option("--currency", help="Currency symbol for money figures.")]
ShareOption = Annotated[
    float, typer.Option("--exposed-share", help="Share of that revenue the change reaches once shipped, in (0, 1].")
]
HorizonOption = Annotated[float, typer.Option("--horizon-years", help="Years the projection covers.")]


def output_paths(kind: str, name: str, output: Path | None, pdf: Path | None, fmt: str | None) -> dict[str, Path]:
    """The files to write, ``{"html": path, "pdf": path}`` (one or both), from the output options.

    >>> output_paths("model", "churn@production", None, None, None)
    {'html': PosixPath('report-model-churn-production.html')}
    """
    if fmt is not None and fmt not in FORMATS:
        raise InvalidInputError(f"--format must be one of {', '.join(FORMATS)}. Got {fmt!r}.")
    out: dict[str, Path] = {}
    if output is not None:
        suffix = _SUFFIX.get(output.suffix.lower())
        if fmt is None:
            if suffix is None:
                raise InvalidInputError(
                    f"--output {str(output)!r} has no .html or .pdf suffix; add one or pass --format html|pdf|both."
                )
            fmt = suffix
        if fmt == "both":
            stem = output.with_suffix("") if suffix else output
            out = {"html": stem.with_name(stem.name + ".html"), "pdf": stem.with_name(stem.name + ".pdf")}
        elif suffix is not None and suffix != fmt:
            raise InvalidInputError(
                f"--output {str(output)!r} ends in {output.suffix} but --format is {fmt}; "
                "make them agree (or use --pdf PATH for a second file)."
            )
        else:
            out = {fmt: output}
    elif fmt is not None or pdf is None:
        slug = re.sub(r"[^A-Za-z0-9_.-]+", "-", f"report-{kind}-{name}" if name else f"report-{kind}").strip("-")
        wanted = ("html", "pdf") if fmt == "both" else ((fmt or "html"),)
        out = {f: Path(f"{slug}.{f}") for f in wanted}
    if pdf is not None:
        if _SUFFIX.get(pdf.suffix.lower()) != "pdf":
            raise InvalidInputError(f"--pdf {str(pdf)!r} must end in .pdf.")
        out["pdf"] = pdf
    return out


def _emit(report: Report, paths: dict[str, Path], json_output: bool) -> None:
    written = {}
    for fmt, path in paths.items():
        written[fmt] = str(report.write_html(path) if fmt == "html" else report.write_pdf(path))
    if json_output:
        print_json(
            {
                "kind": report.kind,
                "title": report.title,
                "decision": report.decision,
                "verdict": report.verdict,
                "headline": report.headline,
                "facts": report.facts,
                "files": written,
            }
        )
        return
    console = stdout()
    console.print(Text(report.title, style="bold"))
    console.print(Text(report.decision, style=_TONE_STYLE[report.tone]))
    console.print(Text(report.headline))
    for fmt, path in written.items():
        console.print(Text(f"wrote {fmt.upper()}: {path}", style="dim"))


@app.command("experiment")
def experiment_cmd(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Experiment name (as stored by `assay exp analyze`).")],
    output: OutputOption = None,
    pdf: PdfOption = None,
    fmt: FormatOption = None,
    baseline_revenue: BaselineOption = None,
    currency: CurrencyOption = "$",
    exposed_share: ShareOption = 1.0,
    horizon_years: HorizonOption = 1.0,
    json_output: JsonOption = False,
) -> None:
    """Report on an experiment: the decision, the effect with its interval, projected impact, risks, unknowns."""
    paths = output_paths("experiment", name, output, pdf, fmt)
    inputs = BusinessInputs(baseline_revenue, currency, exposed_share, horizon_years)
    _emit(experiment_report(name, get_state(ctx).client, inputs=inputs), paths, json_output)


@app.command("model")
def model_cmd(
    ctx: typer.Context,
    ref: Annotated[str, typer.Argument(help="Model version: churn@production, churn/3 or churn (latest).")],
    output: OutputOption = None,
    pdf: PdfOption = None,
    fmt: FormatOption = None,
    baseline_revenue: BaselineOption = None,
    currency: CurrencyOption = "$",
    exposed_share: ShareOption = 1.0,
    horizon_years: HorizonOption = 1.0,
    policy: Annotated[
        Path | None, typer.Option("--policy", help="Policy YAML for the gates (default: the project's).")
    ] = None,
    json_output: JsonOption = False,
) -> None:
    """Report on a model version: health verdict, quality, measured impact, fairness, drift, incidents, gates."""
    paths = output_paths("model", ref, output, pdf, fmt)
    inputs = BusinessInputs(baseline_revenue, currency, exposed_share, horizon_years)
    if policy is not None and not policy.is_file():
        raise InvalidInputError(f"--policy {str(policy)!r} is not a file; pass a policy YAML path.")
    report = model_report(ref, get_state(ctx).client, inputs=inputs, policy=policy)
    _emit(report, paths, json_output)


@app.command("portfolio")
def portfolio_cmd(
    ctx: typer.Context,
    output: OutputOption = None,
    pdf: PdfOption = None,
    fmt: FormatOption = None,
    catalog: Annotated[
        Path | None, typer.Option("--catalog", help="Metric catalog YAML describing the KPIs.", metavar="PATH")
    ] = None,
    alias: Annotated[str, typer.Option("--alias", help="The alias that means 'in production'.")] = "production",
    json_output: JsonOption = False,
) -> None:
    """Report on the whole store: projects and KPIs, models in production, latest experiments, open incidents."""
    paths = output_paths("portfolio", "", output, pdf, fmt)
    if catalog is not None and not catalog.is_file():
        raise InvalidInputError(f"--catalog {str(catalog)!r} is not a file; pass a metric catalog YAML path.")
    _emit(portfolio_report(get_state(ctx).client, catalog=catalog, alias=alias), paths, json_output)
