"""``assay models ...``: list registered models, show their versions, and move aliases.

Example::

    $ assay models show churn
    $ assay models alias churn production 3
    $ assay models alias churn staging --delete
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

import typer
from rich.text import Text

from assay.cli.context import get_state
from assay.cli.render import JsonOption, cell, fmt_time, kv_table, new_table, print_json, short_id, spaced, stdout
from assay.errors import InvalidInputError
from assay.registry.registry import ModelVersion

__all__ = ["app", "signature_summary"]

app = typer.Typer(help="Registered models: versions, signatures and aliases.", no_args_is_help=True)

_SIG_COLUMNS = 4


def signature_summary(signature: dict[str, Any] | None, max_columns: int = _SIG_COLUMNS, *, kinds: bool = True) -> str:
    """A one-line view of a stored signature: ``3 inputs: age (integer), plan (string), … → 1 output``.

    Example::

        >>> signature_summary({"inputs": [{"name": "x", "dtype": "float"}], "outputs": None})
        '1 input: x (float)'
    """
    if not signature:
        return "-"
    inputs = signature.get("inputs") or []
    shown = ", ".join(f"{c['name']} ({c['dtype']})" if kinds else c["name"] for c in inputs[:max_columns])
    if len(inputs) > max_columns:
        shown += f", … +{len(inputs) - max_columns}"
    text = f"{len(inputs)} input{'s' if len(inputs) != 1 else ''}: {shown}" if inputs else "no inputs"
    outputs = signature.get("outputs")
    if outputs:
        text += f" → {len(outputs)} output{'s' if len(outputs) != 1 else ''}"
    return text


def _ms_datetime(ms: int | None) -> datetime | None:
    return None if ms is None else datetime.fromtimestamp(ms / 1000, UTC)


def _aliases_text(aliases: dict[str, int]) -> str:
    return ", ".join(f"{a} → v{v}" for a, v in sorted(aliases.items())) or "-"


@app.command("list")
def list_models(ctx: typer.Context, json_output: JsonOption = False) -> None:
    """Every registered model with its number of versions, latest version and aliases."""
    models = get_state(ctx).client.registry.list_models()
    if json_output:
        print_json(
            [
                {
                    **{k: v for k, v in m.items() if k != "updated_ms"},
                    "updated_at": _ms_datetime(m["updated_ms"]),
                }
                for m in models
            ]
        )
        return
    console = stdout()
    if not models:
        console.print("No registered models yet. Register one with run.log_model(model, name=...).")
        return
    table = new_table(
        "model", "versions", "latest", "aliases", "updated (UTC)", "description",
        wrap=["model", "aliases", "description"],
    )  # fmt: skip
    for m in models:
        table.add_row(
            cell(m["name"], "bold"),
            cell(str(m["versions"])),
            cell(f"v{m['latest_version']}" if m["latest_version"] is not None else "-"),
            cell(_aliases_text(m["aliases"])),
            cell(fmt_time(m["updated_ms"], seconds=False)),
            cell(m["description"] or ""),
        )
    console.print(table)


def _version_detail(mv: ModelVersion) -> Any:
    rows: list[tuple[str, Any]] = [
        ("model", mv.name),
        ("version", str(mv.version)),
        ("uri", mv.uri),
        ("aliases", ", ".join(mv.aliases) or "-"),
        ("run id", mv.run_id or "-"),
        ("flavor", mv.flavor),
        ("model class", mv.model_class or "-"),
        ("artifacts", mv.artifact_uri),
        ("registered", fmt_time(mv.created_at) + " UTC"),
        ("description", mv.description or "-"),
    ]
    parts: list[Any] = [kv_table(rows, title=f"{mv.name} v{mv.version}")]
    if mv.signature:
        for title, specs in (("Inputs", mv.signature.get("inputs")), ("Outputs", mv.signature.get("outputs"))):
            if specs:
                table = new_table("column", "kind", title=title, wrap=["column"])
                for spec in specs:
                    table.add_row(cell(spec["name"]), cell(spec["dtype"]))
                parts.append(table)
    else:
        parts.append(Text("No signature (log the model with an input_example to record one).", style="dim"))
    return spaced(*parts)


@app.command("show")
def show_model(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="The registered model's name.")],
    version: Annotated[int | None, typer.Option("--version", "-v", help="Show this version in detail.")] = None,
    json_output: JsonOption = False,
) -> None:
    """A model's versions (aliases, run, flavor, signature), or one version in detail with --version."""
    registry = get_state(ctx).client.registry
    if version is not None:
        mv = registry.get_version(name, version)
        if json_output:
            print_json({**mv.to_dict(), "uri": mv.uri})
        else:
            stdout().print(_version_detail(mv))
        return
    versions = registry.list_versions(name)
    model = next((m for m in registry.list_models() if m["name"] == name), {})
    if json_output:
        print_json(
            {
                "name": name,
                "description": model.get("description"),
                "aliases": model.get("aliases", {}),
                "versions": [{**mv.to_dict(), "uri": mv.uri} for mv in versions],
            }
        )
        return
    console = stdout()
    described = any(mv.description for mv in versions) and console.width >= 100  # else see --version N
    table = new_table(
        "version", "aliases", "run", "flavor", "signature", "registered",
        *(["description"] if described else []),
        title=f"{name}" + (f": {model['description']}" if model.get("description") else ""),
        wrap=["aliases", "flavor", "signature", "description"],
        min_width={"aliases": 8, "flavor": 10, "signature": 12},
        caption="times in UTC",
    )  # fmt: skip
    for mv in versions:
        table.add_row(
            cell(f"v{mv.version}", "bold"),
            cell(", ".join(mv.aliases) or "-", "yellow" if mv.aliases else ""),
            cell(short_id(mv.run_id)),
            cell(f"{mv.flavor} ({mv.model_class.rsplit('.', 1)[-1]})" if mv.model_class else mv.flavor),
            cell(signature_summary(mv.signature, 3, kinds=False)),
            cell(fmt_time(mv.created_at, seconds=False)),
            *([cell(mv.description or "")] if described else []),
        )
    console.print(table)


