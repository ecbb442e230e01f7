"""Alert rules on monitored figures, notifications (webhook, log) and the retraining trigger.

A rule compares one figure of a monitor run (``drift.share_drifted``, ``performance.auc``,
``contract.failed_errors`` ...) with a threshold::

    Rule(name="auc_drop", figure="performance.auc", op="<", threshold=0.75, severity="error",
         notify=("log", "https://hooks.slack.com/services/..."), retrain=True)

Notifications to an ``http(s)://`` URL are a JSON POST in Slack's incoming-webhook shape
(``{"text": ..., "blocks": [...]}``) plus an ``assay`` object with the structured alert, sent with httpx
and retried on network errors and 5xx answers. ``log`` writes a warning to the ``assay.monitoring``
logger. Each delivery's outcome is stored with the alert, so a failed webhook is visible, not lost.

The retraining trigger runs a command (a list of arguments, no shell; the alert is in ``ASSAY_*``
environment variables) or POSTs to a webhook, when one of the rules it is attached to fires.
"""

from __future__ import annotations

import logging
import math
import os
import subprocess
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx

from assay.errors import InvalidInputError

__all__ = ["Fired", "Retrain", "Rule", "deliver", "evaluate", "trigger_retrain"]

log = logging.getLogger("assay.monitoring")

_OPS = {
    ">": lambda v, t: v > t,
    ">=": lambda v, t: v >= t,
    "<": lambda v, t: v < t,
    "<=": lambda v, t: v <= t,
    "==": lambda v, t: v == t,
    "!=": lambda v, t: v != t,
}
_SEVERITIES = ("info", "warn", "error", "critical")
_RETRIES = 3


@dataclass(frozen=True)
class Rule:
    """Fire when ``figure op threshold`` holds for a monitor run (a missing or NaN figure never fires,
    unless ``on_missing=True``, for rules such as "the performance figure could not be computed")."""

    name: str
    figure: str
    op: str
    threshold: float
    severity: str = "error"
    notify: tuple[str, ...] = ("log",)
    retrain: bool = False
    incident: bool = True
    on_missing: bool = False

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name.strip():
            raise InvalidInputError("a rule needs a non-empty name")
        if self.op not in _OPS:
            raise InvalidInputError(f"rule {self.name!r}: op must be one of {' '.join(_OPS)}; got {self.op!r}")
        if self.severity not in _SEVERITIES:
            raise InvalidInputError(
                f"rule {self.name!r}: severity must be one of {', '.join(_SEVERITIES)}; got {self.severity!r}"
            )
        try:
            object.__setattr__(self, "threshold", float(self.threshold))
        except (TypeError, ValueError) as exc:
            raise InvalidInputError(f"rule {self.name!r}: threshold must be a number; got {self.threshold!r}") from exc
        notify = (self.notify,) if isinstance(self.notify, str) else tuple(self.notify)
        for channel in notify:
            if channel != "log" and not str(channel).startswith(("http://", "https://")):
                raise InvalidInputError(
                    f"rule {self.name!r}: notify channels are 'log' or an http(s):// webhook URL; got {channel!r}"
                )
        object.__setattr__(self, "notify", notify)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Rule:
        allowed = {f for f in cls.__dataclass_fields__}
        unknown = set(data) - allowed
        if unknown:
            raise InvalidInputError(f"unknown rule key(s) {sorted(unknown)}; allowed: {sorted(allowed)}")
        missing = {"name", "figure", "op", "threshold"} - set(data)
        if missing:
            raise InvalidInputError(f"rule {data.get('name', '?')!r} lacks {sorted(missing)}")
        return cls(**data)

    def to_dict(self) -> dict[str, Any]:
        return {k: (list(v) if isinstance(v, tuple) else v) for k, v in self.__dict__.items()}

    def check(self, figures: Mapping[str, Any]) -> tuple[bool, float | None]:
        """``(fired, value)`` for these figures."""
        value = figures.get(self.figure)
        if isinstance(value, bool):
            value = float(value)
        if not isinstance(value, int | float) or not math.isfinite(value):
            return self.on_missing, None
        return bool(_OPS[self.op](float(value), self.threshold)), float(value)


@dataclass(frozen=True)
class Fired:
    rule: Rule
    value: float | None

    def message(self, monitor: str, window: str) -> str:
        shown = "missing" if self.value is None else f"{self.value:.4g}"
        return (
            f"[{self.rule.severity.upper()}] monitor {monitor!r}, window {window}: rule {self.rule.name!r} fired: "
            f"{self.rule.figure} = {shown} ({self.rule.op} {self.rule.threshold:g})"
        )


def evaluate(rules: Sequence[Rule], figures: Mapping[str, Any]) -> list[Fired]:
    """The rules that fire on ``figures``, in rule order."""
    fired = []
    for rule in rules:
        hit, value = rule.check(figures)
        if hit:
            fired.append(Fired(rule, value))
    return fired


