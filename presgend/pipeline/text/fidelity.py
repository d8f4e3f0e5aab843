"""Fact fidelity: what a slide states has the value its source sentence states.

A bullet is a condensed sentence and a title a phrase of its section, and condensing is
where facts were lost or corrupted ("85 thousand dollars" became "85 $1,000"; "Our
product, ShiftWise, builds…" lost ShiftWise). This module reads the facts of a text as
values (figures with their kind: a plain number, a percentage, an amount in a currency;
links and e-mail addresses; proper names; the items of a list) so that a slide's text is
compared with its source by value, not by string: "$85,000", "$85K" and "85 thousand
dollars" are one value. `broken` says what a shown text gets wrong; the bullet and title
writers try their condensed forms in turn and keep the original wording when every
shorter form breaks a fact.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass

from presgend.pipeline.text import lexicon, phrases

Value = tuple[str, float]  # kind ("number", "percent", "$", "€", "£", "¥"), value

_UNITS = {**lexicon.NUMBER_WORDS, "dozen": 12}  # "a dozen" is a count here, not in digits()
_SCALES = {
    "hundred": 100, "thousand": 1_000, "million": 1_000_000, "billion": 1_000_000_000,
    "trillion": 1_000_000_000_000,
}  # fmt: skip
_SUFFIXES = {"k": 1_000, "m": 1_000_000, "mn": 1_000_000, "bn": 1_000_000_000, "b": 1_000_000_000}
_CURRENCY_WORDS = {
    "dollar": "$", "dollars": "$", "usd": "$", "bucks": "$", "euro": "€", "euros": "€",
    "eur": "€", "pound": "£", "pounds": "£", "gbp": "£", "yen": "¥", "jpy": "¥",
}  # fmt: skip
_TOKEN = re.compile(r"[$€£¥%]|\d+(?:\.\d+)?[a-z]*|[a-z]+", re.IGNORECASE)
_THOUSANDS = re.compile(r"(?<=\d),(?=\d{3}\b)")
LINK = re.compile(
    r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+|"  # e-mail
    r"\b(?:https?://)?(?:[a-z0-9-]+\.)+[a-z]{2,}(?::\d+)?(?:/[^\s,;\"')]*)?",
    re.IGNORECASE,
)
_LIST = re.compile(r"(?:[^,;:.!?]+,\s+)+[^,;:.!?]+?,?\s+(?:and|or)\s+[^,;:.!?]+", re.IGNORECASE)
_WORD = re.compile(r"[\w'’&-]+")


@dataclass(frozen=True)
class Facts:
    values: Counter[Value]
    links: frozenset[str]
    names: frozenset[str]  # proper names, case-folded
    lists: tuple[tuple[frozenset[str], ...], ...]  # each list: each item's content stems


def values(text: str) -> Counter[Value]:
    """Every figure in `text` with its kind: digits or spoken words, with scales ("85
    thousand", "1.2 million", "$85K") and units ("%", "percent", "$", "dollars")."""
    plain = LINK.sub(" ", _THOUSANDS.sub("", text.replace("per cent", "percent")))
    tokens = [t.lower() for t in _TOKEN.findall(plain)]
    found: Counter[Value] = Counter()
    i = 0
    while i < len(tokens):
        other = re.fullmatch(r"(\d+(?:\.\d+)?)(st|nd|rd|th|x)", tokens[i])
        if other:  # "4th" and "3x" are values too, of their own kinds
            kind = "times" if other.group(2) == "x" else "ordinal"
            found[(kind, float(other.group(1)))] += 1
            i += 1
            continue
        currency = tokens[i] if tokens[i] in "$€£¥" else ""
        start = i + 1 if currency else i
        number, end = _number(tokens, start)
        if number is None:
            i += 1
            continue
        kind = currency or "number"
        if end < len(tokens) and tokens[end] in ("%", "percent"):
            kind, end = "percent", end + 1
        elif end < len(tokens) and tokens[end] in _CURRENCY_WORDS:
            kind, end = _CURRENCY_WORDS[tokens[end]], end + 1
        found[(kind, round(number, 6))] += 1
        i = end
    return found


def _number(tokens: list[str], i: int) -> tuple[float | None, int]:
    """The number starting at token i, and the index after it; None when there is none.
    "85", "85k", "1.2 million", "eighty-five thousand", "a hundred and five"."""
    total, current, last = 0.0, 0.0, ""  # last: "", "digits", "tens", "unit", "scale"
    while i < len(tokens):
        token, step = tokens[i], _kind_of(tokens, i)
        if step == "digits" and not last:
            literal = re.fullmatch(r"(\d+(?:\.\d+)?)([a-z]*)", token)
            assert literal is not None
            if literal.group(2) and literal.group(2) not in _SUFFIXES:
                return None, i + 1  # "3d", "4th", "3x": a name, an ordinal, a multiple
            current = float(literal.group(1)) * _SUFFIXES.get(literal.group(2), 1)
        elif step in ("tens", "unit") and (
            last in ("", "scale") or (last == "tens" and step == "unit")
        ):
            current += _UNITS[token]
        elif step == "scale" and last:
            scale = _SCALES[token]
            if scale == 100:
                current = (current or 1) * 100
            else:
                total, current = total + (current or 1) * scale, 0.0
        elif step == "a" and not last:
            current = 1.0  # "a hundred", "a million"
            step = "unit"
        elif not (
            step == "and" and last == "scale" and _kind_of(tokens, i + 1) in ("tens", "unit")
        ):
            break
        last = step if step != "and" else last
        i += 1
    return (total + current if last else None), i


def _kind_of(tokens: list[str], i: int) -> str:
    if i >= len(tokens):
        return ""
    token = tokens[i]
    if token[:1].isdigit():
        return "digits"
    if token in _UNITS:
        return "tens" if _UNITS[token] >= 20 and _UNITS[token] % 10 == 0 else "unit"
    if token in _SCALES:
        return "scale"
    if token in ("a", "an") and _kind_of(tokens, i + 1) == "scale":
        return "a"
    return "and" if token == "and" else ""


def links(text: str) -> frozenset[str]:
    return frozenset(
        m.group().lower().rstrip(".").removeprefix("www.") for m in LINK.finditer(text)
    )


def names(text: str) -> frozenset[str]:
    """Proper names: capitalised words after the first (a person, a product, a place),
    and any word written in camel case or capitals ("ShiftWise", "NASA") wherever it is."""
    words = _WORD.findall(LINK.sub(" ", text))
    found = set()
    for n, word in enumerate(words):
        inner = any(c.isupper() for c in word[1:]) and any(c.islower() for c in word)
        acronym = len(word) > 1 and word.isupper() and word.isalpha()
        capital = n > 0 and word[:1].isupper() and word.lower() not in lexicon.STOPWORDS
        if word != "I" and (inner or acronym or capital) and not _is_number_word(word):
            found.add(word.lower())
    return frozenset(found)


def _is_number_word(word: str) -> bool:
    w = word.lower()
    return w in _UNITS or w in _SCALES


def lists(text: str) -> tuple[tuple[frozenset[str], ...], ...]:
    """The items of each "A, B and C" in `text`, as their content stems."""
    found = []
    for match in _LIST.finditer(text):
        items = re.split(r",\s*(?:and\s+|or\s+)?|\s+(?:and|or)\s+", match.group())
        stems = tuple(frozenset(phrases.content_stems(item)) for item in items)
        stems = tuple(s for s in stems if s)
        if len(stems) >= 3:
            found.append(stems)
    return tuple(found)


def facts(text: str) -> Facts:
    return Facts(values(text), links(text), names(text), lists(text))


def broken(source: str, shown: str, *, title: bool = False) -> list[str]:
    """What `shown` gets wrong against `source`; [] when it is faithful.

    A bullet (a condensed sentence) keeps every figure, link, name and list item of its
    sentence with the same value, and adds none. A title (a phrase of its section, in
    Title Case) adds no figure or link its section does not state."""
    said, put = facts(source), facts(shown)
    problems = [f"{shown_value(v)} is not in the source" for v in put.values
                if v not in said.values]  # fmt: skip
    problems += [f"{link} is not in the source" for link in put.links - said.links]
    if title:
        return problems
    problems += [f"{shown_value(v)} is left out" for v in said.values
                 if v not in put.values]  # fmt: skip
    problems += [f"{link} is left out" for link in said.links - put.links]
    shown_words = words(shown)
    problems += [f"the name {name} is left out" for name in said.names if name not in shown_words]
    source_words = words(source)
    problems += [f"the name {name} is not in the source" for name in put.names
                 if name not in source_words]  # fmt: skip
    kept = stems(shown)
    for items in said.lists:
        lost = [item for item in items if not item & kept]
        if lost:
            problems.append(f"a list lost {len(lost)} of its {len(items)} items")
    return problems


def shown_value(value: Value) -> str:
    """A value as a reader writes it: 241, 40%, $2,000,000."""
    kind, number = value
    written = f"{number:,.0f}" if number == int(number) else f"{number:g}"
    if kind == "number":
        return written
    if kind == "percent":
        return f"{number:g}%"
    return f"{kind}{written}"


def words(text: str) -> set[str]:
    """The words of `text` outside its links ("shiftwise.io" does not name ShiftWise)."""
    return {w.lower() for w in _WORD.findall(LINK.sub(" ", text))}


def stems(text: str) -> set[str]:
    return set(phrases.content_stems(text))
