"""Retention: outputs past their time are deleted, never while they are downloaded, and
the job then says `expired`. The ledger and files are real; the clock is passed in."""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path
from typing import Any

import pytest

from presgend.core import config as config_mod
from presgend.core.config import Config
from presgend.fronts import handin
from presgend.inbox import ledger
from presgend.pipeline import store


@pytest.fixture
def setup(tmp_path: Path) -> Config:
    for name in ("inbox", "outbox"):
        (tmp_path / name).mkdir()
    (tmp_path / "inbox" / ".presgend").mkdir()
    return config_mod.from_dict(
        {"paths": {"inbox": str(tmp_path / "inbox"), "outbox": str(tmp_path / "outbox")}}
    )


def finished_job(cfg: Config, job_id: str, stem: str, hours_ago: float, ttl: float) -> list[Path]:
    outbox = cfg.paths.outbox
    files = [outbox / f"{stem}{s}" for s in (".mp4", ".srt", ".report.json", ".preview.jpg")]
    for path in files:
        path.write_bytes(b"x")
    finished = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - hours_ago * 3600))
    outputs = dict(zip(("video", "srt", "report", "preview"), map(str, files), strict=True))
    ledger.record(cfg.paths.inbox, job_id, status="ok", input=f"{stem}.mp4", ttl_hours=ttl,
                finished_at=finished, outputs=outputs)  # fmt: skip
    return files


def test_uploads_expire_after_their_link_time_and_folder_jobs_are_kept(setup: Config) -> None:
    old_upload = finished_job(setup, "a", "old-upload", hours_ago=25, ttl=24)
    new_upload = finished_job(setup, "b", "new-upload", hours_ago=1, ttl=24)
    folder_job = finished_job(setup, "c", "folder", hours_ago=1000, ttl=0)
    assert ledger.expire(setup) == ["a"]
    assert not any(p.exists() for p in old_upload)
    assert all(p.exists() for p in new_upload + folder_job)
    entry = ledger.entry(setup.paths.inbox, "a")
    assert entry is not None and entry["status"] == "expired"
    # retention_hours applies to every job, folder drops too
    keep_a_day = config_mod.replace(setup, "outbox", retention_hours=24.0)
    assert ledger.expire(keep_a_day) == ["c"]
    assert not any(p.exists() for p in folder_job)


def test_nothing_is_deleted_while_it_is_downloaded(setup: Config) -> None:
    files = finished_job(setup, "a", "talk", hours_ago=48, ttl=24)
    marker = ledger.downloading(setup.paths.inbox, "talk.mp4")
    assert ledger.expire(setup) == []
    assert all(p.exists() for p in files)
    marker.unlink()
    assert ledger.expire(setup) == ["a"]
    assert not any(p.exists() for p in files)


def test_links_name_one_file_and_expire(setup: Config) -> None:
    key = handin.link_key(setup.paths.inbox)
    assert handin.link_key(setup.paths.inbox) == key  # made once, shared
    assert (setup.paths.inbox / ".presgend" / "http.key").stat().st_mode & 0o777 == 0o600
    token = handin.sign(key, "talk.mp4", time.time() + 60)
    assert handin.verify(key, token) == "talk.mp4"
    with pytest.raises(handin.ExpiredLink):
        handin.verify(key, token, now=time.time() + 120)
    payload, mac = token.split(".")
    with pytest.raises(handin.BadLink):
        handin.verify(key, payload[:-2] + "xx." + mac)
    with pytest.raises(handin.BadLink):
        handin.verify(key, handin.sign(key, "../etc/passwd", time.time() + 60))


@pytest.mark.parametrize(
    ("given", "safe"),
    [
        ("../../etc/x.mp4", "x.mp4"),
        ("-y .mp4", "y.mp4"),
        ("..\\\\windows\\\\talk.MOV", "talk.MOV"),
        (".hidden.txt", "hidden.txt"),
        ("tab\there\x00.md", "tabhere.md"),
        ("", "upload"),
        ("---", "upload"),
    ],
)
def test_client_file_names_become_safe_base_names(given: str, safe: str) -> None:
    assert handin.safe_name(given) == safe


def housekeeping(cfg: Config) -> Any:
    from presgend.core import hardware
    from presgend.core.settings import Settings
    from presgend.daemon.housekeeping import Housekeeping
    from presgend.daemon.intake import Intake

    (cfg.paths.inbox / ".presgend" / "claims").mkdir(parents=True, exist_ok=True)
    return Housekeeping(
        Settings(cfg), jobs={}, stop=lambda _id, _why: False, wake=lambda: None,
        monitor=hardware.ResourceMonitor(90, 90, 1, lambda: (5.0, 5.0)), clock=time.monotonic,
        intake=Intake(Settings(cfg), wake=lambda: None, reject=lambda n, r: None),
        snapshot=lambda: {"pid": 1},
    )  # fmt: skip


def kept_job(cfg: Config, job_id: str, status: str, hours_ago: float) -> store.Store:
    kept = store.Store.of(cfg, job_id)
    kept.folder.mkdir(parents=True)
    stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - hours_ago * 3600))
    kept.write("job.json", dict(store.Kept(
        job_id=job_id, kind="video", stem=job_id, outbox=str(cfg.paths.outbox), input={},
        identity="", quality="draft", status=status, created_at=stamp, updated_at=stamp,
    ).__dict__))  # fmt: skip
    return kept


def test_an_expired_job_is_no_longer_kept_for_editing(setup: Config) -> None:
    finished_job(setup, "gone", "gone", hours_ago=30, ttl=24)
    finished_job(setup, "here", "here", hours_ago=1, ttl=24)
    gone, here = kept_job(setup, "gone", "ok", 30), kept_job(setup, "here", "ok", 1)
    housekeeping(config_mod.replace(setup, "http", enabled=True)).reclaim()
    assert not gone.folder.exists() and here.exists


def test_a_draft_held_past_its_review_time_is_approved_once(setup: Config) -> None:
    cfg = config_mod.replace(setup, "review", hold=True, auto_approve_hours=2.0)
    kept_job(cfg, "old", "awaiting_review", hours_ago=3)
    kept_job(cfg, "new", "awaiting_review", hours_ago=1)
    kept_job(cfg, "shipped", "ok", hours_ago=30)
    keeper = housekeeping(cfg)
    keeper.reclaim()
    inbox = cfg.paths.inbox
    assert sorted(p.name for p in inbox.iterdir() if not p.name.startswith(".")) == [
        "old.approve", "old.job.json"]  # fmt: skip
    entry = ledger.entry(inbox, "old")
    assert entry is not None and entry["status"] == "queued"
    for path in inbox.glob("old.*"):
        path.unlink()  # taken by the daemon; still awaiting review in the store
    keeper.reclaim()  # once: a draft whose approval failed is not approved again and again
    assert not list(inbox.glob("old.*"))
    # never approved automatically when the setting is 0, unless the job's preset says so
    never = config_mod.replace(setup, "review", hold=True, auto_approve_hours=0.0)
    assert store.drafts_due(never, time.time() + 10**6) == []
    kept = kept_job(never, "board", "awaiting_review", hours_ago=5)
    kept.write("job.json", {**kept.read("job.json"), "preset": "board"})
    board = dataclasses.replace(never, presets={"board": {"review": {"auto_approve_hours": 4.0}}})
    assert [k.job_id for k in store.drafts_due(board, time.time())] == ["board"]
