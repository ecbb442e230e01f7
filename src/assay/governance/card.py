"""Model cards (Mitchell et al., 2019, "Model Cards for Model Reporting", FAccT): generated from the registry,
the run and its lineage, completed by people.

What assay knows is filled in: model details (name, version, flavor, class, created, author = the run's user,
run id, params, signature features), metrics, training and evaluation data (the run's recorded dataset inputs)
and quantitative analyses (a fairness report stored as the artifact ``governance/fairness.json`` on the run).
What only a person can say (intended use, factors, ethical considerations, caveats and recommendations, and an
evaluation-data description when none was recorded) is tracked as *missing* until written with
:func:`edit_card`; an incomplete card says so in a banner.

Conventions:

- **Metric intervals.** A metric ``auc`` has an interval when the run also logged ``auc_ci_low`` and
  ``auc_ci_high`` (or ``auc_ci_lower`` / ``auc_ci_upper``), optionally with ``auc_ci_level`` (e.g. ``0.95``).
  The companions are folded into the ``auc`` row, not listed as metrics. The latest value of each is used.
- **Dataset roles.** Inputs logged with role ``test``, ``eval``, ``evaluation``, ``validation``, ``valid``,
  ``val`` or ``holdout`` are evaluation data; every other role (``train`` ...) is listed as training data.

Example::

    card = model_card("models:/churn@production")
    card.missing                       # ('intended_use', 'factors', ...)
    edit_card("models:/churn/3", {"intended_use": "Rank customers for retention calls."})
    Path("card.html").write_text(card.to_html())
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

import pandas as pd

from assay._defaults import client_or_default as _client
from assay.errors import InvalidInputError, NotFoundError
from assay.registry.registry import ModelVersion
from assay.results import ResultMixin, json_safe
from assay.store import cards as cq
from assay.store import lineage as lq
from assay.store import registry as mq
from assay.store import runs as rq

if TYPE_CHECKING:
    from assay.tracking.client import Client

__all__ = [
    "CI_LEVEL_SUFFIX",
    "CI_SUFFIXES",
    "EVALUATION_ROLES",
    "FAIRNESS_ARTIFACT",
    "CardDataset",
    "CardField",
    "CardMetric",
    "ModelCard",
    "card_fields",
    "edit_card",
    "model_card",
]

FAIRNESS_ARTIFACT = "governance/fairness.json"
CI_SUFFIXES: tuple[tuple[str, str], ...] = (("_ci_low", "_ci_high"), ("_ci_lower", "_ci_upper"))
CI_LEVEL_SUFFIX = "_ci_level"
EVALUATION_ROLES = frozenset({"test", "eval", "evaluation", "validation", "valid", "val", "holdout"})
MAX_FIELD_CHARS = 20_000
_MAX_FAIRNESS_BYTES = 5_000_000


@dataclass(frozen=True)
class CardField:
    """A card field only a person can write. ``required``: the card is incomplete without it, unless
    ``unless`` (when set) names what assay recorded in its place."""

    name: str
    title: str
    description: str
    required: bool
    unless: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


_FIELDS: tuple[CardField, ...] = (
    CardField("overview", "Overview", "What the model does, in a paragraph a newcomer can follow.", False),
    CardField("owners", "Owners", "Who is responsible for the model and how to reach them.", False),
    CardField(
        "intended_use",
        "Intended use",
        "The primary uses the model was built for, and the decisions it informs.",
        True,
    ),
    CardField("intended_users", "Intended users", "Who is expected to use the model's outputs.", False),
    CardField("out_of_scope_uses", "Out-of-scope uses", "Uses the model is not fit for, or must not be put to.", False),
    CardField(
        "factors",
        "Factors",
        "Groups, environments and conditions across which performance may vary (e.g. region, tenure, device), "
        "and which of them were evaluated.",
        True,
    ),
    CardField(
        "evaluation_data",
        "Evaluation data",
        "The data the reported metrics were measured on: source, period, selection, preprocessing.",
        True,
        unless="a dataset logged on the run with role test/eval/evaluation/validation/valid/val/holdout",
    ),
    CardField("training_data", "Training data", "Notes on the training data beyond what the run recorded.", False),
    CardField(
        "quantitative_analyses",
        "Quantitative analyses",
        "Notes on disaggregated results; when no fairness report applies, say why (e.g. no person-level data).",
        True,
        unless=f"a fairness report stored as the artifact {FAIRNESS_ARTIFACT!r} on the model's run",
    ),
    CardField(
        "ethical_considerations",
        "Ethical considerations",
        "Sensitive data used, risks to people, harms considered and how they were mitigated.",
        True,
    ),
    CardField(
        "caveats_and_recommendations",
        "Caveats and recommendations",
        "Known limitations, conditions where the model should not be trusted, and recommended follow-ups.",
        True,
    ),
)
_BY_NAME = {f.name: f for f in _FIELDS}
# Section order of the card; "metrics" is the one gap a person fixes on the run rather than on the card.
_MISSING_ORDER = (
    "intended_use",
    "factors",
    "metrics",
    "evaluation_data",
    "quantitative_analyses",
    "ethical_considerations",
    "caveats_and_recommendations",
)
SECTION_TITLES = {
    "metrics": "Metrics",
    **{f.name: f.title for f in _FIELDS},
}


def card_fields() -> list[CardField]:
    """The fields a person can write with :func:`edit_card`, in card order (for ``assay models card edit``)."""
    return list(_FIELDS)


@dataclass(frozen=True)
class CardMetric:
    """A metric's latest value with its interval when logged (see the module's interval convention).

    ``status``: ``ok`` (value and interval), ``no_interval``, ``incomplete_interval`` (one bound logged),
    ``invalid_interval`` (low > high or a bound not finite) or ``nan`` (the value is not a number).
    """

    name: str
    value: float
    ci_low: float | None = None
    ci_high: float | None = None
    ci_level: float | None = None
    status: str = "no_interval"


@dataclass(frozen=True)
class CardDataset:
    """A dataset version the run recorded as an input."""

    role: str
    name: str
    fingerprint: str
    num_rows: int | None
    num_columns: int
    source_uri: str | None


@dataclass(frozen=True)
class ModelCard(ResultMixin):
    """A model version's card. ``missing`` names the sections still to be written; see :func:`model_card`."""

    name: str
    version: int
    uri: str
    flavor: str
    model_class: str
    created_at: pd.Timestamp
    description: str | None
    aliases: tuple[str, ...]
    run_id: str | None
    project: str | None
    run_name: str | None
    author: str | None
    params: dict[str, str]
    features: tuple[tuple[str, str], ...]
    outputs: tuple[tuple[str, str], ...] | None
    metrics: tuple[CardMetric, ...]
    training_data: tuple[CardDataset, ...]
    evaluation_data: tuple[CardDataset, ...]
    fairness: dict[str, Any] | None
    fairness_status: str  # ok | missing | unreadable
    fields: dict[str, str]
    missing: tuple[str, ...]
    updated_at: pd.Timestamp | None = None
    updated_by: str | None = None
    notes: tuple[str, ...] = field(default=())

    @property
    def complete(self) -> bool:
        """Whether every required section is filled (by assay's records or by a person)."""
        return not self.missing

    def summary(self) -> str:
        kind = self.model_class.rsplit(".", 1)[-1] or self.flavor
        head = f"Model card for {self.name} version {self.version} ({kind})"
        if self.complete:
            state = "is complete"
        else:
            state = "is incomplete: missing " + ", ".join(SECTION_TITLES[m].lower() for m in self.missing)
        ci = sum(m.status == "ok" for m in self.metrics)
        facts = [f"{len(self.metrics)} metric(s), {ci} with an interval"]
        rows = [d.num_rows for d in self.training_data if d.num_rows is not None]
        if self.training_data:
            facts.append(f"trained on {', '.join(d.name for d in self.training_data)}" + (
                f" ({sum(rows):,} rows)" if rows else ""
            ))  # fmt: skip
        facts.append("fairness report attached" if self.fairness_status == "ok" else "no fairness report")
        return f"{head} {state}. It reports {'; '.join(facts)}."

    def to_dict(self) -> dict[str, Any]:
        out = super().to_dict()
        out["complete"] = self.complete
        return json_safe(out)

    def to_markdown(self) -> str:
        """The card as Markdown (user text has ``<``, ``>`` and ``&`` escaped so it cannot inject HTML)."""
        from assay.governance._card_render import render_markdown

        return render_markdown(self)

    def to_html(self) -> str:
        """The card as one self-contained HTML page (inline CSS, no scripts, every value escaped)."""
        from assay.governance._card_render import render_html

        return render_html(self)

    def _repr_html_(self) -> str:
        from assay.governance._card_render import render_html_body

        return render_html_body(self)


