"""``assay score MODEL --input SOURCE --output FILE``: batch scoring with a registered model.

The input is a Parquet or CSV file, glob or folder, or with ``--engine URL`` a table or ``SELECT``
on that engine (``--engine duckdb:///warehouse.db``). It is streamed in Arrow record batches (memory
stays flat), scored, and written to ``FILE`` (``.parquet`` or ``.csv``) with a progress bar on a
terminal. Errors exit with the usual codes: 2 bad input (missing column, wrong type, corrupt file),
3 unknown model.

Example::

    $ assay score models:/churn@production --input customers.parquet --output scored.parquet --keep customer_id
    $ assay score models:/churn/3 --input "select * from customers where active" --engine duckdb:///dw.db \\
        --output scored.csv --json
"""

from __future__ import annotations

from contextlib import nullcontext
from typing import Annotated

import typer

from assay.cli.context import get_state
from assay.cli.render import JsonOption, kv_table, print_json, stdout

__all__ = ["score_command"]


def score_command(
    ctx: typer.Context,
    model: Annotated[
        str, typer.Argument(help="Model URI: models:/NAME@ALIAS, models:/NAME/VERSION or runs:/ID/model.")
    ],
    input: Annotated[
        str, typer.Option("--input", "-i", help="Parquet/CSV file, glob or folder (or a table/SELECT with --engine).")
    ],
    output: Annotated[str, typer.Option("--output", "-o", help="Output file, .parquet or .csv.")],
    keep: Annotated[
        list[str] | None,
        typer.Option("--keep", help="Copy only this input column to the output (repeat it); default: every column."),
    ] = None,
    no_passthrough: Annotated[
        bool, typer.Option("--no-passthrough", help="Write the scores only, no input columns.")
    ] = False,
    batch_size: Annotated[int, typer.Option("--batch-size", help="Rows per record batch.", min=1)] = 131_072,
    prediction_column: Annotated[
        str, typer.Option("--prediction-column", help="Name of the prediction column.")
    ] = "prediction",
    no_probabilities: Annotated[
        bool, typer.Option("--no-probabilities", help="Classifiers: leave out the probability_<class> columns.")
    ] = False,
    engine_url: Annotated[
        str | None,
        typer.Option("--engine", help="Engine URL (duckdb:///file.db, postgresql://...) to read a table or SELECT."),
    ] = None,
    trusted: Annotated[
        bool, typer.Option("--trusted", help="Allow loading a pickled model (runs code from the file).")
    ] = False,
    progress: Annotated[
        bool | None, typer.Option("--progress/--no-progress", help="Progress bar (default: on a terminal).")
    ] = None,
    compiled: Annotated[
        bool | None,
        typer.Option(
            "--compiled/--no-compiled",
            help="LightGBM: score with trees compiled by lleaves (default: for a million rows or more).",
        ),
    ] = None,
    json_output: JsonOption = False,
) -> None:
    """Score a Parquet/CSV file or an engine table with MODEL, streaming in batches, into --output."""
    from assay.engine import connect
    from assay.serving.batch import score

    passthrough: bool | list[str] = False if no_passthrough else (list(keep) if keep else True)
    client = get_state(ctx).client
    with connect(engine_url) if engine_url else nullcontext(None) as engine:
        result = score(
            model,
            input,
            output,
            batch_size=batch_size,
            passthrough=passthrough,
            prediction_column=prediction_column,
            probabilities=not no_probabilities,
            engine=engine,
            client=client,
            show_progress=False if json_output else progress,
            trusted=trusted,
            compiled=compiled,
        )
    if json_output:
        print_json(result.to_dict())
        return
    stdout().print(
        kv_table(
            [
                ("model", result.model),
                ("input", result.source),
                ("output", result.output),
                ("rows", f"{result.rows:,}"),
                ("time", f"{result.seconds:.2f} s ({result.rows_per_second:,.0f} rows/s)"),
                ("columns", ", ".join(result.columns)),
            ]
        )
    )