@app.command("alias")
def alias_model(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="The registered model's name.")],
    alias: Annotated[str, typer.Argument(help="The alias, e.g. production.")],
    version: Annotated[int | None, typer.Argument(help="The version the alias should point at.")] = None,
    delete: Annotated[bool, typer.Option("--delete", help="Remove the alias instead of setting it.")] = False,
) -> None:
    """Point ALIAS at VERSION of model NAME (moving it if set), or remove it with --delete."""
    registry = get_state(ctx).client.registry
    if delete:
        if version is not None:
            raise InvalidInputError("give either VERSION or --delete, not both")
        previous = next((mv.version for mv in registry.list_versions(name) if alias in mv.aliases), None)
        registry.delete_alias(name, alias)
        stdout().print(Text(f"Removed alias {name}@{alias} (was v{previous})."))
        return
    if version is None:
        raise InvalidInputError(f"give the VERSION for {name}@{alias}, or --delete to remove the alias")
    previous = next((mv.version for mv in registry.list_versions(name) if alias in mv.aliases), None)
    registry.set_alias(name, alias, version)
    moved = "" if previous is None else (" (unchanged)" if previous == version else f" (was v{previous})")
    stdout().print(Text(f"{name}@{alias} → v{version}{moved}"))


@app.command("history")
def history_model(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="The registered model's name.")],
    alias: Annotated[str | None, typer.Option("--alias", help="Only this alias (default: all).")] = None,
    at: Annotated[
        str | None, typer.Option("--at", help="Which version the alias pointed at then (a date means its end, UTC).")
    ] = None,
    json_output: JsonOption = False,
) -> None:
    """Every move of the model's aliases, or with --at which version an alias (default production) pointed at."""
    from assay.governance.history import alias_at, alias_history

    client = get_state(ctx).client
    client.registry.list_versions(name)  # a typed NotFoundError for an unknown model
    if at is not None:
        which = alias or "production"
        version = alias_at(name, which, at, client=client)
        if json_output:
            print_json({"model": name, "alias": which, "at": at, "version": version})
            return
        text = (
            f"{name}@{which} pointed at v{version} at {at}."
            if version is not None
            else (f"{name}@{which} was not set at {at}.")
        )
        stdout().print(Text(text))
        return
    moves = alias_history(name, alias, client=client)
    if json_output:
        print_json(moves)
        return
    if not moves:
        stdout().print(Text(f"No alias of {name} has been set yet.", style="dim"))
        return
    table = new_table("time (UTC)", "alias", "version", "previous", "by")
    for m in moves:
        table.add_row(cell(m["time"][:19].replace("T", " ")), cell(m["alias"], "bold"),
                      cell("deleted" if m["version"] is None else f"v{m['version']}"),
                      cell("" if m["previous"] is None else f"v{m['previous']}"), cell(m["actor"]))  # fmt: skip
    stdout().print(table)


