"""A monitor's stored definition: what it watches, against which reference, over which window, which checks
and which alert rules. Written as YAML (or a dict)::

    name: churn-prod
    model: models:/churn@production        # resolved to a version when the monitor is saved (optional)
    dataset: customers                     # the dataset it watches (optional)
    current: logs/predictions/*.parquet    # files, or a table / SELECT on `engine`
    timestamp: ts                          # the column that places a row in a window
    window: 1d                             # each run covers one window: 30m, 12h, 1d, 7d ...
    reference: data/train.parquet          # rows, or {dataset: customers} for its stored profile
    engine: null                           # DuckDB in-process by default; spark://..., postgresql://...
    checks:
      drift: {columns: [age, plan, spend], method: auto, drift_share: 0.5, correction: holm}
      prediction_drift: {column: score}
      performance: {labels: labels/*.parquet, id: id, score: score, label: label, threshold: 0.5}
      estimate: {score: score, threshold: 0.5}
      contract: orders.contract.yaml
    rules:
      - {name: drift, figure: drift.share_drifted, op: ">=", threshold: 0.3, retrain: true,
         notify: [log, "https://hooks.slack.com/services/..."]}
      - {name: auc_drop, figure: performance.auc, op: "<", threshold: 0.75}
      - {name: no_data, figure: rows, op: "<", threshold: 1, severity: critical}
    retrain: {command: [python, train.py]}

The figures a rule can name are listed in :mod:`assay.monitoring.monitors`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from assay._yaml import load_yaml
from assay.errors import InvalidInputError
from assay.monitoring.alerts import Retrain, Rule

__all__ = ["CHECKS", "MonitorSpec", "parse_duration"]

CHECKS = ("drift", "prediction_drift", "target_drift", "performance", "estimate", "contract")
_KEYS = {
    "name",
    "model",
    "dataset",
    "current",
    "timestamp",
    "window",
    "reference",
    "engine",
    "checks",
    "rules",
    "retrain",
    "enabled",
}
_DURATION = re.compile(r"^\s*(\d+)\s*(s|m|min|h|d|w)\s*$")
_UNIT_MS = {"s": 1000, "m": 60_000, "min": 60_000, "h": 3_600_000, "d": 86_400_000, "w": 7 * 86_400_000}
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,254}$")


def parse_duration(text: str | int, what: str = "window") -> int:
    """``"30m"``, ``"12h"``, ``"1d"``, ``"2w"`` (or seconds as an int) in milliseconds."""
    if isinstance(text, int) and not isinstance(text, bool) and text > 0:
        return text * 1000
    match = _DURATION.match(str(text))
    if not match or int(match.group(1)) <= 0:
        raise InvalidInputError(f"{what} must be a duration such as 30m, 12h, 1d or 2w; got {text!r}")
    return int(match.group(1)) * _UNIT_MS[match.group(2)]


@dataclass(frozen=True)
class MonitorSpec:
    """A validated monitor definition (see the module docstring for the YAML shape)."""

    name: str
    current: str
    timestamp: str | None = None
    window: str = "1d"
    reference: str | dict[str, Any] | None = None
    model: str | None = None
    dataset: str | None = None
    engine: str | None = None
    checks: dict[str, Any] = field(default_factory=dict)
    rules: tuple[Rule, ...] = ()
    retrain: Retrain | None = None
    enabled: bool = True

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not _NAME.match(self.name):
            raise InvalidInputError(
                f"monitor name must start with a letter or digit and hold letters, digits, '_', '.', '-'; "
                f"got {self.name!r}"
            )
        if not isinstance(self.current, str) or not self.current.strip():
            raise InvalidInputError(f"monitor {self.name!r}: 'current' (the data to watch) is required")
        parse_duration(self.window)
        unknown = set(self.checks) - set(CHECKS)
        if unknown:
            raise InvalidInputError(
                f"monitor {self.name!r}: unknown check(s) {sorted(unknown)}; available: {', '.join(CHECKS)}"
            )
        needs_reference = {"drift", "prediction_drift", "target_drift"} & set(self.checks)
        if needs_reference and self.reference is None:
            raise InvalidInputError(
                f"monitor {self.name!r}: {sorted(needs_reference)} compare against a reference: set 'reference' "
                "(a path/table, or {dataset: NAME} for its stored profile)"
            )
        if isinstance(self.reference, dict) and set(self.reference) - {"dataset", "fingerprint"}:
            raise InvalidInputError(
                f"monitor {self.name!r}: a profile reference is {{dataset: NAME}} (optionally fingerprint: ...); "
                f"got keys {sorted(self.reference)}"
            )
        names = [r.name for r in self.rules]
        if len(set(names)) != len(names):
            raise InvalidInputError(f"monitor {self.name!r}: rule names must be unique; got {names}")
        if any(r.retrain for r in self.rules) and self.retrain is None:
            raise InvalidInputError(
                f"monitor {self.name!r}: a rule has retrain: true but the monitor has no 'retrain' (command or webhook)"
            )
        for check, options in self.checks.items():
            if options is not None and not isinstance(options, dict | str | bool):
                raise InvalidInputError(f"monitor {self.name!r}: check {check!r} takes a mapping of options")

    @property
    def window_ms(self) -> int:
        return parse_duration(self.window)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> MonitorSpec:
        if not isinstance(data, Mapping):
            raise InvalidInputError(f"a monitor definition is a mapping; got {type(data).__name__}")
        unknown = set(data) - _KEYS
        if unknown:
            raise InvalidInputError(f"unknown monitor key(s) {sorted(unknown)}; allowed: {sorted(_KEYS)}")
        for key in ("name", "current"):
            if key not in data:
                raise InvalidInputError(f"a monitor definition needs {key!r}")
        checks = {k: ({} if v is None or v is True else v) for k, v in (data.get("checks") or {}).items()}
        rules = tuple(Rule.from_dict(r) for r in data.get("rules") or ())
        retrain = Retrain.from_dict(data["retrain"]) if data.get("retrain") else None
        return cls(
            name=data["name"],
            current=str(data["current"]),
            timestamp=data.get("timestamp"),
            window=str(data.get("window", "1d")),
            reference=data.get("reference"),
            model=data.get("model"),
            dataset=data.get("dataset"),
            engine=data.get("engine"),
            checks=checks,
            rules=rules,
            retrain=retrain,
            enabled=bool(data.get("enabled", True)),
        )

    @classmethod
    def from_yaml(cls, path_or_text: str | Path) -> MonitorSpec:
        data = load_yaml(path_or_text, "the monitor definition")
        return cls.from_dict(data)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "current": self.current,
            "timestamp": self.timestamp,
            "window": self.window,
            "reference": self.reference,
            "model": self.model,
            "dataset": self.dataset,
            "engine": self.engine,
            "checks": self.checks,
            "rules": [r.to_dict() for r in self.rules],
            "retrain": self.retrain.to_dict() if self.retrain else None,
            "enabled": self.enabled,
        }
