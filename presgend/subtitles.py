"""Subtitles: transcript segments as SRT cues of at most two short lines."""

from __future__ import annotations

import textwrap

from presgend.pipeline.sentences import join_words
from presgend.pipeline.transcribe import Segment, Word

LINE = 42
CUE = 2 * LINE


def cues(segments: list[Segment]) -> list[Segment]:
    """Split long segments into readable cues, timed by words or by length."""
    result: list[Segment] = []
    for seg in segments:
        if seg.words:  # the recogniser's word times: cues end at sentence ends and fit
            result.extend(_by_words(list(seg.words)))
            continue
        if len(seg.text) <= CUE:
            result.append(seg)
            continue
        chunks = textwrap.wrap(seg.text, CUE)
        total = sum(len(c) for c in chunks)
        t = seg.start
        for chunk in chunks:
            length = (seg.end - seg.start) * len(chunk) / total
            result.append(Segment(t, t + length, chunk))
            t += length
    return result


def _by_words(words: list[Word]) -> list[Segment]:
    result: list[Segment] = []
    cue: list[Word] = []

    def flush() -> None:
        if cue:
            result.append(Segment(cue[0].start, cue[-1].end, join_words([w.text for w in cue])))
            cue.clear()

    for word in words:
        if cue and len(join_words([w.text for w in [*cue, word]])) > CUE:
            flush()
        cue.append(word)
        if word.text.rstrip("\"')]”’").endswith((".", "!", "?", "。", "！", "？")):
            flush()
    flush()
    return result


def timestamp(seconds: float) -> str:
    ms = max(0, round(seconds * 1000))
    h, rest = divmod(ms, 3_600_000)
    m, rest = divmod(rest, 60_000)
    s, ms = divmod(rest, 1000)
    return f"{h:02d}:{m:02d}:{s:02d},{ms:03d}"


def to_srt(segments: list[Segment]) -> str:
    blocks = []
    for i, cue in enumerate(cues(segments), start=1):
        lines = "\n".join(textwrap.wrap(cue.text, LINE)) or cue.text
        blocks.append(f"{i}\n{timestamp(cue.start)} --> {timestamp(cue.end)}\n{lines}\n")
    return "\n".join(blocks)