card_app = typer.Typer(help="Model cards (Mitchell et al. 2019): show, export, fill in the human-written fields.",
                       no_args_is_help=True)  # fmt: skip
app.add_typer(card_app, name="card")


@card_app.command("show")
def card_show(
    ctx: typer.Context,
    model: Annotated[str, typer.Argument(help="models:/NAME/VERSION, models:/NAME@ALIAS, or NAME/VERSION.")],
    fmt: Annotated[str, typer.Option("--format", help="text (summary), markdown or html.")] = "text",
    output: Annotated[str | None, typer.Option("--output", "-o", help="Write the card to this file.")] = None,
    json_output: JsonOption = False,
) -> None:
    """A model version's card; an incomplete card lists the fields still missing."""
    from assay.governance.card import model_card

    card = model_card(model, client=get_state(ctx).client)
    if json_output:
        print_json(card.to_dict())
        return
    if fmt not in ("text", "markdown", "html"):
        raise InvalidInputError(f"--format is text, markdown or html; got {fmt!r}")
    body = {"text": card.summary(), "markdown": card.to_markdown(), "html": card.to_html()}[fmt]
    if output:
        from pathlib import Path

        Path(output).write_text(body, encoding="utf-8")
        stdout().print(Text(f"Wrote {output} ({'complete' if card.complete else 'INCOMPLETE'} card)."))
        return
    if fmt == "text":
        style = "bold green" if card.complete else "bold yellow"
        stdout().print(Text(body, style=style))
        if card.missing:
            stdout().print(Text("Fill in with: assay models card edit " + model + " --set FIELD=TEXT", style="dim"))
        return
    typer.echo(body)


@card_app.command("edit")
def card_edit(
    ctx: typer.Context,
    model: Annotated[str, typer.Argument(help="models:/NAME/VERSION, models:/NAME@ALIAS, or NAME/VERSION.")],
    set_: Annotated[
        list[str] | None, typer.Option("--set", help="FIELD=TEXT (repeat). An empty TEXT clears the field.")
    ] = None,
    from_file: Annotated[
        list[str] | None, typer.Option("--from-file", help="FIELD=PATH: the field's text from a file (repeat).")
    ] = None,
    list_fields: Annotated[bool, typer.Option("--fields", help="List the editable fields and exit.")] = False,
    json_output: JsonOption = False,
) -> None:
    """Write the card fields only a person can write (intended use, factors, ethics, caveats, ...)."""
    from pathlib import Path

    from assay.governance.card import card_fields, edit_card

    if list_fields:
        fields = card_fields()
        if json_output:
            print_json([f.to_dict() for f in fields])
            return
        table = new_table("field", "required", "description")
        for f in fields:
            table.add_row(cell(f.name, "bold"), cell("yes" if f.required else ""), cell(f.description))
        stdout().print(table)
        return
    changes: dict[str, str | None] = {}
    for item in set_ or []:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise InvalidInputError(f"--set takes FIELD=TEXT; got {item!r}")
        changes[key] = value or None
    for item in from_file or []:
        key, sep, path = item.partition("=")
        if not sep or not key or not path:
            raise InvalidInputError(f"--from-file takes FIELD=PATH; got {item!r}")
        try:
            changes[key] = Path(path).read_text(encoding="utf-8")
        except OSError as exc:
            raise InvalidInputError(f"cannot read {path!r} for field {key!r}: {exc}") from exc
    if not changes:
        raise InvalidInputError(
            "nothing to change: give --set FIELD=TEXT or --from-file FIELD=PATH (--fields lists them)"
        )
    card = edit_card(model, changes, client=get_state(ctx).client)
    if json_output:
        print_json(card.to_dict())
        return
    stdout().print(Text(card.summary(), style="bold green" if card.complete else "bold yellow"))


# -- governance: gates, policy, approvals, promotion ------------------------------------------------------
from assay.cli.check import check_command, policy_set_command, policy_show_command  # noqa: E402

