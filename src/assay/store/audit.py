"""The audit log: an append-only table of events, each carrying the hash of the one before.

``hash = sha256(prev_hash | ts_ms | actor | action | entity_type | entity_id | payload)`` over a canonical JSON
encoding, with ``prev_hash`` of the first event ``"0" * 64``. :func:`verify` walks the events in order and
recomputes every hash, so it finds

* an edited event (its stored hash no longer matches its content),
* a deleted or reordered event (the next event's ``prev_hash`` no longer matches),
* events appended to the end by hand (their hashes do not chain unless the writer knew the algorithm — the
  check is tamper-evidence, not secrecy; keep the :func:`head` hash somewhere else, e.g. in a ticket, to also
  catch deletion of the newest events: ``verify(conn, anchor=...)``).

Appends are serialised: SQLite writers already are (``BEGIN IMMEDIATE``); on PostgreSQL a transaction-scoped
advisory lock is taken before the previous hash is read, so two writers cannot fork the chain.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, func, insert, select, text

from assay.errors import InvalidInputError
from assay.store.models import Event

__all__ = ["GENESIS", "AuditProblem", "AuditVerification", "append", "event_hash", "head", "verify"]

GENESIS = "0" * 64
_LOCK_KEY = 0x61737361795F6175  # "assay_au": the PostgreSQL advisory lock that serialises appends
_BATCH = 5000


def _canonical(value: Any) -> Any:
    """JSON-safe, deterministic form of a payload (what is stored is exactly what was hashed)."""
    if value is None:
        return None
    try:
        return json.loads(json.dumps(value, sort_keys=True, default=str, allow_nan=False))
    except ValueError as exc:
        raise InvalidInputError(f"an audit payload must be JSON without NaN/inf: {exc}") from exc


def event_hash(prev_hash: str, ts_ms: int, actor: str, action: str, entity_type: str, entity_id: str,
               payload: Any) -> str:  # fmt: skip
    body = json.dumps(
        [prev_hash, int(ts_ms), actor, action, entity_type, entity_id, payload],
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
    )
    return hashlib.sha256(body.encode("utf-8")).hexdigest()


_LAST = select(Event.hash).order_by(Event.id.desc()).limit(1)
_INSERT = insert(Event)  # executed with a dict of values: built and compiled once
_LOCK = text("SELECT pg_advisory_xact_lock(:k)")


def _last_hash(conn: Connection) -> str:
    if conn.dialect.name == "postgresql":
        conn.execute(_LOCK, {"k": _LOCK_KEY})
    last = conn.execute(_LAST).first()
    return GENESIS if last is None or last[0] is None else last[0]


def append(
    conn: Connection, *, ts_ms: int, actor: str, action: str, entity_type: str, entity_id: str, payload: Any = None
) -> str:
    """Append one event inside the caller's transaction; returns its hash."""
    payload = _canonical(payload)
    prev = _last_hash(conn)
    digest = event_hash(prev, ts_ms, actor, action, entity_type, entity_id, payload)
    conn.execute(
        _INSERT,
        {
            "ts_ms": ts_ms,
            "actor": actor,
            "action": action,
            "entity_type": entity_type,
            "entity_id": entity_id,
            "payload": payload,
            "prev_hash": prev,
            "hash": digest,
        },
    )
    return digest


def head(conn: Connection) -> tuple[int, str]:
    """``(number of events, hash of the newest)``: keep it elsewhere to anchor a later :func:`verify`."""
    count = conn.execute(select(func.count()).select_from(Event)).scalar_one()
    last = conn.execute(select(Event.hash).order_by(Event.id.desc()).limit(1)).scalar()
    return count, last or GENESIS


@dataclass(frozen=True)
class AuditProblem:
    event_id: int
    kind: str  # edited | chain_broken | unhashed | anchor_missing
    detail: str


@dataclass(frozen=True)
class AuditVerification:
    ok: bool
    checked: int
    head: str
    problems: tuple[AuditProblem, ...] = field(default_factory=tuple)

    def summary(self) -> str:
        if self.ok:
            return f"Audit log intact: {self.checked:,} events, every hash chains (head {self.head[:12]})."
        shown = "; ".join(f"event {p.event_id}: {p.detail}" for p in self.problems[:5])
        more = f" (+{len(self.problems) - 5} more)" if len(self.problems) > 5 else ""
        return f"Audit log TAMPERED: {len(self.problems)} problem(s) in {self.checked:,} events: {shown}{more}."


def verify(conn: Connection, *, anchor: str | None = None) -> AuditVerification:
    """Recompute the chain over every event, in id order (streamed in batches)."""
    expected = GENESIS
    problems: list[AuditProblem] = []
    checked = 0
    seen_anchor = anchor is None
    last_id = 0
    cols = (Event.id, Event.ts_ms, Event.actor, Event.action, Event.entity_type, Event.entity_id, Event.payload,
            Event.prev_hash, Event.hash)  # fmt: skip
    while True:
        rows = conn.execute(select(*cols).where(Event.id > last_id).order_by(Event.id).limit(_BATCH)).all()
        if not rows:
            break
        for eid, ts, actor, action, etype, entity, payload, prev, stored in rows:
            checked += 1
            last_id = eid
            if stored is None:
                problems.append(AuditProblem(eid, "unhashed", "has no hash (written outside assay's audit log)"))
                continue
            if prev != expected:
                problems.append(
                    AuditProblem(
                        eid,
                        "chain_broken",
                        "does not follow the event before it: an event was deleted, "
                        "inserted or reordered just before it",
                    )
                )
            if event_hash(prev or "", ts, actor, action, etype, entity, payload) != stored:
                problems.append(AuditProblem(eid, "edited", f"its content was changed after it was written ({action})"))
            expected = stored
            if anchor is not None and stored == anchor:
                seen_anchor = True
    if not seen_anchor:
        problems.append(
            AuditProblem(
                last_id,
                "anchor_missing",
                f"the anchored head {anchor[:12]}… is gone: newer events were deleted or the log was rewritten",
            )
        )
    return AuditVerification(ok=not problems, checked=checked, head=expected, problems=tuple(problems))


def rehash_all(conn: Connection) -> int:
    """Chain every existing event (used once by the migration that introduced hashes); returns the count."""
    prev = GENESIS
    last_id = 0
    count = 0
    while True:
        rows = conn.execute(
            select(Event.id, Event.ts_ms, Event.actor, Event.action, Event.entity_type, Event.entity_id, Event.payload)
            .where(Event.id > last_id)
            .order_by(Event.id)
            .limit(_BATCH)
        ).all()
        if not rows:
            return count
        for eid, ts, actor, action, etype, entity, payload in rows:
            digest = event_hash(prev, ts, actor, action, etype, entity, payload)
            conn.execute(
                Event.__table__.update().where(Event.id == eid).values(prev_hash=prev, hash=digest)  # type: ignore[attr-defined]
            )
            prev, last_id, count = digest, eid, count + 1
