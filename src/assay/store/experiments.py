"""Queries over experiments, their variants (optionally serving a model version) and analyses."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, delete, func, insert, select, update

from assay.errors import NotFoundError
from assay.store.models import (
    Experiment,
    ExperimentAnalysis,
    ExperimentMetricResult,
    ExperimentVariant,
    ModelVersion,
    RegisteredModel,
)
from assay.store.runs import _upsert, now_ms

__all__ = [
    "analyses_of",
    "experiments_for_model",
    "get_experiment",
    "list_experiments",
    "record_analysis",
    "save_experiment",
]

_METRIC_FIELDS = (
    "metric",
    "variant",
    "slice",
    "role",
    "relative",
    "estimate",
    "ci_low",
    "ci_high",
    "p_value",
    "adjusted_p_value",
    "status",
)


def save_experiment(
    conn: Connection, name: str, definition: dict[str, Any], variants: list[dict[str, Any]], *, status: str = "running"
) -> int:
    """Create or update an experiment and its variants; return its id.

    ``variants`` items: ``{"name", "weight", "is_control", "model_version_id" (or None)}``. Variants
    no longer in the definition are removed; analyses already recorded keep their JSON.
    """
    ts = now_ms()
    stmt = _upsert(conn)(Experiment).values(
        name=name, definition=definition, status=status, created_ms=ts, updated_ms=ts
    )
    stmt = stmt.on_conflict_do_update(
        index_elements=["name"],
        set_={"definition": stmt.excluded.definition, "status": stmt.excluded.status, "updated_ms": ts},
    )
    conn.execute(stmt)
    exp_id = conn.execute(select(Experiment.id).where(Experiment.name == name)).scalar_one()
    keep = [v["name"] for v in variants]
    conn.execute(
        delete(ExperimentVariant).where(ExperimentVariant.experiment_id == exp_id, ExperimentVariant.name.not_in(keep))
    )
    for v in variants:
        values = {
            "weight": v.get("weight"),
            "is_control": bool(v.get("is_control")),
            "model_version_id": v.get("model_version_id"),
        }
        row = _upsert(conn)(ExperimentVariant).values(experiment_id=exp_id, name=v["name"], **values)
        conn.execute(row.on_conflict_do_update(index_elements=["experiment_id", "name"], set_=values))
    return exp_id


def get_experiment(conn: Connection, name: str) -> dict[str, Any]:
    """The experiment row, its variants (with model name/version when linked) and analysis count."""
    row = conn.execute(select(Experiment.__table__).where(Experiment.name == name)).first()
    if row is None:
        known = list(conn.execute(select(Experiment.name).order_by(Experiment.name).limit(20)).scalars())
        raise NotFoundError(f"experiment {name!r} not found; recorded experiments: {known or 'none'}")
    variants = conn.execute(
        select(
            ExperimentVariant.name,
            ExperimentVariant.weight,
            ExperimentVariant.is_control,
            RegisteredModel.name.label("model"),
            ModelVersion.version,
        )
        .outerjoin(ModelVersion, ModelVersion.id == ExperimentVariant.model_version_id)
        .outerjoin(RegisteredModel, RegisteredModel.id == ModelVersion.model_id)
        .where(ExperimentVariant.experiment_id == row.id)
        .order_by(ExperimentVariant.is_control.desc(), ExperimentVariant.id)
    ).all()
    n = conn.execute(select(func.count()).where(ExperimentAnalysis.experiment_id == row.id)).scalar_one()
    return {
        "id": row.id,
        "name": row.name,
        "status": row.status,
        "definition": row.definition,
        "created_ms": row.created_ms,
        "updated_ms": row.updated_ms,
        "analyses": n,
        "variants": [
            {
                "name": v.name,
                "weight": v.weight,
                "is_control": v.is_control,
                "model": None if v.model is None else f"models:/{v.model}/{v.version}",
            }
            for v in variants
        ],
    }


def set_status(conn: Connection, name: str, status: str) -> None:
    result = conn.execute(update(Experiment).where(Experiment.name == name).values(status=status, updated_ms=now_ms()))
    if result.rowcount == 0:
        raise NotFoundError(f"experiment {name!r} not found")


def record_analysis(
    conn: Connection,
    experiment_id: int,
    *,
    actor: str,
    decision: str | None,
    summary: str | None,
    srm_p_value: float | None,
    result: dict[str, Any],
    metric_rows: list[dict[str, Any]],
) -> int:
    """Append one analysis with its metric rows (one transaction); return the analysis id."""
    analysis_id = conn.execute(
        insert(ExperimentAnalysis)
        .values(
            experiment_id=experiment_id,
            ts_ms=now_ms(),
            actor=actor,
            decision=decision,
            summary=summary,
            srm_p_value=srm_p_value,
            result=result,
        )
        .returning(ExperimentAnalysis.id)
    ).scalar_one()
    if metric_rows:
        conn.execute(
            insert(ExperimentMetricResult),
            [{"analysis_id": analysis_id, **{k: r.get(k) for k in _METRIC_FIELDS}} for r in metric_rows],
        )
    conn.execute(update(Experiment).where(Experiment.id == experiment_id).values(updated_ms=now_ms()))
    return analysis_id


def analyses_of(conn: Connection, experiment_id: int, *, limit: int | None = None) -> list[dict[str, Any]]:
    """Analyses newest first, each with its metric rows."""
    stmt = (
        select(ExperimentAnalysis.__table__)
        .where(ExperimentAnalysis.experiment_id == experiment_id)
        .order_by(ExperimentAnalysis.ts_ms.desc(), ExperimentAnalysis.id.desc())
        .limit(limit)
    )
    rows = conn.execute(stmt).all()
    ids = [r.id for r in rows]
    metrics: dict[int, list[dict[str, Any]]] = {i: [] for i in ids}
    if ids:
        for m in conn.execute(
            select(ExperimentMetricResult.__table__)
            .where(ExperimentMetricResult.analysis_id.in_(ids))
            .order_by(ExperimentMetricResult.id)
        ).all():
            metrics[m.analysis_id].append({k: getattr(m, k) for k in _METRIC_FIELDS})
    return [
        {
            "id": r.id,
            "ts_ms": r.ts_ms,
            "actor": r.actor,
            "decision": r.decision,
            "summary": r.summary,
            "srm_p_value": r.srm_p_value,
            "result": r.result,
            "metrics": metrics[r.id],
        }
        for r in rows
    ]


def list_experiments(conn: Connection) -> list[dict[str, Any]]:
    last = (
        select(
            ExperimentAnalysis.experiment_id,
            func.max(ExperimentAnalysis.ts_ms).label("last_ms"),
            func.count().label("n"),
        )
        .group_by(ExperimentAnalysis.experiment_id)
        .subquery()
    )
    rows = conn.execute(
        select(Experiment.name, Experiment.status, Experiment.updated_ms, last.c.last_ms, last.c.n)
        .outerjoin(last, last.c.experiment_id == Experiment.id)
        .order_by(Experiment.updated_ms.desc())
    ).all()
    return [
        {
            "name": r.name,
            "status": r.status,
            "updated_ms": r.updated_ms,
            "last_analysis_ms": r.last_ms,
            "analyses": r.n or 0,
        }
        for r in rows
    ]


def experiments_for_model(conn: Connection, model: str, version: int | None = None) -> list[dict[str, Any]]:
    """Experiments whose variants served ``model`` (any version, or one): the business-impact link."""
    stmt = (
        select(Experiment.name, Experiment.status, ExperimentVariant.name.label("variant"), ModelVersion.version)
        .join(ExperimentVariant, ExperimentVariant.experiment_id == Experiment.id)
        .join(ModelVersion, ModelVersion.id == ExperimentVariant.model_version_id)
        .join(RegisteredModel, RegisteredModel.id == ModelVersion.model_id)
        .where(RegisteredModel.name == model)
    )
    if version is not None:
        stmt = stmt.where(ModelVersion.version == version)
    rows = conn.execute(stmt.order_by(Experiment.name)).all()
    return [{"experiment": r.name, "status": r.status, "variant": r.variant, "version": r.version} for r in rows]
