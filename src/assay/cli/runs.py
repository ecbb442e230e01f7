"""``assay runs ...``: list, show, compare, history and end tracked runs.

Every command that takes a run id also accepts a unique prefix of at least six characters
(``assay runs show 3f2a9c``), resolved with one query against the store.

Example::

    $ assay runs list --project churn --filter "metrics.auc > 0.8" --order-by "metrics.auc desc"
    $ assay runs compare 3f2a9c 77b01e --json
"""

from __future__ import annotations

import math
import re
from enum import StrEnum
from typing import Annotated, Any

import pandas as pd
import typer
from rich.text import Text

from assay.cli.context import get_state
from assay.cli.render import (
    JsonOption,
    cell,
    fmt_duration,
    fmt_size,
    fmt_time,
    fmt_value,
    kv_table,
    new_table,
    print_json,
    run_duration,
    short_id,
    spaced,
    sparkline,
    status_text,
    stdout,
)
from assay.errors import InvalidInputError, NotFoundError, StateError
from assay.tracking.client import Client
from assay.tracking.filters import parse_order_by

__all__ = ["MIN_PREFIX", "EndStatus", "app", "resolve_run_id"]

app = typer.Typer(help="List, inspect, compare and end tracked runs.", no_args_is_help=True)

MIN_PREFIX = 6
_HEX = re.compile(r"^[0-9a-fA-F]+$")  # run ids are uuid4 hex
_AUTO_METRICS = 4
_AUTO_PARAMS = 3
_MAX_ARTIFACTS = 50
_NAME_FIT = 14  # when fitting columns to the terminal, names may wrap down to this width

RunIdArg = Annotated[str, typer.Argument(help="A run id, or a unique prefix of at least 6 characters.")]


class EndStatus(StrEnum):
    """Final statuses a run can be given by ``assay runs end``."""

    finished = "finished"
    failed = "failed"
    killed = "killed"


def resolve_run_id(client: Client, ref: str) -> str:
    """The full id of the run ``ref`` names: an exact id, or a unique prefix of at least 6 hex characters.

    Raises ``NotFoundError`` when nothing matches and ``InvalidInputError`` when a prefix is ambiguous.

    Example::

        resolve_run_id(client, "3f2a9c")   # '3f2a9c1e0b6d4c27a9e1f0d2b3c4a5e6'
    """
    ref = ref.strip()
    try:
        client.get_run(ref)
        return ref
    except NotFoundError:
        pass
    if len(ref) < MIN_PREFIX or not _HEX.match(ref):
        raise NotFoundError(
            f"run {ref!r} not found; give a full run id or a unique prefix of at least {MIN_PREFIX} "
            "characters (see `assay runs list`)"
        )
    # the prefix is hex only, so it cannot contain quotes or LIKE wildcards
    found = client.search_runs(filter=f"attributes.run_id like '{ref.lower()}%'", limit=6)
    if found.empty:
        raise NotFoundError(f"run {ref!r} not found: no run id starts with it; check the id with `assay runs list`")
    if len(found) > 1:
        shown = ", ".join(f"{rid[:12]} ({name})" for rid, name in zip(found["run_id"], found["name"], strict=True))
        more = " or more" if len(found) > 5 else ""
        raise InvalidInputError(
            f"run id prefix {ref!r} is ambiguous: it matches {min(len(found), 5)}{more} runs: {shown}; "
            "type more characters"
        )
    return str(found["run_id"].iloc[0])


# -- list ------------------------------------------------------------------------------------------
def _present(value: Any) -> bool:
    return value is not None and not (isinstance(value, float) and math.isnan(value)) and value is not pd.NaT


def _frame_records(df: pd.DataFrame) -> list[dict[str, Any]]:
    """One JSON-ready dict per run: base fields, then ``params``/``metrics``/``tags`` sub-dicts."""
    records = []
    for row in df.to_dict(orient="records"):
        rec: dict[str, Any] = {
            "run_id": row["run_id"],
            "project": row["project"],
            "name": row["name"],
            "status": row["status"],
            "start_time": row["start_time"],
            "end_time": row["end_time"] if _present(row["end_time"]) else None,
            "duration_s": run_duration(row["start_time"], row["end_time"] if _present(row["end_time"]) else None),
            "user": row["user"],
        }
        for entity in ("params", "metrics", "tags"):
            prefix = entity + "."
            rec[entity] = {k[len(prefix) :]: v for k, v in row.items() if k.startswith(prefix) and _present(v)}
        records.append(rec)
    return records


