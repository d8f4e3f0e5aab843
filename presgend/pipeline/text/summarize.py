"""The content phase's summary: sentences, sections at topic changes, a title and bullets each.

Purely extractive and local. Sentences come from pysbd over the transcript, keeping the
recogniser's word times. Sections are cut at sentence boundaries where the vocabulary
shifts (TextTiling-style cohesion between neighbouring windows), helped by discourse
markers ("next", "let's talk about"), an announced agenda and long pauses. Each section
is named by its most distinctive noun phrase and gets 2–4 condensed bullets, facts first
(numbers, amounts, dates, names, asks); greetings and thanks never become bullets.
"""

from __future__ import annotations

import itertools
import math
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

from presgend.pipeline.text import fidelity, languages, lexicon, phrases
from presgend.pipeline.text.resentence import unpunctuated
from presgend.pipeline.text.sentences import is_cjk, join_words, spans
from presgend.pipeline.video.transcribe import Segment, Word, words_of

MAX_BULLETS = 4
SLIDE_WORDS = 60  # a slide's bullets together: four of 12 words, or two long sentences
MAX_SLIDES = 100  # an automatic count's own ceiling (config.MAX_SLIDES bounds the setting)
MIN_SPEECH_FOR_TWO = 10.0  # seconds of speech before a talk gets a second slide
LONG_SILENCE = 60.0


@dataclass(frozen=True)
class Sentence:
    text: str
    start: float
    end: float
    source: int = -1  # index into the transcript's segments of its first word


@dataclass(frozen=True)
class Section:
    index: int
    title: str
    bullets: list[str]
    start: float
    end: float
    sentences: list[Sentence]
    bullet_starts: list[float] = field(default_factory=list)
    sources: list[int] = field(default_factory=list)  # transcript segment per bullet
    left_off: list[str] = field(default_factory=list)  # fact sentences with no room
    # transcript segments of the content sentences on no bullet (courtesy is not content)
    omitted: list[int] = field(default_factory=list)
    no_room: int = 0  # points it had no bullet left for
    cut: list[str] = field(default_factory=list)  # clauses of long sentences no bullet shows


# --- sentences ----------------------------------------------------------------------------


def timed_words(segments: list[Segment]) -> list[tuple[Word, int]]:
    """Every word with a time and its segment (recogniser word times, else spread over
    the segment in proportion to length), with pieces the recogniser split rejoined."""
    return rejoined(_timed(segments))


_DOMAIN = re.compile(r"^[\w-]+(?:\.[\w-]+)*\.[a-z]{2,}(?:/\S*)?$", re.IGNORECASE)
_WORD = re.compile(r"[^\W\d_][\w'’-]*")  # a word of a keyword title: letters first


def rejoined(words: list[tuple[Word, int]]) -> list[tuple[Word, int]]:
    """Glue what a recogniser splits, often across two segments: "remotion" ".dev"
    "-recorder" is remotion.dev/recorder; "hello" "@shiftwise.io", "3." "5" and
    "well" "-known" are one word each. The glued word keeps the first piece's segment."""
    out: list[tuple[Word, int]] = []
    for word, index in words:
        if out and _glues(out[-1][0].text, word.text):
            before, at = out[-1]
            text = word.text
            if _DOMAIN.match(before.text) and text.startswith("-"):
                text = "/" + text[1:]  # a path after a domain, heard as a dash
            out[-1] = (Word(before.start, max(before.end, word.end), before.text + text), at)
        else:
            out.append((word, index))
    return out


def _glues(before: str, piece: str) -> bool:
    if not before or before[-1] in ",;:!?)\"'”’":
        return False
    if re.match(r"^\.[a-z]{2,}\b", piece, re.IGNORECASE) and before[-1].isalnum():
        return True  # "remotion" ".dev"
    if piece.startswith("/") and _DOMAIN.match(before):
        return True  # "remotion.dev" "/recorder"
    if piece.startswith("@") or (before.endswith("@") and piece[:1].isalnum()):
        return True  # "hello" "@shiftwise.io"
    if re.fullmatch(r"\d+\.", before) and piece[:1].isdigit():
        return True  # "3." "5": a decimal, not a sentence end
    if piece[:1] in "'’" and before[-1].isalpha():
        return True  # "C" "'est", "qu" "'il": French elision, heard as two words
    return bool(re.match(r"^-[^\W\d_]", piece)) and before[-1].isalnum()  # "c'est" "-à-dire"


