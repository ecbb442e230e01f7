"""``assay monitor ...`` and ``assay incident ...``: stored monitors, their per-window runs, incidents.

``assay monitor run NAME`` is safe to call from cron or Airflow as often as you like: each window is
computed once (a repeated call prints the stored result and fires nothing). It exits 0 when the window
ran and no rule fired, 5 when rules fired (alerting), 6 when the run failed (the reason is stored); errors
in the command itself keep assay's codes (2 bad input, 3 not found, 4 conflict).

Example::

    $ assay monitor create churn-monitor.yaml
    $ assay monitor run churn-prod                      # the last complete window
    $ assay monitor run churn-prod --start 2026-11-20 --end 2026-11-21
    $ assay incident list --state open
    $ assay incident ack 3 --owner maria
    $ assay incident resolve 3 --postmortem "feed sent cents; parser fixed, model retrained"
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.text import Text

from assay.cli.context import get_state
from assay.cli.render import JsonOption, cell, fmt_value, kv_table, new_table, print_json, spaced, stdout
from assay.monitoring import incidents as inc
from assay.monitoring.monitors import create_monitor, get_monitor, list_monitors, monitor_runs, run_monitor

__all__ = ["app", "incident_app"]

app = typer.Typer(help="Monitors: drift, performance and data checks per time window, with alerts.",
                  no_args_is_help=True)  # fmt: skip
incident_app = typer.Typer(help="Incidents opened by alerts: list, acknowledge, resolve, post-mortems.",
                           no_args_is_help=True)  # fmt: skip

STATUS_STYLES = {"ok": "green", "alerting": "bold red", "failed": "bold magenta", "running": "yellow"}
STATE_STYLES = {"open": "bold red", "acknowledged": "yellow", "resolved": "green"}


@app.command("create")
def create(
    ctx: typer.Context,
    definition: Annotated[Path, typer.Argument(help="The monitor's YAML file.", exists=True, dir_okay=False)],
    json_output: JsonOption = False,
) -> None:
    """Store a monitor (replacing one of the same name; its past runs are kept)."""
    spec = create_monitor(definition, client=get_state(ctx).client)
    if json_output:
        print_json(spec.to_dict())
        return
    checks = ", ".join(spec.checks) or "row count only"
    stdout().print(
        Text(f"Monitor {spec.name!r} saved: window {spec.window}, checks: {checks}; {len(spec.rules)} rule(s).")
    )


@app.command("list")
def list_cmd(ctx: typer.Context, json_output: JsonOption = False) -> None:
    """Every stored monitor with its window, checks and the last window it ran."""
    rows = list_monitors(client=get_state(ctx).client)
    if json_output:
        print_json(rows)
        return
    if not rows:
        stdout().print(Text("No monitors yet: `assay monitor create MONITOR.yaml`.", style="dim"))
        return
    table = new_table("monitor", "watches", "window", "checks", "last window end", wrap=("checks", "watches"))
    for r in rows:
        watches = f"{r['model_name']} v{r['model_version']}" if r["model_name"] else (r["dataset_name"] or "")
        name = r["name"] + ("" if r["enabled"] else " (disabled)")
        last = (r["last_window_end"] or "never").replace("T", " ").replace(":00Z", "")
        table.add_row(cell(name, "bold"), cell(watches), cell(r["window"]), cell(", ".join(r["checks"])), cell(last))
    stdout().print(table)


@app.command("run")
def run(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="The monitor's name.")],
    start: Annotated[str | None, typer.Option("--start", help="Window start (ISO); with --end.")] = None,
    end: Annotated[str | None, typer.Option("--end", help="Window end (ISO, exclusive); with --start.")] = None,
    at: Annotated[
        str | None, typer.Option("--at", help="Run the last complete window before this time (default now).")
    ] = None,
    force: Annotated[bool, typer.Option("--force", help="Recompute a window that already ran.")] = False,
    no_notify: Annotated[bool, typer.Option("--no-notify", help="Record alerts but send no notification.")] = False,
    json_output: JsonOption = False,
) -> None:
    """Run one window of a monitor (idempotent). Exit code 0: ok, 5: rules fired, 6: the run failed."""
    result = run_monitor(
        name, at=at, window_start=start, window_end=end, force=force, notify=not no_notify,
        client=get_state(ctx).client,
    )  # fmt: skip
    if json_output:
        print_json(result.to_dict())
    else:
        console = stdout()
        parts: list[Any] = [Text(result.summary(), style=STATUS_STYLES.get(result.status, ""))]
        if result.figures:
            parts.append(_figures_table(result.figures))
        if result.alerts:
            parts.append(_alerts_table(result.alerts))
        console.print(spaced(*parts))
    if result.status == "failed":
        raise typer.Exit(6)
    if result.status == "alerting":
        raise typer.Exit(5)


def _figures_table(figures: dict[str, float], limit: int = 40) -> Any:
    table = new_table("figure", "value")
    for key in sorted(figures)[:limit]:
        table.add_row(cell(key), cell(fmt_value(figures[key])))
    if len(figures) > limit:
        table.add_row(cell(f"... {len(figures) - limit} more (--json shows all)", "dim"), cell(""))
    return table


def _alerts_table(alerts: tuple[dict[str, Any], ...]) -> Any:
    table = new_table("rule", "figure", "value", "condition", "severity", "delivered")
    for a in alerts:
        deliveries = a.get("deliveries") or {}
        sent = ", ".join(f"{k if k == 'log' else 'webhook'} {'ok' if v.get('ok') else 'FAILED'}"
                         for k, v in deliveries.items())  # fmt: skip
        table.add_row(
            cell(a["rule"], "bold"), cell(a["figure"]), cell(fmt_value(a["value"])),
            cell(f"{a['op']} {fmt_value(a['threshold'])}"), cell(a["severity"]), cell(sent or "not sent"),
        )  # fmt: skip
    return table


@app.command("show")
def show(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="The monitor's name.")],
    limit: Annotated[int, typer.Option("--limit", help="How many recent windows to list.")] = 10,
    json_output: JsonOption = False,
) -> None:
    """A monitor's definition and its most recent windows."""
    client = get_state(ctx).client
    spec = get_monitor(name, client=client)
    runs = monitor_runs(name, limit=limit, client=client)
    if json_output:
        print_json({"definition": spec.to_dict(), "runs": runs})
        return
    rows = [
        ("current", spec.current), ("timestamp", spec.timestamp or "(whole table each run)"),
        ("window", spec.window), ("reference", str(spec.reference) if spec.reference else ""),
        ("model", spec.model or ""), ("checks", ", ".join(spec.checks)),
        ("rules", "; ".join(f"{r.name}: {r.figure} {r.op} {r.threshold:g}" for r in spec.rules)),
    ]  # fmt: skip
    table = new_table("window start", "status", "rows", "figures", wrap=("figures",))
    for r in runs:
        figures = r["figures"]
        shown = [k for k in figures if k.count(".") == 1 and k not in ("rows",) and not k.endswith("dataset_drifted")]
        text = ", ".join(f"{k} {fmt_value(figures[k], 3)}" for k in shown[:4])
        table.add_row(
            cell(r["window_start"].replace("T00:00:00Z", "")), cell(r["status"], STATUS_STYLES.get(r["status"], "")),
            cell(fmt_value(figures.get("rows")) if "rows" in figures else ""),
            cell(text if r["status"] != "failed" else (r["error"] or "")[:200]),
        )  # fmt: skip
    parts: list[Any] = [kv_table(rows, title=name)]
    parts.append(table if runs else Text("No runs yet: `assay monitor run NAME`.", style="dim"))
    stdout().print(spaced(*parts))


