"""Shared plumbing for :mod:`assay.monitoring.performance` and :mod:`assay.monitoring.estimate`.

Everything here builds portable SQL (DuckDB dialect, transpiled by the engine) over a bound source, so a
10M-row prediction log never leaves the engine: only per-window aggregates come back.

* Time windows are ``floor((epoch(ts) - origin) / seconds)``: the same integer on DuckDB, PostgreSQL and
  Spark. Windows are aligned to the Unix epoch (midnight UTC for ``"1d"``); a window that is a whole number
  of weeks starts on a Monday (``origin`` = 1970-01-05). A numeric timestamp column is read as epoch seconds.
* Missing scores are ``NULL`` or ``NaN`` (``x = CAST('NaN' AS DOUBLE)`` is true for NaN on every engine);
  they are counted and left out of every metric.
* Labels may be boolean or numeric (``0``/``1`` for classification); strings are refused with a fix.
"""

from __future__ import annotations

import datetime as _dt
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from assay.data.sources import Bound
from assay.engine.sqlcheck import quote_identifier as q
from assay.errors import InvalidInputError

if TYPE_CHECKING:
    from assay.monitoring.performance import MetricValue

__all__ = [
    "NAN_SQL",
    "Prepared",
    "auc_sql",
    "calib_sql",
    "class_sql",
    "column_kind",
    "decay_sentence",
    "epoch_seconds",
    "fmt_metric",
    "missing_sql",
    "parse_window",
    "prepare_predictions",
    "regression_sql",
    "require_columns",
    "window_bounds",
    "window_label",
]

NAN_SQL = "CAST('NaN' AS DOUBLE)"
_UNITS = {"s": 1, "sec": 1, "m": 60, "min": 60, "h": 3600, "d": 86400, "w": 604800}
_WINDOW = re.compile(r"^\s*(\d+)\s*(s|sec|min|m|h|d|w)\s*$", re.IGNORECASE)
_MONDAY = 4 * 86400  # 1970-01-05, the first Monday after the epoch
_MAX_FILLED_WINDOWS = 10_000


def column_kind(type_name: str) -> str:
    """``"bool"``, ``"numeric"``, ``"time"`` or ``"string"`` for an engine type name (DuckDB, PostgreSQL, Spark)."""
    t = type_name.lower()
    if "bool" in t:
        return "bool"
    if "timestamp" in t or t in ("date", "datetime") or t.startswith("date"):
        return "time"
    numeric = ("int", "double", "float", "real", "numeric", "decimal", "number", "long", "short", "byte")
    if any(word in t for word in numeric) and "interval" not in t:
        return "numeric"
    return "string"


def require_columns(bound: Bound, wanted: Mapping[str, str], what: str) -> None:
    """Raise naming every ``role=column`` missing from ``bound`` and the columns it does have."""
    missing = [f"{col!r} ({role})" for role, col in wanted.items() if col not in bound.columns]
    if missing:
        have = ", ".join(repr(c) for c in bound.columns) or "(none)"
        raise InvalidInputError(
            f"{what} ({bound.label}) has no column {', '.join(missing)}; its columns are: {have}. "
            "Pass the right name with the matching *_column= argument."
        )


def missing_sql(expr: str) -> str:
    """SQL that is true when ``expr`` is NULL or NaN."""
    return f"({expr} IS NULL OR {expr} = {NAN_SQL})"


def parse_window(window: str | int | float | _dt.timedelta | None) -> tuple[int, int] | None:
    """``"1d"``, ``"6h"``, ``"7d"``, ``"30min"``, a timedelta or seconds → ``(seconds, origin)``.

    ``None`` means one window.
    """
    if window is None:
        return None
    if isinstance(window, _dt.timedelta):
        seconds = window.total_seconds()
    elif isinstance(window, int | float) and not isinstance(window, bool):
        seconds = float(window)
    elif isinstance(window, str) and (m := _WINDOW.match(window)):
        seconds = int(m.group(1)) * _UNITS[m.group(2).lower()]
    else:
        raise InvalidInputError(
            f"window={window!r} is not a duration: use e.g. '1h', '6h', '1d', '7d', '30min', a timedelta, "
            "seconds, or None for a single window"
        )
    if not math.isfinite(seconds) or seconds < 1 or seconds != int(seconds):
        raise InvalidInputError(f"window={window!r} must be a whole number of seconds, at least 1")
    seconds = int(seconds)
    return seconds, (_MONDAY if seconds % 604800 == 0 else 0)


