"""Find columns that hold personal data: e-mails, phones, card numbers, IBANs, IP addresses, names, addresses.

:func:`scan_pii` pulls a random sample of rows through the engine (portable SQL: a Bernoulli filter on
``random()`` plus ``LIMIT``, the whole table when it is smaller than the sample) and checks the values in
Python: e-mail syntax, phone layouts, card numbers (Luhn checksum and a card-network first digit), IBANs
(ISO 13616 mod-97 checksum), IPv4/IPv6 (``ipaddress``), street addresses and — for columns whose name
says so — person names. Column names count as evidence too (``email``, ``phone``, ``first_name``,
``street``, ``postcode``, ...).

A finding gives the kind, the share of sampled non-null values that match, the evidence, a confidence
(``high``: name and values agree, or a checksum/syntax-validated kind in ≥ 90% of values; ``medium``:
values alone, or a name with no value check; ``low``: the name suggests personal data but the values do
not look like it — perhaps already pseudonymised) and up to three **masked** examples. Raw values are
never put in the result.

Example::

    scan = scan_pii("customers.parquet")
    scan.pii_columns            # ('email', 'phone', 'full_name')
    print(scan.summary())
"""

from __future__ import annotations

import ipaddress
import math
import re
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from assay.data.schema_diff import _parse_type
from assay.data.sources import bind
from assay.engine import Engine
from assay.engine.sqlcheck import quote_identifier as quote
from assay.errors import InvalidInputError
from assay.results import ResultMixin

__all__ = ["PII_KINDS", "PiiFinding", "PiiScan", "scan_pii"]

PII_KINDS = ("email", "phone", "card_number", "iban", "ip_address", "person_name", "postal_address")
_LABELS = {
    "email": "e-mail addresses", "phone": "phone numbers", "card_number": "payment card numbers",
    "iban": "bank account numbers (IBAN)", "ip_address": "IP addresses", "person_name": "person names",
    "postal_address": "postal addresses",
}  # fmt: skip
_VALIDATED = {"email", "card_number", "iban", "ip_address"}
_MAX_EXAMPLES = 3
_WEAK_NAME_SHARE = 0.8  # a column named just 'name' needs mostly 'First Last' values

_EMAIL = re.compile(
    r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?"
    r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*\.[A-Za-z]{2,}"
)
_IBAN = re.compile(r"[A-Z]{2}\d{2}[A-Z0-9]{11,30}")
_CARD = re.compile(r"\d(?:[ -]?\d){12,18}")
_PHONE_CHARS = re.compile(r"\+?[\d\s().\-/]+")
_DATE_LIKE = re.compile(r"\d{4}[-/.]\d{1,2}[-/.]\d{1,2}|\d{1,2}[-/.]\d{1,2}[-/.]\d{2,4}")
_STREET_TYPES = (
    r"street|st|road|rd|avenue|ave|lane|ln|drive|dr|boulevard|blvd|way|court|ct|place|pl|terrace|close|"
    r"square|sq|crescent|highway|hwy|parkway|pkwy"
)
_ADDRESS = (
    re.compile(rf"^\d+[A-Za-z]?(?:[-/]\d+)?,?\s+(?:[^\W\d_][\w'.-]*\s+){{0,4}}(?:{_STREET_TYPES})\b\.?", re.I),
    re.compile(r"^[^\W\d_][\w'.\- ]*(?:straße|strasse|str\.|weg|gasse|platz|allee|straat|laan|gata|vej)\s*\d+", re.I),
    re.compile(r"^\d+[A-Za-z]?,?\s+(?:rue|avenue|boulevard|chemin|via|viale|calle|avenida|plaza)\s+\w", re.I),
)
_NAME_TOKEN = re.compile(r"[^\W\d_](?:[^\W\d_]|['’.\-](?=[^\W\d_]))*\.?")

_PERSON_PREFIXES = {
    "first", "last", "given", "family", "middle", "full", "maiden", "customer", "client", "contact", "person",
    "patient", "employee", "holder", "cardholder", "recipient", "sender", "owner", "member", "guest", "passenger",
}  # fmt: skip
_PERSON_JOINED = {"surname", "forename", "firstname", "lastname", "fullname", "givenname", "familyname"}
_ADDRESS_TOKENS = {"street", "addr", "postcode", "postalcode", "zip", "zipcode", "housenumber", "streetname"}
_NOT_POSTAL = {"email", "mail", "ip", "mac", "wallet", "web", "url", "bitcoin", "eth", "contract"}


