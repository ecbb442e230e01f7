"""search_runs against a real store (SQLite, and PostgreSQL when ASSAY_TEST_POSTGRES_URL is set)."""

from __future__ import annotations

import math
from typing import Any

import pandas as pd
import pytest
from sqlalchemy import Engine, insert, inspect, select

from assay.errors import FilterSyntaxError, InvalidInputError
from assay.store.models import LatestMetric, Param, Project, Run, Tag
from assay.tracking import search
from assay.tracking.filters import parse_filter
from assay.tracking.search import BASE_COLUMNS, compile_filter, search_runs


def rid(n: int) -> str:
    return f"{n:032x}"


NAN = math.nan
# run: (project, name, status, start_ms, end_ms, user, params, metrics, tags)
RUNS: dict[int, tuple[Any, ...]] = {
    1: (1, "lgbm-a", "FINISHED", 1000, 5000, "alice",
        {"model": "lgbm", "num_leaves": "31", "lr": "0.1", "early_stop": "True", "big": "1e999"},
        {"auc": 0.91, "loss": 0.30}, {"team": "ds", "stage": "prod"}),
    2: (1, "lgbm-b", "FINISHED", 2000, 6000, "alice",
        {"model": "lgbm", "num_leaves": "31.0", "lr": "0.05", "early_stop": "false", "big": "1e99999"},
        {"auc": 0.85, "loss": 0.35}, {"team": "ds"}),
    3: (1, "xgb-a", "FAILED", 3000, None, "bob",
        {"model": "xgb", "num_leaves": "63", "lr": "1e-3", "big": "9" * 1200},
        {"auc": NAN, "loss": 0.5}, {"team": "ml"}),
    4: (1, "logreg", "RUNNING", 4000, None, None,
        {"model": "LogReg", "num_leaves": "abc", "lr": "0.5abc"}, {}, {}),
    5: (2, "lgbm-ltv", "FINISHED", 2000, 7000, "carol",
        {"model": "lgbm", "num_leaves": "31"}, {"auc": 0.99}, {"team": "ds"}),
    6: (1, "lgbm-c", "FINISHED", 2000, 6500, "alice",
        {"model": "lgbm", "num_leaves": "127", "lr": "0.2", "big": " 42 "},
        {"auc": 0.91, "loss": math.inf}, {"team": "ds", "note": "it's 50% done"}),
}  # fmt: skip


@pytest.fixture(scope="module")
def engine(store_engine: Engine) -> Engine:
    with store_engine.begin() as conn:
        conn.execute(
            insert(Project),
            [{"id": 1, "name": "churn", "created_ms": 0}, {"id": 2, "name": "ltv", "created_ms": 0}],
        )
        for n, (project, name, status, start, end, user, params, metrics, tags) in RUNS.items():
            conn.execute(
                insert(Run).values(
                    id=rid(n), project_id=project, name=name, status=status, start_ms=start, end_ms=end, user=user
                )
            )
            if params:
                conn.execute(insert(Param), [{"run_id": rid(n), "key": k, "value": v} for k, v in params.items()])
            if metrics:
                conn.execute(
                    insert(LatestMetric),
                    [
                        {"run_id": rid(n), "key": k, "step": 0, "ts_ms": 0, "value": None if math.isnan(v) else v}
                        for k, v in metrics.items()
                    ],
                )
            if tags:
                conn.execute(insert(Tag), [{"run_id": rid(n), "key": k, "value": v} for k, v in tags.items()])
    return store_engine


def ids(engine: Engine, **kwargs: Any) -> list[int]:
    kwargs.setdefault("project_ids", None)
    with engine.connect() as conn:
        df = search_runs(conn, **kwargs)
    return [int(r, 16) for r in df["run_id"]]


