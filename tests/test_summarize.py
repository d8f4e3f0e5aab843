"""The summariser on text alone: sentences, topic cuts, titles, bullets, timing."""

from __future__ import annotations

import itertools
import re

import pytest
from support import talks
from support.talks import TALK

from presgend.pipeline.text import fidelity, lexicon, phrases, summarize
from presgend.pipeline.text.sentences import split_sentences
from presgend.pipeline.video.transcribe import Segment, Word


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
        Segment(4, 6, "about power! Revenue grew 4.5 percent, i.e. a lot. Is it clear?"),
    ]
    sentences = summarize.sentences_from(segs)
    assert [s.text for s in sentences] == [
        "Hello there.",
        "This is Dr. Smith speaking about power!",
        "Revenue grew 4.5 percent, i.e. a lot.",
        "Is it clear?",
    ]
    assert sentences[0].start == 0 and sentences[1].start > 0.5
    assert [s.source for s in sentences] == [0, 0, 1, 1]
    assert sentences[-1].end == 6


def test_word_timestamps_time_the_sentences() -> None:
    words = (Word(1.0, 1.2, "One."), Word(2.5, 2.9, "Two"), Word(3.0, 3.3, "words."))
    sentences = summarize.sentences_from([Segment(1.0, 3.3, "One. Two words.", words)])
    assert [(s.text, s.start, s.end) for s in sentences] == [
        ("One.", 1.0, 1.2),
        ("Two words.", 2.5, 3.3),
    ]


def test_cjk_without_spaces_splits_and_keeps_characters_together() -> None:
    assert split_sentences("太阳能很好。电池也很好！我们需要更多？", "zh") == [
        "太阳能很好。",
        "电池也很好！",
        "我们需要更多？",
    ]
    sentences = summarize.sentences_from([Segment(0, 6, "太阳能很好。电池也很好！")], "zh")
    assert [s.text for s in sentences] == ["太阳能很好。", "电池也很好！"]
    assert sentences[1].start > 2.5


def test_unpunctuated_text_splits_at_segment_ends() -> None:
    segs = [Segment(i, i + 1, f"alpha beta gamma {i}") for i in range(6)]
    assert len(summarize.sentences_from(segs)) == 6


@pytest.mark.parametrize("topics", [talks.PITCH, talks.LESSON], ids=["pitch", "lesson"])
def test_cuts_land_on_the_true_topic_boundaries(topics: list[list[str]]) -> None:
    flat = talks.flatten(topics)
    sections = summarize.summarize(_segments(flat), 200)
    cuts = [flat.index(s.sentences[0].text) for s in sections[1:]]
    truth = talks.true_cuts(topics)
    assert len(cuts) == len(truth)
    assert all(abs(a - b) <= 1 for a, b in zip(cuts, truth, strict=True)), (cuts, truth)


@pytest.mark.parametrize("topics", [talks.PITCH, talks.LESSON], ids=["pitch", "lesson"])
def test_titles_are_distinct_noun_phrases(topics: list[list[str]]) -> None:
    sections = summarize.summarize(_segments(talks.flatten(topics)), 200)
    titles = [s.title for s in sections]
    assert len({t.lower() for t in titles}) == len(titles)
    for title in titles:
        words = title.split()
        assert 2 <= len(words) <= 6, title
        verb = words[-1].lower() in lexicon.VERBS - lexicon.VERB_LIKE_NOUNS
        assert not verb or words[-2].lower() in ("our", "the", "your", "a"), title


def test_a_keyword_title_is_what_was_said_when_its_words_were_said_together() -> None:
    """Real speech of a webcam clip (tiny.en): the title's two distinctive words were
    said together, so the title is those words as said, not "Take and Hand"."""
    heard = [
        Segment(1.2, 2.22, "That's it."), Segment(2.44, 2.98, "Oh my god."),
        Segment(3.38, 4.58, "That's already shy."), Segment(5.67, 6.41, "Take your hand."),
        Segment(15.84, 16.42, "one log."),
    ]  # fmt: skip
    assert [s.title for s in summarize.summarize(heard, 33.6)] == ["Oh My God", "Take Your Hand"]