@dataclass(frozen=True)
class PiiFinding:
    """One column that likely holds personal data.

    ``share``: matching share of the ``sampled`` non-null values (``nan`` when none were sampled);
    ``evidence``: why (name match, value match); ``confidence``: high / medium / low;
    ``examples``: up to three masked matching values.
    """

    column: str
    kind: str
    share: float
    evidence: tuple[str, ...]
    examples: tuple[str, ...]
    confidence: str = "medium"
    sampled: int = 0


@dataclass(frozen=True)
class PiiScan(ResultMixin):
    """Columns of ``source`` that likely hold personal data (``columns``), from ``sampled_rows`` of ``rows``."""

    source: str
    rows: int
    sampled_rows: int
    columns: tuple[PiiFinding, ...]
    scanned: tuple[str, ...]
    min_share: float

    @property
    def pii_columns(self) -> tuple[str, ...]:
        """Names of the columns with a finding (any confidence)."""
        return tuple(f.column for f in self.columns)

    def finding(self, column: str) -> PiiFinding | None:
        """The finding for ``column``, or ``None`` when it looks clean."""
        return next((f for f in self.columns if f.column == column), None)

    def summary(self) -> str:
        scope = f"{len(self.scanned)} column{'s' if len(self.scanned) != 1 else ''} of {self.source}"
        sample = (
            f"all {self.rows:,} rows checked"
            if self.sampled_rows >= self.rows
            else f"a random sample of {self.sampled_rows:,} of {self.rows:,} rows checked"
        )
        if not self.columns:
            return f"No personal data found in the {scope} ({sample})."
        parts = []
        for f in self.columns:
            how = f"{f.share:.0%} of sampled values" if not math.isnan(f.share) and f.share > 0 else "by column name"
            parts.append(f"'{f.column}' ({_LABELS[f.kind]}, {how}, {f.confidence} confidence)")
        n = len(self.columns)
        return (
            f"Likely personal data in {n} of the {scope} ({sample}): {'; '.join(parts)}. "
            "Pseudonymise or drop these columns before sharing the data."
        )


