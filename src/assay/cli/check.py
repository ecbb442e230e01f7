"""``assay models check NAME VERSION`` and ``assay models policy set FILE | show PROJECT``: policy gates.

``check`` evaluates every gate of the project's policy (or ``--policy FILE``) on a version and prints each
with the evidence it was judged on; it exits 1 when any gate does not pass (failed, missing evidence, error),
so a CI job or a promotion script can stop on it.

Example::

    $ assay models policy set policies/churn.yaml
    $ assay models check churn 3
    $ assay models check churn 3 --policy draft.yaml --json
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.text import Text

from assay.cli.context import get_state
from assay.cli.render import JsonOption, cell, fmt_time, fmt_value, kv_table, new_table, print_json, spaced, stdout

__all__ = ["check_command", "policy_set_command", "policy_show_command"]

_STYLES = {"pass": "green", "fail": "bold red", "missing_evidence": "bold yellow", "error": "bold magenta"}
_WORDS = {"pass": "pass", "fail": "FAIL", "missing_evidence": "NO EVIDENCE", "error": "ERROR"}


def check_command(
    ctx: typer.Context,
    model: Annotated[str, typer.Argument(help="The registered model's name.")],
    version: Annotated[int, typer.Argument(help="The version to check.")],
    policy_file: Annotated[
        Path | None,
        typer.Option(
            "--policy",
            help="Check against this policy YAML instead of the project's saved policy.",
            exists=True,
            dir_okay=False,
        ),
    ] = None,
    json_output: JsonOption = False,
) -> None:
    """Evaluate the policy gates on MODEL VERSION, each with its evidence; exit 1 when a gate does not pass."""
    from assay.governance.policy import Policy, check

    policy = Policy.from_yaml(policy_file) if policy_file is not None else None
    report = check((model, version), policy, client=get_state(ctx).client)
    if json_output:
        print_json(report.to_dict())
    else:
        table = new_table("gate", "result", "value", "limit", "evidence", wrap=("gate", "evidence"))
        for g in report.gates:
            evidence = g.evidence + (f" → {g.detail}" if g.detail else "")
            table.add_row(cell(g.gate, "bold"), cell(_WORDS[g.status], _STYLES[g.status]), cell(fmt_value(g.value, 4)),
                          cell(fmt_value(g.threshold, 4)), cell(evidence))  # fmt: skip
        verdict = Text(report.summary(), style="bold green" if report.passed else "bold red")
        parts = [verdict, table, *(Text(n, style="yellow") for n in report.notes)]
        stdout().print(spaced(*parts))
    if not report.passed:
        raise typer.Exit(1)


def policy_set_command(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(help="The policy YAML (it names its project).", exists=True, dir_okay=False)],
    json_output: JsonOption = False,
) -> None:
    """Save the policy in FILE as its project's policy in force (recorded in the audit log)."""
    from assay.governance.policy import Policy, save_policy

    saved = save_policy(Policy.from_yaml(file), client=get_state(ctx).client)
    if json_output:
        print_json(saved.to_dict())
        return
    stdout().print(Text(f"Saved the {saved.project} policy ({saved.digest[:12] if saved.digest else '-'}). "
                        + saved.summary()))  # fmt: skip


def policy_show_command(
    ctx: typer.Context,
    project: Annotated[str, typer.Argument(help="The project whose policy to show.")],
    json_output: JsonOption = False,
) -> None:
    """The policy in force for PROJECT (the default one when none was saved), as YAML."""
    from assay.governance.policy import load_policy

    policy = load_policy(project, client=get_state(ctx).client)
    if json_output:
        print_json(policy.to_dict())
        return
    rows = [("project", project), ("source", policy.source)]
    if policy.source == "saved":
        rows += [("saved", f"{fmt_time(policy.saved_at)} UTC by {policy.saved_by}"), ("digest", policy.digest)]
    else:
        rows.append(("note", "No policy saved for this project: the default applies (assay models policy set FILE)."))
    stdout().print(spaced(kv_table(rows, title=policy.summary()), Text(policy.to_yaml().rstrip())))
