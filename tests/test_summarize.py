from __future__ import annotations

import itertools

from conftest import TALK

from presgend.pipeline import summarize
from presgend.pipeline.transcribe import Segment, Word


def _segments(sentences: list[str], gap: float = 0.5) -> list[Segment]:
    t, out = 0.5, []
    for s in sentences:
        length = len(s.split()) * 0.35
        out.append(Segment(t, t + length, s))
        t += length + gap
    return out


def test_sentences_split_inside_and_across_segments() -> None:
    segs = [
        Segment(0, 4, "Hello there. This is Dr. Smith speaking"),
        Segment(4, 6, "about power! Is it clear?"),
    ]
    sentences = summarize.sentences_from(segs)
    assert [s.text for s in sentences] == [
        "Hello there.",
        "This is Dr. Smith speaking about power!",
        "Is it clear?",
    ]
    assert sentences[0].start == 0 and sentences[1].start > 0.5
    assert sentences[-1].end == 6


def test_word_timestamps_time_the_sentences() -> None:
    words = (Word(1.0, 1.2, "One."), Word(2.5, 2.9, "Two"), Word(3.0, 3.3, "words."))
    sentences = summarize.sentences_from([Segment(1.0, 3.3, "One. Two words.", words)])
    assert [(s.text, s.start, s.end) for s in sentences] == [
        ("One.", 1.0, 1.2),
        ("Two words.", 2.5, 3.3),
    ]


def test_unpunctuated_text_splits_at_segment_ends() -> None:
    segs = [Segment(i, i + 1, f"alpha beta gamma {i}") for i in range(6)]
    assert len(summarize.sentences_from(segs)) == 6


def test_sections_are_three_to_five_and_cut_at_topics() -> None:
    sections = summarize.summarize(_segments(TALK), 40.0)
    assert len(sections) == 3
    assert [len(s.sentences) for s in sections] == [3, 3, 3], "cuts where the topic changes"
    assert sections[0].start == 0.0
    for a, b in itertools.pairwise(sections):
        assert a.end == b.start == b.sentences[0].start
    assert sections[-1].end == 40.0
    for s in sections:
        assert 2 <= len(s.bullets) <= 4 and s.title
    titles = [s.title.lower() for s in sections]
    assert "solar" in titles[0] or "panel" in titles[0]
    assert "batter" in titles[1]
    assert "grid" in titles[2] or "meter" in titles[2]


def test_long_talks_get_at_most_max_slides_and_short_ones_fewer() -> None:
    long_talk = [
        f"Topic {i // 6} sentence {i} covers subject{i // 6} in some detail here."
        for i in range(60)
    ]
    assert len(summarize.summarize(_segments(long_talk), 600, max_slides=5)) == 5
    assert len(summarize.summarize(_segments(long_talk), 600, max_slides=4)) == 4
    assert len(summarize.summarize(_segments(TALK[:3]), 10)) == 1
    assert len(summarize.summarize(_segments(TALK[:5]), 15)) == 2
    assert summarize.summarize([], 5) == []


def test_bullets_are_short_and_clean() -> None:
    text = (
        "So, um, this sentence rambles on and on about batteries and chemistry and "
        "storage and grid operators for far too many words to fit a slide."
    )
    [section] = summarize.summarize(_segments([text, "Batteries matter."]), 10)
    first = section.bullets[0]
    assert first.startswith("This sentence") and first.endswith("…")
    assert len(first.split()) <= summarize.MAX_BULLET_WORDS + 1
