"""Experiment persistence queries: definitions, variants linked to model versions, analyses."""

from __future__ import annotations

import pytest
from sklearn.dummy import DummyClassifier

from assay.errors import NotFoundError
from assay.store import experiments as eq
from assay.store import registry as mq
from assay.tracking.client import Client


def test_save_analyse_and_link_to_model(client: Client) -> None:
    with client.start_run(project="p") as run:
        run.log_model(DummyClassifier().fit([[0], [1]], [0, 1]), name="ranker")
    with client.db.write() as conn:
        mv_id = mq.get_version_row(conn, "ranker", 1).id
        exp_id = eq.save_experiment(
            conn,
            "checkout-v2",
            {"variants": ["control", "treatment"]},
            [
                {"name": "control", "weight": 0.5, "is_control": True, "model_version_id": None},
                {"name": "treatment", "weight": 0.5, "is_control": False, "model_version_id": mv_id},
            ],
        )
        analysis_id = eq.record_analysis(
            conn,
            exp_id,
            actor="tester",
            decision="ship",
            summary="Treatment raised conversion.",
            srm_p_value=0.4,
            result={"ok": True},
            metric_rows=[
                {
                    "metric": "conversion",
                    "variant": "treatment",
                    "slice": None,
                    "role": "primary",
                    "relative": True,
                    "estimate": 0.023,
                    "ci_low": 0.008,
                    "ci_high": 0.039,
                    "p_value": 0.004,
                    "adjusted_p_value": 0.004,
                    "status": "ok",
                },
            ],
        )
    with client.db.read() as conn:
        got = eq.get_experiment(conn, "checkout-v2")
        assert got["analyses"] == 1
        assert got["variants"][0] == {"name": "control", "weight": 0.5, "is_control": True, "model": None}
        assert got["variants"][1]["model"] == "models:/ranker/1"
        (analysis,) = eq.analyses_of(conn, exp_id)
        assert analysis["id"] == analysis_id and analysis["decision"] == "ship"
        assert analysis["metrics"][0]["estimate"] == pytest.approx(0.023)
        assert eq.experiments_for_model(conn, "ranker") == [
            {"experiment": "checkout-v2", "status": "running", "variant": "treatment", "version": 1}
        ]
        assert [e["name"] for e in eq.list_experiments(conn)] == ["checkout-v2"]
    # re-saving with fewer variants updates in place
    with client.db.write() as conn:
        eq.save_experiment(conn, "checkout-v2", {"v": 2}, [{"name": "control", "is_control": True}])
        eq.set_status(conn, "checkout-v2", "concluded")
    with client.db.read() as conn:
        got = eq.get_experiment(conn, "checkout-v2")
        assert [v["name"] for v in got["variants"]] == ["control"] and got["status"] == "concluded"
        assert got["definition"] == {"v": 2}


def test_unknown_experiment(client: Client) -> None:
    with client.db.read() as conn, pytest.raises(NotFoundError, match="experiment 'nope' not found"):
        eq.get_experiment(conn, "nope")
