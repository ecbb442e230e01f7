"""Queries over users, API tokens (stored as sha256), role bindings and approval requests."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, delete, func, insert, select, update

from assay.errors import ConflictError, NotFoundError
from assay.store.models import ApiToken, ApprovalRequest, RoleBinding, User
from assay.store.runs import _upsert, now_ms

__all__ = [
    "add_token",
    "add_user",
    "approval_requests",
    "bind_role",
    "count_users",
    "create_request",
    "decide_request",
    "get_request",
    "get_user",
    "list_tokens",
    "list_users",
    "revoke_token",
    "roles_of",
    "token_owner",
    "unbind_role",
]


def count_users(conn: Connection) -> int:
    return conn.execute(select(func.count()).select_from(User)).scalar_one()


def add_user(conn: Connection, name: str, email: str | None) -> int:
    if conn.execute(select(User.id).where(User.name == name)).scalar() is not None:
        raise ConflictError(f"user {name!r} already exists")
    return conn.execute(
        insert(User).values(name=name, email=email, disabled=False, created_ms=now_ms()).returning(User.id)
    ).scalar_one()


def get_user(conn: Connection, name: str) -> dict[str, Any]:
    row = conn.execute(select(User.__table__).where(User.name == name)).mappings().first()
    if row is None:
        raise NotFoundError(f"user {name!r} not found; `assay users list` shows them")
    return dict(row)


def list_users(conn: Connection) -> list[dict[str, Any]]:
    users = [dict(r) for r in conn.execute(select(User.__table__).order_by(User.name)).mappings()]
    bindings = conn.execute(select(RoleBinding.user_id, RoleBinding.project, RoleBinding.role)).all()
    for u in users:
        u["roles"] = {p: r for uid, p, r in bindings if uid == u["id"]}
    return users


def bind_role(conn: Connection, user_id: int, project: str, role: str) -> str | None:
    """Set the user's role in ``project``; returns the role it replaced."""
    previous = conn.execute(
        select(RoleBinding.role).where(RoleBinding.user_id == user_id, RoleBinding.project == project)
    ).scalar()
    stmt = _upsert(conn)(RoleBinding).values(user_id=user_id, project=project, role=role, created_ms=now_ms())
    conn.execute(stmt.on_conflict_do_update(index_elements=["user_id", "project"], set_={"role": role}))
    return previous


def unbind_role(conn: Connection, user_id: int, project: str) -> int:
    return conn.execute(
        delete(RoleBinding).where(RoleBinding.user_id == user_id, RoleBinding.project == project)
    ).rowcount


def roles_of(conn: Connection, user_id: int) -> dict[str, str]:
    rows = conn.execute(select(RoleBinding.project, RoleBinding.role).where(RoleBinding.user_id == user_id)).all()
    return dict(rows)  # type: ignore[arg-type]


def add_token(conn: Connection, user_id: int, name: str, token_hash: str, prefix: str, expires_ms: int | None) -> int:
    return conn.execute(
        insert(ApiToken)
        .values(
            user_id=user_id, name=name, token_hash=token_hash, prefix=prefix, created_ms=now_ms(), expires_ms=expires_ms
        )
        .returning(ApiToken.id)
    ).scalar_one()


def token_owner(conn: Connection, token_hash: str) -> dict[str, Any] | None:
    row = (
        conn.execute(
            select(
                ApiToken.id,
                ApiToken.expires_ms,
                ApiToken.revoked_ms,
                User.id.label("user_id"),
                User.name,
                User.disabled,
            )
            .join(User, User.id == ApiToken.user_id)
            .where(ApiToken.token_hash == token_hash)
        )
        .mappings()
        .first()
    )
    return dict(row) if row else None


def list_tokens(conn: Connection, user_id: int | None = None) -> list[dict[str, Any]]:
    stmt = (
        select(
            ApiToken.id,
            ApiToken.name,
            ApiToken.prefix,
            ApiToken.created_ms,
            ApiToken.expires_ms,
            ApiToken.revoked_ms,
            User.name.label("user"),
        )
        .join(User, User.id == ApiToken.user_id)
        .order_by(ApiToken.id)
    )
    if user_id is not None:
        stmt = stmt.where(ApiToken.user_id == user_id)
    return [dict(r) for r in conn.execute(stmt).mappings()]


def revoke_token(conn: Connection, token_id: int) -> dict[str, Any]:
    row = conn.execute(select(ApiToken.id, ApiToken.revoked_ms).where(ApiToken.id == token_id)).first()
    if row is None:
        raise NotFoundError(f"token {token_id} not found; `assay tokens list` shows them")
    if row.revoked_ms is None:
        conn.execute(update(ApiToken).where(ApiToken.id == token_id).values(revoked_ms=now_ms()))
    return {"id": token_id, "already_revoked": row.revoked_ms is not None}


# -- approvals -----------------------------------------------------------------------------------------
def create_request(conn: Connection, model: str, version: int, alias: str, actor: str, comment: str | None) -> int:
    pending = conn.execute(
        select(ApprovalRequest.id).where(
            ApprovalRequest.model_name == model,
            ApprovalRequest.version == version,
            ApprovalRequest.alias == alias,
            ApprovalRequest.state.in_(["pending", "approved"]),
        )
    ).scalar()
    if pending is not None:
        return pending  # idempotent: one open request per version and alias
    return conn.execute(
        insert(ApprovalRequest)
        .values(
            model_name=model,
            version=version,
            alias=alias,
            state="pending",
            requested_by=actor,
            requested_ms=now_ms(),
            comment=comment,
        )
        .returning(ApprovalRequest.id)
    ).scalar_one()


def get_request(conn: Connection, request_id: int) -> dict[str, Any]:
    row = conn.execute(select(ApprovalRequest.__table__).where(ApprovalRequest.id == request_id)).mappings().first()
    if row is None:
        raise NotFoundError(f"approval request {request_id} not found; `assay models requests` lists them")
    return dict(row)


def approval_requests(
    conn: Connection, *, model: str | None = None, version: int | None = None, alias: str | None = None,
    state: str | None = None,
) -> list[dict[str, Any]]:  # fmt: skip
    stmt = select(ApprovalRequest.__table__).order_by(ApprovalRequest.id.desc())
    if model is not None:
        stmt = stmt.where(ApprovalRequest.model_name == model)
    if version is not None:
        stmt = stmt.where(ApprovalRequest.version == version)
    if alias is not None:
        stmt = stmt.where(ApprovalRequest.alias == alias)
    if state is not None:
        stmt = stmt.where(ApprovalRequest.state == state)
    return [dict(r) for r in conn.execute(stmt).mappings()]


def decide_request(conn: Connection, request_id: int, state: str, actor: str, comment: str | None) -> None:
    conn.execute(
        update(ApprovalRequest)
        .where(ApprovalRequest.id == request_id)
        .values(state=state, decided_by=actor, decided_ms=now_ms(), decision_comment=comment)
    )
