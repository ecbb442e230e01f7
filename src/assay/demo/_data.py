"""The demo's data step: the company's tables written to the workspace, checked against their contracts and
profiled, every result recorded against the exact dataset version (:func:`assay.data.record`).

The contracts are written to ``<home>/demo/contracts/`` so a newcomer can re-run them
(``assay data check customers.parquet --contract contracts/customers.yaml``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from assay.data import Contract, Profile, ValidationResult, profile, record

if TYPE_CHECKING:
    from assay.tracking.client import Client

__all__ = ["CONTRACTS", "DataChecks", "check_and_profile", "write_contracts"]

CONTRACTS: dict[str, str] = {
    "customers": """\
dataset: customers
columns:
  customer_id: {type: string, not_null: true, unique: true, regex: '^C[0-9]{7}$'}
  signup_date: {type: timestamp, not_null: true}
  tenure_months: {type: integer, not_null: true, min: 0, max: 120}
  plan: {type: string, not_null: true, in: [basic, standard, premium]}
  contract: {type: string, not_null: true, in: [monthly, annual]}
  region: {type: string, not_null: true, in: [north_america, europe, asia_pacific, latin_america]}
  channel: {type: string, not_null: true, in: [organic, paid_search, referral, partner]}
  monthly_spend: {type: float, not_null: true, min: 0}
  discount_pct: {type: float, not_null: true, min: 0, max: 50}
  age: {type: integer, not_null: true, min: 18, max: 100}
  logins_30d: {type: integer, not_null: true, min: 0}
  days_since_last_login: {type: integer, not_null: true, min: 0}
  support_tickets_90d: {type: integer, not_null: true, min: 0}
  payment_failures: {type: integer, not_null: true, min: 0}
  satisfaction_score: {type: float, min: 0, max: 10, severity: warn}
  churned: {type: integer, not_null: true, in: [0, 1]}
rows: {min: 100}
""",
    "orders": """\
dataset: orders
columns:
  order_id: {type: integer, not_null: true, unique: true}
  customer_id: {type: string, not_null: true, references: customers.customer_id}
  ts: {type: timestamp, not_null: true}
  amount: {type: float, not_null: true, min: 0}
rows: {min: 1}
checks:
  - name: no_orders_after_the_snapshot
    sql: "select * from orders where ts > TIMESTAMP '2025-06-30 00:00:00'"
""",
}


@dataclass(frozen=True)
class DataChecks:
    """Contract results and the customers profile, with the ids they were recorded under."""

    validations: dict[str, ValidationResult]
    profile: Profile
    recorded: dict[str, int]

    @property
    def passed(self) -> bool:
        return all(v.passed for v in self.validations.values())


def write_contracts(folder: Path) -> dict[str, Path]:
    """The contract YAML files, written to ``folder`` (the workspace's ``contracts/``)."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = {}
    for name, text in CONTRACTS.items():
        path = folder / f"{name}.yaml"
        path.write_text(text, encoding="utf-8")
        paths[name] = path
    return paths


def check_and_profile(client: Client, files: dict[str, Path], contracts: dict[str, Path]) -> DataChecks:
    """Validate customers, orders (whose ``customer_id`` must exist in customers) and the training split;
    profile the customers; record all of it. ``files`` names ``customers``, ``orders`` and ``train``."""
    customers_contract = Contract.from_yaml(contracts["customers"])
    orders_contract = Contract.from_yaml(contracts["orders"])
    validations = {
        "customers": customers_contract.validate(files["customers"]),
        "orders": orders_contract.validate(files["orders"], references={"customers": files["customers"]}),
        "customers_train": customers_contract.validate(files["train"]),
    }
    prof = profile(files["customers"])
    recorded = {
        "customers": record(validations["customers"], files["customers"], dataset="customers", client=client),
        "orders": record(validations["orders"], files["orders"], dataset="orders", client=client),
        "customers_train": record(
            validations["customers_train"], files["train"], dataset="customers_train", client=client
        ),
        "profile": record(prof, files["customers"], dataset="customers", client=client),
    }
    return DataChecks(validations, prof, recorded)
