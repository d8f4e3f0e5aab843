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
from dataclasses import dataclass

from presgend.pipeline.text import languages, lexicon
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
        nouns = all("NOUN" in lexicon.parts_of_speech(w[-1]) for w in (w1, w2))
        if pair and nouns and len(w1) + len(w2) <= MAX_TITLE_WORDS - 1:  # "greens and browns"
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


def is_topic(title: str) -> bool:
    """Whether an English title names a topic: it ends on a word that can be a noun (or
    on a name, a number or a word the lexicon does not know), so no adjective is left
    without its noun ("Room Different", "Standard of Probable")."""
    words = title.split()
    if not words:
        return False
    last = words[-1]
    kinds = lexicon.parts_of_speech(last)
    gerund = last.lower().endswith("ing") and "VERB" in kinds  # "Home Composting"
    return not kinds or "NOUN" in kinds or gerund or (len(last) > 1 and last.isupper())


_ELIDED = re.compile(r"^(?:[ldjmnstc]|qu|lorsqu|puisqu|jusqu)['’]", re.IGNORECASE)


@dataclass(frozen=True)
class Run:
    """Content words said together, with what stood before them."""

    words: list[str]
    article: bool  # an article opens it: "o aluguel", "l'écran tactile"
    predicate: bool  # it follows a copula: "são blanquecinas" describes, names nothing


def content_runs(text: str, lang: languages.Language) -> list[Run]:
    """Runs of a sentence's content words in a language with a word list, the joiners
    of a noun phrase kept inside a run ("força do smartphone"); a word right after a
    subject pronoun or a negation is a verb and ends a run ("on ne l'emmène pas"); a
    French elided article is not part of its word ("l'histoire" is "histoire")."""
    runs: list[Run] = []
    run: list[str] = []
    article = predicate = False
    before = previous = ""
    pattern = r"[^\W\d_][\w'’-]*|\d[\d.,]*|[^\w\s]"
    for raw in [*re.findall(pattern, text), "."]:
        elided = _ELIDED.match(raw)
        token = raw[elided.end() :] if elided else raw
        low = token.lower()
        clitic = (elided.group(0)[:-1].lower() if elided else "") in lang.verb_after
        verb = before in lang.verb_after or (clitic and previous in lang.verb_after)
        content = token[:1].isalnum() and low not in lang.stopwords and len(token) > 1
        if lang.code == "de":
            content = content and token[:1].isupper()  # German writes its nouns so
        if (content and not verb) or (low in lang.joiners and run):
            if not run:
                article = (bool(elided) and not clitic) or before in lang.articles
                predicate = before in lang.copulas
            run.append(raw if run else token)  # "histoire de l'humanité" keeps its "l'"
        else:
            while run and run[-1].lower() in lang.joiners:
                run.pop()
            if run:
                runs.append(Run(run, article, predicate))
            run = []
        previous, before = before, low
    return runs


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

LONGEST_WHOLE = 25  # words: a sentence no clause of which stands alone is shown whole up to this
# English words a bullet's first word may not be: what they open is not a statement alone
_NOT_ALONE = frozenset(
    "if unless while although though whereas whether when whenever until once which who whom "
    "whose as like".split()
)
_COMPARISON = frozenset("than more less as too very so".split())  # "costs more" than what?
# In what a cut drops, these may carry the point or turn it round
_REVERSING = frozenset("not never no nor without except than less more but n't".split())
_PRONOUNS = frozenset("i we you they he she it".split())
_OBJECTS = frozenset("me us you them him her it".split())
_EDGE = ",;:\"“”()"


@dataclass(frozen=True)
class Points:
    """What a spoken sentence puts on a slide: one bullet, or two from a long sentence
    split where its clauses stand alone; and the clauses of a long sentence no bullet
    shows (its point is its main clause)."""

    bullets: tuple[str, ...] = ()
    cut: tuple[str, ...] = ()


def condense(sentence: str, *, shorten: bool = True, language: str = "en") -> str:
    """The point of a spoken sentence in 3–12 words where a clause of it is a whole
    statement (any length with `shorten` off), or "" when it has none."""
    if not shorten:
        words = _cleaned(sentence, languages.of(language))
        return _finish(words, languages.of(language)) if len(words) >= MIN_BULLET_WORDS else ""
    found = points(sentence, language)
    return found.bullets[0] if len(found.bullets) == 1 and not found.cut else ""


