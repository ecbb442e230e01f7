"""Who is calling: the request's API token, resolved to an :class:`~assay.governance.identity.Identity`.

A request authenticates with ``Authorization: Bearer <token>`` (API clients) or the cookie ``assay_token``
(the browser UI sets it at login). On a store with no users (single-user mode) no token is needed and the
caller may do everything, as in the embedded default. On a multi-user store a missing, unknown, revoked or
expired token is refused with 401; a known token whose user lacks the role is refused with 403.

Roles are checked twice, on purpose: every route checks the role it needs with :meth:`Actor.require`
(viewer to read, scientist or more to write) before touching anything, and the capability code it calls
(``approve``, ``set_alias``, ``promote`` ...) checks again with its own rules (e.g. a reviewer never approves
their own version). That works because each token gets its own :class:`~assay.tracking.client.Client`
(``Client.settings.token`` is the acting token), all sharing one store handle: ``open_database`` is cached
per URL, so the per-token clients cost one small object each (:class:`ClientPool`).

Entities that belong to no project (datasets, experiments, monitors of unregistered models) need the role in
*some* project: ``Actor.require(role, None, ...)``.

Example (a route)::

    @router.get("/runs/{run_id}")
    def get_run(run_id: str, actor: ActorDep) -> dict:
        actor.require("viewer", project_of_run(actor.client, run_id), action="read runs")
        return actor.client.run_info(run_id)
"""

from __future__ import annotations

import dataclasses
import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from assay.errors import PermissionDeniedError
from assay.governance.identity import ROLES, Identity, _identity, hash_token
from assay.server.errors import Unauthenticated
from assay.tracking.client import Client

__all__ = ["TOKEN_COOKIE", "Actor", "ActorDep", "ClientPool", "get_actor", "resolve_actor", "token_from"]

TOKEN_COOKIE = "assay_token"
_RANK = {r: i for i, r in enumerate(ROLES)}
_bearer = HTTPBearer(auto_error=False, description="An API token: `assay tokens create USER` prints one.")


def token_from(request: Request) -> str | None:
    """The API token of ``request``: the ``Authorization: Bearer`` header, else the ``assay_token`` cookie."""
    header = request.headers.get("authorization")
    if header:
        scheme, _, value = header.partition(" ")
        if scheme.lower() != "bearer" or not value.strip():
            raise Unauthenticated("the Authorization header must be 'Bearer <API token>'")
        return value.strip()
    return request.cookies.get(TOKEN_COOKIE) or None


class ClientPool:
    """One :class:`Client` per token on the base client's stores (least recently used dropped past ``size``).

    Clients are never closed here: they share the base client's store handle, which closing would dispose.
    """

    def __init__(self, base: Client, *, size: int = 256) -> None:
        self.base = base
        self.size = size
        self._clients: OrderedDict[str, Client] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, token: str | None) -> Client:
        """The client acting as ``token`` (``None``: no token, i.e. anonymous on a multi-user store)."""
        key = hash_token(token) if token else ""
        with self._lock:
            client = self._clients.get(key)
            if client is not None:
                self._clients.move_to_end(key)
                return client
        s = self.base.settings
        client = Client(store_url=s.store_url, artifacts_url=s.artifacts_url, home=s.home)
        client.settings = dataclasses.replace(s, token=token)  # not ASSAY_TOKEN of the server's environment
        with self._lock:
            client = self._clients.setdefault(key, client)
            while len(self._clients) > self.size:
                self._clients.popitem(last=False)
        return client


@dataclass(frozen=True)
class Actor:
    """The caller of one request: its identity, and a client acting with its token."""

    client: Client
    identity: Identity
    token: str | None = dataclasses.field(default=None, repr=False)

    @property
    def user(self) -> str:
        return self.identity.user

    def can(self, role: str, project: str | None) -> bool:
        """Whether the caller holds ``role`` in ``project`` (``None``: in at least one project)."""
        who = self.identity
        if who.single_user or project is not None:
            return who.can(role, project)
        return any(_RANK[have] >= _RANK[role] for have in who.roles.values())

    def require(self, role: str, project: str | None, *, action: str) -> Identity:
        """The identity, if it holds ``role`` in ``project``; else ``PermissionDeniedError`` (HTTP 403)."""
        if not self.can(role, project):
            where = f" in project {project!r}" if project else " in some project"
            have = self.identity.role_in(project) if project else None
            held = "no role" if have is None else f"the {have} role"
            raise PermissionDeniedError(
                f"{self.user} cannot {action}: it needs the {role} role{where}, and they have {held} there; "
                f"an admin can grant it (`assay users grant {self.user} {role}"
                + (f" --project {project}`)" if project else "`)")
            )
        return self.identity

    def visible_projects(self, projects: list[str]) -> list[str]:
        """The subset of ``projects`` the caller may read."""
        return [p for p in projects if self.identity.can("viewer", p)]


def resolve_actor(client: Client, token: str | None) -> Identity:
    """The identity of ``token`` on ``client``'s store; :class:`Unauthenticated` when a multi-user store refuses it."""
    with client.db.read() as conn:
        try:
            return _identity(conn, token)
        except PermissionDeniedError as exc:
            if not token:
                raise Unauthenticated(
                    "this server's store has users: send 'Authorization: Bearer <API token>' "
                    "(an admin creates one with `assay tokens create USER`)"
                ) from None
            raise Unauthenticated(str(exc).replace("the API token in ASSAY_TOKEN", "this API token")) from None


def get_actor(
    request: Request, _credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)] = None
) -> Actor:
    """FastAPI dependency: the :class:`Actor` of the request (401 when a multi-user store refuses its token).

    ``create_app`` keeps the :class:`ClientPool` in ``app.state.assay_clients``.
    """
    token = token_from(request)
    pool: ClientPool = request.app.state.assay_clients
    client = pool.get(token)
    return Actor(client=client, identity=resolve_actor(client, token), token=token)


ActorDep = Annotated[Actor, Depends(get_actor)]
