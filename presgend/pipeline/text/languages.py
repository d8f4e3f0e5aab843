"""Each language as itself: the words a talk is read with, per language.

English has the fullest rules (lexicon.py: its word classes, and the openers, hedges and
frames speakers add). Portuguese, Spanish, French and German have their function words,
the sounds and openers their speakers add (removed only as whole words: Portuguese "um"
is "a", not a hesitation), the small words inside a noun phrase ("força do
smartphone", "dépendance du sentier") and sentence case for titles. Any other language
gets neutral handling: no word is removed, titles are in sentence case, and sentences
end at their punctuation. Nothing here is a model: short, hand-kept lists.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

from presgend.pipeline.text import lexicon


@dataclass(frozen=True)
class Language:
    code: str  # "en", "pt", "es", "fr", "de"; "" for a language with no rules here
    stopwords: frozenset[str]
    fillers: re.Pattern[str] | None  # sounds and hedges, dropped wherever they stand
    openers: re.Pattern[str] | None  # what a speaker says before the point, dropped at its start
    joiners: frozenset[str]  # small words inside a noun phrase: "de", "du", "of"
    negations: frozenset[str]  # a bullet never ends on one (the point would be reversed)
    subordinators: frozenset[str]  # a clause opened by one is not a statement by itself
    clause_words: frozenset[str]  # where a long sentence may be cut into clauses
    contrasts: frozenset[str] = frozenset()  # a clause opened by one turns the point round
    articles: frozenset[str] = frozenset()  # a noun phrase follows one
    # two words that open a clause that is not a statement alone: "ce qui", "o que"
    subordinate_pairs: frozenset[str] = frozenset()
    verb_after: frozenset[str] = frozenset()  # the word after one is a verb: "on", "ne"
    copulas: frozenset[str] = frozenset()  # what follows one describes; it names no topic

    @property
    def known(self) -> bool:
        return bool(self.code)

    @property
    def english(self) -> bool:
        return self.code == "en"


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


def _starting(words: str) -> re.Pattern[str]:
    """Openers as whole words at the start, each with its comma, repeated."""
    alternatives = "|".join(re.escape(w).replace(r"\ ", r"\s+") for w in words.split("|"))
    return re.compile(rf"^(?:(?:{alternatives})\b[,:;]?\s+)+", re.IGNORECASE)


def _anywhere(words: str) -> re.Pattern[str]:
    alternatives = "|".join(re.escape(w) for w in words.split("|"))
    return re.compile(rf"(?<![\w'’-])(?:{alternatives})(?![\w'’-]),?\s*", re.IGNORECASE)


ENGLISH = Language(
    code="en",
    stopwords=lexicon.STOPWORDS,
    fillers=lexicon.FILLER_WORDS,
    openers=lexicon.OPENERS,
    joiners=_words("of"),
    negations=_words("not never no nor n't"),
    subordinators=_words(
        "while whereas although though because since unless if once until whenever "
        "whether after before when where which who whom whose that as"
    ),
    clause_words=_words("and but because so which while whereas although though since unless"),
    contrasts=_words("but yet however although though whereas"),
    articles=_words("the a an"),
)

PORTUGUESE = Language(
    code="pt",
    stopwords=_words(
        """a o as os um uma uns umas de do da dos das em no na nos nas num numa por pelo
        pela pelos pelas para pra pro com sem sob sobre entre até desde e ou mas nem que se
        não sim é são foi era eram ser sido estar está estão estava estou tem têm ter tinha
        há havia eu tu ele ela nós eles elas você vocês me te lhe lhes meu minha meus minhas
        seu sua seus suas nosso nossa nossos nossas isso isto aquilo esse essa esses essas
        este esta estes estas aquele aquela muito muita muitos muitas mais menos já ainda
        também só então aí lá aqui ali como quando onde porque porquê qual quais quem tão
        tudo todo toda todos todas nada algo alguém cada outro outra outros outras mesmo
        mesma assim bem né vai vou vamos fui faz fazer pode posso acho coisa coisas gente
        ao aos à às dele dela deles delas nele nela depois antes agora hoje sempre nunca
        apenas realmente bastante pouco demais primeiro primeira segundo segunda último
        última"""
    ),
    fillers=_anywhere("né|hum|hmm|ahn|éh|eh"),
    openers=_starting("então|bom|bem|enfim|olha|tá|ok|pois é|quer dizer|tipo assim|aí|e aí"),
    joiners=_words("de do da dos das"),
    negations=_words("não nunca nem"),
    subordinators=_words("porque embora enquanto quando se caso que onde como"),
    clause_words=_words("e mas porque porém então enquanto embora"),
    contrasts=_words("mas porém contudo todavia embora"),
    articles=_words("o a os as um uma uns umas"),
    subordinate_pairs=frozenset("o que|já que|para que|a não ser que|assim que".split("|")),
    verb_after=_words(
        "eu ele ela nós eles elas você vocês não se me te lhe pode podem deve devem quer"
    ),
    copulas=_words("é são era eram foi foram está estão ser estar parece"),
)

SPANISH = Language(
    code="es",
    stopwords=_words(
        """el la los las un una unos unas de del al a en con sin por para sobre entre hasta
        desde y e o u pero ni que se no sí es son fue era eran ser sido estar está están
        estaba estoy tiene tienen tener había hay yo tú él ella nosotros nosotras ellos
        ellas usted ustedes me te le les lo nos mi mis tu tus su sus nuestro nuestra
        nuestros nuestras esto eso aquello este esta estos estas ese esa esos esas muy más
        menos ya aún todavía también solo sólo entonces ahí allí aquí como cuando donde
        porque qué cuál cuáles quién tan todo toda todos todas nada algo alguien cada otro
        otra otros otras mismo misma así bien pues va voy vamos hace hacer puede creo cosa
        cosas gente después antes ahora hoy siempre nunca realmente bastante poco
        demasiado primer primera primero segundo segunda último última"""
    ),
    fillers=_anywhere("eh|em|ehm|mmm"),
    openers=_starting("bueno|pues|o sea|entonces|mira|vale|digamos|es decir|a ver"),
    joiners=_words("de del"),
    negations=_words("no nunca ni jamás"),
    subordinators=_words("porque aunque mientras cuando si que donde como"),
    clause_words=_words("y pero porque aunque mientras entonces"),
    contrasts=_words("pero sino aunque"),
    articles=_words("el la los las un una unos unas"),
    subordinate_pairs=frozenset("lo que|ya que|para que|a menos que|así que".split("|")),
    verb_after=_words(
        "yo él ella nosotros nosotras ellos ellas usted ustedes no se me te le puede pueden "
        "debe deben quiere"
    ),
    copulas=_words("es son era eran fue fueron está están ser estar parece"),
)

FRENCH = Language(
    code="fr",
    stopwords=_words(
        """le la les l un une des du de d au aux à en dans par pour sur sous avec sans entre
        vers chez et ou mais donc or ni car que qu qui quoi ne n pas plus se s ce c ça cela
        ceci est sont était étaient être été avoir a ai as avons avez ont eu avait il elle ils
        elles on nous vous
        je j tu me m te t lui leur leurs mon ma mes ton ta tes son sa ses notre nos votre vos
        très aussi déjà encore comme quand où si tout toute tous toutes rien quelque chaque
        seulement vraiment évidemment juste peu beaucoup souvent trop assez vrai
        premier première deuxième dernier dernière accord
        autre autres même ainsi bien alors puis y là ici cette cet ces fait faire peut
        va vais dit dire chose choses gens après avant maintenant aujourd toujours jamais
        dont lequel laquelle quel quelle quels quelles"""
    ),
    fillers=_anywhere("euh|heu|hein|bah|ben|hum"),
    openers=_starting("bon|alors|en fait|du coup|voilà|bref|eh bien|enfin|donc|et puis|mais bon"),
    joiners=_words("de du des d à"),
    negations=_words("ne pas jamais rien plus aucun aucune ni"),
    subordinators=_words("parce puisque bien quoique lorsque quand si que où comme sauf"),
    clause_words=_words("et mais parce donc car puisque lorsque"),
    contrasts=_words("mais cependant pourtant sauf"),
    articles=_words("le la les l un une des du"),
    subordinate_pairs=frozenset(
        "ce qui|ce que|parce que|bien que|sauf que|alors que|tandis que|pour que".split("|")
    ),
    verb_after=_words(
        "je j tu il elle on nous vous ils elles ne n se s me m te t qui peut peux peuvent "
        "pouvait faut faudrait doit doivent veut veux"
    ),
    copulas=_words("est sont était étaient fut être semble devient"),
)

GERMAN = Language(
    code="de",
    stopwords=_words(
        """der die das den dem des ein eine einer einen einem eines und oder aber doch
        sondern denn dass daß ob wenn als wie weil da nicht kein keine keinen ist sind war
        waren sein gewesen haben hat hatte hatten habe werden wird wurde ich du er sie es wir
        ihr man mich dich sich uns euch mir dir ihm ihn ihnen mein meine dein deine sein seine
        unser unsere euer in im an am auf aus bei beim mit nach von vom zu zum zur für über
        unter vor hinter neben zwischen durch gegen ohne um bis sehr auch schon noch nur so
        dann hier dort was wer wo wann warum alle alles jeder jede jedes andere anderen ganz
        viel viele mehr kann können muss müssen will wollen soll sollen gibt ja nein mal
        eben halt also heute immer nie jetzt dieser diese dieses diesen diesem wirklich
        ziemlich erste ersten erster zweite letzte letzten"""
    ),
    fillers=_anywhere("äh|ähm|öh|öhm|hm|hmm"),
    openers=_starting("also|naja|na ja|nun|ja|gut|okay|sozusagen|eigentlich|übrigens"),
    joiners=_words("der des von"),
    negations=_words("nicht nie niemals kein keine keinen keinem keiner"),
    subordinators=_words("weil obwohl während wenn als dass ob da nachdem bevor"),
    clause_words=_words("und aber weil obwohl während denn sondern"),
    contrasts=_words("aber sondern doch jedoch obwohl"),
    articles=_words("der die das den dem des ein eine einen einem eines"),
    subordinate_pairs=frozenset("so dass|damit nicht".split("|")),
    verb_after=_words("ich du er wir ihr"),
    copulas=_words("ist sind war waren sein wird werden wurde scheint"),
)

NEUTRAL = Language(
    code="",
    stopwords=frozenset(),
    fillers=None,
    openers=None,
    joiners=frozenset(),
    negations=frozenset(),
    subordinators=frozenset(),
    clause_words=frozenset(),
)

LANGUAGES = {lang.code: lang for lang in (ENGLISH, PORTUGUESE, SPANISH, FRENCH, GERMAN)}


def base(code: str) -> str:
    """`pt-BR` → `pt`; "" for none."""
    return (code or "").lower().replace("_", "-").split("-")[0]


@functools.lru_cache(maxsize=32)
def of(code: str) -> Language:
    """The rules for a transcript's language (neutral ones for a language with none;
    English for a transcript whose language is not known at all)."""
    found = base(code)
    if found in ("", "und"):
        return ENGLISH if found == "" else NEUTRAL
    return LANGUAGES.get(found, NEUTRAL)


_WORD = re.compile(r"[^\W\d_]+(?:['’][^\W\d_]+)?")


def guess(text: str) -> str:
    """The language whose function words make up most of `text`, when they make up at
    least a fifth of it; else "und"."""
    words = [w.lower() for w in _WORD.findall(text)[:3000]]
    if not words:
        return "und"
    scores = {
        code: sum(1 for w in words if w in lang.stopwords) for code, lang in LANGUAGES.items()
    }
    code, best = max(scores.items(), key=lambda kv: kv[1])
    return code if best * 5 >= len(words) else "und"