def model_card(
    version_or_uri: str | ModelVersion | ModelCard | tuple[str, int], *, client: Client | None = None
) -> ModelCard:
    """Generate the card of a registered model version.

    ``version_or_uri``: ``"models:/churn/3"``, ``"models:/churn@production"``, ``"models:/churn/latest"``
    (the ``models:/`` prefix may be left out), a :class:`~assay.registry.registry.ModelVersion`, or
    ``("churn", 3)``.

    Example::

        card = model_card("models:/churn@production")
        print(card.summary()); card.missing
    """
    c = _client(client)
    mv = _resolve(c, version_or_uri)
    c.flush()  # metrics still queued in the background writer belong on the card
    with c.db.read() as conn:
        mv_id = mq.get_version_row(conn, mv.name, mv.version).id
        stored = cq.get_card_fields(conn, mv_id)
        run = details = None
        inputs: list[dict[str, Any]] = []
        fairness_digest = None
        if mv.run_id is not None:
            try:
                run = rq.get_run_row(conn, mv.run_id)
            except NotFoundError:
                run = None
        if run is not None:
            details = rq.run_details(conn, [mv.run_id])[mv.run_id]
            inputs = lq.list_run_inputs(conn, mv.run_id)
            arts = lq.list_artifacts(conn, mv.run_id, FAIRNESS_ARTIFACT.rsplit("/", 1)[0])
            fairness_digest = next((a["digest"] for a in arts if a["path"] == FAIRNESS_ARTIFACT), None)
    notes: list[str] = []
    if mv.run_id is None or run is None:
        notes.append("The model version has no run on record (deleted or never linked): author, params, "
                     "metrics and data lineage are unknown.")  # fmt: skip
    fairness, fairness_status = _read_fairness(c, fairness_digest, notes)
    fields = dict(stored["fields"]) if stored else {}
    metrics = _metrics(details["metrics"] if details else {})
    datasets = [_dataset(d) for d in inputs]
    evaluation = tuple(d for d in datasets if d.role.lower() in EVALUATION_ROLES)
    training = tuple(d for d in datasets if d.role.lower() not in EVALUATION_ROLES)
    sig = mv.signature or {}
    features = tuple((str(s.get("name")), str(s.get("dtype"))) for s in sig.get("inputs") or ())
    outputs = sig.get("outputs")
    if not features:
        notes.append("No signature was recorded: log the model with input_example=... to list its features.")
    missing = []
    for key in _MISSING_ORDER:
        if key == "metrics":
            gap = not metrics
        elif key == "evaluation_data":
            gap = not evaluation and not fields.get(key)
        elif key == "quantitative_analyses":
            gap = fairness_status != "ok" and not fields.get(key)
        else:
            gap = not fields.get(key)
        if gap:
            missing.append(key)
    return ModelCard(
        name=mv.name,
        version=mv.version,
        uri=mv.uri,
        flavor=mv.flavor,
        model_class=mv.model_class,
        created_at=mv.created_at,
        description=mv.description,
        aliases=mv.aliases,
        run_id=mv.run_id,
        project=run.project if run is not None else None,
        run_name=run.name if run is not None else None,
        author=run.user if run is not None else None,
        params=dict(sorted((details or {}).get("params", {}).items())),
        features=features,
        outputs=None if outputs is None else tuple((str(s.get("name")), str(s.get("dtype"))) for s in outputs),
        metrics=metrics,
        training_data=training,
        evaluation_data=evaluation,
        fairness=fairness,
        fairness_status=fairness_status,
        fields={f.name: fields[f.name] for f in _FIELDS if fields.get(f.name)},
        missing=tuple(missing),
        updated_at=None if stored is None else pd.Timestamp(stored["updated_ms"], unit="ms", tz="UTC"),
        updated_by=None if stored is None else stored["updated_by"],
        notes=tuple(notes),
    )