def epoch_seconds(value: object, name: str) -> float | None:
    """``start``/``end`` (datetime, date, ISO text or epoch seconds; naive means UTC) → epoch seconds."""
    if value is None:
        return None
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, str):
        try:
            value = _dt.datetime.fromisoformat(value)
        except ValueError as exc:
            raise InvalidInputError(f"{name}={value!r} is not an ISO-8601 date or time") from exc
    if isinstance(value, _dt.date) and not isinstance(value, _dt.datetime):
        value = _dt.datetime(value.year, value.month, value.day)
    if hasattr(value, "to_pydatetime"):
        value = value.to_pydatetime()  # pandas Timestamp
    if not isinstance(value, _dt.datetime):
        raise InvalidInputError(f"{name} must be a datetime, a date, ISO text or epoch seconds; got {value!r}")
    if value.tzinfo is None:
        value = value.replace(tzinfo=_dt.UTC)
    return value.timestamp()


def window_bounds(key: int, spec: tuple[int, int] | None) -> tuple[_dt.datetime | None, _dt.datetime | None]:
    """The ``[start, end)`` of window ``key`` as naive UTC datetimes (``None`` for the single window)."""
    if spec is None:
        return None, None
    seconds, origin = spec
    epoch = _dt.datetime(1970, 1, 1)
    start = epoch + _dt.timedelta(seconds=origin + key * seconds)
    return start, start + _dt.timedelta(seconds=seconds)


def window_keys(found: list[int], spec: tuple[int, int] | None) -> list[int]:
    """Every window from the first to the last one seen (gaps filled when there are not too many)."""
    if spec is None or not found:
        return sorted(found)
    lo, hi = min(found), max(found)
    if hi - lo + 1 > _MAX_FILLED_WINDOWS:
        return sorted(found)
    return list(range(lo, hi + 1))


def _time_sql(col: str, kind: str) -> str:
    if kind == "numeric":
        return f"CAST({q(col)} AS DOUBLE)"
    return f"epoch(CAST({q(col)} AS TIMESTAMP))"


def _label_sql(col: str, kind: str, what: str) -> str:
    if kind == "bool":
        return f"CAST(CAST({q(col)} AS INT) AS DOUBLE)"
    if kind == "numeric":
        return f"CAST({q(col)} AS DOUBLE)"
    raise InvalidInputError(
        f"the label column {col!r} of {what} is not numeric or boolean; "
        "encode labels as 0/1 (classification) or numbers (regression), e.g. CASE WHEN label = 'yes' THEN 1 ELSE 0 END"
    )


@dataclass(frozen=True)
class Prepared:
    """A prediction log ready to aggregate: ``cte`` defines ``rows(w, s, y)`` (``y`` only with labels).

    ``w`` is the window index (``0`` when there is one window), ``s`` the score (NULL when missing: NULL or
    NaN in the source), ``y`` the label (NULL when not (yet) known). ``profile`` holds the input counts.
    """

    cte: str
    params: dict[str, object]
    spec: tuple[int, int] | None
    profile: dict[str, object]


