"""scan_pii: value checks (Luhn, mod 97, e-mail, phone, IP), name evidence, masking, sampling, edge cases."""

from __future__ import annotations

import math
import random
from pathlib import Path

import pyarrow as pa
import pytest

from assay.data.pii import PiiScan, _classify, _iban_ok, _luhn, _name_hints, mask, scan_pii
from assay.engine import Engine
from assay.errors import InvalidInputError

RAW_SECRETS = ("ada@example.com", "4111 1111 1111 1111", "GB82 WEST 1234 5698 7654 32", "Ada Lovelace")


def _people(n: int = 40) -> pa.Table:
    rng = random.Random(7)
    firsts = ["Ada", "Alan", "Grace", "Edsger", "Barbara", "Donald", "Frances", "Tim"]
    lasts = ["Lovelace", "Turing", "Hopper", "Dijkstra", "Liskov", "Knuth", "Allen", "Berners-Lee"]
    cards = ["4111 1111 1111 1111", "5500-0000-0000-0004", "378282246310005", "6011111111111117"]
    ibans = ["GB82 WEST 1234 5698 7654 32", "DE89370400440532013000", "FR1420041010050500013M02606"]
    return pa.table(
        {
            "customer_id": list(range(1, n + 1)),
            "contact_email": [f"{rng.choice(firsts).lower()}{i}@example.com" for i in range(n)],
            "mobile": [f"+44 7{rng.randrange(100, 999)} {rng.randrange(100000, 999999)}" for _ in range(n)],
            "payment": [cards[i % 4] for i in range(n)],
            "account": [ibans[i % 3] for i in range(n)],
            "last_ip": [f"10.{i}.{rng.randrange(256)}.{rng.randrange(256)}" for i in range(n)],
            "full_name": [f"{rng.choice(firsts)} {rng.choice(lasts)}" for _ in range(n)],
            "billing_address": [f"{rng.randrange(1, 300)} Baker Street" for _ in range(n)],
            "plan": [rng.choice(["free", "pro"]) for _ in range(n)],
            "amount": [rng.random() * 100 for _ in range(n)],
        }
    )


def test_checksums() -> None:
    assert _luhn("4111111111111111") and not _luhn("4111111111111112")
    assert _iban_ok("GB82WEST12345698765432") and not _iban_ok("GB83WEST12345698765432")
    assert _classify("4111111111111112", set(), False) is None  # fails Luhn
    assert _classify("GB83 WEST 1234 5698 7654 32", set(), False) is None  # fails mod 97
    assert _classify("1234567812345670", set(), False) is None  # Luhn-valid, but no card network starts with 1
    assert _classify("2024-01-15", set(), False) is None  # a date is not a phone number
    assert _classify("5551234567", set(), False) is None  # bare digits: a phone only when the name says so
    assert _classify("5551234567", {"phone"}, False) == "phone"
    assert _classify("::1", set(), False) == "ip_address"
    assert _classify("Ada Lovelace", set(), False) is None  # names need a column-name hint


def test_finds_each_kind_with_evidence_and_masked_examples() -> None:
    scan = scan_pii(_people())
    kinds = {f.column: f.kind for f in scan.columns}
    assert kinds == {
        "contact_email": "email",
        "mobile": "phone",
        "payment": "card_number",
        "account": "iban",
        "last_ip": "ip_address",
        "full_name": "person_name",
        "billing_address": "postal_address",
    }
    assert scan.pii_columns == tuple(kinds)
    email = scan.finding("contact_email")
    assert email is not None and email.share == 1.0 and email.confidence == "high" and email.sampled == 40
    assert any(e.startswith("name:") for e in email.evidence) and any(e.startswith("values:") for e in email.evidence)
    card = scan.finding("payment")
    assert card is not None and card.confidence == "high"  # checksum-validated in every value
    assert all(ex.endswith(("1111", "0004", "0005", "1117")) and "*" in ex for ex in card.examples)
    text = repr(scan.to_dict()) + scan.summary() + scan._repr_html_()
    for secret in RAW_SECRETS:
        assert secret not in text
    assert scan.finding("plan") is None and scan.finding("customer_id") is None
    assert "Likely personal data in 7" in scan.summary()


def test_masks() -> None:
    assert mask("ada.lovelace@example.co.uk", "email") == "a***@e***.c***.uk"
    assert mask("4111 1111 1111 1111", "card_number") == "**** **** **** 1111"
    assert mask("+44 20 7946 0958", "phone") == "+** ** **** **58"
    assert mask("192.168.1.20", "ip_address") == "192.*.*.*"
    assert (
        mask("GB82WEST12345698765432", "iban").startswith("GB") and mask("GB82WEST12345698765432", "iban")[-2:] == "32"
    )
    assert mask("Ada Lovelace", "person_name") == "A** L*******"


