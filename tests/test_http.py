"""The HTTP service as a user reaches it: a real `presgend serve` on a temporary inbox,
httpx for the API, Debian's Chromium for the web page, the MCP SDK's own client."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from support.daemons import daemon_config, valid_video, visible
from support.frames import changes_of, gray_frames
from support.http_service import TOKEN, HttpServer
from support.ports import free_port
from support.waiting import poll_until

from presgend.fronts import handin
from presgend.ops import sample

pytestmark = pytest.mark.slow

ARTIFACTS = Path(__file__).parent / "artifacts"


@contextlib.contextmanager
def browser_page(width: int, height: int) -> Iterator[tuple[Any, list[str]]]:
    """A page in Debian's Chromium, and the errors its console shows as it goes."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path="/usr/bin/chromium", args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": width, "height": height})
        problems: list[str] = []
        page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
        try:
            yield page, problems
        finally:
            browser.close()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HttpServer]:
    srv = HttpServer(tmp_path_factory.mktemp("http"))
    yield srv
    assert srv.stop() == 0


@pytest.fixture(scope="module")
def finished(server: HttpServer, clip: sample.SampleTalk) -> dict[str, Any]:
    """One upload of a clip and its transcript, followed to the end by its events."""
    response = server.upload(clip.video, "my talk.mp4", transcript=clip.srt)
    assert response.status_code == 202, response.text
    body = response.json()
    assert body["status_url"].endswith(f"/api/jobs/{body['job_id']}")
    events = []
    with server.client.stream("GET", f"/api/jobs/{body['job_id']}/events", timeout=180) as stream:
        assert stream.headers["content-type"].startswith("text/event-stream")
        kind = ""
        for line in stream.iter_lines():
            if line.startswith("event: "):
                kind = line.removeprefix("event: ")
            elif line.startswith("data: "):
                events.append((kind, json.loads(line.removeprefix("data: "))))
                if kind == "done":
                    break
    return {"job_id": body["job_id"], "events": events}


def test_upload_follow_and_download(
    server: HttpServer, finished: dict[str, Any], tmp_path: Path
) -> None:
    events = finished["events"]
    kinds = [k for k, _ in events]
    assert kinds[-1] == "done" and kinds.count("done") == 1
    progress = [e["progress"] for _, e in events]
    assert progress == sorted(progress) and progress[-1] == 1.0
    assert {e["status"] for _, e in events} >= {"running", "ok"}
    status = server.client.get(f"/api/jobs/{finished['job_id']}").json()
    assert status["status"] == "ok" and status["input"] == "my talk.mp4"
    assert status["report"]["output"]["video"].endswith("my talk.mp4")
    links = status["links"]
    assert set(links) == {"video", "srt", "vtt", "chapters_vtt", "pptx", "report", "preview"}
    captions = httpx.get(links["vtt"], timeout=30)
    assert captions.headers["content-type"].startswith("text/vtt")
    assert captions.text.startswith("WEBVTT")
    # the link works without the token, is a valid MP4, and seeks (range requests)
    video = httpx.get(links["video"], timeout=30)
    assert video.status_code == 200 and video.headers["content-type"] == "video/mp4"
    assert "my%20talk.mp4" in video.headers["content-disposition"]
    (tmp_path / "got.mp4").write_bytes(video.content)
    assert valid_video(tmp_path / "got.mp4") == ""
    part = httpx.get(links["video"], headers={"Range": "bytes=100-1099"}, timeout=30)
    assert part.status_code == 206
    assert part.content == video.content[100:1100]
    assert part.headers["content-range"] == f"bytes 100-1099/{len(video.content)}"
    srt = httpx.get(links["srt"], timeout=30)
    assert "-->" in srt.text
    assert httpx.get(links["report"], timeout=30).json()["job_id"] == finished["job_id"]
    listed = server.client.get("/api/jobs").json()["jobs"]
    assert listed[0]["job_id"] == finished["job_id"]