def test_agenda_and_announced_topics_name_the_slides() -> None:
    pitch = summarize.summarize(_segments(talks.flatten(talks.PITCH)), 200)
    assert [s.title for s in pitch] == [
        "Today's Agenda",
        "The Problem",
        "Our Product",
        "Traction So Far",
        "Our Ask",
    ]
    lesson = summarize.summarize(_segments(talks.flatten(talks.LESSON)), 200)
    assert [s.title for s in lesson] == [
        "Home Composting",
        "Choosing a Bin",
        "Greens and Browns",
        "Healthy Heap",
    ]
    demo = summarize.summarize(_segments(talks_demo()), 60)
    assert [s.title for s in demo] == [
        "Reliable Media Pipelines",
        "Watch Folders",
        "Safe Publishing",
        "Honest Reports",
    ]


def talks_demo() -> list[str]:
    from presgend.ops.sample import DEMO_TALK

    return DEMO_TALK


@pytest.mark.parametrize("topics", [talks.PITCH, talks.LESSON], ids=["pitch", "lesson"])
def test_bullets_are_condensed_points_never_courtesy_or_ellipsis(
    topics: list[list[str]],
) -> None:
    flat = talks.flatten(topics)
    segments = _segments(flat)
    sections = summarize.summarize(segments, 200)
    for section in sections:
        assert 1 <= len(section.bullets) <= 4
        assert len(section.bullets) == len(section.bullet_starts) == len(section.sources)
        for bullet, start, source in zip(
            section.bullets, section.bullet_starts, section.sources, strict=True
        ):
            said = segments[source].text
            # longer only where the 12-word form would lose or change a fact (fidelity.py)
            assert 3 <= len(bullet.split()) <= 12 or fidelity.broken(said, phrases.condense(said))
            assert not fidelity.broken(said, bullet), (said, bullet)
            assert "…" not in bullet and "..." not in bullet
            assert not lexicon.is_courtesy(bullet), bullet
            assert not re.match(r"(?i)(so|well|of course|i think)\b", bullet), bullet
            assert start == segments[source].start  # builds on the sentence it came from
            assert bullet.lower() != section.title.lower()
    content = [s for s in sections if len(s.sentences) >= 3]
    assert all(len(s.bullets) >= 2 for s in content)


def test_every_fact_sentence_reaches_its_slide() -> None:
    flat = talks.flatten(talks.PITCH)
    segments = _segments(flat)
    sections = summarize.summarize(segments, 200)
    used = {src for s in sections for src in s.sources}
    for fact in talks.PITCH_FACTS:
        assert flat.index(fact) in used, fact
    bullets = " | ".join(b for s in sections for b in s.bullets)
    assert "40%" in bullets and "$2 million" in bullets and "Maria Lopez" in bullets


def test_sections_follow_one_another_and_the_count_fits_the_talk() -> None:
    sections = summarize.summarize(_segments(TALK), 40.0)
    assert [len(s.sentences) for s in sections] == [3, 3, 3], "cuts where the topic changes"
    assert sections[0].start == 0.0
    for a, b in itertools.pairwise(sections):
        assert a.end == b.start == b.sentences[0].start
    assert sections[-1].end == 40.0
    long_talk = [
        f"Topic {i // 6} sentence {i} covers subject{i // 6} in some detail here."
        for i in range(60)
    ]
    assert len(summarize.summarize(_segments(long_talk), 600, max_slides=5)) == 5
    assert len(summarize.summarize(_segments(long_talk), 600, max_slides=4)) == 4
    assert len(summarize.summarize(_segments(TALK[:2]), 10)) == 1
    assert len(summarize.summarize(_segments(TALK[:3]), 12)) == 2  # 3 sentences, 10+ s
    assert summarize.summarize([], 5) == []


