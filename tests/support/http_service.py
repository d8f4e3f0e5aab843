"""`presgend serve` in a subprocess, and a client that uploads to it and follows jobs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx

from .cli import start
from .daemons import daemon_config
from .ports import free_port
from .waiting import poll_until

TOKEN = "test-token-0123456789"


class HttpServer:
    """`presgend serve` in a subprocess, with its folders under `root`."""

    def __init__(
        self,
        root: Path,
        breaker: dict[str, Any] | None = None,
        queue: dict[str, Any] | None = None,
        toml: str = "",
        **http: Any,
    ) -> None:
        self.root = root
        self.port = free_port()
        settings = {"tokens": [TOKEN], "max_upload_mb": 20, **http, "port": self.port}
        extra = {"breaker": breaker} if breaker else {}
        if queue:
            extra["queue"] = queue
        self.config = daemon_config(
            root, "srv", toml, http=settings, mcp={"allowed_roots": [str(root)]}, **extra
        )
        (root / "srv.stderr").write_text("")
        self.proc = start(["serve", "--config", str(self.config)], root, root / "srv.stderr")
        self.url = f"http://127.0.0.1:{self.port}"
        self.client = httpx.Client(base_url=self.url, headers=self.auth, timeout=30)
        poll_until(self.answers, 30, "the server's first answer")

    def answers(self) -> bool:
        assert self.proc.poll() is None, (self.root / "srv.stderr").read_text()
        try:
            return httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {TOKEN}"}

    def upload(
        self,
        path: Path,
        name: str | None = None,
        fields: dict[str, str] | None = None,
        **extra: Path,
    ) -> httpx.Response:
        """`path` as the `file` part, `extra` as more file parts (a transcript), `fields`
        as plain form fields (a preset)."""
        files: dict[str, Any] = {"file": (name or path.name, path.read_bytes())}
        for field, side in extra.items():
            files[field] = (side.name, side.read_bytes())
        return self.client.post("/api/jobs", files=files, data=fields or {})

    def wait(self, job_id: str, timeout: float = 180, until: tuple[str, ...] = ()) -> Any:
        until = until or ("ok", "failed", "duplicate")

        def reached() -> Any:
            status = self.client.get(f"/api/jobs/{job_id}").json()
            if status["status"] in until:
                return status
            assert self.proc.poll() is None, "the server exited"
            return None

        return poll_until(reached, timeout, f"job {job_id} reaching {until}", every=0.2)

    def stop(self) -> int:
        self.client.close()
        self.proc.terminate()
        rc = self.proc.wait(60)
        return rc