def _timed(segments: list[Segment]) -> list[tuple[Word, int]]:
    return [(w, index) for index, seg in enumerate(segments) for w in words_of(seg)]


def sentences_from(segments: list[Segment], language: str = "en") -> list[Sentence]:
    """Sentences with the times of their first and last spoken word."""
    return [
        Sentence(join_words([w.text for w, _ in g]), g[0][0].start, g[-1][0].end, g[0][1])
        for g in _sentence_groups(segments, language)
    ]


def by_sentence(segments: list[Segment], language: str = "en") -> list[Segment]:
    """The recogniser's segments (up to 30 s each when decoded in batches) cut into one
    segment per sentence, each with its own words and their times."""
    return [
        Segment(g[0][0].start, g[-1][0].end, join_words([w.text for w, _ in g]),
                tuple(w for w, _ in g))
        for g in _sentence_groups(segments, language)
    ]  # fmt: skip


def _sentence_groups(segments: list[Segment], language: str) -> list[list[tuple[Word, int]]]:
    timed = timed_words(segments)
    if not timed:
        return []
    if unpunctuated([w.text for w, _ in timed]):
        groups = _by_segment(timed)  # no punctuation (nor spaces): trust the segments
    else:
        groups = _by_spans(timed, language)
    return [g for g in groups if g]


def _by_segment(timed: list[tuple[Word, int]]) -> list[list[tuple[Word, int]]]:
    return [list(g) for _, g in itertools.groupby(timed, key=lambda pair: pair[1])]


def _by_spans(timed: list[tuple[Word, int]], language: str) -> list[list[tuple[Word, int]]]:
    """pysbd over the joined words; each word goes to the sentence its first letter is in."""
    offsets, text = [], ""
    for word, _ in timed:
        text += " " if text else ""
        offsets.append(len(text))
        text += word.text
    bounds = [end for _, end in spans(text, language)]
    groups: list[list[tuple[Word, int]]] = [[] for _ in bounds] or [[]]
    k = 0
    for offset, pair in zip(offsets, timed, strict=True):
        while k < len(bounds) - 1 and offset >= bounds[k]:
            k += 1
        groups[k].append(pair)
    return groups


# --- how many sections, and where -------------------------------------------------------


def slide_cap(max_slides: int) -> int:
    """`slides.max_slides` as a bound: 0 is automatic (the talk's length decides)."""
    return max_slides if max_slides > 0 else MAX_SLIDES


