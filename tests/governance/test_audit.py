"""The hash-chained audit log finds edited, deleted and reordered events (SQLite and PostgreSQL); alias history
answers "which version was production at time T"."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from sklearn.linear_model import LogisticRegression
from sqlalchemy import delete, select, update
from typer.testing import CliRunner

from assay.cli.main import app
from assay.governance.history import alias_at, alias_history, audit_log, verify_audit
from assay.store import audit
from assay.store.models import Event
from assay.tracking.client import Client


def _history(client: Client) -> None:
    """Three runs, two model versions, production moved twice."""
    model = LogisticRegression().fit([[0.0], [1.0], [2.0], [3.0]], [0, 0, 1, 1])
    for _ in range(2):
        with client.start_run(project="p", capture_env=False) as run:
            run.log_metric("auc", 0.8)
            client.log_model(run.id, model, "churn")
    client.set_alias("churn", "production", 1)
    time.sleep(0.01)
    client.set_alias("churn", "production", 2)


def _ids(client: Client) -> list[int]:
    with client.db.read() as conn:
        return list(conn.execute(select(Event.id).order_by(Event.id)).scalars())


def test_an_untouched_log_verifies(client: Client) -> None:
    _history(client)
    result = verify_audit(client=client)
    assert result.ok and result.checked == len(_ids(client)) >= 7
    assert "intact" in result.summary()
    with client.db.read() as conn:
        count, head = audit.head(conn)
    assert count == result.checked and head == result.head
    assert verify_audit(anchor=head, client=client).ok


@pytest.mark.parametrize("tamper", ["edit_payload", "edit_actor", "delete", "swap", "append_by_hand"])
def test_tampering_is_detected(client: Client, tamper: str) -> None:
    _history(client)
    ids = _ids(client)
    target = ids[3]
    with client.db.engine.begin() as conn:
        if tamper == "edit_payload":
            conn.execute(update(Event).where(Event.id == target).values(payload={"forged": True}))
        elif tamper == "edit_actor":
            conn.execute(update(Event).where(Event.id == target).values(actor="mallory"))
        elif tamper == "delete":
            conn.execute(delete(Event).where(Event.id == target))
        elif tamper == "swap":  # exchange the content of two events, hashes and all
            a, b = (conn.execute(select(Event).where(Event.id == i)).mappings().one() for i in (ids[2], ids[3]))
            fields = ("ts_ms", "actor", "action", "entity_type", "entity_id", "payload", "prev_hash", "hash")
            conn.execute(update(Event).where(Event.id == ids[2]).values({f: b[f] for f in fields}))
            conn.execute(update(Event).where(Event.id == ids[3]).values({f: a[f] for f in fields}))
        else:
            forged = {"ts_ms": 1, "actor": "x", "action": "model.alias", "entity_type": "model", "entity_id": "churn"}
            conn.execute(Event.__table__.insert().values(payload=None, **forged))
    result = verify_audit(client=client)
    assert not result.ok, tamper
    kinds = {p.kind for p in result.problems}
    expected = {"edit_payload": "edited", "edit_actor": "edited", "delete": "chain_broken", "swap": "chain_broken",
                "append_by_hand": "unhashed"}[tamper]  # fmt: skip
    assert expected in kinds
    assert "TAMPERED" in result.summary()


def test_deleting_the_newest_events_needs_an_anchor(client: Client) -> None:
    _history(client)
    with client.db.read() as conn:
        _, head = audit.head(conn)
    with client.db.engine.begin() as conn:
        conn.execute(delete(Event).where(Event.id == _ids(client)[-1]))
    assert verify_audit(client=client).ok  # a truncated chain is still a chain
    anchored = verify_audit(anchor=head, client=client)
    assert not anchored.ok and anchored.problems[0].kind == "anchor_missing"


def test_alias_history_and_production_at_a_time(client: Client) -> None:
    _history(client)
    moves = alias_history("churn", "production", client=client)
    assert [m["version"] for m in moves] == [1, 2] and moves[1]["previous"] == 1
    assert alias_at("churn", "production", moves[0]["ts_ms"], client=client) == 1
    assert alias_at("churn", "production", moves[1]["ts_ms"], client=client) == 2
    assert alias_at("churn", "production", moves[0]["ts_ms"] - 1, client=client) is None
    assert alias_at("churn", "production", "2100-01-01", client=client) == 2
    actions = [e["action"] for e in audit_log(model="churn", client=client)]
    assert actions == ["model.register", "model.register", "model.alias", "model.alias"]


def test_cli_verify_log_and_history(client: Client, tmp_path: Path) -> None:
    _history(client)
    runner = CliRunner()
    base = ["--store-url", client.db.safe_url, "--artifacts-url", str(tmp_path / "artifacts")]
    ok = runner.invoke(app, [*base, "audit", "verify"])
    assert ok.exit_code == 0 and "intact" in ok.output
    log = runner.invoke(app, [*base, "audit", "log", "--model", "churn", "--json"])
    assert [e["action"] for e in json.loads(log.output)][-1] == "model.alias"
    at = runner.invoke(app, [*base, "models", "history", "churn", "--at", "2100-01-01", "--json"])
    assert json.loads(at.output)["version"] == 2
    missing = runner.invoke(app, [*base, "models", "history", "nope"])
    assert missing.exit_code == 3
    with client.db.engine.begin() as conn:
        conn.execute(update(Event).where(Event.id == _ids(client)[1]).values(actor="mallory"))
    bad = runner.invoke(app, [*base, "audit", "verify"])
    assert bad.exit_code == 1 and "TAMPERED" in bad.output
