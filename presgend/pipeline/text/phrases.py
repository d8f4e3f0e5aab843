"""Titles and bullets from spoken sentences: noun phrases to name a topic, condensed
clauses to make a point.

English gets a small rule-based chunker: closed-class words and verbs split a sentence
into noun phrases ("reliable media pipelines"), with a few context rules for words that
are both ("watch folders", "revenue grew"). Bullets drop what a speaker adds around a
point (openers, hedges, frames such as "let's talk about") and are shortened only at
clause, comma or conjunction boundaries, never with an ellipsis.
"""

from __future__ import annotations

import itertools
import re

from presgend.pipeline.text import lexicon
from presgend.pipeline.text.sentences import is_cjk

MIN_BULLET_WORDS = 3
MAX_BULLET_WORDS = 12
MAX_TITLE_WORDS = 6
_TOKEN = re.compile(r"[$€£]?[\w][\w'’%.&-]*[\w%]|[$€£]?\w|[,;:!?()\"“”—–]")
_DETERMINERS = frozenset(
    "the a an this that these those our your their its his her my every each no any some".split()
)
_SUBJECTS = frozenset("i we you they he she it who to will would can could should may".split())
_CLAUSE_WORDS = frozenset(
    "and but because so which while whereas although though since unless including "
    "where when whereby before after until if once".split()
)
_ADVERBS = frozenset("now also still just already really only never always often even".split())
_ADJECTIVE_ENDINGS = ("y", "ful", "ous", "ive", "al", "ic", "able", "ible", "less", "ish")
_JOINERS = frozenset("and but so or yet plus — –".split())
_PREPOSITIONS = frozenset(
    "in on at for to from with by over under after before during across into through "
    "about between without within per via than".split()
)
# What a phrase must not end on: it promises words that were cut away.
_TRAILING = _PREPOSITIONS | _CLAUSE_WORDS | _DETERMINERS | frozenset("of as or nor".split())


def stem(word: str) -> str:
    """A crude English stem, enough to match "battery" with "batteries"."""
    w = word.lower().strip("'’.-")
    for suffix, repl in (("ies", "y"), ("sses", "ss"), ("ches", "ch"), ("shes", "sh")):
        if w.endswith(suffix) and len(w) > len(suffix) + 2:
            return w[: -len(suffix)] + repl
    if w.endswith("s") and not w.endswith(("ss", "us", "is")) and len(w) > 3:
        return w[:-1]
    return w


def content_stems(text: str) -> list[str]:
    return [stem(t) for t in _TOKEN.findall(text) if t[:1].isalnum() and _is_content(t.lower())]


def _is_content(word: str) -> bool:
    return len(word) > 2 and word not in lexicon.STOPWORDS and word not in _CLAUSE_WORDS


# --- noun phrases -------------------------------------------------------------------------


def _tag(tokens: list[str], i: int) -> str:
    """N (part of a noun phrase), V (verb), S (closed-class), O ("of"), P (punctuation)."""
    word = tokens[i].lower()
    if not tokens[i][:1].isalnum() and tokens[i][:1] not in "$€£":
        return "P"
    if word == "of":
        return "O"
    if word in lexicon.STOPWORDS or word in _CLAUSE_WORDS or lexicon.NUMBER.fullmatch(word):
        return "S"
    if word in lexicon.VERB_LIKE_NOUNS or word not in lexicon.VERBS:
        return "N"
    j = i - 1
    while j >= 0 and tokens[j].lower() in _ADVERBS:  # "we now serve": look past "now"
        j -= 1
    before = tokens[j].lower() if j >= 0 else ""
    after = tokens[i + 1].lower() if i + 1 < len(tokens) else ""
    return "N" if _verb_form_is_noun(word, before, after) else "V"


