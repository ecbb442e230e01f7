"""Data results recorded against dataset versions (SQLite and PostgreSQL), a stored profile as a monitor's
drift reference, and the ``assay data`` commands."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from assay import data, monitoring
from assay.cli.main import app
from assay.errors import InvalidInputError, NotFoundError
from assay.tracking.client import Client

CONTRACT = """
dataset: orders
columns:
  id: {type: integer, not_null: true, unique: true}
  amount: {type: float, not_null: true, min: 0}
  status: {type: string, in: [new, paid, shipped, refunded]}
rows: {min: 1}
"""


@pytest.fixture
def orders(tmp_path: Path) -> Path:
    rng = np.random.default_rng(2)
    n = 2000
    df = pd.DataFrame({
        "id": np.arange(n),
        "amount": rng.gamma(2.0, 30.0, n),
        "status": rng.choice(["new", "paid", "shipped", "refunded"], n),
    })  # fmt: skip
    path = tmp_path / "orders.parquet"
    df.to_parquet(path)
    return path


def test_profile_and_validation_are_recorded_against_the_version(client: Client, orders: Path, tmp_path: Path) -> None:
    prof = data.profile(orders)
    first = data.record(prof, str(orders), dataset="orders", client=client)
    (tmp_path / "orders.contract.yaml").write_text(CONTRACT)
    result = data.Contract.from_yaml(str(tmp_path / "orders.contract.yaml")).validate(str(orders))
    assert result.passed
    second = data.record(result, str(orders), dataset="orders", client=client)
    assert second > first
    checks = data.dataset_checks("orders", client=client)
    assert [c["kind"] for c in checks] == ["validation", "profile"]
    assert checks[0]["passed"] is True and checks[1]["passed"] is None
    stored = data.load_profile("orders", client=client)
    assert stored.rows == prof.rows == 2000
    assert stored.column("amount").histogram_counts == prof.column("amount").histogram_counts
    # a changed file is a new version; its checks are separate, and the profile lookup still finds the old one
    pd.read_parquet(orders).head(10).to_parquet(orders)
    data.record(data.Contract.from_dict({"dataset": "orders", "rows": {"min": 100}}).validate(str(orders)),
                str(orders), dataset="orders", client=client)  # fmt: skip
    newest = data.dataset_checks("orders", client=client)
    assert [(c["kind"], c["passed"]) for c in newest] == [("validation", False)]
    assert data.load_profile("orders", client=client).rows == 2000


def test_record_errors(client: Client, orders: Path) -> None:
    with pytest.raises(InvalidInputError, match="cannot record a dict"):
        data.record({"a": 1}, str(orders), dataset="orders", client=client)
    with pytest.raises(NotFoundError, match="no stored profile"):
        data.load_profile("nothing", client=client)
    with pytest.raises(NotFoundError, match="not found"):
        data.dataset_checks("nothing", client=client)


def test_a_stored_profile_is_a_monitor_reference(client: Client, tmp_path: Path) -> None:
    rng = np.random.default_rng(9)
    ref = pd.DataFrame({"x": rng.normal(0, 1, 5000), "plan": rng.choice(["a", "b"], 5000)})
    ref_path = tmp_path / "ref.parquet"
    ref.to_parquet(ref_path)
    data.record(data.profile(ref_path), str(ref_path), dataset="customers", client=client)
    cur = pd.DataFrame({
        "ts": pd.date_range("2026-11-01", periods=5000, freq="10s"),
        "x": rng.normal(1.0, 1, 5000),
        "plan": rng.choice(["a", "b"], 5000),
    })  # fmt: skip
    cur.to_parquet(tmp_path / "cur.parquet")
    monitoring.create_monitor(
        {
            "name": "customers-drift", "current": str(tmp_path / "cur.parquet"), "timestamp": "ts", "window": "1d",
            "reference": {"dataset": "customers"}, "checks": {"drift": {"columns": ["x", "plan"]}},
            "rules": [{"name": "drift", "figure": "drift.share_drifted", "op": ">", "threshold": 0.0}],
        },
        client=client,
    )  # fmt: skip
    result = monitoring.run_monitor("customers-drift", at="2026-11-02", client=client)
    assert result.status == "alerting"
    assert result.figures["drift.x.drifted"] == 1.0 and result.figures["drift.plan.drifted"] == 0.0


def test_cli_profile_validate_and_record(client: Client, orders: Path, tmp_path: Path) -> None:
    runner = CliRunner()
    base = ["--store-url", client.db.safe_url, "--artifacts-url", str(tmp_path / "artifacts")]
    out = runner.invoke(app, [*base, "data", "profile", str(orders), "--dataset", "orders", "--json"])
    assert out.exit_code == 0, out.output
    assert json.loads(out.output)["rows"] == 2000
    contract = tmp_path / "c.yaml"
    contract.write_text(CONTRACT.replace("min: 0}", "min: 1000}"))
    failed = runner.invoke(app, [*base, "data", "validate", str(orders), "--contract", str(contract),
                                 "--dataset", "orders"])  # fmt: skip
    assert failed.exit_code == 1 and "FAIL" in failed.output
    assert [c["kind"] for c in data.dataset_checks("orders", client=client)] == ["validation", "profile"]
    bad_ref = runner.invoke(app, [*base, "data", "validate", str(orders), "--contract", str(contract), "--ref", "x"])
    assert bad_ref.exit_code == 2 and "NAME=PATH" in bad_ref.output
