"""Whole sentences for a transcript that has no punctuation and no capitals.

Downloaded auto-captions are one lowercase line per cue, cut wherever the line was full,
so a cue is no sentence ("two things result from this fact one"). Such a transcript is
re-sentenced before anything reads it:

* **With a recogniser** (the configured Whisper model is installed), the audio is
  recognised too and its punctuation and capitals are copied onto the transcript's own
  words wherever the two agree (the words stay the transcript's: a person may have
  checked them).
* **Always**, where sentence ends are still missing, they are placed where the speaker
  pauses, never after a word a sentence cannot end on ("the", "to", "should"), before
  words that open sentences ("so", "now", "but"), and at lengths people speak in.
* Names get their capitals back from the system word list (`/usr/share/dict/words`,
  Debian's `wamerican`): a word the list only knows capitalised ("engels" → "Engels",
  "nasa" → "NASA"), a word capitalised elsewhere in the transcript, a word after a
  title ("mister john" → "Mister John") and an unknown word after a name ("John
  dashwood" → "John Dashwood").

What this cannot do: commas, or a question mark the speaker's voice alone marks.
"""

from __future__ import annotations

import difflib
import functools
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from presgend.pipeline.text import lexicon
from presgend.pipeline.text.sentences import is_cjk, join_words
from presgend.pipeline.video.transcribe import Segment, Word, words_of

WORD_LISTS = (
    Path("/usr/share/dict/american-english"),
    Path("/usr/share/dict/british-english"),
    Path("/usr/share/dict/words"),
)
_END = (".", "!", "?", "…")
_CLOSERS = "\"')]”’"

# Words no English sentence ends on, and words few end on (a sentence may end on "was"
# or "can": "than he was", "yes we can").
NEVER_LAST = frozenset(
    """a an the to of and or nor but if because although though whether my your our their
    his its very such whose i we they he she it's i'm we're you're they're let's""".split()
)
RARELY_LAST = {
    **dict.fromkeys("in on at by for from with into onto upon about as than should would "
                    "could must shall might may will not no which who whom where".split(), 3.0),
    **dict.fromkeys("is are was were am be been being has have had do does did".split(), 1.5),
}  # fmt: skip
# Words that often open a sentence in speech.
OPENERS = {
    **dict.fromkeys("so now today first second third next finally however also okay ok "
                    "well then yes no anyway actually basically".split(), 1.5),
    **dict.fromkeys("i we you he she they it there this these that our my let's here "
                    "what how why when".split(), 0.7),
    **dict.fromkeys("and but".split(), 0.4),
}  # fmt: skip
TITLES = frozenset(
    "mister mr mrs ms miss doctor dr professor sir lady lord saint st uncle aunt "
    "president king queen prince princess captain general".split()
)
SPLIT_COST = 2.5
LONGEST = 45  # words; a longer sentence is always cut somewhere


def needs_restoring(segments: list[Segment]) -> bool:
    """The text has no punctuation (text written without spaces, as Chinese or Japanese
    is, is left as it is)."""
    tokens = [t for s in segments for t in s.text.split()]
    return bool(tokens) and not is_cjk(" ".join(tokens[:200])) and unpunctuated(tokens)


def unpunctuated(tokens: list[str]) -> bool:
    """Fewer than one word in forty ends a sentence."""
    return sum(1 for t in tokens if ends_sentence(t)) * 40 < len(tokens)


def ends_sentence(token: str) -> bool:
    return token.rstrip(_CLOSERS).endswith((*_END, "。", "！", "？"))


def restore(segments: list[Segment], guide: list[Segment] | None = None) -> list[Segment]:
    """One segment per sentence, each with its words, punctuated and capitalised;
    `guide` is the recogniser's own (punctuated) transcript of the same audio."""
    words = [w for seg in segments for w in words_of(seg)]
    if not words:
        return []
    if guide:
        words = transfer(words, [w for seg in guide for w in words_of(seg)])
    sentences: list[list[Word]] = []
    for run in _punctuated_runs(words):
        sentences.extend(_cut(run))
    sentences = [_capitalised(s) for s in sentences]
    sentences = _names(sentences)
    return [
        Segment(s[0].start, s[-1].end, join_words([w.text for w in s]), tuple(s)) for s in sentences
    ]


# --- the recogniser's punctuation on the transcript's words ------------------------------


def bare(token: str) -> str:
    """A word without its punctuation, in lower case ("Engels," → "engels")."""
    return re.sub(r"[^\w']", "", token.lower()).strip("'")