def prepare_predictions(
    pred: Bound,
    *,
    score_column: str,
    timestamp_column: str | None,
    window: tuple[int, int] | None,
    id_column: str | None = None,
    label_column: str | None = None,
    start: float | None = None,
    end: float | None = None,
    classification: bool = True,
) -> Prepared:
    """Validate the prediction log and build the ``base`` CTE (filtered, de-duplicated by id when given).

    Runs one profiling scan. Raises :class:`InvalidInputError` for missing columns, an empty log, scores
    outside ``[0, 1]`` (classification), non-numeric scores, or non-binary inline labels.
    """
    wanted = {"score_column": score_column}
    if timestamp_column is not None:
        wanted["timestamp_column"] = timestamp_column
    if id_column is not None:
        wanted["id_column"] = id_column
    if label_column is not None:
        wanted["label_column"] = label_column
    require_columns(pred, wanted, "the predictions")
    if window is not None and timestamp_column is None:
        raise InvalidInputError("window= needs timestamp_column=; pass window=None for a single window")
    if (start is not None or end is not None) and timestamp_column is None:
        raise InvalidInputError("start=/end= need timestamp_column=")
    if column_kind(pred.columns[score_column]) not in ("numeric", "bool"):
        raise InvalidInputError(
            f"the score column {score_column!r} has type {pred.columns[score_column]}; scores must be numbers"
        )
    s = f"CAST({q(score_column)} AS DOUBLE)"
    cols = [f"CASE WHEN {missing_sql(s)} THEN NULL ELSE {s} END AS s"]
    cols.append(f"{q(id_column)} AS id" if id_column else "CAST(NULL AS VARCHAR) AS id")
    t_kind = column_kind(pred.columns[timestamp_column]) if timestamp_column else None
    cols.append(f"{_time_sql(timestamp_column, t_kind)} AS t" if timestamp_column else "CAST(0 AS DOUBLE) AS t")
    if label_column is not None:
        y = _label_sql(label_column, column_kind(pred.columns[label_column]), "the predictions")
        cols.append(f"CASE WHEN {missing_sql(y)} THEN NULL ELSE {y} END AS y")
    keep = ["t IS NOT NULL"]
    params: dict[str, object] = {}
    if start is not None:
        keep.append("t >= $start")
        params["start"] = start
    if end is not None:
        keep.append("t < $end")
        params["end"] = end
    raw = f"SELECT {', '.join(cols)} FROM {pred.relation}"
    keep_sql = " AND ".join(keep)
    profile = _profile(pred, raw, keep_sql, params, id_column is not None, label_column is not None, classification)
    _check_profile(profile, pred, score_column, label_column, classification)
    base = f"raw AS ({raw}), kept AS (SELECT id, t, s{', y' if label_column else ''} FROM raw WHERE {keep_sql})"
    if id_column is not None and profile["n_duplicate_ids"]:
        # Rule: the latest prediction per id wins (ties: the higher score); rows without an id are kept.
        base += (
            f", base AS (SELECT id, t, s{', y' if label_column else ''} FROM (SELECT id, t, s"
            f"{', y' if label_column else ''}, ROW_NUMBER() OVER (PARTITION BY id ORDER BY t DESC, s DESC) AS rn "
            "FROM kept) d WHERE rn = 1 OR id IS NULL)"
        )
    else:
        base += ", base AS (SELECT * FROM kept)"
    return Prepared(cte=base, params=params, spec=window, profile=profile)


def window_sql(spec: tuple[int, int] | None, t: str = "t") -> str:
    """SQL for the window index of epoch seconds ``t``."""
    if spec is None:
        return "CAST(0 AS BIGINT)"
    seconds, origin = spec
    return f"CAST(floor(({t} - {origin}) / {seconds}) AS BIGINT)"


def _profile(
    pred: Bound, raw: str, keep: str, params: dict[str, object], has_id: bool, has_label: bool, classification: bool
) -> dict[str, object]:
    k = f"CASE WHEN {keep} THEN 1 ELSE 0 END"
    parts = [
        "count(*) AS n_rows",
        "CAST(sum(CASE WHEN t IS NULL THEN 1 ELSE 0 END) AS BIGINT) AS n_missing_timestamp",
        f"CAST(sum({k}) AS BIGINT) AS n_kept",
        f"CAST(sum(CASE WHEN {keep} AND s IS NULL THEN 1 ELSE 0 END) AS BIGINT) AS n_missing_score",
        f"min(CASE WHEN {keep} THEN s END) AS s_min",
        f"max(CASE WHEN {keep} THEN s END) AS s_max",
    ]
    if has_id:
        parts.append(f"CAST(count(CASE WHEN {keep} THEN id END) AS BIGINT) AS n_id")
        parts.append(f"CAST(count(DISTINCT CASE WHEN {keep} THEN id END) AS BIGINT) AS n_distinct_id")
    if has_label:
        parts.append(f"CAST(count(CASE WHEN {keep} THEN y END) AS BIGINT) AS n_y")
        parts.append(f"avg(CASE WHEN {keep} THEN y END) AS y_mean")
        if classification:
            parts.append(f"CAST(sum(CASE WHEN {keep} AND y <> 0 AND y <> 1 THEN 1 ELSE 0 END) AS BIGINT) AS n_bad_y")
    row = pred.engine.sql(f"SELECT {', '.join(parts)} FROM ({raw}) r", params).to_pylist()[0]
    out: dict[str, object] = {key: (0 if v is None and key.startswith("n_") else v) for key, v in row.items()}
    out["n_duplicate_ids"] = int(out.get("n_id", 0)) - int(out.get("n_distinct_id", 0))  # type: ignore[arg-type]
    return out