# -- value checks ---------------------------------------------------------------------------------------
def _luhn(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = ord(ch) - 48
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def _iban_ok(compact: str) -> bool:
    moved = compact[4:] + compact[:4]
    return int("".join(str(int(ch, 36)) for ch in moved)) % 97 == 1


def _is_phone(s: str, lenient: bool) -> bool:
    if not _PHONE_CHARS.fullmatch(s) or _DATE_LIKE.fullmatch(s):
        return False
    digits = sum(ch.isdigit() for ch in s)
    if not 7 <= digits <= 15:
        return False
    if s.startswith("+") or "(" in s:
        return True
    groups = [g for g in re.split(r"[\s.\-/]+", s) if g]
    return len(groups) >= 3 or lenient


def _is_name(s: str, at_least: int) -> bool:
    tokens = s.split()
    if not at_least <= len(tokens) <= 5:
        return False
    return all(_NAME_TOKEN.fullmatch(t) and t[0].isupper() for t in tokens) and sum(map(len, tokens)) >= 2


def _classify(s: str, hints: set[str], weak_name: bool) -> str | None:
    """The PII kind of one stripped, non-empty value, or ``None``."""
    if "@" in s:
        return "email" if _EMAIL.fullmatch(s) else None
    compact = s.replace(" ", "").replace("-", "")
    if compact[:2].isalpha() and 15 <= len(compact) <= 34 and compact[2:4].isdigit():
        upper = compact.upper()
        if _IBAN.fullmatch(upper) and _iban_ok(upper):
            return "iban"
    if s[0].isdigit() and _CARD.fullmatch(s) and compact[0] in "23456" and _luhn(compact):
        return "card_number"
    if ("." in s or ":" in s) and len(s) <= 45:
        try:
            ipaddress.ip_address(s)
            return "ip_address"
        except ValueError:
            pass
    if _is_phone(s, lenient="phone" in hints):
        return "phone"
    if any(p.search(s) for p in _ADDRESS):
        return "postal_address"
    if "person_name" in hints and _is_name(s, 2 if weak_name else 1):
        return "person_name"
    return None


# -- name checks ----------------------------------------------------------------------------------------
def _tokens(name: str) -> list[str]:
    spaced = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", name)
    return [t for t in re.split(r"[^A-Za-z0-9]+", spaced.lower()) if t]


def _name_hints(name: str) -> tuple[list[str], bool]:
    """PII kinds the column name suggests, most specific first, and whether a person-name hint is weak."""
    toks = _tokens(name)
    joined = "".join(toks)
    hints: list[str] = []
    if "email" in joined or "mail" in toks:
        hints.append("email")
    if "phone" in joined or set(toks) & {"tel", "telephone", "mobile", "cell", "fax", "msisdn"}:
        hints.append("phone")
    if any(k in joined for k in ("creditcard", "cardnumber", "ccnum", "cardno", "debitcard")) or "pan" in toks:
        hints.append("card_number")
    if "iban" in toks or joined.startswith("iban"):
        hints.append("iban")
    if "ip" in toks or any(k in joined for k in ("ipaddr", "ipv4", "ipv6", "remoteaddr", "clientip")):
        hints.append("ip_address")
    weak = False
    if joined in _PERSON_JOINED or any(
        t == "name" and i > 0 and toks[i - 1] in _PERSON_PREFIXES for i, t in enumerate(toks)
    ):
        hints.append("person_name")
    elif toks == ["name"] or joined == "names":
        hints.append("person_name")
        weak = True
    postal = set(toks) & _ADDRESS_TOKENS or any(k in joined for k in ("postcode", "postalcode", "zipcode"))
    if not postal and "address" in joined:
        postal = not (set(toks) & _NOT_POSTAL) and "ip_address" not in hints and "email" not in hints
    if postal:
        hints.append("postal_address")
    return hints, weak


# -- masking --------------------------------------------------------------------------------------------
def _mask_word(word: str) -> str:
    return "".join("*" if ch.isdigit() or (ch.isalnum() and i > 0) else ch for i, ch in enumerate(word))


def _mask_generic(s: str) -> str:
    return " ".join(_mask_word(w) for w in s.split(" "))


def _mask_email(s: str) -> str:
    local, _, domain = s.rpartition("@")
    labels = domain.split(".")
    masked = [lab[0] + "***" for lab in labels[:-1]] + [labels[-1]]
    return f"{local[:1]}***@{'.'.join(masked)}"


def _mask_keep_last(s: str, keep: int) -> str:
    total = sum(ch.isalnum() for ch in s)
    seen = 0
    out = []
    for ch in s:
        if ch.isalnum():
            seen += 1
            out.append(ch if seen > total - keep else "*")
        else:
            out.append(ch)
    return "".join(out)


def _mask_ip(s: str) -> str:
    if ":" in s:
        return s.split(":")[0] + ":*:*:*"
    return s.split(".")[0] + ".*.*.*"


def _mask_iban(s: str) -> str:
    return s[:2] + _mask_keep_last(s[2:], 2)


_MASKS: dict[str, Callable[[str], str]] = {
    "email": _mask_email,
    "phone": lambda s: _mask_keep_last(s, 2),
    "card_number": lambda s: _mask_keep_last(s, 4),
    "iban": _mask_iban,
    "ip_address": _mask_ip,
}


def mask(value: str, kind: str) -> str:
    """``value`` masked for display as ``kind`` (last digits of cards and phones, initials of words)."""
    return _MASKS.get(kind, _mask_generic)(value)


# -- the scan -------------------------------------------------------------------------------------------
def _pick_columns(columns: str | Sequence[str] | None, available: list[str], label: str) -> list[str]:
    if columns is None:
        return available
    wanted = [columns] if isinstance(columns, str) else list(columns)
    missing = [c for c in wanted if c not in available]
    if missing:
        raise InvalidInputError(
            f"no column {', '.join(repr(m) for m in missing)} in {label}; its columns are: {', '.join(available)}"
        )
    return list(dict.fromkeys(wanted))


def scan_pii(
    source: object,
    *,
    engine: Engine | None = None,
    sample_rows: int = 10_000,
    columns: str | Sequence[str] | None = None,
    min_share: float = 0.5,
) -> PiiScan:
    """Find the columns of ``source`` that likely hold personal data, from a random sample of rows.

    ``source``: anything :func:`assay.data.sources.bind` accepts. ``sample_rows``: rows pulled through the
    engine (all of them when the table is smaller). ``columns``: restrict the scan (an unknown name raises
    :class:`~assay.errors.InvalidInputError` listing the columns there). ``min_share``: share of sampled
    non-null values that must match for a column to be reported on its values alone.
    """
    if isinstance(sample_rows, bool) or not isinstance(sample_rows, int) or sample_rows < 1:
        raise InvalidInputError(f"sample_rows must be a positive integer; got {sample_rows!r}")
    if not 0 < min_share <= 1:
        raise InvalidInputError(f"min_share must be in (0, 1]; got {min_share!r}")
    with bind(source, engine, name="pii") as bound:
        chosen = _pick_columns(columns, list(bound.columns), bound.label)
        textual = [c for c in chosen if _parse_type(bound.columns[c]).family in ("string", "int", "uint")]
        rows = int(bound.engine.scalar(f"SELECT count(*) AS n FROM {bound.relation}") or 0)
        sample: dict[str, list[object]] = {c: [] for c in textual}
        sampled = 0
        if textual and rows:
            items = ", ".join(f"CAST({quote(c)} AS VARCHAR) AS v{i}" for i, c in enumerate(textual))
            where = ""
            if rows > sample_rows:  # Bernoulli sample, a little oversized, then capped
                where = f" WHERE random() < {min(1.0, 1.2 * sample_rows / rows):.9f}"
            table = bound.engine.sql(f"SELECT {items} FROM {bound.relation}{where} LIMIT {sample_rows}")
            sampled = table.num_rows
            sample = {c: table.column(f"v{i}").to_pylist() for i, c in enumerate(textual)}
    findings = [f for c in chosen if (f := _judge(c, sample.get(c), min_share)) is not None]
    return PiiScan(bound.label, rows, sampled, tuple(findings), tuple(chosen), float(min_share))


def _judge(column: str, values: list[object] | None, min_share: float) -> PiiFinding | None:
    hints, weak = _name_hints(column)
    hint_set = set(hints)
    texts = [s for v in values or () if v is not None and (s := str(v).strip())]
    kinds: Counter[str] = Counter()
    examples: dict[str, list[str]] = {}
    for s in texts:
        kind = _classify(s, hint_set, weak)
        if kind is None:
            continue
        kinds[kind] += 1
        bucket = examples.setdefault(kind, [])
        if len(bucket) < _MAX_EXAMPLES and s not in bucket:
            bucket.append(s)
    n = len(texts)
    share = {k: c / n for k, c in kinds.items()} if n else {}
    best = max(share, key=lambda k: (share[k], k in hint_set), default=None)
    evidence: list[str] = []
    needed = max(min_share, _WEAK_NAME_SHARE) if weak and best == "person_name" else min_share
    if best is not None and share[best] >= needed:
        kind = best
        evidence.append(f"values: {share[kind]:.0%} of {n:,} sampled non-null values look like {_LABELS[kind]}")
        if kind in hint_set:
            evidence.insert(0, f"name: '{column}' suggests {_LABELS[kind]}")
            confidence = "medium" if weak and kind == "person_name" else "high"
        elif kind in _VALIDATED and share[kind] >= 0.9:
            confidence = "high"
        else:
            confidence = "medium"
    elif hints and not (weak and hints == ["person_name"]):
        kind = hints[0]
        evidence.append(f"name: '{column}' suggests {_LABELS[kind]}")
        if n == 0:
            evidence.append("no non-null values to check" if values is not None else "values not checked (type)")
            confidence = "medium"
        elif kind == "postal_address" or (kind == "person_name" and share.get(kind, 0.0) > 0):
            evidence.append(f"values: {share.get(kind, 0.0):.0%} of {n:,} sampled values match a value pattern")
            confidence = "medium"
        else:
            evidence.append(
                f"values: only {share.get(kind, 0.0):.0%} of {n:,} sampled values look like {_LABELS[kind]} "
                "(already masked or pseudonymised?)"
            )
            confidence = "low"
    else:
        return None
    shown = tuple(mask(s, kind) for s in examples.get(kind, []))
    return PiiFinding(
        column=column,
        kind=kind,
        share=share.get(kind, 0.0) if n else math.nan,
        evidence=tuple(evidence),
        examples=shown,
        confidence=confidence,
        sampled=n,
    )
