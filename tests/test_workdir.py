"""A job's work folder: locked as its own while the job runs, swept once a kill -9 has
left it behind, and never swept while its job runs."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import pytest

from presgend.pipeline import workdir

HOLDER = """
import asyncio, sys
from presgend.pipeline import workdir

async def main():
    async with workdir.work_folder() as folder:
        (folder / "slide-01-1.png").write_bytes(b"x" * 1000)
        print(folder, flush=True)
        await asyncio.sleep(600)

asyncio.run(main())
"""


def test_a_killed_job_s_folder_is_swept_and_a_running_one_is_not(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    env = {**os.environ, "TMPDIR": str(tmp_path)}
    with subprocess.Popen(
        [sys.executable, "-c", HOLDER], stdout=subprocess.PIPE, text=True, env=env
    ) as holder:
        try:
            assert holder.stdout is not None
            killed = Path(holder.stdout.readline().strip())
            assert killed.parent == tmp_path and (killed / "slide-01-1.png").is_file()
            assert workdir.sweep(tmp_path) == [], "its job still runs"
        finally:
            holder.kill()  # SIGKILL: no clean-up runs
    assert killed.is_dir(), "a kill -9 leaves the folder behind"
    (tmp_path / "presgend-older").mkdir()  # a folder with no .owner: not the sweep's
    (tmp_path / "other").mkdir()
    monkeypatch.setattr("tempfile.tempdir", str(tmp_path))

    async def job_running_while_swept() -> tuple[list[str], bool, bool]:
        async with workdir.work_folder() as mine:
            swept = workdir.sweep(tmp_path)
            still = mine.is_dir()
        return swept, still, mine.exists()

    swept, kept_while_running, left_after = asyncio.run(job_running_while_swept())
    assert swept == [killed.name]
    assert kept_while_running and not left_after
    assert sorted(p.name for p in tmp_path.iterdir()) == ["other", "presgend-older"]
