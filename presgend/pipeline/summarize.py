"""Phase 2 summary: sentences, sections at sentence boundaries, a title and bullets each.

Purely extractive and local: word statistics pick the section boundaries (balanced
length, least lexical overlap across the cut), a key phrase for the title and the
most informative sentences for the bullets. Nothing is downloaded, nothing costs.
"""

from __future__ import annotations

import itertools
import math
import re
from collections import Counter
from dataclasses import dataclass

from presgend.pipeline.transcribe import Segment, Word

STOPWORDS = frozenset(
    """
a about above after again against all also am an and any are aren't as at be because been
before being below between both but by can can't cannot could couldn't did didn't do does
doesn't doing don't down during each even every few for from further get gets getting go
goes going gonna got had hadn't has hasn't have haven't having he he'd he'll he's her here
here's hers herself him himself his how how's i i'd i'll i'm i've if in into is isn't it
it's its itself just kind know let let's like lot lots make makes many may me might more
most much must mustn't my myself need no nor not now of off okay ok on once one only or
other ought our ours ourselves out over own really right same say says see so some such
sure than that that's the their theirs them themselves then there there's these they
they'd they'll they're they've thing things think this those though through to today too
um uh under until up us use used very want was wasn't way we we'd we'll we're we've well
were weren't what what's when when's where where's which while who who's whom why why's
will with won't would wouldn't yeah yes you you'd you'll you're you've your yours yourself
yourselves actually basically also just maybe still going first second next last
""".split()
)
# Common verbs: a title never ends on one ("Honest Reports Tell" reads badly).
VERBS = frozenset(
    """
add adds added ask asks asked become becomes began begin begins bring brings build builds
built call calls called came check checks checked come comes cover covers covered create
creates created drop drops dropped end ends ended fail fails failed feel feels felt find
finds found gave give gives happen happens happened hand hands handed help helps helped
keep keeps kept learn learns learned look looks looked made mean means meant move moves
moved put puts run runs ran said saw seem seems seemed show shows showed shown start starts
started stop stops stopped take takes taken tell tells told took touch touches touched
try tries tried turn turns turned wait waits waited went work works worked write writes
wrote written welcome listen listening thank renamed rename means using
""".split()
)
FILLERS = frozenset(
    {
        "so",
        "and",
        "but",
        "um",
        "uh",
        "er",
        "well",
        "now",
        "okay",
        "ok",
        "right",
        "also",
        "then",
        "like",
        "yeah",
    }
)
_ABBREVIATIONS = ("e.g.", "i.e.", "mr.", "mrs.", "ms.", "dr.", "prof.", "etc.", "vs.", "st.")
_SENTENCE_END = re.compile(r"(?<=[.!?…])[\"')\]]*\s+|(?<=[。！？])")
_WORD = re.compile(r"[^\W\d_][\w'’-]*", re.UNICODE)
MAX_BULLET_WORDS = 14


@dataclass(frozen=True)
class Sentence:
    text: str
    start: float
    end: float


@dataclass(frozen=True)
class Section:
    index: int
    title: str
    bullets: list[str]
    start: float
    end: float
    sentences: list[Sentence]


def split_sentences(text: str) -> list[str]:
    parts: list[str] = []
    for piece in _SENTENCE_END.split(text):
        piece = piece.strip()
        if not piece:
            continue
        if parts and parts[-1].lower().endswith(_ABBREVIATIONS):
            parts[-1] = f"{parts[-1]} {piece}"
        else:
            parts.append(piece)
    return parts


def timed_words(segments: list[Segment]) -> list[Word]:
    """Every word with a time: recogniser word times, else spread over its segment."""
    words: list[Word] = []
    for seg in segments:
        if seg.words:
            words.extend(seg.words)
            continue
        tokens = seg.text.split()
        total = sum(len(t) + 1 for t in tokens) or 1
        t = seg.start
        for token in tokens:
            length = (seg.end - seg.start) * (len(token) + 1) / total
            words.append(Word(t, t + length, token))
            t += length
    return words