def _pick_columns(df: pd.DataFrame, order_by: list[str], explicit: list[str]) -> list[str]:
    """Columns to show: ``explicit`` if given, else (by priority) ordered-by keys, then common metrics and params."""
    if explicit:
        for name in explicit:
            if name.split(".", 1)[0] not in ("params", "metrics", "tags") or "." not in name:
                raise InvalidInputError(f"column {name!r} is not valid: use params.<key>, metrics.<key> or tags.<key>")
        return explicit
    ordered = []
    for item in order_by:
        parsed = parse_order_by(item)
        name = f"{parsed.entity}.{parsed.key}"
        if parsed.entity != "attributes" and name in df.columns:
            ordered.append(name)

    def most_common(entity: str, n: int) -> list[str]:
        cols = [c for c in df.columns if c.startswith(entity + ".") and c not in ordered]
        cols.sort(key=lambda c: (-int(df[c].notna().sum()), c))
        return cols[:n]

    return ordered + most_common("metrics", _AUTO_METRICS) + most_common("params", _AUTO_PARAMS)


def _width(values: list[str], header: str) -> int:
    return max([len(header), *(len(v) for v in values)])


def _start_times(times: list[Any]) -> list[str]:
    """Start times for the list: ``Nov 25 14:03`` when all are in the current year, else with the year."""
    this_year = pd.Timestamp.now(tz="UTC").year
    if all(_present(t) and t.year == this_year for t in times):
        return [t.strftime("%b %d %H:%M") for t in times]
    return [fmt_time(t, seconds=False) for t in times]


def _fit(base: dict[str, list[str]], extra: dict[str, list[str]], width: int) -> list[str]:
    """The extra columns, in order, that fit in ``width`` characters beside the base columns.

    Names are kept on one line when that leaves room for at least one extra column; otherwise
    they may wrap down to ``_NAME_FIT`` characters to make room.
    """
    for name_cap in (1000, _NAME_FIT):
        used = sum(min(_width(v, k), name_cap if k in ("name", "project") else 1000) + 3 for k, v in base.items())
        kept = []
        for name, values in extra.items():
            need = _width(values, name.split(".", 1)[1]) + 3
            if used + need <= width:
                kept.append(name)
                used += need
        if kept:
            return kept
    return []


def _header(name: str, all_names: list[str]) -> Text:
    entity, key = name.split(".", 1)
    clash = sum(1 for other in all_names if other.split(".", 1)[1] == key) > 1
    style = {"params": "cyan", "metrics": "green"}.get(entity, "bright_black")
    return Text(name if clash or entity == "tags" else key, style=f"bold {style}")


