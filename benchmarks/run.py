"""`make bench`: presgend against a floor measured in the same run, on this machine.

Each module is one part of the bench and registers its sections with `@section`:
`video` (the sidecar job, the probe phase), `whisper` (recognition, beam sizes),
`script` (narrated scripts), `slides` (the judged corpus of unscripted speech), `edit`
(a re-render after an edit), `long` (talks from 1 to 30 minutes) and `daemon`
(latency, idle CPU, a team's inbox, uploads). `--only` runs the sections whose names
start with it.
"""

from __future__ import annotations

import argparse
import importlib
import json

from .common import SECTIONS, WORK

# in the order they run
PARTS = ("video", "whisper", "script", "decks", "slides", "edit", "long", "daemon")


def main() -> int:
    for part in PARTS:
        importlib.import_module(f".{part}", __package__)  # its sections register themselves
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=180.0, help="length of the fixture")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each; the best counts")
    parser.add_argument("--idle-seconds", type=float, default=60.0, help="idle CPU window")
    parser.add_argument("--queue", type=int, default=6, help="short clips queued at once")
    parser.add_argument(
        "--whisper-model", choices=["base", "tiny.en"], default="base", help="for `whisper`"
    )
    parser.add_argument(
        "--minutes", default="1,3,10,30", help="talk lengths for `long`, comma-separated"
    )
    parser.add_argument("--only", help=f"run the sections starting so: {', '.join(SECTIONS)}")
    opts = parser.parse_args()
    WORK.mkdir(exist_ok=True)
    chosen = {n: run for n, run in SECTIONS.items() if not opts.only or n.startswith(opts.only)}
    results = {name: run(opts) for name, run in chosen.items()}
    (WORK / "results.json").write_text(json.dumps(results, indent=2))
    print(f"\nfigures saved to {WORK / 'results.json'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
