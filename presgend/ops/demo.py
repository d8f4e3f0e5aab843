"""`make demo`: build a sample talk, run the real pipeline on it, say where the results are."""

from __future__ import annotations

import sys
from pathlib import Path

from presgend.core import config as config_mod
from presgend.core.errors import ConfigError
from presgend.fronts import cli
from presgend.ops import sample
from presgend.pipeline.script import voices

DEMO_DIR = Path("demo")


def main() -> int:
    talk_dir = DEMO_DIR / "input"
    video = talk_dir / "demo-talk.mp4"
    if not video.is_file():
        engine = "piper" if voices.piper_command() and voices.find_voice("") else "espeak"
        voice = {"piper": "Piper", "espeak": "espeak-ng"}[engine]
        print(
            f"generating a sample talking-head recording ({voice} speech, moving camera)…",
            file=sys.stderr,
        )
        sample.make_talk(talk_dir, name="demo-talk", engine=engine)
    outbox = DEMO_DIR / "outbox"
    for old in outbox.glob("demo-talk*"):  # a re-run shows fresh results, not demo-talk-2
        old.unlink()
    script = talk_dir / "demo-script.md"
    script.write_text(DEMO_SCRIPT, encoding="utf-8")
    for old in outbox.glob("demo-script*"):
        old.unlink()
    code = cli.main(["process", str(video), str(script), "--outbox", str(outbox)])
    if code == 0:
        print("\ndemo finished:")
        for stem, what in (("demo-talk", "a talking-head video"), ("demo-script", "a script")):
            print(
                f"  from {what}:\n    video:     {(outbox / f'{stem}.mp4').absolute()}\n"
                f"    report:    {(outbox / f'{stem}.report.json').absolute()}\n"
                f"    subtitles: {(outbox / f'{stem}.srt').absolute()}"
            )
        try:
            port = config_mod.load(None).http.port
        except ConfigError:
            port = 8737
        print(
            "\nthe web page: .venv/bin/presgend serve, then open "
            f"http://127.0.0.1:{port}/ (drop a file there; Ctrl-C stops it)"
        )
    return code


DEMO_SCRIPT = """\
# What presgend does

Drop a recording or a script into the inbox folder. A few minutes later the outbox holds
a finished presentation video.

## Scripts become talks

- The text is spoken sentence by sentence
- Slides change exactly when their section starts

## Safe to run unattended

Files are taken only once they are complete. Every job ends in the outbox or in the
failed folder, with a plain explanation.
"""


if __name__ == "__main__":
    raise SystemExit(main())
