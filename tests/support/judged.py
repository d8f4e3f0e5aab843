"""A judged corpus of unscripted speech, and the scorer that holds the slide writer to it.

Each entry is one real sentence from a real recording, as heard (a human transcript, or
Whisper `base` run here over a public clip), with what a careful person puts on a slide
for it: its bullet or bullets (none for small talk and for what makes no point alone),
the words that carry its point, and the topic they would name it by. The scorer counts,
for the writer's own output:

* **fragments**: a bullet that ends on a function word, a negation or a comparison left
  dangling, or opens with a word that makes it a lone subordinate clause;
* **lost points**: a sentence the careful person makes a bullet of where the writer's
  bullets miss a word that carries the point (a negation among them);
* **changed facts**: a figure, link, name or list item not as said (fidelity.py);
* **bad titles**: a title sharing no word with the careful person's, an adjective left
  without its noun, a verb glued to a keyword by "and", or Title Case Word By Word in a
  language that writes titles in sentence case.

Sources (every sentence is quoted as heard, for testing; none of their audio is in the
repository): the two-speaker call in the `pyannote.audio` wheel (its own transcript);
the LibriVox reading in Debian's `pocketsphinx-testdata` (Jane Austen, public domain);
Common Voice sentences (CC0) from Picovoice's test data; a French radio commentary from
a caption tool's test clips; campaign and floor speech, a radio address and German
speech from talking-head clips of public lip-sync repositories, transcribed here by
Whisper `base` (its mishearings kept: "mandanten Portal", "Papstbälle dick").
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from presgend.pipeline.text import fidelity, phrases, summarize


@dataclass(frozen=True)
class Judged:
    source: str
    language: str
    sentence: str
    bullets: tuple[str, ...]  # what a careful person writes; () when no bullet
    point: tuple[str, ...] = ()  # words the point rests on (any form: "interag" matches)
    title: str = ""  # the topic they would name it by


@dataclass
class Score:
    sentences: int = 0
    fragments: list[str] = field(default_factory=list)
    lost_points: list[str] = field(default_factory=list)
    changed_facts: list[str] = field(default_factory=list)
    bad_titles: list[str] = field(default_factory=list)

    def line(self) -> str:
        return (f"{self.sentences} sentences: {len(self.fragments)} fragments, "
                f"{len(self.lost_points)} lost points, {len(self.changed_facts)} changed facts, "
                f"{len(self.bad_titles)} bad titles")  # fmt: skip

    def as_dict(self) -> dict[str, Any]:
        return {"sentences": self.sentences, "fragments": self.fragments,
                "lost_points": self.lost_points, "changed_facts": self.changed_facts,
                "bad_titles": self.bad_titles}  # fmt: skip


# what a bullet must not end on, per language (a cut left it promising more)
_ENDINGS = {
    "en": "a an the of to in on at for with by from as than and or but nor not never no "
    "more less very too is are was were be been has have had do does did will would can "
    "could should may might must that which who whose",
    "fr": "le la les un une des du de d à au aux et ou mais ne pas que qui plus",
    "pt": "o a os as um uma de do da dos das em no na e ou mas não que se",
    "es": "el la los las un una de del en y o pero no que",
    "de": "der die das ein eine und oder aber nicht kein dass zu",
}
# what a bullet must not open with unless its main clause follows a comma
_OPENERS = {
    "en": "if unless while although though whereas whether when until which who as",
    "fr": "si quand lorsque bien quoique sauf parce",
    "pt": "se quando embora enquanto porque",
    "es": "si cuando aunque mientras porque",
    "de": "wenn als obwohl während weil dass ob",
}
_WORD = re.compile(r"[\w'’-]+")


def fragment(bullet: str, language: str, sentence: str = "") -> str:
    """Why `bullet` is a fragment ("" when it is not). A bullet that ends where its
    sentence ends ends as its speaker ended it ("…than he was")."""
    words = [w.lower() for w in _WORD.findall(bullet)]
    if not words:
        return "empty"
    code = _code(language)
    said = [w.lower() for w in _WORD.findall(sentence)]
    cut = said[-len(words) :] != words
    if cut and (words[-1] in _ENDINGS.get(code, "").split() or words[-1].endswith("n't")):
        return f"ends on {words[-1]!r}"
    opens = _OPENERS.get(code, "").split()
    if words[0] in opens and "," not in bullet:
        return f"a lone clause opened by {words[0]!r}"
    return ""


def _code(language: str) -> str:
    return (language or "en").lower().replace("_", "-").split("-")[0]


_ELIDED = re.compile(r"^(?:[ldjmnstc]|qu)['’]", re.IGNORECASE)


def _has(word: str, text: str) -> bool:
    """Whether a word of the point is in `text`, in any of its forms."""
    stem = word.lower()[: max(4, len(word) - 2)] if len(word) > 4 else word.lower()
    return any(_ELIDED.sub("", w.lower()).startswith(stem) for w in _WORD.findall(text))


def score(corpus: list[Judged]) -> Score:
    """The writer's bullets and titles for each sentence, held to the corpus."""
    out = Score(sentences=len(corpus))
    for item in corpus:
        shown = list(_bullets(item.sentence, item.language))
        joined = " ".join(shown)
        for bullet in shown:
            why = fragment(bullet, item.language, item.sentence)
            if why:
                out.fragments.append(f"{bullet!r}: {why}")
        if item.bullets and any(not _has(w, joined) for w in item.point):
            missing = [w for w in item.point if not _has(w, joined)]
            out.lost_points.append(f"{item.sentence[:60]!r} -> {shown}: lost {missing}")
        if shown and fidelity.broken(item.sentence, joined):
            out.changed_facts.append(f"{shown}: {fidelity.broken(item.sentence, joined)}")
        if item.title:
            title = _title(item.sentence, item.language)
            why = bad_title(title, item)
            if why:
                out.bad_titles.append(f"{title!r} for {item.sentence[:50]!r}: {why}")
    return out


def bad_title(title: str, item: Judged) -> str:
    words = title.split()
    if not words:
        return "no title"
    if not any(_has(w, title) for w in _WORD.findall(item.title) if len(w) > 3):
        return f"names another topic than {item.title!r}"
    code = _code(item.language)
    if code in ("fr", "pt", "es") and sum(w[:1].isupper() for w in words[1:]) >= 2:
        return "Title Case word by word"
    if code == "en" and " and " in title.lower() and title.lower() not in item.sentence.lower():
        return "keywords glued by 'and'"
    return ""


def _bullets(sentence: str, language: str) -> tuple[str, ...]:
    points = getattr(summarize, "faithful_points", None)
    if points is not None:
        return tuple(points(sentence, language).bullets)
    made = summarize.faithful_bullet(sentence)  # before the writer knew languages
    return (made,) if made else ()


def _title(sentence: str, language: str) -> str:
    said = [summarize.Sentence(sentence, 0.0, 5.0, 0)]
    title = summarize.make_title(said, {}, [], 1, language)
    return phrases.title_case(title, language)
