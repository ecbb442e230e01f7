"""The ``assay`` command line: global options, sub-commands, and the mapping of errors to exit codes.

Any :class:`~assay.errors.AssayError` ends the command with ``error: <message>`` on stderr (no
traceback unless ``--debug``) and an exit code by type:

==========================================================  =====
error                                                       code
==========================================================  =====
``InvalidInputError`` (incl. ``FilterSyntaxError``), usage   2
``NotFoundError``                                            3
``ConflictError``                                            4
any other ``AssayError``, unexpected errors                  1
==========================================================  =====

Example::

    $ assay --store-url sqlite:////tmp/a.db runs list --json
"""

from __future__ import annotations

import errno
from typing import Annotated, Any

import typer
from rich.console import Console
from typer.core import TyperGroup

import assay
from assay.cli import admin, audit, data, db, experiments, models, monitor, report, runs, score, serve, server
from assay.cli.context import State, get_state
from assay.cli.initialize import init
from assay.cli.render import JsonOption, print_json
from assay.errors import AssayError, ConflictError, InvalidInputError, NotFoundError, PermissionDeniedError

__all__ = ["app", "exit_code"]

EXIT_CODES: tuple[tuple[type[AssayError], int], ...] = (
    (InvalidInputError, 2),
    (NotFoundError, 3),
    (ConflictError, 4),
    (PermissionDeniedError, 7),
)


def exit_code(exc: BaseException) -> int:
    """The process exit code for an error: 2 bad input, 3 not found, 4 conflict, 7 permission denied, 1 else."""
    for kind, code in EXIT_CODES:
        if isinstance(exc, kind):
            return code
    return 1


def _framework_signal(exc: Exception) -> bool:
    """Exceptions the CLI framework handles itself: exit, abort, usage errors, a closed pipe."""
    if isinstance(exc, typer.Exit | typer.Abort):
        return True
    if isinstance(exc, OSError) and exc.errno == errno.EPIPE:
        return True
    return type(exc).__module__.split(".")[0] in ("typer", "click")


class _AssayGroup(TyperGroup):
    """The root command group: turns errors into ``error: ...`` and an exit code (tracebacks with --debug)."""

    def invoke(self, ctx: typer.Context) -> Any:
        try:
            return super().invoke(ctx)
        except AssayError as exc:
            if ctx.params.get("debug"):
                raise
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(exit_code(exc)) from None
        except Exception as exc:
            if ctx.params.get("debug") or _framework_signal(exc):
                raise
            first_line = (str(exc).strip().splitlines() or [""])[0]
            typer.echo(
                f"error: unexpected {type(exc).__name__}: {first_line} (run again with --debug for the traceback)",
                err=True,
            )
            raise typer.Exit(1) from None


app = typer.Typer(
    cls=_AssayGroup,
    name="assay",
    help="assay: experiment tracking and model registry for data-science teams.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_show_locals=False,
)
app.add_typer(runs.app, name="runs")
app.add_typer(models.app, name="models")
app.add_typer(experiments.app, name="exp")
app.add_typer(data.app, name="data")
app.add_typer(monitor.app, name="monitor")
app.add_typer(monitor.incident_app, name="incident")
app.add_typer(audit.app, name="audit")
app.command("lineage")(audit.lineage_cmd)
app.add_typer(admin.users_app, name="users")
app.add_typer(admin.tokens_app, name="tokens")
app.add_typer(db.app, name="db")
app.add_typer(report.app, name="report")
app.command("init")(init)
app.command("server")(server.server)
app.command("serve")(serve.serve)
app.command("score")(score.score_command)


def _print_version(value: bool) -> None:
    if value:
        typer.echo(f"assay {assay.__version__}")
        raise typer.Exit()


@app.callback()
def main(
    ctx: typer.Context,
    store_url: Annotated[
        str | None,
        typer.Option("--store-url", help="Metadata store URL (overrides ASSAY_STORE_URL).", metavar="URL"),
    ] = None,
    artifacts_url: Annotated[
        str | None,
        typer.Option("--artifacts-url", help="Artifacts folder or URL (overrides ASSAY_ARTIFACTS_URL).", metavar="URL"),
    ] = None,
    home: Annotated[
        str | None, typer.Option("--home", help="assay's home folder (overrides ASSAY_HOME).", metavar="PATH")
    ] = None,
    debug: Annotated[bool, typer.Option("--debug", help="Show full tracebacks on errors.")] = False,
    version: Annotated[
        bool,
        typer.Option("--version", callback=_print_version, is_eager=True, help="Print assay's version and exit."),
    ] = False,
) -> None:
    """assay: experiment tracking and model registry for data-science teams."""
    state = State(store_url=store_url, artifacts_url=artifacts_url, home=home, debug=debug)
    ctx.obj = state
    ctx.call_on_close(state.close)


@app.command("demo")
def demo(
    ctx: typer.Context,
    rows: Annotated[int, typer.Option("--rows", help="Customers in the synthetic company.")] = 30_000,
    seed: Annotated[int, typer.Option("--seed", help="Random seed, for a reproducible scenario.")] = 7,
    then_serve: Annotated[bool, typer.Option("--serve", help="Then start the server (API + web UI) on it.")] = False,
    host: Annotated[str, typer.Option("--host", help="Interface the server listens on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", min=1, max=65535, help="Port of the server.")] = 5000,
    json_output: JsonOption = False,
) -> None:
    """Run the whole loop on a synthetic company (contracts, training, approval, serving, monitoring, A/B test,
    reports) in your store; with --serve, then serve the web UI on it."""
    try:
        from assay.demo import run_demo
    except ModuleNotFoundError as exc:
        if exc.name not in ("assay.demo", "assay"):
            raise
        raise AssayError("the demo is not part of this installation of assay (assay.demo is missing)") from exc
    console = Console(stderr=json_output)  # the demo's own markup on; with --json its story goes to stderr
    client = get_state(ctx).client
    where = {} if (host, port) == ("127.0.0.1", 5000) else {"host": host, "port": port}  # the UI address it prints
    result = run_demo(rows=rows, seed=seed, console=console, client=client, **where)
    if json_output:
        print_json(result)
    if then_serve:
        from assay.demo.serve import serve as serve_demo
        from assay.demo.serve import ui_url

        console.print(f"Serving the demo workspace on {ui_url(host, port)} (Ctrl-C stops it)")
        serve_demo(client, host=host, port=port)


if __name__ == "__main__":
    app()
