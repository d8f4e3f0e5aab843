"""Word error rate and word alignment between a known script and what a recogniser heard.

Shared by the speech tests and `make bench`. Spoken numbers are written as figures on
both sides first ("forty percent" and "40%" are the same words), then case and
punctuation are dropped.
"""

from __future__ import annotations

import re

from presgend.pipeline.text.lexicon import digits


def words(text: str) -> list[str]:
    text = digits(text).lower().replace("%", " percent").replace("$", " dollars ")
    return re.findall(r"[a-z0-9]+(?:'[a-z]+)?", text)


def alignment(ref: list[str], hyp: list[str]) -> tuple[int, dict[int, int]]:
    """Levenshtein distance, and which hypothesis word each matched reference word is."""
    n, m = len(ref), len(hyp)
    cost = [[0] * (m + 1) for _ in range(n + 1)]
    for i in range(n + 1):
        cost[i][0] = i
    for j in range(m + 1):
        cost[0][j] = j
    for i in range(1, n + 1):
        for j in range(1, m + 1):
            same = ref[i - 1] == hyp[j - 1]
            cost[i][j] = min(
                cost[i - 1][j] + 1, cost[i][j - 1] + 1, cost[i - 1][j - 1] + (0 if same else 1)
            )
    matched: dict[int, int] = {}
    i, j = n, m
    while i > 0 and j > 0:
        same = ref[i - 1] == hyp[j - 1]
        if cost[i][j] == cost[i - 1][j - 1] + (0 if same else 1):
            if same:
                matched[i - 1] = j - 1
            i, j = i - 1, j - 1
        elif cost[i][j] == cost[i - 1][j] + 1:
            i -= 1
        else:
            j -= 1
    return cost[n][m], matched


def word_error_rate(reference: str, hypothesis: str) -> float:
    ref, hyp = words(reference), words(hypothesis)
    distance, _ = alignment(ref, hyp)
    return distance / max(1, len(ref))
