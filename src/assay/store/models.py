"""SQLAlchemy 2 table definitions of the metadata store.

Times are integer milliseconds since the Unix epoch (``*_ms`` columns): the same on SQLite and
PostgreSQL, cheap to index and to compare. Run ids are 32-character hex UUIDs. Metric values are
stored as double precision; NaN is stored as NULL (SQLite cannot store NaN) and read back as NaN,
while ``inf`` and ``-inf`` are stored as they are.
"""

from __future__ import annotations

from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

__all__ = [
    "Alias",
    "Artifact",
    "Base",
    "Dataset",
    "DatasetVersion",
    "Event",
    "Experiment",
    "ExperimentAnalysis",
    "ExperimentMetricResult",
    "ExperimentVariant",
    "LatestMetric",
    "Metric",
    "ModelVersion",
    "Param",
    "Project",
    "RegisteredModel",
    "Run",
    "RunInput",
    "Tag",
]

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# BigInteger autoincrement keys only work on SQLite as INTEGER PRIMARY KEY.
BigIntPK = BigInteger().with_variant(Integer(), "sqlite")


def index_applies(index: Any, dialect: str) -> bool:
    """Whether an index is created on ``dialect`` (indexes may be limited with ``.ddl_if(dialect=...)``)."""
    cond = getattr(index, "_ddl_if", None)
    if cond is None or cond.dialect is None:
        return True
    return dialect in ((cond.dialect,) if isinstance(cond.dialect, str) else tuple(cond.dialect))


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map: ClassVar[dict[Any, Any]] = {dict[str, Any]: JSON, list[Any]: JSON}


class Project(Base):
    __tablename__ = "projects"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(255), unique=True)
    description: Mapped[str | None] = mapped_column(Text)
    created_ms: Mapped[int] = mapped_column(BigInteger)


class Run(Base):
    __tablename__ = "runs"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(255))
    status: Mapped[str] = mapped_column(String(16))
    start_ms: Mapped[int] = mapped_column(BigInteger)
    end_ms: Mapped[int | None] = mapped_column(BigInteger)
    user: Mapped[str | None] = mapped_column(String(255))
    host: Mapped[str | None] = mapped_column(String(255))
    pid: Mapped[int | None] = mapped_column(Integer)
    parent_run_id: Mapped[str | None] = mapped_column(String(32))
    environment: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    __table_args__ = (
        Index("ix_runs_project_start", "project_id", "start_ms", "id"),  # newest-first scans stop early
        Index("ix_runs_project_status", "project_id", "status"),
    )


class Param(Base):
    __tablename__ = "params"
    run_id: Mapped[str] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True)
    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    value: Mapped[str] = mapped_column(Text)
    # Search filters on (key, value): a covering index on SQLite. PostgreSQL caps a B-tree row at
    # ~2.7 kB and param values may be longer, so there the key is indexed and values by hash.
    __table_args__ = (
        Index("ix_params_key_value", "key", "value", "run_id").ddl_if(dialect="sqlite"),
        Index("ix_params_key", "key").ddl_if(dialect="postgresql"),
        Index("ix_params_value_hash", "value", postgresql_using="hash").ddl_if(dialect="postgresql"),
    )


class Tag(Base):
    __tablename__ = "tags"
    run_id: Mapped[str] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True)
    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    value: Mapped[str] = mapped_column(Text)
    __table_args__ = (Index("ix_tags_key", "key"),)


class Metric(Base):
    """Every logged point: the full history of each metric."""

    __tablename__ = "metrics"
    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    run_id: Mapped[str] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(String(255))
    step: Mapped[int] = mapped_column(BigInteger)
    value: Mapped[float | None] = mapped_column(Float(precision=53))
    ts_ms: Mapped[int] = mapped_column(BigInteger)
    __table_args__ = (Index("ix_metrics_run_key_step", "run_id", "key", "step"),)


class LatestMetric(Base):
    """The point with the highest step (latest on ties) per run and key; what search filters on."""

    __tablename__ = "latest_metrics"
    run_id: Mapped[str] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True)
    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    step: Mapped[int] = mapped_column(BigInteger)
    value: Mapped[float | None] = mapped_column(Float(precision=53))
    ts_ms: Mapped[int] = mapped_column(BigInteger)
    __table_args__ = (Index("ix_latest_metrics_key_value", "key", "value", "run_id"),)  # covering, for search


class Dataset(Base):
    __tablename__ = "datasets"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(255), unique=True)
    created_ms: Mapped[int] = mapped_column(BigInteger)


