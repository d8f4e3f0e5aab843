"""A job never hangs: one BLAS thread per process, recognition in a child that can be
killed, and the stall watchdog (a job whose progress stops is stopped with its children,
run once more, and failed with one sentence after a second stall), in `process` and in
the daemon, with real ffmpeg and recogniser processes stopped on purpose."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psutil
import pytest
from support.cli import start, write_config
from support.daemons import DaemonProcess, OutboxWatcher, published, valid_video, visible
from support.waiting import until

from presgend.core import aio, procs
from presgend.core.config import TranscriptionConfig
from presgend.core.errors import ToolError
from presgend.ops import sample
from presgend.pipeline import stall
from presgend.pipeline.video import transcribe

# --- the cause: BLAS threads ------------------------------------------------------------------

BLAS_THREADS = """
import json, sys
{first}
from threadpoolctl import threadpool_info
print(json.dumps([i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"]))
"""


@pytest.mark.parametrize(
    "first",
    [
        "import presgend.fronts.cli, numpy",  # presgend first: the environment is set in time
        "import numpy; from presgend.pipeline.context import Services; Services()",  # numpy first
    ],
)
def test_every_job_process_runs_blas_on_one_thread(first: str) -> None:
    env = {k: v for k, v in os.environ.items() if k != "OPENBLAS_NUM_THREADS"}
    out = subprocess.run(
        [sys.executable, "-c", BLAS_THREADS.format(first=first)],
        capture_output=True, text=True, check=True, env=env, timeout=60,
    ).stdout  # fmt: skip
    threads = json.loads(out.strip().splitlines()[-1])
    assert threads and set(threads) == {1}, threads


FEATURES_BESIDE_NUMPY = """
import sys, threading, time
import numpy as np
from faster_whisper.feature_extractor import FeatureExtractor
from presgend.pipeline.video import loudness
from presgend.pipeline.context import Services
Services()  # what a job process does first
extract = FeatureExtractor()
rng = np.random.default_rng(7)
audio = (rng.standard_normal(16000 * 30) * 0.1).astype(np.float32)
rounds = int(sys.argv[1])
done = []

def recognise():  # whisper's mel features: mel_filters @ magnitudes, as in the hang's stack
    for _ in range(rounds):
        extract(audio)
    done.append(1)

def probe_work():  # the probe's own numpy work beside it
    x = rng.random((300, 300))
    for _ in range(rounds):
        (x @ x.T).trace(); loudness.frame_db(audio, 160); np.quantile(x, 0.2, axis=1)
    done.append(1)

threads = [threading.Thread(target=f) for f in (recognise, recognise, probe_work, probe_work)]
for t in threads: t.start()
for t in threads: t.join()
print(len(done))
"""


def test_recognition_beside_the_probes_numpy_work_never_hangs() -> None:
    """The hang's conditions: BLAS called from several threads at once (two recognisers'
    feature extraction and the probe's numpy work), hundreds of times over; a hang would
    run into the deadline."""
    result = subprocess.run(
        [sys.executable, "-c", FEATURES_BESIDE_NUMPY, "200"],
        capture_output=True, text=True, timeout=240,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip() == "4"


# --- the guard -----------------------------------------------------------------------------------


def test_the_guard_stops_work_whose_progress_stopped() -> None:
    async def scenario() -> tuple[stall.Stalled, bool]:
        guard = stall.Guard(0.4)
        progress = guard.relay(lambda _p, _f: None)
        cancelled = asyncio.Event()

        async def work() -> None:
            for i in range(5):
                progress("content", i / 10)
                await asyncio.sleep(0.1)
            try:
                await asyncio.sleep(30)  # stuck
            except asyncio.CancelledError:
                cancelled.set()
                raise

        with pytest.raises(stall.Stalled) as caught:
            await guard.watch(work())
        return caught.value, cancelled.is_set()

    stalled, cancelled = asyncio.run(scenario())
    assert stalled.phase == "content" and 0.4 <= stalled.seconds < 2
    assert cancelled


def test_the_guard_lets_slow_work_that_moves_finish() -> None:
    async def scenario() -> str:
        guard = stall.Guard(0.3)
        progress = guard.relay(lambda _p, _f: None)

        async def work() -> str:
            progress("compose", 0.5)
            for _ in range(8):  # 0.8 s in all, never 0.3 s without a sign of life
                await asyncio.sleep(0.1)
                guard.beat()
            return "done"

        return await guard.watch(work())

    assert asyncio.run(scenario()) == "done"


def test_a_cancellation_as_the_work_finishes_is_never_lost() -> None:
    """asyncio.wait_for on 3.10/3.11 returns the result when the cancel and the end of
    its work come in the same step, and the cancelled job runs on (a flaky CI failure
    of test_cancel_a_running_job); aio.bounded propagates the cancellation."""

    async def scenario(wait: Callable[..., Any]) -> str:
        finished = asyncio.get_running_loop().create_future()

        async def work() -> str:
            return str(await finished)

        outer = asyncio.ensure_future(wait(work(), 10))
        for _ in range(3):  # the work is now waiting on `finished`
            await asyncio.sleep(0)
        finished.set_result("done")
        outer.cancel()  # in the same step as the work's end
        try:
            return str(await outer)
        except asyncio.CancelledError:
            return "cancelled"

    assert asyncio.run(scenario(aio.bounded)) == "cancelled"
    if sys.version_info < (3, 12):  # the bug bounded exists for, still there
        assert asyncio.run(scenario(asyncio.wait_for)) == "done"


def test_bounded_work_is_cancelled_at_its_limit_and_results_come_back() -> None:
    async def scenario() -> tuple[str, bool]:
        stopped = asyncio.Event()

        async def slow() -> None:
            try:
                await asyncio.sleep(30)
            except asyncio.CancelledError:
                stopped.set()
                raise

        with pytest.raises(asyncio.TimeoutError):
            await aio.bounded(slow(), 0.1)
        return await aio.bounded(asyncio.sleep(0, "ok"), 5), stopped.is_set()

    assert asyncio.run(scenario()) == ("ok", True)


def test_work_side_by_side_stops_when_one_fails_and_its_error_is_raised() -> None:
    """The parts of a composition: when one ffmpeg fails, the others are killed, not
    left encoding for a job that has failed."""

    async def scenario() -> tuple[list[Any], list[int]]:
        together = await aio.together(asyncio.sleep(0.1, "a"), asyncio.sleep(0, "b"))
        runs = [procs.run(["sleep", "30"], timeout=60) for _ in range(2)]
        failing = procs.run(["sh", "-c", "sleep 0.3; exit 3"], timeout=60, what="a part")
        with pytest.raises(ToolError, match="a part"):
            await aio.together(*runs, failing)
        left = [p.pid for p in psutil.Process().children() if p.name() == "sleep"]
        return together, left

    assert asyncio.run(scenario()) == (["a", "b"], [])


def test_a_program_cancelled_while_it_runs_is_killed_and_the_cancel_propagates() -> None:
    async def scenario() -> tuple[bool, bool]:
        started = time.monotonic()
        run = asyncio.ensure_future(procs.run(["sleep", "30"], timeout=60))
        await asyncio.sleep(0.3)
        pids = [p.pid for p in psutil.Process().children() if p.name() == "sleep"]
        run.cancel()
        with pytest.raises(asyncio.CancelledError):
            await run
        return bool(pids) and not any(psutil.pid_exists(pid) for pid in pids), (
            time.monotonic() - started < 10
        )

    assert asyncio.run(scenario()) == (True, True)


def test_the_same_progress_reported_again_is_no_progress() -> None:
    now = [0.0]
    guard = stall.Guard(10, clock=lambda: now[0])
    progress = guard.relay(lambda _p, _f: None)
    progress("compose", 0.5)
    now[0] = 8.0
    progress("compose", 0.5)
    assert guard.idle() == 8.0
    progress("compose", 0.51)
    assert guard.idle() == 0.0


# --- real processes stopped on purpose -------------------------------------------------------


def descendants(pid: int) -> list[psutil.Process]:
    try:
        return list(psutil.Process(pid).children(recursive=True))
    except psutil.Error:
        return []


def gone(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.Error:
        return True


class Stopper(threading.Thread):
    """SIGSTOPs (or another signal) the first `times` descendants of `root` that `match`
    (a hang in C, a stuck ffmpeg, the OOM killer), as they appear."""

    def __init__(
        self, root: int, match: Callable[[list[str]], bool], times: int,
        sig: signal.Signals = signal.SIGSTOP,
    ) -> None:  # fmt: skip
        super().__init__(daemon=True)
        self.root, self.match, self.times, self.sig = root, match, times, sig
        self.stopped: list[int] = []
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.is_set() and len(self.stopped) < self.times:
            for proc in descendants(self.root):
                try:
                    if proc.pid not in self.stopped and self.match(proc.cmdline()):
                        proc.send_signal(self.sig)
                        self.stopped.append(proc.pid)
                except psutil.Error:
                    continue
            time.sleep(0.05)


def is_recogniser(cmd: list[str]) -> bool:
    return "presgend.pipeline.video.recogniser" in cmd


def is_composer(cmd: list[str]) -> bool:
    return bool(cmd) and os.path.basename(cmd[0]) == "ffmpeg" and "-filter_complex" in cmd


def json_lines(text: str) -> list[dict[str, Any]]:
    events = []
    for line in text.splitlines():
        try:
            event = json.loads(line)
        except ValueError:
            continue
        if isinstance(event, dict):
            events.append(event)
    return events


def test_a_cancelled_recognition_takes_its_process_with_it(
    short_talk: sample.SampleTalk, tiny_model: Path, tmp_path: Path
) -> None:
    wav = tmp_path / "audio.wav"
    subprocess.run(["ffmpeg", "-v", "error", "-i", str(short_talk.video), "-ac", "1",
                    "-ar", "16000", str(wav)], check=True)  # fmt: skip
    cfg = TranscriptionConfig(model=str(tiny_model), language="en")
    stopper = Stopper(os.getpid(), is_recogniser, 1)
    stopper.start()

    async def scenario() -> None:
        task = asyncio.create_task(transcribe.transcribe(wav, cfg, cuda=False))
        await until(lambda: stopper.stopped, 60, "the recogniser's stop")
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(scenario())
    assert stopper.stopped, "the recogniser never started"
    assert gone(stopper.stopped[0]), "the stopped recogniser outlived its cancelled job"


def stall_config(tmp_path: Path, tiny_model: Path, **jobs: Any) -> Path:
    return write_config(
        {
            "paths": {"logs": str(tmp_path / "logs")},
            "jobs": {"stall_seconds": 8.0, **jobs},
            "output": {"quality": "draft"},
            "transcription": {"model": str(tiny_model), "language": "en"},
        },
        tmp_path / "stall.toml",
    )


def dropped(talk: sample.SampleTalk, tmp_path: Path, *, sidecar: bool = True) -> Path:
    """The talk copied to `in/talk.mp4` (with its transcript, or for whisper to hear)."""
    video = tmp_path / "in" / "talk.mp4"
    video.parent.mkdir()
    shutil.copy(talk.video, video)
    if sidecar:
        shutil.copy(talk.srt, video.with_suffix(".srt"))
    return video


def process_stopping(
    video: Path, tmp_path: Path, tiny_model: Path, stopper_for: Callable[[int], Stopper]
) -> tuple[int, str, Stopper]:
    """`presgend process` of `video` into tmp_path/out, with a Stopper on its children."""
    config = stall_config(tmp_path, tiny_model)
    args = ["process", str(video), "--outbox", str(tmp_path / "out"), "--config", str(config)]
    return run_process(args, stopper_for)


def run_process(args: list[str], stopper_for: Callable[[int], Stopper]) -> tuple[int, str, Stopper]:
    with tempfile.TemporaryDirectory() as folder:
        stderr = Path(folder) / "stderr"
        proc = start(args, Path.cwd(), stderr)
        stopper = stopper_for(proc.pid)
        stopper.start()
        try:
            proc.wait(timeout=240)
        finally:
            stopper.done.set()
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        return proc.wait(), stderr.read_text(errors="replace"), stopper


def test_process_a_recogniser_that_hangs_is_stopped_and_the_job_run_once_more(
    short_talk: sample.SampleTalk, tiny_model: Path, tmp_path: Path
) -> None:
    video = dropped(short_talk, tmp_path, sidecar=False)  # no sidecar: whisper listens
    rc, err, stopper = process_stopping(
        video, tmp_path, tiny_model, lambda pid: Stopper(pid, is_recogniser, 1)
    )
    assert rc == 0, err[-3000:]
    stalls = [e for e in json_lines(err) if e.get("event") == "job_stalled"]
    assert len(stalls) == 1, stalls
    assert stalls[0]["attempt"] == 1 and stalls[0]["phase"] in ("probe", "content")
    assert stalls[0]["seconds"] >= 8.0
    assert gone(stopper.stopped[0])
    assert visible(tmp_path / "out") == published("talk")  # fmt: skip
    assert valid_video(tmp_path / "out" / "talk.mp4") == ""
    report = json.loads((tmp_path / "out" / "talk.report.json").read_text())
    assert report["transcript"]["source"] == "whisper" and report["slides"]
    assert video.is_file()


def test_process_a_job_that_stalls_twice_fails_with_one_sentence(
    short_talk: sample.SampleTalk, tiny_model: Path, tmp_path: Path
) -> None:
    video = dropped(short_talk, tmp_path)
    rc, err, stopper = process_stopping(
        video, tmp_path, tiny_model, lambda pid: Stopper(pid, is_composer, 2)
    )
    assert rc != 0
    assert len(stopper.stopped) == 2
    assert all(gone(pid) for pid in stopper.stopped), "a stopped ffmpeg was left behind"
    error = json.loads((tmp_path / "out" / "talk.error.json").read_text())
    assert error["error"] == (
        "The job stopped making progress during compose and was stopped twice."
    )
    assert error["phase"] == "compose"
    assert visible(tmp_path / "out") == ["talk.error.json"]
    stalls = [e for e in json_lines(err) if e.get("event") == "job_stalled"]
    assert [s["attempt"] for s in stalls] == [1, 2]
    assert video.is_file() and video.with_suffix(".srt").is_file()


def test_daemon_a_stopped_ffmpeg_is_caught_and_the_job_completes_once(
    short_talk: sample.SampleTalk, tmp_path: Path
) -> None:
    watcher = OutboxWatcher(tmp_path / "outbox")
    watcher.start()
    daemon = DaemonProcess(tmp_path, jobs={"stall_seconds": 8.0})
    stopper = Stopper(daemon.proc.pid, is_composer, 1)
    stopper.start()
    try:
        shutil.copy(short_talk.srt, tmp_path / "inbox" / "talk.srt")
        shutil.copy(short_talk.video, tmp_path / "inbox" / "talk.mp4")
        daemon.wait_for(lambda: daemon.events("job_succeeded"), 180, "the job after its stall")
        stalls = daemon.events("job_stalled")
        assert len(stalls) == 1 and stalls[0]["phase"] == "compose"
        assert stalls[0]["job_id"] == daemon.events("job_succeeded")[0]["job_id"]
        assert gone(stopper.stopped[0])
    finally:
        stopper.done.set()
        assert daemon.stop() == 0
        watcher.stop()
    assert watcher.problems == []
    assert visible(tmp_path / "outbox") == published("talk")  # fmt: skip
    assert valid_video(tmp_path / "outbox" / "talk.mp4") == ""
    assert visible(tmp_path / "archive") == ["talk.mp4", "talk.srt"]


def test_process_a_program_killed_from_outside_is_run_once_more(
    short_talk: sample.SampleTalk, tiny_model: Path, tmp_path: Path
) -> None:
    """The OOM killer or an operator SIGKILLs the compose's ffmpeg: one more run, not a
    failure; the log says which program."""
    video = dropped(short_talk, tmp_path)
    rc, err, killer = process_stopping(
        video, tmp_path, tiny_model, lambda pid: Stopper(pid, is_composer, 1, signal.SIGKILL)
    )
    assert rc == 0, err[-3000:]
    assert len(killer.stopped) == 1
    interrupted = [e for e in json_lines(err) if e.get("event") == "job_interrupted"]
    assert len(interrupted) == 1 and interrupted[0]["phase"] == "compose"
    assert interrupted[0]["program"].endswith("ffmpeg")
    assert visible(tmp_path / "out") == published("talk")  # fmt: skip
    assert valid_video(tmp_path / "out" / "talk.mp4") == ""
