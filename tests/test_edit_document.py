"""The edit document, as data: every kind of bad edit named in one plain sentence each,
all at once; a crop of another shape made the panel's; what an edit changed; and a figure
or name on an edited slide that differs from what was said, warned about."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from presgend.pipeline import edit
from presgend.pipeline.text.summarize import Section, Sentence
from presgend.pipeline.video import transcribe
from presgend.pipeline.video.face import Box

TALK = edit.Talk("job-1", "abc", 60.0, 1280, 720, (640, 720))


def good() -> dict[str, Any]:
    return {
        "version": 1,
        "job_id": "job-1",
        "input": {"sha256": "abc", "duration_s": 60.0},
        "slides": [
            {"title": "Our Plan", "start_s": 0.0,
             "bullets": [{"text": "We raise $85,000", "at_s": 2.0}]},
            {"title": "The Team", "start_s": 30.0,
             "bullets": [{"text": "Ada leads it", "at_s": 31.0},
                         {"text": "Grace builds it", "at_s": 40.0}]},
        ],
        "captions": [
            {"start_s": 0.5, "end_s": 2.5, "text": "Hello."},
            {"start_s": 3.0, "end_s": 5.0, "text": "We raise 85 thousand dollars."},
        ],
        "presenter": {"crop": None},
        "theme": "light",
        "quality": "standard",
    }


def test_a_good_edit_has_no_problems() -> None:
    assert edit.check(good(), TALK) == []


def test_every_problem_is_named_at_once() -> None:
    doc = good()
    doc["slides"][0]["title"] = "  "
    doc["slides"][0]["bullets"][0]["at_s"] = 31.0  # past its slide's end (30 s)
    doc["slides"][1]["bullets"][1]["text"] = ""
    doc["slides"].append({"title": "Late", "start_s": 90.0, "bullets": []})  # past the talk
    doc["captions"][1]["start_s"] = 2.0  # overlaps the first cue
    doc["captions"].append({"start_s": 7.0, "end_s": 6.0, "text": "Backwards."})
    doc["presenter"]["crop"] = [1000, 100, 640, 720]  # past the right edge
    doc["theme"] = "neon"
    problems = edit.check(doc, TALK)
    assert problems == [
        "Slide 1 has no title.",
        "Slide 2's bullet 2 has no text.",
        "Slide 3 starts at 1:30.0, outside the talk (0:00.0 to 1:00.0).",
        "Slide 1's bullet 1 appears at 0:31.0, outside its slide (0:00.0 to 0:30.0).",
        "Caption 2 starts at 0:02.0, before caption 1 ends (0:02.5): captions may not overlap.",
        "Caption 3 ends (0:06.0) before it starts (0:07.0).",
        "The presenter's crop (1000, 100, 640x720) goes outside the 1280x720 recording.",
        "The theme must be one of light, dark, professional_minimal, not 'neon'.",
    ]
    with pytest.raises(edit.EditInvalid) as raised:
        edit.apply(doc, TALK, transcribe.Transcript("whisper", "en", []))
    assert str(raised.value).startswith("The edit has 8 problems: Slide 1 has no title.")


def test_slides_in_order_from_the_start_and_bullets_in_order() -> None:
    doc = good()
    doc["slides"][0]["start_s"] = 3.0
    doc["slides"].append({"title": "Again", "start_s": 20.0, "bullets": []})
    assert edit.check(doc, TALK) == [
        "Slide 1 must start at 0:00.0 (it is shown from the start).",
        "Slide 3 starts at 0:20.0, not after slide 2 (0:30.0): slides must be in order.",
    ]
    doc = good()
    doc["slides"][1]["bullets"].reverse()
    assert edit.check(doc, TALK) == [
        "Slide 2's bullet 2 appears at 0:31.0, before the bullet above it (0:40.0).",
    ]


def test_text_that_will_not_fit_is_named_with_its_slide() -> None:
    doc = good()
    doc["slides"][1]["bullets"] = [
        {"text": "A very long bullet that goes on and on about everything " * 3, "at_s": 31.0}
        for _ in range(30)
    ]
    assert edit.check(doc, TALK) == [
        "Slide 2's text will not fit on the slide: shorten its title or bullets, or split "
        "it into two slides."
    ]


def test_a_document_of_another_job_or_recording_or_no_slides_is_refused() -> None:
    doc = good() | {"job_id": "job-2", "input": {"sha256": "def"}, "slides": []}
    assert edit.check(doc, TALK) == [
        "This edit is for job job-2, not job-1.",
        "This edit was made for another recording (its input's sha256 differs).",
        "An edit needs at least one slide.",
    ]
    assert edit.check([1, 2], TALK) == [
        "An edit is a JSON object (the document `presgend edit` prints)."
    ]


def test_a_crop_of_another_shape_takes_the_panels_and_says_so() -> None:
    doc = good()
    doc["presenter"]["crop"] = [400, 0, 720, 720]  # square; the panel is 640:720
    applied = edit.apply(doc, TALK, transcribe.Transcript("whisper", "en", []))
    assert applied.crop == Box(440, 0, 640, 720), "about its centre"
    assert applied.notes == ["The presenter's crop was made 640x720 to have the panel's shape "
                             "(640:720)."]  # fmt: skip
    assert edit.check(doc | {"presenter": {"crop": [0, 0, 10, 20]}}, TALK) == [
        "The presenter's crop is 10x20; it must be at least 64x64 pixels."
    ]


def test_what_an_edit_changed() -> None:
    before = good()
    after = copy.deepcopy(before)
    after["slides"][1]["title"] = "The People"
    after["slides"][1]["bullets"][0]["text"] = "Ada leads"
    after["captions"][0]["text"] = "Hi."
    assert edit.changes(before, after) == {
        "slides": [1], "slides_added": 0, "slides_removed": 0, "bullets": 1,
        "captions": True, "crop": False, "theme": False, "quality": False,
    }  # fmt: skip


def test_a_figure_or_name_on_an_edited_slide_that_was_not_said_is_a_warning() -> None:
    said = [Sentence("We raise 85 thousand dollars from Acme.", 1.0, 4.0, 0)]
    slide = Section(0, "Our Plan", ["We raise $90,000 from Acme and Zenith"], 0.0, 30.0, said)
    assert edit.said_otherwise([slide], [0]) == [
        "Slide 1 says $90,000; the speaker said $85,000.",
        "Slide 1 names Zenith, which the speaker did not say while it was up.",
    ]
    assert edit.said_otherwise([slide], []) == [], "only the slides the edit changed"


def test_a_deck_edited_keeps_the_times_of_unchanged_bullets_and_times_new_ones() -> None:
    said = [Sentence("We raise 85 thousand dollars.", 2.0, 4.0, 0),
            Sentence("Ada leads the team.", 31.0, 33.0, 1),
            Sentence("Grace builds the product.", 40.0, 42.0, 2),
            Sentence("Margaret tests every release.", 50.0, 52.0, 3)]  # fmt: skip
    deck = [("Our Plan", ["We raise $85,000"]),
            ("The People", ["Ada leads it", "Margaret tests each release"])]  # fmt: skip
    doc = edit.from_deck(good(), deck, said, 60.0)
    assert doc["slides"][1] == {
        "title": "The People", "start_s": 30.0,
        "bullets": [{"text": "Ada leads it", "at_s": 31.0},
                    {"text": "Margaret tests each release", "at_s": 50.0}],
    }  # fmt: skip
    assert doc["slides"][0]["bullets"] == [{"text": "We raise $85,000", "at_s": 2.0}]
    assert edit.check(doc, TALK) == []