def sentences_from(segments: list[Segment]) -> list[Sentence]:
    """Sentences with the time of their first and last spoken word."""
    words = timed_words(segments)
    punctuated = sum(1 for w in words if _ends_sentence(w.text))
    segment_ends = _segment_end_indexes(segments) if punctuated * 40 < len(words) else set()
    sentences: list[Sentence] = []
    current: list[Word] = []
    for i, word in enumerate(words):
        current.append(word)
        if _ends_sentence(word.text) or i in segment_ends or i == len(words) - 1:
            text = _join(current)
            if text and not (text.lower().endswith(_ABBREVIATIONS) and i < len(words) - 1):
                sentences.append(Sentence(text, current[0].start, current[-1].end))
                current = []
    return sentences


def _ends_sentence(token: str) -> bool:
    return token.rstrip("\"')]”’").endswith((".", "!", "?", "…", "。", "！", "？"))


def _segment_end_indexes(segments: list[Segment]) -> set[int]:
    ends, count = set(), 0
    for seg in segments:
        count += len(seg.words) if seg.words else len(seg.text.split())
        ends.add(count - 1)
    return ends


def _join(words: list[Word]) -> str:
    return re.sub(r"\s+", " ", " ".join(w.text for w in words)).strip()


def content_words(text: str) -> list[str]:
    return [
        w
        for w in (m.group().lower().strip("'’-") for m in _WORD.finditer(text))
        if len(w) > 2 and w not in STOPWORDS
    ]