@app.command("list")
def list_runs(
    ctx: typer.Context,
    project: Annotated[
        list[str] | None, typer.Option("--project", "-p", help="Only runs of this project (repeatable).")
    ] = None,
    filter_: Annotated[
        str | None,
        typer.Option("--filter", "-f", help="Search filter, e.g. \"metrics.auc > 0.8 and params.model = 'lgbm'\"."),
    ] = None,
    order_by: Annotated[
        list[str] | None,
        typer.Option("--order-by", "-o", help="Sort key such as 'metrics.auc desc' (repeatable; default: newest)."),
    ] = None,
    limit: Annotated[int, typer.Option("--limit", "-n", min=1, help="Show at most this many runs.")] = 20,
    columns: Annotated[
        list[str] | None,
        typer.Option("--column", "-c", help="Show this column, e.g. metrics.auc (repeatable; default: automatic)."),
    ] = None,
    json_output: JsonOption = False,
) -> None:
    """List runs matching a filter, newest first (or by --order-by), with key params and metrics."""
    client = get_state(ctx).client
    df = client.search_runs(project=project or None, filter=filter_, order_by=order_by or None, limit=limit)
    if json_output:
        print_json(_frame_records(df))
        return
    console = stdout()
    if df.empty:
        console.print("No runs found." + (" Try without --filter." if filter_ else ""))
        return
    extra = _pick_columns(df, order_by or [], columns or [])
    show_project = df["project"].nunique() > 1
    records = df.to_dict(orient="records")
    base: dict[str, list[str]] = {
        "run": [short_id(r["run_id"]) for r in records],
        "name": [fmt_value(r["name"]) for r in records],
        "project": [fmt_value(r["project"]) for r in records] if show_project else [],
        "status": [r["status"] for r in records],
        "started": _start_times([r["start_time"] for r in records]),
        "duration": [
            fmt_duration(run_duration(r["start_time"], r["end_time"] if _present(r["end_time"]) else None))
            for r in records
        ],
    }
    if not show_project:
        del base["project"]
    values = {
        name: [fmt_value(r.get(name), digits=4) if _present(r.get(name)) else "-" for r in records] for name in extra
    }
    if not columns:  # automatic choice: only as many columns as fit the terminal
        rank = {"params": 0, "metrics": 1, "tags": 2}  # shown params first, then metrics
        extra = sorted(_fit(base, values, console.width), key=lambda c: rank[c.split(".", 1)[0]])
    else:  # explicit choice: never squeeze a column away; let long lines be long
        needed = sum(_width(v, k) + 3 for k, v in [*base.items(), *values.items()])
        console = stdout(width=max(console.width, needed))
    table = new_table()
    for name in base:
        wide = name in ("name", "project")
        table.add_column(
            name,
            no_wrap=not wide,
            overflow="fold",
            min_width=min(_width(base[name], name), _NAME_FIT) if wide else None,
        )
    for name in extra:
        metric = name.startswith("metrics.")
        table.add_column(_header(name, extra), justify="right" if metric else "left", overflow="fold")
    for i in range(len(records)):
        row: list[Any] = [cell(base["run"][i], "bold")]
        row += [status_text(v[i]) if key == "status" else cell(v[i]) for key, v in base.items() if key != "run"]
        row += [cell(values[name][i]) for name in extra]
        table.add_row(*row)
    more = f"; showing the first {limit}, use --limit for more" if len(df) == limit else ""
    table.caption = f"{len(df)} run{'s' if len(df) != 1 else ''} (times in UTC){more}"
    console.print(table)


# -- show ------------------------------------------------------------------------------------------
def _environment_rows(env: dict[str, Any]) -> list[tuple[str, Any]]:
    rows: list[tuple[str, Any]] = []
    git = env.get("git")
    if git:
        detail = ", ".join(x for x in (git.get("branch"), "dirty" if git.get("dirty") else None) if x)
        rows.append(("git commit", f"{git.get('commit', '-')}" + (f" ({detail})" if detail else "")))
    if env.get("python"):
        rows.append(("python", f"{env['python']} on {env.get('platform', '?')}"))
    if env.get("command"):
        rows.append(("command", " ".join(str(part) for part in env["command"])))
    if env.get("packages"):
        rows.append(("packages", f"{len(env['packages'])} installed (see --json)"))
    return rows


