"""``assay exp ...``: size an experiment, analyse it where its data lives, and read stored readouts.

``analyze`` runs :func:`assay.experiments.analyze` (DuckDB in-process unless ``--engine`` names another
engine), prints the readout, the sample-ratio check, one row per metric × treatment variant and any data
problems, and saves the analysis to the store (unless ``--no-save``). ``show`` and ``list`` read the store.

Example::

    $ assay exp design --metric-mean 0.10 --mde 0.02 --daily-traffic 20000
    $ assay exp analyze checkout.yaml --catalog metrics.yaml \\
          --source exposures=exposures.parquet --source events=events/ --as-of 2024-03-15
    $ assay exp show checkout-v2 --json
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.text import Text

from assay.cli.context import get_state
from assay.cli.render import JsonOption, cell, fmt_time, fmt_value, kv_table, new_table, print_json, spaced, stdout
from assay.engine import connect
from assay.errors import InvalidInputError
from assay.experiments import Experiment, MetricCatalog, Readout, analyze, stats
from assay.experiments.persist import list_experiments, load_experiment, save_result
from assay.experiments.stats.results import fmt_level, fmt_lift

__all__ = ["app", "parse_sources", "results_table"]

app = typer.Typer(help="Experiments: design (power), analysis where the data lives, stored readouts.",
                  no_args_is_help=True)  # fmt: skip

OUTCOME_STYLES = {"improved": "green", "ok": "green", "worsened": "red", "harmed": "red",
                  "inconclusive": "yellow", "undefined": "magenta"}  # fmt: skip
DECISION_STYLES = {"ship": "bold green", "don't ship": "bold red", "keep running": "bold yellow",
                   "investigate": "bold magenta"}  # fmt: skip

SlicesOption = Annotated[bool, typer.Option("--slices", help="Also list the results within each slice (dimension).")]


def _ms_datetime(ms: int | None) -> datetime | None:
    return None if ms is None else datetime.fromtimestamp(ms / 1000, UTC)


# -- design -------------------------------------------------------------------------------------------------


def _target_text(r: stats.SampleSizeResult) -> str:
    """``±20.0% relative: proportion 10% → 12% (or 8%), absolute ±0.02``."""
    show = (lambda v: f"{v * 100:.4g}%") if r.kind == "proportion" else (lambda v: f"{v:.4g}")
    sign = {"two-sided": "±", "greater": "+", "less": "-"}[r.alternative]
    up, down = r.mean + r.absolute_mde, r.mean - r.absolute_mde
    moved = show(down if r.alternative == "less" else up)
    if r.alternative == "two-sided":
        moved += f" (or {show(down)})"
    if r.relative:
        absolute = f"absolute {sign}{r.absolute_mde:.4g}"
        return f"{sign}{r.mde * 100:.4g}% relative: {r.kind} {show(r.mean)} → {moved}, {absolute}"
    return f"{sign}{r.absolute_mde:.4g} absolute: {r.kind} {show(r.mean)} → {moved}"


@app.command("design")
def design(
    metric_mean: Annotated[float, typer.Option("--metric-mean", help="Baseline mean (a rate in (0, 1) when no --sd).")],
    mde: Annotated[float, typer.Option("--mde", help="Smallest change worth detecting (relative unless --absolute).")],
    sd: Annotated[float | None, typer.Option("--sd", help="Per-unit standard deviation (omit for a rate).")] = None,
    absolute: Annotated[bool, typer.Option("--absolute", help="--mde is an absolute change, not a fraction.")] = False,
    alpha: Annotated[float, typer.Option("--alpha", help="Significance level.")] = 0.05,
    power: Annotated[float, typer.Option("--power", help="Chance to detect a true change of --mde.")] = 0.8,
    variants: Annotated[int, typer.Option("--variants", help="Arms including control (Bonferroni over k-1).")] = 2,
    alternative: Annotated[
        str, typer.Option("--alternative", help="two-sided, greater (one-sided increase) or less.")
    ] = "two-sided",
    cuped_correlation: Annotated[
        float | None, typer.Option("--cuped-correlation", help="Expected pre/post correlation with CUPED.")
    ] = None,
    daily_traffic: Annotated[
        float | None, typer.Option("--daily-traffic", help="New eligible units a day, for the expected duration.")
    ] = None,
    traffic_fraction: Annotated[
        float, typer.Option("--traffic-fraction", help="Share of the daily traffic enrolled.")
    ] = 1.0,
    json_output: JsonOption = False,
) -> None:
    """Units needed per variant and in total to detect --mde, and how long that takes at --daily-traffic."""
    r = stats.sample_size(mean=metric_mean, sd=sd, mde=mde, relative=not absolute, alpha=alpha, power=power,
                          variants=variants, alternative=alternative, cuped_correlation=cuped_correlation)  # fmt: skip
    days = None if daily_traffic is None else stats.duration(r, daily_traffic, traffic_fraction=traffic_fraction)
    if json_output:
        print_json({**r.to_dict(), "summary": r.summary(), "duration": None if days is None else days.to_dict()})
        return
    rows: list[tuple[str, Any]] = [
        ("sample size", f"{r.n_per_variant:,} units per variant, {r.total:,} in total ({r.variants} variants)"),
        ("detects", _target_text(r)),
        ("power", f"{r.power:.0%} at alpha = {r.alpha:g} {r.alternative}"
                  + (f" ({r.alpha_per_comparison:.3g} per comparison)" if r.alpha_per_comparison != r.alpha else "")),
        ("metric", f"{r.kind}, mean {r.mean:.4g}, sd {r.sd:.4g}"),
    ]  # fmt: skip
    if r.cuped_correlation:
        rho = r.cuped_correlation
        rows.append(("CUPED", f"correlation {rho:.2f}: variance × {1 - rho * rho:.2f}"))
    if days is not None:
        rows.append(("duration", days.summary()))
    console = stdout()
    console.print(kv_table(rows, title="Experiment design"))
    console.print(Text(""))
    console.print(Text(r.summary()))


# -- results rendering (shared by analyze and show; works on ExperimentResult.to_dict()) -------------------


def _comparison(res: dict[str, Any]) -> dict[str, Any]:
    """The inner test of a stored stats result: CUPED's adjusted test, a guardrail's one-sided test."""
    if "adjusted" in res:
        return res["adjusted"]
    if "test" in res and isinstance(res["test"], dict):
        return res["test"]
    return res


def _lift(row: dict[str, Any]) -> tuple[str, str]:
    """``("+4.9%", "+3.1% to +6.7%")``: the lift and its interval (``n/a`` when the test is undefined)."""
    inner = _comparison(row["result"])
    relative = bool(row.get("relative", True))
    estimate = inner.get("estimate")
    if row.get("status") != "ok" or estimate is None:
        return "n/a", "n/a"
    low, high = inner.get("ci_low"), inner.get("ci_high")  # None: an infinite one-sided bound (NaN needs status)
    lo = "-∞" if low is None else fmt_lift(low, relative)
    hi = "+∞" if high is None else fmt_lift(high, relative)
    return fmt_lift(estimate, relative), f"{lo} to {hi}"


def _p(value: float | None) -> str:
    if value is None or not math.isfinite(value):
        return "-"
    return "<0.001" if value < 0.001 else f"{value:.3f}"


def results_table(result: dict[str, Any], *, slices: bool = False, width: int | None = None) -> Any:
    """A Rich table of an analysis (``ExperimentResult.to_dict()``): one row per metric × variant (× slice).

    Rows come in role order (primary, secondary, guardrail), a rule between roles; below ``width`` 100 the
    role column is left out to keep every figure on screen.

    Example::

        stdout().print(results_table(result.to_dict()))
    """
    rows = [r for r in result.get("results", []) if slices or not r.get("slice")]
    several = len({r["variant"] for r in rows}) > 1
    roles = width is None or width >= 100
    ci = f"{fmt_level(float(result.get('alpha') or 0.05))} CI"
    optional = [("role", roles), ("variant", several), ("slice", slices)]
    columns = ["metric", *(name for name, shown in optional if shown), "control", "treatment", "lift", ci, "p",
               "adj. p", "verdict"]  # fmt: skip
    hidden = len(result.get("results", [])) - len(rows)
    notes = [] if several or not rows else [f"{rows[0]['variant']} vs {rows[0].get('control', 'control')}"]
    notes += [] if roles else ["primary, secondary, guardrail metrics"]
    notes += [f"{hidden} slice results not shown: add --slices"] if hidden else []
    table = new_table(*columns, caption="; ".join(notes) or None, wrap=["metric", "variant", "slice", ci],
                      min_width={"metric": 8, "variant": 7, "slice": 8, ci: 8})  # fmt: skip
    for i, r in enumerate(rows):
        if i and r.get("role") != rows[i - 1].get("role"):
            table.add_section()
        inner = _comparison(r["result"])
        where = "=".join(map(str, r["slice"])) if r.get("slice") else "all"
        table.add_row(
            cell(r["metric"], "bold" if r.get("role") == "primary" else ""),
            *([cell(r.get("role", ""))] if roles else []),
            *([cell(r["variant"])] if several else []),
            *([cell(where)] if slices else []),
            cell(fmt_value(inner.get("control_mean"), 4)),
            cell(fmt_value(inner.get("treatment_mean"), 4)),
            *(cell(text) for text in _lift(r)),
            cell(_p(r.get("p_value"))),
            cell(_p(r.get("adjusted_p_value"))),
            cell(r.get("outcome", ""), OUTCOME_STYLES.get(r.get("outcome", ""), "")),
        )
    return table


def _issues(result: dict[str, Any]) -> list[Text]:
    """``[]``, or one text block: ``Data quality:`` then one line per issue (errors red, warnings yellow)."""
    issues = result.get("issues") or []
    if not issues:
        return []
    text = Text("Data quality:", style="bold")
    for i in issues:
        text.append(f"\n- {i['severity']}: {i['message']}", style="red" if i["severity"] == "error" else "yellow")
    return [text]


def _decision_line(name: str, decision: str | None, variant: str | None = None) -> Text:
    line = Text(f"Decision for {name}: ")
    line.append(decision or "no decision", DECISION_STYLES.get(decision or "", "bold"))
    if decision == "ship" and variant:
        line.append(f" ({variant})")
    return line


# -- analyze ------------------------------------------------------------------------------------------------


def parse_sources(values: list[str] | None) -> dict[str, str]:
    """``["events=events/", "exposures=x.parquet"]`` → ``{"events": "events/", "exposures": "x.parquet"}``.

    >>> parse_sources(["exposures=data/exposures.parquet"])
    {'exposures': 'data/exposures.parquet'}
    """
    out: dict[str, str] = {}
    for value in values or []:
        name, sep, path = value.partition("=")
        name, path = name.strip(), path.strip()
        if not sep or not name or not path:
            raise InvalidInputError(f"--source must look like NAME=PATH (e.g. events=events.parquet). Got {value!r}.")
        if name in out:
            raise InvalidInputError(f"--source {name!r} is given twice.")
        out[name] = path
    return out


@app.command("analyze")
def analyze_cmd(
    ctx: typer.Context,
    experiment_file: Annotated[Path, typer.Argument(help="The experiment definition (YAML).", metavar="EXPERIMENT")],
    catalog: Annotated[
        Path | None, typer.Option("--catalog", help="Metric catalog YAML for metrics referred to by name.")
    ] = None,
    source: Annotated[
        list[str] | None,
        typer.Option(
            "--source",
            "-s",
            metavar="NAME=PATH",
            help="Register a Parquet/CSV file, glob or folder as table NAME (repeatable).",
        ),
    ] = None,
    engine_url: Annotated[
        str | None, typer.Option("--engine", metavar="URL", help="Engine URL (default: in-process DuckDB).")
    ] = None,
    as_of: Annotated[
        str | None, typer.Option("--as-of", metavar="DATE", help="Analyse data before this date/time only.")
    ] = None,
    show_sql: Annotated[bool, typer.Option("--show-sql", help="Print the SQL that computed the statistics.")] = False,
    no_save: Annotated[bool, typer.Option("--no-save", help="Do not store the analysis.")] = False,
    slices: SlicesOption = False,
    json_output: JsonOption = False,
) -> None:
    """Analyse EXPERIMENT where its data lives, print the readout and results, and store the analysis."""
    metrics = None if catalog is None else MetricCatalog.from_yaml(Path(catalog))
    experiment = Experiment.from_yaml(Path(experiment_file), catalog=metrics)
    experiment.resolve_metrics(metrics)  # an undefined metric fails here, before any data is read
    sources = parse_sources(source)
    engine = connect(engine_url)
    try:
        for name, path in sources.items():
            try:
                engine.register(name, path)
            except InvalidInputError as exc:
                raise InvalidInputError(f"--source {name}={path}: {exc}") from exc
        result = analyze(experiment, engine=engine, catalog=metrics, as_of=as_of)
    finally:
        engine.close()
    readout = Readout.from_result(result)
    analysis_id = None if no_save else save_result(result, client=get_state(ctx).client, readout=readout)
    if json_output:
        print_json({"experiment": result.experiment, "analysis_id": analysis_id, "decision": readout.decision,
                    "variant": readout.variant, "summary": readout.summary(), "readout": readout.to_dict(),
                    "result": result.to_dict()})  # fmt: skip
        return
    data = result.to_dict()
    arms = ", ".join(f"{v} {result.counts.get(v, 0):,}" for v in result.variants)
    console = stdout()
    parts: list[Any] = [
        _decision_line(result.experiment, readout.decision, readout.variant),
        Text(readout.summary()),
        Text(f"Units analysed: {arms}. {result.srm.summary()}", style="" if result.srm.ok else "red"),
        results_table(data, slices=slices, width=console.width),
    ]
    parts += _issues(data)
    if show_sql:
        parts.append(Text(result.sql))
    done = f"Saved as analysis {analysis_id} of {result.experiment!r}." if analysis_id is not None else (
        "Not saved (--no-save).")  # fmt: skip
    timing = f" Took {result.timings.get('total_s', 0):.2f}s."
    parts.append(Text(done + timing, style="dim"))
    console.print(spaced(*parts))


# -- show / list --------------------------------------------------------------------------------------------


def _definition_rows(exp: dict[str, Any]) -> list[tuple[str, Any]]:
    d = exp["definition"] or {}
    listed = lambda key: ", ".join(d.get(key) or []) or "-"  # noqa: E731
    window = " to ".join(x or "…" for x in (d.get("start"), d.get("end"))) if d.get("start") or d.get("end") else "-"
    cuped = d.get("cuped")
    return [
        ("status", exp["status"]),
        ("description", d.get("description") or "-"),
        ("owner", d.get("owner") or "-"),
        ("exposures", (d.get("exposures") or {}).get("source", "-")),
        ("primary metric", d.get("primary_metric", "-")),
        ("secondary", listed("secondary_metrics")),
        ("guardrails", listed("guardrail_metrics")),
        ("dimensions", listed("dimensions")),
        ("analysis", f"{d.get('method', 'fixed')}, alpha = {d.get('alpha', 0.05):g}, "
                     f"multiple testing: {d.get('multiple_testing', 'holm')}"
                     + ("" if d.get("relative", True) else ", absolute lifts")),
        ("CUPED", f"pre-period {cuped['pre_period']}" if cuped else "-"),
        ("window", window),
        ("analyses", str(exp["analyses"])),
        ("created", fmt_time(exp["created_ms"]) + " UTC"),
        ("updated", fmt_time(exp["updated_ms"]) + " UTC"),
    ]  # fmt: skip


def _variants_table(exp: dict[str, Any]) -> Any:
    table = new_table("variant", "weight", "control", "model version", "model URI (definition)", title="Variants")
    for v in exp["variants"]:
        table.add_row(
            cell(v["name"], "bold" if v["is_control"] else ""),
            cell("-" if v["weight"] is None else f"{v['weight']:.1%}"),
            cell("yes" if v["is_control"] else ""),
            cell(v["model"] or "-"),
            cell(v.get("model_uri") or "-"),
        )
    return table


def _jsonable_experiment(exp: dict[str, Any]) -> dict[str, Any]:
    out = {k: v for k, v in exp.items() if k not in ("created_ms", "updated_ms", "latest_analyses")}
    out["created_at"], out["updated_at"] = _ms_datetime(exp["created_ms"]), _ms_datetime(exp["updated_ms"])
    out["latest_analyses"] = [{**{k: v for k, v in a.items() if k != "ts_ms"}, "analysed_at": _ms_datetime(a["ts_ms"])}
                              for a in exp["latest_analyses"]]  # fmt: skip
    return out


@app.command("show")
def show(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="The experiment's name.")],
    slices: SlicesOption = False,
    json_output: JsonOption = False,
) -> None:
    """An experiment's definition, variants (with linked model versions) and its latest readout."""
    exp = load_experiment(name, get_state(ctx).client, analyses=1)
    if json_output:
        print_json(_jsonable_experiment(exp))
        return
    console = stdout()
    parts: list[Any] = [kv_table(_definition_rows(exp), title=exp["name"]), _variants_table(exp)]
    if not exp["latest_analyses"]:
        parts.append(Text("No analyses stored yet: run `assay exp analyze EXPERIMENT.yaml`.", style="dim"))
    else:
        a = exp["latest_analyses"][0]
        result = a["result"] or {}
        arms = ", ".join(f"{v} {n:,}" for v, n in (result.get("counts") or {}).items())
        srm = result.get("srm") or {}
        srm_line = f"Sample ratio {'OK' if srm.get('ok', True) else 'MISMATCH'} (p = {_p(a['srm_p_value'])})"
        as_of = f", data as of {result['as_of']}" if result.get("as_of") else ""
        parts += [
            Text(
                f"Latest analysis {a['id']} ({fmt_time(a['ts_ms'])} UTC by {a['actor']}{as_of}; "
                f"{exp['analyses']} stored)",
                style="bold",
            ),
            _decision_line(exp["name"], a["decision"]),
            Text(a["summary"] or ""),
            Text(f"Units analysed: {arms}. {srm_line}.", style="" if srm.get("ok", True) else "red"),
            results_table(result, slices=slices, width=console.width),
            *_issues(result),
        ]
    console.print(spaced(*parts))


@app.command("list")
def list_cmd(ctx: typer.Context, json_output: JsonOption = False) -> None:
    """Every stored experiment with its status and number of analyses."""
    rows = list_experiments(get_state(ctx).client)
    if json_output:
        print_json([{"name": r["name"], "status": r["status"], "analyses": r["analyses"],
                     "last_analysis_at": _ms_datetime(r["last_analysis_ms"]),
                     "updated_at": _ms_datetime(r["updated_ms"])} for r in rows])  # fmt: skip
        return
    console = stdout()
    if not rows:
        console.print("No experiments stored yet: run `assay exp analyze EXPERIMENT.yaml`.")
        return
    table = new_table("experiment", "status", "analyses", "last analysis (UTC)", "updated (UTC)", wrap=["experiment"])
    for r in rows:
        table.add_row(
            cell(r["name"], "bold"),
            cell(r["status"]),
            cell(str(r["analyses"])),
            cell(fmt_time(r["last_analysis_ms"], seconds=False)),
            cell(fmt_time(r["updated_ms"], seconds=False)),
        )
    console.print(table)