def section_count(sentences: list[Sentence], max_slides: int) -> int:
    words = sum(len(s.text.split()) for s in sentences)
    wanted = min(max_slides, max(3, math.ceil(words / 90)))
    return max(1, min(wanted, len(sentences) // 2))


def split_sections(sentences: list[Sentence], count: int) -> list[list[Sentence]]:
    """Cut into `count` runs: balanced in length, cut where the vocabulary changes most."""
    n = len(sentences)
    if count <= 1 or n <= 1:
        return [sentences]
    lengths = [max(1, len(s.text.split())) for s in sentences]
    prefix = [0]
    for length in lengths:
        prefix.append(prefix[-1] + length)
    ideal = prefix[-1] / count
    bags = [Counter(content_words(s.text)) for s in sentences]
    gap_similarity = [_similarity(bags[max(0, g - 2) : g], bags[g : g + 2]) for g in range(n + 1)]

    def cost(i: int, j: int) -> float:
        return ((prefix[j] - prefix[i] - ideal) / ideal) ** 2

    best = _partition(n, count, cost, gap_similarity)
    cuts = [0, *best, n]
    return [sentences[a:b] for a, b in itertools.pairwise(cuts)]


def _partition(n: int, k: int, cost: object, gap: list[float]) -> list[int]:
    """Dynamic programme over cut positions; returns the k-1 inner cuts."""
    assert callable(cost)
    inf = float("inf")
    table = [[inf] * (n + 1) for _ in range(k + 1)]
    back = [[0] * (n + 1) for _ in range(k + 1)]
    table[0][0] = 0.0
    for parts in range(1, k + 1):
        for j in range(parts, n + 1):
            for i in range(parts - 1, j):
                if table[parts - 1][i] == inf:
                    continue
                value = table[parts - 1][i] + cost(i, j) + (0.5 * gap[i] if i else 0.0)
                if value < table[parts][j]:
                    table[parts][j], back[parts][j] = value, i
    cuts, j = [], n
    for parts in range(k, 0, -1):
        j = back[parts][j]
        cuts.append(j)
    return sorted(c for c in cuts if c > 0)


def _similarity(left: list[Counter[str]], right: list[Counter[str]]) -> float:
    a, b = sum(left, Counter()), sum(right, Counter())
    dot = sum(a[w] * b[w] for w in a.keys() & b.keys())
    norm = math.sqrt(sum(v * v for v in a.values())) * math.sqrt(sum(v * v for v in b.values()))
    return dot / norm if norm else 0.0


def summarize(segments: list[Segment], duration: float, max_slides: int = 5) -> list[Section]:
    sentences = sentences_from(segments)
    if not sentences:
        return []
    return describe(split_sections(sentences, section_count(sentences, max_slides)), duration)


def describe(
    groups: list[list[Sentence]],
    duration: float,
    titles: list[str | None] | None = None,
    bullets: list[list[str] | None] | None = None,
) -> list[Section]:
    """Sections from groups of sentences: each starts at its first sentence (the first
    at 0) and gets a title and bullets, the author's where given, else extracted."""
    weights = _idf(groups)
    sections: list[Section] = []
    used_titles: set[str] = set()
    for i, group in enumerate(groups):
        given_title = titles[i] if titles else None
        title = given_title or _title(group, weights, used_titles) or f"Part {i + 1}"
        used_titles.add(title.lower())
        given_bullets = bullets[i] if bullets else None
        points = given_bullets or _bullets(group, weights)
        start = 0.0 if i == 0 else group[0].start
        end = groups[i + 1][0].start if i + 1 < len(groups) else duration
        sections.append(Section(i, title, points, start, end, group))
    return sections


def _idf(groups: list[list[Sentence]]) -> dict[str, float]:
    df: Counter[str] = Counter()
    for group in groups:
        df.update(set(content_words(" ".join(s.text for s in group))))
    n = len(groups)
    return {w: math.log((1 + n) / (1 + c)) + 1 for w, c in df.items()}


def _title(group: list[Sentence], idf: dict[str, float], used: set[str]) -> str:
    counts: Counter[str] = Counter()
    subjects: set[str] = set()
    originals: dict[str, str] = {}
    for sentence in group:
        for position, phrase in _phrases(sentence.text):
            key = phrase.lower()
            counts[key] += 1
            originals.setdefault(key, phrase)
            if position <= 1:
                subjects.add(key)
    usable = [
        k
        for k in counts
        if k.split()[-1] not in VERBS
        and k.split()[0] not in VERBS
        and (len(k.split()) < 3 or counts[k] > 1)
    ]
    ranked = sorted(usable, key=lambda k: -_phrase_score(k, counts[k], idf, k in subjects))
    for key in ranked:
        title = _title_case(originals[key])
        if title.lower() not in used:
            return title
    return ""


def _phrases(text: str) -> list[tuple[int, str]]:
    """Runs of one to three consecutive content words, with the word index they start at."""
    phrases: list[tuple[int, str]] = []
    run: list[str] = []
    tokens = [m.group() for m in _WORD.finditer(text)]
    for index, token in enumerate([*tokens, ""]):
        word = token.lower().strip("'’-")
        if token and len(word) > 2 and word not in STOPWORDS:
            run.append(token.strip("'’-"))
            continue
        start = index - len(run)
        for size in (1, 2, 3):
            phrases.extend(
                (start + i, " ".join(run[i : i + size])) for i in range(len(run) - size + 1)
            )
        run = []
    return phrases


def _phrase_score(phrase: str, count: int, idf: dict[str, float], subject: bool) -> float:
    """Distinctive words, repeated, two-word, and the subject of a sentence score best."""
    words = phrase.split()
    base = sum(idf.get(w, 1.0) for w in words) / len(words)
    shape = {1: 1.0, 2: 1.5, 3: 1.3}[len(words)]
    return base * (1 + 0.5 * (count - 1)) * shape * (1.6 if subject else 1.0)


def _title_case(phrase: str) -> str:
    return " ".join(
        w if w.isupper() and len(w) > 1 else w[:1].upper() + w[1:] for w in phrase.split()
    )


def _bullets(group: list[Sentence], idf: dict[str, float]) -> list[str]:
    wanted = min(4, max(2, len(group) // 2), len(group))
    scored = sorted(range(len(group)), key=lambda i: -_sentence_score(group[i].text, idf))
    chosen = sorted(scored[:wanted])
    bullets = [_shorten(group[i].text) for i in chosen]
    return [b for b in bullets if b]


def _sentence_score(text: str, idf: dict[str, float]) -> float:
    words = content_words(text)
    if not words:
        return 0.0
    return sum(idf.get(w, 1.0) for w in set(words)) / math.sqrt(len(text.split()))


def _shorten(text: str) -> str:
    words = text.strip().split()
    while len(words) > 1 and words[0].lower().strip(",.;:!") in FILLERS:
        words.pop(0)
    if len(words) > MAX_BULLET_WORDS:
        words = words[:MAX_BULLET_WORDS]
        words[-1] = words[-1].rstrip(",;:") + "…"
    text = " ".join(words).rstrip(".。")
    return text[:1].upper() + text[1:]