def edit_card(
    uri: str | ModelVersion | ModelCard | tuple[str, int],
    fields: dict[str, str | None],
    *,
    client: Client | None = None,
    actor: str | None = None,
) -> ModelCard:
    """Write human fields of a version's card (``None`` or ``""`` clears one); returns the updated card.

    Field names are those of :func:`card_fields`; an unknown name raises :class:`InvalidInputError` listing
    the allowed ones. Each effective change is recorded in the event log (``model.card_edit``).

    Example::

        edit_card("models:/churn/3", {"intended_use": "Rank customers for retention calls."})
    """
    changes = _validate_fields(fields)
    who = _validate_actor(actor)
    c = _client(client)
    mv = _resolve(c, uri)

    def write(conn: Any) -> None:
        mv_id = mq.get_version_row(conn, mv.name, mv.version).id
        _, applied = cq.merge_card_fields(conn, mv_id, changes, who)
        if applied:
            rq.append_event(
                conn,
                actor=who,
                action="model.card_edit",
                entity_type="model_version",
                entity_id=f"{mv.name}/{mv.version}",
                payload={"changes": applied},
            )

    c.db.retrying_write(write)
    return model_card(mv, client=c)


# -- helpers ---------------------------------------------------------------------------------------------


def _resolve(c: Client, ref: str | ModelVersion | ModelCard | tuple[str, int]) -> ModelVersion:
    if isinstance(ref, ModelVersion | ModelCard):
        return c.registry.get_version(ref.name, ref.version)
    if isinstance(ref, tuple) and len(ref) == 2 and isinstance(ref[0], str):
        return c.registry.get_version(ref[0], ref[1])
    if not isinstance(ref, str) or not ref.strip():
        raise InvalidInputError(
            f"a model card needs a registered model version such as 'models:/churn/3', 'models:/churn@production' "
            f"or ('churn', 3); got {ref!r}"
        )
    uri = ref.strip()
    if uri.startswith("runs:/"):
        raise InvalidInputError(
            f"{uri!r} is a run's model, not a registered version; cards belong to registered versions: "
            "register it with run.log_model(model, name) and use 'models:/NAME/VERSION'"
        )
    if not uri.startswith("models:/"):
        uri = f"models:/{uri}"
    _, mv, _ = c.registry.resolve(uri)
    assert mv is not None  # models:/ URIs always resolve to a registered version
    return mv


