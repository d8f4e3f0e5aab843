"""An optional slide writer: a language model on any OpenAI-compatible server.

With `[summary] engine = "openai"`, each section's sentences go to the server's
`/chat/completions` (Ollama, llama.cpp's `llama-server`, vLLM, or a hosted API) and the
model answers a title and bullets as JSON. A model may write better than extraction,
and it may also invent: so every answer passes the checks the extractive writer's
slides pass (`fidelity.broken`: every figure, link and name with its source's value, no
list item lost, no bullet ending mid-sentence), and a slide whose answer fails, or does
not come, is the extractive writer's, with a warning naming the reason. The whole job
spends at most `summary.timeout_seconds` on the model. The key is read from the
environment variable `summary.api_key_env` names; it is never in the config file.

Requests run in a daemon thread on the standard library's HTTP client: nothing to
install, and a server that never answers cannot keep the process from exiting.
"""

from __future__ import annotations

import asyncio
import http.client
import json
import os
import re
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from presgend.core import aio, logs
from presgend.core.config import SummaryConfig
from presgend.pipeline.text import fidelity, phrases, resentence
from presgend.pipeline.text.summarize import MAX_BULLETS, Section, Sentence, omitted_sources

log = logs.get(__name__)

MAX_ANSWER_BYTES = 1_000_000
LONGEST_BULLET = 25  # words
LONGEST_TITLE = 8
SYSTEM = (
    "You write presentation slides from the transcript of a talk. You get the sentences "
    "spoken while one slide is shown. Answer with one JSON object and nothing else: "
    '{"title": "...", "bullets": ["...", "..."]}. The title has 2 to 6 words. There are '
    f"1 to {MAX_BULLETS} bullets, each one complete point of at most 15 words. Use only what "
    "the sentences say. Keep every number, amount, percentage, date, link, e-mail address "
    "and name exactly as said, and every item of a list. Write in the sentences' language."
)


class Refused(Exception):
    """Why a model's answer for one slide is not used (a clause: "did not answer …")."""


@dataclass(frozen=True)
class Draft:
    title: str
    bullets: list[str]


@dataclass
class Outcome:
    sections: list[Section]
    warnings: list[str]
    written: list[bool]  # each slide: the model's (True) or the extractive writer's
    seconds: float


# --- the job's side -----------------------------------------------------------------------


async def rewrite(
    sections: list[Section],
    cfg: SummaryConfig,
    language: str = "en",
    beat: Callable[[], None] = lambda: None,
) -> Outcome:
    """Each section rewritten by the model where its answer passes the checks."""
    started = time.monotonic()
    deadline = started + cfg.timeout_seconds
    out: list[Section] = []
    warnings: list[str] = []
    written: list[bool] = []
    late: list[int] = []
    for section in sections:
        mine: Section | None = None
        try:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError
            draft = await _waiting(ask(cfg, section.sentences, left), left, beat)
            mine = accepted(section, draft, language)
        except TimeoutError:
            late.append(section.index)
        except Exception as exc:  # the extractive slide stands, whatever went wrong
            why = exc if isinstance(exc, Refused) else f"could not be used ({exc!r})"
            log.info("summary_refused", slide=section.index + 1, reason=str(why))
            warnings.append(
                f"Slide {section.index + 1} is the extractive writer's: the language "
                f"model's answer {why}."
            )
        out.append(mine or section)
        written.append(mine is not None)
    if late:
        which = _slide_numbers(late)
        warnings.append(
            f"{which} {'are' if len(late) > 1 else 'is'} the extractive writer's: the "
            f"language model did not answer within {cfg.timeout_seconds:g} s."
        )
    return Outcome(out, warnings, written, round(time.monotonic() - started, 3))


def _slide_numbers(indices: list[int]) -> str:
    numbers = [str(i + 1) for i in indices]
    if len(numbers) == 1:
        return f"Slide {numbers[0]}"
    return f"Slides {', '.join(numbers[:-1])} and {numbers[-1]}"


