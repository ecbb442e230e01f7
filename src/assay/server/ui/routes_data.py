"""Data: datasets and their versions, each version's profile, contract results, PII scans and schema diffs."""

from __future__ import annotations

import itertools
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse

from assay.data.profile import Profile
from assay.errors import NotFoundError
from assay.server.ui import charts
from assay.server.ui._web import PREFIX, UiActor, page, router
from assay.server.ui.queries import dataset_versions, list_datasets, version_profile
from assay.server.ui.routes_runs import parse_int
from assay.store import monitoring as mq

__all__ = ["routes"]

routes = router()
_MAX_HISTOGRAMS = 8


@routes.get(PREFIX + "/data", response_class=HTMLResponse)
def datasets(request: Request, actor: UiActor) -> HTMLResponse:
    actor.require("viewer", None, action="read datasets")
    with actor.client.db.read() as conn:
        rows = list_datasets(conn)
    return page(request, "data.html", actor, datasets=rows)


def _histograms(profile: Profile) -> list[str]:
    out = []
    for col in profile.columns[:_MAX_HISTOGRAMS]:
        if col.histogram_counts:
            edges = col.histogram_edges
            mids = [(a + b) / 2 for a, b in itertools.pairwise(edges)]
            out.append(charts.bar_chart(col.name, mids, list(col.histogram_counts), horizontal=False, height=220))
        elif col.top_values:
            labels = [str(v) for v, _ in col.top_values[:15]]
            out.append(charts.bar_chart(col.name, labels, [n for _, n in col.top_values[:15]], height=0))
    return out


@routes.get(PREFIX + "/data/{name}", response_class=HTMLResponse)
def dataset(request: Request, name: str, actor: UiActor, version: str | None = None) -> HTMLResponse:
    """The versions of a dataset; for the chosen one (default: newest) its profile and recorded checks."""
    actor.require("viewer", None, action="read datasets")
    with actor.client.db.read() as conn:
        versions = dataset_versions(conn, name)
        chosen_id = parse_int(version, "version", versions[0]["id"], 1, 2**62)
        chosen = next((v for v in versions if v["id"] == chosen_id), None)
        if chosen is None:
            raise NotFoundError(f"dataset {name!r} has no version with id {chosen_id}; pick one from its list")
        payload = version_profile(conn, chosen_id)
        checks = mq.list_dataset_checks(conn, chosen_id)
    profile = Profile.from_dict(payload) if payload else None
    by_kind: dict[str, list[dict[str, Any]]] = {}
    for ch in checks:
        by_kind.setdefault(ch["kind"], []).append(ch)
    return page(request, "dataset.html", actor, name=name, versions=versions, chosen=chosen, profile=profile,
                histograms=_histograms(profile) if profile else [], validations=by_kind.get("validation", []),
                diffs=by_kind.get("schema_diff", []), pii=by_kind.get("pii", []),
                charts_on_page=profile is not None)  # fmt: skip