def _verb_form_is_noun(word: str, before: str, after: str) -> bool:
    after_is_noun = bool(after) and after[:1].isalnum() and _plain_noun(after)
    if before in _DETERMINERS:
        return True  # "the run", "our growth"
    if before in lexicon.VERBS and before not in lexicon.STOPWORDS and after_is_noun:
        return True  # "cover watch folders"
    if word.endswith("ing"):
        return after_is_noun or (bool(before) and _plain_noun(before))  # "safe publishing"
    if word.endswith("ed"):  # "finished results", but "the file is renamed"
        return after_is_noun and before not in _SUBJECTS
    if not word.endswith("s"):  # "watch folders" opens a sentence; "people drop files"
        return after_is_noun and (
            not before
            or not before[:1].isalnum()
            or (before in lexicon.STOPWORDS and before not in _SUBJECTS)
        )
    if word.endswith("s"):  # "reports tell" is a plural subject; "daemon waits" a verb
        nxt = after in lexicon.VERBS and not after.endswith(("s", "ed", "ing"))
        return nxt or before in _PREPOSITIONS or after in ("", ".", "!", "?")
    return False


def _plain_noun(word: str) -> bool:
    return (
        word not in lexicon.STOPWORDS
        and word not in _CLAUSE_WORDS
        and (word not in lexicon.VERBS or word in lexicon.VERB_LIKE_NOUNS)
    )


def noun_phrases(text: str) -> list[tuple[int, list[str]]]:
    """Maximal noun phrases with the token index they start at ("of" may join two)."""
    tokens = _TOKEN.findall(text)
    tags = [_tag(tokens, i) for i in range(len(tokens))]
    phrases: list[tuple[int, list[str]]] = []
    run: list[int] = []
    for i, tag in enumerate([*tags, "P"]):
        joins = tag == "O" and run and i + 1 < len(tags) and tags[i + 1] == "N"
        if tag == "N" or joins:
            run.append(i)
            continue
        words = _trim_phrase([tokens[j] for j in run])
        if words:
            phrases.append((run[0] if run else i, words))
        run = []
    return phrases


def _trim_phrase(words: list[str]) -> list[str]:
    def weak(w: str) -> bool:
        low = w.lower()
        return low == "of" or low.endswith("ly") or low in lexicon.STOPWORDS or low.isdigit()

    while words and weak(words[0]):
        words = words[1:]
    while words and weak(words[-1]):
        words = words[:-1]
    return words


def title_candidates(text: str) -> list[tuple[int, str]]:
    """Each noun phrase and its shorter tails (an English phrase's head comes last),
    and pairs joined by "and" ("greens and browns")."""
    found: list[tuple[int, str]] = []
    chunks = noun_phrases(text)
    tokens = _TOKEN.findall(text)
    for (p1, w1), (p2, w2) in itertools.pairwise(chunks):
        between = [t.lower() for t in tokens[p1 + len(w1) : p2]]
        pair = between and between[0] == "and" and set(between[1:]) <= _DETERMINERS
        if pair and len(w1) + len(w2) <= MAX_TITLE_WORDS - 1:
            found.append((p1, " ".join([*w1, "and", *w2])))
    for position, words in chunks:
        if _object_complement(tokens, position, words):
            if len(words) == 2:  # "keep the heap healthy" is about a healthy heap
                found.append((position, f"{words[1]} {words[0]}"))
            words = words[:-1]
        k = len(words)
        for size in range(1, min(k, MAX_TITLE_WORDS) + 1):
            tail = words[k - size :]
            if tail[0].lower() != "of":
                found.append((position + k - size, " ".join(tail)))
    return found


def _object_complement(tokens: list[str], position: int, words: list[str]) -> bool:
    """Whether the phrase ends in an adjective said of it, as in "keep the heap healthy":
    a verb and an article before it. "A single colony" ends in a noun like any other."""
    before = [t.lower() for t in tokens[max(0, position - 2) : position]]
    return (
        len(words) > 1
        and words[-1].lower().endswith(_ADJECTIVE_ENDINGS)
        and len(before) == 2
        and before[0] in lexicon.VERBS
        and before[1] in _DETERMINERS
    )


def title_case(phrase: str, language: str = "en") -> str:
    words = phrase.split()
    if not words or is_cjk(phrase):
        return phrase
    if not language.lower().startswith("en"):
        return words[0][:1].upper() + " ".join(words)[1:]
    out = []
    for i, w in enumerate(words):
        if (w.isupper() and len(w) > 1) or any(c.isupper() for c in w[1:]):
            out.append(w)  # "AI", "iPhone", "ffprobe" keep their shape… mostly
        elif i and w.lower() in lexicon.SMALL_WORDS:
            out.append(w.lower())
        else:
            out.append(w[:1].upper() + w[1:])
    return " ".join(out)


