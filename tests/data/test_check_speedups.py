"""The DuckDB fast paths of contract checks give exactly what the plain SQL gives.

* regex -> GLOB (``assay.data._glob``): on random patterns of the translatable subset and random strings
  built to hit near misses (wrong length, wrong class, non-ASCII, newline), GLOB and RE2 agree row by row;
  patterns outside the subset are left to RE2.
* integer duplicates in NumPy (``assay.data._duplicates``): same failing count and first values as the
  ``GROUP BY ... HAVING count(*) > 1`` query, dense and sparse, negative, with NULLs, empty.
"""

from __future__ import annotations

import random

import numpy as np
import pandas as pd
import pytest

from assay.data._duplicates import MAX_VALUES, integer_duplicates
from assay.data._glob import regex_to_glob
from assay.data.contract import Contract
from assay.engine import connect

TRANSLATABLE = {
    r"^SKU-[0-9]{6}$": "SKU-[0-9][0-9][0-9][0-9][0-9][0-9]",
    r"^[0-9]{5}$": "[0-9][0-9][0-9][0-9][0-9]",
    r"^\d{3}-\d{4}$": "[0-9][0-9][0-9]-[0-9][0-9][0-9][0-9]",
    r"^[A-F0-9]{2}\.x$": "[0-9A-F][0-9A-F].x",
    r"^[abcxyz]$": "[a-cx-z]",
    r"^ab$": "ab",
    r"^$": "",
}
NOT_TRANSLATABLE = [
    r"^[^@]+@[^@]+$",  # negated class, +
    r"SKU-[0-9]{6}",  # not anchored
    r"^SKU-[0-9]{6}",
    r"^a.b$",  # any character
    r"^a{2,3}$",
    r"^a*$",
    r"^a?$",
    r"^(ab)$",
    r"^a|b$",
    r"^\w{3}$",
    r"^\s$",
    r"^[a-]$",  # '-' at the end of a class
    r"^[!#]$",  # a GLOB class starting with '!' is negated
    r"(?i)^abc$",
    r"^abc\$",  # an escaped '$' is no anchor
    r"^[a-z$",
    r"^a{x}$",
]


@pytest.mark.parametrize(("pattern", "glob"), TRANSLATABLE.items())
def test_translation_of_the_subset(pattern: str, glob: str) -> None:
    assert regex_to_glob(pattern) == glob


@pytest.mark.parametrize("pattern", NOT_TRANSLATABLE)
def test_patterns_outside_the_subset_keep_the_regex(pattern: str) -> None:
    assert regex_to_glob(pattern) is None


CLASSES = {
    "[0-9]": "0123456789",
    "[a-f]": "abcdef",
    "[A-Z0-9]": "AQZ059",
    "[a-z_.]": "aqz_.",
    "[xyz]": "xyz",
    "[0-9a-fA-F]": "09afAF",
    r"[\d.]": "05.",
    r"\d": "0123456789",
}


def _random_pattern(rng: random.Random) -> tuple[str, list[str]]:
    """A translatable pattern and, per atom, the characters it accepts (to build matching strings)."""
    pattern, slots = "^", []
    for _ in range(rng.randint(1, 5)):
        kind = rng.random()
        if kind < 0.35:
            atom = rng.choice("aZ9-_@#:/ ")
            accepts = atom
        elif kind < 0.5:
            char = rng.choice(".+()$^/")
            atom, accepts = "\\" + char, char
        else:
            atom = rng.choice(list(CLASSES))
            accepts = CLASSES[atom]
        count = rng.randint(0, 3) if rng.random() < 0.4 else 1
        pattern += atom + ("{" + str(count) + "}" if count != 1 or rng.random() < 0.1 else "")
        slots += [accepts] * count
    return pattern + "$", slots


def _near_misses(slots: list[str], rng: random.Random) -> list[str]:
    """Matching strings, the same one edit away (changed, extra or missing char, non-ASCII, newline), noise."""
    alphabet = "aZ9-_@#:/ .+()$^05fFxyzq\n\té€"
    out = ["".join(rng.choice(alphabet) for _ in range(rng.randint(0, 8))) for _ in range(20)]
    for _ in range(20):
        s = "".join(rng.choice(accepts) for accepts in slots)
        k = rng.randrange(len(s)) if s else 0
        out += [s, s + "\n", "\n" + s, s[:-1], s + (s[-1:] or "a"), s[:k] + "é" + s[k + 1 :]]
        out += [s[:k] + rng.choice(alphabet) + s[k + 1 :], s.upper(), s.lower()]
    return out


