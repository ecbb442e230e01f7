"""Models and versions: the model card, policy gates with their evidence, explanations, fairness by group,
the lineage graph, approval requests (approve / reject with a comment, for reviewers) and alias history."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Form, Request
from fastapi.responses import HTMLResponse, Response

from assay.errors import InvalidInputError, NotFoundError
from assay.governance.approvals import approve, list_requests, promote, reject, request_promotion
from assay.governance.card import model_card
from assay.governance.explain import load_explanation
from assay.governance.history import alias_history
from assay.governance.lineage import Lineage, lineage
from assay.governance.policy import check
from assay.server.auth import Actor
from assay.server.ui import charts
from assay.server.ui._web import PREFIX, SameOrigin, UiActor, back, page, router
from assay.store import runs as rq

__all__ = ["routes", "version_project"]

routes = router()


def version_project(actor: Actor, name: str, version: int) -> str | None:
    """The project of the run that produced ``name`` v``version`` (``None`` without a run): where roles apply."""
    mv = actor.client.registry.get_version(name, version)  # NotFoundError for unknown model / version
    if mv.run_id is None:
        return None
    with actor.client.db.read() as conn:
        return rq.run_project(conn, mv.run_id)


def _model_project(actor: Actor, name: str) -> str | None:
    """The project of the model's newest version's run (a model's versions live in one project in practice)."""
    versions = actor.client.registry.list_versions(name)
    for mv in reversed(versions):
        if mv.run_id:
            with actor.client.db.read() as conn:
                return rq.run_project(conn, mv.run_id)
    return None


@routes.get(PREFIX + "/models", response_class=HTMLResponse)
def models(request: Request, actor: UiActor) -> HTMLResponse:
    actor.require("viewer", None, action="read models")
    rows = actor.client.registry.list_models()
    pending = list_requests(state="pending", client=actor.client)
    return page(request, "models.html", actor, models=rows, pending=pending)


@routes.get(PREFIX + "/models/{name}", response_class=HTMLResponse)
def model(request: Request, name: str, actor: UiActor) -> HTMLResponse:
    """A model: its versions with aliases, its approval requests and every alias move."""
    c = actor.client
    versions = c.registry.list_versions(name)
    if not versions:
        raise NotFoundError(f"model {name!r} has no versions")
    project = _model_project(actor, name)
    actor.require("viewer", project, action=f"read model {name!r}")
    history = alias_history(name, client=c)
    return page(request, "model.html", actor, name=name, versions=list(reversed(versions)), project=project,
                requests=list_requests(model=name, client=c), history=list(reversed(history)))  # fmt: skip


def _lineage_chart(lin: Lineage) -> str:
    me = f"v{lin.version}"
    stages: list[list[tuple[str, str]]] = [
        [(f"d{i}", f"{d['name']} ({d['role']})") for i, d in enumerate(lin.datasets)],
        [("run", f"run {lin.run['name']}")] if lin.run else [],
        [("version", f"{lin.model} {me}")],
        [(f"a{a['id']}", f"approval #{a['id']}: {a['state']}") for a in lin.approvals],
        [(f"alias-{a}", f"@{a}") for a in lin.aliases]
        + [(f"m-{m['name']}", f"monitor {m['name']}") for m in lin.monitors]
        + [(f"e-{e['experiment']}", f"experiment {e['experiment']}") for e in lin.experiments],
    ]
    stages = [s for s in stages if s]
    edges = [(f"d{i}", "run") for i in range(len(lin.datasets))] + [("run", "version")]
    edges += [("version", f"a{a['id']}") for a in lin.approvals]
    edges += [("version", node) for node, _ in stages[-1] if node.startswith(("alias-", "m-", "e-"))]
    return charts.lineage_graph(stages, edges)


def _fairness_chart(report: dict[str, Any]) -> str | None:
    groups = [g for g in report.get("by_group") or [] if g.get("selection_rate") is not None]
    if not groups:
        return None
    labels = [f"{g['feature']}={g['group']}" for g in groups]
    ci = [tuple(g.get("selection_rate_ci") or (None, None)) for g in groups]
    return charts.bar_chart("Selection rate by group (95% interval)", labels, [g["selection_rate"] for g in groups],
                            errors=ci, x_title="share predicted positive")  # fmt: skip


@routes.get(PREFIX + "/models/{name}/{version}", response_class=HTMLResponse)
def version_page(request: Request, name: str, version: int, actor: UiActor) -> HTMLResponse:
    """A version: card, gates with evidence, explanation, fairness by group, lineage graph, approvals."""
    c = actor.client
    project = version_project(actor, name, version)
    actor.require("viewer", project, action=f"read model {name!r}")
    card = model_card((name, version), client=c)
    gates = check((name, version), client=c)
    try:
        explanation = load_explanation(c, f"models:/{name}/{version}")
    except (NotFoundError, InvalidInputError):
        explanation = None
    importance_chart = None
    if explanation is not None:
        frame = explanation.importance.to_frame().head(20)
        importance_chart = charts.bar_chart(
            f"Feature importance ({explanation.importance.method})", list(frame["feature"]), list(frame["importance"]),
            errors=[(i - s, i + s) for i, s in zip(frame["importance"], frame["std"], strict=True)],
            x_title=explanation.importance.score)  # fmt: skip
    lin = lineage(f"{name}/{version}", client=c)
    requests = [r for r in list_requests(model=name, client=c) if r["version"] == version]
    multi = not actor.identity.single_user
    return page(
        request, "version.html", actor, card=card, gates=gates, explanation=explanation, project=project,
        importance_chart=importance_chart, fairness=card.fairness, fairness_chart=_fairness_chart(card.fairness or {}),
        lineage=lin, lineage_chart=_lineage_chart(lin), requests=requests,
        can_review=actor.can("reviewer", project), is_author=multi and card.author == actor.user,
        can_request=actor.can("scientist", project), can_override=actor.can("admin", project), charts_on_page=True,
    )  # fmt: skip


@routes.post(PREFIX + "/models/{name}/{version}/request", dependencies=[SameOrigin])
def request_form(
    name: str, version: int, actor: UiActor,
    alias: Annotated[str, Form()] = "production", comment: Annotated[str, Form()] = "",
) -> Response:  # fmt: skip
    """Ask for a promotion (scientist role; the capability checks it again)."""
    project = version_project(actor, name, version)
    actor.require("scientist", project, action=f"request promotion of {name} v{version}")
    request_promotion(name, version, alias=alias.strip(), comment=comment.strip() or None, client=actor.client)
    return back(f"{PREFIX}/models/{name}/{version}#approvals")


@routes.post(PREFIX + "/approvals/{request_id}", dependencies=[SameOrigin])
def decide(
    request_id: int, actor: UiActor, decision: Annotated[str, Form()], comment: Annotated[str, Form()] = "",
    name: Annotated[str, Form()] = "", version: Annotated[int, Form()] = 0,
) -> Response:  # fmt: skip
    """Approve or reject a pending request (reviewer role, never the version's author: both checked by
    :mod:`assay.governance.approvals`)."""
    if decision not in ("approve", "reject"):
        raise InvalidInputError(f"decision must be 'approve' or 'reject'; got {decision!r}")
    found = {r["id"]: r for r in list_requests(client=actor.client)}
    if request_id not in found:
        raise NotFoundError(f"approval request {request_id} not found")
    req = found[request_id]
    project = version_project(actor, req["model_name"], req["version"])
    actor.require("reviewer", project, action="approve or reject promotions")
    text = comment.strip() or None
    if decision == "approve":
        approve(request_id, comment=text, client=actor.client)
    else:
        reject(request_id, comment=text, client=actor.client)
    return back(f"{PREFIX}/models/{req['model_name']}/{req['version']}#approvals")


@routes.post(PREFIX + "/models/{name}/{version}/promote", dependencies=[SameOrigin])
def promote_form(
    name: str, version: int, actor: UiActor,
    alias: Annotated[str, Form()] = "production", override: Annotated[str | None, Form()] = None,
) -> Response:  # fmt: skip
    """Move the alias after approval (scientist role; gates, approval and an admin's override reason are checked
    by ``promote``)."""
    project = version_project(actor, name, version)
    actor.require("scientist", project, action=f"move {name}@{alias}")
    promote(name, version, alias=alias.strip(), override=override, client=actor.client)
    return back(f"{PREFIX}/models/{name}/{version}#approvals")