app.command("check")(check_command)
policy_app = typer.Typer(help="The project's policy: protected aliases and the gates a version must pass.",
                         no_args_is_help=True)  # fmt: skip
policy_app.command("set")(policy_set_command)
policy_app.command("show")(policy_show_command)
app.add_typer(policy_app, name="policy")


def _request_row(r: dict[str, Any]) -> tuple[Any, ...]:
    style = {"approved": "green", "rejected": "red", "pending": "yellow"}.get(r["state"], "")
    note = r["decision_comment"] or r["comment"] or ""
    return (cell(str(r["id"])), cell(f"{r['model_name']} v{r['version']}", "bold"), cell(r["alias"]),
            cell(r["state"], style), cell(r["requested_by"]), cell(r["decided_by"] or ""), cell(note))  # fmt: skip


@app.command("promote")
def promote_model(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="The registered model's name.")],
    version: Annotated[int, typer.Argument(help="The version to promote.")],
    alias: Annotated[str, typer.Option("--alias", help="The alias to move.")] = "production",
    request: Annotated[
        bool, typer.Option("--request", help="Only ask for approval (a reviewer approves, then promote again).")
    ] = False,
    comment: Annotated[str | None, typer.Option("--comment", help="Why (with --request).")] = None,
    override: Annotated[
        str | None, typer.Option("--override", help="Admins: promote despite failed gates, for this reason.")
    ] = None,
    json_output: JsonOption = False,
) -> None:
    """Move a (protected) alias through the gates and an approval; --request asks for the approval."""
    from assay.governance.approvals import promote, request_promotion

    client = get_state(ctx).client
    if request:
        rid = request_promotion(name, version, alias=alias, comment=comment, client=client)
        if json_output:
            print_json({"request": rid})
            return
        then = f"A reviewer runs `assay models approve {rid}`, then `assay models promote {name} {version}`."
        stdout().print(Text(f"Approval request {rid}: {name} v{version} → {alias}. {then}"))
        return
    result = promote(name, version, alias=alias, override=override, client=client)
    if json_output:
        print_json(result.__dict__)
        return
    stdout().print(Text(result.summary(), style="bold green" if result.gates_passed else "bold yellow"))


@app.command("approve")
def approve_request(
    ctx: typer.Context,
    request_id: Annotated[int, typer.Argument(help="The approval request.")],
    comment: Annotated[str | None, typer.Option("--comment", help="What you checked.")] = None,
    json_output: JsonOption = False,
) -> None:
    """Approve a promotion request (reviewers; never the version's author)."""
    from assay.governance.approvals import approve

    r = approve(request_id, comment=comment, client=get_state(ctx).client)
    if json_output:
        print_json(r)
        return
    stdout().print(Text(f"Request {request_id} approved: {r['model_name']} v{r['version']} may become {r['alias']}."))


@app.command("reject")
def reject_request(
    ctx: typer.Context,
    request_id: Annotated[int, typer.Argument(help="The approval request.")],
    comment: Annotated[str, typer.Option("--comment", help="Why it is rejected (required).")],
    json_output: JsonOption = False,
) -> None:
    """Reject a promotion request, saying why (reviewers; never the version's author)."""
    from assay.governance.approvals import reject

    r = reject(request_id, comment=comment, client=get_state(ctx).client)
    if json_output:
        print_json(r)
        return
    stdout().print(Text(f"Request {request_id} rejected: {comment}"))


@app.command("requests")
def list_requests_cmd(
    ctx: typer.Context,
    name: Annotated[str | None, typer.Argument(help="Only this model's requests.")] = None,
    state: Annotated[str | None, typer.Option("--state", help="pending, approved, rejected or used.")] = None,
    json_output: JsonOption = False,
) -> None:
    """Promotion requests, newest first."""
    from assay.governance.approvals import list_requests

    rows = list_requests(model=name, state=state, client=get_state(ctx).client)
    if json_output:
        print_json(rows)
        return
    if not rows:
        stdout().print(Text("No promotion requests.", style="dim"))
        return
    table = new_table("#", "version", "alias", "state", "requested by", "decided by", "comment", wrap=("comment",))
    for r in rows:
        table.add_row(*_request_row(r))
    stdout().print(table)