def section_count(sentences: list[Sentence], max_slides: int) -> int:
    """3–5 for a 1–3 minute talk, one more per minute of speech beyond, at least 2 once a
    talk has 3 sentences and 10 s; never more than `max_slides` (0: no bound but the
    talk's) or half the sentences."""
    content = [s for s in sentences if not lexicon.is_courtesy(s.text)]
    speech = sentences[-1].end - sentences[0].start if sentences else 0.0
    if len(content) < 3 or speech < MIN_SPEECH_FOR_TWO:
        return 1
    if speech <= 180:
        wanted = 2 if speech < 30 else 3 if speech < 90 else 4 if speech < 150 else 5
    else:
        wanted = 5 + round((speech - 180) / 60)
    cap = slide_cap(max_slides)
    agenda = agenda_items(sentences)
    announced = len(agenda.items) + 1 if agenda else _markers(sentences) + 1
    if 3 <= announced <= cap and speech <= 180:
        wanted = max(wanted, announced)
    return max(1, min(wanted, cap, max(2, len(content) // 2)))


@dataclass(frozen=True)
class Agenda:
    at: int  # the sentence that announces it
    items: list[str]  # what it lists, as spoken

    def stems(self) -> list[set[str]]:
        return [set(phrases.content_stems(item)) for item in self.items]


def agenda_items(sentences: list[Sentence]) -> Agenda | None:
    """An announced agenda in the first third of the talk."""
    for i, sentence in enumerate(sentences[: max(2, len(sentences) // 3)]):
        match = lexicon.AGENDA.search(sentence.text)
        if not match:
            continue
        rest = sentence.text[match.end() :].strip(" .!?:")
        pieces = re.split(r",|;|\band then\b|\band\b|\bthen\b|\bplus\b", rest)
        items = [p.strip() for p in pieces if phrases.content_stems(p)]
        if len(items) >= 2:
            return Agenda(i, items)
    return None


def _markers(sentences: list[Sentence]) -> int:
    return sum(1 for s in sentences[1:] if lexicon.MARKERS.search(s.text))


def split_sections(sentences: list[Sentence], count: int) -> list[list[Sentence]]:
    """Cut into `count` runs at the strongest topic boundaries, kept roughly balanced."""
    n = len(sentences)
    if count <= 1 or n <= 1:
        return [sentences]
    count = min(count, n)
    scores = boundary_scores(sentences)
    words = [max(1, len(s.text.split())) for s in sentences]
    prefix = [0, *itertools.accumulate(words)]
    ideal = prefix[-1] / count
    solo = [lexicon.is_courtesy(s.text) for s in sentences]

    def section_cost(i: int, j: int) -> float:
        balance = 0.35 * ((prefix[j] - prefix[i] - ideal) / ideal) ** 2
        if all(solo[i:j]):
            return 5.0  # a slide for nothing but "thank you"
        return balance + (0.6 if j - i == 1 and n >= 2 * count else 0.0)

    # no section longer than three balanced ones: the search then grows with the talk's
    # length, not its square (a 30-minute talk has some 400 sentences and 30 sections)
    longest = max(2, math.ceil(3 * n / count))
    cuts = _partition(n, count, section_cost, scores, longest)
    edges = [0, *cuts, n]
    return [sentences[a:b] for a, b in itertools.pairwise(edges)]


def boundary_scores(sentences: list[Sentence]) -> list[float]:
    """How strongly a new topic starts at each sentence (index 0 unused)."""
    n = len(sentences)
    bags = [Counter(phrases.content_stems(s.text)) for s in sentences]
    pauses = [max(0.0, b.start - a.end) for a, b in itertools.pairwise(sentences)]
    typical = sorted(pauses)[len(pauses) // 2] if pauses else 0.0
    agenda = agenda_items(sentences)
    mentions = _first_mentions(sentences, agenda) if agenda else {}
    scores = [0.0] * n
    for g in range(1, n):
        before, after = sum(bags[max(0, g - 2) : g], Counter()), sum(bags[g : g + 2], Counter())
        score = 1.0 - _cosine(before, after)
        if lexicon.MARKERS.search(sentences[g].text):
            score += 0.8
        if g in mentions:
            score += 1.2
        if agenda and g == agenda.at + 1:
            score += 0.6
        pause = pauses[g - 1] - max(0.4, 1.5 * typical)
        score += 0.6 * min(1.0, max(0.0, pause / 1.5))
        if all(lexicon.is_courtesy(s.text) for s in sentences[g:]):
            score -= 3.0  # the closing thanks stay with the last topic
        scores[g] = score
    return scores


def _first_mentions(sentences: list[Sentence], agenda: Agenda) -> dict[int, int]:
    """The sentence where each agenda item is first talked about → the item's index."""
    found: dict[int, int] = {}
    for k, item in enumerate(agenda.stems()):
        for g in range(agenda.at + 1, len(sentences)):
            stems = set(phrases.content_stems(sentences[g].text))
            if len(item & stems) * 2 >= len(item):
                found.setdefault(g, k)
                break
    return found


def _agenda_per_group(groups: list[list[Sentence]], agenda: Agenda | None) -> list[str | None]:
    """The agenda item each section covers: in order when the talk has one section per
    item after the agenda, else where each item is first mentioned."""
    found: list[str | None] = [None] * len(groups)
    if agenda is None:
        return found
    starts = list(itertools.accumulate([0, *(len(g) for g in groups)]))
    home = next(i for i in range(len(groups)) if agenda.at < starts[i + 1])
    if len(groups) - home - 1 == len(agenda.items):
        found[home + 1 :] = agenda.items
        return found
    flat = [s for g in groups for s in g]
    for g, k in _first_mentions(flat, agenda).items():
        i = next(i for i in range(len(groups)) if g < starts[i + 1])
        found[i] = found[i] or agenda.items[k]
    return found


def _partition(
    n: int, k: int, cost: Callable[[int, int], float], gain: list[float], longest: int
) -> list[int]:
    """k-1 inner cuts maximising the boundary gains minus each section's cost, no section
    longer than `longest` sentences."""
    inf = float("inf")
    table = [[inf] * (n + 1) for _ in range(k + 1)]
    back = [[0] * (n + 1) for _ in range(k + 1)]
    table[0][0] = 0.0
    for parts in range(1, k + 1):
        for j in range(parts, n + 1):
            for i in range(max(parts - 1, j - longest), j):
                if table[parts - 1][i] == inf:
                    continue
                value = table[parts - 1][i] + cost(i, j) - (gain[i] if i else 0.0)
                if value < table[parts][j]:
                    table[parts][j], back[parts][j] = value, i
    cuts, j = [], n
    for parts in range(k, 0, -1):
        j = back[parts][j]
        cuts.append(j)
    return sorted(c for c in cuts if c > 0)


def _cosine(a: Counter[str], b: Counter[str]) -> float:
    dot = sum(a[w] * b[w] for w in a.keys() & b.keys())
    norm = math.sqrt(sum(v * v for v in a.values())) * math.sqrt(sum(v * v for v in b.values()))
    return dot / norm if norm else 0.0


# --- titles and bullets -----------------------------------------------------------------


def summarize(
    segments: list[Segment], duration: float, max_slides: int = 0, language: str = "en"
) -> list[Section]:
    return sections_from(sentences_from(segments, language), duration, max_slides, language)


def sections_from(
    sentences: list[Sentence], duration: float, max_slides: int = 0, language: str = "en"
) -> list[Section]:
    """Sections, titles and bullets for sentences already timed."""
    if not sentences:
        return []
    groups = split_sections(sentences, section_count(sentences, max_slides))
    return describe(groups, duration, language=language)


def describe(
    groups: list[list[Sentence]],
    duration: float,
    titles: list[str | None] | None = None,
    given: list[list[tuple[str, int]] | None] | None = None,
    language: str = "en",
) -> list[Section]:
    """Sections from groups of sentences: each starts at its first sentence (the first
    at 0) and gets a title and bullets, the author's where given (a bullet with the index
    of its sentence in the group), else extracted."""
    idf = _idf(groups)
    agenda = agenda_items([s for g in groups for s in g])
    items = _agenda_per_group(groups, agenda)
    sections: list[Section] = []
    used: list[str] = []
    shown: set[frozenset[str]] = set()  # each bullet's words: a deck says a point once
    for i, group in enumerate(groups):
        title = (titles[i] if titles else None) or make_title(
            group, idf, used, i, language, items[i]
        )
        title = phrases.title_case(title, language)  # one case style per deck
        used.append(title)
        authored = given[i] if given else None
        picked = (
            Picked([(text, group[k]) for text, k in authored])
            if authored
            else pick_bullets(
                group, idf, title, agenda_sentence(agenda, groups, i), shown, language
            )
        )
        chosen = picked.chosen
        start = 0.0 if i == 0 else group[0].start
        end = groups[i + 1][0].start if i + 1 < len(groups) else duration
        sections.append(
            Section(
                index=i,
                title=title,
                bullets=[text for text, _ in chosen],
                start=start,
                end=end,
                sentences=group,
                bullet_starts=[max(start, s.start) for _, s in chosen],
                sources=[s.source for _, s in chosen],
                left_off=picked.left_off,
                omitted=omitted_sources(group, [s for _, s in chosen]),
                no_room=picked.no_room,
                cut=picked.cut,
            )
        )
    return sections


def omitted_sources(group: list[Sentence], shown: list[Sentence]) -> list[int]:
    """The segments of the group's content sentences that no bullet shows."""
    used = {s.source for s in shown}
    found: list[int] = []
    for sentence in group:
        if sentence.source in used or sentence.source in found:
            continue
        if lexicon.is_courtesy(sentence.text) or not phrases.content_stems(sentence.text):
            continue
        found.append(sentence.source)
    return found


def agenda_sentence(agenda: Agenda | None, groups: list[list[Sentence]], i: int) -> int | None:
    """Index within group i of the agenda sentence, if it falls there."""
    if agenda is None:
        return None
    offset = sum(len(g) for g in groups[:i])
    at = agenda.at - offset
    return at if 0 <= at < len(groups[i]) else None


def _idf(groups: list[list[Sentence]]) -> dict[str, float]:
    df: Counter[str] = Counter()
    for group in groups:
        df.update(set(phrases.content_stems(" ".join(s.text for s in group))))
    n = len(groups)
    return {w: math.log((1 + n) / (1 + c)) + 1 for w, c in df.items()}


def make_title(
    group: list[Sentence],
    idf: dict[str, float],
    used: list[str],
    index: int,
    language: str,
    agenda_item: str | None = None,
) -> str:
    """The section's most distinctive noun phrase of 2–6 words, unlike earlier titles.
    A topic the speaker announced ("let's talk about X", an agenda item) comes first."""
    text = " ".join(s.text for s in group)
    if is_cjk(text):
        return _cjk_title(group, used)
    lang = languages.of(language)
    if not lang.english:
        return (_phrase_title(group, used, lang) if lang.known else "") or _keyword_title(
            group, idf, used, language
        )
    focus = set(phrases.content_stems(agenda_item)) if agenda_item else set()
    scored = _title_scores(group, idf, index, focus)
    taken = {t.lower() for t in used}
    every = [phrases.title_case(p) for p, _ in sorted(scored.items(), key=lambda kv: -kv[1])]
    ranked = [t for t in every if len(t.split()) >= 2 and t.lower() not in taken]
    single = [t for t in every if len(t.split()) == 1 and t.lower() not in taken]
    own: set[str] = set()  # the speaker's own names for a topic, taken as they are
    if agenda_item and not (ranked and focus & set(phrases.content_stems(ranked[0]))):
        ranked.insert(0, _as_title(agenda_item))  # the speaker's own name for it
        own.add(ranked[0])
    if (
        index == 0
        and agenda_items(group)
        and not any(lexicon.TOPIC_OF_TALK.search(s.text) for s in group)
    ):
        ranked.insert(0, "Today's Agenda")  # its phrases name the other slides' topics
        own.add(ranked[0])
    for title in ranked:
        if (
            2 <= len(title.split()) <= phrases.MAX_TITLE_WORDS
            and title.lower() not in taken
            and not fidelity.broken(text, title, title=True)
            and not fidelity.LINK.search(title)  # a link is no topic, nor half of one
            and (title in own or phrases.is_topic(title))
        ):
            return title
    together = _keyword_title(group, idf, used, language, said_together=True)
    if together:
        return together
    for title in single:  # one noun ("Room") before keywords nobody said together
        kinds = lexicon.parts_of_speech(title)
        noun = "NOUN" in kinds and len(title) > 3  # not "God" out of "Oh my god"
        if noun and not fidelity.broken(text, title, title=True):
            return title
    return _keyword_title(group, idf, used, language)


def _as_title(item: str) -> str:
    words = item.split()
    if len(words) > 2 and words[0].lower() in ("the", "a", "an"):
        words = words[1:]  # "the traction so far" → "Traction So Far"; "the problem" stays
    return phrases.title_case(" ".join(words))


def _title_scores(
    group: list[Sentence], idf: dict[str, float], index: int, focus: set[str]
) -> dict[str, float]:
    stems = Counter(phrases.content_stems(" ".join(s.text for s in group)))
    counts: Counter[str] = Counter()
    originals: dict[str, str] = {}
    subject: set[str] = set()
    announced: set[str] = set()
    for n, sentence in enumerate(group):
        courtesy = lexicon.is_courtesy(sentence.text)
        topic = lexicon.TOPIC_OF_TALK.search(sentence.text) if index == 0 else None
        framed = _announced_topic(sentence.text) if n == 0 else ""
        for position, phrase in phrases.title_candidates(sentence.text):
            key = phrase.lower()
            if courtesy and not (topic and phrase in topic.group(1)):
                continue  # "happy presenting" is no topic; "a talk about X" names one
            counts[key] += 2 if topic and phrase in topic.group(1) else 1
            originals.setdefault(key, phrase)
            if position <= 2 or n == 0:
                subject.add(key)
            if framed and phrase in framed:
                announced.add(key)
        if framed and 2 <= len(framed.split()) <= 4:
            counts[framed.lower()] += 2
            originals.setdefault(framed.lower(), framed)
            announced.add(framed.lower())
    scores = {}
    for key, count in counts.items():
        words = phrases.content_stems(key) or [key]
        weight = sum(idf.get(w, 1.0) * (1 + math.log(stems.get(w, 1))) for w in words)
        shape = {1: 0.5, 2: 1.4, 3: 1.5, 4: 1.2, 5: 1.0, 6: 0.9}.get(len(key.split()), 0.5)
        bonus = 1.3 if key in subject else 1.0
        if focus and set(words) & focus:
            bonus *= 3.0
        if key in announced:
            bonus *= 2.0
        scores[originals[key]] = weight / len(words) * shape * bonus * (1 + 0.4 * (count - 1))
    return scores


def _announced_topic(text: str) -> str:
    """X in "Let's talk about X." or "First, X.": a topic the speaker names."""
    cleaned = lexicon.OPENERS.sub("", text.strip().rstrip(".!?:"))
    framed = lexicon.FRAMES.match(cleaned)
    if not framed:
        return ""
    topic = cleaned[framed.end() :].strip(" ,")
    return topic if 1 <= len(topic.split()) <= 4 else ""


def _keyword_title(
    group: list[Sentence],
    idf: dict[str, float],
    used: list[str],
    language: str,
    *,
    said_together: bool = False,
) -> str:
    """Distinctive words in spoken order, when no noun phrase will do: two or three said
    together ("Take your hand"), else (unless `said_together`, then "") the most
    distinctive one. Never two keywords glued by "and", which nobody said."""
    lang = languages.of(language)
    stopwords = lang.stopwords if lang.known else frozenset()
    spoken = [s for s in group if not lexicon.is_courtesy(s.text)] or group
    said = [_WORD.findall(s.text) for s in spoken]
    words = [w for sentence in said for w in sentence]
    seen: dict[str, str] = {}
    for w in words:
        if len(w) > 3 and w.lower() not in stopwords:
            seen.setdefault(phrases.stem(w), w)
    ranked = sorted(seen, key=lambda k: -idf.get(k, 1.0))
    taken = {u.lower() for u in used}
    for size in (2, 3):
        pick = [seen[k] for k in seen if k in ranked[:size]]
        joined = _said_between(said, pick)
        title = phrases.title_case(joined, language)
        infinitive = lang.english and re.search(r"\bto \w+$", joined.lower())  # "Proud to Tell"
        if len(pick) >= 2 and joined and title.lower() not in taken and not infinitive:
            return title
    if said_together:
        return ""
    for key in ranked:
        title = phrases.title_case(seen[key], language)
        if title.lower() not in taken and (not lang.english or phrases.is_topic(title)):
            return title
    return phrases.title_case(" ".join(words[:4]), language) or f"Part {len(used) + 1}"


def _phrase_title(group: list[Sentence], used: list[str], lang: languages.Language) -> str:
    """The section's most distinctive noun phrase as its language writes one: a run of
    content words with the small words that join a noun phrase inside it ("força do
    smartphone", "dépendance du sentier"), the head first, in sentence case; "" if none."""
    counts: Counter[str] = Counter()
    originals: dict[str, str] = {}
    first: set[str] = set()
    after_article: set[str] = set()
    described: set[str] = set()
    opening: set[str] = set()  # from a sentence's first run: where speakers name a topic
    for n, sentence in enumerate(group):
        for r, found in enumerate(phrases.content_runs(sentence.text, lang)):
            run = found.words
            for at in range(len(run)):
                if run[at].lower() in lang.joiners:
                    continue
                for size in range(1, min(len(run) - at, 4) + 1):
                    words = run[at : at + size]
                    inner = [i for i, w in enumerate(words) if w.lower() in lang.joiners]
                    if words[-1].lower() in lang.joiners or (inner and inner[0] != 1):
                        continue  # a noun phrase is "força do smartphone", head first
                    if size > 1 and not inner and at > 0:
                        continue  # two words mid-run: a verb as often as an adjective
                    if inner and at > 0 and run[at - 1].lower() not in lang.joiners:
                        continue  # "économistes parlent de…": the head of a noun phrase
                        # opens a run or follows a joiner ("dépendance du sentier")
                    key = " ".join(words).lower()
                    counts[key] += 1
                    originals.setdefault(key, " ".join(words))
                    if n == 0:
                        first.add(key)
                    if found.article and at == 0:
                        after_article.add(key)
                    if found.predicate and at == 0:
                        described.add(key)
                    if r == 0:
                        opening.add(key)
    if not counts:
        return ""
    df: Counter[str] = Counter(w.lower() for s in group for w in _WORD.findall(s.text))
    taken = {u.lower() for u in used}

    def score(key: str) -> float:
        words = [w for w in key.split() if w not in lang.joiners]
        rare = sum(min(len(w), 10) / (1.0 + df[w] ** 0.5) for w in words) / len(words)
        joined = len(words) < len(key.split())  # "força do smartphone": a noun phrase
        size = len(words)
        shape = 2.0 if joined else {1: 1.0, 2: 0.8, 3: 0.6}.get(size, 0.4)
        article = 1.5 if key in after_article else 1.0  # "o aluguel", "l'écran tactile"
        named = 0.4 if key in described else 1.0  # "são blanquecinas de grano"
        repeated = 1 + 0.5 * (counts[key] - 1)
        place = (1.2 if key in first else 1.0) * (1.25 if key in opening else 1.0)
        return float(rare * shape * article * named * repeated * place)

    for key in sorted(counts, key=lambda k: -score(k)):
        title = phrases.title_case(originals[key], lang.code)
        if title.lower() not in taken and len(originals[key]) > 3:
            return title
    return ""


def _said_between(said: list[list[str]], pick: list[str]) -> str:
    """The words of one sentence (of `said`, each sentence's words) from the first picked
    word to the last, when that is at most four words: "Take your hand", not "Take and
    Hand", which nobody said."""
    for words in said:
        where = [i for i, w in enumerate(words) if w in pick]
        if where and {words[i] for i in where} == set(pick) and where[-1] - where[0] < 4:
            return " ".join(words[where[0] : where[-1] + 1])
    return ""


def _cjk_title(group: list[Sentence], used: list[str]) -> str:
    for sentence in group:
        clause = re.split(r"[，、。！？,.!?；：]", sentence.text)[0].strip()
        title = clause[:12]
        if title and title not in used:
            return title
    return group[0].text[:12]


@dataclass
class Picked:
    """A slide's bullets with the sentence each says; the fact sentences there was no
    room for; how many points in all had none; the clauses of long sentences left out."""

    chosen: list[tuple[str, Sentence]]
    left_off: list[str] = field(default_factory=list)
    no_room: int = 0
    cut: list[str] = field(default_factory=list)


def pick_bullets(
    group: list[Sentence],
    idf: dict[str, float],
    title: str,
    agenda_at: int | None,
    shown: set[frozenset[str]] | None = None,
    language: str = "en",
) -> Picked:
    """2–4 bullets, facts first, in spoken order (a long sentence may give two). A point
    already in `shown` (said again, here or on an earlier slide) is not made twice; the
    chosen bullets' words are added to it. A slide whose every point was said before
    (a recap) shows them again rather than nothing."""
    shown = set() if shown is None else shown
    title_stems = set(phrases.content_stems(title))
    candidates: list[tuple[bool, float, tuple[int, int], str, frozenset[str]]] = []
    repeats: list[tuple[bool, float, tuple[int, int], str, frozenset[str]]] = []
    cut: dict[int, tuple[str, ...]] = {}
    for k, sentence in enumerate(group):
        if lexicon.is_courtesy(sentence.text) and k != agenda_at:
            continue
        found = faithful_points(sentence.text, language)
        fact = lexicon.is_fact(sentence.text) and k != agenda_at
        for j, text in enumerate(found.bullets):
            stems = set(phrases.content_stems(text))
            if not stems or stems <= title_stems:
                continue  # no point left, or it only repeats the title
            point = frozenset(w[:5] for w in stems)  # "check" is "checked"
            said_before = _said_before(point, [*shown, *(c[4] for c in candidates)])
            (repeats if said_before else candidates).append(
                (fact, _informative(text, idf), (k, j), text, point)
            )
            if found.cut:
                cut[k] = found.cut
    if not candidates:  # a recap: every point was made before; each shown once here
        for repeat in repeats:
            if not _said_before(repeat[4], [c[4] for c in candidates]):
                candidates.append(repeat)
    ranked = sorted(candidates, key=lambda c: (not c[0], -c[1]))
    fits: list[tuple[bool, float, tuple[int, int], str, frozenset[str]]] = []
    for candidate in ranked:  # at most MAX_BULLETS, and what a slide can hold to read
        words = sum(len(c[3].split()) for c in fits) + len(candidate[3].split())
        if len(fits) < MAX_BULLETS and (not fits or words <= SLIDE_WORDS):
            fits.append(candidate)
    chosen = sorted(fits, key=lambda c: c[2])
    shown.update(c[4] for c in chosen)
    left_off = [group[c[2][0]].text for c in ranked if c[0] and c not in fits]
    shown_from = {c[2][0] for c in chosen}
    return Picked(
        [(c[3], group[c[2][0]]) for c in chosen],
        left_off,
        len(ranked) - len(chosen),
        [clause for k in sorted(cut) if k in shown_from for clause in cut[k]],
    )


SAME_POINT = 0.7  # share of their words two bullets have in common when they say one thing


def _said_before(point: frozenset[str], earlier: list[frozenset[str]]) -> bool:
    """Whether `point` (a bullet's word stems, cut to five letters) repeats an earlier
    bullet's, allowing for the recogniser hearing the same sentence a little differently
    ("finish" / "finished", "FF Row" / "FFRO")."""
    return any(len(point & e) >= SAME_POINT * len(point | e) for e in earlier)


def faithful_bullet(sentence: str, language: str = "en") -> str:
    """The first bullet `faithful_points` makes of `sentence` ("" when it has none)."""
    found = faithful_points(sentence, language)
    return found.bullets[0] if found.bullets else ""


def faithful_points(sentence: str, language: str = "en") -> phrases.Points:
    """The bullets of `sentence` that keep its facts (fidelity.py): condensed where a
    clause stands alone and keeps them, else the speaker's words (two statements when
    long), and as a last resort the sentence as said."""
    found = phrases.points(sentence, language)
    if not found.bullets or not fidelity.broken(sentence, " ".join(found.bullets)):
        return found
    said = sentence.strip().rstrip(".!?。！？…").strip()
    for text in (phrases.condense(sentence, shorten=False, language=language),
                 lexicon.digits(said)):  # fmt: skip
        if not text or fidelity.broken(sentence, text):
            continue
        if len(text.split()) > phrases.LONGEST_WHOLE:
            halves = phrases.points(text, language).bullets
            if len(halves) == 2 and not fidelity.broken(sentence, " ".join(halves)):
                return phrases.Points(halves)
        return phrases.Points((text,))
    return phrases.Points((said[:1].upper() + said[1:],))


def _informative(text: str, idf: dict[str, float]) -> float:
    stems = phrases.content_stems(text)
    if not stems:
        return 0.0
    return sum(idf.get(w, 1.0) for w in set(stems)) / math.sqrt(len(text.split()))


def silences(sentences: list[Sentence], duration: float) -> list[tuple[float, float]]:
    """Stretches longer than a minute with nobody speaking."""
    edges = [0.0, *(t for s in sentences for t in (s.start, s.end)), duration]
    gaps = [(edges[i], edges[i + 1]) for i in range(0, len(edges) - 1, 2)]
    return [(a, b) for a, b in gaps if b - a > LONG_SILENCE]
