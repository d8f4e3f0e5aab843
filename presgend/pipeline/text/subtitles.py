"""Subtitles: transcript segments as SRT and WebVTT cues a broadcaster would accept, and
the slides as chapters (WebVTT chapters and the MP4's own chapter list).

Each sentence is cut into as few cues as fit (at most two lines of 42 characters), at
clause boundaries where it can be ("…more scenes, / or changing other parameters."),
never leaving one word on its own, and no cue is on screen for less than a second unless
its sentence is shorter: a short cue borrows time from the silence around it.
"""

from __future__ import annotations

import math
import re
import textwrap
from dataclasses import dataclass

from presgend.pipeline.text.sentences import join_words
from presgend.pipeline.video.transcribe import Segment, Word, words_of

LINE = 42
CUE = 2 * LINE
MIN_CUE = 1.0  # seconds
MAX_WORDS = 40  # a cue never holds more (two lines of 42 characters hold about 16)
_CLAUSE_AFTER = (",", ";", ":", "—", "–")
_CLAUSE_BEFORE = frozenset(
    "and but or so because which while whereas although though since unless when where "
    "if that who then yet".split()
)
_PHRASE_BEFORE = frozenset(
    "in on at for to from with by over under after before during across into through "
    "about between without within of".split()
)


def cues(segments: list[Segment], end: float = math.inf) -> list[Segment]:
    """Every segment (a sentence, or a sidecar's cue) cut into readable cues, none of them
    past `end` (the video's end: a caption that outlasts the picture makes a subtitle
    track, and so the whole file, longer than the talk)."""
    result: list[Segment] = []
    for seg in segments:
        words = list(words_of(seg))
        if words:
            result.extend(_sentence_cues(words))
    return [
        Segment(cue.start, min(cue.end, end), cue.text, cue.words)
        for cue in _lengthened(result, end)
        if cue.start < end
    ]


def _sentence_cues(words: list[Word]) -> list[Segment]:
    """The cheapest cut of one sentence into cues that fit (fewest cues, clause breaks,
    no cue of one word, none shorter than a second)."""
    texts = [w.text for w in words]
    n = len(words)
    best: dict[int, tuple[float, int]] = {0: (0.0, -1)}
    for end in range(1, n + 1):
        for start in range(max(0, end - MAX_WORDS), end):
            if start not in best or not fits(join_words(texts[start:end])):
                continue
            cost = best[start][0] + _cost(words, start, end)
            if end not in best or cost < best[end][0]:
                best[end] = (cost, start)
    if n not in best:  # a word longer than two lines: cut by length
        return [Segment(w.start, w.end, w.text) for w in words]
    cuts, end = [], n
    while end > 0:
        start = best[end][1]
        cuts.append((start, end))
        end = start
    return [
        Segment(words[a].start, words[b - 1].end, join_words(texts[a:b]), tuple(words[a:b]))
        for a, b in reversed(cuts)
    ]


def _cost(words: list[Word], start: int, end: int) -> float:
    cost = 10.0  # each cue: as few as fit
    size = end - start
    if size == 1 and len(words) > 1:
        cost += 1000.0  # one word split off its sentence
    elif size <= 2 and len(words) > 3:
        cost += 30.0
    if words[end - 1].end - words[start].start < MIN_CUE and len(words) > size:
        cost += 25.0  # a flash of a cue, when the sentence has time for more
    if end < len(words):
        cost += _break_cost(words[end - 1].text, words[end].text)
    return cost


def _break_cost(before: str, after: str) -> float:
    if before.endswith(_CLAUSE_AFTER) or after.lower() in _CLAUSE_BEFORE:
        return 0.0
    if after.lower() in _PHRASE_BEFORE:
        return 4.0
    return 9.0


def fits(text: str) -> bool:
    return len(text) <= CUE + 1 and len(lines(text)) <= 2


def lines(text: str) -> list[str]:
    """One line, or two balanced lines of at most 42 characters (broken after a comma
    where that keeps both under the limit); more only for text that cannot fit."""
    if len(text) <= LINE:
        return [text]
    words = text.split()
    options = []
    for k in range(1, len(words)):
        first, second = " ".join(words[:k]), " ".join(words[k:])
        if len(first) <= LINE and len(second) <= LINE:
            clause = 0 if _break_cost(words[k - 1], words[k]) == 0 else 1
            options.append((clause, abs(len(first) - len(second)), [first, second]))
    if options:
        return min(options, key=lambda o: (o[0], o[1]))[2]
    return textwrap.wrap(text, LINE) or [text]