@pytest.mark.parametrize(
    ("spoken", "bullet"),
    [
        (
            "So, um, revenue grew forty percent last quarter, driven by enterprise customers "
            "in Europe and Asia and the new partner programme.",
            "Revenue grew 40% last quarter, driven by enterprise customers in Europe",
        ),
        (
            "Well, I think we are raising two million dollars to hire engineers and open "
            "an office in Berlin next spring.",
            "We are raising $2 million to hire engineers",
        ),
        (
            "Maria Lopez, our head of sales, signed our first hospital group in October.",
            "Maria Lopez signed our first hospital group in October",
        ),
        (
            "When a stage fails, the report says which one and why, in plain words.",
            "When a stage fails, the report says which one and why",
        ),
        ("Next, let's talk about pricing.", ""),
        ("We fixed it.", "We fixed it"),
    ],
)
def test_condense_cuts_at_clause_boundaries(spoken: str, bullet: str) -> None:
    assert phrases.condense(spoken) == bullet


def test_spoken_numbers_become_figures() -> None:
    assert lexicon.digits("grew forty percent") == "grew 40%"
    assert lexicon.digits("two million dollars") == "$2 million"
    assert lexicon.digits("about 150 billion dollars") == "about $150 billion"
    assert lexicon.digits("three steps") == "three steps"


def test_long_silence_is_found() -> None:
    sentences = summarize.sentences_from(_segments(TALK[:2]))
    assert summarize.silences(sentences, 200.0) == [(sentences[-1].end, 200.0)]
    assert summarize.silences(sentences, 30.0) == []


def test_an_adjective_after_its_noun_is_flipped_only_after_a_verb() -> None:
    keep = [c for _, c in phrases.title_candidates("Keep the heap healthy.")]
    assert "healthy heap" in keep and "heap healthy" not in keep
    colony = [c for _, c in phrases.title_candidates("A single colony visits flowers.")]
    assert "single colony" in colony and "colony single" not in colony


def test_every_title_of_a_deck_has_one_case_style() -> None:
    """The author's headings and the extracted titles alike are in Title Case."""
    texts = talks.flatten(talks.PITCH)
    said = [summarize.Sentence(t, i * 4.0, i * 4.0 + 3, i) for i, t in enumerate(texts)]
    half = len(said) // 2
    sections = summarize.describe([said[:half], said[half:]], 100.0, titles=["Revenue grew", None])
    assert sections[0].title == "Revenue Grew"
    for section in sections:
        assert section.title == phrases.title_case(section.title), section.title


@pytest.mark.parametrize("topics", [talks.PITCH, talks.LESSON], ids=["pitch", "lesson"])
def test_every_content_sentence_is_on_a_slide_or_listed_as_omitted(
    topics: list[list[str]],
) -> None:
    segments = _segments(talks.flatten(topics))
    sections = summarize.summarize(segments, 200, max_slides=3)  # fewer slides: fuller ones
    omitted = 0
    for section in sections:
        shown = set(section.sources) | set(section.omitted)
        for sentence in section.sentences:
            if lexicon.is_courtesy(sentence.text) or not phrases.content_stems(sentence.text):
                continue
            assert sentence.source in shown, sentence.text
        assert not set(section.sources) & set(section.omitted)
        assert section.no_room <= len(section.omitted)
        omitted += len(section.omitted)
    assert omitted, "three slides for a whole talk leave some sentences only spoken"


def _heard(pieces: list[str], start: float = 0.0) -> Segment:
    words = tuple(Word(start + i * 0.3, start + i * 0.3 + 0.25, w) for i, w in enumerate(pieces))
    return Segment(words[0].start, words[-1].end, " ".join(pieces), words)


def test_what_a_recogniser_splits_is_rejoined_into_whole_sentences() -> None:
    """Whisper split "go to remotion.dev/recorder and join our Discord" over two segments
    as "remotion .dev" and "-recorder"; the slide showed fragments under "Remotion Dev"."""
    first = ("To learn everything about how to use the recorder, go to remotion .dev").split()
    second = "-recorder and join our Discord if you have any questions.".split()
    third = "The price is 3. 5 dollars, or write to hello @shiftwise.io today.".split()
    segments = [_heard(first), _heard(second, 20.0), _heard(third, 40.0)]
    sentences = summarize.sentences_from(segments)
    assert [s.text for s in sentences] == [
        "To learn everything about how to use the recorder, go to remotion.dev/recorder and "
        "join our Discord if you have any questions.",
        "The price is 3.5 dollars, or write to hello@shiftwise.io today.",
    ]
    assert sentences[0].start == 0.0 and sentences[1].start == 40.0
    sections = summarize.sections_from(sentences, 60.0)
    for section in sections:
        assert not fidelity.LINK.search(section.title), section.title
        for bullet in section.bullets:
            assert not bullet.lower().startswith(("recorder", "-recorder")), bullet
    shown = " ".join(b for s in sections for b in s.bullets)
    assert "remotion.dev/recorder" in shown and "hello@shiftwise.io" in shown


