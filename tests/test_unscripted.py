"""Slides from unscripted speech, on text: bullets that are statements and keep their
point, titles that are topics, recogniser loops caught, and each language read with its
own rules (a language with none gets neutral handling, never English rules)."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
from support.cli import cli, write_config

from presgend.ops import sample
from presgend.pipeline.text import languages, phrases, subtitles, summarize
from presgend.pipeline.text.summarize import Sentence
from presgend.pipeline.video import repetition
from presgend.pipeline.video.transcribe import Segment, guess_language, parse_cues


def sections(texts: list[str], language: str = "en") -> list[summarize.Section]:
    said = [Sentence(t, 4.0 * i, 4.0 * i + 3.5, i) for i, t in enumerate(texts)]
    return summarize.sections_from(said, 4.0 * len(said), 0, language)


# -- bullets -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("sentence", "never"),
    [
        # each was shipped as a bullet by the cut in brackets
        ("I regard this activity not as music but as a way of letting the room itself speak "
         "back to us.", "I regard this activity not"),
        ("While many will not object to having no constraint on listening, the court did.",
         "While many will not object to having no constraint on listening"),
        ("It is high time that we should meet this nursery tale of the specter of Communism "
         "with a manifesto of the Party itself.",
         "This nursery tale of the specter of Communism with a manifesto of the Party itself"),
        ("Because the eavesdropping in the first place was condoned with a less than "
         "constitutional standard, the evidence fell.",
         "Because the eavesdropping in the first place was condoned"),
    ],
)  # fmt: skip
def test_a_cut_never_leaves_a_fragment_or_reverses_the_point(sentence: str, never: str) -> None:
    shown = phrases.points(sentence).bullets
    assert never not in shown, shown
    for bullet in shown:
        words = bullet.split()
        assert words[-1].lower() not in {"not", "than", "of", "the", "to", "with", "are"}, bullet


def test_a_long_sentence_is_two_statements_or_its_main_clause_never_45_words() -> None:
    long = ("We spent the first year building the storage layer because every customer we "
            "talked to had lost data at least once, and in the second year we rebuilt the "
            "whole scheduler so that jobs could move between machines without anyone "
            "noticing.")  # fmt: skip
    found = phrases.points(long)
    assert 1 <= len(found.bullets) <= 2
    assert all(len(b.split()) <= phrases.LONGEST_WHOLE for b in found.bullets), found
    for bullet in found.bullets:
        assert phrases.statement(bullet.split(), [], languages.ENGLISH, cut=False), bullet


def test_a_sentence_with_nothing_to_say_alone_is_no_bullet() -> None:
    assert phrases.points("Hello?").bullets == ()
    assert phrases.points("If the file is still being copied.").bullets == ()
    assert phrases.points("Well, there isn't that much difference.").bullets == (
        "There isn't that much difference",
    )


# -- titles --------------------------------------------------------------------------------


@pytest.mark.parametrize("title", ["Room Different", "Standard of Probable Different"])
def test_a_title_never_ends_on_an_adjective_without_its_noun(title: str) -> None:
    assert not phrases.is_topic(title)


def test_titles_are_topics_not_keywords_glued_by_and() -> None:
    made = sections([
        "I am sitting in a room different from the one you are in now.",
        "I am recording the sound of my speaking voice.",
        "I will play it back into the room again and again.",
    ])  # fmt: skip
    title = made[0].title
    assert " and " not in title.lower() and phrases.is_topic(title), title


# -- recogniser loops ----------------------------------------------------------------------


def looped(times: int) -> list[Segment]:
    out = [Segment(0.0, 3.0, "Did you ever meet the senator before the hearing?")]
    t = 3.5
    for _ in range(times):
        out.append(Segment(t, t + 1.2, "No, I did not."))
        t += 1.3
    out.append(Segment(t, t + 3.0, "Then who arranged the meeting at the hotel in March?"))
    return out


def test_a_sentence_repeated_forty_times_is_a_loop_said_once() -> None:
    segments, loops = repetition.collapse(looped(40))
    assert [(loop.text, loop.times) for loop in loops] == [("No, I did not.", 40)]
    assert [s.text for s in segments] == [
        "Did you ever meet the senator before the hearing?", "No, I did not.",
        "Then who arranged the meeting at the hotel in March?",
    ]  # fmt: skip
    assert loops[0].start == pytest.approx(3.5) and loops[0].end > 50


def test_a_phrase_looping_inside_one_segment_is_collapsed() -> None:
    text = "Alright, " + ", ".join(["got them"] * 30) + ". Copy that."
    segments, loops = repetition.collapse([Segment(0.0, 30.0, text)])
    assert loops and loops[0].times >= 29 and "got them" in loops[0].text
    assert segments[0].text.count("got them") == 1 and segments[0].text.endswith("Copy that.")


@pytest.mark.parametrize(
    "speech",
    ["No, no, no, that is not what I said.", "It was very, very cold.",
     "Go team, go team, go team!", "Test one two, test one two."],
)  # fmt: skip
def test_people_repeating_themselves_is_not_a_loop(speech: str) -> None:
    assert repetition.find([Segment(0.0, 5.0, speech)]) == []


# -- each language as itself ---------------------------------------------------------------


PORTUGUESE = [
    "Faz um mês que eu cheguei em Lisboa e a cidade é linda.",
    "Um mês depois, já encontrei um apartamento perto do rio.",
    "O aluguel custa oitocentos euros por mês, o que é caro para mim.",
]
SPANISH = [
    "Bueno, hace un año empezamos a vender café en el mercado de la ciudad.",
    "Pues el primer mes vendimos muy poco, eh, casi nada.",
    "Ahora tenemos tres tiendas y un almacén en las afueras.",
]
FRENCH = [
    "Bon, ce qui fait la force du smartphone, c'est la manière dont les fonctions "
    "interagissent entre elles.",
    "Euh, l'écran tactile a été très souvent mentionné.",
    "Les économistes parlent de dépendance du sentier.",
]
GERMAN = [
    "Also, wir haben im letzten Jahr die Fabrik in Leipzig eröffnet.",
    "Äh, die Produktion läuft seit dem Sommer ohne Probleme.",
    "Nächstes Jahr wollen wir die Kapazität verdoppeln.",
]


@pytest.mark.parametrize(
    ("code", "texts"), [("pt", PORTUGUESE), ("es", SPANISH), ("fr", FRENCH), ("de", GERMAN)]
)
def test_each_language_is_read_with_its_own_rules(code: str, texts: list[str]) -> None:
    assert guess_language([Segment(0, 1, t) for t in texts]) == code
    made = sections(texts, code)
    bullets = [b for s in made for b in s.bullets]
    lang = languages.of(code)
    for bullet in bullets:
        first = bullet.split()[0].lower().strip(",")
        assert lang.openers is None or not lang.openers.match(bullet + " "), bullet
        assert first not in ("euh", "äh", "eh", "bueno", "pues", "also", "bon"), bullet
    for section in made:  # sentence case, not Title Case word by word
        words = section.title.split()
        assert words[0][:1].isupper(), section.title
        if code != "de":  # German writes its nouns with capitals
            assert all(not w[:1].isupper() for w in words[1:]), section.title
        assert " and " not in section.title.lower(), section.title


def test_portuguese_um_is_a_word_not_a_hesitation() -> None:
    bullets = [b for s in sections(PORTUGUESE, "pt") for b in s.bullets]
    assert any(b.startswith("Faz um mês que eu cheguei em Lisboa") for b in bullets), bullets
    assert not any("faz mês" in b.lower() for b in bullets), bullets


def test_a_language_with_no_rules_keeps_every_word_in_sentence_case() -> None:
    # Dutch: presgend has no rules for it, so nothing is removed as an English filler
    texts = ["Um tien uur begint de vergadering over het nieuwe kantoor in Utrecht.",
             "Er zijn drie kandidaten voor de baan van directeur."]  # fmt: skip
    made = sections(texts, "nl")
    bullets = [b for s in made for b in s.bullets]
    assert bullets[0].startswith("Um tien uur begint de vergadering"), bullets
    title = made[0].title
    assert title[:1].isupper() and not any(w[:1].isupper() for w in title.split()[1:]), title


# -- the judged corpus ---------------------------------------------------------------------


def test_the_judged_corpus_has_no_fragment_lost_point_or_changed_fact() -> None:
    """Real unscripted and read sentences (tests/support/corpus.py), each with what a
    careful person puts on a slide. `make bench` prints the same figures."""
    from support.corpus import CORPUS
    from support.judged import score

    assert len(CORPUS) >= 40
    result = score(CORPUS)
    assert result.fragments == [] and result.lost_points == [], result.as_dict()
    assert result.changed_facts == [], result.changed_facts
    titled = sum(1 for item in CORPUS if item.title)
    assert len(result.bad_titles) * 3 <= titled, result.bad_titles


# -- through the pipeline ------------------------------------------------------------------


SAID = ["Did you ever meet the senator before the hearing?", "No, I did not.",
        "Then who arranged the meeting at the hotel in March?",
        "The committee staff arranged it through his office in Denver."]  # fmt: skip


@pytest.mark.slow
def test_a_looping_transcript_is_said_once_warned_about_and_makes_no_slide(
    tmp_path: Path, astronaut_png: Path
) -> None:
    """A transcript beside the video where "No, I did not." comes ten times in the
    stretch where it was said once (as a recogniser loops on overlapping voices): the
    job succeeds, the captions say it once, no slide is made from it, and the report
    says that stretch is unreliable."""
    talk = sample.make_talk(tmp_path / "made", SAID, name="interview", image=astronaut_png,
                            preset="ultrafast", size=(640, 360))  # fmt: skip
    cues = parse_cues(talk.srt.read_text())
    looped_at = cues[1]
    step = (looped_at.end - looped_at.start) / 10
    repeats = [Segment(looped_at.start + step * k, looped_at.start + step * (k + 1),
                       "No, I did not.") for k in range(10)]  # fmt: skip
    segments = [cues[0], *repeats, *cues[2:]]
    (tmp_path / "interview.srt").write_text(subtitles.to_srt(segments))
    shutil.copy(talk.video, tmp_path / "interview.mp4")
    cfg = write_config({"paths": {n: str(tmp_path / n) for n in ("outbox", "failed", "logs")},
                        "output": {"quality": "draft"}}, tmp_path / "c.toml")  # fmt: skip
    done = cli("process", str(tmp_path / "interview.mp4"), "--config", str(cfg))
    assert done.returncode == 0, done.stderr
    report = json.loads((tmp_path / "outbox" / "interview.report.json").read_text())
    assert any("No, I did not." in w and "10 times" in w for w in report["warnings"]), report[
        "warnings"
    ]
    shown = " ".join(b for s in report["slides"] for b in s["bullets"])
    assert "did not" not in shown.lower(), shown
    assert "Denver" in shown
    captions = (tmp_path / "outbox" / "interview.srt").read_text()
    assert captions.count("No, I did not.") == 1


CV_SENTENCES = {  # Common Voice sentences (CC0), then more of a talk in each language
    "pt": ["Uma raposa velha não consegue aprender nenhum ofício.", *PORTUGUESE],
    "es": ["Las arenas son blanquecinas de grano medio.", *SPANISH],
    "fr": ["Sous le consulat, il devient conservateur des eaux et forêts.", *FRENCH],
    "de": ["Der hinter diesem Portal liegende Raum wurde als Leichenhalle genutzt.", *GERMAN],
}


@pytest.mark.slow
@pytest.mark.parametrize("code", ["pt", "es", "fr", "de"])
def test_a_talk_in_each_language_with_its_transcript(
    tmp_path: Path, astronaut_png: Path, code: str
) -> None:
    """Spoken by espeak-ng in its own language with a transcript beside it, and no
    language in the config: the transcript's language is found, the bullets keep every
    word that is not a hesitation of that language, the titles are in sentence case."""
    talk = sample.make_talk(tmp_path, CV_SENTENCES[code], name="talk", image=astronaut_png,
                            preset="ultrafast", size=(640, 360), voice=code)  # fmt: skip
    cfg = write_config({"paths": {n: str(tmp_path / n) for n in ("outbox", "failed", "logs")},
                        "output": {"quality": "draft"}}, tmp_path / "c.toml")  # fmt: skip
    done = cli("process", str(talk.video), "--config", str(cfg))
    assert done.returncode == 0, done.stderr
    report = json.loads((tmp_path / "outbox" / "talk.report.json").read_text())
    assert report["transcript"]["language"] == code
    bullets = [b for s in report["slides"] for b in s["bullets"]]
    first = CV_SENTENCES[code][0].rstrip(".")
    assert first in bullets, bullets  # "Uma" is a word in Portuguese, not a hesitation
    for slide in report["slides"]:
        words = slide["title"].split()
        if code != "de":
            assert not any(w[:1].isupper() for w in words[1:]), slide["title"]
        assert slide["bullets"], slide


@pytest.mark.slow
def test_a_stretch_where_the_recogniser_looped_is_decoded_again(
    clip: sample.SampleTalk, tiny_model: Path, tmp_path: Path
) -> None:
    """The real tiny.en over real speech: one sentence's stretch as a looping recogniser
    leaves it (the sentence eight times) is decoded again with temperature fallback and
    comes back as what was said, once."""
    from presgend.core.config import TranscriptionConfig
    from presgend.pipeline.video import transcribe

    wav = tmp_path / "clip.wav"
    subprocess.run(["ffmpeg", "-v", "error", "-i", str(clip.video), "-ac", "1", "-ar", "16000",
                    str(wav)], check=True)  # fmt: skip
    cfg = TranscriptionConfig(model=str(tiny_model), language="en")
    heard = [w for seg in transcribe.whisper_transcribe(wav, cfg, cuda=False).segments
             for w in seg.words]  # fmt: skip
    target = parse_cues(clip.srt.read_text())[1]  # "Batteries store the surplus…"
    before = [w for w in heard if w.end <= target.start]
    after = [w for w in heard if w.start >= target.end]
    step = (target.end - target.start) / 8
    looping = [
        Segment(before[0].start, before[-1].end, " ".join(w.text for w in before), tuple(before)),
        *(Segment(target.start + step * k, target.start + step * (k + 1),
                  "The grid balances supply.") for k in range(8)),
        Segment(after[0].start, after[-1].end, " ".join(w.text for w in after), tuple(after)),
    ]  # fmt: skip
    assert repetition.find(looping)
    audio = transcribe.normalise_level(transcribe.load_audio(wav))[0]
    model = transcribe.load_model(cfg, False)
    again = transcribe._loops_decoded_again(model, audio, cfg, looping, "en")
    assert repetition.find(again) == []
    text = " ".join(s.text for s in again).lower()
    assert "surplus" in text and text.count("grid") == 1 and "sunlight" in text, text
