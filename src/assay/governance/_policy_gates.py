"""The evaluators behind :func:`assay.governance.policy.check`: one function per gate kind, each turning the
evidence the store holds about a version (run metrics, recorded inputs, stored reports, recorded validations,
the training data) into :class:`~assay.governance.policy.GateResult` rows. See the policy module for the rules."""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
from sqlalchemy import select

from assay.errors import AssayError, NotFoundError
from assay.governance.card import EVALUATION_ROLES, FAIRNESS_ARTIFACT, _read_fairness, model_card
from assay.governance.policy import _FAIRNESS, Gate, GateResult
from assay.registry.registry import ModelVersion
from assay.store import lineage as lq
from assay.store import runs as rq
from assay.store.models import DatasetCheck, DatasetVersion

__all__ = ["Evidence", "evaluate", "gather"]


@dataclass
class Evidence:
    """What the store holds about one version, read once for all gates."""

    client: Any
    mv: ModelVersion
    run_id: str | None
    project: str | None
    metrics: dict[str, float]
    inputs: list[dict[str, Any]]
    fairness_digest: str | None

    @property
    def run(self) -> str:
        return f"run {self.run_id[:8]}" if self.run_id else "no run"

    def named(self, dataset: str) -> list[dict[str, Any]]:
        return [d for d in self.inputs if dataset in (d["name"], d["role"])]


def evaluate(ev: Evidence, gates: tuple[Gate, ...]) -> list[GateResult]:
    """Every gate's results on ``ev``; a gate whose evidence cannot be read or computed gets status ``error``."""
    results: list[GateResult] = []
    for gate in gates:
        try:
            results.extend(_EVALUATORS[gate.kind](ev, gate.params))
        except (AssayError, OSError, ValueError) as exc:
            results.append(_r(_label(gate), gate.kind, "error", "could not evaluate.", f"{type(exc).__name__}: {exc}"))
    return results


def gather(c: Any, mv: ModelVersion) -> Evidence:
    """Read the version's run, latest metrics, recorded inputs and fairness-report digest in one transaction."""
    run_id = project = digest = None
    metrics: dict[str, float] = {}
    inputs: list[dict[str, Any]] = []
    with c.db.read() as conn:
        if mv.run_id is not None:
            try:
                project = rq.get_run_row(conn, mv.run_id).project
                run_id = mv.run_id
            except NotFoundError:
                pass
        if run_id is not None:
            metrics = rq.run_details(conn, [run_id])[run_id]["metrics"]
            inputs = lq.list_run_inputs(conn, run_id)
            arts = lq.list_artifacts(conn, run_id, FAIRNESS_ARTIFACT.rsplit("/", 1)[0])
            digest = next((a["digest"] for a in arts if a["path"] == FAIRNESS_ARTIFACT), None)
    return Evidence(c, mv, run_id, project, metrics, inputs, digest)


def _r(label: str, kind: str, status: str, evidence: str, detail: str = "", value: float | None = None,
       threshold: float | None = None) -> GateResult:  # fmt: skip
    return GateResult(label, kind, status == "pass", status, value, threshold, evidence, detail)


def _label(gate: Gate) -> str:
    p = gate.params
    if gate.kind == "metric":
        bounds = " and ".join(f"{p['name']} {op} {_fmt(p[k])}" for k, op in (("min", "≥"), ("max", "≤")) if k in p)
        return f"metric {bounds}" + (f" on {p['dataset']}" if "dataset" in p else "")
    if gate.kind == "contract":
        return f"contract {p.get('dataset', 'training data')}"
    if gate.kind == "drift":
        return f"drift share ≤ {_fmt(p['max_share_drifted'])} vs {p['current']}"
    return {"card_complete": "card complete", "explanations": "explanation stored"}.get(gate.kind, gate.kind)


