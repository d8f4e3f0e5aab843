"""Sentence boundaries in plain text: pysbd's rules, with a punctuation fallback.

pysbd knows abbreviations ("Dr.", "e.g."), decimals ("4.5") and quotes in many
languages; for a language it does not know, sentence-final punctuation decides.
Text with no spaces between words (Chinese, Japanese) is split at 。！？ the same way.
"""

from __future__ import annotations

import functools
import re

import pysbd

# Languages pysbd has rules for (its own list, as of 0.3.4).
PYSBD_LANGUAGES = frozenset(
    "en hi mr zh es am ar hy bg ur ru pl fa nl da fr my el it ja de kk sk".split()
)
_SENTENCE_END = re.compile(r"(?<=[.!?…])[\"')\]”’]*\s+|(?<=[。！？])")
_CJK = re.compile(  # CJK punctuation, kana, ideographs, full-width forms, Hangul
    r"[\u3000-\u303f\uff00-\uffef\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
    r"\uac00-\ud7af]"
)


def base_language(code: str) -> str:
    """`en-GB` → `en`; unknown or empty → `en` (pysbd's English rules are the safest)."""
    base = (code or "").lower().replace("_", "-").split("-")[0]
    return base if base in PYSBD_LANGUAGES else "en"


@functools.lru_cache(maxsize=8)
def _segmenter(language: str) -> pysbd.Segmenter:
    return pysbd.Segmenter(language=language, clean=False, char_span=True)


def spans(text: str, language: str = "en") -> list[tuple[int, int]]:
    """(start, end) character offsets of each sentence, whitespace trimmed."""
    found: list[tuple[int, int]] = []
    try:
        pieces = [(s.start, s.end) for s in _segmenter(base_language(language)).segment(text)]
    except Exception:  # pysbd's regexes on odd input: punctuation still works
        pieces = _punctuation_spans(text)
    for start, end in pieces:
        while start < end and text[start].isspace():
            start += 1
        while end > start and text[end - 1].isspace():
            end -= 1
        if end > start:
            found.append((start, end))
    return found


def _punctuation_spans(text: str) -> list[tuple[int, int]]:
    result, start = [], 0
    for match in _SENTENCE_END.finditer(text):
        result.append((start, match.end()))
        start = match.end()
    if start < len(text):
        result.append((start, len(text)))
    return result


def split_sentences(text: str, language: str = "en") -> list[str]:
    return [text[a:b] for a, b in spans(text, language)]


def is_cjk(text: str) -> bool:
    return bool(_CJK.search(text))


def join_words(words: list[str]) -> str:
    """Words back into text: no space between two CJK characters, one elsewhere."""
    out = ""
    for word in words:
        if out and not (_CJK.match(word[:1]) and _CJK.match(out[-1:])):
            out += " "
        out += word
    return re.sub(r"\s+", " ", out).strip()
