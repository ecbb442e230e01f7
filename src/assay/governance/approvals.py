"""Promotion to a protected alias: policy gates, an approval by someone other than the author, a recorded trail.

The flow (multi-user stores; see :mod:`assay.governance.identity`)::

    request_promotion("churn", 4, alias="production", comment="beats v3 on AUC")   # a scientist
    approve(request_id, comment="checked the card and the fairness report")       # a reviewer, not the author
    promote("churn", 4, alias="production")                                       # gates pass -> alias moves
    promote("churn", 4, alias="production", override="regulator sign-off #123")   # an admin, despite failed gates

``promote`` evaluates the project's policy gates (:mod:`assay.governance.policy`) and records them, the approval
and any override in the audit log. In a single-user store the gates are still evaluated and recorded, but
nothing blocks the local owner: nothing gets harder for a solo user.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from assay._defaults import client_or_default as _client
from assay.errors import InvalidInputError, PermissionDeniedError, StateError
from assay.governance.identity import current_identity, require
from assay.store import identity as iq
from assay.store import runs as rq
from assay.store.models import Event

if TYPE_CHECKING:
    from assay.tracking.client import Client

__all__ = ["DEFAULT_PROTECTED", "Promotion", "approve", "list_requests", "promote", "protected_aliases", "reject",
           "request_promotion"]  # fmt: skip

DEFAULT_PROTECTED = ("production",)


def protected_aliases(project: str | None, *, client: Client | None = None) -> tuple[str, ...]:
    """The aliases the project's policy protects (``production`` when it has no policy)."""
    try:
        from assay.governance.policy import load_policy
    except ImportError:  # pragma: no cover - policy module always ships
        return DEFAULT_PROTECTED
    if project is None:
        return DEFAULT_PROTECTED
    policy = load_policy(project, client=_client(client))
    return tuple(policy.protected_aliases) if policy is not None else DEFAULT_PROTECTED


def _notify(c: Client, project: str | None, text: str, payload: dict[str, Any]) -> dict[str, Any]:
    """Tell the policy's webhooks (Slack-compatible JSON, as alerts are sent); outcomes, never raises."""
    from assay.governance.policy import load_policy
    from assay.monitoring.alerts import _post

    policy = load_policy(project, client=c) if project else None
    urls = policy.notify if policy is not None else ()
    return {url: _post(url, {"text": text, "assay": payload}, 10.0) for url in urls}


def _version_context(c: Client, name: str, version: int) -> tuple[str | None, str | None]:
    """``(project, author)`` of a model version: the run's project, and who registered it."""
    from sqlalchemy import select

    mv = c.registry.get_version(name, version)
    with c.db.read() as conn:
        project = rq.run_project(conn, mv.run_id) if mv.run_id else None
        author = conn.execute(
            select(Event.actor)
            .where(
                Event.entity_type == "model_version",
                Event.entity_id == f"{name}/{version}",
                Event.action == "model.register",
            )
            .order_by(Event.id)
            .limit(1)
        ).scalar()
        if author is None and mv.run_id:
            author = rq.get_run_row(conn, mv.run_id).user
    return project, author


def request_promotion(
    name: str, version: int, *, alias: str = "production", comment: str | None = None, client: Client | None = None
) -> int:
    """Ask for ``version`` to become ``name@alias``; returns the request id (one open request per version/alias)."""
    c = _client(client)
    project, _ = _version_context(c, name, version)
    who = require("scientist", project, action=f"request promotion of {name} v{version}", client=c)

    def write(conn: Any) -> int:
        rid = iq.create_request(conn, name, version, alias, who.user, comment)
        payload = {"request": rid, "alias": alias, "comment": comment}
        rq.append_event(conn, actor=who.user, action="approval.request", entity_type="model_version",
                        entity_id=f"{name}/{version}", payload=payload)  # fmt: skip
        return rid

    rid = c.db.retrying_write(write)
    why = f" ({comment})" if comment else ""
    event = {"event": "approval.request", "request": rid, "model": name, "version": version, "alias": alias}
    _notify(c, project, f"assay: {who.user} asks to promote {name} v{version} to {alias}{why}; request {rid}.", event)
    return rid


