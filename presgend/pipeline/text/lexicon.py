"""Word classes and cue patterns the summariser reads a talk with (English rules).

Closed-class words, common verbs, the openers and hedges a speaker adds, greetings and
sign-offs, discourse markers that announce a new topic, and what makes a sentence a
fact (a number, an amount, a date, a name, an ask). Small, hand-kept lists: no model.
"""

from __future__ import annotations

import bisect
import functools
import gzip
import re
from pathlib import Path

STOPWORDS = frozenset(
    """
a about above across after again against all almost along already also although always am
among an and another any anyone anything are aren't around as at away back be because
been before being below beneath beside besides between beyond both but by can can't cannot
could couldn't did didn't do does doesn't doing don't done down during each either else
enough even ever every everyone everything few for from further get gets getting go goes
going gone gonna got gotta had hadn't has hasn't have haven't having he he'd he'll he's her
here here's hers herself him himself his how how's however i i'd i'll i'm i've if in inside
into is isn't it it'd it'll it's its itself just kind know knows let let's lets like lot
lots many may maybe me might mine more most much must mustn't my myself near need needs
neither never no nobody none nor not nothing now of off often oh okay ok on once one ones only
onto or other others otherwise ought our ours ourselves out outside over own per perhaps
please quite rather really right same say says said see seen shall she she'd she'll she's
should shouldn't since so some somebody someone something sometimes somewhat soon still
such sure than that that's the their theirs them themselves then there there's therefore
these they they'd they'll they're they've thing things think this those though through
thus till to today together too toward towards um uh under unless until up upon us use
used using usually very via want wants was wasn't way ways we we'd we'll we're we've well
were weren't what what's whatever when when's whenever where where's whether which while
who who's whole whom whose why why's will with within without won't would wouldn't yeah
yes yet you you'd you'll you're you've your yours yourself yourselves actually basically
first second third next last finally lastly also simply going kinda sort er ah hmm
""".split()
)

# Verbs a title must not contain as its head, in their common forms. A closed list is
# enough: the candidates are already cut at closed-class words.
_VERB_STEMS = """
accept achieve add agree allow appear apply argue arrive ask become begin believe belong
bring build buy call care carry catch cause change check choose claim close come compare
complete consider contain continue control cost count cover create cut deal decide deliver
depend describe design destroy develop die discover discuss drive drop earn eat enable end
enjoy ensure enter expect explain face fail fall feel fight fill find finish fit fix follow
forget form gain give grow guess handle hang happen hate hear help hide hire hit hold hope hurt
identify imagine improve include increase indicate involve join jump keep kill land last
laugh lead learn leave lend lie lift listen live look lose love launch make manage mark matter mean
meet mention mind miss move need note notice offer open order own pass pay pick plan play
point prefer prepare present prevent produce promise protect prove provide publish pull push
put raise reach read realise realize receive recognise recognize reduce refuse relate
remain remember remove rename repeat replace report represent require rest return reveal
rise run save scale see seem sell send serve ship set settle share shift show shut sign sing sit
sleep slow smell solve sound speak spend stand start stay step stick stop store study succeed
suggest supply support suppose take talk teach tell tend thank think throw touch track train
travel treat try turn understand use wait wake walk want warn watch wear welcome win wish
wonder work worry write
"""
_VERB_STEMS += """
affect afford aim allocate analyse analyze answer assume attach attract avoid balance
bake beat benefit book borrow break breathe calculate celebrate charge chase clean climb
collect combine commit communicate compete complain confirm connect convert convince cook
copy correct crash cross cry decline decrease define delay deploy detect differ divide
double download drink earn edit educate eliminate emerge encourage engage enhance enjoy
establish estimate evaluate examine exceed exist expand experience explore export express
extend extract feed fetch figure fly focus forecast fund generate grab greet guarantee
guide hate heat hire host hurry ignore implement import impress inform install integrate
intend introduce invent invest invite issue kick knock launch lack like limit link load
lock log maintain measure merge migrate minimise minimize mix monitor multiply negotiate
observe obtain occur operate organise organize outperform overcome own paint participate
perform permit persuade place plant predict press print process profit program prompt
purchase qualify question quit rank rate react realise recommend record recover recruit
reflect reject release rely render repair reply request research resolve respond restore
restrict retain retire review revise ride ring roll rotate rule rush satisfy scan score
search secure select separate settle shake shape shine shoot shop sink skip slide smile
sort spread squeeze stack stream stress stretch strike struggle submit subscribe succeed
suffer suit surprise survive suspect swap switch target taste test thank tie transfer
transform translate trust type unlock update upgrade upload urge vary verify visit vote
wash waste weigh wrap yield
"""
_IRREGULAR = """
am is are was were been being has had does did done made said went gone came took taken saw
seen gave given got gotten knew known thought told found left felt kept held brought bought
began begun ran built sent spent stood understood wrote written grew grown fell fallen rose
risen drove driven chose chosen spoke spoken broke broken lost paid meant met sold sat slept
led lent won wore hung hid fought caught taught threw thrown shot shut
"""