def points(sentence: str, language: str = "en") -> Points:
    """A sentence's bullets, each a grammatical statement that keeps its point: its own
    main clause, never ending on a function word, a negation or a dangling comparison,
    never a lone subordinate clause, never cut where what is dropped turns the point
    round. A long sentence with no such clause of 3–12 words is shown whole up to 25
    words; longer, it is split into two statements at a clause boundary, or shows its
    main clause and lists the rest as cut."""
    lang = languages.of(language)
    if is_cjk(sentence):
        text = sentence.strip()
        return Points((text,)) if text else Points()
    words = _cleaned(sentence, lang)
    if len(words) < MIN_BULLET_WORDS:
        return Points()
    if len(words) <= MAX_BULLET_WORDS and statement(words, [], lang, cut=False):
        return Points((_finish(words, lang),))
    if len(words) > MAX_BULLET_WORDS and lang.english:  # elsewhere no parse to cut on
        best = _best_span(words, _clause_boundaries(words, lang), lang) or _best_span(
            words, _phrase_boundaries(words, lang), lang
        )
        if best:
            return Points((_finish(best, lang),))
    whole = statement(words, [], lang, cut=False) or bool(lexicon.FACT.search(" ".join(words)))
    if len(words) <= LONGEST_WHOLE:
        return Points((_finish(words, lang),)) if whole else Points()
    halves = _two_statements(words, lang)
    if halves:
        return Points(tuple(_finish(h, lang) for h in halves))
    main, rest = _main_clause(words, lang)
    return Points((_finish(main, lang),), (" ".join(rest),) if rest else ())


def statement(
    piece: list[str], dropped: list[str], lang: languages.Language, *, cut: bool = True
) -> bool:
    """Whether `piece` stands alone as a bullet: `dropped` is what a cut leaves after it.
    A whole sentence (`cut` off) is as its speaker said it: it may end as they ended
    it, and is not held to having a verb the lexicon can see."""
    if not piece:
        return False
    last = piece[-1].lower().strip(_EDGE)
    first = piece[0].lower().strip(_EDGE)
    if cut and (last in lang.negations or last.endswith(("n't", "n’t"))):
        return False  # "I regard this activity not"
    if cut and lang.english and (last in _TRAILING | _COMPARISON | lexicon.AUXILIARIES):
        return False  # "the one you are", "costs more"
    if cut and not lang.english and last in lang.stopwords:
        return False
    opener = _NOT_ALONE if lang.english else lang.subordinators
    pair = " ".join(w.lower().strip(_EDGE) for w in piece[:2])
    if (first in opener or pair in lang.subordinate_pairs) and not _clause_after_comma(piece):
        return False  # "While many will not object": what happens while?
    if cut and first in lang.contrasts:
        return False  # "mais la manière dont…": the other half of a point
    if cut and not lang.english and first in lang.joiners - lang.articles:
        return False  # "de leur insertion…": the second half of a noun phrase
    if lang.english and first in _PREPOSITIONS and not _clause_after_comma(piece):
        return False  # "With a less than constitutional standard": a phrase, no clause
    if dropped:
        follows = dropped[0].lower().strip(_EDGE)
        if lang.english and follows in ("than", "as"):
            return False  # a comparison left dangling
        if lang.english and follows in _PREPOSITIONS and _ends_on_verb(piece):
            return False  # "I come | from a family of workers": the verb's complement
        then = dropped[1].lower().strip(_EDGE) if len(dropped) > 1 else ""
        if lang.english and follows == "to" and "VERB" in lexicon.parts_of_speech(then):
            return False  # "had then leisure | to consider how much…": its complement
        clause = [w.lower().strip(_EDGE) for w in _first_clause(dropped)]
        if clause[0] in lang.contrasts or any(
            w in _REVERSING | lang.negations for w in clause if lang.english
        ):
            return False  # "was condoned | with a less than constitutional standard"
    return not (cut and lang.english) or has_verb(piece)  # what a cut left has its verb


