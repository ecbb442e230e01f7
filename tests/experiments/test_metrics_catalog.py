"""Metric definitions and the catalog: validation messages, durations and windows, YAML round trips."""

from __future__ import annotations

from pathlib import Path

import pytest

from assay.errors import ConflictError, InvalidInputError, NotFoundError
from assay.experiments import Metric, MetricCatalog, Window
from assay.experiments.metrics import parse_duration

CATALOG_YAML = """
metrics:
  conversion:
    kind: proportion
    source: events
    filter: event = 'purchase'
    window: {start: 0d, end: 14d}
    description: Share of users who buy within 14 days
    owner: growth
  revenue:
    source: events
    value: amount
    window: {end: 14d}
  revenue_per_order:
    kind: ratio
    source: orders
    numerator: amount
    denominator: "1"
    timestamp_column: created_at
  latency_ms:
    source: "SELECT user_id, ts, latency_ms FROM requests WHERE status < 500"
    value: latency_ms
    aggregation: max
    direction: decrease
    guardrail: true
    margin: 0.05
    cuped: false
"""


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("30s", 30), ("15m", 900), ("1h", 3600), ("3d", 259200), ("2w", 1209600), ("-14d", -1209600),
     ("0", 0), (0, 0), ("7 days", 604800), ("1H", 3600)],
)  # fmt: skip
def test_parse_duration(text: str | int, seconds: int) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("bad", ["14", "1.5d", "d", "3 fortnights", "", None, "14d ago"])
def test_bad_duration_says_how_to_write_one(bad: object) -> None:
    with pytest.raises(InvalidInputError, match=r"whole number with a unit: s, m, h, d or w"):
        parse_duration(bad)  # type: ignore[arg-type]


def test_window_parsing_and_validation() -> None:
    assert Window.parse(None) == Window("0d", None)
    assert Window.parse("14d") == Window("0d", "14d")
    assert Window.parse({"end": "2w"}).end_seconds == 1209600
    assert Window.parse({"start": "1h", "end": "1d"}).start_seconds == 3600
    with pytest.raises(InvalidInputError, match="must end after it starts"):
        Window("2d", "1d")
    with pytest.raises(InvalidInputError, match=r"start at or after first exposure .* cuped"):
        Window("-1d", "1d")
    with pytest.raises(InvalidInputError, match="'start' and 'end' only"):
        Window.parse({"begin": "0d"})
    with pytest.raises(InvalidInputError, match="window end"):
        Window.parse({"end": "fortnight"})


def test_metric_defaults_and_derived_fields() -> None:
    m = Metric("revenue", source="events", value="amount")
    assert (m.kind, m.aggregation, m.direction, m.cuped, m.guardrail) == ("mean", "sum", "increase", True, False)
    assert m.window == Window() and m.higher_is_better and m.label == "revenue"
    p = Metric("checkout_conversion", kind="proportion", source="events", filter="event = 'buy'")
    assert p.aggregation == "max" and p.label == "checkout conversion"
    r = Metric("aov", kind="ratio", source="orders", numerator="amount", denominator="1", aggregation="count")
    assert r.aggregation == "count"


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"name": "2fast"}, "must start with a letter"),
        ({"name": "a__b"}, "single underscores"),
        ({"kind": "median"}, "'kind' must be one of mean, proportion, ratio"),
        ({"kind": "quantile"}, "quantile metrics are not supported"),
        ({"value": None}, "a mean metric needs a 'value'"),
        ({"kind": "ratio"}, "needs 'numerator' and 'denominator'"),
        ({"numerator": "a"}, "only ratio metrics take"),
        ({"kind": "proportion", "aggregation": "sum"}, "a proportion is 1 when any row qualifies"),
        ({"aggregation": "avg"}, "'aggregation' must be one of sum, count, max"),
        ({"direction": "up"}, "'direction' must be one of increase, decrease"),
        ({"margin": 5}, r"'margin' is a relative change in \[0, 1\)"),
        ({"guardrail": "yes"}, "'guardrail' must be true or false"),
        ({"value": "sum(amount)"}, "cannot contain aggregates"),
        ({"value": "amount, 1"}, "must be one SQL expression"),
        ({"value": "amount FROM x; DROP TABLE events"}, "not a valid SQL expression"),
        ({"filter": "(SELECT 1) = 1"}, "cannot contain aggregates, window functions or subqueries"),
        ({"source": "DELETE FROM events"}, "only a single read-only SELECT"),
        ({"source": "SELECT * FROM events; SELECT 1"}, "single SELECT"),
        ({"source": "SELECT * FROM read_csv('/etc/passwd')"}, "not allowed"),
        ({"source": ""}, "'source' must be a table name or a SELECT"),
    ],
)
def test_metric_validation_says_what_to_fix(kwargs: dict[str, object], message: str) -> None:
    base: dict[str, object] = {"name": "revenue", "source": "events", "value": "amount"}
    base.update(kwargs)
    name = base.pop("name")
    with pytest.raises(InvalidInputError, match=message):
        Metric(name, **base)  # type: ignore[arg-type]


