"""Monitor windows are claimed once, alerts fire once per window and rule, incidents move through their states
(SQLite and PostgreSQL)."""

from __future__ import annotations

import pytest

from assay.errors import ConflictError, InvalidInputError, NotFoundError, StateError
from assay.monitoring import incidents
from assay.store import monitoring as mq
from assay.tracking.client import Client


def _monitor(client: Client, name: str = "m1") -> int:
    return client.db.retrying_write(lambda conn: mq.save_monitor(conn, name, {"name": name, "current": "x.parquet"}))


def test_a_window_is_claimed_once(client: Client) -> None:
    mid = _monitor(client)
    run_id, stored = client.db.retrying_write(lambda conn: mq.claim_window(conn, mid, 0, 1000))
    assert stored is None
    with pytest.raises(ConflictError, match="being computed by another process"):
        client.db.retrying_write(lambda conn: mq.claim_window(conn, mid, 0, 1000))
    client.db.retrying_write(
        lambda conn: mq.finish_run(conn, run_id, status="ok", figures={"rows": 5.0}, result={"checks": {}})
    )
    again, stored = client.db.retrying_write(lambda conn: mq.claim_window(conn, mid, 0, 1000))
    assert again == run_id and stored is not None and stored["figures"] == {"rows": 5.0}
    forced, stored = client.db.retrying_write(lambda conn: mq.claim_window(conn, mid, 0, 1000, force=True))
    assert forced == run_id and stored is None
    client.db.retrying_write(
        lambda conn: mq.finish_run(conn, run_id, status="failed", figures={}, result={}, error="x")
    )
    retried, stored = client.db.retrying_write(lambda conn: mq.claim_window(conn, mid, 0, 1000))
    assert retried == run_id and stored is None  # a failed window is computed again
    with pytest.raises(InvalidInputError, match="must be after its start"):
        client.db.retrying_write(lambda conn: mq.claim_window(conn, mid, 1000, 1000))
    with client.db.read() as conn:
        assert [r["id"] for r in mq.list_monitor_runs(conn, mid)] == [run_id]


def test_alerts_fire_once_per_run_and_rule_and_extend_the_open_incident(client: Client) -> None:
    mid = _monitor(client)
    r1, _ = client.db.retrying_write(lambda conn: mq.claim_window(conn, mid, 0, 1000))
    r2, _ = client.db.retrying_write(lambda conn: mq.claim_window(conn, mid, 1000, 2000))
    alert = {
        "rule": "auc",
        "figure": "performance.auc",
        "op": "<",
        "value": 0.7,
        "threshold": 0.75,
        "severity": "error",
    }
    first = client.db.retrying_write(lambda conn: mq.record_alert(conn, r1, alert))
    assert first is not None
    assert client.db.retrying_write(lambda conn: mq.record_alert(conn, r1, alert)) is None
    values = {"title": "auc dropped", "severity": "error", "monitor_id": mid, "rule": "auc",
              "model_name": "churn", "model_version": 2}  # fmt: skip
    inc, opened = client.db.retrying_write(lambda conn: mq.open_or_extend_incident(conn, values, run_id=r1))
    assert opened
    same, opened = client.db.retrying_write(lambda conn: mq.open_or_extend_incident(conn, values, run_id=r2))
    assert same == inc and not opened
    info = incidents.get_incident(inc, client=client)
    assert (info.state, info.alert_count, info.first_run_id, info.last_run_id) == ("open", 2, r1, r2)
    assert info.monitor == "m1" and "churn v2" in info.summary()


def test_incident_lifecycle_and_audit_events(client: Client) -> None:
    mid = _monitor(client)
    run, _ = client.db.retrying_write(lambda conn: mq.claim_window(conn, mid, 0, 1000))
    values = {"title": "drift", "severity": "warn", "monitor_id": mid, "rule": "drift",
              "model_name": None, "model_version": None}  # fmt: skip
    inc, _ = client.db.retrying_write(lambda conn: mq.open_or_extend_incident(conn, values, run_id=run))
    acked = incidents.acknowledge(inc, owner="maria", actor="maria", client=client)
    assert acked.state == "acknowledged" and acked.owner == "maria" and acked.acknowledged_at
    assert incidents.acknowledge(inc, client=client).acknowledged_at == acked.acknowledged_at  # idempotent
    done = incidents.resolve(inc, postmortem="feed sent cents; parser fixed", client=client)
    assert done.state == "resolved" and done.postmortem.startswith("feed") and done.resolved_at
    with pytest.raises(StateError, match="can move to open"):
        incidents.acknowledge(inc, client=client)
    noted = incidents.note(inc, "root cause: upstream schema change", client=client)
    assert noted.state == "resolved" and noted.postmortem.startswith("root cause")
    assert incidents.reopen(inc, client=client).resolved_at is None
    # a new alert of the rule now extends the reopened incident
    again, opened = client.db.retrying_write(lambda conn: mq.open_or_extend_incident(conn, values, run_id=run))
    assert again == inc and not opened
    assert [i.id for i in incidents.list_incidents(state="open", client=client)] == [inc]
    assert incidents.list_incidents(state="resolved", client=client) == []
    assert [i.id for i in incidents.list_incidents(monitor="m1", client=client)] == [inc]
    from sqlalchemy import select

    from assay.store.models import Event

    with client.db.read() as conn:
        actions = list(
            conn.execute(select(Event.action).where(Event.entity_type == "incident").order_by(Event.id)).scalars()
        )
    assert actions == ["incident.open", "incident.acknowledged", "incident.resolved", "incident.note", "incident.open"]


def test_incident_errors(client: Client) -> None:
    with pytest.raises(NotFoundError, match="incident 99 not found"):
        incidents.get_incident(99, client=client)
    with pytest.raises(InvalidInputError, match="state must be one of"):
        incidents.list_incidents(state="closed", client=client)
    with pytest.raises(NotFoundError, match="monitor 'nope' not found"):
        incidents.list_incidents(monitor="nope", client=client)
    with pytest.raises(InvalidInputError, match="empty"):
        incidents.note(1, " ", client=client)