async def _waiting(work: Any, limit: float, beat: Callable[[], None]) -> Draft:
    """`work` within `limit` seconds, beating the stall watchdog while it waits (the
    limit, not the watchdog, ends a slow answer)."""
    task = asyncio.ensure_future(work)
    end = time.monotonic() + limit
    try:
        while True:
            left = end - time.monotonic()
            if left <= 0:
                raise TimeoutError
            done, _ = await asyncio.wait({task}, timeout=min(left, 10.0))
            if done:
                return await task  # type: ignore[no-any-return]
            beat()
    finally:
        task.cancel()


# --- asking -------------------------------------------------------------------------------


def request_body(cfg: SummaryConfig, sentences: list[Sentence]) -> dict[str, Any]:
    numbered = "\n".join(f"{k + 1}. {s.text}" for k, s in enumerate(sentences))
    return {
        "model": cfg.model,
        "temperature": 0,
        "response_format": {"type": "json_object"},
        "messages": [
            {"role": "system", "content": SYSTEM},
            {"role": "user", "content": f"Sentences:\n{numbered}\n\nThe slide as JSON:"},
        ],
    }


def headers(cfg: SummaryConfig) -> dict[str, str]:
    found = {"Content-Type": "application/json", "Accept": "application/json"}
    key = os.environ.get(cfg.api_key_env, "") if cfg.api_key_env else ""
    if key:
        found["Authorization"] = f"Bearer {key}"
    return found


async def ask(cfg: SummaryConfig, sentences: list[Sentence], timeout: float) -> Draft:
    url = cfg.base_url.rstrip("/") + "/chat/completions"
    body = json.dumps(request_body(cfg, sentences)).encode()
    answer = await aio.in_thread(lambda: _post(url, body, headers(cfg), timeout))
    return parse_answer(answer)


def _post(url: str, body: bytes, sent: dict[str, str], timeout: float) -> bytes:
    request = urllib.request.Request(url, data=body, headers=sent, method="POST")
    try:
        return fetch(request, timeout)
    except Refused as why:
        raise Refused(f"never came: {why}") from None


def fetch(request: urllib.request.Request, timeout: float) -> bytes:
    """The body of the server's answer; `Refused` saying what went wrong, or
    `TimeoutError`."""
    url = request.full_url
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return bytes(response.read(MAX_ANSWER_BYTES))
    except urllib.error.HTTPError as exc:
        raise Refused(f"{url} answered HTTP {exc.code}") from None
    except urllib.error.URLError as exc:
        if isinstance(exc.reason, TimeoutError):
            raise TimeoutError from None
        raise Refused(f"{url} could not be reached ({exc.reason})") from None
    except TimeoutError:
        raise
    except (OSError, http.client.HTTPException) as exc:
        raise Refused(f"{url} cut the answer off ({type(exc).__name__})") from None


def parse_answer(raw: bytes) -> Draft:
    """The model's JSON slide out of an OpenAI-style chat completion."""
    try:
        content = json.loads(raw)["choices"][0]["message"]["content"]
    except (ValueError, KeyError, IndexError, TypeError):
        raise Refused("was not an OpenAI-style chat completion") from None
    if not isinstance(content, str):
        raise Refused("had no text in it")
    match = re.search(r"\{.*\}", content, re.DOTALL)  # also inside ```json fences
    try:
        slide = json.loads(match.group()) if match else None
    except ValueError:
        slide = None
    if not isinstance(slide, dict):
        raise Refused("was not the JSON slide asked for")
    title, bullets = slide.get("title"), slide.get("bullets")
    if not isinstance(title, str) or not isinstance(bullets, list):
        raise Refused("had no title or no list of bullets")
    if not all(isinstance(b, str) for b in bullets):
        raise Refused("had a bullet that is not text")
    texts = [re.sub(r"\s+", " ", b).strip().lstrip("•-–* ").strip() for b in bullets]
    return Draft(re.sub(r"\s+", " ", title).strip(), [b for b in texts if b])


# --- the checks ---------------------------------------------------------------------------