def _check_profile(
    profile: dict[str, object], pred: Bound, score_column: str, label_column: str | None, classification: bool
) -> None:
    if profile["n_rows"] == 0:
        raise InvalidInputError(f"the predictions ({pred.label}) are empty: nothing to evaluate")
    if profile["n_kept"] == 0:
        raise InvalidInputError(
            f"none of the {profile['n_rows']} predictions has a timestamp inside start/end "
            f"({profile['n_missing_timestamp']} have none): widen start=/end= or check timestamp_column="
        )
    lo, hi = profile["s_min"], profile["s_max"]
    if classification and lo is not None and (lo < 0 or hi > 1):  # type: ignore[operator]
        raise InvalidInputError(
            f"the score column {score_column!r} ranges from {lo:.4g} to {hi:.4g}, outside [0, 1]: classification "
            "needs probabilities. If these are logits or margins, pass 1 / (1 + exp(-score)); otherwise calibrate "
            "them (e.g. sklearn CalibratedClassifierCV) or use task='regression'"
        )
    if label_column is not None and classification and profile.get("n_bad_y"):
        raise InvalidInputError(
            f"the label column {label_column!r} has {profile['n_bad_y']} values other than 0 and 1; classification "
            "needs binary labels (map your classes to 0/1, or use task='regression')"
        )


def join_labels(
    prep: Prepared,
    pred: Bound,
    labels: Bound,
    *,
    id_column: str,
    label_column: str,
    label_timestamp_column: str | None,
    classification: bool,
) -> tuple[str, str, dict[str, object]]:
    """The CTE ``lab(id, y)`` (one label per id), the join condition of ``base b`` with ``lab l``, and a profile
    of the labels (counts, unmatched ids).

    Rule for repeated ids: the latest label by ``label_timestamp_column`` wins; without it, repeated ids must
    carry the same label (else :class:`InvalidInputError`). Labels that are NULL/NaN have not arrived yet.
    """
    wanted = {"id_column": id_column, "label_column": label_column}
    if label_timestamp_column is not None:
        wanted["label_timestamp_column"] = label_timestamp_column
    require_columns(labels, wanted, "the labels")
    y = _label_sql(label_column, column_kind(labels.columns[label_column]), "the labels")
    same_type = column_kind(labels.columns[id_column]) == column_kind(pred.columns[id_column])
    lid = q(id_column) if same_type else f"CAST({q(id_column)} AS VARCHAR)"
    pid = f"p.{q(id_column)}" if same_type else f"CAST(p.{q(id_column)} AS VARCHAR)"
    join_on = "b.id = l.id" if same_type else "CAST(b.id AS VARCHAR) = l.id"
    lt = ""
    if label_timestamp_column is not None:
        lt = f", {_time_sql(label_timestamp_column, column_kind(labels.columns[label_timestamp_column]))} AS lt"
    lab_raw = (
        f"lab_raw AS (SELECT id, y{', lt' if lt else ''} FROM (SELECT {lid} AS id, "
        f"CASE WHEN {missing_sql(y)} THEN NULL ELSE {y} END AS y{lt} FROM {labels.relation}) r "
        "WHERE y IS NOT NULL AND id IS NOT NULL)"
    )
    bad = "CAST(sum(CASE WHEN y <> 0 AND y <> 1 THEN 1 ELSE 0 END) AS BIGINT)" if classification else "0"
    prof = labels.engine.sql(
        f"WITH {lab_raw} SELECT count(*) AS n_labels, CAST(count(DISTINCT id) AS BIGINT) AS n_ids, "
        f"{bad} AS n_bad_y, avg(y) AS y_mean FROM lab_raw"
    ).to_pylist()[0]
    if prof["n_bad_y"]:
        raise InvalidInputError(
            f"the label column {label_column!r} of the labels has {prof['n_bad_y']} values other than 0 and 1; "
            "classification needs binary labels (map your classes to 0/1, or use task='regression')"
        )
    n_dup = int(prof["n_labels"]) - int(prof["n_ids"])
    if n_dup and label_timestamp_column is None:
        conflicts = labels.engine.scalar(
            f"WITH {lab_raw} SELECT count(*) AS n FROM (SELECT id FROM lab_raw GROUP BY id HAVING min(y) <> max(y)) c"
        )
        if conflicts:
            raise InvalidInputError(
                f"{conflicts} ids have conflicting labels in the labels table; pass label_timestamp_column= so the "
                "latest label wins, or de-duplicate the labels first"
            )
    if n_dup:
        order = "lt DESC, y DESC" if label_timestamp_column else "y DESC"
        lab = (
            f"lab AS (SELECT id, y FROM (SELECT id, y, ROW_NUMBER() OVER (PARTITION BY id ORDER BY {order}) AS rn "
            "FROM lab_raw) d WHERE rn = 1)"
        )
    else:
        lab = "lab AS (SELECT id, y FROM lab_raw)"
    unmatched = labels.engine.scalar(
        f"WITH {lab_raw}, {lab} SELECT count(*) AS n FROM lab l WHERE NOT EXISTS "
        f"(SELECT 1 FROM {pred.relation} p WHERE {pid} = l.id)"
    )
    profile = {
        "n_labels": int(prof["n_labels"]),
        "n_duplicate_labels": n_dup,
        "n_unmatched_labels": int(unmatched or 0),
        "y_mean": prof["y_mean"],
    }
    return f"{lab_raw}, {lab}", join_on, profile