def has_verb(words: list[str]) -> bool:
    """Whether English `words` have a verb a clause can stand on: an auxiliary, a word
    that can only be a verb ("condoned"), or one that can be where it stands: after a
    pronoun ("I regard"), before an article or an object ("hand the work"), or by the
    chunker's context rules."""
    tokens = _TOKEN.findall(" ".join(words))
    low = [t.lower() for t in tokens]
    for i, word in enumerate(low):
        if word in lexicon.AUXILIARIES:
            return True
        kinds = lexicon.parts_of_speech(word)
        if "VERB" not in kinds or word.endswith("ing"):
            continue
        after = low[i + 1] if i + 1 < len(low) else ""
        if (
            kinds == {"VERB"}
            or (i and low[i - 1] in _PRONOUNS)  # "I regard"
            or (i and after in _DETERMINERS | _OBJECTS)  # "watch folders hand the work"
            or _tag(tokens, i) == "V"
        ):
            return True
    return False


def _ends_on_verb(piece: list[str]) -> bool:
    """Whether an English piece's last word is a verb where it stands ("I come", not
    "the phone")."""
    tokens = _TOKEN.findall(" ".join(piece))
    if not tokens or not tokens[-1][:1].isalpha():
        return False
    last = tokens[-1].lower()
    if lexicon.parts_of_speech(last) == {"VERB"}:
        return True
    return "VERB" in lexicon.parts_of_speech(last) and _tag([*tokens, "."], len(tokens) - 1) == "V"


def _clause_after_comma(piece: list[str]) -> bool:
    """"If it rains, we stay": a subordinate clause with its main clause after it."""
    for i, word in enumerate(piece[:-1]):
        if word.endswith(",") and len(piece) - i - 1 >= MIN_BULLET_WORDS:
            return True
    return False


def _first_clause(words: list[str]) -> list[str]:
    out = []
    for word in words:
        out.append(word)
        if word.endswith((",", ";", ":", "—")):
            break
    return out


def _cleaned(sentence: str, lang: languages.Language) -> list[str]:
    """The sentence's words without what a speaker adds around a point: the language's
    filler sounds and openers (and, in English, frames such as "let's talk about" and
    number words as digits). A language with no rules keeps every word."""
    text = sentence.strip().rstrip(".!?。！？…").strip()
    if lang.fillers is not None:
        text = lang.fillers.sub(" ", text)
    for _ in range(3):
        before = text
        if lang.openers is not None:
            text = lang.openers.sub("", text.strip())
        if lang.english:
            text = lexicon.FRAMES.sub("", text)
        if text == before:
            break
    text = text.strip(" ,;:-—")
    if lang.english:
        text = lexicon.digits(text)
    return text.split()


def _finish(words: list[str], lang: languages.Language) -> str:
    """The bullet as shown: nothing dangling at its end (a particle may end a sentence,
    "move in"; "and" may not), its first letter a capital."""
    dangling = (
        _JOINERS | _DETERMINERS | _CLAUSE_WORDS
        if lang.english
        else lang.joiners | lang.articles | lang.clause_words | lang.subordinators | lang.contrasts
    )  # "…sur des icônes, sauf que": the next sentence's first words, heard in this one
    words = list(words)
    while words and words[-1].lower().strip(",;:") in dangling:
        words = words[:-1]
    result = " ".join(words).rstrip(",;:—–-")
    return result[:1].upper() + result[1:]


def _two_statements(words: list[str], lang: languages.Language) -> list[list[str]]:
    """A long sentence as two statements split at a clause boundary, each at most
    LONGEST_WHOLE words and standing alone, the most even split first; [] if none."""
    best: list[list[str]] = []
    for cut in _clause_boundaries(words, lang):
        first = _trim_trailing(words[:cut], lang)
        second = _drop_joiner(words[cut:], lang)
        fits = all(MIN_BULLET_WORDS <= len(h) <= LONGEST_WHOLE for h in (first, second))
        even = not best or abs(len(first) - len(second)) < abs(len(best[0]) - len(best[1]))
        if fits and even and statement(first, [], lang) and statement(second, [], lang):
            best = [first, second]
    return best


