"""Fact fidelity, by value: every figure, amount, percentage, date, link and name on a
bullet has the value its sentence states, names survive condensing, lists keep every
item. The corpus was written for this: figures in words and digits, currencies, ranges,
appositive names, lists, URLs and e-mail addresses. Each entry gives the values a person
reads in the sentence, so the parser is checked against them and the bullets by them."""

from __future__ import annotations

import pytest

from presgend.pipeline.text import fidelity, summarize
from presgend.pipeline.text.summarize import Sentence

N, P = "number", "percent"

# sentence, the figures in it {(kind, value): count}, names and links that must survive
CORPUS: list[tuple[str, dict[tuple[str, float], int], list[str]]] = [
    ("Monthly recurring revenue has grown to 85 thousand dollars.", {("$", 85_000): 1}, []),
    (
        "Our product, ShiftWise, builds the staff roster automatically every single week.",
        {},
        ["ShiftWise"],
    ),
    (
        "We are raising two million dollars to hire engineers and open an office in Denver.",
        {("$", 2_000_000): 1},
        ["Denver"],
    ),
    (
        "Last year we raised 1.2 million dollars from angel investors in our seed round.",
        {("$", 1_200_000): 1},
        [],
    ),
    (
        "Churn fell from eight percent to three percent after we launched the new onboarding.",
        {(P, 8): 1, (P, 3): 1},
        [],
    ),
    (
        "About forty percent of the clinics we talked to still book appointments by phone.",
        {(P, 40): 1},
        [],
    ),
    (
        "We now serve 1,200 customers across Germany, France and Spain.",
        {(N, 1200): 1},
        ["Germany", "France", "Spain"],
    ),
    (
        "The average contract is worth €4,500 per year and renews automatically.",
        {("€", 4500): 1},
        [],
    ),
    (
        "Each licence costs £30 a month, which is less than one hour of a manager's time.",
        {("£", 30): 1, (N, 1): 1},
        [],
    ),
    (
        "Setting up a new store takes between ten and twenty minutes with our wizard.",
        {(N, 10): 1, (N, 20): 1},
        [],
    ),
    (
        "Delivery times dropped from 48 hours to 6 hours in the first quarter.",
        {(N, 48): 1, (N, 6): 1},
        [],
    ),
    (
        "We signed our first hospital, Saint Mary's in Boston, in March 2024.",
        {(N, 2024): 1},
        ["Mary's", "Boston", "March"],
    ),
    (
        "Maria Lopez, our head of sales, closed twelve new accounts in October.",
        {(N, 12): 1},
        ["Maria", "Lopez", "October"],
    ),
    (
        "You can download the app at shiftwise.io/download and try it for free.",
        {},
        ["shiftwise.io/download"],
    ),
    (
        "If you have questions, write to hello@shiftwise.io and we answer within a day.",
        {},
        ["hello@shiftwise.io"],
    ),
    (
        "To learn everything about the recorder, go to remotion.dev/recorder and join our Discord.",
        {},
        ["remotion.dev/recorder", "Discord"],
    ),
    (
        "Our gross margin is 72% today and we expect 80% by the end of next year.",
        {(P, 72): 1, (P, 80): 1},
        [],
    ),
    (
        "The pilot with Siemens ran for six months and saved them 250 thousand euros.",
        {(N, 6): 1, ("€", 250_000): 1},
        ["Siemens"],
    ),
    (
        "We were founded in 2019 by three nurses who were tired of paper rosters.",
        {(N, 2019): 1, (N, 3): 1},
        [],
    ),
    (
        "The market for scheduling software is worth about 4.5 billion dollars a year.",
        {("$", 4_500_000_000): 1},
        [],
    ),
    ("Our waiting list has two hundred and fifty clinics on it right now.", {(N, 250): 1}, []),
    ("Version 3.2 of the app cut the loading time by half on older phones.", {(N, 3.2): 1}, []),
    (
        "Nurses spend up to 5 hours a week building rosters by hand in spreadsheets.",
        {(N, 5): 1},
        [],
    ),
    (
        "We need a partner in Japan, ideally a distributor that already sells to hospitals.",
        {},
        ["Japan"],
    ),
    (
        "The app works on iPhone and Android and syncs with Google Calendar and Outlook.",
        {},
        ["iPhone", "Android", "Google", "Calendar", "Outlook"],
    ),
    (
        "Revenue grew 3x in twelve months while our burn stayed under $40K a month.",
        {("times", 3): 1, (N, 12): 1, ("$", 40_000): 1},
        [],
    ),
    (
        "Our net promoter score went from 31 to 64 in a single year of work.",
        {(N, 31): 1, (N, 64): 1},
        [],
    ),
    (
        "NASA and the European Space Agency both use our roster engine for their crews.",
        {},
        ["NASA", "European", "Space", "Agency"],
    ),
    (
        "The seed round closes on June 30, 2025, and we have commitments for half of it.",
        {(N, 30): 1, (N, 2025): 1},
        ["June"],
    ),
    (
        "Our team of 14 people works from Lisbon, Berlin and Toronto.",
        {(N, 14): 1},
        ["Lisbon", "Berlin", "Toronto"],
    ),
    (
        "Customers renewed at a rate of 96 percent last year, well above the industry.",
        {(P, 96): 1},
        [],
    ),
    (
        "The hardware costs 199 dollars once, and the software is 15 dollars a month.",
        {("$", 199): 1, ("$", 15): 1},
        [],
    ),
    ("We process more than 3 million shifts a month on our platform.", {(N, 3_000_000): 1}, []),
    (
        "In Q3 we hired a head of marketing, Priya Shah, who came from Atlassian.",
        {(N, 3): 1},
        ["Priya", "Shah", "Atlassian"],
    ),
    (
        "The API handles about 500 requests per second at peak on two servers.",
        {(N, 500): 1, (N, 2): 1},
        ["API"],
    ),
    (
        "Documentation lives at docs.shiftwise.io and the code at github.com/shiftwise/core.",
        {},
        ["docs.shiftwise.io", "github.com/shiftwise/core"],
    ),
    (
        "Our largest customer, Kaiser Permanente, runs ShiftWise in 40 hospitals.",
        {(N, 40): 1},
        ["Kaiser", "Permanente", "ShiftWise"],
    ),
    (
        "We spend 30% of revenue on sales and 20% on research and development.",
        {(P, 30): 1, (P, 20): 1},
        [],
    ),
    (
        "The average nurse saves ninety minutes a week, which is 78 hours a year.",
        {(N, 90): 1, (N, 78): 1},
        [],
    ),
    (
        "Tickets cost between 50 and 120 euros depending on the seat you choose.",
        {(N, 50): 1, ("€", 120): 1},
        [],
    ),
    (
        "Our CEO, Daniel Okafor, spent ten years at McKinsey before founding the company.",
        {(N, 10): 1},
        ["CEO", "Daniel", "Okafor", "McKinsey"],
    ),
    (
        "Phase one ends in May, and phase two starts in September with 8 new hires.",
        {(N, 1): 1, (N, 2): 1, (N, 8): 1},
        ["May", "September"],
    ),
    (
        "Energy use per roster run dropped by 65 percent after the rewrite in Rust.",
        {(P, 65): 1},
        ["Rust"],
    ),
    (
        "For details, email press@shiftwise.io or call our office in Dublin.",
        {},
        ["press@shiftwise.io", "Dublin"],
    ),
]
LISTS = [
    "I will cover the problem, our product, the traction so far, and what we are asking for.",
    "We sell to hospitals, care homes, dental clinics and veterinary practices.",
    "The roster respects holidays, sick days, night shift limits, and personal preferences.",
]


