"""Policy gates: what a model version must show, with evidence, before it may hold a protected alias.

A project's policy is YAML::

    project: churn
    description: Retention model policy, agreed with risk on 2024-05-01.
    protected_aliases: [production]        # default [production]
    gates:
      - metric: {name: auc, min: 0.75}                        # the run's latest value of the metric
      - metric: {name: logloss, max: 0.5, dataset: holdout}   # measured on a recorded evaluation dataset
      - fairness: {max_demographic_parity_difference: 0.1, min_four_fifths_ratio: 0.8}
      - contract: {dataset: customers_train}                  # its latest recorded validation passed
      - card_complete: true
      - explanations: true
      - drift: {max_share_drifted: 0.3, current: data/recent.parquet}

:func:`check` evaluates every gate on a version and returns a :class:`GateReport`: one :class:`GateResult` per
criterion with ``status`` ``pass``, ``fail``, ``missing_evidence`` (what the gate needs was never recorded: a
failure, not a crash) or ``error`` (the evidence exists but could not be read or computed), and the
``evidence`` it was judged on, in words. The version passes only when every gate passes.

Where the evidence comes from:

- **metric**: the latest value of ``name`` logged on the version's run (``min`` and/or ``max``, inclusive).
  With ``dataset: D`` the run must have recorded an input whose name or role is ``D``, and a metric logged
  as ``D_<name>``, ``D.<name>`` or ``D/<name>`` is preferred to the plain ``<name>``.
- **fairness**: the report stored as ``governance/fairness.json`` on the run (``FairnessReport.to_dict()``):
  ``max_demographic_parity_difference``, ``min_demographic_parity_ratio`` (alias ``min_four_fifths_ratio``),
  ``max_equalized_odds_difference``, judged on the headline (point) estimates; the intervals are quoted.
- **contract**: for each run input named (or with the role) ``dataset`` — every training input when left
  out — the newest validation recorded against *that exact content* (the fingerprint the run recorded, see
  :func:`assay.data.records.record`) must have passed.
- **card_complete** / **explanations**: :func:`~assay.governance.card.model_card` has nothing missing /
  :func:`~assay.governance.explain.load_explanation` finds the stored explanation.
- **drift**: the training input (role ``train``, or the input named by ``dataset``) against ``current`` with
  :func:`assay.monitoring.drift` (``columns`` optional); the reference is the training file when it is still
  there unchanged (same fingerprint), else the stored profile of that dataset version. A relative ``current``
  path is read from the working directory of the check.

The evaluators live in :mod:`assay.governance._policy_gates`; this module holds the policy, its storage and
:func:`check`.

**Where policies live.** :func:`save_policy` stores the policy's YAML content-addressed in the artifact store
(shared by every machine on the store, unlike a local folder) and appends a ``policy.save`` event (entity
``policy``/project) holding its digest to the hash-chained event log, in one write transaction: the log is the
history of every policy, and the newest event names the one in force. :func:`load_policy` reads it back, or
returns :data:`DEFAULT_GATES` — ``card_complete: true`` — when the project has none, so promotion to a
protected alias is governed from day one.

Example::

    policy = Policy.from_yaml("policies/churn.yaml")
    save_policy(policy)
    report = check("models:/churn/3")           # the saved policy of the run's project
    report.passed, print(report.summary())
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

import pandas as pd
import yaml
from sqlalchemy import select

from assay._yaml import load_yaml
from assay.errors import InvalidInputError
from assay.governance.card import _client, _resolve
from assay.registry.registry import ModelVersion
from assay.results import ResultMixin
from assay.store import runs as rq
from assay.store.models import Event

if TYPE_CHECKING:
    from assay.tracking.client import Client

__all__ = [
    "DEFAULT_GATES",
    "STATUSES",
    "Gate",
    "GateReport",
    "GateResult",
    "Policy",
    "check",
    "default_policy",
    "load_policy",
    "save_policy",
]

STATUSES = ("pass", "fail", "missing_evidence", "error")
DEFAULT_GATES: tuple[dict[str, Any], ...] = ({"card_complete": True},)
_TOP_KEYS = ("project", "description", "protected_aliases", "gates", "notify")
_FAIRNESS = {  # policy key -> (report field, comparison)
    "max_demographic_parity_difference": ("demographic_parity_difference", "<="),
    "min_demographic_parity_ratio": ("demographic_parity_ratio", ">="),
    "min_four_fifths_ratio": ("demographic_parity_ratio", ">="),
    "max_equalized_odds_difference": ("equalized_odds_difference", "<="),
}
_GATE_KEYS: dict[str, tuple[str, ...]] = {
    "metric": ("name", "min", "max", "dataset"),
    "fairness": tuple(_FAIRNESS),
    "contract": ("dataset",),
    "card_complete": (),
    "explanations": (),
    "drift": ("max_share_drifted", "current", "dataset", "columns"),
}
_MAX_POLICY_BYTES = 1_000_000


# -- the policy ------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Gate:
    """One gate of a policy: its ``kind`` (metric, fairness, contract, card_complete, explanations, drift) and
    its settings as written in the YAML (``{}`` for the ``true`` gates)."""

    kind: str
    params: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """The gate as written in a policy: ``{"metric": {...}}`` or ``{"card_complete": True}``."""
        return {self.kind: dict(self.params) if self.params or self.kind not in _FLAGS else True}


_FLAGS = ("card_complete", "explanations")


@dataclass(frozen=True)
class Policy(ResultMixin):
    """A project's gates. ``source``: ``inline`` (built here), ``saved`` (read from the store, with ``digest``,
    ``saved_at``, ``saved_by``) or ``default`` (none saved: :data:`DEFAULT_GATES`)."""

    project: str | None
    gates: tuple[Gate, ...]
    protected_aliases: tuple[str, ...] = ("production",)
    description: str | None = None
    notify: tuple[str, ...] = ()  # webhooks told of promotion requests, decisions and promotions
    source: str = "inline"
    digest: str | None = None
    saved_at: pd.Timestamp | None = None
    saved_by: str | None = None

    def summary(self) -> str:
        kinds = ", ".join(dict.fromkeys(g.kind.replace("_", " ") for g in self.gates)) or "none"
        whose = f"The {self.project} policy" if self.project else "This policy"
        origin = {"default": " (the default: no policy saved for the project)", "saved": " (saved)"}.get(
            self.source, ""
        )
        return (
            f"{whose}{origin} has {len(self.gates)} gate(s) ({kinds}) guarding the alias(es) "
            f"{', '.join(self.protected_aliases) or '(none)'}."
        )

    def protects(self, alias: str) -> bool:
        """Whether moving ``alias`` onto a version requires it to pass this policy."""
        return alias in self.protected_aliases

    def spec(self) -> dict[str, Any]:
        """The policy as its YAML mapping (what :meth:`from_dict` reads)."""
        out: dict[str, Any] = {"project": self.project}
        if self.description:
            out["description"] = self.description
        out["protected_aliases"] = list(self.protected_aliases)
        out["gates"] = [g.to_dict() for g in self.gates]
        if self.notify:
            out["notify"] = list(self.notify)
        return out

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.spec(), sort_keys=False, allow_unicode=True)

    @classmethod
    def from_yaml(cls, path_or_text: str | os.PathLike[str]) -> Policy:
        """A policy from a YAML file path or YAML text."""
        data = load_yaml(path_or_text, "the policy")
        return cls.from_dict(data)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Policy:
        """A policy from a mapping shaped like the YAML (see the module docs); unknown keys are refused."""
        if not isinstance(data, Mapping):
            raise InvalidInputError(
                f"a policy is a mapping with keys {', '.join(_TOP_KEYS)}; got {type(data).__name__} "
                "(a file name must end in .yaml or .yml)"
            )
        _no_unknown(data, _TOP_KEYS, "the policy")
        project = data.get("project")
        if project is not None and (not isinstance(project, str) or not project.strip()):
            raise InvalidInputError(f"project must be the project's name; got {project!r}")
        aliases = data.get("protected_aliases", ["production"])
        if isinstance(aliases, str) or not isinstance(aliases, list | tuple):
            raise InvalidInputError(
                f"protected_aliases must be a list of alias names, e.g. [production]; got {aliases!r}"
            )
        if not all(isinstance(a, str) and a.strip() for a in aliases):
            raise InvalidInputError(f"protected_aliases must hold alias names; got {aliases!r}")
        description = data.get("description")
        if description is not None and not isinstance(description, str):
            raise InvalidInputError("description must be text")
        gates = data.get("gates")
        if not isinstance(gates, list) or not gates:
            raise InvalidInputError(
                "gates must be a non-empty list, e.g. [{metric: {name: auc, min: 0.75}}, {card_complete: true}]"
            )
        notify = data.get("notify") or []
        if isinstance(notify, str):
            notify = [notify]
        if not isinstance(notify, list | tuple) or not all(
            isinstance(u, str) and u.startswith(("http://", "https://")) for u in notify
        ):
            raise InvalidInputError(f"notify must be a list of http(s):// webhook URLs; got {notify!r}")
        return cls(
            project=project.strip() if project else None,
            gates=tuple(_parse_gate(g, i) for i, g in enumerate(gates, 1)),
            protected_aliases=tuple(dict.fromkeys(a.strip() for a in aliases)),
            description=description.strip() if description else None,
            notify=tuple(notify),
        )


def _no_unknown(data: Mapping[str, Any], allowed: tuple[str, ...], what: str) -> None:
    unknown = sorted(str(k) for k in data if k not in allowed)
    if unknown:
        raise InvalidInputError(f"unknown key(s) {unknown} in {what}; allowed keys: {', '.join(allowed)}")


def _number(value: Any, what: str, *, low: float | None = None, high: float | None = None) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise InvalidInputError(f"{what} must be a finite number; got {value!r}")
    if (low is not None and value < low) or (high is not None and value > high):
        raise InvalidInputError(f"{what} must be between {low} and {high}; got {value!r}")
    return float(value)


def _name(value: Any, what: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise InvalidInputError(f"{what} must be a non-empty name; got {value!r}")
    return value.strip()


def _parse_gate(item: Any, i: int) -> Gate:
    kinds = ", ".join(_GATE_KEYS)
    if not isinstance(item, Mapping) or len(item) != 1:
        raise InvalidInputError(f"gate {i} must be a mapping with exactly one of {kinds}; got {item!r}")
    ((kind, params),) = item.items()
    if kind not in _GATE_KEYS:
        raise InvalidInputError(f"unknown gate {kind!r} (gate {i}); allowed gates: {kinds}")
    where = f"the {kind} gate (gate {i})"
    if kind in _FLAGS:
        if params is not True:
            raise InvalidInputError(f"{where} takes `{kind}: true`; to turn it off, remove the gate")
        return Gate(kind)
    if not isinstance(params, Mapping) or not params:
        raise InvalidInputError(f"{where} needs settings among: {', '.join(_GATE_KEYS[kind])}")
    _no_unknown(params, _GATE_KEYS[kind], where)
    p = dict(params)
    if kind == "metric":
        p["name"] = _name(p.get("name"), f"name in {where}")
        if "min" not in p and "max" not in p:
            raise InvalidInputError(f"{where} needs min and/or max, e.g. {{name: auc, min: 0.75}}")
        for key in ("min", "max"):
            if key in p:
                p[key] = _number(p[key], f"{key} in {where}")
        if "min" in p and "max" in p and p["min"] > p["max"]:
            raise InvalidInputError(f"{where}: min {p['min']} is above max {p['max']}")
    elif kind == "fairness":
        for key in p:
            p[key] = _number(p[key], f"{key} in {where}", low=0.0, high=1.0)
    elif kind == "contract":
        p["dataset"] = _name(p.get("dataset"), f"dataset in {where}")
    elif kind == "drift":
        if "max_share_drifted" not in p or "current" not in p:
            raise InvalidInputError(f"{where} needs max_share_drifted and current (the data to compare)")
        p["max_share_drifted"] = _number(p["max_share_drifted"], f"max_share_drifted in {where}", low=0.0, high=1.0)
        p["current"] = _name(p["current"], f"current in {where}")
        if "dataset" in p:
            p["dataset"] = _name(p["dataset"], f"dataset in {where}")
        cols = p.get("columns")
        if cols is not None and (not isinstance(cols, list) or not all(isinstance(c, str) for c in cols) or not cols):
            raise InvalidInputError(f"columns in {where} must be a non-empty list of column names")
    if "dataset" in p and kind == "metric":
        p["dataset"] = _name(p["dataset"], f"dataset in {where}")
    return Gate(kind, p)


def default_policy(project: str | None = None) -> Policy:
    """The policy a project without a saved one gets: :data:`DEFAULT_GATES` guarding ``production``."""
    return replace(Policy.from_dict({"project": project, "gates": list(DEFAULT_GATES)}), source="default")


# -- storage ---------------------------------------------------------------------------------------------
def save_policy(policy: Policy | str | os.PathLike[str] | Mapping[str, Any], *, client: Client | None = None) -> Policy:
    """Store ``policy`` as its project's policy in force (see the module docs); returns it as saved.

    In a multi-user store this needs the admin role in the project (a policy governs every promotion there);
    the event records who saved it. Saving a policy identical to the one in force records nothing new.
    """
    from assay.governance.identity import require

    pol = _as_policy(policy)
    if not pol.project:
        raise InvalidInputError("a saved policy needs `project:` naming the project whose versions it governs")
    c = _client(client)
    who = require("admin", pol.project, action=f"save the {pol.project} policy", client=c).user
    data = pol.to_yaml().encode("utf-8")
    current = load_policy(pol.project, client=c)
    digest = c.artifacts.put_bytes(data)
    if current.source == "saved" and current.digest == digest:
        return current
    c.db.retrying_write(
        lambda conn: rq.append_event(
            conn,
            actor=who,
            action="policy.save",
            entity_type="policy",
            entity_id=pol.project,
            payload={"digest": digest, "gates": [g.kind for g in pol.gates], "aliases": list(pol.protected_aliases)},
        )
    )
    return load_policy(pol.project, client=c)


def load_policy(project: str, *, client: Client | None = None) -> Policy:
    """The policy in force for ``project``: the newest saved one, else :func:`default_policy` (``source``
    says which)."""
    project = _name(project, "project")
    c = _client(client)
    stmt = (
        select(Event.ts_ms, Event.actor, Event.payload)
        .where(Event.entity_type == "policy", Event.entity_id == project, Event.action == "policy.save")
        .order_by(Event.id.desc())
        .limit(1)
    )
    with c.db.read() as conn:
        row = conn.execute(stmt).first()
    if row is None:
        return default_policy(project)
    digest = (row.payload or {}).get("digest")
    if not isinstance(digest, str):
        raise InvalidInputError(f"the saved policy event of {project!r} names no policy; save the policy again")
    raw = c.artifacts.get_bytes(digest)  # verifies the content against its digest
    if len(raw) > _MAX_POLICY_BYTES:
        raise InvalidInputError(f"the saved policy of {project!r} is {len(raw):,} bytes; save a smaller policy")
    pol = Policy.from_yaml(raw.decode("utf-8"))
    return replace(
        pol, source="saved", digest=digest, saved_at=pd.Timestamp(row.ts_ms, unit="ms", tz="UTC"), saved_by=row.actor
    )


def _as_policy(policy: Any) -> Policy:
    if isinstance(policy, Policy):
        return policy
    if isinstance(policy, Mapping):
        return Policy.from_dict(policy)
    if isinstance(policy, str | os.PathLike):
        return Policy.from_yaml(policy)
    raise InvalidInputError(f"pass a Policy, a policy mapping, YAML text or a .yaml path; got {type(policy).__name__}")


# -- results ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class GateResult(ResultMixin):
    """One criterion of a gate on one version. ``value``/``threshold``: the number judged and its limit where
    there is one; ``evidence``: what was looked at (run, artifact, dataset version, file); ``detail``: why it
    failed or how to supply what is missing."""

    gate: str
    kind: str
    passed: bool
    status: str
    value: float | None
    threshold: float | None
    evidence: str
    detail: str = ""

    def summary(self) -> str:
        head = {"pass": "passes", "fail": "FAILS", "missing_evidence": "has NO EVIDENCE", "error": "ERROR"}
        text = f"{self.gate} {head[self.status]}: {self.evidence}"
        return text + (f" {self.detail}" if self.detail else "")


@dataclass(frozen=True)
class GateReport(ResultMixin):
    """Every gate of a policy on one version; ``passed`` only when all pass."""

    model: str
    version: int
    project: str | None
    passed: bool
    gates: tuple[GateResult, ...]
    policy_source: str
    protected_aliases: tuple[str, ...]
    run_id: str | None = None
    notes: tuple[str, ...] = ()

    @property
    def failed(self) -> tuple[GateResult, ...]:
        return tuple(g for g in self.gates if not g.passed)

    def summary(self) -> str:
        which = f"the {self.project} policy" if self.project else "the policy"
        if self.policy_source == "default":
            which = "the default policy (none saved for the project)"
        n_pass = len(self.gates) - len(self.failed)
        verdict = "passes" if self.passed else "does not pass"
        text = f"{self.model} v{self.version} {verdict} {which}: {n_pass} of {len(self.gates)} gate(s) pass."
        parts = []
        for status, what in (("fail", "failed"), ("missing_evidence", "missing evidence"), ("error", "errors")):
            hit = [g.gate for g in self.gates if g.status == status]
            if hit:
                parts.append(f"{what}: {'; '.join(hit)}")
        if parts:
            text += " " + ". ".join(p[0].upper() + p[1:] for p in parts) + "."
        return text


# -- evaluation ------------------------------------------------------------------------------------------
def check(
    uri: str | ModelVersion | tuple[str, int],
    policy: Policy | str | os.PathLike[str] | Mapping[str, Any] | None = None,
    *,
    client: Client | None = None,
) -> GateReport:
    """Evaluate every gate of ``policy`` on a registered version (default: the saved policy of the project of
    the version's run, else :func:`default_policy`). Missing evidence fails a gate; it never raises.

    Example::

        report = check("models:/churn/3")
        [(g.gate, g.status, g.evidence) for g in report.gates]
    """
    from assay.governance._policy_gates import evaluate, gather

    c = _client(client)
    mv = _resolve(c, uri)
    c.flush()  # metrics still queued in the background writer are evidence too
    ev = gather(c, mv)
    notes: list[str] = []
    if policy is None:
        pol = load_policy(ev.project, client=c) if ev.project else default_policy(None)
        if not ev.project:
            notes.append("The version has no run on record, so no project: the default policy applies.")
    else:
        pol = _as_policy(policy)
        if pol.project and ev.project and pol.project != ev.project:
            notes.append(f"The policy is for project {pol.project!r}; the version's run is in {ev.project!r}.")
    results = evaluate(ev, pol.gates)
    return GateReport(
        model=mv.name,
        version=mv.version,
        project=ev.project or pol.project,
        passed=all(r.passed for r in results),
        gates=tuple(results),
        policy_source=pol.source,
        protected_aliases=pol.protected_aliases,
        run_id=ev.run_id,
        notes=tuple(notes),
    )