def _inflect(stem: str) -> set[str]:
    forms = {stem, stem + "s", stem + "ed", stem + "ing"}
    if stem.endswith("e"):
        forms |= {stem + "d", stem[:-1] + "ing"}
    if stem.endswith(("s", "sh", "ch", "x", "z")):
        forms.add(stem + "es")
    if stem.endswith("y") and stem[-2:-1] not in "aeiou":
        forms |= {stem[:-1] + "ies", stem[:-1] + "ied"}
    if re.fullmatch(r"[^aeiou]*[aeiou][bdgmnprt]", stem):  # stop → stopped, run → running
        forms |= {stem + stem[-1] + "ed", stem + stem[-1] + "ing"}
    return forms


VERBS = frozenset(form for stem in _VERB_STEMS.split() for form in _inflect(stem)) | frozenset(
    _IRREGULAR.split()
)

# Nouns that look like verb forms often enough to matter in a title.
VERB_LIKE_NOUNS = frozenset(
    """
building training meeting funding marketing pricing hiring engineering manufacturing
planning learning reporting publishing spending earnings savings feedback
report reports plan plans design designs change changes work sales growth
greens browns
""".split()
)

# Title case keeps these small words lower case unless they open the title.
SMALL_WORDS = frozenset("a an and as at but by for in nor of on or per the to via vs".split())

# What a speaker says before the point: dropped from the start of a bullet.
OPENERS = re.compile(
    r"^(?:(?:so|well|now|and|but|okay|ok|right|also|then|yeah|um+|uh+|er|ah|oh|"
    r"of course|i think|i believe|i guess|i feel|i'd say|basically|actually|honestly|"
    r"frankly|clearly|obviously|anyway|you know|as you can see|as i said|in fact|"
    r"to be honest|in other words|in short|first(?:ly)?|second(?:ly)?|third(?:ly)?|"
    r"next|finally|lastly|last but not least|plus|besides|moreover|however|"
    r"in conclusion|to sum up|to summari[sz]e|overall|importantly|"
    r"let me (?:say|tell you|show you|explain)(?: that)?|it turns out(?: that)?|"
    r"remember(?: that)?|note that|the thing is|here's the thing)\b[,:;]?\s+)+",
    re.IGNORECASE,
)
# Phrases that frame a topic rather than state it: "Let's talk about X" → "X".
FRAMES = re.compile(
    r"^(?:(?:now )?let's (?:talk about|look at|turn to|move on to|start with|get to|"
    r"dive into)|(?:now )?let us (?:talk about|look at|turn to)|moving on to|turning to|"
    r"on to|next up(?: is)?|i(?:'ll| will| want to| would like to| am going to|'m going to)"
    r" (?:cover|talk about|discuss|explain|show you|walk you through|go through|look at)|"
    r"we(?:'ll| will| are going to|'re going to) (?:cover|talk about|discuss|look at|"
    r"go through)|today(?:,)? (?:i|we)(?:'ll| will) (?:cover|talk about|discuss|look at)|"
    r"this talk (?:covers|is about)|the (?:first|second|third|next|last|final) "
    r"(?:topic|thing|point|part|area) is)\s+",
    re.IGNORECASE,
)
FILLER_WORDS = re.compile(r"\s*\b(?:um+|uh+|er|ah|you know|i mean|sort of|kind of)\b,?", re.I)