def test_glob_and_re2_agree_on_random_patterns_and_strings() -> None:
    rng = random.Random(7)
    eng = connect()
    checked = matched = 0
    for _ in range(150):
        pattern, slots = _random_pattern(rng)
        glob = regex_to_glob(pattern)
        assert glob is not None, pattern
        strings = _near_misses(slots, rng)
        eng.native.register("_s", pd.DataFrame({"s": strings}))
        rows = eng.native.execute(
            "SELECT s, regexp_matches(s, $re) AS re2, s GLOB $glob AS glob FROM _s", {"re": pattern, "glob": glob}
        ).fetchall()
        eng.native.unregister("_s")
        for s, re2, by_glob in rows:
            assert re2 == by_glob, (pattern, glob, s)
        checked += len(rows)
        matched += sum(1 for _, re2, _ in rows if re2)
    assert checked > 10_000 and matched > 1_000  # both outcomes well represented


def _group_by(values: list[int | None], limit: int) -> tuple[int, list[int], list[int]]:
    counts = pd.Series([v for v in values if v is not None], dtype="int64").value_counts()
    dup = counts[counts > 1].sort_index().iloc[:limit]
    return int(counts[counts > 1].sum()), [int(v) for v in dup.index], [int(c) for c in dup]


@pytest.mark.parametrize(
    "values",
    [
        [1, 2, 3, 3, 5, None, 5, 5],  # dense
        [10**15, -(10**15), 7, 7, 10**15, None],  # sparse: sorted
        [-5, -5, -4, 0, 0, 0],
        [None, None, 4],
        list(range(1000)),
        [2**63 - 1, 2**63 - 1, -(2**63), 0],
    ],
)
def test_integer_duplicates_match_the_group_by(values: list[int | None]) -> None:
    eng = connect()
    eng.native.register("_t", pd.DataFrame({"v": pd.array(values, dtype="Int64")}))
    present = [v for v in values if v is not None]
    lo, hi = (min(present), max(present)) if present else (None, None)
    found = integer_duplicates(eng, "_t", "v", lo, hi, len(present), 3)
    assert found is not None
    assert (found.failing, found.values, found.counts) == _group_by(values, 3)


def test_integer_duplicates_on_many_random_values() -> None:
    rng = np.random.default_rng(3)
    eng = connect()
    for high in (50_000, 10**12):  # dense (bincount) and sparse (sort)
        values = rng.integers(-high, high, 40_000).tolist()
        eng.native.register("_t", pd.DataFrame({"v": values}))
        found = integer_duplicates(eng, "_t", "v", min(values), max(values), len(values), 5)
        assert found is not None and (found.failing, found.values, found.counts) == _group_by(values, 5)
        eng.native.unregister("_t")


def test_integer_duplicates_leave_huge_or_out_of_range_columns_to_sql() -> None:
    eng = connect()
    eng.native.register("_t", pd.DataFrame({"v": [1, 1]}))
    assert integer_duplicates(eng, "_t", "v", 1, 1, MAX_VALUES + 1, 5) is None
    assert integer_duplicates(eng, "_t", "v", 1, 2**64, 2, 5) is None
    assert integer_duplicates(eng, "_t", "missing_column", 1, 1, 2, 5) is None
    assert integer_duplicates(eng, "_t", "v", None, None, 0, 5).failing == 0


def test_contract_results_are_the_same_on_duckdb_and_on_sqlite_style_sql(tmp_path) -> None:
    """A contract on DuckDB (fast paths) and the same data on the PostgreSQL-style SQL path agree."""
    rng = np.random.default_rng(11)
    n = 20_000
    df = pd.DataFrame(
        {
            "id": np.arange(n),
            "code": [f"SKU-{k:06d}" for k in rng.integers(0, 10**6, n)],
            "zip": [f"{k:05d}" for k in rng.integers(0, 10**5, n)],
            "status": rng.choice(["new", "paid", "bad"], n, p=[0.5, 0.49, 0.01]),
        }
    )
    df.loc[[5, 7000], "id"] = [4, 6999]  # two duplicated ids
    df.loc[[3, 11, 19_000], "code"] = ["SKU-12", "sku-000001", "SKU-12345é"]
    df.loc[[8, 9], "zip"] = ["1234", "1234\n"]
    path = tmp_path / "t.parquet"
    df.to_parquet(path)
    spec = {
        "dataset": "t",
        "columns": {
            "id": {"unique": True},
            "code": {"regex": r"^SKU-[0-9]{6}$"},
            "zip": {"regex": r"^[0-9]{5}$"},
            "status": {"in": ["new", "paid"]},
        },
    }
    fast = Contract.from_dict(spec).validate(path)
    by = {c.name: c for c in fast.checks}
    assert by["id.unique"].failing == 4
    assert [r["id"] for r in by["id.unique"].sample] == [4, 4, 6999, 6999]
    assert by["code.regex"].failing == 3 and by["zip.regex"].failing == 2
    assert by["status.in"].failing == int((df.status == "bad").sum())
    # the same checks written as plain SQL, one at a time
    eng = connect()
    eng.native.register("t", df)
    assert eng.scalar("SELECT count(*) FROM t WHERE NOT regexp_matches(code, '^SKU-[0-9]{6}$')") == 3
    assert eng.scalar("SELECT count(*) FROM t WHERE NOT regexp_matches(zip, '^[0-9]{5}$')") == 2


