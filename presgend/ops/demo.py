"""`make demo`: build a sample talk, run the real pipeline on it, say where the results are.

The talk is dropped without a transcript, so its speech is recognised by the default
model (`make setup` installs it): what a user's own recording gets.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from presgend.core import config as config_mod
from presgend.core import logs
from presgend.core.errors import ConfigError
from presgend.daemon import worker
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
        sample.make_talk(talk_dir, name="demo-talk", engine=engine, sidecar=False)
    (talk_dir / "demo-talk.srt").unlink(missing_ok=True)  # an older demo's: recognised now
    outbox = DEMO_DIR / "outbox"
    for old in outbox.glob("demo-talk*"):  # a re-run shows fresh results, not demo-talk-2
        old.unlink()
    script = talk_dir / "demo-script.md"
    script.write_text(DEMO_SCRIPT, encoding="utf-8")
    for old in outbox.glob("demo-script*"):
        old.unlink()
    code = process([video, script], outbox)
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


def process(paths: list[Path], outbox: Path) -> int:
    """Each file through the real pipeline (as `presgend process` does); 0 when all are
    out, else 1 with each failure's sentence."""
    try:
        cfg = config_mod.load(None)
    except ConfigError as exc:
        print(f"presgend: {exc}", file=sys.stderr)
        return 2
    outbox.mkdir(parents=True, exist_ok=True)
    logs.configure(None, console_level="warning")
    failed = 0
    for outcome in asyncio.run(worker.process_files(paths, cfg, outbox=outbox)):
        if not outcome.ok:
            failed += 1
            print(f"failed  {outcome.path}: {outcome.document['error']}", file=sys.stderr)
            continue
        said = outcome.document["transcript"]
        model = f" by {said['model']}" if said.get("model") else ""
        print(f"made    {outcome.path.name}: speech from {said['source']}{model}, "
              f"{len(outcome.document['slides'])} slides", file=sys.stderr)  # fmt: skip
    return 1 if failed else 0


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