@app.command("show")
def show_run(ctx: typer.Context, run_id: RunIdArg, json_output: JsonOption = False) -> None:
    """Everything about one run: status, times, params, metrics, tags, datasets, artifacts, environment."""
    client = get_state(ctx).client
    rid = resolve_run_id(client, run_id)
    info = client.run_info(rid)
    inputs = client.run_inputs(rid)
    artifacts = client.list_artifacts(rid)
    duration = run_duration(info["start_time"], info["end_time"])
    if json_output:
        git_commit = ((info.get("environment") or {}).get("git") or {}).get("commit")
        print_json({**info, "duration_s": duration, "git_commit": git_commit, "inputs": inputs, "artifacts": artifacts})
        return
    env = info.get("environment") or {}
    rows: list[tuple[str, Any]] = [
        ("run id", info["run_id"]),
        ("name", info["name"]),
        ("project", info["project"]),
        ("status", status_text(info["status"])),
        ("started", fmt_time(info["start_time"]) + " UTC"),
        ("ended", fmt_time(info["end_time"]) + (" UTC" if info["end_time"] is not None else "")),
        ("duration", fmt_duration(duration) + (" so far" if info["end_time"] is None else "")),
        ("user", f"{info['user']} on {info['host']} (pid {info['pid']})"),
    ]
    if info.get("parent_run_id"):
        rows.append(("parent run", info["parent_run_id"]))
    rows += _environment_rows(env)
    parts: list[Any] = [kv_table(rows, title=f"Run {short_id(rid)}")]
    for title, values, style in (
        ("Params", info["params"], "cyan"),
        ("Metrics (latest)", info["metrics"], "green"),
        ("Tags", info["tags"], ""),
    ):
        if values:
            table = new_table("key", "value", title=title, wrap=["value"])
            for key in sorted(values):
                table.add_row(cell(key, style), cell(values[key]))
            parts.append(table)
    if inputs:
        table = new_table(
            "role", "dataset", "rows", "fingerprint", "source", title="Datasets", wrap=["dataset", "source"]
        )
        for d in inputs:
            table.add_row(
                cell(d["role"]), cell(d["name"]), cell(d["num_rows"]), cell(short_id(d["fingerprint"], 12)),
                cell(d["source_uri"] or "-"),
            )  # fmt: skip
        parts.append(table)
    if artifacts:
        table = new_table("path", "size", title="Artifacts", wrap=["path"])
        for a in artifacts[:_MAX_ARTIFACTS]:
            table.add_row(cell(a["path"]), cell(fmt_size(a["size"])))
        if len(artifacts) > _MAX_ARTIFACTS:
            table.caption = f"… and {len(artifacts) - _MAX_ARTIFACTS} more (see --json)"
        parts.append(table)
    stdout().print(spaced(*parts))


# -- compare ---------------------------------------------------------------------------------------
@app.command("compare")
def compare_runs(
    ctx: typer.Context,
    run_ids: Annotated[list[str], typer.Argument(help="Two or more run ids or unique prefixes.")],
    only_diff: Annotated[bool, typer.Option("--only-diff", help="Show only the params that differ.")] = False,
    json_output: JsonOption = False,
) -> None:
    """Params and metrics of several runs side by side; params that differ are highlighted."""
    client = get_state(ctx).client
    ids = list(dict.fromkeys(resolve_run_id(client, ref) for ref in run_ids))
    if len(ids) < 2:
        raise InvalidInputError(f"compare needs at least two different runs; got {len(ids)}")
    infos = [client.run_info(rid) for rid in ids]
    param_keys = sorted({k for info in infos for k in info["params"]})
    metric_keys = sorted({k for info in infos for k in info["metrics"]})
    differing = [k for k in param_keys if len({info["params"].get(k) for info in infos}) > 1]
    if json_output:
        print_json(
            {
                "runs": [
                    {
                        **{k: info[k] for k in ("run_id", "name", "project", "status", "start_time", "end_time")},
                        "duration_s": run_duration(info["start_time"], info["end_time"]),
                    }
                    for info in infos
                ],
                "params": {k: {info["run_id"]: info["params"].get(k) for info in infos} for k in param_keys},
                "metrics": {k: {info["run_id"]: info["metrics"].get(k) for info in infos} for k in metric_keys},
                "differing_params": differing,
            }
        )
        return
    table = new_table("")
    for info in infos:
        table.add_column(Text(f"{info['name']}\n{short_id(info['run_id'])}"), overflow="fold")
    table.add_row("project", *(cell(info["project"]) for info in infos))
    table.add_row("status", *(status_text(info["status"]) for info in infos))
    table.add_row("duration", *(cell(fmt_duration(run_duration(i["start_time"], i["end_time"]))) for i in infos))
    shown_params = differing if only_diff else param_keys
    if shown_params:
        table.add_section()
        for key in shown_params:
            style = "bold yellow" if key in differing else ""
            table.add_row(
                Text(key, style=style or "cyan"),
                *(cell(fmt_value(info["params"][key]), style) if key in info["params"] else cell("-", "dim")
                  for info in infos),
            )  # fmt: skip
    if metric_keys:
        table.add_section()
        for key in metric_keys:
            table.add_row(
                Text(key, style="green"),
                *(cell(info["metrics"][key]) if key in info["metrics"] else cell("-", "dim") for info in infos),
            )
    table.caption = (
        f"{len(differing)} of {len(param_keys)} params differ (highlighted)" if param_keys else "no params logged"
    )
    stdout().print(table)