def transfer(words: list[Word], heard: list[Word]) -> list[Word]:
    """Copy punctuation and capitals from the recogniser's words onto the same words of
    the transcript (matched in order, as `difflib` aligns them)."""
    mine, theirs = [bare(w.text) for w in words], [bare(w.text) for w in heard]
    out: list[Word] = []
    matcher = difflib.SequenceMatcher(None, mine, theirs, autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            pairs = zip(words[i1:i2], heard[j1:j2], strict=True)
            out += [_dressed(mine_word, their.text) for mine_word, their in pairs]
        elif tag == "replace" and "".join(mine[i1:i2]) == "".join(theirs[j1:j2]):
            out += _respelled(words[i1:i2], heard[j1:j2])  # "ill disposed" → "ill-disposed"
        else:
            out += words[i1:i2]
            if tag == "replace" and ends_sentence(heard[j2 - 1].text):
                last = heard[j2 - 1].text.rstrip(_CLOSERS)
                if not _abbreviation(last):  # "Mr." ends no sentence
                    w = out[-1]
                    out[-1] = Word(w.start, w.end, w.text.rstrip(".,;:") + last[-1])
    return out


def _respelled(words: list[Word], heard: list[Word]) -> list[Word]:
    """The same letters written as other words: the heard spelling, over the
    transcript's time for them."""
    start, end = words[0].start, words[-1].end
    total = sum(len(w.text) + 1 for w in heard)
    out, t = [], start
    for w in heard:
        length = (end - start) * (len(w.text) + 1) / total
        out.append(Word(t, t + length, w.text))
        t += length
    return out


def _dressed(word: Word, heard: str) -> Word:
    """The transcript's word with the heard word's capitals and punctuation around it."""
    core = re.sub(r"^[^\w']+|[^\w']+$", "", word.text)
    heard_core = re.sub(r"^[^\w']+|[^\w']+$", "", heard)
    if heard_core.lower() == core.lower():
        core = heard_core
    match = re.match(r"^([^\w']*)(.*?)([^\w']*)$", heard)
    lead, tail = (match.group(1), match.group(3)) if match else ("", "")
    return Word(word.start, word.end, lead + core + tail)


def _abbreviation(token: str) -> bool:
    return bare(token) in {"mr", "mrs", "ms", "dr", "st", "vs", "etc", "jr", "sr", "prof"}


# --- sentence ends where the text has none ------------------------------------------------


def _punctuated_runs(words: list[Word]) -> Iterable[list[Word]]:
    run: list[Word] = []
    for word in words:
        run.append(word)
        if ends_sentence(word.text) and not _abbreviation(word.text):
            yield run
            run = []
    if run:
        yield run


def _cut(words: list[Word]) -> list[list[Word]]:
    """The best places to end sentences in a stretch with no punctuation (dynamic
    programming over pause, the words either side, and sentence length)."""
    n = len(words)
    if n <= 6:
        return [words]
    gain = [_boundary(words[i], words[i + 1]) for i in range(n - 1)] + [0.0]
    best = [0.0] + [float("inf")] * n
    back = [0] * (n + 1)
    for end in range(1, n + 1):
        for start in range(max(0, end - LONGEST), end):
            if best[start] == float("inf"):
                continue
            cost = best[start] + _length_cost(end - start)
            if end < n:
                cost += SPLIT_COST - gain[end - 1]
            if cost < best[end]:
                best[end], back[end] = cost, start
    cuts, end = [], n
    while end > 0:
        cuts.append((back[end], end))
        end = back[end]
    return [words[a:b] for a, b in reversed(cuts)]


def _boundary(last: Word, first: Word) -> float:
    """How much the gap between two words looks like the end of a sentence."""
    if bare(last.text) in NEVER_LAST:
        return -12.0
    pause = first.start - last.end
    score = 0.0 if pause < 0.15 else 5.0 * min(pause, 2.0)
    score -= RARELY_LAST.get(bare(last.text), 0.0)
    if last.text.rstrip(_CLOSERS).endswith((",", ";", ":", "-")):
        score -= 1.0
    return score + OPENERS.get(bare(first.text), 0.0)


def _length_cost(length: int) -> float:
    if length < 3:
        return 8.0
    if length < 6:
        return (6 - length) * 1.0
    return max(0, length - 24) * 0.25


# --- capitals -----------------------------------------------------------------------------


def _capitalised(sentence: list[Word]) -> list[Word]:
    """The sentence with a capital first letter and a full stop if it has no end."""
    words = list(sentence)
    first = words[0]
    k = next((i for i, c in enumerate(first.text) if c.isalpha()), None)
    if k is not None:
        text = first.text[:k] + first.text[k].upper() + first.text[k + 1 :]
        words[0] = Word(first.start, first.end, text)
    last = words[-1]
    if not ends_sentence(last.text):
        words[-1] = Word(last.start, last.end, last.text.rstrip(",;:-") + ".")
    return words


@dataclass(frozen=True)
class WordList:
    proper: dict[str, str]  # lower-case form → the written form, for words known only so
    capital: dict[str, str]  # the same for every word the list knows capitalised
    plain: frozenset[str]  # every word it knows in lower case


def word_list_path() -> Path | None:
    return next((p for p in WORD_LISTS if p.is_file()), None)


@functools.lru_cache(maxsize=1)
def word_list() -> WordList:
    path = word_list_path()
    text = path.read_text(encoding="utf-8", errors="replace") if path else ""
    capital: dict[str, str] = {}
    plain: set[str] = set()
    for word in text.split():
        if word.islower() or not word[:1].isalpha():
            plain.add(word)
        else:
            capital.setdefault(word.lower(), word)
    proper = {k: v for k, v in capital.items() if k not in plain}
    return WordList(proper, capital, frozenset(plain))


def _names(sentences: list[list[Word]]) -> list[list[Word]]:
    known = word_list()
    written = {  # capitalised in the middle of a sentence somewhere in this transcript
        bare(w.text): re.sub(r"[^\w']", "", w.text)
        for s in sentences
        for w in s[1:]
        if w.text[:1].isupper() and bare(w.text) != "i"
    }
    out = []
    for sentence in sentences:
        fixed: list[Word] = []
        named = False  # the word before is a name or a title
        for k, word in enumerate(sentence):
            core = bare(word.text)
            form = written.get(core) or known.proper.get(core) or lexicon.ALWAYS_CAPITAL.get(core)
            form = form or known.proper.get(core.removesuffix("'s"))
            form = form or _month_verb(sentence, k)
            if core == "i" or core.startswith("i'"):
                form = "I" + core[1:]
            elif form is None and named and core.isalpha():
                form = _after_name(core, known, title=bare(fixed[-1].text) in TITLES)
            if form and (word.text.islower() or k == 0):
                word = Word(word.start, word.end, _recased(word.text, form))
            fixed.append(word)
            named = core in TITLES or (form is not None and form[:1].isupper() and core != "i")
            named = named or (k > 0 and _is_name(word))  # "I" is no name
            if k > 0 and bare(fixed[-2].text) in TITLES and _is_name(word):
                title = fixed[-2]  # "mister John" → "Mister John"
                fixed[-2] = Word(title.start, title.end, title.text[:1].upper() + title.text[1:])
        out.append(fixed)
    return out


def _month_verb(sentence: list[Word], k: int) -> str | None:
    """ "May" or "March" where the word is the month: next to a number ("march 5",
    "5 may", "may twenty twenty") or after a word that takes a date ("in march", "by
    may"); never the verb ("you may go", "we march on")."""
    core = bare(sentence[k].text)
    if core not in ("may", "march"):
        return None
    near = [bare(sentence[i].text) for i in (k - 1, k + 1) if 0 <= i < len(sentence)]
    numbered = any(w[:1].isdigit() or w in lexicon.NUMBER_WORDS or (w.endswith(("st", "nd", "th"))
                   and w[:-2].isdigit()) for w in near)  # fmt: skip
    after = k > 0 and bare(sentence[k - 1].text) in lexicon.DATE_BEFORE
    return core.capitalize() if numbered or after else None


def _after_name(core: str, known: WordList, title: bool) -> str | None:
    """A name's next word: after a title, any word the list knows capitalised or does
    not know; after a name, only a word it does not know at all (a surname)."""
    unknown = core not in known.plain and core not in known.capital and bool(known.plain)
    if title and core in known.capital:
        return known.capital[core]
    return core.capitalize() if unknown else None


def _recased(token: str, form: str) -> str:
    """`token` with the letters of `form` where they match ("engels," → "Engels,")."""
    core = bare(token)
    at = token.lower().find(core)
    if at < 0 or len(form) < len(core) or form[: len(core)].lower() != core:
        return token
    return token[:at] + form[: len(core)] + token[at + len(core) :]


def _is_name(word: Word) -> bool:
    return word.text[:1].isupper() and bare(word.text) != "i" and word.text.isalpha()
