from __future__ import annotations

import itertools

from support.talks import PITCH, flatten

from presgend.core.breaker import CLOSED, HALF_OPEN, OPEN, CircuitBreaker
from presgend.pipeline.text.subtitles import cues, lines, timestamp, to_srt
from presgend.pipeline.video.transcribe import Segment, Word, parse_cues


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_breaker_opens_half_opens_and_closes() -> None:
    clock = Clock()
    changes: list[tuple[str, str]] = []
    b = CircuitBreaker(
        "slides",
        threshold=2,
        reset_seconds=10,
        clock=clock,
        listeners=[lambda a, z: changes.append((a, z))],
    )
    b.record_failure()
    assert b.state == CLOSED and b.allow()
    b.record_failure()
    assert b.state == OPEN and not b.allow()
    clock.now = 10
    assert b.state == HALF_OPEN and b.allow()
    b.record_failure()
    assert b.state == OPEN
    clock.now = 25
    b.record_success()
    assert b.state == CLOSED
    assert changes == [(CLOSED, OPEN), (HALF_OPEN, OPEN), (HALF_OPEN, CLOSED)]


def test_srt_round_trip_and_long_cues_split() -> None:
    long = "word " * 40
    segments = [
        Segment(0.5, 2.0, "Hello there."),
        Segment(2.5, 12.5, long.strip()),
        Segment(3661.5, 3662.25, "Late."),
    ]
    srt = to_srt(segments)
    cues = parse_cues(srt)
    assert cues[0].text == "Hello there." and cues[0].start == 0.5
    assert len(cues) > 3 and all(len(c.text) <= 84 for c in cues)
    assert " ".join(c.text for c in cues[1:-1]) == long.strip()
    assert cues[-1].start == 3661.5
    assert timestamp(3661.5) == "01:01:01,500"


def test_no_cue_runs_past_the_end_of_the_video() -> None:
    """A short last cue is lengthened to a second, but not past the video's end (a
    subtitle track that outlasts the picture makes the whole file longer than the talk),
    and a cue that starts after the end is left out."""
    segments = [Segment(0.5, 3.0, "Hello there."), Segment(9.3, 9.6, "Bye."),
                Segment(10.5, 11.0, "After the end.")]  # fmt: skip
    assert cues(segments)[1].end == 10.3  # lengthened to a second
    clipped = cues(segments, end=10.04)
    assert [(c.start, c.end, c.text) for c in clipped] == [
        (0.5, 3.0, "Hello there."), (9.3, 10.04, "Bye.")
    ]  # fmt: skip
    assert parse_cues(to_srt(segments, 10.04))[-1].end == 10.04
    last = cues(segments[:2], end=10.04)[-1]  # the last cue borrows from before it instead
    assert (last.start, last.end) == (9.04, 10.04)


def test_vtt_with_tags_and_settings() -> None:
    vtt = (
        "WEBVTT\n\nNOTE hello\n\n00:01.000 --> 00:02.500 align:start\n<v Bob>Hi <b>all</b>\n\n"
        "1\n00:00:03.000 --> 00:00:04.000\nsecond line\n"
    )
    cues = parse_cues(vtt)
    assert [(c.start, c.end, c.text) for c in cues] == [
        (1.0, 2.5, "Hi all"),
        (3.0, 4.0, "second line"),
    ]


def _spoken(sentences: list[str], rate: float = 0.32) -> list[Segment]:
    """Sentences with word times, a word every `rate` seconds, half a second between."""
    segments, t = [], 0.0
    for sentence in sentences:
        words = tuple(Word(t + i * rate, t + i * rate + rate * 0.8, w)
                      for i, w in enumerate(sentence.split()))  # fmt: skip
        segments.append(Segment(words[0].start, words[-1].end, sentence, words))
        t = words[-1].end + 0.5
    return segments


def test_captions_a_broadcaster_would_accept() -> None:
    sentences = [
        *flatten(PITCH),
        "In the right sidebar, you can edit a video by adding more scenes or changing "
        "other parameters.",
        "Yes.",
    ]
    segments = _spoken(sentences)
    found = cues(segments)
    assert " ".join(c.text for c in found) == " ".join(sentences)  # every word, in order
    for cue in found:
        shown = lines(cue.text)
        assert len(shown) <= 2 and all(len(line) <= 42 for line in shown), shown
        sentence = next(s for s in segments if cue.words[0] in s.words)
        if cue.words != sentence.words:  # a piece of a longer sentence
            assert len(cue.words) > 1, f"one word split off: {cue.text!r}"
        if sentence.end - sentence.start >= 1.0:
            assert cue.end - cue.start >= 1.0 - 1e-9, cue
    pieces = [c.text for c in found if "sidebar" in c.text or "parameters" in c.text]
    assert pieces[0].endswith("sidebar,") or pieces[0].endswith("scenes")  # a clause break
    assert pieces[-1] != "parameters."
    short = next(c for c in found if c.text == "Yes.")
    assert short.end - short.start >= 1.0  # borrowed from the silence after it
    starts = [c.start for c in found]
    assert starts == sorted(starts)
    assert all(a.end <= b.start + 1e-9 for a, b in itertools.pairwise(found))  # no overlap
