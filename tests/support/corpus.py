"""The judged corpus (judged.py says what each field means and where each comes from)."""

from __future__ import annotations

from .judged import Judged

CALL = "pyannote.audio sample: a two-speaker phone call"
AUSTEN = "LibriVox, Sense and Sensibility, read aloud"
RADIO_FR = "French radio commentary on the smartphone (a caption tool's test clip)"
FLOOR = "US congressional floor and campaign speech (talking-head clips, Whisper base)"
RADIO = "Wisconsin radio address (a lip-sync repository's clip, Whisper base)"
JFK = "John F. Kennedy's inaugural address, 1961 (faster-whisper's test clip)"
DE = "German speech (talking-head and caption test clips, Whisper base)"
CV = "Common Voice sentence, read aloud (CC0)"

CORPUS: list[Judged] = [
    # -- a phone call: small talk, names and places, a negation ---------------------------
    Judged(CALL, "en", "Hello?", ()),
    Judged(CALL, "en", "Oh, hello.", ()),
    Judged(CALL, "en", "Okay, then I thought you know, I heard a beep.",
           ("I heard a beep",), ("heard", "beep"), "Beep"),
    Judged(CALL, "en", "This is Diane in New Jersey.",
           ("Diane in New Jersey",), ("Diane", "Jersey"), "Diane in New Jersey"),
    Judged(CALL, "en", "And I'm Sheila in Texas, originally from Chicago.",
           ("Sheila in Texas, originally from Chicago",), ("Sheila", "Texas", "Chicago"),
           "Sheila in Texas"),
    Judged(CALL, "en", "Oh, I'm originally from Chicago also.",
           ("Originally from Chicago too",), ("Chicago",), "Chicago"),
    Judged(CALL, "en", "I'm in New Jersey now though.",
           ("In New Jersey now",), ("Jersey",), "New Jersey"),
    Judged(CALL, "en", "Well, there isn't that much difference.",
           ("There isn't that much difference",), ("isn't", "difference"), "Difference"),
    Judged(CALL, "en",
           "At least you know, they all call me a Yankee down here, so what can I say?",
           ("They all call me a Yankee down here",), ("Yankee",), "Yankee"),
    Judged(CALL, "en", "Oh, I don't hear that in New Jersey now.",
           ("I don't hear that in New Jersey",), ("don't", "Jersey"), "New Jersey"),
    # -- a reading: negations, a lone subordinate clause, a comparison --------------------
    Judged(AUSTEN, "en",
           "And Mister John Dashwood had then leisure to consider how much there might be "
           "prudently in his power to do for them.",
           ("John Dashwood considered how much he might do for them",),
           ("Dashwood", "consider"), "John Dashwood"),
    Judged(AUSTEN, "en", "He was not an ill disposed young man.",
           ("He was not an ill-disposed young man",), ("not", "disposed"), "Young man"),
    Judged(AUSTEN, "en",
           "Unless to be rather cold hearted and rather selfish is to be ill disposed.",
           ()),  # the rest of the sentence before it: nothing alone
    Judged(AUSTEN, "en",
           "Had he married a more amiable woman, he might have been made still more "
           "respectable than he was.",
           ("A more amiable wife might have made him more respectable",),
           ("amiable", "respectable"), "Amiable woman"),
    Judged(AUSTEN, "en", "He might even have been made amiable himself.",
           ("He might even have been made amiable himself",), ("amiable",), "Amiable"),
    # -- French radio commentary: each language as itself -----------------------------------
    Judged(RADIO_FR, "fr",
           "C'est évident ce que dit Nicolas, mais je ne me l'étais jamais formulé comme ça.",
           ()),
    Judged(RADIO_FR, "fr",
           "Ce qui fait la force du smartphone, c'est pas seulement l'accumulation des "
           "fonctions, mais la manière dont elles interagissent entre elles.",
           ("La force du smartphone : la manière dont ses fonctions interagissent",),
           ("manière", "interagissent"), "La force du smartphone"),
    Judged(RADIO_FR, "fr", "Alors évidemment, il faudrait ajouter les interfaces.",
           ("Il faudrait ajouter les interfaces",), ("interfaces",), "Interfaces"),
    Judged(RADIO_FR, "fr", "L'écran tactile a été beaucoup très souvent mentionné.",
           ("L'écran tactile a été très souvent mentionné",), ("écran", "tactile"),
           "L'écran tactile"),
    Judged(RADIO_FR, "fr",
           "Mais bon, il faut dire qu'il profite aussi de 20 ans pendant lesquels les "
           "ordinateurs nous ont appris à cliquer sur des icônes.",
           ("Il profite de 20 ans où les ordinateurs nous ont appris à cliquer sur des icônes",),
           ("20", "icônes"), "Ordinateurs"),
    Judged(RADIO_FR, "fr",
           "Sauf que le smartphone ajoute le toucher, ce qui rend le contact plus direct, "
           "plus sensible.",
           ("Le smartphone ajoute le toucher : un contact plus direct, plus sensible",),
           ("toucher", "direct"), "Toucher"),
    Judged(RADIO_FR, "fr",
           "Et puis évidemment, il faudrait parler aussi des applications qui permettent de "
           "contourner le côté touffu de la navigation web pour aller directement au but.",
           ("Les applications contournent le côté touffu de la navigation web",),
           ("applications", "navigation"), "Applications"),
    Judged(RADIO_FR, "fr",
           "Bref, tout ça, ce sont les conditions qui permettent de créer cet objet dont "
           "Nicolas dit qu'il est vraisemblablement inédit dans l'histoire de l'humanité.",
           ("Un objet, selon Nicolas, inédit dans l'histoire de l'humanité",),
           ("Nicolas", "inédit"), "Objet inédit"),
    Judged(RADIO_FR, "fr", "Mais ça, ça soulève une autre interrogation.", ()),
    Judged(RADIO_FR, "fr",
           "Est-ce que le fait que cet objet soit inédit induit que notre rapport à lui est "
           "aussi un rapport inédit?",
           ("Un objet inédit : un rapport inédit ?",), ("rapport", "inédit"), "Rapport inédit"),
    Judged(RADIO_FR, "fr",
           "Je veux dire, est-ce que le rapport qu'on a au smartphone est comparable à celui "
           "qu'on entretenait à d'autres objets techniques comme la voiture ou le téléphone?",
           ("Le rapport au smartphone est-il comparable à celui à la voiture ou au téléphone ?",),
           ("comparable", "voiture", "téléphone"), "Objets techniques"),
    Judged(RADIO_FR, "fr", "Il n'y a pas d'équivalent en fait.",
           ("Il n'y a pas d'équivalent",), ("pas", "équivalent"), "Équivalent"),
    Judged(RADIO_FR, "fr",
           "Et donc cette espèce de nouveauté dans la relation à l'objet, c'est fascinant et "
           "terrifiant.",
           ("La nouveauté de la relation à l'objet : fascinante et terrifiante",),
           ("fascinant", "terrifiant"), "Relation à l'objet"),
    Judged(RADIO_FR, "fr", "Donc, à objet inédit, rapport inédit.",
           ("À objet inédit, rapport inédit",), ("rapport", "inédit"), "Rapport inédit"),
    Judged(RADIO_FR, "fr",
           "Et ce rapport, si j'en crois Nicolas, serait caractérisé par un mélange de "
           "dépendance et de rejet.",
           ("Un rapport fait de dépendance et de rejet",), ("dépendance", "rejet"),
           "Dépendance et rejet"),
    Judged(RADIO_FR, "fr",
           "Mais j'ai l'impression comme ça que Nicolas ne se trompe pas vraiment.",
           ("Nicolas ne se trompe pas vraiment",), ("Nicolas", "pas"), "Nicolas"),
    Judged(RADIO_FR, "fr",
           "Pour autant que je sache, il y a eu plein de discussions autour de la voiture ou "
           "même du téléphone.",
           ("Beaucoup de discussions autour de la voiture ou du téléphone",),
           ("voiture", "téléphone"), "Discussions"),
    Judged(RADIO_FR, "fr", "Mais la dépendance n'était pas du même ordre.",
           ("La dépendance n'était pas du même ordre",), ("dépendance", "pas"), "Dépendance"),
    Judged(RADIO_FR, "fr", "On peut adorer sa bagnole, en avoir besoin pour plein de choses.",
           ("On peut adorer sa bagnole, en avoir besoin",), ("bagnole",), "Bagnole"),
    Judged(RADIO_FR, "fr",
           "On ne l'a pas dans la main quand on est au lit, on ne l'emmène pas au chiottes.",
           ("On ne l'a pas dans la main au lit",), ("pas", "main"), "Main"),
    Judged(RADIO_FR, "fr", "Les économistes parlent de dépendance du sentier.",
           ("Les économistes parlent de dépendance du sentier",), ("dépendance", "sentier"),
           "Dépendance du sentier"),
    Judged(RADIO_FR, "fr",
           "C'est l'idée qu'on est sur un sentier qui a été établi, soit volontairement en "
           "marchant dessus, soit en définissant des bornes, en définissant une signalétique.",
           ("On est sur un sentier déjà établi",), ("sentier", "établi"), "Sentier"),
    # -- speeches: a list, a sentence with no finite verb, a famous antithesis ------------
    Judged(RADIO, "en",
           "The holidays are a time of celebrating with loved ones, enjoying the festivities "
           "and muddling through Wisconsin's cold.",
           ("The holidays: loved ones, festivities and Wisconsin's cold",),
           ("loved", "festivities", "Wisconsin"), "The holidays"),
    Judged(RADIO, "en", "I'm honored to represent a district made up largely of working people.",
           ("I represent a district made up largely of working people",),
           ("district", "working"), "Working people"),
    Judged(RADIO, "en", "And I'm proud to tell you that I come from a family of workers.",
           ("I come from a family of workers",), ("family", "workers"), "Family of workers"),
    Judged(FLOOR, "en",
           "Everyone here today endeavoring towards a better, more just future for our country "
           "and our world.",
           ("A better, more just future for our country and our world",), ("future",),
           "A more just future"),
    Judged(FLOOR, "en",
           "And I'm currently in DC for my second week of new member orientation.",
           ("My second week of new member orientation in DC",), ("DC", "orientation"),
           "New member orientation"),
    Judged(JFK, "en",
           "And so, my fellow Americans, ask not what your country can do for you, ask what you "
           "can do for your country.",
           ("Ask not what your country can do for you, ask what you can do for your country",),
           ("not", "ask"), "Your country"),
    Judged(DE, "de",
           "Über unsere Homepage steht Ihnen unser mandanten Portal zur sicheren und "
           "rechtsverbindlichen Kommunikation zur Verfügung.",
           ("Unser Mandantenportal: sichere, rechtsverbindliche Kommunikation",),
           ("Portal", "Kommunikation"), "Mandanten Portal"),
    Judged(DE, "de",
           "Die Wiederzulassung des Mäßfußes von 1962 als Missale für die außerordentliche Form "
           "des gründischen Rätos ist dann nicht so weitergegangen wie sich Papstbälle dick das "
           "Gewünsch hatte.",
           ("Die Wiederzulassung des Missale von 1962 ging nicht so weiter wie gewünscht",),
           ("1962", "nicht"), "Wiederzulassung"),
    # -- read sentences in four languages (Common Voice, CC0) ------------------------------
    Judged(CV, "pt", "Uma raposa velha não consegue aprender nenhum ofício.",
           ("Uma raposa velha não consegue aprender nenhum ofício",),
           ("Uma", "não", "ofício"), "Raposa velha"),
    Judged(CV, "es", "Las arenas son blanquecinas de grano medio y tiene muy poca asistencia.",
           ("Las arenas son blanquecinas de grano medio",), ("arenas", "blanquecinas"),
           "Arenas"),
    Judged(CV, "de", "Der hinter diesem Portal liegende Raum wurde als Leichenhalle genutzt.",
           ("Der Raum hinter dem Portal wurde als Leichenhalle genutzt",),
           ("Raum", "Leichenhalle"), "Leichenhalle"),
    Judged(CV, "fr",
           "Sous le consulat, il devient conservateur des eaux et forêts et conseiller général.",
           ("Sous le consulat, il devient conservateur des eaux et forêts",),
           ("conservateur", "forêts"), "Conservateur des eaux et forêts"),
]  # fmt: skip