def _validate_fields(fields: Any) -> dict[str, str | None]:
    allowed = ", ".join(f.name for f in _FIELDS)
    if not isinstance(fields, dict) or not fields:
        raise InvalidInputError(f"edit_card needs a non-empty dict of field → text; allowed fields: {allowed}")
    unknown = sorted(str(k) for k in fields if k not in _BY_NAME)
    if unknown:
        raise InvalidInputError(f"unknown model card field(s) {unknown}; allowed fields: {allowed}")
    out: dict[str, str | None] = {}
    for key, value in fields.items():
        if value is None:
            out[key] = None
            continue
        if not isinstance(value, str):
            raise InvalidInputError(
                f"model card field {key!r} must be text (or None to clear it); got {type(value).__name__}"
            )
        text = value.strip()
        if len(text) > MAX_FIELD_CHARS:
            raise InvalidInputError(
                f"model card field {key!r} is {len(text):,} characters; the limit is {MAX_FIELD_CHARS:,}: "
                "link to a longer document instead"
            )
        out[key] = text or None
    return out


def _validate_actor(actor: str | None) -> str:
    if actor is None:
        from assay.tracking.environment import current_user

        return current_user()
    if not isinstance(actor, str) or not actor.strip() or len(actor) > 255:
        raise InvalidInputError(f"actor must be a non-empty name of at most 255 characters; got {actor!r}")
    return actor.strip()


def _finite(value: Any) -> float | None:
    try:
        v = float(value)
    except (TypeError, ValueError):
        return None
    return v if math.isfinite(v) else None


def _metrics(latest: dict[str, float]) -> tuple[CardMetric, ...]:
    suffixes = [s for pair in CI_SUFFIXES for s in pair] + [CI_LEVEL_SUFFIX]
    companions = {k for k in latest for s in suffixes if k.endswith(s) and k[: -len(s)] in latest}
    out = []
    for key in sorted(k for k in latest if k not in companions):
        value = float(latest[key]) if latest[key] is not None else math.nan
        low_key, high_key = next(
            ((key + lo, key + hi) for lo, hi in CI_SUFFIXES if key + lo in latest or key + hi in latest),
            (None, None),
        )
        level = _finite(latest.get(key + CI_LEVEL_SUFFIX))
        if low_key is None:
            out.append(CardMetric(key, value, status="nan" if math.isnan(value) else "no_interval"))
            continue
        low, high = latest.get(low_key), latest.get(high_key)
        if low is None or high is None:
            status = "incomplete_interval"
        elif _finite(low) is None or _finite(high) is None or low > high:
            status = "invalid_interval"
        else:
            status = "ok"
        if math.isnan(value):
            status = "nan"
        out.append(CardMetric(key, value, _finite(low), _finite(high), level, status))
    return tuple(out)


def _dataset(d: dict[str, Any]) -> CardDataset:
    return CardDataset(
        role=str(d["role"]),
        name=str(d["name"]),
        fingerprint=str(d["fingerprint"]),
        num_rows=d.get("num_rows"),
        num_columns=len(d.get("schema") or {}),
        source_uri=d.get("source_uri"),
    )


def _read_fairness(c: Client, digest: str | None, notes: list[str]) -> tuple[dict[str, Any] | None, str]:
    if digest is None:
        return None, "missing"
    try:
        raw = c.artifacts.get_bytes(digest)
        if len(raw) > _MAX_FAIRNESS_BYTES:
            raise ValueError(f"{len(raw):,} bytes is over the {_MAX_FAIRNESS_BYTES:,}-byte limit")
        report = json.loads(raw.decode("utf-8"))
        if not isinstance(report, dict):
            raise ValueError(f"expected a JSON object, got {type(report).__name__}")
    except Exception as exc:  # any unreadable report is a note on the card, never a crash
        notes.append(f"The fairness report {FAIRNESS_ARTIFACT} on the run is unreadable ({exc}); store it again.")
        return None, "unreadable"
    return report, "ok"
