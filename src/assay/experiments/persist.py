"""Persist experiment analyses in the metadata store and link variants to registered model versions.

:func:`save_result` writes, in one retrying write transaction, the experiment (its definition as JSON),
its variants (weights, control flag, and the model version each variant served), the analysis (decision
and summary of the :class:`~assay.experiments.Readout`, SRM p-value, the whole result as JSON), one
queryable row per metric × variant (× slice) comparison, and an ``experiment.analyze`` event in the
audit log. Re-analysing appends a new analysis; earlier ones are kept.

A variant serves a model when the experiment's ``models`` maps it to a registered model URI
(``models:/NAME/VERSION``, ``models:/NAME@ALIAS`` or ``models:/NAME/latest``); aliases and ``latest`` are
resolved to a concrete version when the analysis is saved. ``runs:/`` URIs are refused: only a registered
version can carry business impact. That link is read back by :func:`experiments_for_model`.

Example::

    from assay.experiments import Readout, analyze, experiments_for_model, load_experiment, save_result
    result = analyze("checkout.yaml", sources={"exposures": "exposures.parquet", "events": "events/"})
    analysis_id = save_result(result)                  # default client (assay.get_client())
    load_experiment("checkout-v2")["latest_analyses"][0]["decision"]   # 'ship'
    experiments_for_model("checkout-ranker", version=3)                # what that version earned
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from assay._defaults import client_or_default as _client
from assay.errors import InvalidInputError
from assay.experiments.readout import Readout
from assay.experiments.results import ExperimentResult, MetricResult
from assay.registry.registry import parse_model_uri
from assay.store import experiments as eq
from assay.store import registry as mq
from assay.store import runs as rq
from assay.tracking.environment import current_user

if TYPE_CHECKING:
    from sqlalchemy import Connection

    from assay.tracking.client import Client

__all__ = [
    "EXPERIMENT_STATUSES",
    "experiments_for_model",
    "list_experiments",
    "load_experiment",
    "metric_row",
    "save_result",
    "slice_text",
]

EXPERIMENT_STATUSES = ("draft", "running", "paused", "stopped", "concluded")
_SLICE_MAX = 512  # width of experiment_metric_results.slice


def _number(value: float) -> float | None:
    """A float for a store column: NaN becomes NULL, ±inf is kept (one-sided bounds)."""
    value = float(value)
    return None if math.isnan(value) else value


def slice_text(slice: tuple[str, str] | None) -> str | None:
    """The slice of a comparison as short text for the store (``None`` for the overall comparison).

    >>> slice_text(("country", "DE")), slice_text(None)
    ('country=DE', None)
    """
    if slice is None:
        return None
    text = f"{slice[0]}={slice[1]}"
    return text if len(text) <= _SLICE_MAX else text[: _SLICE_MAX - 1] + "…"


def metric_row(r: MetricResult) -> dict[str, Any]:
    """The queryable row stored for one comparison (role, lift, interval, p-values, status, slice).

    Example::

        metric_row(result.primary[0])["estimate"]   # 0.049
    """
    return {
        "metric": r.metric,
        "variant": r.variant,
        "slice": slice_text(r.slice),
        "role": r.role,
        "relative": r.relative,
        "estimate": _number(r.estimate),
        "ci_low": _number(r.ci_low),
        "ci_high": _number(r.ci_high),
        "p_value": _number(r.p_value),
        "adjusted_p_value": _number(r.adjusted_p_value),
        "status": r.status,
    }


def _check_model_uris(models: dict[str, str], experiment: str) -> None:
    """Refuse URIs that cannot name a registered version (before any store access)."""
    for variant, uri in models.items():
        kind, _, _ = parse_model_uri(uri)
        if kind == "run":
            raise InvalidInputError(
                f"Experiment {experiment!r}: variant {variant!r} points at {uri!r}, a model logged in a run; "
                "link a registered version instead (models:/NAME/VERSION or models:/NAME@ALIAS): register it "
                "with run.log_model(model, name=...)."
            )


def _version_id(conn: Connection, uri: str) -> tuple[int, str]:
    """Row id and concrete ``models:/NAME/VERSION`` of a registered model URI (raises NotFoundError)."""
    kind, name, ref = parse_model_uri(uri)
    if kind == "alias":
        version = mq.resolve_alias(conn, name, ref)
    elif kind == "latest":
        version = mq.latest_version(conn, name)
    else:
        version = int(ref)
    return mq.get_version_row(conn, name, version).id, f"models:/{name}/{version}"


def save_result(
    result: ExperimentResult,
    *,
    client: Client | None = None,
    readout: Readout | None = None,
    status: str = "running",
) -> int:
    """Store an analysis (experiment, variants, decision, metric rows, audit event); return the analysis id.

    Everything is written in one transaction, retried on transient lock errors: a model URI that does not
    resolve to a registered version raises :class:`~assay.errors.NotFoundError` and nothing is written.
    ``readout`` defaults to ``Readout.from_result(result)``; ``status`` is the experiment's lifecycle state,
    one of ``draft``, ``running``, ``paused``, ``stopped``, ``concluded``.

    Example::

        analysis_id = save_result(analyze(experiment, sources=...), status="concluded")
    """
    if not isinstance(result, ExperimentResult):
        raise InvalidInputError(
            f"save_result needs the ExperimentResult returned by analyze(). Got {type(result).__name__}."
        )
    if status not in EXPERIMENT_STATUSES:
        raise InvalidInputError(f"The 'status' parameter of save_result must be one of "
                                f"{', '.join(EXPERIMENT_STATUSES)}. Got {status!r}.")  # fmt: skip
    if readout is None:
        readout = Readout.from_result(result)
    elif not isinstance(readout, Readout):
        raise InvalidInputError(f"The 'readout' parameter of save_result must be a Readout. Got {readout!r}.")
    experiment = result.definition
    models = dict(experiment.models)
    _check_model_uris(models, experiment.name)
    definition = experiment.to_dict()
    payload = result.to_dict()
    rows = [metric_row(r) for r in result.results]
    weights = dict(zip(experiment.variants, experiment.weights or (), strict=False))
    srm_p = _number(result.srm.p_value)
    actor = current_user()
    db = _client(client).db

    def write(conn: Connection) -> int:
        linked = {variant: _version_id(conn, uri) for variant, uri in models.items()}
        variants = [
            {
                "name": v,
                "weight": weights.get(v),
                "is_control": v == experiment.control,
                "model_version_id": linked[v][0] if v in linked else None,
            }
            for v in experiment.variants
        ]
        experiment_id = eq.save_experiment(conn, experiment.name, definition, variants, status=status)
        analysis_id = eq.record_analysis(conn, experiment_id, actor=actor, decision=readout.decision,
                                         summary=readout.summary(), srm_p_value=srm_p, result=payload,
                                         metric_rows=rows)  # fmt: skip
        rq.append_event(
            conn,
            actor=actor,
            action="experiment.analyze",
            entity_type="experiment",
            entity_id=experiment.name,
            payload={
                "analysis_id": analysis_id,
                "decision": readout.decision,
                "variant": readout.variant,
                "srm_p_value": srm_p,
                "as_of": result.as_of,
                "models": {v: uri for v, (_, uri) in linked.items()},
            },
        )
        return analysis_id

    return int(db.retrying_write(write))


def load_experiment(name: str, client: Client | None = None, *, analyses: int = 5) -> dict[str, Any]:
    """A stored experiment: definition, status, variants with linked model versions, and its analyses.

    ``analyses`` is the number of stored analyses it holds; ``latest_analyses`` the newest ``analyses``
    ones (newest first), each with ``decision``, ``summary``, ``srm_p_value``, the full ``result`` JSON and
    its ``metrics`` rows. Rebuild the definition with ``Experiment.from_dict(d["definition"])``.
    Raises :class:`~assay.errors.NotFoundError` for an unknown name.

    Example::

        exp = load_experiment("checkout-v2")
        exp["variants"][1]["model"], exp["latest_analyses"][0]["decision"]   # ('models:/ranker/3', 'ship')
    """
    if isinstance(analyses, bool) or not isinstance(analyses, int) or analyses < 0:
        raise InvalidInputError(
            f"The 'analyses' parameter of load_experiment must be an integer >= 0. Got {analyses!r}."
        )
    with _client(client).db.read() as conn:
        out = eq.get_experiment(conn, name)
        out["latest_analyses"] = eq.analyses_of(conn, out["id"], limit=analyses) if analyses else []
    uris = (out["definition"] or {}).get("models") or {}
    for v in out["variants"]:
        v["model_uri"] = uris.get(v["name"])
    return out


def list_experiments(client: Client | None = None) -> list[dict[str, Any]]:
    """Every stored experiment, most recently updated first: name, status, analyses, last analysis time.

    Example::

        [e["name"] for e in list_experiments()]   # ['checkout-v2', 'search-ranking']
    """
    with _client(client).db.read() as conn:
        return eq.list_experiments(conn)


def experiments_for_model(
    model_name: str, version: int | None = None, client: Client | None = None
) -> list[dict[str, Any]]:
    """The experiments a model (any version, or ``version``) served in: its measured business impact.

    One entry per experiment × variant that served it: ``experiment``, ``status``, ``variant``, ``version``,
    ``model`` (URI), ``analyses`` (count), and from the latest analysis ``decision``, ``summary``,
    ``analysed_ms`` and ``primary`` (the overall primary-metric rows of that variant: ``estimate``,
    ``ci_low``, ``ci_high``, ``p_value``, ...). Raises :class:`~assay.errors.NotFoundError` for an unknown model.

    Example::

        for link in experiments_for_model("checkout-ranker", version=3):
            print(link["experiment"], link["decision"], link["primary"][0]["estimate"])
    """
    if version is not None and (isinstance(version, bool) or not isinstance(version, int) or version < 1):
        raise InvalidInputError(f"The 'version' parameter of experiments_for_model must be a positive integer. "
                                f"Got {version!r}.")  # fmt: skip
    with _client(client).db.read() as conn:
        mq.get_model_id(conn, model_name)  # NotFoundError naming the registered models
        if version is not None:
            mq.get_version_row(conn, model_name, version)
        links = eq.experiments_for_model(conn, model_name, version)
        latest: dict[str, tuple[int, dict[str, Any] | None]] = {}
        for link in links:
            name = link["experiment"]
            if name not in latest:
                exp = eq.get_experiment(conn, name)
                found = eq.analyses_of(conn, exp["id"], limit=1)
                latest[name] = (exp["analyses"], found[0] if found else None)
    out = []
    for link in links:
        count, analysis = latest[link["experiment"]]
        primary = []
        if analysis is not None:
            mine = [m for m in analysis["metrics"] if m["variant"] == link["variant"] and m["slice"] is None]
            primary = [m for m in mine if m["role"] == "primary"]
        out.append(
            {
                **link,
                "model": f"models:/{model_name}/{link['version']}",
                "analyses": count,
                "decision": None if analysis is None else analysis["decision"],
                "summary": None if analysis is None else analysis["summary"],
                "analysed_ms": None if analysis is None else analysis["ts_ms"],
                "primary": primary,
            }
        )
    return out
