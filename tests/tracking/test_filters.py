"""The run-search filter parser: valid text → AST, malformed text → FilterSyntaxError at the right spot."""

from __future__ import annotations

import pytest

from assay.errors import FilterSyntaxError, InvalidInputError
from assay.tracking.filters import And, Comparison, Not, Or, OrderBy, iso_to_ms, parse_filter, parse_order_by


def C(entity: str, key: str, op: str, value: object = None) -> Comparison:
    return Comparison(entity, key, op, value)  # type: ignore[arg-type]


@pytest.mark.parametrize("text", [None, "", "   ", "\n\t"])
def test_blank_means_no_filter(text: str | None) -> None:
    assert parse_filter(text) is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("metrics.auc > 0.9", C("metrics", "auc", ">", 0.9)),
        ("metrics.auc>0.9", C("metrics", "auc", ">", 0.9)),
        ("metric.auc >= 1", C("metrics", "auc", ">=", 1)),
        ("METRICS.auc <= -2.5e-3", C("metrics", "auc", "<=", -0.0025)),
        ("metrics.loss < .5", C("metrics", "loss", "<", 0.5)),
        ("metrics.loss<-1", C("metrics", "loss", "<", -1)),
        ("metrics.loss = +3E2", C("metrics", "loss", "=", 300.0)),
        ("metrics.loss == 2.", C("metrics", "loss", "=", 2.0)),
        ("metrics.val.auc != 1", C("metrics", "val.auc", "!=", 1)),
        ("metrics.val.auc <> 1", C("metrics", "val.auc", "!=", 1)),
        ("metrics.train/loss-v2 > 0", C("metrics", "train/loss-v2", ">", 0)),
        ("metrics.`val auc` > 0", C("metrics", "val auc", ">", 0)),
        ('metrics."val auc" > 0', C("metrics", "val auc", ">", 0)),
        ("metrics.`a``b` > 0", C("metrics", "a`b", ">", 0)),
        ("params.model = 'lgbm'", C("params", "model", "=", "lgbm")),
        ('params.model = "lgbm"', C("params", "model", "=", "lgbm")),
        ("param.num_leaves = 31", C("params", "num_leaves", "=", 31)),
        ("params.x = ''", C("params", "x", "=", "")),
        ("params.x = 'it''s'", C("params", "x", "=", "it's")),
        ('params.x = "say ""hi"""', C("params", "x", "=", 'say "hi"')),
        ("params.x = 'a \"b\" c'", C("params", "x", "=", 'a "b" c')),
        ("params.flag = TRUE", C("params", "flag", "=", True)),
        ("tags.flag != false", C("tags", "flag", "!=", False)),
        ("tags.owner like 'ali%'", C("tags", "owner", "like", "ali%")),
        ("tags.owner ILIKE 'ALI%'", C("tags", "owner", "ilike", "ALI%")),
        ("tags.owner not like 'a\\_%'", C("tags", "owner", "not like", "a\\_%")),
        ("tags.owner NOT ILIKE '%x'", C("tags", "owner", "not ilike", "%x")),
        ("params.m in ('a', 'b')", C("params", "m", "in", ("a", "b"))),
        ("params.m IN (1,2.5,'x',true)", C("params", "m", "in", (1, 2.5, "x", True))),
        ("params.m not in ('a')", C("params", "m", "not in", ("a",))),
        ("metrics.auc in (0.5, 1)", C("metrics", "auc", "in", (0.5, 1))),
        ("params.m is null", C("params", "m", "is null")),
        ("params.m IS NOT NULL", C("params", "m", "is not null")),
        ("attributes.status = 'FINISHED'", C("attributes", "status", "=", "FINISHED")),
        ("attr.id = 'abc'", C("attributes", "run_id", "=", "abc")),
        ("attribute.RUN_ID in ('a', 'b')", C("attributes", "run_id", "in", ("a", "b"))),
        ("attributes.run_name like 'x%'", C("attributes", "name", "like", "x%")),
        ("attributes.start_time > 1700000000000", C("attributes", "start_time", ">", 1700000000000)),
        ("attributes.end_time >= '2024-05-01'", C("attributes", "end_time", ">=", "2024-05-01")),
        ("attributes.end_time is null", C("attributes", "end_time", "is null")),
        ("attributes.user = 'alice'", C("attributes", "user", "=", "alice")),
        ("metrics.a > 99999999999999999999", C("metrics", "a", ">", 1e20)),
    ],
)
def test_comparisons(text: str, expected: Comparison) -> None:
    assert parse_filter(text) == expected