# -- incidents -------------------------------------------------------------------------------------------
def _incident_table(items: list[inc.IncidentInfo]) -> Any:
    table = new_table("#", "state", "severity", "title", "alerts", "opened", wrap=("title",), min_width={"title": 30})
    for i in items:
        model = f" [{i.model_name} v{i.model_version}]" if i.model_name else ""
        table.add_row(
            cell(str(i.id)), cell(i.state, STATE_STYLES.get(i.state, "")), cell(i.severity), cell(i.title + model),
            cell(str(i.alert_count)), cell((i.opened_at or "")[:16].replace("T", " ")),
        )  # fmt: skip
    return table


@incident_app.command("list")
def incident_list(
    ctx: typer.Context,
    state: Annotated[str | None, typer.Option("--state", help="open, acknowledged or resolved.")] = None,
    monitor: Annotated[str | None, typer.Option("--monitor", help="Only this monitor's incidents.")] = None,
    json_output: JsonOption = False,
) -> None:
    """Incidents, newest first."""
    items = inc.list_incidents(state=state, monitor=monitor, client=get_state(ctx).client)
    if json_output:
        print_json([i.to_dict() for i in items])
        return
    if not items:
        stdout().print(Text("No incidents.", style="dim"))
        return
    stdout().print(_incident_table(items))


def _print_incident(info: inc.IncidentInfo, json_output: bool) -> None:
    if json_output:
        print_json(info.to_dict())
        return
    rows = [(k, v) for k, v in info.to_dict().items() if v not in (None, "")]
    stdout().print(kv_table(rows, title=f"incident #{info.id}"))


@incident_app.command("show")
def incident_show(
    ctx: typer.Context,
    incident_id: Annotated[int, typer.Argument(help="Incident number.")],
    json_output: JsonOption = False,
) -> None:
    """One incident in full."""
    _print_incident(inc.get_incident(incident_id, client=get_state(ctx).client), json_output)


@incident_app.command("ack")
def incident_ack(
    ctx: typer.Context,
    incident_id: Annotated[int, typer.Argument(help="Incident number.")],
    owner: Annotated[str | None, typer.Option("--owner", help="Who is on it.")] = None,
    json_output: JsonOption = False,
) -> None:
    """Acknowledge an incident: someone is on it."""
    _print_incident(inc.acknowledge(incident_id, owner=owner, client=get_state(ctx).client), json_output)


@incident_app.command("resolve")
def incident_resolve(
    ctx: typer.Context,
    incident_id: Annotated[int, typer.Argument(help="Incident number.")],
    postmortem: Annotated[str | None, typer.Option("--postmortem", help="What happened and what was done.")] = None,
    json_output: JsonOption = False,
) -> None:
    """Resolve an incident, optionally with its post-mortem note."""
    _print_incident(inc.resolve(incident_id, postmortem=postmortem, client=get_state(ctx).client), json_output)


@incident_app.command("reopen")
def incident_reopen(
    ctx: typer.Context,
    incident_id: Annotated[int, typer.Argument(help="Incident number.")],
    json_output: JsonOption = False,
) -> None:
    """Reopen a resolved incident."""
    _print_incident(inc.reopen(incident_id, client=get_state(ctx).client), json_output)


@incident_app.command("note")
def incident_note(
    ctx: typer.Context,
    incident_id: Annotated[int, typer.Argument(help="Incident number.")],
    postmortem: Annotated[str, typer.Argument(help="The post-mortem text.")],
    json_output: JsonOption = False,
) -> None:
    """Write the post-mortem note of an incident without changing its state."""
    _print_incident(inc.note(incident_id, postmortem, client=get_state(ctx).client), json_output)
