"""`make demo`: build a sample talk, run the real pipeline on it, say where the results are."""

from __future__ import annotations

import sys
from pathlib import Path

from presgend import cli, sample

DEMO_DIR = Path("demo")


def main() -> int:
    talk_dir = DEMO_DIR / "input"
    video = talk_dir / "demo-talk.mp4"
    if not video.is_file():
        print(
            "generating a sample talking-head recording (espeak-ng speech, moving camera)…",
            file=sys.stderr,
        )
        sample.make_talk(talk_dir, name="demo-talk")
    outbox = DEMO_DIR / "outbox"
    for old in outbox.glob("demo-talk*"):  # a re-run shows fresh results, not demo-talk-2
        old.unlink()
    code = cli.main(["process", str(video), "--outbox", str(outbox)])
    if code == 0:
        print(
            f"\ndemo finished:\n  video:  {(outbox / 'demo-talk.mp4').absolute()}\n"
            f"  report: {(outbox / 'demo-talk.report.json').absolute()}\n"
            f"  subtitles: {(outbox / 'demo-talk.srt').absolute()}"
        )
    return code


if __name__ == "__main__":
    raise SystemExit(main())