def _fmt(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "nan"
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def _rows(d: dict[str, Any]) -> str:
    return f"{d['num_rows']:,} rows" if d.get("num_rows") is not None else "rows unknown"


def _no_run(label: str, kind: str, ev: Evidence) -> list[GateResult]:
    return [_r(label, kind, "missing_evidence", f"{ev.mv.name} v{ev.mv.version} has no run on record.",
               "Register versions from a run (run.log_model) so their metrics and data are known.")]  # fmt: skip


def _judge(label: str, kind: str, value: float, op: str, limit: float, evidence: str) -> GateResult:
    if math.isnan(value):
        return _r(label, kind, "missing_evidence", evidence, "The value is NaN.", None, limit)
    ok = value >= limit if op == ">=" else value <= limit
    why = "" if ok else f"{_fmt(value)} is {'below the minimum' if op == '>=' else 'above the maximum'} {_fmt(limit)}."
    return _r(label, kind, "pass" if ok else "fail", evidence, why, value, limit)


def _eval_metric(ev: Evidence, p: dict[str, Any]) -> list[GateResult]:
    if ev.run_id is None:
        return _no_run(_label(Gate("metric", p)), "metric", ev)
    name, dataset = p["name"], p.get("dataset")
    on, keys = "", [name]
    if dataset is not None:
        found = ev.named(dataset)
        if not found:
            had = ", ".join(f"{d['name']} ({d['role']})" for d in ev.inputs) or "none"
            return [_r(_label(Gate("metric", p)), "metric", "missing_evidence",
                       f"{ev.run} recorded no input named or with role {dataset!r} (recorded: {had}).",
                       f"Log the evaluation data: run.log_dataset(path, role={dataset!r}).")]  # fmt: skip
        d = found[0]
        on = f" on {d['name']} ({d['role']}, version {d['fingerprint'][:12]}, {_rows(d)})"
        keys = [f"{dataset}{sep}{name}" for sep in ("_", ".", "/")] + keys
    key = next((k for k in keys if k in ev.metrics), None)
    if key is None:
        return [_r(_label(Gate("metric", p)), "metric", "missing_evidence",
                   f"{ev.run} logged no metric {' / '.join(keys)}.",
                   f"Log it on the run: run.log_metric({keys[0]!r}, value).")]  # fmt: skip
    value, out = float(ev.metrics[key]), []
    evidence = f"{ev.run} metric {key} = {_fmt(value)} (latest){on}."
    for bound, op, other in (("min", ">=", "max"), ("max", "<=", "min")):
        if bound in p:
            label = _label(Gate("metric", {k: v for k, v in p.items() if k != other}))
            out.append(_judge(label, "metric", value, op, p[bound], evidence))
    return out


def _eval_fairness(ev: Evidence, p: dict[str, Any]) -> list[GateResult]:
    notes: list[str] = []
    report, status = _read_fairness(ev.client, ev.fairness_digest, notes) if ev.run_id else (None, "missing")
    where = f"{FAIRNESS_ARTIFACT} on {ev.run}"
    out: list[GateResult] = []
    for key, limit in p.items():
        fld, op = _FAIRNESS[key]
        label = f"fairness {fld} {'≥' if op == '>=' else '≤'} {_fmt(limit)}"
        raw = report.get(fld) if isinstance(report, dict) else None
        if ev.run_id is None:
            out.extend(_no_run(label, "fairness", ev))
        elif status == "missing":
            out.append(_r(label, "fairness", "missing_evidence", f"{ev.run} has no {FAIRNESS_ARTIFACT}.",
                          "Audit with governance.fairness(...) and log report.to_dict() as JSON at "
                          f"{FAIRNESS_ARTIFACT} on the run.", None, limit))  # fmt: skip
        elif status != "ok" or not isinstance(report, dict):
            out.append(_r(label, "fairness", "error", f"{where} is unreadable.", " ".join(notes), None, limit))
        elif isinstance(raw, bool) or not isinstance(raw, int | float):
            state = f" (report status {report['status']})" if report.get("status") else ""
            out.append(_r(label, "fairness", "missing_evidence", f"{where} gives no {fld}{state}.",
                          "Audit with groups large enough to compare (min_group_size).", None, limit))  # fmt: skip
        else:
            ci, n = report.get(f"{fld}_ci"), report.get("n_rows")
            ok_ci = isinstance(ci, list | tuple) and len(ci) == 2 and all(isinstance(v, int | float) for v in ci)
            evidence = (
                f"{where}: {fld} = {_fmt(float(raw))}"
                + (f" [{_fmt(float(ci[0]))}, {_fmt(float(ci[1]))}]" if ok_ci else "")
                + f" across {report.get('feature', '?')}"
                + (f" ({n:,} rows)." if isinstance(n, int) else ".")
            )
            out.append(_judge(label, "fairness", float(raw), op, limit, evidence))
    return out


def _eval_contract(ev: Evidence, p: dict[str, Any]) -> list[GateResult]:
    label = _label(Gate("contract", p))
    if ev.run_id is None:
        return _no_run(label, "contract", ev)
    dataset = p.get("dataset")
    found = ev.named(dataset) if dataset else [d for d in ev.inputs if d["role"].lower() not in EVALUATION_ROLES]
    if not found:
        what = f"named or with role {dataset!r}" if dataset else "used for training"
        return [_r(label, "contract", "missing_evidence", f"{ev.run} recorded no input {what}.",
                   "Log the training data on the run: run.log_dataset(path, role='train').")]  # fmt: skip
    out = []
    for d in found:
        name = f"contract {d['name']}" if len(found) > 1 or not dataset else label
        stmt = (
            select(DatasetCheck.id, DatasetCheck.ts_ms, DatasetCheck.passed, DatasetCheck.summary)
            .join(DatasetVersion, DatasetVersion.id == DatasetCheck.dataset_version_id)
            .where(DatasetVersion.fingerprint == d["fingerprint"], DatasetCheck.kind == "validation")
            .order_by(DatasetCheck.ts_ms.desc(), DatasetCheck.id.desc())
            .limit(1)
        )
        with ev.client.db.read() as conn:
            row = conn.execute(stmt).first()
        version = f"{d['name']} version {d['fingerprint'][:12]} ({_rows(d)})"
        if row is None:
            out.append(_r(name, "contract", "missing_evidence",
                          f"no validation recorded for {version}, the data {ev.run} trained on.",
                          f"Validate that exact data and record it: assay data validate FILE --contract C.yaml "
                          f"--dataset {d['name']}"))  # fmt: skip
            continue
        when = pd.Timestamp(row.ts_ms, unit="ms", tz="UTC").strftime("%Y-%m-%d %H:%M UTC")
        evidence = f"validation #{row.id} of {version} on {when}: {'passed' if row.passed else 'FAILED'}."
        why = "" if row.passed else (row.summary or "The latest validation failed.")
        out.append(_r(name, "contract", "pass" if row.passed else "fail", evidence, why))
    return out


def _eval_card(ev: Evidence, p: dict[str, Any]) -> list[GateResult]:
    card = model_card(ev.mv, client=ev.client)
    whose = f"the card of {card.name} v{card.version}"
    if card.complete:
        return [_r("card complete", "card_complete", "pass", f"{whose} has every required section.", "", 0.0, 0.0)]
    return [_r("card complete", "card_complete", "fail", f"{whose} misses: {', '.join(card.missing)}.",
               f"Fill them in: assay models card edit {card.name}/{card.version} --set FIELD=TEXT",
               float(len(card.missing)), 0.0)]  # fmt: skip


def _eval_explanations(ev: Evidence, p: dict[str, Any]) -> list[GateResult]:
    from assay.governance.explain import load_explanation

    if ev.run_id is None:
        return _no_run("explanation stored", "explanations", ev)
    try:
        exp = load_explanation(ev.client, ev.mv.uri)
    except NotFoundError as exc:
        return [_r("explanation stored", "explanations", "missing_evidence", str(exc))]
    top = ", ".join(exp.importance.features[:3]) or "none"
    return [_r("explanation stored", "explanations", "pass",
               f"{exp.artifact_path} on {ev.run}, stored {str(exp.created_at)[:19]} ({exp.importance.method}; "
               f"top features {top}).")]  # fmt: skip


def _eval_drift(ev: Evidence, p: dict[str, Any]) -> list[GateResult]:
    from assay.data.datasets import describe_dataset
    from assay.data.records import load_profile
    from assay.monitoring.drift import drift

    label, limit = _label(Gate("drift", p)), p["max_share_drifted"]
    if ev.run_id is None:
        return _no_run(label, "drift", ev)
    which = p.get("dataset")
    found = ev.named(which) if which else [d for d in ev.inputs if d["role"] == "train"]
    if len(found) != 1:
        what = f"named or with role {which!r}" if which else "with role 'train'"
        fix = "Name the reference with `dataset:` in the gate." if found else "Log it: run.log_dataset(path)."
        return [_r(label, "drift", "error" if found else "missing_evidence",
                   f"{ev.run} recorded {len(found)} inputs {what}.", fix, None, limit)]  # fmt: skip
    d = found[0]
    path = d.get("source_uri")
    if path and Path(path).exists() and describe_dataset(path).fingerprint == d["fingerprint"]:
        reference, source = path, f"the training file {path}"
    else:
        try:
            reference = load_profile(d["name"], fingerprint=d["fingerprint"], client=ev.client)
        except NotFoundError:
            why = "was logged from a DataFrame" if not path else f"at {path} is gone or has changed"
            return [_r(label, "drift", "missing_evidence",
                       f"the training data {d['name']} {why}, and no profile of that version is stored.",
                       f"Record one: assay data profile FILE --dataset {d['name']}", None, limit)]  # fmt: skip
        source = f"the stored profile of {d['name']} version {d['fingerprint'][:12]}"
    rep = drift(reference, p["current"], columns=p.get("columns"))
    compared = sum(c.status == "ok" for c in rep.columns)
    shown = f" ({', '.join(rep.drifted_columns[:5])})" if rep.drifted_columns else ""
    evidence = f"{source} vs {p['current']}: {len(rep.drifted_columns)} of {compared} compared columns drifted{shown}."
    if compared == 0:
        return [_r(label, "drift", "missing_evidence", evidence, "No column could be compared.", None, limit)]
    return [_judge(label, "drift", rep.share_drifted, "<=", limit, evidence)]


_EVALUATORS = {
    "metric": _eval_metric,
    "fairness": _eval_fairness,
    "contract": _eval_contract,
    "card_complete": _eval_card,
    "explanations": _eval_explanations,
    "drift": _eval_drift,
}
