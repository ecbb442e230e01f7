"""How one online model server behaves: the model URIs, canary/shadow, limits, reload and logging settings.

A :class:`ServingConfig` is validated once, when it is built, and is JSON-safe (``to_dict``/``from_dict``) so
that ``assay serve --workers N`` can hand it to every worker process through one environment variable.

Example::

    cfg = ServingConfig("models:/churn@production", canary_uri="models:/churn/4", canary_weight=0.1)
"""

from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import dataclass
from typing import Any

from assay.errors import InvalidInputError
from assay.registry.registry import parse_model_uri
from assay.results import ResultMixin

__all__ = ["ServingConfig"]

ENV_VAR = "ASSAY_SERVE_CONFIG"


@dataclass(frozen=True)
class ServingConfig(ResultMixin):
    """Settings of one model server; every field has a safe default except the model URI.

    ``max_concurrency`` bounds requests being handled at once on ``/predict`` and ``/explain`` (past it: 503
    with ``Retry-After``); ``reload_interval_s`` is how often an alias URI is re-resolved (0 turns reload off);
    ``key_field`` names a record field whose value routes a request to the canary (else the ``X-Request-Key``
    header, else the request id); ``canary_salt`` is the salt of that split (default ``<model>-canary``), so the
    canary can be analysed as an experiment with variants ``("live", "canary")``; ``log`` turns the prediction
    log off; ``log_root`` overrides where it is written (default: the artifact store); ``allow_missing`` lets
    float fields be ``null`` (passed to the model as NaN).

    Example::

        ServingConfig("models:/churn@production", max_concurrency=32).summary()
    """

    model_uri: str
    canary_uri: str | None = None
    canary_weight: float = 0.0
    canary_salt: str | None = None
    shadow_uri: str | None = None
    key_field: str | None = None
    max_concurrency: int = 64
    retry_after_s: int = 1
    max_body_bytes: int = 8 * 1024 * 1024
    reload_interval_s: float = 5.0
    allow_missing: bool = True
    log: bool = True
    log_root: str | None = None
    log_queue_size: int = 100_000
    log_batch_rows: int = 5_000
    log_flush_s: float = 1.0
    shadow_queue_size: int = 10_000
    inline_rows: int = 64
    trusted: bool = False

    def __post_init__(self) -> None:
        for name in ("model_uri", "canary_uri", "shadow_uri"):
            value = getattr(self, name)
            if value is not None:
                parse_model_uri(value)  # raises InvalidInputError naming the accepted forms
        w = self.canary_weight
        if isinstance(w, bool) or not isinstance(w, int | float) or not math.isfinite(w) or not 0 <= w < 1:
            raise _bad("canary_weight", "a number in [0, 1)", w)
        if self.canary_uri is None and w > 0:
            raise InvalidInputError("canary_weight was given without canary_uri; pass --canary models:/NAME/VERSION")
        if self.canary_uri is not None and not 0 < w < 1:
            raise _bad("canary_weight", "in (0, 1) when a canary is given, e.g. 0.1", w)
        ints = {
            "max_concurrency": 1,
            "retry_after_s": 0,
            "max_body_bytes": 1,
            "log_queue_size": 1,
            "log_batch_rows": 1,
            "shadow_queue_size": 1,
            "inline_rows": 0,
        }
        for name, low in ints.items():
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise _bad(name, f"an integer >= {low}", value)
        for name in ("reload_interval_s", "log_flush_s"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) or value < 0:
                raise _bad(name, "a number of seconds >= 0", value)
        if self.log_flush_s <= 0:
            raise _bad("log_flush_s", "a number of seconds > 0", self.log_flush_s)
        if self.key_field is not None and (not isinstance(self.key_field, str) or not self.key_field):
            raise _bad("key_field", "a non-empty field name", self.key_field)

    @property
    def model_name(self) -> str:
        """The model name of the live URI (the run id for ``runs:/`` URIs)."""
        return parse_model_uri(self.model_uri)[1]

    @property
    def salt(self) -> str:
        """Salt of the canary split: ``canary_salt`` or ``<model>-canary``."""
        return self.canary_salt or f"{self.model_name}-canary"

    def summary(self) -> str:
        parts = [f"Serving {self.model_uri}"]
        if self.canary_uri:
            parts.append(f"canary {self.canary_uri} on {self.canary_weight:.1%} of keys (salt {self.salt!r})")
        if self.shadow_uri:
            parts.append(f"shadow {self.shadow_uri}")
        parts.append(f"at most {self.max_concurrency} requests at once")
        return ", ".join(parts) + "."

    def to_json(self) -> str:
        """JSON text; :meth:`from_json` reads it back (used to configure worker processes)."""
        return json.dumps(dataclasses.asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> ServingConfig:
        """Rebuild from :meth:`to_json`; unknown keys are an error."""
        try:
            data = json.loads(text)
        except ValueError as exc:
            raise InvalidInputError(f"serving config is not valid JSON: {exc}") from exc
        if not isinstance(data, dict):
            raise InvalidInputError("serving config must be a JSON object")
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise InvalidInputError(f"serving config has unknown keys {unknown}; known: {sorted(known)}")
        return cls(**data)


def _bad(name: str, need: str, got: Any) -> InvalidInputError:
    return InvalidInputError(f"The {name!r} parameter of ServingConfig must be {need}. Got {got!r}.")