# Sentences that greet, thank or sign off: never a bullet on a content slide.
COURTESY = re.compile(
    r"^(?:(?:hi|hello|hey|good (?:morning|afternoon|evening)|greetings|welcome|"
    r"thanks(?!\s+to\b)|thank you|cheers|bye|goodbye|see you|that's (?:all|it)|that is all|"
    r"happy \w+ing)\b|.*\bthank(?:s| you) (?:for|so much|all|everyone|again)\b|"
    r"(?:my name is|i am|i'm) [A-Z]\w+,? (?:and|from)\b)",
    re.IGNORECASE,
)
# Sentences that announce a new topic.
MARKERS = re.compile(
    r"^(?:(?:so|and|okay|ok|now|well),?\s+)?(?:first(?:ly)?|second(?:ly)?|third(?:ly)?|"
    r"next|finally|lastly|last but not least|to (?:sum up|conclude|wrap up)|in conclusion|"
    r"let's (?:talk|look|turn|move|start|get|dive)|let us|moving on|turning to|on to|"
    r"another (?:thing|point|topic|area)|the (?:first|second|third|next|last|final|other) "
    r"(?:thing|point|topic|part|area|question|step))\b",
    re.IGNORECASE,
)
# A sentence that lists what the talk will cover.
AGENDA = re.compile(
    r"\b(?:(?:i|we)(?:'ll| will| want to| are going to|'m going to| am going to) "
    r"(?:cover|talk about|discuss|look at|walk you through|go through|explain)|"
    r"(?:today|this talk|in this talk)[, ]+(?:i|we)?(?:'ll| will)? ?(?:covers?|is about|"
    r"looks? at|discuss(?:es)?)|agenda|three (?:things|parts|topics)|"
    r"(?:two|four) (?:things|parts|topics))\b",
    re.IGNORECASE,
)
TOPIC_OF_TALK = re.compile(
    r"\b(?:talk|presentation|session|update|pitch|overview|introduction|tour|demo|lesson|"
    r"course|tutorial|video|webinar|lecture|workshop)"
    r"\s+(?:about|on|of)\s+(.+)$",
    re.IGNORECASE,
)

_NUMBER_WORD = (
    r"zero|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|thirteen|"
    r"fourteen|fifteen|sixteen|seventeen|eighteen|nineteen|twenty|thirty|forty|fifty|"
    r"sixty|seventy|eighty|ninety|hundred|thousand|million|billion|trillion|half|dozen"
)
NUMBER = re.compile(rf"(?:{_NUMBER_WORD})", re.IGNORECASE)
_MONTHS = r"January|February|March|April|May|June|July|August|September|October|November|December"
_FACT_NUMBER = "|".join(w for w in _NUMBER_WORD.split("|") if w not in ("one", "half"))
FACT = re.compile(  # "one" and "half" are too common to mark a fact ("no one", "half of us")
    rf"\d|[$€£¥%]|\b(?:{_FACT_NUMBER}|percent|"
    r"per cent|dollars?|euros?|pounds?|q[1-4])\b",
    re.IGNORECASE,
)
DATE = re.compile(rf"\b(?:{_MONTHS})\b|\b(?:19|20)\d\d\b")  # "may" the verb is no date
ASK = re.compile(
    r"\b(?:(?:we|i)(?:'re| are| am|'m) (?:raising|asking|looking for|seeking|hiring)|"
    r"(?:we|i) (?:need|ask|invite|want you|would like you|urge)|our ask|the ask|"
    r"please|sign up|join us|invest|get in touch|contact us|reach out|call to action)\b",
    re.IGNORECASE,
)

