"""Recogniser loops: the same sentence or phrase back to back, many times over.

Whisper's known failure on overlapping voices, music and silence is to repeat what it
decoded last ("No, I did not." forty times; "got them, got them, got them…"). A person
may say "no, no, no" or "very, very"; nobody says the same four words three times in a
row, or one word six times. A loop found in the recogniser's output is decoded again
(transcribe.py); what still loops, or loops in a transcript dropped beside the video,
is collapsed to one saying, the report warns that the stretch is unreliable, and no
slide is built from it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from presgend.pipeline.text.sentences import join_words
from presgend.pipeline.video.transcribe import Segment, Word, words_of

MAX_UNIT = 12  # words in the repeated unit, at most
# how many times in a row a unit of n words must come to be a loop, not speech
_TIMES = {1: 6, 2: 4, 3: 4}
_DEFAULT_TIMES = 3


def times_for(unit: int) -> int:
    return _TIMES.get(unit, _DEFAULT_TIMES)


@dataclass(frozen=True)
class Loop:
    start: float  # the first saying's first word
    end: float  # the last repeat's last word
    text: str  # one saying
    times: int

    @property
    def span(self) -> tuple[float, float]:
        return self.start, self.end


_NORMAL = re.compile(r"[^\w']+")


def _key(word: str) -> str:
    return _NORMAL.sub("", word.lower())


def find(segments: list[Segment]) -> list[Loop]:
    """Every loop in the transcript, in order."""
    words = [w for s in segments for w in words_of(s)]
    return [loop for loop, _ in _scan(words)]


def _scan(words: list[Word]) -> list[tuple[Loop, range]]:
    """Loops with the indices of the words that repeat the first saying."""
    keys = [_key(w.text) for w in words]
    found: list[tuple[Loop, range]] = []
    i = 0
    while i < len(keys):
        best: tuple[int, int] | None = None  # (unit, times)
        for unit in range(1, MAX_UNIT + 1):
            if i + unit * 2 > len(keys) or not all(keys[i : i + unit]):
                continue
            times = 1
            while keys[i + times * unit : i + (times + 1) * unit] == keys[i : i + unit]:
                times += 1
            if times >= times_for(unit) and (best is None or unit * times > best[0] * best[1]):
                best = (unit, times)
        if best is None:
            i += 1
            continue
        unit, times = best
        end = i + unit * times
        text = join_words([w.text for w in words[i : i + unit]])
        found.append((Loop(words[i].start, words[end - 1].end, text, times), range(i + unit, end)))
        i = end
    return found


def collapse(segments: list[Segment]) -> tuple[list[Segment], list[Loop]]:
    """The transcript with each loop said once (its first saying, with its times), and
    the loops found."""
    words = [(n, w) for n, s in enumerate(segments) for w in words_of(s)]
    scanned = _scan([w for _, w in words])
    if not scanned:
        return segments, []
    dropped = {i for _, repeats in scanned for i in repeats}
    kept: dict[int, list[Word]] = {}
    for i, (n, word) in enumerate(words):
        if i not in dropped:
            kept.setdefault(n, []).append(word)
    out = []
    for n, segment in enumerate(segments):
        left = kept.get(n)
        if not left:
            continue  # nothing in it but repeats
        if len(left) == len(words_of(segment)):
            out.append(segment)
            continue
        text = join_words([w.text for w in left])
        out.append(Segment(left[0].start, left[-1].end, text, tuple(left) if segment.words else ()))
    return out, [loop for loop, _ in scanned]


def inside(span: tuple[float, float], loops: list[Loop]) -> bool:
    """Whether most of a stretch of the talk (a sentence) lies in one of the loops."""
    a, b = span
    length = max(b - a, 1e-3)
    return any(min(b, loop.end) - max(a, loop.start) >= length / 2 for loop in loops)