def _decide(request_id: int, state: str, comment: str | None, client: Client | None) -> dict[str, Any]:
    c = _client(client)
    with c.db.read() as conn:
        req = iq.get_request(conn, request_id)
    if req["state"] != "pending":
        raise StateError(f"approval request {request_id} is {req['state']}; only a pending request can be decided")
    project, author = _version_context(c, req["model_name"], req["version"])
    who = require("reviewer", project, action="approve or reject promotions", client=c)
    if not who.single_user and who.user == author:
        raise PermissionDeniedError(
            f"{who.user} registered {req['model_name']} v{req['version']} and cannot review it: "
            "another reviewer must decide"
        )

    def write(conn: Any) -> None:
        iq.decide_request(conn, request_id, state, who.user, comment)
        rq.append_event(conn, actor=who.user, action=f"approval.{state}", entity_type="model_version",
                        entity_id=f"{req['model_name']}/{req['version']}",
                        payload={"request": request_id, "alias": req["alias"], "comment": comment})  # fmt: skip

    c.db.retrying_write(write)
    why = f": {comment}" if comment else ""
    _notify(c, project, f"assay: {who.user} {state} promoting {req['model_name']} v{req['version']} to "
            f"{req['alias']} (request {request_id}){why}",
            {"event": f"approval.{state}", "request": request_id, "model": req["model_name"],
             "version": req["version"], "alias": req["alias"]})  # fmt: skip
    with c.db.read() as conn:
        return iq.get_request(conn, request_id)


def approve(request_id: int, *, comment: str | None = None, client: Client | None = None) -> dict[str, Any]:
    """Approve a pending request (reviewer role; never the version's author)."""
    return _decide(request_id, "approved", comment, client)


def reject(request_id: int, *, comment: str | None = None, client: Client | None = None) -> dict[str, Any]:
    """Reject a pending request (reviewer role; never the version's author)."""
    if not comment:
        raise InvalidInputError("say why the promotion is rejected: comment=...")
    return _decide(request_id, "rejected", comment, client)


def list_requests(
    *, model: str | None = None, state: str | None = None, client: Client | None = None
) -> list[dict[str, Any]]:
    with _client(client).db.read() as conn:
        return iq.approval_requests(conn, model=model, state=state)


@dataclass(frozen=True)
class Promotion:
    model: str
    version: int
    alias: str
    previous: int | None
    gates_passed: bool
    gates: dict[str, Any] | None
    approved_by: str | None
    override: str | None
    actor: str

    def summary(self) -> str:
        was = f" (was v{self.previous})" if self.previous is not None else ""
        gates = "all gates passed" if self.gates_passed else (
            f"gates failed, overridden by {self.actor}: {self.override}" if self.override else "gates failed"
        )  # fmt: skip
        by = f"; approved by {self.approved_by}" if self.approved_by else ""
        return f"{self.model}@{self.alias} → v{self.version}{was}: {gates}{by}."


def promote(
    name: str,
    version: int,
    *,
    alias: str = "production",
    override: str | None = None,
    client: Client | None = None,
) -> Promotion:
    """Move ``name@alias`` to ``version`` after checking the gates and, for a protected alias, the approval."""
    from assay.governance.policy import check

    c = _client(client)
    project, _ = _version_context(c, name, version)
    who = current_identity(c)
    protected = alias in protected_aliases(project, client=c)
    report = check(f"models:/{name}/{version}", client=c)
    gates = report.to_dict()
    approved_by = None
    request_id = None
    decision_comment = None
    if not who.single_user:
        require("scientist", project, action=f"move {name}@{alias}", client=c)
        if protected:
            with c.db.read() as conn:
                approved = iq.approval_requests(conn, model=name, version=version, alias=alias, state="approved")
            if not approved:
                raise PermissionDeniedError(
                    f"{name}@{alias} is protected and v{version} has no approved request: "
                    f"`assay models promote {name} {version} --alias {alias} --request`, then a reviewer approves"
                )
            approved_by, request_id = approved[0]["decided_by"], approved[0]["id"]
            decision_comment = approved[0]["decision_comment"]
        if protected and not report.passed:
            if override is None:
                failed = ", ".join(g.gate for g in report.gates if not g.passed)
                raise PermissionDeniedError(
                    f"{name} v{version} fails policy gates ({failed}); fix them, or an admin overrides with a reason"
                )
            require("admin", project, action="override failed policy gates", client=c)
    if override is not None and not override.strip():
        raise InvalidInputError("an override needs a reason")
    previous = next((mv.version for mv in c.registry.list_versions(name) if alias in mv.aliases), None)
    c.registry.set_alias(name, alias, version, _approved=True)

    def record(conn: Any) -> None:
        if request_id is not None:
            iq.decide_request(conn, request_id, "used", approved_by or who.user, decision_comment)
        rq.append_event(conn, actor=who.user, action="model.promote", entity_type="model_version",
                        entity_id=f"{name}/{version}",
                        payload={"alias": alias, "previous": previous, "gates_passed": report.passed,
                                 "gates": [{"gate": g.gate, "passed": g.passed} for g in report.gates],
                                 "approved_by": approved_by, "override": override,
                                 "single_user": who.single_user})  # fmt: skip

    c.db.retrying_write(record)
    how = "gates passed" if report.passed else f"gates overridden ({override})" if override else "gates failed"
    event = {"event": "model.promote", "model": name, "version": version, "alias": alias, "previous": previous}
    _notify(c, project, f"assay: {name}@{alias} → v{version} by {who.user}; {how}.", event)
    return Promotion(name, version, alias, previous, report.passed, gates, approved_by, override, who.user)
