"""Uploads as they arrive: a multipart body parsed as it streams in, each file part
written straight to disk and the whole refused as soon as it passes the size limit; the
optional parts checked as sidecars of the main file.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from presgend.core import inputs
from presgend.core.config import Config
from presgend.fronts import handin

if TYPE_CHECKING:
    from python_multipart.multipart import MultipartCallbacks


class UploadTooLarge(Exception):
    pass


class BadUpload(Exception):
    pass


@dataclass
class Part:
    name: str = ""
    filename: str | None = None
    path: Path | None = None
    handle: Any = None
    size: int = 0
    text: bytearray = field(default_factory=bytearray)


class _Parts:
    """The multipart parser's callbacks: headers gathered, file parts written to `folder`."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.parts: dict[str, Part] = {}
        self.current = Part()
        self.field, self.value = bytearray(), bytearray()
        self.headers: dict[str, bytes] = {}

    def callbacks(self) -> MultipartCallbacks:
        return {
            "on_header_field": lambda data, start, end: self.field.extend(data[start:end]),
            "on_header_value": lambda data, start, end: self.value.extend(data[start:end]),
            "on_header_end": self.header_end,
            "on_headers_finished": self.headers_finished,
            "on_part_data": self.part_data,
            "on_part_end": self.part_end,
        }

    def header_end(self) -> None:
        self.headers[self.field.decode("latin-1").lower()] = bytes(self.value)
        self.field.clear()
        self.value.clear()

    def headers_finished(self) -> None:
        from python_multipart.multipart import parse_options_header

        _, disposition = parse_options_header(self.headers.get("content-disposition", b""))
        name = disposition.get(b"name", b"").decode("utf-8", "replace")
        filename = disposition.get(b"filename")
        self.current = Part(name=name)
        if filename is not None:
            self.current.filename = filename.decode("utf-8", "replace")
            self.current.path = self.folder / f"part-{len(self.parts)}"
            self.current.handle = self.current.path.open("wb")
        self.headers.clear()

    def part_data(self, data: bytes, start: int, end: int) -> None:
        current = self.current
        current.size += end - start
        if current.handle is not None:
            current.handle.write(data[start:end])
        elif len(current.text) < 4096:
            current.text.extend(data[start:end])

    def part_end(self) -> None:
        self.close()
        if self.current.name and self.current.name not in self.parts:
            self.parts[self.current.name] = self.current

    def close(self) -> None:
        if self.current.handle is not None:
            self.current.handle.close()
            self.current.handle = None


async def receive(
    stream: AsyncIterator[bytes], content_type: str, folder: Path, limit: int
) -> dict[str, Part]:
    """Parse a multipart body as it arrives, each file part written straight to
    `folder`; UploadTooLarge as soon as the body passes `limit` bytes."""
    from python_multipart.multipart import MultipartParser, parse_options_header

    _, params = parse_options_header(content_type)
    boundary = params.get(b"boundary")
    if not boundary:
        raise BadUpload("The upload must be multipart/form-data with a `file` field.")
    sink = _Parts(folder)
    parser = MultipartParser(boundary, callbacks=sink.callbacks())
    received = 0
    try:
        async for chunk in stream:
            received += len(chunk)
            if received > limit:
                raise UploadTooLarge()
            parser.write(chunk)
        parser.finalize()
    finally:
        sink.close()
    return sink.parts


def text(parts: dict[str, Part], name: str) -> str:
    """A short text field's value ("" when it is not there)."""
    part = parts.get(name)
    return bytes(part.text).decode("utf-8", "replace").strip() if part is not None else ""


def too_large(config: Config) -> str:
    return f"The upload is larger than the {config.http.max_upload_mb} MB this server accepts."


def sidecars(parts: dict[str, Any], name: str) -> dict[str, Path] | str:
    """The optional parts as sidecar files keyed by suffix, or the sentence saying why
    one cannot go with this main file. A deck goes with either: a video shows it (a PDF
    or a PowerPoint file), a script narrates it (a PDF)."""
    script = inputs.reported_kind(name) == "script"
    deck = (inputs.PDF_SUFFIX,) if script else (inputs.PDF_SUFFIX, inputs.DECK_SUFFIX)
    wanted = {"transcript": (".srt", ".vtt", ".txt"), "picture": inputs.IMAGE_SUFFIXES,
              "deck": deck}  # fmt: skip
    out: dict[str, Path] = {}
    for field_name, suffixes in wanted.items():
        part = parts.get(field_name)
        if part is None or part.path is None or part.size == 0:
            continue
        if field_name != "deck" and script != (field_name == "picture"):
            return "A picture goes with a script, a transcript with a video."
        given = handin.safe_name(part.filename or "", field_name).lower()
        suffix = next((s for s in suffixes if given.endswith(s)), "")
        if not suffix:
            return f"The {field_name} must end in one of: {' '.join(suffixes)}."
        out[".transcript.txt" if suffix == ".txt" else suffix] = part.path
    return out