def test_number_types() -> None:
    node = parse_filter("params.a = 31")
    assert isinstance(node, Comparison) and type(node.value) is int
    node = parse_filter("params.a = 31.0")
    assert isinstance(node, Comparison) and type(node.value) is float


a, b, c, d = (C("metrics", k, ">", 0) for k in "abcd")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("metrics.a > 0 and metrics.b > 0", And((a, b))),
        ("metrics.a > 0 AND metrics.b > 0 And metrics.c > 0", And((a, b, c))),
        ("metrics.a > 0 or metrics.b > 0", Or((a, b))),
        ("metrics.a > 0 or metrics.b > 0 and metrics.c > 0", Or((a, And((b, c))))),
        ("metrics.a > 0 and metrics.b > 0 or metrics.c > 0", Or((And((a, b)), c))),
        ("(metrics.a > 0 or metrics.b > 0) and metrics.c > 0", And((Or((a, b)), c))),
        ("metrics.a > 0 and (metrics.b > 0 or (metrics.c > 0 and metrics.d > 0))", And((a, Or((b, And((c, d))))))),
        ("((metrics.a > 0))", a),
        ("not metrics.a > 0", Not(a)),
        ("NOT not metrics.a > 0", Not(Not(a))),
        ("not metrics.a > 0 and metrics.b > 0", And((Not(a), b))),
        ("not (metrics.a > 0 and metrics.b > 0)", Not(And((a, b)))),
        ("metrics.a > 0 or not metrics.b > 0", Or((a, Not(b)))),
        ("(metrics.a>0)and(metrics.b>0)", And((a, b))),
    ],
)
def test_boolean_structure(text: str, expected: object) -> None:
    assert parse_filter(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "params.x = '1'' OR 1=1 --'",
        "params.x = '1; DROP TABLE runs; --'",
        'params.x = "x"" OR ""1""=""1"',
    ],
)
def test_injection_attempts_are_plain_literals(text: str) -> None:
    node = parse_filter(text)
    assert isinstance(node, Comparison)
    assert node.entity == "params" and node.key == "x" and node.op == "="
    assert isinstance(node.value, str) and node.value.startswith(("1", "x"))


def test_injection_literal_value() -> None:
    assert parse_filter("params.x = '1'' OR 1=1 --'") == C("params", "x", "=", "1' OR 1=1 --")


@pytest.mark.parametrize(
    ("text", "position", "message"),
    [
        # structure
        ("auc > 1", 0, "expected <entity>.<key>"),
        ("foo.bar = 1", 0, "unknown entity 'foo'"),
        ("metrics.auc > 1 and foo.bar = 1", 20, "unknown entity"),
        ("metrics. = 1", 8, "expected a key"),
        ("metrics. `a` = 1", 8, "expected a key"),
        ("metrics.`` = 1", 8, "empty key"),
        ("metrics.auc 0.9", 12, "expected an operator"),
        ("metrics.auc", 11, "expected an operator"),
        ("metrics.auc ! 1", 12, "unexpected character '!'"),
        ("metrics.auc >", 13, "expected a number"),
        ("metrics.auc > 1 metrics.b > 2", 16, "expected 'and', 'or'"),
        ("metrics.auc > 1 and", 19, "unexpected end of filter"),
        ("and metrics.auc > 1", 0, "expected a comparison"),
        ("metrics.auc > 1 or or metrics.b > 1", 19, "expected a comparison"),
        ("not", 3, "unexpected end"),
        ("metrics.a > 1; drop table runs", 13, "unexpected character ';'"),
        ("metrics.a > 1 # comment", 14, "unexpected character '#'"),
        ("params.x not = 1", 13, "expected 'in', 'like' or 'ilike' after 'not'"),
        ("params.x is 1", 12, "expected 'null'"),
        ("params.x is not", 15, "expected 'null'"),
        # parentheses
        ("(metrics.a > 1", 0, "unbalanced '('"),
        ("((metrics.a > 1)", 0, "unbalanced '('"),
        ("metrics.a > 1)", 13, "unbalanced ')'"),
        ("(metrics.a > 1))", 15, "unbalanced ')'"),
        ("()", 1, "expected a comparison"),
        ("(metrics.a > 1 metrics.b > 1)", 15, "expected 'and', 'or' or ')'"),
        ("params.m in ('a', 'b'", 12, "unbalanced '('"),
        ("params.m in 'a'", 12, "expected '('"),
        ("params.m in ()", 13, "expected a number"),
        ("params.m in ('a' 'b')", 17, "expected ',' or ')'"),
        ("params.m in ('a',)", 17, "expected a number"),
        # literals
        ("params.x = 'abc", 11, "unterminated string"),
        ('params.x = "abc', 11, "unterminated string"),
        ("params.x = 'it''s", 11, "unterminated string"),
        ("metrics.`auc > 1", 8, "unterminated string"),
        ("metrics.auc > 'abc'", 14, "compares with numbers"),
        ("metrics.auc > true", 14, "compares with numbers"),
        ("metrics.auc > abc", 14, "expected a number"),
        ("metrics.auc > 1abc", 14, "invalid number '1abc'"),
        ("metrics.auc > 1.2.3", 14, "invalid number"),
        ("metrics.auc > 1e", 14, "invalid number"),
        ("metrics.auc in (1, 'x')", 19, "compares with numbers"),
        ("metrics.auc like '1%'", 12, "is numeric"),
        ("params.x = `abc`", 11, "back-quotes name a key"),
        ("params.x > true", 11, "true/false only work with = and !="),
        ("params.x like 1", 14, "needs a quoted pattern"),
        ("params.x like 'abc\\'", 14, "lone escape"),
        # attributes
        ("attributes.color = 'red'", 11, "unknown attribute 'color'"),
        ("attr.`start time` > 1", 5, "unknown attribute"),
        ("attributes.status = 1", 20, "compares with a quoted string"),
        ("attributes.start_time > 'yesterday'", 24, "ISO-8601"),
        ("attributes.start_time > true", 24, "epoch milliseconds"),
        ("attributes.end_time like '2024%'", 20, "is numeric"),
        ("attributes.start_time in (1, 'nope')", 29, "ISO-8601"),
    ],
)
def test_syntax_errors(text: str, position: int, message: str) -> None:
    with pytest.raises(FilterSyntaxError) as info:
        parse_filter(text)
    err = info.value
    assert err.position == position, str(err)
    assert message in str(err)
    assert err.text == text
    assert isinstance(err, InvalidInputError) and isinstance(err, ValueError)


