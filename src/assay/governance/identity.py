"""Users, API tokens and roles, and who is acting right now.

**Single-user mode.** A store with no users (the embedded default) has one actor, the local OS user,
who may do everything: nothing gets harder for a solo user. Creating the first user (``assay users add NAME
--role admin``) switches the store to **multi-user mode**: every write then needs an API token (setting
``ASSAY_TOKEN`` or ``token`` in ``assay.toml``) whose user holds a role in the project:

==========  ===========================================================================
role        may
==========  ===========================================================================
viewer      read
scientist   + create runs, register model versions, move unprotected aliases, request approval
reviewer    + approve or reject promotion requests (never for a version they authored)
admin       + manage users, tokens and roles, override failed gates (with a recorded reason)
==========  ===========================================================================

Roles are per project; ``*`` is every project. Tokens are shown once at creation and stored as sha256 only.
Every change here is an event in the hash-chained audit log.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from assay._defaults import client_or_default as _client
from assay.errors import InvalidInputError, NotFoundError, PermissionDeniedError
from assay.store import identity as iq
from assay.store.runs import append_event, now_ms

if TYPE_CHECKING:
    from assay.tracking.client import Client

__all__ = [
    "ROLES",
    "Identity",
    "add_user",
    "create_token",
    "current_identity",
    "grant",
    "list_tokens",
    "list_users",
    "require",
    "revoke",
    "revoke_token",
]

ROLES = ("viewer", "scientist", "reviewer", "admin")
_RANK = {r: i for i, r in enumerate(ROLES)}
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@\-]{0,254}$")
TOKEN_PREFIX = "assay_"


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Identity:
    """Who is acting: ``single_user`` stores let the local user do everything."""

    user: str
    single_user: bool
    roles: dict[str, str] = field(default_factory=dict)

    def role_in(self, project: str | None) -> str | None:
        if self.single_user:
            return "admin"
        specific = self.roles.get(project) if project is not None else None
        general = self.roles.get("*")
        found = [r for r in (specific, general) if r is not None]
        return max(found, key=_RANK.__getitem__) if found else None

    def can(self, role: str, project: str | None = None) -> bool:
        have = self.role_in(project)
        return have is not None and _RANK[have] >= _RANK[role]


def current_identity(client: Client | None = None, *, conn: Any = None) -> Identity:
    """The acting identity for ``client`` (its settings' token), checked against the store (on ``conn`` when
    given: inside the caller's transaction, at no extra round trip)."""
    c = _client(client)
    if conn is not None:
        return _identity(conn, c.settings.token)
    with c.db.read() as read:
        return _identity(read, c.settings.token)


def _identity(conn: Any, token: str | None) -> Identity:
    from assay.tracking.environment import current_user

    if iq.count_users(conn) == 0:
        return Identity(user=current_user(), single_user=True)
    if not token:
        raise PermissionDeniedError(
            "this store has users: set ASSAY_TOKEN (or token in assay.toml) to an API token; "
            "an admin creates one with `assay tokens create USER`"
        )
    owner = iq.token_owner(conn, hash_token(token))
    if owner is None:
        raise PermissionDeniedError("the API token in ASSAY_TOKEN is not known to this store")
    if owner["revoked_ms"] is not None:
        raise PermissionDeniedError(f"the API token of {owner['name']!r} was revoked; ask an admin for a new one")
    if owner["expires_ms"] is not None and owner["expires_ms"] <= now_ms():
        raise PermissionDeniedError(f"the API token of {owner['name']!r} has expired; ask an admin for a new one")
    if owner["disabled"]:
        raise PermissionDeniedError(f"user {owner['name']!r} is disabled")
    return Identity(user=owner["name"], single_user=False, roles=iq.roles_of(conn, owner["user_id"]))


def require(
    role: str, project: str | None = None, *, action: str, client: Client | None = None, conn: Any = None
) -> Identity:
    """The acting identity, if it holds at least ``role`` in ``project``; else ``PermissionDeniedError``."""
    who = current_identity(client, conn=conn)
    if not who.can(role, project):
        where = f" in project {project!r}" if project else ""
        have = who.role_in(project)
        raise PermissionDeniedError(
            f"{who.user} cannot {action}: it needs the {role} role{where}, and they have "
            f"{'no role' if have is None else 'the ' + have + ' role'} there; an admin can grant it "
            f"(`assay users grant {who.user} {role}" + (f" --project {project}`)" if project else "`)")
        )
    return who


def _check_name(name: str, what: str) -> str:
    if not isinstance(name, str) or not _NAME.match(name):
        raise InvalidInputError(f"{what} must start with a letter or digit and hold letters, digits, _ . @ -")
    return name


def _check_role(role: str) -> str:
    if role not in _RANK:
        raise InvalidInputError(f"role must be one of {', '.join(ROLES)}; got {role!r}")
    return role


def _admin(c: Client, action: str) -> str:
    with c.db.read() as conn:
        first = iq.count_users(conn) == 0
    return current_identity(c).user if first else require("admin", None, action=action, client=c).user


def add_user(
    name: str, *, role: str | None = None, project: str = "*", email: str | None = None, client: Client | None = None
) -> dict[str, Any]:
    """Create a user (admins only). The very first user must be an admin of every project; creating it switches
    the store to multi-user mode and returns its API token (``result["token"]``, shown once)."""
    c = _client(client)
    _check_name(name, "a user name")
    if role is not None:
        _check_role(role)
    actor = _admin(c, "add users")

    token = TOKEN_PREFIX + secrets.token_urlsafe(32)

    def write(conn: Any) -> tuple[int, bool]:
        first = iq.count_users(conn) == 0
        if first and (role != "admin" or project != "*"):
            raise InvalidInputError(
                "the first user switches this store to multi-user mode and must be an admin of every project: "
                f"assay users add {name} --role admin"
            )
        uid = iq.add_user(conn, name, email)
        if role is not None:
            iq.bind_role(conn, uid, project, role)
        if first:  # the only way in once the store is multi-user: the first admin's token, shown once
            iq.add_token(conn, uid, "first-admin", hash_token(token), token[: len(TOKEN_PREFIX) + 6], None)
        append_event(conn, actor=actor, action="user.add", entity_type="user", entity_id=name,
                     payload={"role": role, "project": project, "first": first})  # fmt: skip
        return uid, first

    uid, first = c.db.retrying_write(write)
    result: dict[str, Any] = {"id": uid, "name": name, "roles": {project: role} if role else {}}
    if first:
        result["token"] = token
    return result


def grant(name: str, role: str, *, project: str = "*", client: Client | None = None) -> str | None:
    """Give ``name`` the ``role`` in ``project`` (admins only); returns the role it replaced."""
    c = _client(client)
    _check_role(role)
    actor = require("admin", None, action="change roles", client=c).user

    def write(conn: Any) -> str | None:
        user = iq.get_user(conn, name)
        previous = iq.bind_role(conn, user["id"], project, role)
        append_event(conn, actor=actor, action="role.grant", entity_type="user", entity_id=name,
                     payload={"project": project, "role": role, "previous": previous})  # fmt: skip
        return previous

    return c.db.retrying_write(write)


def revoke(name: str, *, project: str = "*", client: Client | None = None) -> None:
    """Remove ``name``'s role in ``project`` (admins only)."""
    c = _client(client)
    actor = require("admin", None, action="change roles", client=c).user

    def write(conn: Any) -> None:
        user = iq.get_user(conn, name)
        if not iq.unbind_role(conn, user["id"], project):
            raise NotFoundError(f"user {name!r} has no role in project {project!r}")
        append_event(conn, actor=actor, action="role.revoke", entity_type="user", entity_id=name,
                     payload={"project": project})  # fmt: skip

    c.db.retrying_write(write)


def list_users(*, client: Client | None = None) -> list[dict[str, Any]]:
    with _client(client).db.read() as conn:
        return iq.list_users(conn)


def create_token(
    user: str, *, name: str = "default", expires_days: int | None = None, client: Client | None = None
) -> str:
    """A new API token for ``user`` (admins, or the user for themselves). Returned once; only its hash is kept."""
    c = _client(client)
    who = current_identity(c)
    if not who.single_user and who.user != user and not who.can("admin"):
        raise PermissionDeniedError(f"{who.user} cannot create tokens for {user!r}: only admins can")
    if expires_days is not None and (isinstance(expires_days, bool) or expires_days <= 0):
        raise InvalidInputError(f"expires_days must be a positive number of days; got {expires_days!r}")
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    expires = now_ms() + expires_days * 86_400_000 if expires_days else None

    def write(conn: Any) -> int:
        owner = iq.get_user(conn, user)
        tid = iq.add_token(conn, owner["id"], name, hash_token(token), token[: len(TOKEN_PREFIX) + 6], expires)
        append_event(conn, actor=who.user, action="token.create", entity_type="user", entity_id=user,
                     payload={"token_id": tid, "name": name, "expires_ms": expires})  # fmt: skip
        return tid

    c.db.retrying_write(write)
    return token


def list_tokens(user: str | None = None, *, client: Client | None = None) -> list[dict[str, Any]]:
    c = _client(client)
    with c.db.read() as conn:
        uid = iq.get_user(conn, user)["id"] if user else None
        return iq.list_tokens(conn, uid)


def revoke_token(token_id: int, *, client: Client | None = None) -> None:
    """Revoke a token (admins only); a revoked token is refused from then on."""
    c = _client(client)
    actor = require("admin", None, action="revoke tokens", client=c).user

    def write(conn: Any) -> None:
        iq.revoke_token(conn, token_id)
        append_event(conn, actor=actor, action="token.revoke", entity_type="token", entity_id=str(token_id))

    c.db.retrying_write(write)