def test_the_corpus_is_big_enough() -> None:
    assert len(CORPUS) + len(LISTS) >= 40


@pytest.mark.parametrize(("sentence", "figures", "keep"), CORPUS, ids=range(len(CORPUS)))
def test_the_parser_reads_the_values_a_person_reads(
    sentence: str, figures: dict[tuple[str, float], int], keep: list[str]
) -> None:
    assert dict(fidelity.values(sentence)) == figures
    links = [k for k in keep if "." in k or "@" in k]
    assert sorted(fidelity.links(sentence)) == sorted(link.lower() for link in links)


@pytest.mark.parametrize(("sentence", "figures", "keep"), CORPUS, ids=range(len(CORPUS)))
def test_a_bullet_keeps_every_value_and_name_of_its_sentence(
    sentence: str, figures: dict[tuple[str, float], int], keep: list[str]
) -> None:
    bullet = summarize.faithful_bullet(sentence)
    assert bullet, sentence
    assert set(fidelity.values(bullet)) == set(figures), (sentence, bullet)
    words = bullet.lower()
    for name in keep:
        assert name.lower() in words, (name, bullet)
    assert fidelity.broken(sentence, bullet) == []


@pytest.mark.parametrize("sentence", LISTS)
def test_a_list_keeps_every_item(sentence: str) -> None:
    bullet = summarize.faithful_bullet(sentence)
    items = fidelity.lists(sentence)
    assert items and all(len(found) >= 3 for found in items)
    kept = set(fidelity.stems(bullet))
    for found in items:
        assert all(item & kept for item in found), (sentence, bullet)


def test_what_the_issue_saw_is_fixed() -> None:
    """The three bullets the held-out pitch got wrong."""
    revenue = summarize.faithful_bullet(CORPUS[0][0])
    assert dict(fidelity.values(revenue)) == {("$", 85_000): 1}
    assert "$1,000" not in revenue
    assert "ShiftWise" in summarize.faithful_bullet(CORPUS[1][0])
    agenda = summarize.faithful_bullet(LISTS[0])
    for item in ("problem", "product", "traction", "asking"):
        assert item in agenda.lower(), agenda


def test_a_changed_figure_a_lost_name_or_an_invented_link_is_broken() -> None:
    source = "Our product, ShiftWise, grew revenue to 85 thousand dollars at shiftwise.io."
    assert fidelity.broken(source, "ShiftWise grew revenue to $85K at shiftwise.io") == []
    assert fidelity.broken(source, "ShiftWise grew revenue to $85,000 at shiftwise.io") == []
    assert fidelity.broken(source, "ShiftWise grew revenue to 85 $1,000 at shiftwise.io")
    assert fidelity.broken(source, "Our product grew revenue to $85K at shiftwise.io")
    assert fidelity.broken(source, "ShiftWise grew revenue to $85K at shiftwise.com")
    assert fidelity.broken(source, "ShiftWise grew revenue to $85 at shiftwise.io")


def test_titles_state_no_figure_their_section_does_not() -> None:
    said = [Sentence(text, i * 5.0, i * 5.0 + 4, i) for i, (text, _, _) in enumerate(CORPUS[:6])]
    sections = summarize.describe([said[:3], said[3:]], 30.0)
    for section in sections:
        text = " ".join(s.text for s in section.sentences)
        assert fidelity.broken(text, section.title, title=True) == [], section.title