def test_catalog_from_yaml_text_and_file(tmp_path: Path) -> None:
    cat = MetricCatalog.from_yaml(CATALOG_YAML)
    assert cat.names == ["conversion", "revenue", "revenue_per_order", "latency_ms"]
    latency = cat.get("latency_ms")
    assert latency.source.startswith("SELECT") and latency.guardrail and latency.margin == 0.05
    assert not latency.higher_is_better and latency.aggregation == "max"
    assert cat.get("conversion").window == Window("0d", "14d")
    path = tmp_path / "metrics.yaml"
    path.write_text(CATALOG_YAML)
    assert MetricCatalog.from_yaml(path) == cat
    assert MetricCatalog.from_yaml(str(path)) == cat


def test_catalog_yaml_round_trip(tmp_path: Path) -> None:
    cat = MetricCatalog.from_yaml(CATALOG_YAML)
    text = cat.to_yaml(tmp_path / "out.yaml")
    assert MetricCatalog.from_yaml(text) == cat
    assert MetricCatalog.from_yaml(tmp_path / "out.yaml") == cat
    assert "aggregation: sum" not in text  # defaults are left out
    assert MetricCatalog.from_dict(cat.to_dict()) == cat


def test_catalog_add_get_and_conflicts() -> None:
    cat = MetricCatalog()
    m = Metric("revenue", source="events", value="amount")
    assert cat.add(m) is cat and "revenue" in cat and len(cat) == 1 and list(cat) == [m]
    cat.add(m)  # the same definition again is fine
    other = Metric("revenue", source="events", value="amount * 2")
    with pytest.raises(ConflictError, match="replace=True"):
        cat.add(other)
    assert cat.add(other, replace=True).get("revenue") == other
    with pytest.raises(NotFoundError, match=r"Unknown metric 'revenu'\. Did you mean 'revenue'\? .*: revenue"):
        cat.get("revenu")
    with pytest.raises(InvalidInputError, match="takes a Metric"):
        cat.add({"name": "x"})  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("metrics:\n  revenue: {source: events, value: amount\n", r"not valid YAML at line \d+"),
        ("metrics:\n  revenue: {source: events, valeu: amount}\n", "unknown field 'valeu'; did you mean 'value'"),
        ("metrics:\n  revenue: {value: amount}\n", "'source' is missing"),
        (
            "metrics:\n  revenue: {source: events, value: amount, window: {end: 2 months}}\n",
            "Metric 'revenue': The window end",
        ),
        ("metrics:\n  revenue: {source: events, value: amount, window: {end: 14}}\n", "whole number with a unit"),
        ("revenue: {source: events}\n", "top-level 'metrics:'"),
        ("metrics: {}\nextra: 1\n", "Unknown top-level keys"),
        ("metrics: 3\n", "must map metric names"),
        ("metrics:\n  revenue: [1, 2]\n", "must be a mapping of fields"),
    ],
)
def test_bad_catalog_yaml_gives_clear_errors(text: str, message: str) -> None:
    with pytest.raises(InvalidInputError, match=message):
        MetricCatalog.from_yaml(text)


def test_missing_yaml_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(InvalidInputError, match=r"file not found: .*nope\.yaml"):
        MetricCatalog.from_yaml(tmp_path / "nope.yaml")
    with pytest.raises(InvalidInputError, match="file not found"):
        MetricCatalog.from_yaml("nope.yml")


def test_metric_from_dict_in_list_form_and_name_mismatch() -> None:
    cat = MetricCatalog.from_dict({"metrics": [{"name": "revenue", "source": "events", "value": "amount"}]})
    assert cat.names == ["revenue"]
    with pytest.raises(InvalidInputError, match="filed under a different 'name'"):
        Metric.from_dict({"name": "other", "source": "events", "value": "x"}, name="revenue")
