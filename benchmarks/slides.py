"""Slides from unscripted speech: the judged corpus (tests/support/corpus.py), each real
sentence's bullets and title held to what a careful person writes (judged.py)."""

from __future__ import annotations

import argparse
from typing import Any

from tests.support import judged
from tests.support.corpus import CORPUS

from .common import section


@section("slides")
def slides_section(opts: argparse.Namespace) -> dict[str, Any]:
    result = judged.score(CORPUS)
    languages = sorted({item.language for item in CORPUS})
    print(f"\nslides from unscripted speech: the judged corpus ({', '.join(languages)})")
    print(f"  {result.line()}  (target: no fragment, lost point or changed fact)")
    for kind in ("fragments", "lost_points", "changed_facts", "bad_titles"):
        for example in getattr(result, kind)[:3]:
            print(f"    {kind.replace('_', ' ')[:-1]}: {example}")
    return {key: value if isinstance(value, int) else len(value)
            for key, value in result.as_dict().items()}  # fmt: skip