def _main_clause(words: list[str], lang: languages.Language) -> tuple[list[str], list[str]]:
    """The clause of a long sentence that carries its point (its facts, else the longest
    that stands alone) and the words it leaves out; the whole sentence when no clause
    stands alone."""
    edges = [0, *_clause_boundaries(words, lang), len(words)]
    pieces = []
    for a, b in itertools.pairwise(edges):
        piece = _trim_trailing(_drop_joiner(words[a:b], lang) if a else words[a:b], lang)
        if MIN_BULLET_WORDS <= len(piece) <= LONGEST_WHOLE and statement(piece, [], lang):
            fact = bool(lexicon.FACT.search(" ".join(piece)))
            pieces.append((fact, len(piece), a, b, piece))
    if not pieces:
        return words, []
    _, _, a, b, piece = max(pieces, key=lambda p: (p[0], p[1]))
    return piece, [*words[:a], *words[b:]]


def _trim_trailing(words: list[str], lang: languages.Language = languages.ENGLISH) -> list[str]:
    """Without what the cut left dangling at its end: a joiner, a clause word, a dash (in
    English, any function word that promises more)."""
    trailing = _TRAILING if lang.english else lang.joiners | lang.articles | lang.clause_words
    while words and (words[-1].lower().strip(",;:") in trailing or words[-1] in ("—", "–", "-")):
        words = words[:-1]
    if words:
        words[-1] = words[-1].rstrip(",;:")
    return words


def _clause_boundaries(words: list[str], lang: languages.Language) -> list[int]:
    clause_words = _CLAUSE_WORDS if lang.english else lang.clause_words
    cuts = {i + 1 for i, w in enumerate(words) if w.endswith((",", ";", ":"))}
    cuts |= {i for i, w in enumerate(words) if w.lower() in clause_words or w in ("—", "–")}
    return sorted(c for c in cuts if 0 < c < len(words))


def _phrase_boundaries(words: list[str], lang: languages.Language) -> list[int]:
    cuts = {i for i, w in enumerate(words) if w.lower() in _PREPOSITIONS}
    return sorted(c for c in cuts | set(_clause_boundaries(words, lang)) if 0 < c < len(words))


def _best_span(words: list[str], boundaries: list[int], lang: languages.Language) -> list[str]:
    """The longest span between boundaries that fits, the first clause preferred, a
    span holding a number or amount preferred over one without. An aside between two
    commas may go ("Maria, our head of sales, signed…")."""
    edges = [0, *boundaries, len(words)]
    spans = []
    commas = [i + 1 for i, w in enumerate(words) if w.endswith(",")]
    for a, b in itertools.pairwise(commas if lang.english else []):
        if has_verb(words[a:b]):
            continue  # ", which makes it cheaper," is a clause, not an aside
        piece = [*words[: a - 1], words[a - 1].rstrip(","), *words[b:]]
        if MIN_BULLET_WORDS <= len(piece) <= MAX_BULLET_WORDS and statement(piece, [], lang):
            fact = bool(lexicon.FACT.search(" ".join(piece)))
            spans.append((fact, True, len(piece) + 2, piece))
    for a_i, a in enumerate(edges):
        for b in edges[a_i + 1 :]:
            piece = _drop_joiner(words[a:b], lang) if a else words[a:b]
            if len(piece) > MAX_BULLET_WORDS:
                continue
            cuts_list = (
                b < len(words)
                and words[b].lower() in ("and", "or")
                and any(w.endswith(",") for w in piece[-3:-1])
            )  # "dark, crumbly | and ready" splits a list
            piece = _trim_trailing(piece, lang)
            pointless = not content_stems(" ".join(piece))  # "than he was"
            alone = statement(piece, words[b:], lang)
            if len(piece) >= MIN_BULLET_WORDS and not cuts_list and not pointless and alone:
                fact = bool(lexicon.FACT.search(" ".join(piece)))
                spans.append((fact, a == 0, len(piece), piece))
    if not spans:
        return []
    needs_fact = bool(lexicon.FACT.search(" ".join(words)))
    spans.sort(key=lambda s: (s[0] if needs_fact else 0, s[1], s[2]), reverse=True)
    return spans[0][3]


def _drop_joiner(words: list[str], lang: languages.Language = languages.ENGLISH) -> list[str]:
    """Without the conjunction a cut left at its start ("and", "et", "und")."""
    joiners = _JOINERS if lang.english else lang.clause_words - lang.subordinators
    while words and words[0].lower().strip(",") in joiners:
        words = words[1:]
    return words