# --- bullets ------------------------------------------------------------------------------


def condense(sentence: str, *, shorten: bool = True) -> str:
    """The point of a spoken sentence in 3–12 words (any length with `shorten` off), or
    "" when it has none."""
    text = sentence.strip().rstrip(".!?。！？…").strip()
    text = lexicon.FILLER_WORDS.sub("", text)
    for _ in range(3):
        before = text
        text = lexicon.OPENERS.sub("", text)
        text = lexicon.FRAMES.sub("", text)
        if text == before:
            break
    text = lexicon.digits(text.strip(" ,;:-—"))
    words = text.split()
    if shorten and len(words) > MAX_BULLET_WORDS:
        words = _trim_trailing(_shorten(words))
    while words and words[-1].lower().strip(",;:") in _JOINERS | _DETERMINERS:
        words = words[:-1]  # a particle may end a sentence ("move in"), "and" may not
    if len(words) < MIN_BULLET_WORDS:
        return ""
    result = " ".join(words).rstrip(",;:—–-")
    return result[:1].upper() + result[1:]


def _trim_trailing(words: list[str]) -> list[str]:
    while words and (words[-1].lower().strip(",;:") in _TRAILING or words[-1] in ("—", "–", "-")):
        words = words[:-1]
    if words:
        words[-1] = words[-1].rstrip(",;:")
    return words


def _shorten(words: list[str]) -> list[str]:
    """Cut at the clause boundary that keeps the most (and the fact, if there is one)."""
    for boundaries in (_clause_boundaries(words), _phrase_boundaries(words)):
        best = _best_span(words, boundaries)
        if best:
            return best
    return words  # no clause holds the point: the whole sentence, not one cut mid-way


def _clause_boundaries(words: list[str]) -> list[int]:
    cuts = {i + 1 for i, w in enumerate(words) if w.endswith((",", ";", ":"))}
    cuts |= {i for i, w in enumerate(words) if w.lower() in _CLAUSE_WORDS or w in ("—", "–")}
    return sorted(c for c in cuts if 0 < c < len(words))


def _phrase_boundaries(words: list[str]) -> list[int]:
    cuts = {i for i, w in enumerate(words) if w.lower() in _PREPOSITIONS}
    return sorted(c for c in cuts | set(_clause_boundaries(words)) if 0 < c < len(words))


def _best_span(words: list[str], boundaries: list[int]) -> list[str]:
    """The longest span between boundaries that fits, the first clause preferred, a
    span holding a number or amount preferred over one without. An aside between two
    commas may go ("Maria, our head of sales, signed…")."""
    edges = [0, *boundaries, len(words)]
    spans = []
    commas = [i + 1 for i, w in enumerate(words) if w.endswith(",")]
    for a, b in itertools.pairwise(commas):
        piece = [*words[: a - 1], words[a - 1].rstrip(","), *words[b:]]
        if MIN_BULLET_WORDS <= len(piece) <= MAX_BULLET_WORDS:
            fact = bool(lexicon.FACT.search(" ".join(piece)))
            spans.append((fact, True, len(piece) + 2, piece))
    for a_i, a in enumerate(edges):
        for b in edges[a_i + 1 :]:
            piece = _drop_joiner(words[a:b]) if a else words[a:b]
            if len(piece) > MAX_BULLET_WORDS:
                continue
            cuts_list = (
                b < len(words)
                and words[b].lower() in ("and", "or")
                and any(w.endswith(",") for w in piece[-3:-1])
            )  # "dark, crumbly | and ready" splits a list
            piece = _trim_trailing(piece)
            pointless = not content_stems(" ".join(piece))  # "than he was"
            if len(piece) >= MIN_BULLET_WORDS and not cuts_list and not pointless:
                fact = bool(lexicon.FACT.search(" ".join(piece)))
                spans.append((fact, a == 0, len(piece), piece))
    if not spans:
        return []
    needs_fact = bool(lexicon.FACT.search(" ".join(words)))
    spans.sort(key=lambda s: (s[0] if needs_fact else 0, s[1], s[2]), reverse=True)
    return spans[0][3]


def _drop_joiner(words: list[str]) -> list[str]:
    while words and words[0].lower() in _JOINERS:
        words = words[1:]
    return words