# -- aggregate queries over rows(w, s, y) -------------------------------------------------------------------
def class_sql(cte: str) -> str:
    """Per-window sums for classification over ``rows(w, s, y)`` (``$thr`` the decision threshold)."""
    return f"""WITH {cte},
ev AS (SELECT w, s, y, CASE WHEN s IS NULL THEN NULL WHEN s >= $thr THEN 1 ELSE 0 END AS pp,
  CASE WHEN y IS NULL OR s IS NULL THEN NULL WHEN y = 1 THEN -ln(GREATEST(s, 1e-15))
       ELSE -ln(GREATEST(1 - s, 1e-15)) END AS ll,
  (s - y) * (s - y) AS br FROM rows)
SELECT w, CAST(count(s) AS BIGINT) AS n, CAST(sum(CASE WHEN s IS NULL THEN 1 ELSE 0 END) AS BIGINT) AS n_missing,
  CAST(count(CASE WHEN s IS NOT NULL THEN y END) AS BIGINT) AS n_lab, CAST(sum(pp) AS BIGINT) AS n_pp,
  CAST(sum(s) AS DOUBLE) AS ss, CAST(sum(s * s) AS DOUBLE) AS ss2,
  CAST(sum(CASE WHEN s IS NOT NULL THEN y END) AS DOUBLE) AS pos,
  CAST(sum(ll) AS DOUBLE) AS ll, CAST(sum(ll * ll) AS DOUBLE) AS ll2,
  CAST(sum(br) AS DOUBLE) AS br, CAST(sum(br * br) AS DOUBLE) AS br2,
  CAST(sum(CASE WHEN pp = 1 AND y = 1 THEN 1 ELSE 0 END) AS BIGINT) AS tp,
  CAST(sum(CASE WHEN pp = 1 AND y = 0 THEN 1 ELSE 0 END) AS BIGINT) AS fp,
  CAST(sum(CASE WHEN pp = 0 AND y = 1 THEN 1 ELSE 0 END) AS BIGINT) AS fn
FROM ev GROUP BY w"""


def regression_sql(cte: str) -> str:
    """Per-window power sums of ``e = s - y`` and ``y - $c`` for regression."""
    return f"""WITH {cte},
ev AS (SELECT w, s, CASE WHEN s IS NOT NULL THEN y - $c END AS yc, s - y AS e FROM rows)
SELECT w, CAST(count(s) AS BIGINT) AS n, CAST(sum(CASE WHEN s IS NULL THEN 1 ELSE 0 END) AS BIGINT) AS n_missing,
  CAST(count(CASE WHEN s IS NOT NULL THEN yc END) AS BIGINT) AS n_lab,
  CAST(sum(s) AS DOUBLE) AS ss, CAST(sum(s * s) AS DOUBLE) AS ss2,
  CAST(sum(yc) AS DOUBLE) AS y, CAST(sum(yc * yc) AS DOUBLE) AS y2, CAST(sum(yc * yc * yc) AS DOUBLE) AS y3,
  CAST(sum(yc * yc * yc * yc) AS DOUBLE) AS y4, CAST(sum(e) AS DOUBLE) AS e, CAST(sum(e * e) AS DOUBLE) AS e2,
  CAST(sum(e * e * e * e) AS DOUBLE) AS e4, CAST(sum(abs(e)) AS DOUBLE) AS ae,
  CAST(sum(e * e * yc) AS DOUBLE) AS e2y, CAST(sum(e * e * yc * yc) AS DOUBLE) AS e2y2
FROM ev GROUP BY w"""


