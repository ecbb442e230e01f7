"""``assay audit ...``: verify the hash-chained audit log and read it.

``verify`` exits 0 when every event chains, 1 when an event was edited, deleted, inserted or reordered
(each problem is listed). ``head`` prints the newest hash: keep it elsewhere and pass it back as
``verify --anchor`` to also catch deletion of the newest events.

Example::

    $ assay audit verify
    $ assay audit log --model churn
    $ assay audit head
"""

from __future__ import annotations

from typing import Annotated

import typer
from rich.text import Text

from assay.cli.context import get_state
from assay.cli.render import JsonOption, cell, new_table, print_json, stdout
from assay.governance.history import audit_log, verify_audit
from assay.store import audit

__all__ = ["app"]

app = typer.Typer(help="Audit log: verify its hash chain, list who did what.", no_args_is_help=True)


@app.command("verify")
def verify(
    ctx: typer.Context,
    anchor: Annotated[
        str | None, typer.Option("--anchor", help="A head hash saved earlier (assay audit head).")
    ] = None,
    json_output: JsonOption = False,
) -> None:
    """Recompute every event's hash; exit 1 if anything was edited, deleted, inserted or reordered."""
    result = verify_audit(anchor=anchor, client=get_state(ctx).client)
    if json_output:
        print_json({"ok": result.ok, "checked": result.checked, "head": result.head,
                    "problems": [p.__dict__ for p in result.problems]})  # fmt: skip
    else:
        console = stdout()
        console.print(Text(result.summary(), style="bold green" if result.ok else "bold red"))
        if result.problems:
            table = new_table("event", "problem", "detail", wrap=("detail",))
            for p in result.problems:
                table.add_row(cell(str(p.event_id)), cell(p.kind, "red"), cell(p.detail))
            console.print(table)
    if not result.ok:
        raise typer.Exit(1)


@app.command("head")
def head(ctx: typer.Context, json_output: JsonOption = False) -> None:
    """The number of events and the newest event's hash (an anchor for a later verify)."""
    with get_state(ctx).client.db.read() as conn:
        count, digest = audit.head(conn)
    if json_output:
        print_json({"events": count, "head": digest})
        return
    stdout().print(Text(f"{count} events; head {digest}"))


@app.command("log")
def log(
    ctx: typer.Context,
    model: Annotated[str | None, typer.Option("--model", help="Only this model and its versions.")] = None,
    entity_type: Annotated[str | None, typer.Option("--entity-type", help="run, model, model_version, ...")] = None,
    entity_id: Annotated[str | None, typer.Option("--entity", help="The entity's id (with --entity-type).")] = None,
    action: Annotated[str | None, typer.Option("--action", help="Actions starting with this (model.alias).")] = None,
    limit: Annotated[int, typer.Option("--limit", help="The newest N events.")] = 200,
    json_output: JsonOption = False,
) -> None:
    """Who did what, when: the audit log, oldest first."""
    rows = audit_log(model=model, entity_type=entity_type, entity_id=entity_id, action=action, limit=limit,
                     client=get_state(ctx).client)  # fmt: skip
    if json_output:
        print_json(rows)
        return
    if not rows:
        stdout().print(Text("No events.", style="dim"))
        return
    table = new_table("time (UTC)", "actor", "action", "entity", "details", wrap=("details",))
    for r in rows:
        details = ", ".join(f"{k}={v}" for k, v in (r["payload"] or {}).items() if v is not None)
        table.add_row(cell(r["time"][:19].replace("T", " ")), cell(r["actor"]), cell(r["action"], "bold"),
                      cell(r["entity"]), cell(details[:200]))  # fmt: skip
    stdout().print(table)


def lineage_cmd(
    ctx: typer.Context,
    model: Annotated[str, typer.Argument(help="models:/NAME/VERSION, models:/NAME@ALIAS or NAME/VERSION.")],
    json_output: JsonOption = False,
) -> None:
    """The chain: dataset versions → run → model version → gates/approvals → aliases, monitors, experiments."""
    from assay.cli.render import kv_table, spaced
    from assay.governance.lineage import lineage

    lin = lineage(model, client=get_state(ctx).client)
    if json_output:
        print_json(lin.to_dict())
        return
    parts: list = [Text(lin.summary(), style="bold")]
    if lin.datasets:
        table = new_table("role", "dataset", "fingerprint", "rows", "source", wrap=("source",))
        for d in lin.datasets:
            table.add_row(cell(d["role"]), cell(d["name"], "bold"), cell(d["fingerprint"][:16]),
                          cell(f"{d['rows']:,}" if d["rows"] is not None else ""), cell(d["source"] or ""))  # fmt: skip
        parts.append(table)
    if lin.run:
        parts.append(kv_table([(k, v) for k, v in lin.run.items()], title="training run"))
    if lin.approvals or lin.promotions:
        table = new_table("step", "alias", "who", "detail", wrap=("detail",))
        for a in lin.approvals:
            table.add_row(cell(f"request {a['id']} ({a['state']})"), cell(a["alias"]),
                          cell(a["decided_by"] or a["requested_by"]), cell(a["comment"] or ""))  # fmt: skip
        for p in lin.promotions:
            detail = "gates passed" if p["gates_passed"] else f"gates overridden: {p['override']}"
            table.add_row(cell(f"promoted {p['at']}"), cell(p["alias"] or ""), cell(p["by"]), cell(detail))
        parts.append(table)
    stdout().print(spaced(*parts))