def _lengthened(found: list[Segment], limit: float = math.inf) -> list[Segment]:
    """Cues under a second borrow time from the silence after them (up to `limit`), then
    before them."""
    result = list(found)
    for i, cue in enumerate(result):
        if cue.end - cue.start >= MIN_CUE:
            continue
        after = result[i + 1].start if i + 1 < len(result) else min(cue.start + MIN_CUE, limit)
        end = max(cue.end, min(cue.start + MIN_CUE, after))
        before = result[i - 1].end if i else 0.0
        start = min(cue.start, max(end - MIN_CUE, before))
        result[i] = Segment(start, end, cue.text, cue.words)
    return result


def timestamp(seconds: float) -> str:
    ms = max(0, round(seconds * 1000))
    h, rest = divmod(ms, 3_600_000)
    m, rest = divmod(rest, 60_000)
    s, ms = divmod(rest, 1000)
    return f"{h:02d}:{m:02d}:{s:02d},{ms:03d}"


def to_srt(segments: list[Segment], end: float = math.inf) -> str:
    return srt(cues(segments, end))


def srt(found: list[Segment]) -> str:
    """Cues (made by `cues`, or given by an edit) as SRT."""
    blocks = []
    for i, cue in enumerate(found, start=1):
        text = "\n".join(lines(cue.text))
        blocks.append(f"{i}\n{timestamp(cue.start)} --> {timestamp(cue.end)}\n{text}\n")
    return "\n".join(blocks)


def vtt_timestamp(seconds: float) -> str:
    return timestamp(seconds).replace(",", ".")


def to_vtt(segments: list[Segment], end: float = math.inf) -> str:
    """WebVTT with the same cues as the SRT (players and LMSs read this one)."""
    return vtt(cues(segments, end))


def vtt(found: list[Segment]) -> str:
    blocks = ["WEBVTT\n"]
    for cue in found:
        text = "\n".join(_vtt_text(line) for line in lines(cue.text))
        blocks.append(f"{vtt_timestamp(cue.start)} --> {vtt_timestamp(cue.end)}\n{text}\n")
    return "\n".join(blocks)


@dataclass(frozen=True)
class Chapter:
    start: float
    end: float
    title: str


def chapters(spans: list[tuple[float, str]], duration: float) -> list[Chapter]:
    """One chapter per slide, from its start to the next one's; the first from 0 (a
    player's chapter list starts at the beginning), the last to the end."""
    found = []
    for k, (start, title) in enumerate(spans):
        begin = 0.0 if k == 0 else start
        end = spans[k + 1][0] if k + 1 < len(spans) else duration
        if end > begin:
            found.append(Chapter(begin, end, title))
    return found


def chapters_vtt(found: list[Chapter]) -> str:
    """WebVTT chapters (`<track kind="chapters">`): each cue is a chapter's title."""
    blocks = ["WEBVTT\n"]
    for k, chapter in enumerate(found, start=1):
        span = f"{vtt_timestamp(chapter.start)} --> {vtt_timestamp(chapter.end)}"
        blocks.append(f"{k}\n{span}\n{_vtt_text(chapter.title)}\n")
    return "\n".join(blocks)


def ffmetadata(found: list[Chapter]) -> str:
    """ffmpeg's metadata file with the chapters, for the MP4's own chapter list."""
    out = [";FFMETADATA1"]
    for chapter in found:
        title = re.sub(r"([=;#\\\n])", r"\\\1", chapter.title)
        out += ["[CHAPTER]", "TIMEBASE=1/1000", f"START={round(chapter.start * 1000)}",
                f"END={round(chapter.end * 1000)}", f"title={title}"]  # fmt: skip
    return "\n".join(out) + "\n"


def _vtt_text(text: str) -> str:
    """Text as a WebVTT cue holds it: `&`, `<` and `>` escaped, no `-->`."""
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return text.replace("--&gt;", "→")


# ISO 639-1 → 639-2/B, for the MP4's subtitle track (mov_text wants three letters)
LANGUAGES = {
    "en": "eng", "de": "ger", "fr": "fre", "es": "spa", "it": "ita", "pt": "por",
    "nl": "dut", "sv": "swe", "da": "dan", "no": "nor", "fi": "fin", "pl": "pol",
    "cs": "cze", "ru": "rus", "uk": "ukr", "tr": "tur", "el": "gre", "ar": "ara",
    "he": "heb", "hi": "hin", "ja": "jpn", "ko": "kor", "zh": "chi", "id": "ind",
}  # fmt: skip


def track_language(language: str) -> str:
    return LANGUAGES.get(language.split("-")[0].lower(), "und")