def auc_sql(cte: str, auc_bins: int | None) -> str:
    """AUC rank sums per window (``lvl`` 0) and overall (``lvl`` 1), grouped by distinct score or bin."""
    key = "s" if auc_bins is None else f"LEAST(CAST(floor(s * {int(auc_bins)}) AS BIGINT), {int(auc_bins) - 1})"
    return f"""WITH {cte},
g0 AS (SELECT w, {key} AS k, CAST(sum(y) AS DOUBLE) AS np, CAST(sum(1 - y) AS DOUBLE) AS nn FROM rows
       WHERE s IS NOT NULL AND y IS NOT NULL GROUP BY w, {key}),
g AS (SELECT 0 AS lvl, w, k, np, nn FROM g0
      UNION ALL SELECT 1 AS lvl, CAST(0 AS BIGINT) AS w, k, sum(np) AS np, sum(nn) AS nn FROM g0 GROUP BY k),
c AS (SELECT lvl, w, np, nn,
  COALESCE(SUM(nn) OVER (PARTITION BY lvl, w ORDER BY k ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0) AS nb,
  COALESCE(SUM(np) OVER (PARTITION BY lvl, w ORDER BY k ROWS BETWEEN 1 FOLLOWING AND UNBOUNDED FOLLOWING), 0) AS pa
  FROM g)
SELECT lvl, w, CAST(sum(np) AS DOUBLE) AS auc_p, CAST(sum(nn) AS DOUBLE) AS auc_n,
  CAST(sum(np * (nb + 0.5 * nn)) AS DOUBLE) AS auc_a, CAST(sum(np * nn) AS DOUBLE) AS auc_tied,
  CAST(sum(np * (nb + 0.5 * nn) * (nb + 0.5 * nn)) AS DOUBLE) AS auc_s10,
  CAST(sum(nn * (pa + 0.5 * np) * (pa + 0.5 * np)) AS DOUBLE) AS auc_s01
FROM c GROUP BY lvl, w"""


def calib_sql(cte: str, k: int) -> str:
    """Reliability bins: count, score sum and positives per window and equal-width score bin."""
    return f"""WITH {cte}
SELECT w, b, CAST(count(*) AS BIGINT) AS n, CAST(sum(s) AS DOUBLE) AS ss, CAST(sum(y) AS DOUBLE) AS sy
FROM (SELECT w, s, y, LEAST(CAST(floor(s * {k}) AS BIGINT), {k - 1}) AS b FROM rows
      WHERE s IS NOT NULL AND y IS NOT NULL) r GROUP BY w, b"""


# -- sentences shared by the performance and estimate summaries -------------------------------------------------
def window_label(w: Any) -> str:
    """A window's start as a date (whole-day windows) or date and time."""
    if w.start is None:
        return "all time"
    daily = w.start.hour == 0 and w.start.minute == 0 and (w.end - w.start).total_seconds() % 86400 == 0
    return f"{w.start:%Y-%m-%d}" if daily else f"{w.start:%Y-%m-%d %H:%M}"


def fmt_metric(m: MetricValue) -> str:
    """``0.812 (0.805-0.819)``, or the bare value without an interval."""
    if math.isfinite(m.ci_low) and math.isfinite(m.ci_high):
        return f"{m.value:.3f} ({m.ci_low:.3f}-{m.ci_high:.3f})"
    return f"{m.value:.3f}"


def metric_se(m: MetricValue, z: float) -> float:
    """The standard error implied by a symmetric-normal interval (NaN without one)."""
    if not (math.isfinite(m.ci_low) and math.isfinite(m.ci_high)):
        return math.nan
    return (m.ci_high - m.ci_low) / (2 * z)


def decay_sentence(name: str, higher_is_better: bool, a: MetricValue, b: MetricValue, z: float, where: str) -> str:
    """``name`` went from ``a`` to ``b``, and whether the change is larger than sampling noise (z-test)."""
    diff = b.value - a.value
    se = math.hypot(metric_se(a, z), metric_se(b, z))
    verb = "rose" if diff > 0 else ("fell" if diff < 0 else "held")
    text = f"{name} {verb} from {fmt_metric(a)} {where}"
    if not math.isfinite(se) or se == 0:
        return text + "."
    worse = diff < 0 if higher_is_better else diff > 0
    if abs(diff) > z * se:
        return text + (": a decline beyond sampling noise; investigate." if worse else ": a real improvement.")
    return text + "; the change is within sampling noise."