def test_a_point_said_again_is_on_one_slide_only() -> None:
    """A talk that repeats a stretch (or a fixture that does): a repeated point makes no
    second bullet beside new ones; only a slide made wholly of repeats (a recap) shows
    them again, rather than nothing, each once."""
    flat = talks.flatten(talks.PITCH)
    segments = _segments(flat + flat[2:8])
    sections = summarize.summarize(segments, 300)
    seen: set[frozenset[str]] = set()
    for section in sections:
        points = [frozenset(phrases.content_stems(b)) for b in section.bullets]
        again = [p in seen for p in points]
        assert points and (not any(again) or all(again)), section.bullets
        assert len(set(points)) == len(points), section.bullets
        seen.update(points)


def test_a_point_heard_a_little_differently_the_second_time_is_still_said_once() -> None:
    """Whisper heard one repeated sentence as "...checked with FF Row" and "...check with
    FFRO", and "finish" once and "finished" once: the deck showed both."""
    said = [
        "Safe publishing means the outbox only ever shows finish results.",
        "Every video is written under a temporary name and checked with FF Row.",
        "Safe publishing means the outbox only ever shows finished results.",
        "Every video was written under a temporary name and checked with FFRO.",
        "Every video is written under a temporary name and checked with FFF Row.",
        "Revenue grew in Europe this year.",
        "Revenue grew in Asia this year.",
    ]
    sections = summarize.describe([_sentences(said)], 40.0)
    bullets = sections[0].bullets
    assert sum("publishing" in b for b in bullets) == 1, bullets
    assert sum("temporary name" in b for b in bullets) == 1, bullets
    assert sum("Revenue grew" in b for b in bullets) == 2, bullets  # two points, not one


def _sentences(texts: list[str]) -> list[summarize.Sentence]:
    return [summarize.Sentence(t, i * 4.0, i * 4.0 + 3.5, i) for i, t in enumerate(texts)]


def test_a_recap_slide_shows_its_points_again_rather_than_nothing() -> None:
    said = _sentences([
        "Watch folders hand work to a machine.",
        "Safe publishing shows only finished results.",
        "Watch folders hand the work to a machine.",  # the recap
        "Safe publishing shows finished results.",
    ])  # fmt: skip
    sections = summarize.describe([said[:2], said[2:]], 20.0)
    assert len(sections[1].bullets) == 2, sections[1].bullets


def test_parts_of_speech_are_lemminflect_s() -> None:
    """The bisected table answers what lemminflect's own lookup answers: every 50th form of
    its table, its overrides, punctuation around a word, capitals, and words it lacks."""
    import gzip
    from pathlib import Path

    from lemminflect import config, getAllLemmas

    table = gzip.decompress(Path(config.lemma_lu_fn).read_bytes()).decode().splitlines()
    overrides = [line.split(",", 1)[0] for line in Path(config.lemma_overrides_fn).read_text()
                 .splitlines() if line.strip() and not line.startswith("#")]  # fmt: skip
    words = [line.split(",", 1)[0] for line in table[::50]]
    words += [*overrides, "Running,", "“data”", "I", "Presgend", "zzzz", "can", "must"]
    for word in words:
        theirs = frozenset(getAllLemmas(word.lower().strip(".,;:!?\"'’“”()")))
        verb = frozenset({"VERB"}) if word.lower() in lexicon.VERBS else frozenset()
        assert lexicon.parts_of_speech(word) == (theirs or verb), word
    assert lexicon.parts_of_speech("Running,") == {"NOUN", "VERB"}
    assert lexicon.parts_of_speech("must") == {"NOUN", "AUX", "VERB"}  # modal: AUX
    assert lexicon.parts_of_speech("zzzz") == frozenset()