# -- history ---------------------------------------------------------------------------------------
def _sample(n: int, k: int) -> list[int]:
    """Up to ``k`` evenly spaced indices into ``range(n)``, always including the first and last."""
    if k <= 0 or k >= n:
        return list(range(n))
    if k == 1:
        return [n - 1]
    return sorted({round(i * (n - 1) / (k - 1)) for i in range(k)})


@app.command("history")
def metric_history(
    ctx: typer.Context,
    run_id: RunIdArg,
    metric: Annotated[str, typer.Argument(help="The metric key, e.g. val_loss.")],
    points: Annotated[
        int, typer.Option("--points", min=0, help="Table rows: evenly spaced points (0 shows every point).")
    ] = 10,
    json_output: JsonOption = False,
) -> None:
    """A metric's history in a run: sparkline, first/last/min/max, and a few points."""
    client = get_state(ctx).client
    rid = resolve_run_id(client, run_id)
    history = client.metric_history(rid, metric)
    if json_output:
        print_json(
            {
                "run_id": rid,
                "metric": metric,
                "points": [{"step": s, "value": v, "timestamp": pd.Timestamp(t, unit="ms", tz="UTC")}
                           for s, v, t in history],
            }
        )  # fmt: skip
        return
    console = stdout()
    if not history:
        console.print(f"Metric {metric} of run {short_id(rid)} has no points.")
        return
    values = [v for _, v, _ in history]
    finite = [(v, s) for s, v, _ in history if math.isfinite(v)]
    points_text = f"{len(history)} point{'s' if len(history) != 1 else ''}"
    console.print(Text(f"{metric} in run {short_id(rid)}: {points_text}", style="bold"))
    console.print(Text(sparkline(values), style="green"))
    rows: list[tuple[str, Any]] = [
        ("first", f"{fmt_value(values[0])} (step {history[0][0]})"),
        ("last", f"{fmt_value(values[-1])} (step {history[-1][0]})"),
    ]
    if finite:
        low, high = min(finite), max(finite)
        rows += [("min", f"{fmt_value(low[0])} (step {low[1]})"), ("max", f"{fmt_value(high[0])} (step {high[1]})")]
    console.print(kv_table(rows))
    table = new_table("step", "value", "time (UTC)")
    for i in _sample(len(history), points):
        step, value, ts = history[i]
        table.add_row(cell(str(step)), cell(value), cell(fmt_time(ts)))
    console.print(table)


# -- end -------------------------------------------------------------------------------------------
@app.command("end")
def end_run(
    ctx: typer.Context,
    run_id: RunIdArg,
    status: Annotated[
        EndStatus, typer.Option("--status", "-s", case_sensitive=False, help="The final status to record.")
    ] = EndStatus.finished,
    force: Annotated[bool, typer.Option("--force", help="Change the status of a run that already ended.")] = False,
) -> None:
    """Mark a run as ended, e.g. one whose process died while it was still ``running``."""
    client = get_state(ctx).client
    rid = resolve_run_id(client, run_id)
    info = client.run_info(rid)
    if info["status"] != "running" and not force:
        raise StateError(
            f"run {short_id(rid)} ({info['name']}) already ended as {info['status']} at "
            f"{fmt_time(info['end_time'])} UTC; pass --force to record {status.value!r} instead"
        )
    client.set_terminated(rid, status.value)
    stdout().print(
        Text.assemble(
            f"Run {short_id(rid)} ({info['name']}) marked ", status_text(status.value), f" (was {info['status']})."
        )
    )