class DatasetVersion(Base):
    __tablename__ = "dataset_versions"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    dataset_id: Mapped[int] = mapped_column(ForeignKey("datasets.id", ondelete="CASCADE"))
    fingerprint: Mapped[str] = mapped_column(String(64))
    schema: Mapped[dict[str, Any]] = mapped_column(JSON)
    num_rows: Mapped[int | None] = mapped_column(BigInteger)
    source_uri: Mapped[str | None] = mapped_column(Text)
    profile: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    created_ms: Mapped[int] = mapped_column(BigInteger)
    __table_args__ = (
        UniqueConstraint("dataset_id", "fingerprint", name="uq_dataset_versions_fingerprint"),
        Index("ix_dataset_versions_fingerprint", "fingerprint"),
    )


class RunInput(Base):
    __tablename__ = "run_inputs"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    run_id: Mapped[str] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"))
    dataset_version_id: Mapped[int] = mapped_column(ForeignKey("dataset_versions.id", ondelete="CASCADE"))
    role: Mapped[str] = mapped_column(String(64))
    __table_args__ = (
        UniqueConstraint("run_id", "dataset_version_id", "role", name="uq_run_inputs_run_dataset_role"),
        Index("ix_run_inputs_dataset_version", "dataset_version_id"),
    )


class Artifact(Base):
    __tablename__ = "artifacts"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    run_id: Mapped[str] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"))
    path: Mapped[str] = mapped_column(String(1024))
    digest: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(BigInteger)
    created_ms: Mapped[int] = mapped_column(BigInteger)
    __table_args__ = (UniqueConstraint("run_id", "path", name="uq_artifacts_run_path"),)


class RegisteredModel(Base):
    __tablename__ = "registered_models"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(255), unique=True)
    description: Mapped[str | None] = mapped_column(Text)
    created_ms: Mapped[int] = mapped_column(BigInteger)
    updated_ms: Mapped[int] = mapped_column(BigInteger)


class ModelVersion(Base):
    __tablename__ = "model_versions"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    model_id: Mapped[int] = mapped_column(ForeignKey("registered_models.id", ondelete="CASCADE"))
    version: Mapped[int] = mapped_column(Integer)
    run_id: Mapped[str | None] = mapped_column(ForeignKey("runs.id", ondelete="SET NULL"))
    flavor: Mapped[str] = mapped_column(String(32))
    flavor_info: Mapped[dict[str, Any]] = mapped_column(JSON)
    artifact_uri: Mapped[str] = mapped_column(Text)
    files: Mapped[dict[str, Any]] = mapped_column(JSON)
    signature: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    description: Mapped[str | None] = mapped_column(Text)
    created_ms: Mapped[int] = mapped_column(BigInteger)
    __table_args__ = (
        UniqueConstraint("model_id", "version", name="uq_model_versions_model_version"),
        Index("ix_model_versions_run", "run_id"),
    )


class Alias(Base):
    __tablename__ = "model_aliases"
    model_id: Mapped[int] = mapped_column(ForeignKey("registered_models.id", ondelete="CASCADE"), primary_key=True)
    alias: Mapped[str] = mapped_column(String(64), primary_key=True)
    version: Mapped[int] = mapped_column(Integer)
    updated_ms: Mapped[int] = mapped_column(BigInteger)


class Event(Base):
    """Append-only, hash-chained log of who did what, when (written through :mod:`assay.store.audit`)."""

    __tablename__ = "events"
    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    ts_ms: Mapped[int] = mapped_column(BigInteger)
    actor: Mapped[str] = mapped_column(String(255))
    action: Mapped[str] = mapped_column(String(64))
    entity_type: Mapped[str] = mapped_column(String(32))
    entity_id: Mapped[str] = mapped_column(String(255))
    payload: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    prev_hash: Mapped[str | None] = mapped_column(String(64))  # hash chain: see assay.store.audit
    hash: Mapped[str | None] = mapped_column(String(64))
    __table_args__ = (Index("ix_events_entity", "entity_type", "entity_id"), Index("ix_events_ts", "ts_ms"))


class Experiment(Base):
    """An A/B or multi-variant test: its definition and lifecycle."""

    __tablename__ = "experiments"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(255), unique=True)
    definition: Mapped[dict[str, Any]] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(16))
    created_ms: Mapped[int] = mapped_column(BigInteger)
    updated_ms: Mapped[int] = mapped_column(BigInteger)


