"""Sentences for transcripts without punctuation or capitals (downloaded auto-captions):
the recogniser's punctuation moved onto the transcript's words, sentence ends placed at
pauses and never after "the", and names capitalised from the system word list. Her real
reading as auto-captions, end to end, is in test_real_speech.py."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest

from presgend.pipeline.text import resentence
from presgend.pipeline.video.transcribe import Segment, Word, parse_cues


def _words(text: str, start: float = 0.0, rate: float = 0.3) -> list[Word]:
    return [Word(start + k * rate, start + k * rate + rate * 0.9, w)
            for k, w in enumerate(text.split())]  # fmt: skip


def _spoken(*sentences: str, pause: float = 0.7) -> list[Segment]:
    """Each sentence's words a word every 0.3 s, `pause` between sentences, cut into
    7-word caption lines that take no notice of the sentences."""
    words: list[Word] = []
    t = 0.0
    for sentence in sentences:
        words += _words(sentence, t)
        t = words[-1].end + pause
    lines = [words[k : k + 7] for k in range(0, len(words), 7)]
    return [Segment(ln[0].start, ln[-1].end, " ".join(w.text for w in ln), tuple(ln))
            for ln in lines]  # fmt: skip


MANIFESTO = [  # the public-domain reading the issue saw as "Marx and frederick engels"
    "a spectre is haunting europe the spectre of communism",
    "two things result from this fact",
    "communism is already acknowledged by all european powers to be itself a power",
    "it is high time that communists should openly in the face of the whole world publish "
    "their views",
    "to this end communists of various nationalities have assembled in london and sketched "
    "the following manifesto",
    "it was written by karl marx and frederick engels",
]


def test_only_text_without_punctuation_is_restored() -> None:
    assert resentence.needs_restoring(_spoken(*MANIFESTO))
    assert not resentence.needs_restoring([Segment(0, 4, "We grew. Then we hired three people.")])
    assert not resentence.needs_restoring([Segment(0, 4, "我们的产品很好用我们今年增长很快")])


def test_sentences_end_where_she_pauses_never_on_the_caption_lines() -> None:
    restored = resentence.restore(_spoken(*MANIFESTO))
    assert len(restored) == len(MANIFESTO)
    for seg, said in zip(restored, MANIFESTO, strict=True):
        assert seg.text.lower().rstrip(".") == said, seg.text
        assert seg.text[0].isupper() and seg.text.endswith(".")
        assert seg.words and seg.start == seg.words[0].start
    assert restored[0].text == "A spectre is haunting Europe the spectre of communism."
    assert restored[-1].text == "It was written by Karl Marx and Frederick Engels."
    assert "London" in restored[4].text and "European" in restored[2].text


def test_without_pauses_no_sentence_ends_on_a_word_sentences_never_end_on() -> None:
    text = " ".join(MANIFESTO * 3)
    restored = resentence.restore([Segment(0.0, 120.0, text)])  # no timing inside at all
    assert " ".join(s.text.lower().rstrip(".") for s in restored) == text
    for seg in restored:
        last = seg.text.rstrip(".").split()[-1].lower()
        assert last not in resentence.NEVER_LAST, seg.text
        assert 3 <= len(seg.words) <= resentence.LONGEST


def test_the_recognisers_punctuation_and_capitals_go_onto_the_transcripts_own_words() -> None:
    told = _spoken("and mister john dashwood had then leisure to consider it",
                   "he was not an ill disposed young man unless to be selfish is to be ill "
                   "disposed", pause=0.0)  # fmt: skip
    heard = [Segment(0.0, 9.0, "And Mr. John Dashwood had then leisure to consider it. He was "
                     "not an ill-disposed young man, unless to be selfish is to be "
                     "ill-disposed.")]  # fmt: skip
    restored = resentence.restore(told, heard)
    assert [s.text for s in restored] == [
        "And Mister John Dashwood had then leisure to consider it.",  # her word, not "Mr."
        "He was not an ill-disposed young man, unless to be selfish is to be ill-disposed.",
    ]
    assert all(a.start <= b.start for a, b in itertools.pairwise(restored[1].words))


def test_a_recogniser_that_heard_other_words_lends_only_where_they_agree() -> None:
    told = _spoken("we sell the roster tool to hospitals we grew fast last year", pause=0.0)
    heard = [Segment(0.0, 4.0, "We sell the Rostered tool to hospitals. We grew fast last year.")]
    restored = resentence.restore(told, heard)
    assert [s.text for s in restored] == [
        "We sell the roster tool to hospitals.",
        "We grew fast last year.",
    ]


def test_names_from_the_transcript_itself_and_without_a_word_list(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(resentence, "WORD_LISTS", (Path("/nonexistent/words"),))
    resentence.word_list.cache_clear()
    try:
        told = _spoken("our product ShiftWise builds the roster", "shiftwise saves a day a week")
        restored = resentence.restore(told)
        assert [s.text for s in restored] == [
            "Our product ShiftWise builds the roster.",
            "ShiftWise saves a day a week.",
        ]
    finally:
        resentence.word_list.cache_clear()


def test_the_word_after_i_is_no_surname() -> None:
    restored = resentence.restore([Segment(0.0, 3.0, "so today i blorped the roster")])
    assert [s.text for s in restored] == ["So today I blorped the roster."]


def test_plain_lowercase_srt_with_gaps_between_cues() -> None:
    srt = "\n\n".join(
        f"{k + 1}\n00:00:{a:06.3f} --> 00:00:{b:06.3f}\n{text}".replace(".", ",")
        for k, (a, b, text) in enumerate([
            (0.5, 2.5, "so today i want to talk"),
            (2.6, 4.0, "about our roster tool"),
            (5.2, 7.0, "it saves every nurse"),
            (7.1, 8.5, "a day a week"),
        ])
    )  # fmt: skip
    restored = resentence.restore(parse_cues(srt))
    assert [s.text for s in restored] == [
        "So today I want to talk about our roster tool.",
        "It saves every nurse a day a week.",
    ]


def test_nationalities_languages_days_and_months_are_always_capitalised() -> None:
    """The word list knows "french" and "march" in lower case too (french windows, to
    march); English writes nationalities, languages, days and months with capitals, and
    "may" and "march" are months only next to a number or after a word that takes a date."""
    said = ("the french radicals met the german police in march twenty twenty on a monday "
            "and you may go home now in may we will meet the english teacher who speaks "
            "spanish and italian on march 5 we march on")  # fmt: skip
    text = " ".join(s.text for s in resentence.restore([Segment(0.0, 20.0, said)]))
    for word in ("French", "German", "in March twenty", "Monday", "in May", "English",
                 "Spanish", "Italian", "on March 5", "you may go", "we march on"):  # fmt: skip
        assert word in text, (word, text)