EDGE = pd.DataFrame(
    {
        "s": ["a", "b", None, "c"],
        "n": pd.array([1, 2, 3, None], dtype="Int64"),
        "d": pd.to_datetime(["2024-01-01", "2024-01-02", None, "2024-01-03"]),
        "b": [True, False, None, True],
    }
)


@pytest.mark.parametrize(
    ("column", "rule", "failing"),
    [
        ("s", {"in": ["a", None]}, 2),  # a null in the allowed set does not make every other value pass
        ("n", {"in": [1, 2.5]}, 2),
        ("n", {"in": ["1", "2"]}, 1),  # compared as text
        ("d", {"in": ["2024-01-01", "2024-01-02"]}, 1),  # strings read as timestamps (IN, not ANY, here)
        ("s", {"in": [1, 2]}, 3),
        ("b", {"in": [True]}, 1),
        ("n", {"regex": "^[0-9]$"}, 0),  # a GLOB over an integer column compares its text
        ("n", {"regex": "^[2-3]$"}, 1),
        ("s", {"regex": "^[a-b]$"}, 1),
    ],
)
def test_fast_paths_keep_the_meaning_of_checks(column: str, rule: dict, failing: int) -> None:
    check = Contract.from_dict({"dataset": "x", "columns": {column: rule}}).validate(EDGE).checks[-1]
    assert not check.message.startswith("not checked"), check.message
    assert check.failing == failing


def test_samples_fetched_in_parallel_equal_those_fetched_one_by_one(tmp_path) -> None:
    """The first failing rows, whichever way they are fetched: a Parquet file, a glob of two, a DataFrame."""
    rng = np.random.default_rng(5)
    n = 30_000
    df = pd.DataFrame(
        {
            "id": np.arange(n),
            "a": rng.normal(size=n),
            "b": rng.integers(0, 10, n),
            "c": rng.choice(["x", "y", "z"], n),
            "e": [f"u{k}@ex.com" if k % 97 else f"bad{k}" for k in range(n)],
        }
    )
    df.loc[df.index % 211 == 0, "a"] = None
    path = tmp_path / "t.parquet"
    df.to_parquet(path, row_group_size=5_000)
    spec = {
        "dataset": "t",
        "columns": {
            "id": {"unique": True},
            "a": {"not_null": True, "min": -1, "max": 1},
            "b": {"in": [1, 2, 3], "max": 7},
            "c": {"in": ["x", "y"]},
            "e": {"regex": r"^[^@]+@[^@]+$"},
        },
    }
    parts = tmp_path / "parts"
    parts.mkdir()
    df.iloc[:12_000].to_parquet(parts / "a.parquet", row_group_size=5_000)
    df.iloc[12_000:].to_parquet(parts / "b.parquet", row_group_size=5_000)
    contract = Contract.from_dict(spec)
    on_frame = contract.validate(df, sample=4)  # one query after another
    assert sum(1 for c in on_frame.checks if c.sample) >= 6
    on_file = contract.validate(path, sample=4)  # by row number, two at a time
    on_glob = contract.validate(str(parts / "*.parquet"), sample=4)  # plain queries, two at a time
    for other in (on_file, on_glob):
        for x, y in zip(other.checks, on_frame.checks, strict=True):
            assert (x.name, x.failing, x.sample) == (y.name, y.failing, y.sample)
    no_keys = Contract.from_dict({"dataset": "t", "columns": {"a": {"min": -1}, "c": {"in": ["x"]}}})
    for x, y in zip(no_keys.validate(path).checks, no_keys.validate(df).checks, strict=True):
        assert x.sample == y.sample and (x.kind == "exists" or x.sample)


def test_unique_samples_of_text_columns_and_other_keys() -> None:
    df = pd.DataFrame({"k": [10, 11, 12, 13, 14], "code": ["b", "a", "b", "c", "a"], "n": [5, 6, 5, 7, 6]})
    contract = Contract.from_dict({"dataset": "t", "columns": {"code": {"unique": True}, "n": {"unique": True}}})
    by = {c.name: c for c in contract.validate(df).checks}  # key: the first unique column, code
    assert by["code.unique"].failing == 4 and by["code.unique"].sample == (
        {"code": "a"}, {"code": "a"}, {"code": "b"}, {"code": "b"},
    )  # fmt: skip
    assert by["n.unique"].sample == (
        {"code": "b", "n": 5},
        {"code": "b", "n": 5},
        {"code": "a", "n": 6},
        {"code": "a", "n": 6},
    )
    by = {c.name: c for c in contract.validate(df, key_columns=["k"], sample=3).checks}
    assert by["code.unique"].sample == ({"k": 11, "code": "a"}, {"k": 14, "code": "a"}, {"k": 10, "code": "b"})
