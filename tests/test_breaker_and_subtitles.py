from __future__ import annotations

from presgend.breaker import CLOSED, HALF_OPEN, OPEN, CircuitBreaker
from presgend.pipeline.transcribe import Segment, parse_cues
from presgend.subtitles import timestamp, to_srt


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