class ExperimentVariant(Base):
    """An arm of an experiment, optionally serving a registered model version."""

    __tablename__ = "experiment_variants"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    experiment_id: Mapped[int] = mapped_column(ForeignKey("experiments.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(255))
    weight: Mapped[float | None] = mapped_column(Float(precision=53))
    is_control: Mapped[bool] = mapped_column(Boolean)
    model_version_id: Mapped[int | None] = mapped_column(ForeignKey("model_versions.id", ondelete="SET NULL"))
    __table_args__ = (
        UniqueConstraint("experiment_id", "name", name="uq_experiment_variants_experiment_name"),
        Index("ix_experiment_variants_model_version", "model_version_id"),
    )


class ExperimentAnalysis(Base):
    """One analysis of an experiment: the decision and the full result as JSON."""

    __tablename__ = "experiment_analyses"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    experiment_id: Mapped[int] = mapped_column(ForeignKey("experiments.id", ondelete="CASCADE"))
    ts_ms: Mapped[int] = mapped_column(BigInteger)
    actor: Mapped[str] = mapped_column(String(255))
    decision: Mapped[str | None] = mapped_column(String(32))
    summary: Mapped[str | None] = mapped_column(Text)
    srm_p_value: Mapped[float | None] = mapped_column(Float(precision=53))
    result: Mapped[dict[str, Any]] = mapped_column(JSON)
    __table_args__ = (Index("ix_experiment_analyses_experiment_ts", "experiment_id", "ts_ms"),)


class ExperimentMetricResult(Base):
    """One metric × variant (× slice) comparison of an analysis, queryable without parsing JSON."""

    __tablename__ = "experiment_metric_results"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    analysis_id: Mapped[int] = mapped_column(ForeignKey("experiment_analyses.id", ondelete="CASCADE"))
    metric: Mapped[str] = mapped_column(String(255))
    variant: Mapped[str] = mapped_column(String(255))
    slice: Mapped[str | None] = mapped_column(String(512))
    role: Mapped[str] = mapped_column(String(16))  # primary | secondary | guardrail
    relative: Mapped[bool] = mapped_column(Boolean)
    estimate: Mapped[float | None] = mapped_column(Float(precision=53))
    ci_low: Mapped[float | None] = mapped_column(Float(precision=53))
    ci_high: Mapped[float | None] = mapped_column(Float(precision=53))
    p_value: Mapped[float | None] = mapped_column(Float(precision=53))
    adjusted_p_value: Mapped[float | None] = mapped_column(Float(precision=53))
    status: Mapped[str] = mapped_column(String(32))
    __table_args__ = (Index("ix_experiment_metric_results_analysis", "analysis_id"),)


class DatasetCheck(Base):
    """A data-quality result (profile, contract validation, PII scan, schema diff) for a dataset version."""

    __tablename__ = "dataset_checks"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    dataset_version_id: Mapped[int] = mapped_column(ForeignKey("dataset_versions.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(32))  # profile | validation | pii | schema_diff
    ts_ms: Mapped[int] = mapped_column(BigInteger)
    actor: Mapped[str] = mapped_column(String(255))
    passed: Mapped[bool | None] = mapped_column(Boolean)
    summary: Mapped[str | None] = mapped_column(Text)
    result: Mapped[dict[str, Any]] = mapped_column(JSON)
    __table_args__ = (Index("ix_dataset_checks_version_kind_ts", "dataset_version_id", "kind", "ts_ms"),)


class Monitor(Base):
    """A stored monitor: what to watch (model version or dataset), its reference, window, checks and rules."""

    __tablename__ = "monitors"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(255), unique=True)
    definition: Mapped[dict[str, Any]] = mapped_column(JSON)
    model_name: Mapped[str | None] = mapped_column(String(255))
    model_version: Mapped[int | None] = mapped_column(Integer)
    dataset_name: Mapped[str | None] = mapped_column(String(255))
    enabled: Mapped[bool] = mapped_column(Boolean)
    created_ms: Mapped[int] = mapped_column(BigInteger)
    updated_ms: Mapped[int] = mapped_column(BigInteger)


class MonitorRun(Base):
    """One run of a monitor over one window; unique per window, so re-running never double-counts."""

    __tablename__ = "monitor_runs"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    monitor_id: Mapped[int] = mapped_column(ForeignKey("monitors.id", ondelete="CASCADE"))
    window_start_ms: Mapped[int] = mapped_column(BigInteger)
    window_end_ms: Mapped[int] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(String(16))  # running | ok | alerting | failed
    started_ms: Mapped[int] = mapped_column(BigInteger)
    finished_ms: Mapped[int | None] = mapped_column(BigInteger)
    figures: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    result: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    error: Mapped[str | None] = mapped_column(Text)
    __table_args__ = (
        UniqueConstraint("monitor_id", "window_start_ms", "window_end_ms", name="uq_monitor_runs_window"),
    )


class Alert(Base):
    """A rule that fired on a monitor run (at most once per run and rule) and where it was sent."""

    __tablename__ = "alerts"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    monitor_run_id: Mapped[int] = mapped_column(ForeignKey("monitor_runs.id", ondelete="CASCADE"))
    rule: Mapped[str] = mapped_column(String(255))
    figure: Mapped[str] = mapped_column(String(255))
    op: Mapped[str] = mapped_column(String(4))
    value: Mapped[float | None] = mapped_column(Float(precision=53))
    threshold: Mapped[float] = mapped_column(Float(precision=53))
    severity: Mapped[str] = mapped_column(String(16))
    fired_ms: Mapped[int] = mapped_column(BigInteger)
    deliveries: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    __table_args__ = (UniqueConstraint("monitor_run_id", "rule", name="uq_alerts_run_rule"),)


class Incident(Base):
    """An incident opened by an alert: open → acknowledged → resolved, with a post-mortem note."""

    __tablename__ = "incidents"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    title: Mapped[str] = mapped_column(String(512))
    state: Mapped[str] = mapped_column(String(16))  # open | acknowledged | resolved
    severity: Mapped[str] = mapped_column(String(16))
    monitor_id: Mapped[int | None] = mapped_column(ForeignKey("monitors.id", ondelete="SET NULL"))
    rule: Mapped[str | None] = mapped_column(String(255))
    first_run_id: Mapped[int | None] = mapped_column(ForeignKey("monitor_runs.id", ondelete="SET NULL"))
    last_run_id: Mapped[int | None] = mapped_column(ForeignKey("monitor_runs.id", ondelete="SET NULL"))
    alert_count: Mapped[int] = mapped_column(Integer)
    model_name: Mapped[str | None] = mapped_column(String(255))
    model_version: Mapped[int | None] = mapped_column(Integer)
    owner: Mapped[str | None] = mapped_column(String(255))
    postmortem: Mapped[str | None] = mapped_column(Text)
    opened_ms: Mapped[int] = mapped_column(BigInteger)
    acknowledged_ms: Mapped[int | None] = mapped_column(BigInteger)
    resolved_ms: Mapped[int | None] = mapped_column(BigInteger)
    __table_args__ = (Index("ix_incidents_monitor_rule_state", "monitor_id", "rule", "state"),)


class ModelCard(Base):
    """The human-written fields of a model version's card (intended use, caveats ...) as JSON."""

    __tablename__ = "model_cards"
    model_version_id: Mapped[int] = mapped_column(
        ForeignKey("model_versions.id", ondelete="CASCADE"), primary_key=True, autoincrement=False
    )
    fields: Mapped[dict[str, Any]] = mapped_column(JSON)
    updated_ms: Mapped[int] = mapped_column(BigInteger)
    updated_by: Mapped[str] = mapped_column(String(255))


class User(Base):
    """A person (or service) acting on the store; with no users at all the store is in single-user mode."""

    __tablename__ = "users"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(255), unique=True)
    email: Mapped[str | None] = mapped_column(String(255))
    disabled: Mapped[bool] = mapped_column(Boolean)
    created_ms: Mapped[int] = mapped_column(BigInteger)


class ApiToken(Base):
    """An API token: only its sha256 is stored; ``prefix`` (its first characters) identifies it in listings."""

    __tablename__ = "api_tokens"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(255))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(16))
    created_ms: Mapped[int] = mapped_column(BigInteger)
    expires_ms: Mapped[int | None] = mapped_column(BigInteger)
    revoked_ms: Mapped[int | None] = mapped_column(BigInteger)
    __table_args__ = (Index("ix_api_tokens_user", "user_id"),)


class RoleBinding(Base):
    """A user's role in a project (``*``: every project)."""

    __tablename__ = "role_bindings"
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    project: Mapped[str] = mapped_column(String(255), primary_key=True)
    role: Mapped[str] = mapped_column(String(16))
    created_ms: Mapped[int] = mapped_column(BigInteger)


class ApprovalRequest(Base):
    """A request to point a protected alias at a model version, and its decision."""

    __tablename__ = "approval_requests"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    model_name: Mapped[str] = mapped_column(String(255))
    version: Mapped[int] = mapped_column(Integer)
    alias: Mapped[str] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(16))  # pending | approved | rejected | withdrawn | used
    requested_by: Mapped[str] = mapped_column(String(255))
    requested_ms: Mapped[int] = mapped_column(BigInteger)
    comment: Mapped[str | None] = mapped_column(Text)
    decided_by: Mapped[str | None] = mapped_column(String(255))
    decided_ms: Mapped[int | None] = mapped_column(BigInteger)
    decision_comment: Mapped[str | None] = mapped_column(Text)
    __table_args__ = (Index("ix_approval_requests_model", "model_name", "version", "alias", "state"),)
