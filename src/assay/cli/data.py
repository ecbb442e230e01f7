"""``assay data ...``: profile, validate against a contract, diff schemas, scan for PII, pseudonymise.

Each command reads its source where it lives (a Parquet/CSV file, glob or folder through in-process
DuckDB; or, with ``--engine URL``, a table or SELECT on that engine) and, with ``--dataset NAME``,
records its result against that dataset version in the store (``assay data profile`` also keeps the
profile as the version's drift reference).

Exit codes: ``validate`` exits 1 when an error-severity check fails; ``diff`` exits 1 when a change is
breaking; both 0 otherwise.

Example::

    $ assay data profile orders.parquet --dataset orders
    $ assay data validate orders.parquet --contract orders.contract.yaml --ref customers=customers.parquet
    $ assay data diff orders_v1.parquet orders_v2.parquet
    $ assay data scan-pii customers.parquet
    $ ASSAY_PSEUDO_KEY=... assay data pseudonymize customers.parquet --column email -o customers_pseudo.parquet
"""

from __future__ import annotations

import os
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.text import Text

from assay.cli.context import get_state
from assay.cli.render import JsonOption, cell, fmt_value, kv_table, new_table, print_json, spaced, stdout
from assay.engine import Engine, connect
from assay.errors import InvalidInputError

__all__ = ["app"]

app = typer.Typer(help="Data: profiles, contracts (checks), schema diffs, PII scans, pseudonymisation.",
                  no_args_is_help=True)  # fmt: skip

EngineOption = Annotated[
    str | None,
    typer.Option("--engine", help="Engine URL (spark://..., postgresql://...) to read a table or SELECT there."),
]
DatasetOption = Annotated[
    str | None, typer.Option("--dataset", help="Record the result against this dataset's version in the store.")
]


def _engine(url: str | None) -> AbstractContextManager[Engine | None]:
    return connect(url) if url else nullcontext(None)


def _record(ctx: typer.Context, result: Any, source: str, dataset: str | None, engine_url: str | None) -> str | None:
    if dataset is None:
        return None
    if engine_url or not Path(source).exists():
        raise InvalidInputError("--dataset records results against a file or folder; it cannot fingerprint a table")
    from assay.data.records import record

    record(result, source, dataset=dataset, client=get_state(ctx).client)
    return f"Recorded against dataset {dataset!r}."


def _footer(note: str | None) -> list[Any]:
    return [Text(note, style="dim")] if note else []


@app.command("profile")
def profile_cmd(
    ctx: typer.Context,
    source: Annotated[str, typer.Argument(help="File, glob or folder (or a table/SELECT with --engine).")],
    columns: Annotated[list[str] | None, typer.Option("--column", "-c", help="Only these columns.")] = None,
    dataset: DatasetOption = None,
    engine_url: EngineOption = None,
    json_output: JsonOption = False,
) -> None:
    """Per-column statistics in one pass: type, nulls, distinct, range, mean/std, quantiles, top values."""
    from assay.data.profile import profile

    with _engine(engine_url) as eng:
        prof = profile(source, engine=eng, columns=columns or None)
    note = _record(ctx, prof, source, dataset, engine_url)
    if json_output:
        print_json(prof.to_dict())
        return
    table = new_table("column", "kind", "nulls", "distinct", "min", "max", "mean", "top value", wrap=("column",))
    for c in prof.columns:
        top = f"{c.top_values[0][0]} ({c.top_values[0][1]:,})" if c.top_values else ""
        nulls = f"{c.nulls / c.count:.1%}" if c.count else ""
        numeric = c.kind == "numeric"
        table.add_row(
            cell(c.name, "bold"), cell(c.kind), cell(nulls), cell(f"{c.distinct:,}"),
            cell(fmt_value(c.min, 4) if numeric else ""), cell(fmt_value(c.max, 4) if numeric else ""),
            cell(fmt_value(c.mean, 4) if numeric else ""), cell(top[:30]),
        )  # fmt: skip
    stdout().print(spaced(Text(prof.summary(), style="bold"), table, *_footer(note)))


def _references(items: list[str] | None) -> dict[str, str]:
    refs: dict[str, str] = {}
    for item in items or []:
        name, sep, path = item.partition("=")
        if not sep or not name or not path:
            raise InvalidInputError(f"--ref takes NAME=PATH (the table a 'references:' check names); got {item!r}")
        refs[name] = path
    return refs