@pytest.mark.parametrize(
    ("filter", "expected"),
    [
        ("", {1, 2, 3, 4, 5, 6}),
        # params: number literal compares numerically and safely, string literal as text
        ("params.num_leaves = 31", {1, 2, 5}),
        ("params.num_leaves == 31.0", {1, 2, 5}),
        ("params.num_leaves = '31'", {1, 5}),
        ("params.num_leaves > 40", {3, 6}),
        ("params.num_leaves != 31", {3, 6}),
        ("params.lr < 1", {1, 2, 3, 6}),
        ("params.lr <= 1e-3", {3}),
        ("params.num_leaves in (31, 'abc')", {1, 2, 4, 5}),
        ("params.num_leaves not in (31, 63)", {6}),
        ("params.early_stop = true", {1}),
        ("params.early_stop != TRUE", {2}),
        ("params.missing = 1", set()),
        # values PostgreSQL's NUMERIC input would reject are simply not numbers (and never raise)
        ("params.big > 1e300", {1}),
        ("params.big = 42", {6}),
        ("params.big is not null and not params.big < 0", {1, 2, 3, 6}),
        ("params.missing is null", {1, 2, 3, 4, 5, 6}),
        ("params.lr is null", {5}),
        ("params.lr is not null", {1, 2, 3, 4, 6}),
        # metrics: numeric, NaN (NULL) never matches a comparison
        ("metrics.auc > 0.9", {1, 5, 6}),
        ("metrics.auc != 0.85", {1, 5, 6}),
        ("metrics.auc >= 0.85 and metrics.auc <= 0.91", {1, 2, 6}),
        ("metrics.auc in (0.85, 0.99)", {2, 5}),
        ("not metrics.auc > 0.9", {2, 3, 4}),
        ("metrics.auc is null", {3, 4}),
        ("metrics.auc is not null", {1, 2, 5, 6}),
        ("metrics.loss > 1e308", {6}),
        ("metrics.loss < -1", set()),
        # boolean structure
        ("params.model = 'lgbm' and metrics.auc > 0.9 or attributes.status = 'FAILED'", {1, 3, 5, 6}),
        ("params.model = 'lgbm' and (metrics.auc > 0.9 or attributes.status = 'FAILED')", {1, 5, 6}),
        ("not (params.model = 'lgbm' or params.model = 'xgb')", {4}),
        ("NOT NOT params.model = 'xgb'", {3}),
        ("((tags.team = 'ds')) AND NOT tags.stage = 'prod'", {2, 5, 6}),
        ("tags.team = 'ds' and tags.stage is null", {2, 5, 6}),
        # like (case-sensitive on both backends), ilike, escapes
        ("params.model like 'L%'", {4}),
        ("params.model like 'l%'", {1, 2, 5, 6}),
        ("params.model ilike 'L%'", {1, 2, 4, 5, 6}),
        ("params.model not like 'l%'", {3, 4}),
        ("params.model not ilike 'L%'", {3}),
        ("params.model like 'lgb_'", {1, 2, 5, 6}),
        ("tags.note like '%50\\%%'", {6}),
        ("tags.note like '%5_\\_%'", set()),
        ("tags.note = 'it''s 50% done'", {6}),
        ("attributes.name like 'lgbm-_'", {1, 2, 6}),
        # attributes
        ("attributes.status in ('FAILED', 'RUNNING')", {3, 4}),
        ("attributes.status != 'FINISHED'", {3, 4}),
        ("attr.end_time is null", {3, 4}),
        ("attributes.end_time is not null and attributes.end_time > 6000", {5, 6}),
        ("attributes.start_time >= 3000", {3, 4}),
        ("attributes.start_time < '1970-01-01T00:00:02.5'", {1, 2, 5, 6}),
        ("attributes.start_time = '1970-01-01T00:00:02+00:00'", {2, 5, 6}),
        ("attributes.user = 'alice'", {1, 2, 6}),
        ("attributes.user is null", {4}),
        (f"attributes.run_id = '{rid(3)}'", {3}),
        (f"attributes.id in ('{rid(1)}', '{rid(5)}')", {1, 5}),
        ("attributes.run_name = 'xgb-a'", {3}),
        # injection attempts are plain literals
        ("params.model = 'lgbm'' OR 1=1 --'", set()),
        ("params.model = 'x''); DROP TABLE runs; --'", set()),
        ('tags.team = "ds"" OR ""1""=""1"', set()),
    ],
)
def test_filter(engine: Engine, filter: str, expected: set[int]) -> None:
    assert set(ids(engine, filter=filter)) == expected


def test_tables_survive_injection_attempt(engine: Engine) -> None:
    ids(engine, filter="params.model = 'x''; DROP TABLE runs; --'")
    assert "runs" in inspect(engine).get_table_names()


def test_project_scoping(engine: Engine) -> None:
    assert set(ids(engine, project_ids=[1], filter="params.num_leaves = 31")) == {1, 2}
    assert ids(engine, project_ids=[2]) == [5]
    assert set(ids(engine, project_ids=[1, 2])) == {1, 2, 3, 4, 5, 6}
    assert ids(engine, project_ids=[3]) == []
    with engine.connect() as conn:
        empty = search_runs(conn, project_ids=[])
    assert list(empty.columns) == list(BASE_COLUMNS)
    assert empty.empty


@pytest.mark.parametrize(
    ("order_by", "expected"),
    [
        (None, [4, 3, 6, 5, 2, 1]),  # start time desc, then run id desc
        (["metrics.auc desc"], [5, 6, 1, 2, 4, 3]),  # NaN and missing last
        (["metrics.auc"], [2, 6, 1, 5, 4, 3]),
        (["metrics.AUC asc"], [4, 3, 6, 5, 2, 1]),  # keys are case-sensitive: nobody has it
        (["params.num_leaves asc"], [5, 1, 2, 3, 6, 4]),  # numerically, text after numbers
        (["params.num_leaves DESC"], [6, 3, 2, 5, 1, 4]),
        (["params.lr"], [3, 2, 1, 6, 4, 5]),  # text "0.5abc" after the numbers, missing last
        (["attributes.start_time asc"], [1, 6, 5, 2, 3, 4]),
        (["attributes.end_time desc"], [5, 6, 2, 1, 4, 3]),
        (["tags.team desc", "metrics.loss desc"], [3, 6, 2, 1, 5, 4]),
        (["attr.user", "attributes.name desc"], [6, 2, 1, 3, 5, 4]),
    ],
)
def test_order_by(engine: Engine, order_by: list[str] | None, expected: list[int]) -> None:
    assert ids(engine, order_by=order_by) == expected


