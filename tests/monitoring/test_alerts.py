"""Alert rules, webhook delivery to a real local HTTP server, and the retraining trigger."""

from __future__ import annotations

import json
import math
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from assay.errors import InvalidInputError
from assay.monitoring.alerts import Fired, Retrain, Rule, deliver, evaluate, trigger_retrain


class _Hook:
    def __init__(self) -> None:
        self.received: list[dict] = []
        self.fail_first = 0
        self.url = ""


@pytest.fixture
def hook() -> Iterator[_Hook]:
    state = _Hook()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            if state.fail_first > 0:
                state.fail_first -= 1
                self.send_response(503)
                self.end_headers()
                return
            state.received.append(json.loads(body))
            self.send_response(200)
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}/hook"
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()


def test_rules_fire_on_their_figures() -> None:
    rules = [
        Rule("drift", "drift.share_drifted", ">=", 0.3),
        Rule("auc", "performance.auc", "<", 0.75),
        Rule("no_data", "rows", "<", 1, severity="critical"),
        Rule("missing", "estimate.accuracy", "<", 0.5),
        Rule("missing_fires", "estimate.accuracy", "<", 0.5, on_missing=True),
    ]
    fired = evaluate(rules, {"drift.share_drifted": 0.4, "performance.auc": 0.8, "rows": 0.0})
    assert [f.rule.name for f in fired] == ["drift", "no_data", "missing_fires"]
    assert fired[0].value == 0.4 and fired[2].value is None
    assert evaluate(rules[:1], {"drift.share_drifted": math.nan}) == []
    assert evaluate(rules[:1], {"drift.share_drifted": True}) == [Fired(rules[0], 1.0)]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"op": "=>"}, "op must be one of"),
        ({"severity": "urgent"}, "severity must be one of"),
        ({"threshold": "high"}, "threshold must be a number"),
        ({"notify": ("slack",)}, "notify channels are 'log' or an http"),
        ({"name": " "}, "non-empty name"),
    ],
)
def test_bad_rules_say_what_to_fix(kwargs: dict, message: str) -> None:
    base = {"name": "r", "figure": "rows", "op": "<", "threshold": 1}
    with pytest.raises(InvalidInputError, match=message):
        Rule(**(base | kwargs))


def test_rule_from_dict_rejects_unknown_keys() -> None:
    with pytest.raises(InvalidInputError, match="unknown rule key"):
        Rule.from_dict({"name": "r", "figure": "rows", "op": "<", "threshold": 1, "treshold": 2})
    with pytest.raises(InvalidInputError, match="lacks"):
        Rule.from_dict({"name": "r", "figure": "rows"})
    rule = Rule.from_dict({"name": "r", "figure": "rows", "op": "<", "threshold": 1, "notify": "log"})
    assert rule.notify == ("log",) and Rule.from_dict(rule.to_dict()) == rule


def test_webhook_gets_slack_compatible_json(hook: _Hook, caplog: pytest.LogCaptureFixture) -> None:
    rule = Rule("auc", "performance.auc", "<", 0.75, notify=("log", hook.url))
    outcome = deliver(Fired(rule, 0.7), monitor="churn", window="w1", context={"model": "churn"})
    assert outcome["log"]["ok"] and outcome[hook.url]["ok"]
    (payload,) = hook.received
    assert "churn" in payload["text"] and "performance.auc = 0.7" in payload["text"]
    assert payload["blocks"][0]["type"] == "section"
    assert payload["assay"]["rule"] == "auc" and payload["assay"]["model"] == "churn"
    assert any("rule 'auc' fired" in r.message for r in caplog.records)


def test_webhook_retries_server_errors_and_reports_failures(hook: _Hook) -> None:
    hook.fail_first = 2
    rule = Rule("auc", "performance.auc", "<", 0.75, notify=(hook.url,))
    outcome = deliver(Fired(rule, 0.7), monitor="m", window="w", context={})
    assert outcome[hook.url] == {"ok": True, "status": 200, "attempts": 3}
    dead = Rule("auc", "performance.auc", "<", 0.75, notify=("http://127.0.0.1:9/nowhere",))
    failed = deliver(Fired(dead, 0.7), monitor="m", window="w", context={})
    assert failed["http://127.0.0.1:9/nowhere"]["ok"] is False
    assert "Error" in failed["http://127.0.0.1:9/nowhere"]["error"]


def test_retrain_runs_the_command_with_the_alert_in_its_environment(tmp_path: Path, hook: _Hook) -> None:
    out = tmp_path / "retrain.json"
    script = (
        "import json, os, sys; "
        "json.dump({k: v for k, v in os.environ.items() if k.startswith('ASSAY_')}, open(sys.argv[1], 'w'))"
    )
    retrain = Retrain(command=(sys.executable, "-c", script, str(out)), webhook=hook.url)
    fired = [Fired(Rule("drift", "drift.share_drifted", ">=", 0.3, retrain=True), 0.5)]
    outcome = trigger_retrain(retrain, fired, monitor="churn", window="w1", context={"model": "churn"})
    assert outcome["command"]["ok"] and outcome["webhook"]["ok"]
    env = json.loads(out.read_text())
    assert env["ASSAY_MONITOR"] == "churn" and env["ASSAY_RULES"] == "drift" and env["ASSAY_MODEL"] == "churn"
    assert hook.received[0]["assay"]["rules"] == ["drift"]
    failing = trigger_retrain(
        Retrain(command=(sys.executable, "-c", "raise SystemExit(3)")), fired, monitor="m", window="w", context={}
    )
    assert failing["command"] == {"ok": False, "returncode": 3, "stderr": ""}


def test_retrain_needs_a_command_or_webhook() -> None:
    with pytest.raises(InvalidInputError, match=r"command .* or a webhook"):
        Retrain()
    with pytest.raises(InvalidInputError, match="no shell"):
        Retrain(command=["python", 3])  # type: ignore[list-item]
    assert Retrain(command="./retrain.sh").command == ("./retrain.sh",)
