"""Fixture talks with a known structure, for the summariser's tests and the e2e checks.

Each talk is a list of topics (lists of sentences); the true cuts are where one topic
ends. Facts (numbers, names, asks) are marked so tests can check they reach a slide.
"""

from __future__ import annotations

TALK = [
    "Solar panels turn sunlight into electricity for homes and businesses.",
    "Modern solar panels convert about a fifth of the sunlight they receive.",
    "Panel prices have fallen sharply over the past decade.",
    "Battery storage keeps the lights on after the sun goes down.",
    "Home batteries store the midday surplus for the evening peak.",
    "Battery chemistry decides how long the storage lasts.",
    "Grid operators balance supply and demand every second.",
    "Smart meters help the grid operators shift demand to sunny hours.",
    "Together these pieces make clean power reliable.",
]

CLIP_SENTENCES = [
    "Solar panels turn sunlight into electricity.",
    "Batteries store the surplus for the evening.",
    "The grid balances supply and demand.",
]

PITCH = [
    [
        "Good morning everyone, and thanks for having us.",
        "Today I will cover the problem, our product, the traction so far and our ask.",
    ],
    [
        "Small clinics still schedule appointments on paper and by phone.",
        "A typical clinic loses eleven hours a week to scheduling calls.",
        "Missed appointments cost American clinics about 150 billion dollars a year.",
    ],
    [
        "Our product is a booking assistant that answers the phone for the clinic.",
        "The assistant books, moves and confirms appointments in the clinic calendar.",
        "Setup takes one afternoon and needs no new hardware.",
    ],
    [
        "Traction has been strong since our launch in March 2025.",
        "We now serve 240 clinics across three states.",
        "Monthly revenue grew forty percent last quarter, driven by referrals from existing "
        "clinics.",
        "Maria Lopez, our head of sales, signed our first hospital group in October.",
    ],
    [
        "So what do we need from you?",
        "We are raising two million dollars to hire engineers and open an office in Denver.",
        "The round closes at the end of January.",
        "Thank you for listening, and we look forward to your questions.",
    ],
]
PITCH_FACTS = [
    "A typical clinic loses eleven hours a week to scheduling calls.",
    "Missed appointments cost American clinics about 150 billion dollars a year.",
    "We now serve 240 clinics across three states.",
    "Monthly revenue grew forty percent last quarter, driven by referrals from existing clinics.",
    "Maria Lopez, our head of sales, signed our first hospital group in October.",
    "We are raising two million dollars to hire engineers and open an office in Denver.",
]

LESSON = [
    [
        "Hello and welcome to this lesson about home composting.",
        "Composting turns kitchen scraps into rich soil for the garden.",
        "A good compost heap needs green waste, brown waste, air and water.",
    ],
    [
        "First, let's talk about choosing a bin.",
        "A closed plastic bin keeps rats and foxes away from the heap.",
        "Open wooden bays suit larger gardens with lots of leaves.",
        "Place the bin on bare soil so that worms can move in.",
    ],
    [
        "Next, balance the greens and the browns.",
        "Greens such as grass cuttings and vegetable peel bring nitrogen.",
        "Browns such as cardboard, straw and dry leaves bring carbon.",
        "Aim for roughly two parts brown to one part green by volume.",
    ],
    [
        "Finally, keep the heap healthy.",
        "Turn the heap every few weeks to let air reach the middle.",
        "A heap that smells bad is too wet and needs more cardboard.",
        "After six to nine months the compost is dark, crumbly and ready to use.",
        "Thanks for watching, and happy gardening.",
    ],
]


def flatten(topics: list[list[str]]) -> list[str]:
    return [s for topic in topics for s in topic]


def true_cuts(topics: list[list[str]]) -> list[int]:
    """Sentence indexes where a new topic starts."""
    cuts, n = [], 0
    for topic in topics[:-1]:
        n += len(topic)
        cuts.append(n)
    return cuts