def test_limit_and_offset(engine: Engine) -> None:
    assert ids(engine, limit=2) == [4, 3]
    assert ids(engine, limit=2, offset=2) == [6, 5]
    assert ids(engine, offset=4) == [2, 1]
    assert ids(engine, limit=10, offset=6) == []
    assert ids(engine, filter="metrics.auc > 0", order_by=["metrics.auc desc"], limit=1, offset=1) == [6]


@pytest.mark.parametrize("limit", [0, -1, True, 2.5, "3"])
def test_bad_limit(engine: Engine, limit: Any) -> None:
    with pytest.raises(InvalidInputError, match="limit"):
        ids(engine, limit=limit)


def test_bad_offset(engine: Engine) -> None:
    with pytest.raises(InvalidInputError, match="offset"):
        ids(engine, offset=-1)


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"project_ids": 1}, "project_ids"),
        ({"project_ids": ["1"]}, "project_ids"),
        ({"filter": 3}, "filter"),
        ({"order_by": "metrics.auc desc"}, "order_by"),
        ({"order_by": [None]}, "order_by"),
    ],
)
def test_bad_arguments(engine: Engine, kwargs: dict[str, Any], name: str) -> None:
    with pytest.raises(InvalidInputError, match=name):
        ids(engine, **kwargs)


def test_extreme_time_literals(engine: Engine) -> None:
    assert set(ids(engine, filter="attributes.start_time < 1e20")) == {1, 2, 3, 4, 5, 6}
    assert ids(engine, filter="attributes.start_time > 1e999") == []
    assert set(ids(engine, filter="attributes.start_time <= 1000.5")) == {1}


def test_syntax_errors_surface_with_positions(engine: Engine) -> None:
    with pytest.raises(FilterSyntaxError) as info:
        ids(engine, filter="metrics.auc > 'abc'")
    assert info.value.position == 14
    with pytest.raises(FilterSyntaxError) as info:
        ids(engine, order_by=["metrics.auc sideways"])
    assert info.value.position == 12
    assert info.value.text == "metrics.auc sideways"


def test_frame_columns_and_types(engine: Engine) -> None:
    with engine.connect() as conn:
        df = search_runs(conn, project_ids=[1], filter="tags.team = 'ml' or params.num_leaves = '31'")
    assert list(df.columns) == [
        *BASE_COLUMNS,
        "params.big",
        "params.early_stop",
        "params.lr",
        "params.model",
        "params.num_leaves",
        "metrics.auc",
        "metrics.loss",
        "tags.stage",
        "tags.team",
    ]
    assert df["run_id"].tolist() == [rid(3), rid(1)]
    assert df["project"].tolist() == ["churn", "churn"]
    assert str(df["start_time"].dt.tz) == "UTC"
    assert df["start_time"].iloc[1] == pd.Timestamp(1000, unit="ms", tz="UTC")
    assert pd.isna(df["end_time"].iloc[0])
    assert df["end_time"].iloc[1] == pd.Timestamp("1970-01-01T00:00:05Z")
    assert df["metrics.auc"].dtype == "float64"
    assert math.isnan(df["metrics.auc"].iloc[0])
    assert df["metrics.auc"].iloc[1] == pytest.approx(0.91)
    assert df["params.num_leaves"].tolist() == ["63", "31"]
    assert pd.isna(df["params.early_stop"].iloc[0])
    assert pd.isna(df["tags.stage"].iloc[0])
    assert df["user"].tolist() == ["bob", "alice"]


def test_inf_metric_and_null_user_round_trip(engine: Engine) -> None:
    with engine.connect() as conn:
        df = search_runs(conn, project_ids=None, filter="metrics.loss > 1 or attributes.status = 'RUNNING'")
    by_id = df.set_index("run_id")
    assert by_id.loc[rid(6), "metrics.loss"] == math.inf
    assert pd.isna(by_id.loc[rid(4), "user"])


def test_empty_result_has_base_columns(engine: Engine) -> None:
    with engine.connect() as conn:
        df = search_runs(conn, project_ids=None, filter="metrics.auc > 2")
    assert list(df.columns) == list(BASE_COLUMNS)
    assert len(df) == 0


def test_many_ids_use_a_subquery(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    with engine.connect() as conn:
        inline = search_runs(conn, project_ids=None, order_by=["metrics.auc desc"], limit=4, offset=1)
        monkeypatch.setattr(search, "_MAX_INLINE_IDS", 1)
        sub = search_runs(conn, project_ids=None, order_by=["metrics.auc desc"], limit=4, offset=1)
    pd.testing.assert_frame_equal(inline, sub)


def test_compile_filter_binds_every_literal(engine: Engine) -> None:
    cond = compile_filter(parse_filter("params.model = 'evil''s' and metrics.auc > 0.5 and tags.x like 'a%'"))
    sql = str(select(Run.id).where(cond).compile(engine))
    assert "evil" not in sql and "0.5" not in sql and "a%" not in sql
    with engine.connect() as conn:
        assert conn.execute(select(Run.id).where(compile_filter(None))).all()
