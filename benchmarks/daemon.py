"""The daemon: settle latency, idle CPU and jobs per hour on a local inbox; three
daemons on one inbox (folder claims against the PostgreSQL queue); and what one upload
costs the HTTP server in memory."""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

from presgend.ops import sample
from tests.support.daemons import event_time, log_events, remux
from tests.support.waiting import poll_until

from .common import PRESGEND, WORK, answers, fixture, folders, fresh, measure, section


def short_clips(folder: Path, count: int) -> tuple[list[tuple[Path, Path]], float]:
    """`count` copies of a 3-sentence clip, each its own bytes (not duplicates), with
    their transcripts (clipNN.mp4 and clipNN.srt); and how long one lasts."""
    base = sample.make_talk(folder, sample.DEMO_TALK[:3], name="base", size=(640, 360),
                            preset="ultrafast")  # fmt: skip
    pairs = []
    for i in range(count):
        video = remux(base.video, folder / f"clip{i:02d}.mp4", str(i))
        shutil.copy(base.srt, video.with_suffix(".srt"))
        pairs.append((video, video.with_suffix(".srt")))
    return pairs, base.duration


@section("daemon")
def daemon_section(opts: argparse.Namespace) -> dict[str, Any]:
    """Settle latency, idle CPU and jobs per hour of a real daemon on a local inbox."""
    import psutil

    root = fresh(WORK / "daemon")
    (root / "inbox").mkdir()
    clips = root / "clips"
    n = opts.queue
    _, each_s = short_clips(clips, n + 3)
    config = root / "presgend.toml"
    config.write_text(
        folders(root) + '[jobs]\nmax_concurrent = 1\n[output]\nquality = "fast"\n'
    )  # fmt: skip
    log = root / "logs" / "presgend.jsonl"
    daemon = subprocess.Popen(
        [str(PRESGEND), "run", "--config", str(config)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        poll_until(lambda: log_events(log, "daemon_started"), 60, "the daemon to start")
        settle = 2.0  # the default
        print(f"\ndaemon: local inbox (inotify), settle_seconds = {settle}")
        time.sleep(5)
        proc = psutil.Process(daemon.pid)
        before = proc.cpu_times()
        started = time.monotonic()
        time.sleep(opts.idle_seconds)
        after = proc.cpu_times()
        used = (after.user - before.user) + (after.system - before.system)
        idle_pct = 100 * used / (time.monotonic() - started)
        print(
            f"  idle CPU over {opts.idle_seconds:.0f} s          {idle_pct:7.3f} %  (target < 1%)"
        )

        latencies = []
        for i in range(3):  # written in chunks over 2 s; timed from the last byte
            data = (clips / f"clip{n + i:02d}.mp4").read_bytes()
            shutil.copy(clips / f"clip{n + i:02d}.srt", root / "inbox")
            target = root / "inbox" / f"clip{n + i:02d}.mp4"
            step = len(data) // 8 + 1
            with target.open("wb") as f:
                for k in range(0, len(data), step):
                    if k:
                        time.sleep(0.25)
                    f.write(data[k : k + step])
                    f.flush()
                last_byte = time.time()
            poll_until(lambda i=i: len(log_events(log, "job_started")) > i, 60, "the job to start")
            latencies.append(event_time(log_events(log, "job_started")[i]) - last_byte)
            poll_until(lambda i=i: len(log_events(log, "job_succeeded")) > i, 120, "the job to end")
        worst = max(latencies)
        print(f"  last byte -> job started      {statistics.median(latencies):7.2f} s median, "
              f"{worst:.2f} s worst  (target <= {settle + 0.5:.1f} s)")  # fmt: skip

        done_before = len(log_events(log, "job_succeeded"))
        queued_at = time.monotonic()
        for i in range(n):
            os.rename(clips / f"clip{i:02d}.srt", root / "inbox" / f"clip{i:02d}.srt")
            os.rename(clips / f"clip{i:02d}.mp4", root / "inbox" / f"clip{i:02d}.mp4")
        poll_until(lambda: len(log_events(log, "job_succeeded")) >= done_before + n, 60 * n,
                   "the queue to drain")  # fmt: skip
        queue_s = time.monotonic() - queued_at
    finally:
        daemon.terminate()
        daemon.wait(120)
    # the same clips through one-shot `presgend process` (same worker code, no daemon)
    oneshot = root / "oneshot"
    for i in range(n):
        shutil.copy(root / "archive" / f"clip{i:02d}.srt", clips / f"clip{i:02d}.srt")
        shutil.copy(root / "archive" / f"clip{i:02d}.mp4", clips / f"clip{i:02d}.mp4")
    wall, _, rc = measure(
        [str(PRESGEND), "process", "--outbox", str(oneshot), "--config",
         str(config), *(str(clips / f"clip{i:02d}.mp4") for i in range(n))]
    )  # fmt: skip
    assert rc == 0
    per_hour = 3600 * n / queue_s
    print(f"  queue of {n} short clips ({each_s:.0f} s each): {queue_s:6.1f} s "
          f"= {per_hour:.0f} jobs/hour")  # fmt: skip
    print(f"  one-shot `process` of the same {n}: {wall:6.1f} s; daemon / one-shot "
          f"{queue_s / wall:.2f}x")  # fmt: skip
    return {
        "idle_cpu_percent": round(idle_pct, 3),
        "settle_seconds": settle,
        "latency_s": [round(x, 3) for x in latencies],
        "queue_jobs": n,
        "queue_s": round(queue_s, 2),
        "jobs_per_hour": round(per_hour),
        "oneshot_s": round(wall, 2),
    }


def _cluster_run(root: Path, pairs: list[tuple[Path, Path]], queue: str) -> float:
    """Three daemons on one inbox; seconds from the drop of every clip to the last done."""
    (fresh(root) / "inbox").mkdir()
    logs = []
    daemons = []
    try:
        for name in ("a", "b", "c"):
            config = root / f"{name}.toml"
            config.write_text(
                folders(root, "logs-" + name) + queue
                + '[jobs]\nmax_concurrent = 1\n[output]\nquality = "fast"\n'
            )  # fmt: skip
            logs.append(root / f"logs-{name}" / "presgend.jsonl")
            daemons.append(subprocess.Popen(
                [str(PRESGEND), "run", "--config", str(config)],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            ))  # fmt: skip
        for log in logs:
            poll_until(lambda log=log: log_events(log, "daemon_started"), 60, "the daemons")
        time.sleep(2)
        started = time.monotonic()
        for video, srt in pairs:
            shutil.copy(srt, root / "inbox" / srt.name)
            shutil.copy(video, root / "inbox" / f".{video.name}")
            os.rename(root / "inbox" / f".{video.name}", root / "inbox" / video.name)

        def done() -> bool:
            return sum(len(log_events(log, "job_succeeded")) for log in logs) >= len(pairs)

        poll_until(done, 120 * len(pairs), "every clip done")
        return time.monotonic() - started
    finally:
        for daemon in daemons:
            daemon.terminate()
        for daemon in daemons:
            daemon.wait(120)


@section("cluster")
def cluster_section(opts: argparse.Namespace) -> dict[str, Any]:
    """Jobs per hour of three daemons on one inbox: folder claims against the PostgreSQL
    queue (a real server started here, as the tests do)."""
    from tests.support.postgres import Server

    root = fresh(WORK / "cluster")
    n = max(3, opts.queue + 3)
    pairs, _ = short_clips(root / "clips", n)
    print(f"\ncluster: three daemons (one job each at a time), {n} short clips dropped at once")
    server = Server().start()
    try:
        folder_s = _cluster_run(root / "folder", pairs, "")
        dsn = server.new_database()
        section = f'[queue]\nbackend = "postgres"\ndsn = "{dsn}"\n'
        init = root / "init.toml"
        init.write_text(section)
        subprocess.run([str(PRESGEND), "queue", "init", "--config", str(init)],
                       check=True, capture_output=True)  # fmt: skip
        postgres_s = _cluster_run(root / "postgres", pairs, section)
    finally:
        server.stop()
    folder_rate, postgres_rate = 3600 * n / folder_s, 3600 * n / postgres_s
    print(f"  folder claims        {folder_s:7.1f} s = {folder_rate:5.0f} jobs/hour")
    print(f"  postgres queue       {postgres_s:7.1f} s = {postgres_rate:5.0f} jobs/hour  "
          f"({postgres_rate / folder_rate:.2f}x the folder)")  # fmt: skip
    return {
        "jobs": n,
        "folder_s": round(folder_s, 2),
        "postgres_s": round(postgres_s, 2),
        "folder_jobs_per_hour": round(folder_rate),
        "postgres_jobs_per_hour": round(postgres_rate),
    }


@section("http")
def http_section(opts: argparse.Namespace) -> dict[str, Any]:
    """What one upload costs the server process in memory: the 180 s talk, then a body
    sixteen times its size, as large as a 1080p recording of that length (the server's
    breaker starts no job, so only the upload is measured)."""
    import httpx
    import psutil

    from tests.support.ports import free_port

    talk = fixture(opts.seconds)
    root = fresh(WORK / "http")
    (root / "inbox").mkdir()
    port = free_port()
    config = root / "presgend.toml"
    config.write_text(
        folders(root) + f"[http]\nport = {port}\nmax_upload_mb = 4096\n"
        + "[breaker]\ncpu_percent = 0.1\ncooldown_seconds = 3600\n"
    )  # fmt: skip
    big = root / "big.mp4"
    with big.open("wb") as f:
        for _ in range(16):
            f.write(talk.video.read_bytes())
    server = subprocess.Popen(
        [str(PRESGEND), "serve", "--config", str(config)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    results: dict[str, Any] = {}
    try:
        poll_until(lambda: answers(url), 60, "the server's first answer")
        proc = psutil.Process(server.pid)
        print("\nhttp: one upload into `presgend serve` (server process RSS, sampled every 10 ms)")
        for label, path in (("180 s talk", talk.video), ("16x that", big)):
            before = proc.memory_info().rss / 2**20
            peak = before
            done = threading.Event()

            def sample(done: threading.Event = done) -> None:
                nonlocal peak
                while not done.is_set():
                    peak = max(peak, proc.memory_info().rss / 2**20)
                    done.wait(0.01)

            sampler = threading.Thread(target=sample, daemon=True)
            sampler.start()
            size = path.stat().st_size / 2**20
            started = time.monotonic()
            with path.open("rb") as body:
                response = httpx.post(f"{url}/api/jobs", files={"file": ("talk.mp4", body)},
                                      timeout=600)  # fmt: skip
            seconds = time.monotonic() - started
            done.set()
            sampler.join()
            assert response.status_code == 202, response.text
            print(f"  {label:<11} {size:7.1f} MB in {seconds:5.2f} s: RSS {before:6.1f} MB "
                  f"before, {peak:6.1f} MB at the peak (+{peak - before:.1f} MB)")  # fmt: skip
            results[label] = {
                "mb": round(size, 1),
                "seconds": round(seconds, 2),
                "rss_before_mb": round(before, 1),
                "rss_peak_mb": round(peak, 1),
            }
    finally:
        server.terminate()
        server.wait(60)
    return results
