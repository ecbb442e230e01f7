"""Anchored regular expressions that a GLOB decides exactly, translated to that GLOB.

DuckDB answers ``sku GLOB 'SKU-[0-9][0-9][0-9][0-9][0-9][0-9]'`` faster than RE2's ``regexp_matches``
on short strings (10M rows, two cores: the three regex checks of ``bench/data_quality.py`` went from
~1.3 s to ~0.9 s of the one aggregate scan once two of them ran as GLOBs). A GLOB matches the whole
string, as ``^...$`` does in RE2 (where ``$`` matches only at the very end, never before a final newline).

Only a small subset translates, and it translates exactly: a pattern anchored with ``^`` and ``$`` made
of ASCII letters, digits and plain punctuation, escaped punctuation (``\\.``), ``\\d`` and non-negated
classes of such characters (``[A-Za-z0-9_]``), each atom optionally repeated an exact number of times
(``{6}``). Every atom matches exactly one ASCII character, in both engines, so strings with other
characters fail both. Anything else (``.``, ``*``, ``+``, ``?``, ``{m,n}``, groups, alternation, negated
classes, ``\\w``/``\\s``, flags) gives ``None`` and the check keeps the regular expression.
"""

from __future__ import annotations

import string

__all__ = ["regex_to_glob"]

# characters that stand for themselves in both a regex and a GLOB (GLOB's own specials are * ? [ ])
_PLAIN = set(string.ascii_letters + string.digits + " !\"#%&',-/:;<=>@_~`")
# punctuation that a regex needs escaped to be literal, and that a GLOB reads literally
_ESCAPED = set(".+(){}|$^/-@#:_,;=!%&~<>'\"` ")
# characters a class may hold: a GLOB class that starts with '!' or '^' is negated, and '-' makes ranges
_IN_CLASS = (_PLAIN | _ESCAPED) - set("!^-")
_MAX_REPEAT = 1000


def regex_to_glob(pattern: str) -> str | None:
    """The GLOB pattern that accepts exactly the strings RE2 matches with ``pattern``, or None."""
    if len(pattern) < 2 or not pattern.startswith("^") or not pattern.endswith("$"):
        return None
    body, atoms, i = pattern[1:-1], [], 0
    while i < len(body):
        atom, i = _atom(body, i)
        if atom is None:
            return None
        count, i = _repeat(body, i)
        if count is None:
            return None
        atoms.append(atom * count)
    return "".join(atoms)


def _atom(body: str, i: int) -> tuple[str | None, int]:
    """One GLOB atom (matching one character) for the regex atom at ``body[i]``, and the index after it."""
    c = body[i]
    if c == "\\":
        if i + 1 >= len(body):
            return None, i
        nxt = body[i + 1]
        if nxt == "d":
            return "[0-9]", i + 2
        return (nxt if nxt in _ESCAPED else None), i + 2
    if c == "[":
        end = body.find("]", i + 1)
        if end < 0:
            return None, i
        chars = _class(body[i + 1 : end])
        if not chars:
            return None, i
        return _glob_class(chars), end + 1
    return (c if c in _PLAIN else None), i + 1


def _class(inner: str) -> set[str] | None:
    """The characters of a non-negated class body such as ``A-Za-z0-9_``, or None when not translatable."""
    if not inner or inner[0] == "^":
        return None
    chars: set[str] = set()
    i = 0
    while i < len(inner):
        c = inner[i]
        if c == "\\":
            if i + 1 < len(inner) and inner[i + 1] == "d":
                chars.update(string.digits)
            elif i + 1 < len(inner) and inner[i + 1] in _IN_CLASS:
                chars.add(inner[i + 1])
            else:
                return None
            i += 2
        elif i + 2 < len(inner) and inner[i + 1] == "-":
            lo, hi = c, inner[i + 2]
            if not any(lo in run and hi in run for run in _RUNS) or lo > hi:
                return None
            chars.update(chr(k) for k in range(ord(lo), ord(hi) + 1))
            i += 3
        elif c in _IN_CLASS:
            chars.add(c)
            i += 1
        else:  # '-' at either end, '!', '^', '[', '\\': not worth GLOB's escaping rules
            return None
    return chars


_RUNS = (string.digits, string.ascii_lowercase, string.ascii_uppercase)


def _glob_class(chars: set[str]) -> str:
    """A GLOB class for ``chars`` (ranges for runs of digits and letters); one character stands alone."""
    if len(chars) == 1:
        return next(iter(chars))
    parts, rest = [], set(chars)
    for run in _RUNS:
        k = 0
        while k < len(run):
            if run[k] not in rest:
                k += 1
                continue
            j = k
            while j + 1 < len(run) and run[j + 1] in rest:
                j += 1
            parts.append(run[k] if j == k else f"{run[k]}-{run[j]}" if j > k + 1 else run[k] + run[j])
            rest -= set(run[k : j + 1])
            k = j + 1
    parts += sorted(rest)
    return "[" + "".join(parts) + "]"


def _repeat(body: str, i: int) -> tuple[int | None, int]:
    """The exact repeat count at ``body[i]`` (1 when there is none) and the index after it; None if inexact."""
    if i >= len(body) or body[i] not in "{*+?":
        return 1, i
    if body[i] != "{":
        return None, i
    end = body.find("}", i)
    text = body[i + 1 : end] if end > 0 else ""
    if not text.isdigit() or int(text) > _MAX_REPEAT:
        return None, i
    return int(text), end + 1