def _post(url: str, payload: dict[str, Any], timeout: float) -> dict[str, Any]:
    """POST JSON with retries on network errors and 5xx; the outcome as a small dict (never raises)."""
    error = ""
    for attempt in range(1, _RETRIES + 1):
        try:
            response = httpx.post(url, json=payload, timeout=timeout)
            if response.status_code < 500:
                ok = response.status_code < 300
                return {"ok": ok, "status": response.status_code, "attempts": attempt} | (
                    {} if ok else {"error": response.text[:200]}
                )
            error = f"HTTP {response.status_code}: {response.text[:200]}"
        except httpx.HTTPError as exc:
            error = f"{type(exc).__name__}: {exc}"
        if attempt < _RETRIES:
            time.sleep(0.2 * 2 ** (attempt - 1))
    return {"ok": False, "attempts": _RETRIES, "error": error}


def deliver(fired: Fired, *, monitor: str, window: str, context: Mapping[str, Any], timeout: float = 10.0) -> dict:
    """Send one fired rule to each of its channels; returns ``{channel: outcome}``."""
    text = fired.message(monitor, window)
    outcomes: dict[str, Any] = {}
    for channel in fired.rule.notify:
        if channel == "log":
            log.warning(text)
            outcomes[channel] = {"ok": True}
            continue
        payload = {
            "text": text,
            "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": text}}],
            "assay": {
                "monitor": monitor,
                "window": window,
                "rule": fired.rule.name,
                "figure": fired.rule.figure,
                "value": fired.value,
                "op": fired.rule.op,
                "threshold": fired.rule.threshold,
                "severity": fired.rule.severity,
                **dict(context),
            },
        }
        outcomes[channel] = _post(channel, payload, timeout)
        if not outcomes[channel]["ok"]:
            log.error("alert webhook %s failed: %s", channel, outcomes[channel].get("error"))
    return outcomes


@dataclass(frozen=True)
class Retrain:
    """What to do when a rule with ``retrain=True`` fires: run ``command`` and/or POST to ``webhook``."""

    command: tuple[str, ...] = ()
    webhook: str | None = None
    timeout: float = 3600.0
    cwd: str | None = None
    env: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        command = (self.command,) if isinstance(self.command, str) else tuple(self.command)
        if command and not all(isinstance(c, str) for c in command):
            raise InvalidInputError("retrain.command must be a list of strings (program and arguments; no shell)")
        if self.webhook is not None and not str(self.webhook).startswith(("http://", "https://")):
            raise InvalidInputError(f"retrain.webhook must be an http(s):// URL; got {self.webhook!r}")
        if not command and self.webhook is None:
            raise InvalidInputError("retrain needs a command (list of arguments) or a webhook URL")
        object.__setattr__(self, "command", command)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Retrain:
        allowed = set(cls.__dataclass_fields__)
        unknown = set(data) - allowed
        if unknown:
            raise InvalidInputError(f"unknown retrain key(s) {sorted(unknown)}; allowed: {sorted(allowed)}")
        return cls(**data)

    def to_dict(self) -> dict[str, Any]:
        return {
            "command": list(self.command),
            "webhook": self.webhook,
            "timeout": self.timeout,
            "cwd": self.cwd,
            "env": dict(self.env),
        }


def trigger_retrain(
    retrain: Retrain, fired: Sequence[Fired], *, monitor: str, window: str, context: Mapping[str, Any]
) -> dict[str, Any]:
    """Fire the retraining trigger once for a monitor run; the outcome (exit code or HTTP status) as a dict."""
    rules = ",".join(f.rule.name for f in fired)
    outcome: dict[str, Any] = {"rules": [f.rule.name for f in fired]}
    if retrain.command:
        env = (
            os.environ
            | dict(retrain.env)
            | {
                "ASSAY_MONITOR": monitor,
                "ASSAY_WINDOW": window,
                "ASSAY_RULES": rules,
                **{f"ASSAY_{k.upper()}": str(v) for k, v in context.items() if v is not None},
            }
        )
        try:
            proc = subprocess.run(
                list(retrain.command),
                cwd=retrain.cwd,
                env=env,
                capture_output=True,
                text=True,
                timeout=retrain.timeout,
                check=False,
            )
            outcome["command"] = {
                "ok": proc.returncode == 0,
                "returncode": proc.returncode,
                "stderr": proc.stderr[-500:],
            }
        except (OSError, subprocess.TimeoutExpired) as exc:
            outcome["command"] = {"ok": False, "error": f"{type(exc).__name__}: {exc}"}
        if not outcome["command"]["ok"]:
            log.error("retraining command %s failed: %s", retrain.command, outcome["command"])
    if retrain.webhook:
        payload = {
            "text": f"assay: retraining triggered by monitor {monitor!r} ({rules}) for window {window}",
            "assay": {"monitor": monitor, "window": window, "rules": rules.split(","), **dict(context)},
        }
        outcome["webhook"] = _post(retrain.webhook, payload, 30.0)
    return outcome