def test_name_hints() -> None:
    assert _name_hints("customerEmail")[0] == ["email"]
    assert _name_hints("ip_address")[0] == ["ip_address"]  # not a postal address
    assert _name_hints("email_address")[0] == ["email"]
    assert _name_hints("first_name")[0] == ["person_name"]
    assert _name_hints("name") == (["person_name"], True)  # weak: needs values to confirm
    assert _name_hints("product_name")[0] == []
    assert _name_hints("zip_code")[0] == ["postal_address"]


def test_name_only_and_contradicting_values() -> None:
    t = pa.table(
        {
            "email": ["3f2a9c", "77b1e0", "aa01ff"],  # already pseudonymised
            "postcode": ["SW1A 1AA", "EC1A 1BB", "W1A 0AX"],
            "name": ["Blue Widget", "Red Hat", "Green Gadget"],  # a bare 'name' with too few 'First Last' values
            "surname": pa.array([None, None, None], pa.string()),
        }
    )
    scan = scan_pii(t)
    email = scan.finding("email")
    assert email is not None and email.confidence == "low" and email.share == 0.0 and email.examples == ()
    postcode = scan.finding("postcode")
    assert postcode is not None and postcode.kind == "postal_address" and postcode.confidence == "medium"
    surname = scan.finding("surname")  # all null: by name only, share unknown
    assert surname is not None and math.isnan(surname.share) and surname.sampled == 0
    assert scan.finding("name") is not None  # 'Red Hat', 'Blue Widget', 'Green Gadget' all look like names...
    assert scan.finding("name").confidence == "medium"  # ...but only a weak hint backs it


def test_values_alone_find_pii_under_a_neutral_name() -> None:
    t = pa.table({"c1": ["ada@example.com", "bob@example.org", "n/a", "eve@example.net"], "c2": ["a", "b", "c", "d"]})
    scan = scan_pii(t)
    assert scan.pii_columns == ("c1",)
    f = scan.finding("c1")
    assert f is not None and f.share == 0.75 and f.confidence == "medium" and f.evidence[0].startswith("values:")
    assert scan_pii(t, min_share=0.8).pii_columns == ()


def test_sampling_caps_rows_and_keeps_the_share() -> None:
    n = 20_000
    t = pa.table({"email": [f"u{i}@example.com" if i % 4 else f"user {i}" for i in range(n)], "k": list(range(n))})
    scan = scan_pii(t, sample_rows=2_000)
    assert scan.rows == n and 0 < scan.sampled_rows <= 2_000
    f = scan.finding("email")
    assert f is not None and 0.65 < f.share < 0.85 and f.sampled == scan.sampled_rows
    assert "random sample" in scan.summary()


def test_columns_filter_empty_table_and_errors(tmp_path: Path) -> None:
    t = _people(5)
    scan = scan_pii(t, columns=["plan", "mobile"])
    assert scan.scanned == ("plan", "mobile") and scan.pii_columns == ("mobile",)
    with pytest.raises(InvalidInputError, match=r"no column 'phone'.*customer_id, contact_email"):
        scan_pii(t, columns=["phone"])
    with pytest.raises(InvalidInputError, match="sample_rows"):
        scan_pii(t, sample_rows=0)
    empty = scan_pii(pa.table({"email": pa.array([], pa.string()), "x": pa.array([], pa.int64())}))
    assert isinstance(empty, PiiScan) and empty.rows == 0 and empty.pii_columns == ("email",)
    assert empty.finding("email").confidence == "medium"
    clean = scan_pii(pa.table({"x": [1, 2], "y": ["a", "b"]}))
    assert clean.columns == () and clean.summary().startswith("No personal data found")
    corrupt = tmp_path / "broken.parquet"
    corrupt.write_bytes(b"PAR1 garbage PAR1")
    with pytest.raises(InvalidInputError):
        scan_pii(corrupt)


def test_scan_is_portable_across_engines(backend_engine: Engine) -> None:
    backend_engine.register("people_pii", _people(30))
    scan = scan_pii("people_pii", engine=backend_engine, sample_rows=20)
    assert scan.rows == 30 and 0 < scan.sampled_rows <= 20
    assert {"contact_email", "payment", "account", "full_name"} <= set(scan.pii_columns)
    assert scan.finding("payment").kind == "card_number"
