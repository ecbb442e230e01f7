"""Run-search filter language: tokenizer and recursive-descent parser into a small frozen AST.

A filter is comparisons joined by ``and``, ``or``, ``not`` and parentheses (``not`` binds
tightest, then ``and``, then ``or``)::

    metrics.auc > 0.9 and (params.model = 'lgbm' or tags.stage != "dev")
    params.num_leaves in (31, 63) and not attributes.status = 'FAILED'
    metrics.`val auc` >= 1e-3 and attributes.start_time >= '2024-05-01'
    attributes.end_time is null and tags.owner ilike 'ali%'

Grammar (keywords case-insensitive)::

    filter     := [or_expr] EOF
    or_expr    := and_expr ("or" and_expr)*
    and_expr   := not_expr ("and" not_expr)*
    not_expr   := "not" not_expr | "(" or_expr ")" | comparison
    comparison := field op
    field      := ENTITY "." KEY          -- KEY bare [A-Za-z0-9_.\\-/]+ or quoted: metrics.`a b`
    op         := ("=" | "==" | "!=" | "<>" | "<" | "<=" | ">" | ">=") literal
                | ["not"] ("like" | "ilike") string | ["not"] "in" "(" literal ("," literal)* ")"
                | "is" ["not"] "null"
    literal    := number | 'string' | "string" | true | false   -- '' inside quotes is a quote
    order_by   := field ["asc" | "desc"] EOF

Entities: ``metrics`` (numbers), ``params`` and ``tags`` (text; a number literal compares
numerically), ``attributes``/``attr`` with keys ``status``, ``name``, ``run_id`` (``id``),
``start_time``, ``end_time`` (epoch milliseconds or an ISO-8601 string, naive means UTC) and
``user``. Everything after the first dot is the key: ``metrics.val.auc`` is metric ``val.auc``.
Literal types are checked against the field and operator here, so every mistake is reported
as a :class:`~assay.errors.FilterSyntaxError` pointing at the offending character.

Example::

    >>> parse_filter("metrics.auc > 0.9")
    Comparison(entity='metrics', key='auc', op='>', value=0.9)
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime

from assay.errors import FilterSyntaxError

__all__ = [
    "And",
    "Comparison",
    "Entity",
    "Node",
    "Not",
    "Or",
    "OrderBy",
    "Scalar",
    "iso_to_ms",
    "parse_filter",
    "parse_order_by",
]

Scalar = str | int | float | bool
Entity = str  # one of "metrics", "params", "tags", "attributes"

ENTITIES: dict[str, str] = {
    "metrics": "metrics",
    "metric": "metrics",
    "params": "params",
    "param": "params",
    "tags": "tags",
    "tag": "tags",
    "attributes": "attributes",
    "attribute": "attributes",
    "attr": "attributes",
}
ATTRIBUTES: dict[str, str] = {
    "status": "status",
    "name": "name",
    "run_name": "name",
    "run_id": "run_id",
    "id": "run_id",
    "start_time": "start_time",
    "end_time": "end_time",
    "user": "user",
}
TIME_ATTRIBUTES = frozenset({"start_time", "end_time"})
COMPARE_OPS = frozenset({"=", "!=", "<", "<=", ">", ">="})
LIKE_OPS = frozenset({"like", "ilike", "not like", "not ilike"})
IN_OPS = frozenset({"in", "not in"})
NULL_OPS = frozenset({"is null", "is not null"})
_SYMBOL_OPS = {"==": "=", "=": "=", "!=": "!=", "<>": "!=", "<=": "<=", ">=": ">=", "<": "<", ">": ">"}
_KEYWORDS = frozenset({"and", "or", "not", "in", "like", "ilike", "is", "null", "true", "false"})

_IDENT_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_.\-/]*")
_NUMBER_RE = re.compile(r"[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?")
_INT_RE = re.compile(r"[-+]?\d+")
_SYMBOL_RE = re.compile(r"==|!=|<>|<=|>=|=|<|>")
_IDENT_CHAR = re.compile(r"[A-Za-z0-9_.]")


@dataclass(frozen=True)
class Comparison:
    """``<entity>.<key> <op> <value>``; ``value`` is a tuple for ``in``, ``None`` for ``is null``."""

    entity: Entity
    key: str
    op: str
    value: Scalar | tuple[Scalar, ...] | None = None
    position: int = field(default=0, compare=False, repr=False)


@dataclass(frozen=True)
class And:
    """All operands hold."""

    operands: tuple[Node, ...]


@dataclass(frozen=True)
class Or:
    """At least one operand holds."""

    operands: tuple[Node, ...]


@dataclass(frozen=True)
class Not:
    """The operand does not hold (a run without the key matches ``not <comparison on key>``)."""

    operand: Node


@dataclass(frozen=True)
class OrderBy:
    """One ``order_by`` item: ``metrics.auc desc``."""

    entity: Entity
    key: str
    descending: bool = False


Node = Comparison | And | Or | Not


def parse_filter(text: str | None) -> Node | None:
    """Parse a filter string into an AST; ``None`` or a blank string means "no filter".

    Example::

        >>> parse_filter("params.model = 'lgbm' and metrics.auc > 0.9")
        And(operands=(Comparison(entity='params', ...), Comparison(entity='metrics', ...)))
    """
    if text is None or not text.strip():
        return None
    parser = _Parser(text)
    node = parser.parse_or()
    tok = parser.peek()
    if tok.kind == "rparen":
        raise parser.error("unbalanced ')': no '(' to close", tok.pos)
    if tok.kind != "eof":
        raise parser.error(f"expected 'and', 'or' or the end of the filter, got {tok.describe()}", tok.pos)
    return node


def parse_order_by(text: str) -> OrderBy:
    """Parse one ``order_by`` item, ``<entity>.<key> [asc|desc]`` (ascending by default).

    Example::

        >>> parse_order_by("metrics.auc DESC")
        OrderBy(entity='metrics', key='auc', descending=True)
    """
    parser = _Parser(text)
    tok = parser.advance()
    if tok.kind != "ident":
        raise parser.error(f"expected <entity>.<key> to order by, got {tok.describe()}", tok.pos)
    entity, key, _ = parser.parse_field(tok)
    descending = False
    tok = parser.peek()
    if tok.is_keyword("asc", "desc"):
        descending = parser.advance().text.lower() == "desc"
        tok = parser.peek()
    if tok.kind != "eof":
        raise parser.error(f"expected 'asc', 'desc' or the end, got {tok.describe()}", tok.pos)
    return OrderBy(entity, key, descending)


def iso_to_ms(value: str) -> int:
    """Epoch milliseconds of an ISO-8601 date or datetime (naive means UTC).

    Example::

        >>> iso_to_ms("1970-01-02")
        86400000
    """
    moment = datetime.fromisoformat(value.strip())
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return round(moment.timestamp() * 1000)


@dataclass(frozen=True)
class _Token:
    kind: str  # ident, number, string, op, lparen, rparen, comma, eof
    text: str
    pos: int
    end: int
    value: Scalar = ""
    quote: str = ""

    def is_keyword(self, *words: str) -> bool:
        return self.kind == "ident" and self.text.lower() in words

    def describe(self) -> str:
        return "the end of the input" if self.kind == "eof" else repr(self.text)


def _tokenize(text: str) -> list[_Token]:
    tokens: list[_Token] = []
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch.isspace():
            i += 1
        elif ch in "(),":
            kind = {"(": "lparen", ")": "rparen", ",": "comma"}[ch]
            tokens.append(_Token(kind, ch, i, i + 1))
            i += 1
        elif ch in "'\"`":
            tokens.append(_read_quoted(text, i))
            i = tokens[-1].end
        elif m := _NUMBER_RE.match(text, i):
            end = m.end()
            if end < n and _IDENT_CHAR.match(text, end):
                bad = _IDENT_RE.match(text, end)
                word = text[i : bad.end() if bad else end + 1]
                raise FilterSyntaxError(f"invalid number {word!r}", text=text, position=i)
            raw = m.group()
            number: int | float = int(raw) if _INT_RE.fullmatch(raw) and abs(int(raw)) < 2**63 else float(raw)
            tokens.append(_Token("number", raw, i, end, number))
            i = end
        elif m := _IDENT_RE.match(text, i):
            tokens.append(_Token("ident", m.group(), i, m.end()))
            i = m.end()
        elif m := _SYMBOL_RE.match(text, i):
            tokens.append(_Token("op", m.group(), i, m.end(), _SYMBOL_OPS[m.group()]))
            i = m.end()
        else:
            raise FilterSyntaxError(f"unexpected character {ch!r}", text=text, position=i)
    tokens.append(_Token("eof", "", n, n))
    return tokens


def _read_quoted(text: str, start: int) -> _Token:
    quote = text[start]
    parts: list[str] = []
    i = start + 1
    while True:
        j = text.find(quote, i)
        if j < 0:
            raise FilterSyntaxError(f"unterminated string: no closing {quote}", text=text, position=start)
        parts.append(text[i:j])
        if j + 1 < len(text) and text[j + 1] == quote:  # doubled quote stands for one quote
            parts.append(quote)
            i = j + 2
            continue
        return _Token("string", text[start : j + 1], start, j + 1, "".join(parts), quote)


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = _tokenize(text)
        self.index = 0

    def peek(self) -> _Token:
        return self.tokens[self.index]

    def advance(self) -> _Token:
        tok = self.tokens[self.index]
        if tok.kind != "eof":
            self.index += 1
        return tok

    def error(self, message: str, position: int) -> FilterSyntaxError:
        return FilterSyntaxError(message, text=self.text, position=position)

    # -- boolean structure ------------------------------------------------------------------
    def parse_or(self) -> Node:
        operands = [self.parse_and()]
        while self.peek().is_keyword("or"):
            self.advance()
            operands.append(self.parse_and())
        return operands[0] if len(operands) == 1 else Or(tuple(operands))

    def parse_and(self) -> Node:
        operands = [self.parse_not()]
        while self.peek().is_keyword("and"):
            self.advance()
            operands.append(self.parse_not())
        return operands[0] if len(operands) == 1 else And(tuple(operands))

    def parse_not(self) -> Node:
        tok = self.peek()
        if tok.is_keyword("not"):
            self.advance()
            return Not(self.parse_not())
        if tok.kind == "lparen":
            self.advance()
            node = self.parse_or()
            close = self.advance()
            if close.kind == "eof":
                raise self.error("unbalanced '(': it is never closed", tok.pos)
            if close.kind != "rparen":
                raise self.error(f"expected 'and', 'or' or ')', got {close.describe()}", close.pos)
            return node
        return self.parse_comparison()

    # -- comparisons ---------------------------------------------------------------------------
    def parse_comparison(self) -> Comparison:
        tok = self.advance()
        if tok.kind != "ident" or tok.text.lower() in _KEYWORDS:
            what = "unexpected end of filter" if tok.kind == "eof" else f"unexpected {tok.describe()}"
            raise self.error(f"{what}: expected a comparison such as metrics.auc > 0.9", tok.pos)
        entity, key, _ = self.parse_field(tok)
        op, op_pos = self.parse_op(entity, key)
        node = Comparison(entity, key, op, None, tok.pos)
        if op in NULL_OPS:
            return node
        if op in IN_OPS:
            values = self.parse_list()
            for value, pos in values:
                self.check_literal(entity, key, "=", value, pos, op_pos)
            return Comparison(entity, key, op, tuple(v for v, _ in values), tok.pos)
        lit = self.peek()
        value = self.parse_literal()
        self.check_literal(entity, key, op, value, lit.pos, op_pos)
        return Comparison(entity, key, op, value, tok.pos)

    def parse_field(self, tok: _Token) -> tuple[Entity, str, int]:
        """Split ``entity.key`` (or ``entity.`` + an adjacent quoted key) and validate both parts."""
        if "." not in tok.text:
            raise self.error(
                f"expected <entity>.<key> (metrics., params., tags. or attributes.), got {tok.describe()}",
                tok.pos,
            )
        raw_entity, key = tok.text.split(".", 1)
        entity = ENTITIES.get(raw_entity.lower())
        if entity is None:
            raise self.error(f"unknown entity {raw_entity!r}: use metrics, params, tags or attributes", tok.pos)
        key_pos = tok.pos + len(raw_entity) + 1
        if not key:
            nxt = self.peek()
            if nxt.kind != "string" or nxt.pos != tok.end:
                raise self.error(f"expected a key right after '{raw_entity}.'", tok.end)
            self.advance()
            key, key_pos = str(nxt.value), nxt.pos
            if not key:
                raise self.error("empty key", nxt.pos)
        if entity == "attributes":
            canonical = ATTRIBUTES.get(key.lower())
            if canonical is None:
                known = ", ".join(sorted(set(ATTRIBUTES.values())))
                raise self.error(f"unknown attribute {key!r}: known attributes are {known}", key_pos)
            key = canonical
        return entity, key, key_pos

    def parse_op(self, entity: Entity, key: str) -> tuple[str, int]:
        tok = self.advance()
        if tok.kind == "op":
            return str(tok.value), tok.pos
        word = tok.text.lower() if tok.kind == "ident" else ""
        if word in ("like", "ilike", "in"):
            return word, tok.pos
        if word == "not":
            nxt = self.advance()
            if nxt.is_keyword("like", "ilike", "in"):
                return f"not {nxt.text.lower()}", tok.pos
            raise self.error(f"expected 'in', 'like' or 'ilike' after 'not', got {nxt.describe()}", nxt.pos)
        if word == "is":
            nxt = self.advance()
            negated = nxt.is_keyword("not")
            if negated:
                nxt = self.advance()
            if not nxt.is_keyword("null"):
                raise self.error(f"expected 'null', got {nxt.describe()}", nxt.pos)
            return ("is not null" if negated else "is null"), tok.pos
        raise self.error(
            f"expected an operator (=, !=, <, <=, >, >=, like, ilike, in, is null) after "
            f"{entity}.{key}, got {tok.describe()}",
            tok.pos,
        )

    def parse_list(self) -> list[tuple[Scalar, int]]:
        open_tok = self.advance()
        if open_tok.kind != "lparen":
            raise self.error(f"expected '(' to start the list, got {open_tok.describe()}", open_tok.pos)
        values: list[tuple[Scalar, int]] = []
        while True:
            pos = self.peek().pos
            values.append((self.parse_literal(), pos))
            sep = self.advance()
            if sep.kind == "rparen":
                return values
            if sep.kind == "eof":
                raise self.error("unbalanced '(': the list is never closed", open_tok.pos)
            if sep.kind != "comma":
                raise self.error(f"expected ',' or ')' in the list, got {sep.describe()}", sep.pos)

    def parse_literal(self) -> Scalar:
        tok = self.advance()
        if tok.kind == "number":
            return tok.value
        if tok.kind == "string":
            if tok.quote == "`":
                raise self.error("back-quotes name a key; quote a string with ' or \"", tok.pos)
            return str(tok.value)
        if tok.is_keyword("true", "false"):
            return tok.text.lower() == "true"
        what = "the end of the input" if tok.kind == "eof" else repr(tok.text)
        raise self.error(f"expected a number, a quoted string, true or false, got {what}", tok.pos)

    def check_literal(self, entity: Entity, key: str, op: str, value: Scalar, pos: int, op_pos: int) -> None:
        """Reject a literal the field and operator cannot compare with, pointing at it."""
        name = f"{entity}.{key}"
        is_number = isinstance(value, int | float) and not isinstance(value, bool)
        if op in LIKE_OPS:
            if entity == "metrics" or (key in TIME_ATTRIBUTES and entity == "attributes"):
                raise self.error(f"{name} is numeric: '{op}' needs a text field", op_pos)
            if not isinstance(value, str):
                raise self.error(f"'{op}' needs a quoted pattern, got {value!r}", pos)
            if (len(value) - len(value.rstrip("\\"))) % 2 == 1:
                raise self.error("a like pattern cannot end with a lone escape '\\'", pos)
            return
        if entity == "metrics":
            if not is_number:
                raise self.error(f"{name} compares with numbers, got {value!r}", pos)
        elif entity == "attributes" and key in TIME_ATTRIBUTES:
            if isinstance(value, bool) or not (is_number or isinstance(value, str)):
                raise self.error(f"{name} compares with epoch milliseconds or an ISO date", pos)
            if isinstance(value, str):
                try:
                    iso_to_ms(value)
                except ValueError:
                    raise self.error(
                        f"{name} needs epoch milliseconds or an ISO-8601 date, got {value!r}", pos
                    ) from None
        elif entity == "attributes":
            if not isinstance(value, str):
                raise self.error(f"{name} compares with a quoted string, got {value!r}", pos)
        elif isinstance(value, bool) and op not in ("=", "!="):
            raise self.error(f"true/false only work with = and !=, not '{op}'", pos)