def test_tokens_links_and_errors_speak_plainly(
    server: HttpServer, finished: dict[str, Any]
) -> None:
    bare = httpx.Client(base_url=server.url, timeout=10)
    no_token = bare.get(f"/api/jobs/{finished['job_id']}")
    assert no_token.status_code == 401
    assert no_token.json()["error"].startswith("A valid bearer token is needed")
    wrong = bare.get("/api/jobs", headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 401
    assert bare.post("/api/jobs", files={"file": ("a.mp4", b"x")}).status_code == 401
    assert bare.get("/healthz").json() == {"status": "ok"}
    assert (
        server.client.get("/api/jobs?limit=many")
        .json()["error"]
        .startswith("The request is not valid: limit:")
    )
    assert server.client.get("/nowhere").json() == {"error": "There is no such page."}
    assert bare.get("/openapi.json").json()["info"]["title"] == "presgend"
    missing = server.client.get("/api/jobs/nope")
    assert missing.status_code == 404 and missing.json()["error"] == "There is no job with this id."
    # a link past its expiry: 410, in words
    key = handin.link_key(server.root / "inbox")
    expired = handin.sign(key, "my talk.mp4", time.time() - 1)
    gone = bare.get(f"/d/{expired}")
    assert gone.status_code == 410 and "expired" in gone.json()["error"]
    forged = handin.sign(b"0" * 64, "my talk.mp4", time.time() + 60)
    assert bare.get(f"/d/{forged}").status_code == 404
    metrics = server.client.get("/metrics").text
    assert 'presgend_jobs{status="ok"}' in metrics and "presgend_breaker_open 0" in metrics
    assert "presgend_phase_seconds_count" in metrics
    assert 'presgend_webhook_deliveries{result="delivered"} 0' in metrics
    ready = bare.get("/readyz")
    assert ready.status_code in (200, 503) and ready.json()
    bare.close()


def test_hostile_names_land_in_the_inbox_and_garbage_fails_plainly(
    server: HttpServer, tmp_path: Path
) -> None:
    garbage = tmp_path / "garbage.mp4"
    garbage.write_bytes(os.urandom(50_000))
    ids = {}
    for name in ("../../etc/x.mp4", "-y .mp4"):
        response = server.upload(garbage, name)
        assert response.status_code == 202, response.text
        ids[name] = response.json()["job_id"]
    for job_id in ids.values():
        status = server.wait(job_id, 60)
        assert status["status"] == "failed"
        assert status["error"].endswith(".")  # one plain sentence
        assert status["input"] in ("x.mp4", "y.mp4")
    assert not (server.root.parent / "etc").exists() and not Path("/etc/x.mp4").exists()
    failed = visible(server.root / "failed")
    assert {"x.mp4", "y.mp4", "x.error.json", "y.error.json"} <= set(failed)


def test_an_upload_over_the_limit_is_refused_and_leaves_nothing(server: HttpServer) -> None:
    before = sorted(os.listdir(server.root / "inbox"))
    big = os.urandom(21 * 2**20)
    response = server.client.post("/api/jobs", files={"file": ("big.mp4", big)})
    assert response.status_code == 413
    assert response.json()["error"] == "The upload is larger than the 20 MB this server accepts."

    # streamed without a length: refused as it arrives
    def chunks() -> Iterator[bytes]:
        boundary = b"xyz"
        yield b'--xyz\r\nContent-Disposition: form-data; name="file"; filename="big.mp4"\r\n'
        yield b"\r\n"
        for i in range(0, len(big), 1 << 20):
            yield big[i : i + (1 << 20)]
        yield b"\r\n--" + boundary + b"--\r\n"

    streamed = server.client.post(
        "/api/jobs", content=chunks(),
        headers={"Content-Type": "multipart/form-data; boundary=xyz"},
    )  # fmt: skip
    assert streamed.status_code == 413
    assert sorted(os.listdir(server.root / "inbox")) == before
    uploads = server.root / "inbox" / ".presgend" / "uploads"
    assert not uploads.exists() or list(uploads.iterdir()) == []


def test_cancel_a_running_job(server: HttpServer, talk: sample.SampleTalk) -> None:
    response = server.upload(talk.video, "long talk.mp4", transcript=talk.srt)
    job_id = response.json()["job_id"]
    server.wait(job_id, 60, until=("running",))
    cancel = server.client.delete(f"/api/jobs/{job_id}")
    assert cancel.status_code == 202 and cancel.json()["cancel"] == "cancelled"
    status = server.wait(job_id, 30)
    assert status["status"] == "failed" and status["error"] == "The job was cancelled."
    assert status["error_document"]["reason"] == "cancelled"
    assert "long talk.mp4" in visible(server.root / "failed")
    assert "long talk.mp4" not in visible(server.root / "outbox")
    again = server.client.delete(f"/api/jobs/{job_id}")
    assert again.status_code == 409


def test_a_public_bind_without_tokens_refuses_to_start(tmp_path: Path) -> None:
    config = daemon_config(tmp_path, "pub", http={"tokens": [], "port": free_port()})
    result = subprocess.run(
        [sys.executable, "-m", "presgend", "serve", "--bind", "0.0.0.0", "--config", str(config)],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode == 1
    assert "with no tokens: set http.tokens, or bind to 127.0.0.1." in result.stderr


def test_the_web_page_in_a_real_browser(server: HttpServer, clip: sample.SampleTalk) -> None:
    from support.daemons import remux

    ARTIFACTS.mkdir(exist_ok=True)
    # its own bytes: the other tests' uploads of the clip share this server's index
    video = remux(clip.video, server.root / "from the browser.mp4", "browser")
    with browser_page(1000, 1400) as (page, problems):
        page.goto(server.url + "/")
        assert "strict" not in page.content()  # the page came from the app
        page.set_input_files("#file", str(video))
        page.set_input_files("#transcript", str(clip.srt))
        page.click("#send")
        page.wait_for_selector("#token:not([hidden])")  # the server asks for its token once
        page.fill("#token-value", TOKEN)
        page.click("#token-save")
        card = page.locator("article.job", has_text="from the browser.mp4").first
        page.wait_for_function(
            """() => [...document.querySelectorAll('article.job')].some(a =>
                 a.textContent.includes('from the browser.mp4')
                 && a.querySelector('progress').value > 0.1)""", timeout=90_000)
        link = card.locator("a.video[download][href]").element_handle(timeout=180_000)
        href = link.get_attribute("href")
        page.wait_for_function(
            "() => { const img = document.querySelector('.preview'); return !img || img.complete; }"
        )
        page.screenshot(path=str(ARTIFACTS / "web-finished.png"), full_page=True)
    assert href and href.startswith(server.url + "/d/")
    assert httpx.get(href, timeout=30).headers["content-type"] == "video/mp4"
    assert [p for p in problems if "401" not in p] == []


def test_mcp_over_stdio_and_over_http(
    server: HttpServer, finished: dict[str, Any], clip: sample.SampleTalk, tmp_path: Path
) -> None:
    from mcp.client.session import ClientSession
    from mcp.client.stdio import StdioServerParameters, stdio_client

    root = tmp_path / "mcp"
    root.mkdir()
    config = daemon_config(root, "mcp", mcp={"allowed_roots": [str(clip.video.parent)]})

    async def over_stdio() -> tuple[list[str], dict[str, Any], dict[str, Any], str, Any]:
        params = StdioServerParameters(
            command=sys.executable, args=["-m", "presgend", "mcp", "--config", str(config)],
            cwd=str(root),
        )  # fmt: skip
        async with stdio_client(params) as (read, write), ClientSession(read, write) as session:
            await session.initialize()
            names = sorted(t.name for t in (await session.list_tools()).tools)
            outside = await session.call_tool("submit_file", {"path": "/etc/hostname"})
            submitted = await session.call_tool("submit_file", {"path": str(clip.video)})
            job = json.loads(submitted.content[0].text)  # type: ignore[union-attr]
            deadline = time.monotonic() + 180
            while True:
                result = await session.call_tool("job_status", {"job_id": job["job_id"]})
                status = json.loads(result.content[0].text)  # type: ignore[union-attr]
                if status["status"] in ("ok", "failed") or time.monotonic() > deadline:
                    break
                await asyncio.sleep(0.5)
            report = await session.call_tool("get_report", {"job_id": job["job_id"]})
            edited = await edit_over_mcp(session, job["job_id"])
            text = outside.content[0].text  # type: ignore[union-attr]
            return names, status, json.loads(report.content[0].text), text, edited  # type: ignore[union-attr]

    async def edit_over_mcp(session: Any, job_id: str) -> dict[str, Any]:
        """An assistant fixes a slide: the edit document, a bad edit refused in its
        words, the good one rendered as version 2."""
        got = await session.call_tool("get_edit", {"job_id": job_id})
        doc = json.loads(got.content[0].text)
        doc["slides"][0]["title"] = ""
        bad = await session.call_tool("submit_edit", {"job_id": job_id, "edit": doc})
        assert bad.is_error and "Slide 1 has no title." in bad.content[0].text
        doc["slides"][0]["title"] = "Fixed by an Assistant"
        sent = await session.call_tool("submit_edit", {"job_id": job_id, "edit": doc})
        assert not sent.is_error, sent.content
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            result = await session.call_tool("job_status", {"job_id": job_id})
            status: dict[str, Any] = json.loads(result.content[0].text)
            if status["status"] == "ok" and status.get("version") == 2:
                return status
            await asyncio.sleep(0.5)
        raise AssertionError(f"no version 2: {status}")

    names, status, report, refused, edited = asyncio.run(over_stdio())
    assert names == ["approve", "doctor", "get_edit", "get_report", "job_status", "list_jobs",
                     "plan", "submit_edit", "submit_file"]  # fmt: skip
    assert edited["links"]["video"] and edited["version"] == 2
    assert "outside the folders presgend may read" in refused
    assert status["status"] == "ok", status
    assert report["output"]["video"].endswith("clip.mp4")
    assert valid_video(Path(report["output"]["video"])) == ""
    assert clip.video.exists()  # submitted by path: copied, never moved

    async def over_http() -> tuple[list[str], dict[str, Any]]:
        import httpx2
        from mcp.client.streamable_http import streamable_http_client

        async with (
            httpx2.AsyncClient(headers=server.auth, timeout=30) as client,
            streamable_http_client(f"{server.url}/mcp/", http_client=client) as streams,
            ClientSession(streams[0], streams[1]) as session,
        ):
            await session.initialize()
            names = sorted(t.name for t in (await session.list_tools()).tools)
            result = await session.call_tool("job_status", {"job_id": finished["job_id"]})
            return names, json.loads(result.content[0].text)  # type: ignore[union-attr]

    names, status = asyncio.run(over_http())
    assert "submit_file" in names
    assert status["status"] == "ok" and status["links"]["video"].startswith(server.url + "/d/")
    assert httpx.post(f"{server.url}/mcp/", json={}).status_code == 401


def test_another_daemon_on_the_inbox_runs_an_upload_and_the_status_follows(
    tmp_path: Path, clip: sample.SampleTalk
) -> None:
    from support.daemons import DaemonProcess

    # the front's breaker never admits a job, so the other daemon on the inbox takes it
    front = HttpServer(tmp_path, tokens=[], breaker={"cpu_percent": 0.1, "cooldown_seconds": 600})
    worker = DaemonProcess(tmp_path, "worker")
    try:
        files = {"file": ("shared.mp4", clip.video.read_bytes()),
                 "transcript": ("shared.srt", clip.srt.read_bytes())}  # fmt: skip
        response = httpx.post(f"{front.url}/api/jobs", files=files)  # loopback: no token
        assert response.status_code == 202
        job_id = response.json()["job_id"]
        seen = set()

        def finished() -> Any:
            status = httpx.get(f"{front.url}/api/jobs/{job_id}").json()
            seen.add(status["status"])
            return status if status["status"] in ("ok", "failed") else None

        status = poll_until(finished, 120, "the shared upload's end", every=0.2)
        assert status["status"] == "ok" and "running" in seen
        assert [e["input"] for e in worker.events("input_claimed")] == ["shared.mp4"]
        assert [e["job_id"] for e in worker.events("input_claimed")] == [job_id]
        assert httpx.get(status["links"]["video"]).headers["content-type"] == "video/mp4"
    finally:
        assert worker.stop() == 0
        assert front.stop() == 0


def test_an_upload_s_outputs_expire_with_its_links(tmp_path: Path, clip: sample.SampleTalk) -> None:
    front = HttpServer(tmp_path, tokens=[], link_ttl_hours=3 / 3600)  # three seconds
    try:
        response = httpx.post(
            f"{front.url}/api/jobs",
            files={"file": ("brief.mp4", clip.video.read_bytes()),
                   "transcript": ("brief.srt", clip.srt.read_bytes())},
        )  # fmt: skip
        job_id = response.json()["job_id"]
        status = front.wait(job_id, 120)
        assert status["status"] == "ok"
        link = status["links"]["video"]
        assert "brief.mp4" in visible(tmp_path / "outbox")
        expired = front.wait(job_id, 60, until=("expired",))  # housekeeping deleted them
        assert expired["message"] == "The job's outputs have expired and were deleted."
        assert not [n for n in visible(tmp_path / "outbox") if n.startswith("brief")]
        assert httpx.get(link).status_code == 410
        events = [json.loads(line) for line in (tmp_path / "logs-srv" / "presgend.jsonl")
                  .read_text().splitlines() if "output_expired" in line]  # fmt: skip
        assert events and events[0]["job_id"] == job_id
    finally:
        assert front.stop() == 0


def test_a_queued_upload_can_be_cancelled_and_parts_must_fit(
    tmp_path: Path, clip: sample.SampleTalk
) -> None:
    # the breaker never admits a job here, so the upload stays queued in the inbox
    front = HttpServer(tmp_path, tokens=[], breaker={"cpu_percent": 0.1, "cooldown_seconds": 600})
    try:
        wrong = httpx.post(
            f"{front.url}/api/jobs",
            files={"file": ("talk.mp4", clip.video.read_bytes()), "picture": ("me.png", b"x")},
        )
        assert wrong.status_code == 415
        assert wrong.json()["error"] == "A picture goes with a script, a transcript with a video."
        notes = b"Solar panels turn sunlight into electricity."
        files = {"file": ("waiting.mp4", clip.video.read_bytes()),
                 "transcript": ("notes.txt", notes)}  # fmt: skip
        job_id = httpx.post(f"{front.url}/api/jobs", files=files).json()["job_id"]
        assert front.wait(job_id, 30, until=("queued",))["status"] == "queued"
        cancel = httpx.delete(f"{front.url}/api/jobs/{job_id}")
        assert cancel.json()["cancel"] == "cancelled"
        status = httpx.get(f"{front.url}/api/jobs/{job_id}").json()
        assert status["status"] == "failed" and status["error"] == "The job was cancelled."
        failed = visible(tmp_path / "failed")
        assert {"waiting.mp4", "waiting.transcript.txt", "waiting.error.json"} <= set(failed)
        assert not [n for n in visible(tmp_path / "inbox") if n.startswith("waiting")]
    finally:
        assert front.stop() == 0


def test_a_job_running_on_another_daemon_is_cancelled_through_any_front(
    tmp_path: Path, talk: sample.SampleTalk
) -> None:
    from support.daemons import DaemonProcess

    front = HttpServer(tmp_path, tokens=[], breaker={"cpu_percent": 0.1, "cooldown_seconds": 600})
    worker = DaemonProcess(tmp_path, "worker", output={"quality": "standard"})
    try:
        files = {"file": ("far.mp4", talk.video.read_bytes()),
                 "transcript": ("far.srt", talk.srt.read_bytes())}  # fmt: skip
        job_id = httpx.post(f"{front.url}/api/jobs", files=files).json()["job_id"]
        front.wait(job_id, 60, until=("running",))  # on the worker, seen through its state
        cancel = httpx.delete(f"{front.url}/api/jobs/{job_id}")
        assert cancel.status_code == 202 and cancel.json()["cancel"] == "requested"
        status = front.wait(job_id, 60)
        assert status["status"] == "failed" and status["error"] == "The job was cancelled."
        assert worker.events("cancel_filed")
        assert "far.mp4" in visible(tmp_path / "failed")
        assert not [n for n in visible(tmp_path / "outbox") if n.startswith("far")]
    finally:
        assert worker.stop() == 0
        assert front.stop() == 0


def test_the_edit_endpoints_answer_each_mistake_in_words(
    server: HttpServer, finished: dict[str, Any]
) -> None:
    """The edit API without a browser: the document, a bad edit refused with every
    problem (nothing handed in), an approval of a job not held, the slide picture and the
    recording's frame the editor draws on."""
    job = finished["job_id"]
    api = f"/api/jobs/{job}"
    assert httpx.get(server.url + api + "/edit", timeout=30).status_code == 401
    doc = server.client.get(api + "/edit").json()
    assert doc["job_id"] == job and doc["slides"] and doc["version"] == 1
    assert doc["input"]["width"] > 0 and doc["input"]["height"] > 0
    bad = json.loads(json.dumps(doc))
    bad["slides"][0]["title"] = " "
    bad["slides"][-1]["start_s"] = doc["input"]["duration_s"] + 5
    answer = server.client.put(api + "/edit", json=bad)
    assert answer.status_code == 422, answer.text
    problems = answer.json()["problems"]
    assert "Slide 1 has no title." in problems and len(problems) >= 2, problems
    assert server.client.put(api + "/edit", content=b"{not json").status_code == 400
    held = server.client.post(api + "/approve")
    assert held.status_code == 409 and "not waiting for review" in held.json()["error"]
    assert server.client.get("/api/jobs/nosuchjob/edit").status_code == 404
    assert server.client.get(api).json()["status"] == "ok"  # nothing was handed in
    picture = server.client.post(
        api + "/slide", json={"slide": {"title": "A Title Typed Now", "bullets": [{"text": "one"}]},
                              "index": 0, "total": 3, "theme": "dark"})  # fmt: skip
    assert picture.status_code == 200 and picture.content.startswith(b"\x89PNG")
    wrong_theme = server.client.post(api + "/slide", json={"slide": doc["slides"][0], "theme": "x"})
    assert wrong_theme.status_code == 422
    frame = server.client.get(api + "/frame", params={"t": 1.0})
    assert frame.status_code == 200 and frame.content.startswith(b"\xff\xd8")


def test_the_editor_in_a_real_browser(server: HttpServer, talk: sample.SampleTalk) -> None:
    """As a presenter fixing a video before a meeting: open the finished job's editor,
    rename a title, drag the second slide's marker later, render, and the new version
    plays with the new title from the new time."""
    from support.daemons import remux

    made = server.upload(remux(talk.video, server.root / "edit-me.mp4", "edit"), "edit me.mp4",
                         transcript=talk.srt)  # fmt: skip
    job_id = made.json()["job_id"]
    poll_until(lambda: server.client.get(f"/api/jobs/{job_id}").json()["status"] == "ok", 120,
               "the job to finish")  # fmt: skip
    first = server.client.get(f"/api/jobs/{job_id}").json()
    before = first["report"]
    assert len(before["slides"]) >= 2
    (server.root / "v1.mp4").write_bytes(httpx.get(first["links"]["video"], timeout=30).content)
    doc = server.client.get(f"/api/jobs/{job_id}/edit").json()
    last = doc["slides"][-1]
    end = doc["input"]["duration_s"]
    nudge = min(1.0, end - 0.6 - last["bullets"][-1]["at_s"])  # the last bullet, later
    assert nudge > 0.3, "the talk leaves room to move its last bullet"
    ARTIFACTS.mkdir(exist_ok=True)
    with browser_page(1100, 1500) as (page, problems):
        page.goto(server.url + "/")
        page.wait_for_selector("#token:not([hidden])")
        page.fill("#token-value", TOKEN)
        page.click("#token-save")
        card = page.locator("article.job", has_text="edit me.mp4").first
        card.locator("button.edit").click()
        title = card.locator(".editor fieldset.slide").nth(0).locator("input.title")
        title.fill("Renamed in the Browser")
        page.wait_for_function(  # the slide as it will look, drawn as it was typed
            "() => (document.querySelector('.slide-picture') || {}).naturalWidth > 0")
        marker = card.locator(".timeline .marker.slide").nth(1)
        marker.scroll_into_view_if_needed()
        box = marker.bounding_box()
        line = card.locator(".timeline").bounding_box()
        assert box and line
        shift = line["width"] / before["output"]["duration_s"] * 1.5  # 1.5 s later
        page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
        page.mouse.down()
        page.mouse.move(box["x"] + box["width"] / 2 + shift, box["y"] + box["height"] / 2, steps=8)
        page.mouse.up()
        bullet = card.locator(".timeline .marker.bullet").last
        bullet.scroll_into_view_if_needed()
        box = bullet.bounding_box()
        assert box
        y = box["y"] + box["height"] / 2
        page.mouse.move(box["x"] + box["width"] / 2, y)
        page.mouse.down()
        page.mouse.move(box["x"] + box["width"] / 2 + line["width"] / end * nudge, y, steps=8)
        page.mouse.up()
        page.reload()  # unrendered edits survive a reload (the token stays in the tab)
        card = page.locator("article.job", has_text="edit me.mp4").first
        card.locator("button.edit").click()
        page.wait_for_selector(".editor .restored:not([hidden])")
        assert card.locator(".editor input.title").nth(0).input_value() == "Renamed in the Browser"
        page.screenshot(path=str(ARTIFACTS / "web-editor.png"), full_page=True)
        card.locator("button.render").click()
        page.wait_for_function(
            "() => /Version 2 is out/.test(document.querySelector('.render-status').textContent)",
            timeout=120_000,
        )
        page.screenshot(path=str(ARTIFACTS / "web-editor-rendered.png"), full_page=True)
        href = card.locator("a.video").get_attribute("href")
    assert [p for p in problems if "401" not in p] == []
    after = server.client.get(f"/api/jobs/{job_id}").json()
    assert after["version"] == 2 and after["report"]["edit"]["slides"][:1] == [0]
    slides = after["report"]["slides"]
    assert slides[0]["title"] == "Renamed in the Browser"
    moved = slides[1]["start_s"] - before["slides"][1]["start_s"]
    assert 1.0 < moved < 2.0, moved
    later = slides[-1]["bullet_starts"][-1] - before["slides"][-1]["bullet_starts"][-1]
    assert nudge - 0.35 < later < nudge + 0.35, (later, nudge)
    assert href
    (server.root / "v2.mp4").write_bytes(httpx.get(href, timeout=30).content)
    assert valid_video(server.root / "v2.mp4") == ""
    # what a viewer sees: the slide half changes at the new times, not the old ones, and
    # the first slide (renamed) looks different while the rest of the talk is as it was
    old, new = changes_of(server.root / "v1.mp4"), changes_of(server.root / "v2.mp4")
    for was, now in ((before["slides"][1]["start_s"], slides[1]["start_s"]),
                     (before["slides"][-1]["bullet_starts"][-1] + 0.1,
                      slides[-1]["bullet_starts"][-1] + 0.1)):  # fmt: skip
        assert [t for t in new if abs(t - now) < 0.4], (now, new)
        assert not [t for t in new if abs(t - was) < 0.25], (was, new)
        assert [t for t in old if abs(t - was) < 0.4], (was, old)
    half = "iw/2:ih:iw/2:0"
    one, two = (gray_frames(server.root / v, half, (64, 72), 2) for v in ("v1.mp4", "v2.mp4"))
    assert float(abs(one[1].astype(int) - two[1].astype(int)).mean()) > 2, "the new title"


def test_a_draft_held_for_review_is_shown_then_approved_with_an_edit(
    tmp_path: Path, clip: sample.SampleTalk
) -> None:
    """With `[review] hold` an upload stops at its draft: the deck, the preview sheet and
    the edit document are links, there is no video; approving it with an edit renders it
    as edited, once, and the job is then an ordinary finished one."""
    srv = HttpServer(tmp_path, toml="[review]\nhold = true\n")
    try:
        job = srv.upload(clip.video, "held.mp4", transcript=clip.srt).json()["job_id"]

        def held() -> dict[str, Any] | None:
            got: dict[str, Any] = srv.client.get(f"/api/jobs/{job}").json()
            return got if got["status"] == "awaiting_review" else None

        status = poll_until(held, 120, "the draft")
        assert "links" not in status, "no video before it is approved"
        assert {"edit", "pptx", "preview"} <= set(status["draft"]), status["draft"]
        assert httpx.get(status["draft"]["preview"], timeout=30).content.startswith(b"\xff\xd8")
        doc = srv.client.get(status["edit_url"]).json()
        doc["slides"][0]["title"] = "Approved With a Better Title"
        answer = srv.client.post(f"/api/jobs/{job}/approve", json=doc)
        assert answer.status_code == 202 and answer.json()["version"] == 1, answer.text

        def done() -> dict[str, Any] | None:
            got: dict[str, Any] = srv.client.get(f"/api/jobs/{job}").json()
            return got if got["status"] == "ok" else None

        final = poll_until(done, 120, "the approved video")
        assert final["report"]["slides"][0]["title"] == "Approved With a Better Title"
        assert httpx.get(final["links"]["video"], timeout=30).headers["content-type"] == "video/mp4"
        again = srv.client.post(f"/api/jobs/{job}/approve")
        assert again.status_code == 409  # approved once
    finally:
        assert srv.stop() == 0
