"""Governed promotion: gates, an approval by someone other than the author, admin overrides (SQLite and
PostgreSQL), through the Python API and the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sklearn.linear_model import LogisticRegression
from typer.testing import CliRunner

from assay.cli.main import app
from assay.errors import InvalidInputError, PermissionDeniedError, StateError
from assay.governance import approvals, edit_card
from assay.governance import identity as ident
from assay.governance.history import alias_at, audit_log
from assay.tracking.client import Client

MODEL = LogisticRegression().fit([[0.0], [1.0], [2.0], [3.0]], [0, 0, 1, 1])
CARD = {"intended_use": "Retention calls", "factors": "plan, tenure", "ethical_considerations": "none automated",
        "caveats_and_recommendations": "retrain monthly", "quantitative_analyses": "no person-level data",
        "evaluation_data": "holdout month"}  # fmt: skip


def _as(client: Client, token: str) -> Client:
    return Client(store_url=client.settings.store_url, artifacts_url=client.settings.artifacts_url, token=token)


@pytest.fixture
def team(client: Client) -> dict[str, Client]:
    root = _as(client, ident.add_user("root", role="admin", client=client)["token"])
    for name, role in (("sci", "scientist"), ("rev", "reviewer"), ("rev2", "reviewer")):
        ident.add_user(name, role=role, project="churn", client=root)
    people = {name: _as(client, ident.create_token(name, client=root)) for name in ("sci", "rev", "rev2")}
    return {"root": root, **people}


def _register(c: Client) -> int:
    with c.start_run(project="churn", capture_env=False) as run:
        run.log_metric("auc", 0.82)
        return c.log_model(run.id, MODEL, "churn").version


def test_promotion_needs_an_approval_by_someone_else_and_passing_gates(team: dict[str, Client]) -> None:
    sci, rev, rev2, root = team["sci"], team["rev"], team["rev2"], team["root"]
    v1 = _register(sci)
    with pytest.raises(PermissionDeniedError, match="no approved request"):
        approvals.promote("churn", v1, client=sci)
    rid = approvals.request_promotion("churn", v1, comment="first model", client=sci)
    assert approvals.request_promotion("churn", v1, client=sci) == rid  # one open request per version
    with pytest.raises(PermissionDeniedError, match="needs the reviewer role"):
        approvals.approve(rid, client=sci)
    approvals.approve(rid, comment="looked at the card", client=rev)
    with pytest.raises(StateError, match="only a pending request"):
        approvals.reject(rid, comment="late", client=rev2)
    # the default policy gates on a complete card: it is not, so the promotion is refused ...
    with pytest.raises(PermissionDeniedError, match="fails policy gates"):
        approvals.promote("churn", v1, client=sci)
    with pytest.raises(PermissionDeniedError, match="override failed policy gates"):
        approvals.promote("churn", v1, override="urgent", client=sci)  # ... and only an admin may override
    done = approvals.promote("churn", v1, override="regulator sign-off #12", client=root)
    assert not done.gates_passed and done.approved_by == "rev" and "overridden by root" in done.summary()
    assert [r["state"] for r in approvals.list_requests(model="churn", client=root)] == ["used"]

    v2 = _register(sci)
    edit_card(f"churn/{v2}", CARD, client=sci)
    rid2 = approvals.request_promotion("churn", v2, client=sci)
    approvals.approve(rid2, client=rev2)
    promoted = approvals.promote("churn", v2, client=sci)
    assert promoted.gates_passed and promoted.previous == v1 and promoted.override is None
    assert alias_at("churn", "production", "2100-01-01", client=root) == v2
    promotes = [e for e in audit_log(model="churn", client=root) if e["action"] == "model.promote"]
    assert [e["payload"]["override"] for e in promotes] == ["regulator sign-off #12", None]


def test_authors_cannot_review_their_own_versions(team: dict[str, Client], client: Client) -> None:
    root, rev = team["root"], team["rev"]
    ident.grant("rev", "admin", project="churn", client=root)  # an author with every power still cannot approve
    v = _register(rev)
    rid = approvals.request_promotion("churn", v, client=rev)
    with pytest.raises(PermissionDeniedError, match="cannot review it"):
        approvals.approve(rid, client=rev)
    with pytest.raises(InvalidInputError, match="say why"):
        approvals.reject(rid, client=team["rev2"])
    approvals.reject(rid, comment="no holdout evaluation", client=team["rev2"])
    assert approvals.list_requests(state="rejected", client=root)[0]["decision_comment"] == "no holdout evaluation"


def test_single_user_promotion_records_the_gates(client: Client) -> None:
    v = _register(client)
    result = approvals.promote("churn", v, client=client)
    assert not result.gates_passed and result.approved_by is None  # recorded, not blocking a solo user
    event = next(e for e in audit_log(model="churn", client=client) if e["action"] == "model.promote")
    assert event["payload"]["single_user"] is True and event["payload"]["gates"][0]["passed"] is False


def test_cli_request_approve_promote(team: dict[str, Client], client: Client, tmp_path: Path) -> None:
    v = _register(team["sci"])
    edit_card(f"churn/{v}", CARD, client=team["sci"])
    runner = CliRunner()
    base = ["--store-url", client.db.safe_url, "--artifacts-url", str(tmp_path / "artifacts")]

    def run(who: str, *args: str) -> object:
        return runner.invoke(app, [*base, *args], env={"ASSAY_TOKEN": team[who].settings.token})

    refused = run("sci", "models", "alias", "churn", "production", str(v))
    assert refused.exit_code == 7 and "is protected" in refused.output
    req = run("sci", "models", "promote", "churn", str(v), "--request", "--json")
    rid = json.loads(req.output)["request"]
    assert run("rev", "models", "approve", str(rid)).exit_code == 0
    listed = run("rev", "models", "requests", "churn", "--json")
    assert json.loads(listed.output)[0]["state"] == "approved"
    checked = run("sci", "models", "check", "churn", str(v))
    assert checked.exit_code == 0, checked.output
    promoted = run("sci", "models", "promote", "churn", str(v), "--json")
    assert promoted.exit_code == 0, promoted.output
    assert json.loads(promoted.output)["gates_passed"] is True


def test_policy_webhooks_hear_of_requests_decisions_and_promotions(team: dict[str, Client]) -> None:
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    from assay.governance.policy import Policy, save_policy

    received: list[dict] = []

    class Hook(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Hook)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/hook"
        save_policy(Policy.from_dict({"project": "churn", "gates": [{"metric": {"name": "auc", "min": 0.8}}],
                                      "notify": [url]}), client=team["root"])  # fmt: skip
        v = _register(team["sci"])
        rid = approvals.request_promotion("churn", v, comment="better auc", client=team["sci"])
        approvals.approve(rid, client=team["rev"])
        approvals.promote("churn", v, client=team["sci"])
    finally:
        server.shutdown()
        server.server_close()
    assert [r["assay"]["event"] for r in received] == ["approval.request", "approval.approved", "model.promote"]
    assert "better auc" in received[0]["text"] and "gates passed" in received[2]["text"]
    with pytest.raises(InvalidInputError, match="webhook URLs"):
        Policy.from_dict({"gates": [{"card_complete": True}], "notify": ["slack"]})


def test_lineage_from_data_to_aliases(team: dict[str, Client], tmp_path: Path, client: Client) -> None:
    import pandas as pd

    from assay.governance.lineage import lineage

    data = tmp_path / "train.parquet"
    pd.DataFrame({"x": [0.0, 1.0, 2.0, 3.0], "y": [0, 0, 1, 1]}).to_parquet(data)
    sci = team["sci"]
    with sci.start_run(project="churn", capture_env=False) as run:
        run.log_dataset(str(data), role="train")
        run.log_metric("auc", 0.8)
        v = sci.log_model(run.id, MODEL, "churn").version
    edit_card(f"churn/{v}", CARD, client=sci)
    approvals.approve(approvals.request_promotion("churn", v, client=sci), comment="ok", client=team["rev"])
    approvals.promote("churn", v, client=sci)
    lin = lineage(f"churn/{v}", client=sci)
    assert lin.datasets[0]["name"] == "train" and lin.datasets[0]["role"] == "train"
    assert lin.run["project"] == "churn" and lin.run["user"] is not None
    assert lin.registered["by"] == "sci" and lin.aliases == ("production",)
    assert lin.approvals[0]["state"] == "used" and lin.promotions[0]["gates_passed"] is True
    assert "trained on train (train" in lin.summary() and "now production" in lin.summary()
    runner = CliRunner()
    base = ["--store-url", client.db.safe_url, "--artifacts-url", str(tmp_path / "artifacts")]
    out = runner.invoke(app, [*base, "lineage", "models:/churn@production", "--json"])
    assert out.exit_code == 0, out.output
    assert json.loads(out.output)["version"] == v