# Words English always capitalises, which a word list also knows in lower case ("french
# windows", "august" the adjective): nationalities, languages, peoples and faiths, days
# and months. "may" and "march" are verbs as often: capitalised only next to a number or
# after a word that takes a date (`DATE_BEFORE`).
ALWAYS_CAPITAL = {
    w.lower(): w
    for w in """
    Monday Tuesday Wednesday Thursday Friday Saturday Sunday January February April June
    July August September October November December
    African American Arab Arabic Argentine Argentinian Asian Australian Austrian Belgian
    Brazilian British Bulgarian Burmese Canadian Cantonese Catalan Chilean Chinese
    Colombian Croatian Cuban Czech Danish Dutch Egyptian English Estonian Ethiopian
    European Filipino Finnish French Georgian German Ghanaian Greek Hebrew Hindi
    Hispanic Hungarian Icelandic Indian Indonesian Iranian Iraqi Irish Israeli Italian
    Jamaican Japanese Kenyan Korean Latin Latvian Lithuanian Malay Malaysian Mandarin
    Mexican Moroccan Nepali Nigerian Norwegian Pakistani Persian Peruvian Polish
    Portuguese Romanian Russian Saudi Scottish Serbian Slovak Slovenian Somali Spanish
    Swahili Swedish Swiss Syrian Taiwanese Thai Tibetan Turkish Ukrainian Urdu
    Venezuelan Vietnamese Welsh Yiddish Christian Muslim Jewish Catholic Protestant
    Buddhist Hindu Islamic Latino Latina Parisian Victorian Scandinavian Caribbean
    Mediterranean Atlantic Pacific Arctic Antarctic
    """.split()
}
DATE_BEFORE = frozenset("in since until till by early late mid last next this every on of".split())

NUMBER_WORDS = {  # spoken number words and their values
    "zero": 0, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7,
    "eight": 8, "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13,
    "fourteen": 14, "fifteen": 15, "sixteen": 16, "seventeen": 17, "eighteen": 18,
    "nineteen": 19, "twenty": 20, "thirty": 30, "forty": 40, "fifty": 50, "sixty": 60,
    "seventy": 70, "eighty": 80, "ninety": 90,
}  # fmt: skip
_SCALES = {"hundred": 100, "thousand": 1000}
_BIG = ("million", "billion", "trillion")
_SPOKEN_NUMBER = re.compile(
    rf"\b(?:\d+(?:\.\d+)?(?=\s+(?:{'|'.join(_BIG)}|hundred|thousand)\b)|{'|'.join(NUMBER_WORDS)}|"
    r"hundred|thousand)"
    rf"(?:[\s-]+(?:and\s+)?"
    rf"(?:{'|'.join(NUMBER_WORDS)}|hundred|thousand))*\b(?:\s+(?:{'|'.join(_BIG)})\b)?"
    r"(?:\s+(?:percent|per cent|dollars|euros|pounds)\b)?",
    re.IGNORECASE,
)


def _value(words: list[str]) -> float | None:
    total: float = 0
    current: float = 0
    if words and re.fullmatch(r"\d+(?:\.\d+)?", words[0]):  # "85 thousand", "1.2"
        current = float(words[0]) if "." in words[0] else int(words[0])
        words = words[1:]
    for word in words:
        if word in NUMBER_WORDS:
            current += NUMBER_WORDS[word]
        elif word == "hundred":
            current = max(current, 1) * 100
        elif word == "thousand":
            total += max(current, 1) * 1000
            current = 0
        elif word != "and":
            return None
    return total + current


