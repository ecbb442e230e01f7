"""The chain behind a model version: dataset versions → training run → model version → gates and approvals →
aliases, and what it touched since (monitors watching it, experiments it served in).

Example::

    from assay.governance.lineage import lineage
    print(lineage("models:/churn/4").summary())
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from assay._defaults import client_or_default as _client
from assay.errors import AssayError
from assay.results import ResultMixin
from assay.store import identity as iq
from assay.store import lineage as lq
from assay.store import runs as rq
from assay.store.models import Event, Monitor

if TYPE_CHECKING:
    from assay.tracking.client import Client

__all__ = ["Lineage", "lineage"]


def _iso(ms: int | None) -> str | None:
    return None if ms is None else dt.datetime.fromtimestamp(ms / 1000, tz=dt.UTC).strftime("%Y-%m-%d %H:%M UTC")


@dataclass(frozen=True)
class Lineage(ResultMixin):
    """Everything recorded about how a model version came to be and where it went."""

    model: str
    version: int
    datasets: tuple[dict[str, Any], ...]
    run: dict[str, Any] | None
    registered: dict[str, Any] | None
    checks: tuple[dict[str, Any], ...]
    approvals: tuple[dict[str, Any], ...]
    promotions: tuple[dict[str, Any], ...]
    aliases: tuple[str, ...]
    monitors: tuple[dict[str, Any], ...]
    experiments: tuple[dict[str, Any], ...]

    def summary(self) -> str:
        data = ", ".join(f"{d['name']} ({d['role']}, {d['fingerprint'][:12]})" for d in self.datasets) or "no datasets"
        run = f"run {self.run['id'][:8]} in {self.run['project']} by {self.run['user']}" if self.run else "no run"
        approved = [a for a in self.approvals if a["state"] in ("approved", "used")]
        if not self.promotions:
            gates = "never promoted"
        else:
            gates = "gates passed" if self.promotions[-1]["gates_passed"] else "gates overridden"
        where = ", ".join(self.aliases) or "no alias"
        extra = []
        if self.monitors:
            extra.append(f"watched by {', '.join(m['name'] for m in self.monitors)}")
        if self.experiments:
            extra.append(f"served in {', '.join(e['experiment'] for e in self.experiments)}")
        tail = f"; {'; '.join(extra)}" if extra else ""
        return (
            f"{self.model} v{self.version}: trained on {data}; {run}; {len(approved)} approval(s), {gates}; "
            f"now {where}{tail}."
        )


def lineage(uri: str, *, client: Client | None = None) -> Lineage:
    """The lineage of ``models:/NAME/VERSION`` (or ``NAME/VERSION``, ``models:/NAME@ALIAS``)."""
    c = _client(client)
    text = uri if uri.startswith(("models:/", "runs:/")) else f"models:/{uri}"
    _, mv, _ = c.registry.resolve(text)
    assert mv is not None  # runs:/ URIs are refused by the registry for lineage below
    name, version = mv.name, mv.version
    with c.db.read() as conn:
        datasets = lq.list_run_inputs(conn, mv.run_id) if mv.run_id else []
        run_row = rq.get_run_row(conn, mv.run_id) if mv.run_id else None
        run = None
        if run_row is not None:
            run = {"id": mv.run_id, "project": rq.run_project(conn, mv.run_id), "name": run_row.name,
                   "user": run_row.user, "status": run_row.status, "started": _iso(run_row.start_ms)}  # fmt: skip
        events = conn.execute(
            select(Event.ts_ms, Event.actor, Event.action, Event.payload)
            .where(Event.entity_type == "model_version", Event.entity_id == f"{name}/{version}")
            .order_by(Event.id)
        ).all()
        requests = iq.approval_requests(conn, model=name, version=version)
        monitors = [
            {"name": m.name, "window": (m.definition or {}).get("window")}
            for m in conn.execute(
                select(Monitor.name, Monitor.definition).where(
                    Monitor.model_name == name, Monitor.model_version == version
                )
            )
        ]
    registered = next(
        ({"at": _iso(ts), "by": actor} for ts, actor, action, _ in events if action == "model.register"), None
    )
    checks = tuple({"at": _iso(ts), "by": actor, "action": action} for ts, actor, action, _ in events
                   if action in ("model.explain", "model.card_edit"))  # fmt: skip
    promotions = tuple(
        {"at": _iso(ts), "by": actor, "alias": (p or {}).get("alias"), "gates_passed": (p or {}).get("gates_passed"),
         "override": (p or {}).get("override"), "approved_by": (p or {}).get("approved_by")}
        for ts, actor, action, p in events if action == "model.promote"
    )  # fmt: skip
    approvals = tuple(
        {"id": r["id"], "alias": r["alias"], "state": r["state"], "requested_by": r["requested_by"],
         "decided_by": r["decided_by"], "comment": r["decision_comment"] or r["comment"]}
        for r in reversed(requests)
    )  # fmt: skip
    try:
        from assay.experiments.persist import experiments_for_model

        experiments = tuple(experiments_for_model(name, version, client=c))
    except AssayError:  # lineage must not fail because one optional section cannot be read
        experiments = ()
    ds = tuple(
        {"role": d["role"], "name": d["name"], "fingerprint": d["fingerprint"], "rows": d["num_rows"],
         "source": d["source_uri"]}
        for d in datasets
    )  # fmt: skip
    return Lineage(name, version, ds, run, registered, checks, approvals, promotions, tuple(mv.aliases),
                   tuple(monitors), experiments)  # fmt: skip
