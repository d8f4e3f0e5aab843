"""The optional language-model writer (`[summary] engine = "openai"`): its answers pass
the extractive writer's fact checks or the slide stays extractive, a dead or silent
server costs at most `summary.timeout_seconds`, and the key comes from the environment.
The server is a real HTTP process the tests start (tests/support/llm.py), with canned
answers: faithful, corrupted, silent and prose. No model is downloaded."""

from __future__ import annotations

import asyncio
import json
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from support import standins
from support.cli import cli, write_config
from support.llm import corrupted
from support.talks import PITCH, flatten

from presgend.core import config
from presgend.ops import sample
from presgend.pipeline.text import summarize, writer
from presgend.pipeline.text.summarize import Section, Sentence


def pitch_sections() -> list[Section]:
    texts = flatten(PITCH)
    sentences = [Sentence(t, 4.0 * k, 4.0 * k + 3.5, k) for k, t in enumerate(texts)]
    return summarize.sections_from(sentences, 4.0 * len(texts), 5, "en")


def summary_config(url: str, **more: object) -> config.SummaryConfig:
    values = {"engine": "openai", "base_url": url, "model": "test-model", **more}
    return config.from_dict({"summary": values}).summary


@pytest.fixture
def llm(tmp_path: Path) -> Iterator[Callable[[str], tuple[str, Path]]]:
    """Start the stand-in server in a mode: (its base URL, its request log)."""
    started: list[subprocess.Popen[str]] = []

    def start(mode: str) -> tuple[str, Path]:
        log = tmp_path / f"{mode}.requests.jsonl"
        proc, port = standins.start("llm.py", "--mode", mode, "--log", str(log))
        started.append(proc)
        return f"http://127.0.0.1:{port}/v1", log

    yield start
    standins.stop(started)