def digits(text: str) -> str:
    """Spoken amounts as a slide shows them: "forty percent" → "40%", "two million
    dollars" → "$2 million". Counts below ten stay words ("three steps")."""

    def one(match: re.Match[str]) -> str:
        words = re.split(r"[\s-]+", match.group().lower())
        unit = next((u for u in ("percent", "dollars", "euros", "pounds") if u in words), "")
        big = next((b for b in _BIG if b in words), "")
        core = [w for w in words if w not in (unit, big, "per", "cent")]
        value = _value(core)
        if value is None or (value < 10 and not unit and not big):
            return match.group()
        if isinstance(value, float) and value.is_integer() and not big:
            value = int(value)  # "1.5 thousand" is 1,500
        number = (f"{value:,}" if isinstance(value, int) else f"{value:g}") + (
            f" {big}" if big else ""
        )
        if unit in ("percent", "cent"):
            return f"{number}%"
        symbol = {"dollars": "$", "euros": "€", "pounds": "£"}.get(unit, "")
        return f"{symbol}{number}" if symbol else number

    return _SPOKEN_NUMBER.sub(one, text)


def is_courtesy(text: str) -> bool:
    return bool(COURTESY.search(text.strip()))


def is_fact(text: str) -> bool:
    return any(p.search(text) for p in (FACT, DATE, ASK)) or has_name(text)


def has_name(text: str) -> bool:
    """A capitalised word that does not open the sentence: a person, a company, a place."""
    words = re.findall(r"[\w'’-]+", text)
    return any(
        w[:1].isupper() and w.lower() not in STOPWORDS and w != "I" and not w.isupper()
        for w in words[1:]
    )


# --- what an English word can be -------------------------------------------------------------

AUXILIARIES = frozenset(
    """am is are was were be been being has have had do does did can could will would shall
    should may might must 'm 're 's 've 'll 'd isn't aren't wasn't weren't hasn't haven't
    hadn't doesn't don't didn't can't couldn't won't wouldn't shouldn't mustn't i'm we're
    they're you're he's she's it's that's there's we've they've i've we'll they'll i'll"""
    .split()
)


@functools.lru_cache(maxsize=65536)
def parts_of_speech(word: str) -> frozenset[str]:
    """What an English word can be ("NOUN", "VERB", "ADJ", "ADV", …), from the NIH
    SPECIALIST lexicon's word forms as lemminflect ships them; empty for a word it does
    not know (a name, a product, a number). The same answer as the keys of lemminflect's
    `getAllLemmas`, read from its table as `_word_forms` keeps it."""
    lines, overrides = _word_forms()
    key = word.lower().strip(".,;:!?\"'’“”()")
    found = set(overrides.get(key, ()))
    at = bisect.bisect_left(lines, key, key=_first_field)
    while at < len(lines):
        form, category, _ = lines[at].split(",", 2)
        if form != key:
            break
        found.add("AUX" if category == "modal" else category.upper())
        at += 1
    return frozenset(found) or (frozenset({"VERB"}) if word.lower() in VERBS else frozenset())


def _first_field(line: str) -> str:
    return line.split(",", 1)[0]


@functools.cache
def _word_forms() -> tuple[list[str], dict[str, frozenset[str]]]:
    """lemminflect's table of word forms (`form,category,lemmas`, sorted by form) as its
    lines, searched by bisection, and its overrides (form → parts of speech). lemminflect
    itself parses every line into a dictionary on the first lookup: 0.25 CPU-s a job, for
    the few hundred words a talk asks about; the lines alone take 0.04."""
    from lemminflect import config

    lines = gzip.decompress(Path(config.lemma_lu_fn).read_bytes()).decode().splitlines()
    overrides: dict[str, set[str]] = {}
    for line in Path(config.lemma_overrides_fn).read_text().splitlines():
        if (line := line.strip()) and not line.startswith("#"):
            form, upos, _ = line.split(",")
            overrides.setdefault(form, set()).add(upos)
    return lines, {form: frozenset(parts) for form, parts in overrides.items()}