@app.command("validate")
def validate_cmd(
    ctx: typer.Context,
    source: Annotated[str, typer.Argument(help="File, glob or folder (or a table/SELECT with --engine).")],
    contract: Annotated[Path, typer.Option("--contract", help="The contract YAML.", exists=True, dir_okay=False)],
    refs: Annotated[
        list[str] | None, typer.Option("--ref", help="NAME=PATH for a table named by a 'references:' check.")
    ] = None,
    key: Annotated[list[str] | None, typer.Option("--key", help="Key column(s) shown with failing rows.")] = None,
    dataset: DatasetOption = None,
    engine_url: EngineOption = None,
    json_output: JsonOption = False,
) -> None:
    """Run a contract's checks; exit 1 when an error-severity check fails."""
    from assay.data.contract import Contract

    spec = Contract.from_yaml(contract)
    with _engine(engine_url) as eng:
        result = spec.validate(source, engine=eng, references=_references(refs) or None, key_columns=key or None)
    note = _record(ctx, result, source, dataset, engine_url)
    if json_output:
        print_json(result.to_dict())
    else:
        table = new_table("check", "severity", "result", "failing", "example", wrap=("example",),
                          min_width={"example": 20})  # fmt: skip
        for c in result.checks:
            style = "green" if c.passed else ("red" if c.severity == "error" else "yellow")
            example = str(c.sample[0]) if c.sample else (c.message if not c.passed else "")
            table.add_row(
                cell(c.name, "bold"), cell(c.severity), cell("pass" if c.passed else "FAIL", style),
                cell(f"{c.failing:,}" if c.failing is not None else ""), cell(example[:120]),
            )  # fmt: skip
        verdict = Text(result.summary(), style="bold green" if result.passed else "bold red")
        stdout().print(spaced(verdict, table, *_footer(note)))
    if not result.passed:
        raise typer.Exit(1)


@app.command("diff")
def diff_cmd(
    ctx: typer.Context,
    old: Annotated[str, typer.Argument(help="The old version (file, glob, folder, or table with --engine).")],
    new: Annotated[str, typer.Argument(help="The new version.")],
    engine_url: EngineOption = None,
    json_output: JsonOption = False,
) -> None:
    """Schema changes between two versions (added, removed, retyped, likely renamed); exit 1 if breaking."""
    from assay.data.schema_diff import schema_diff

    with _engine(engine_url) as eng:
        diff = schema_diff(old, new, engine=eng)
    if json_output:
        print_json(diff.to_dict())
    else:
        table = new_table("change", "column", "old type", "new type", "breaking", "detail", wrap=("detail",),
                          min_width={"detail": 30})  # fmt: skip
        for c in diff.changes:
            table.add_row(
                cell(c.kind, "bold"), cell(c.column), cell(c.old_type or ""), cell(c.new_type or ""),
                cell("yes" if c.breaking else "no", "red" if c.breaking else "green"), cell(c.detail or ""),
            )  # fmt: skip
        parts: list[Any] = [Text(diff.summary(), style="bold red" if diff.breaking else "bold")]
        if diff.changes:
            parts.append(table)
        stdout().print(spaced(*parts))
    if diff.breaking:
        raise typer.Exit(1)


@app.command("scan-pii")
def scan_pii_cmd(
    ctx: typer.Context,
    source: Annotated[str, typer.Argument(help="File, glob or folder (or a table/SELECT with --engine).")],
    sample_rows: Annotated[int, typer.Option("--sample-rows", help="Rows sampled per column.")] = 10_000,
    dataset: DatasetOption = None,
    engine_url: EngineOption = None,
    json_output: JsonOption = False,
) -> None:
    """Columns that look like personal data: e-mails, phones, cards (Luhn), IBANs, IPs, names, addresses."""
    from assay.data.pii import scan_pii

    with _engine(engine_url) as eng:
        scan = scan_pii(source, engine=eng, sample_rows=sample_rows)
    note = _record(ctx, scan, source, dataset, engine_url)
    if json_output:
        print_json(scan.to_dict())
        return
    table = new_table("column", "kind", "matching", "confidence", "examples (masked)", wrap=("examples (masked)",),
                      min_width={"examples (masked)": 24})  # fmt: skip
    for f in scan.columns:
        table.add_row(
            cell(f.column, "bold"), cell(f.kind), cell(f"{f.share:.0%}" if f.share is not None else ""),
            cell(str(getattr(f, "confidence", ""))), cell(", ".join(map(str, f.examples[:3]))),
        )  # fmt: skip
    parts: list[Any] = [Text(scan.summary(), style="bold")]
    if scan.columns:
        parts.append(table)
    stdout().print(spaced(*parts, *_footer(note)))


@app.command("pseudonymize")
def pseudonymize_cmd(
    source: Annotated[str, typer.Argument(help="File, glob or folder to rewrite.")],
    columns: Annotated[list[str], typer.Option("--column", "-c", help="Column(s) to pseudonymise.")],
    output: Annotated[Path, typer.Option("--output", "-o", help="The Parquet file to write.")],
    key_env: Annotated[
        str, typer.Option("--key-env", help="Environment variable holding the secret key (≥ 16 bytes).")
    ] = "ASSAY_PSEUDO_KEY",
    json_output: JsonOption = False,
) -> None:
    """Rewrite columns with keyed HMAC-SHA256 tokens (joins still work; values cannot be recovered without the key)."""
    from assay.data.pseudonymize import pseudonymize

    key = os.environ.get(key_env)
    if not key:
        raise InvalidInputError(f"set the secret key in the environment variable {key_env} (at least 16 bytes)")
    result = pseudonymize(source, columns=columns, key=key, output=str(output))
    info = result.to_dict() if hasattr(result, "to_dict") else {"output": str(output)}
    if json_output:
        print_json(info)
        return
    stdout().print(kv_table([(k, v) for k, v in info.items()], title="pseudonymised"))