def _requests(log: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []


# --- the checks, without a server ---------------------------------------------------------


def _section() -> Section:
    return next(s for s in pitch_sections() if any("240 clinics" in x.text for x in s.sentences))


def test_a_faithful_rewording_is_accepted_and_timed_by_its_sentences() -> None:
    section = _section()
    draft = writer.Draft("Traction since launch", [
        "Monthly revenue grew forty percent last quarter",
        "240 clinics served across three states",
    ])  # fmt: skip
    got = writer.accepted(section, draft)
    assert got.title == "Traction Since Launch"  # the deck's case style
    assert got.bullets == [  # in the order they were said
        "240 clinics served across three states",
        "Monthly revenue grew forty percent last quarter",
    ]
    by_text = {s.text: s for s in section.sentences}
    serve = by_text["We now serve 240 clinics across three states."]
    assert got.sources[0] == serve.source
    assert got.bullet_starts[0] == max(section.start, serve.start)
    assert serve.source not in got.omitted and got.omitted  # the rest listed as not shown


@pytest.mark.parametrize(
    ("title", "bullets", "reason"),
    [
        ("Traction", ["We now serve 420 clinics across three states"], "420 is not in"),
        ("Traction", ["Monthly revenue grew fourteen percent last quarter"], "14% is not in"),
        (
            "Traction",
            ["Our head of sales signed our first hospital group in October"],
            "the name lopez is left out",
        ),
        (
            "Traction",
            ["Maria Lopez of ShiftWise signed a hospital group in October"],
            "shiftwise is not in what was said",
        ),
        ("Traction", ["Maria Lopez signed our first hospital group to"], "mid-sentence"),
        ("Traction", ["Investors should move quickly"], "no sentence says"),
        ("Traction at Zyntra", ["We now serve 240 clinics across three states"], "zyntra"),
        ("Traction", [], "0 bullets"),
    ],
)
def test_an_answer_that_breaks_a_fact_is_refused_with_the_reason(
    title: str, bullets: list[str], reason: str
) -> None:
    with pytest.raises(writer.Refused, match=reason):
        writer.accepted(_section(), writer.Draft(title, bullets))


def test_a_list_that_loses_an_item_is_refused() -> None:
    agenda = pitch_sections()[0]
    draft = writer.Draft("Agenda", ["I will cover the problem, our product and our ask"])
    with pytest.raises(writer.Refused, match="list lost 1 of its 4 items"):
        writer.accepted(agenda, draft)


def test_answers_are_read_from_fenced_json_and_prose_is_refused() -> None:
    def completion(content: str) -> bytes:
        return json.dumps({"choices": [{"message": {"content": content}}]}).encode()

    draft = writer.parse_answer(completion('```json\n{"title": "Hi", "bullets": ["- A b"]}\n```'))
    assert draft == writer.Draft("Hi", ["A b"])
    with pytest.raises(writer.Refused, match="not the JSON slide"):
        writer.parse_answer(completion("Sure! Here are your slides."))
    with pytest.raises(writer.Refused, match="chat completion"):
        writer.parse_answer(b"<html>502 Bad Gateway</html>")


def test_the_config_takes_a_variable_name_never_a_key() -> None:
    with pytest.raises(config.ConfigError, match="api_key_env must name"):
        config.from_dict({"summary": {
            "engine": "openai", "base_url": "http://x/v1", "model": "m",
            "api_key_env": "sk-abc123-secret",
        }})  # fmt: skip
    with pytest.raises(config.ConfigError, match=r"needs summary\.base_url"):
        config.from_dict({"summary": {"engine": "openai"}})


# --- against a real server process ----------------------------------------------------------


def test_a_faithful_server_writes_every_slide_with_the_key_from_the_environment(
    llm: Callable[[str], tuple[str, Path]], monkeypatch: pytest.MonkeyPatch
) -> None:
    url, log = llm("faithful")
    monkeypatch.setenv("PRESGEND_TEST_LLM_KEY", "secret-123")
    sections = pitch_sections()
    outcome = asyncio.run(writer.rewrite(
        sections, summary_config(url, api_key_env="PRESGEND_TEST_LLM_KEY")
    ))  # fmt: skip
    assert outcome.written == [True] * len(sections) and outcome.warnings == []
    for before, after in zip(sections, outcome.sections, strict=True):
        said = [s.text.rstrip(".") for s in before.sentences]
        longest = sorted(sorted(said, key=len, reverse=True)[:2], key=said.index)
        assert after.title == "Key Points" and after.bullets == longest
    requests = _requests(log)
    assert len(requests) == len(sections)
    assert all(r["authorization"] == "Bearer secret-123" for r in requests)
    assert all(r["model"] == "test-model" for r in requests)


def test_a_server_that_changes_figures_leaves_those_slides_extractive(
    llm: Callable[[str], tuple[str, Path]],
) -> None:
    url, _ = llm("corrupt")
    sections = pitch_sections()
    outcome = asyncio.run(writer.rewrite(sections, summary_config(url)))
    for before, after, written in zip(sections, outcome.sections, outcome.written, strict=True):
        said = [s.text for s in before.sentences]
        asked = sorted(said, key=len, reverse=True)[:2]
        changed = any(corrupted(t) != t for t in asked)  # a figure in what it echoed
        assert written is not changed, (before.title, asked)
        if not written:
            assert after is before
    assert not all(outcome.written) and any(outcome.written)
    assert any("is not in what was said" in w for w in outcome.warnings), outcome.warnings


def test_a_silent_server_costs_at_most_the_timeout_then_extraction(
    llm: Callable[[str], tuple[str, Path]],
) -> None:
    url, log = llm("silent")
    sections = pitch_sections()
    started = time.monotonic()
    outcome = asyncio.run(writer.rewrite(sections, summary_config(url, timeout_seconds=2.0)))
    assert time.monotonic() - started < 2.0 + 3.0  # the limit, plus a margin for a slow box
    assert outcome.sections == sections and not any(outcome.written)
    assert outcome.warnings == [
        f"Slides {', '.join(str(k) for k in range(1, len(sections)))} and {len(sections)} are "
        "the extractive writer's: the language model did not answer within 2 s."
    ]
    assert len(_requests(log)) == 1  # the later slides were not asked at all


def test_a_dead_server_and_prose_each_get_a_warning(
    llm: Callable[[str], tuple[str, Path]],
) -> None:
    sections = pitch_sections()[:2]
    outcome = asyncio.run(writer.rewrite(sections, summary_config("http://127.0.0.1:9/v1")))
    assert not any(outcome.written)
    assert "could not be reached" in outcome.warnings[0]
    url, _ = llm("prose")
    outcome = asyncio.run(writer.rewrite(sections, summary_config(url)))
    assert not any(outcome.written) and "not the JSON slide" in outcome.warnings[0]


# --- a whole job, and doctor ----------------------------------------------------------------


def _job(talk: sample.SampleTalk, work: Path, **summary: object) -> tuple[dict[str, Any], Path]:
    """`presgend process` on the talk with the writer configured: (report, config)."""
    cfg = write_config({
        "summary": {"engine": "openai", "model": "test-model", **summary},
        "output": {"quality": "draft"}, "paths": {"logs": str(work / "logs")},
    }, work / "presgend.toml")  # fmt: skip
    result = cli("process", str(talk.video), "--outbox", str(work / "out"), "--config", str(cfg))
    assert result.returncode == 0, result.stderr[-2000:]
    return json.loads((work / "out" / f"{talk.video.stem}.report.json").read_text()), cfg


def test_a_job_with_a_silent_server_is_published_with_extractive_slides(
    llm: Callable[[str], tuple[str, Path]], short_talk: sample.SampleTalk, tmp_path: Path
) -> None:
    url, _ = llm("silent")
    report, _ = _job(short_talk, tmp_path, base_url=url, timeout_seconds=2.0)
    assert report["status"] == "ok"
    assert report["summary"]["written_by_model"] == [False] * len(report["slides"])
    assert any("did not answer within 2 s" in w for w in report["warnings"])
    assert all(slide["bullets"] for slide in report["slides"])


def test_a_job_with_a_faithful_server_shows_its_slides(
    llm: Callable[[str], tuple[str, Path]], short_talk: sample.SampleTalk, tmp_path: Path
) -> None:
    url, _ = llm("faithful")
    report, cfg = _job(short_talk, tmp_path, base_url=url)
    assert all(report["summary"]["written_by_model"])
    assert [s["title"] for s in report["slides"]] == ["Key Points"] * len(report["slides"])
    doctor = cli("doctor", "--config", str(cfg))
    assert "summary model" in doctor.stdout and "test-model at" in doctor.stdout, doctor.stdout