def test_error_message_points_at_the_character() -> None:
    with pytest.raises(FilterSyntaxError) as info:
        parse_filter("metrics.auc > 'abc'")
    lines = str(info.value).splitlines()
    assert lines[-2].strip() == "metrics.auc > 'abc'"
    assert lines[-1].index("^") - lines[-2].index("m") == 14


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("metrics.auc", OrderBy("metrics", "auc", False)),
        ("metrics.auc desc", OrderBy("metrics", "auc", True)),
        ("metrics.auc DESC", OrderBy("metrics", "auc", True)),
        ("  params.lr   ASC ", OrderBy("params", "lr", False)),
        ("tags.`my tag` desc", OrderBy("tags", "my tag", True)),
        ("attributes.start_time asc", OrderBy("attributes", "start_time", False)),
        ("attr.id", OrderBy("attributes", "run_id", False)),
    ],
)
def test_order_by(text: str, expected: OrderBy) -> None:
    assert parse_order_by(text) == expected


@pytest.mark.parametrize(
    ("text", "position", "message"),
    [
        ("", 0, "expected <entity>.<key>"),
        ("desc", 0, "expected <entity>.<key>"),
        ("foo.auc", 0, "unknown entity"),
        ("metrics.auc sideways", 12, "expected 'asc', 'desc'"),
        ("metrics.auc desc asc", 17, "expected 'asc', 'desc'"),
        ("attributes.colour", 11, "unknown attribute"),
        ("metrics.auc, params.lr", 11, "expected 'asc', 'desc'"),
        ("'metrics.auc'", 0, "expected <entity>.<key>"),
    ],
)
def test_order_by_errors(text: str, position: int, message: str) -> None:
    with pytest.raises(FilterSyntaxError) as info:
        parse_order_by(text)
    assert info.value.position == position
    assert message in str(info.value)


def test_iso_to_ms() -> None:
    assert iso_to_ms("1970-01-02") == 86_400_000
    assert iso_to_ms("1970-01-01T00:00:01.5Z") == 1500
    assert iso_to_ms("1970-01-01T01:00:00+01:00") == 0
    with pytest.raises(ValueError):
        iso_to_ms("soon")


def test_nodes_are_frozen_and_hashable() -> None:
    node = parse_filter("metrics.a > 0 and not params.b in (1, 2)")
    assert hash(node) == hash(parse_filter("metrics.a > 0 and not params.b in (1, 2)"))
    with pytest.raises(AttributeError):
        node.operands = ()  # type: ignore[union-attr,misc]
