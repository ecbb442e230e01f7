"""Pagination and JSON for every list the API returns.

A list answers ``{"items": [...], "total": N, "limit": L, "offset": O, "next": URL | null}``; ``next`` is the
same request with ``offset`` advanced, absent on the last page. ``limit`` is 1-1000 (default 100).

Example::

    @router.get("/models")
    def list_models(request: Request, actor: ActorDep, limit: Limit = 100, offset: Offset = 0) -> Page:
        return paginate(request, actor.client.registry.list_models(), limit, offset)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any

import pandas as pd
from fastapi import Query, Request
from pydantic import BaseModel

from assay.results import json_safe

__all__ = ["Limit", "Offset", "Page", "as_json", "page_of", "paginate"]

MAX_LIMIT = 1000

Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT, description="Items per page (1-1000).")]
Offset = Annotated[int, Query(ge=0, le=2**62, description="Items to skip.")]


class Page(BaseModel):
    """One page of a list."""

    items: list[Any]
    total: int
    limit: int
    offset: int
    next: str | None = None


def as_json(value: Any) -> Any:
    """``value`` as JSON-safe data: result objects through ``to_dict()``, NaN/inf as null, times as ISO text."""
    if hasattr(value, "to_dict") and callable(value.to_dict) and not isinstance(value, type):
        value = value.to_dict()
    if isinstance(value, dict):
        return {str(k): as_json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [as_json(v) for v in value]
    if value is pd.NaT:
        return None
    return json_safe(value)


def page_of(request: Request, items: Sequence[Any], total: int, limit: int, offset: int) -> Page:
    """A page holding ``items`` (already cut to ``limit`` from ``offset``) of ``total``."""
    nxt = None
    if offset + limit < total:
        nxt = str(request.url.include_query_params(offset=offset + limit, limit=limit))
    return Page(items=[as_json(i) for i in items], total=total, limit=limit, offset=offset, next=nxt)


def paginate(request: Request, items: Sequence[Any], limit: int, offset: int) -> Page:
    """A page of an in-memory list."""
    return page_of(request, items[offset : offset + limit], len(items), limit, offset)