def accepted(section: Section, draft: Draft, language: str = "en") -> Section:
    """The section with the model's title and bullets, if they pass every check; else
    `Refused` saying which failed."""
    said = " ".join(s.text for s in section.sentences)
    if not draft.title or len(draft.title.split()) > LONGEST_TITLE:
        raise Refused(f'had a title of {len(draft.title.split())} words ("{draft.title}")')
    wrong = fidelity.broken(said, draft.title, title=True) + _names_added(said, draft.title)
    if wrong or fidelity.LINK.search(draft.title):
        raise Refused(f'had the title "{draft.title}", which {(wrong or ["is a link"])[0]}')
    if not 1 <= len(draft.bullets) <= MAX_BULLETS:
        raise Refused(f"had {len(draft.bullets)} bullets (1 to {MAX_BULLETS} fit a slide)")
    placed: list[tuple[str, Sentence]] = []
    for bullet in draft.bullets:
        source = _source(bullet, section.sentences)
        wrong = _bullet_problems(bullet, source, said)
        if wrong:
            raise Refused(f'had the bullet "{bullet}", where {wrong[0]}')
        assert source is not None
        placed.append((bullet.rstrip("."), source))
    placed.sort(key=lambda pair: pair[1].start)
    start = section.start
    return Section(
        index=section.index,
        title=phrases.title_case(draft.title.rstrip("."), language),
        bullets=[b for b, _ in placed],
        start=start,
        end=section.end,
        sentences=section.sentences,
        bullet_starts=[max(start, s.start) for _, s in placed],
        sources=[s.source for _, s in placed],
        omitted=omitted_sources(section.sentences, [s for _, s in placed]),
    )


def _source(bullet: str, sentences: list[Sentence]) -> Sentence | None:
    """The sentence a bullet says most of (content words in common), if any."""
    words = fidelity.stems(bullet)
    scored = [(len(words & fidelity.stems(s.text)), -k, s) for k, s in enumerate(sentences)]
    best = max(scored, key=lambda t: (t[0], t[1]), default=None)
    return best[2] if best and best[0] > 0 else None


def _bullet_problems(bullet: str, source: Sentence | None, said: str) -> list[str]:
    """What a bullet gets wrong: a fact of its sentence lost or changed, or a figure,
    link or name its slide's sentences never state, or an unfinished sentence."""
    if source is None:
        return ["no sentence says what it says"]
    if len(bullet.split()) > LONGEST_BULLET:
        return [f"it has {len(bullet.split())} words"]
    last = resentence.bare(bullet.split()[-1])
    if last in resentence.NEVER_LAST:
        return [f'it stops mid-sentence, on "{last}"']
    lost = [p for p in fidelity.broken(source.text, bullet) if "not in the source" not in p]
    added = [p for p in fidelity.broken(said, bullet) if "not in the source" in p]
    return [p.replace("the source", "what was said") for p in added] + lost


def _names_added(said: str, title: str) -> list[str]:
    """Names in a title that its sentences never say. A title is in Title Case, so a
    capitalised word the word list knows in lower case ("Opportunity") is no name."""
    spoken = fidelity.words(said)
    plain = resentence.word_list().plain
    return [f"the name {name} is not in what was said" for name in sorted(fidelity.names(title))
            if name not in spoken and name not in plain]  # fmt: skip


# --- doctor -------------------------------------------------------------------------------


def check_endpoint(cfg: SummaryConfig, timeout: float = 5.0) -> tuple[bool, str]:
    """Whether the server answers `GET /models` and lists the model; for `doctor`."""
    url = cfg.base_url.rstrip("/") + "/models"
    try:
        listed = json.loads(fetch(urllib.request.Request(url, headers=headers(cfg)), timeout))
    except Refused as why:
        return False, str(why)
    except TimeoutError:
        return False, f"{url} did not answer within {timeout:g} s"
    except ValueError:
        return False, f"{url} did not answer JSON"
    models = [m.get("id") for m in listed.get("data", []) if isinstance(m, dict)]
    if cfg.model not in models:
        return False, f"{url} answers, but does not list the model {cfg.model!r}"
    return True, f"{cfg.model} at {cfg.base_url}"
