"""The house rules of the package layout, read from the import graph: `core` imports
nothing above it, the pipeline imports only `core` and itself (it never reaches the
daemon, the backends or the fronts), and the daemon never imports a front. Imports inside
functions count too."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "presgend"


def imports() -> dict[str, set[str]]:
    """Each presgend module and the presgend modules it imports."""
    graph: dict[str, set[str]] = {}
    for path in PACKAGE.rglob("*.py"):
        name = ".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        name = name.removesuffix(".__init__")
        found: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                if node.module.startswith("presgend"):
                    found |= {f"{node.module}.{a.name}" for a in node.names}
            elif isinstance(node, ast.Import):
                found |= {a.name for a in node.names if a.name.startswith("presgend")}
        graph[name] = found
    return graph


def _breaks(layer: str, allowed: tuple[str, ...]) -> list[str]:
    graph = imports()
    modules = set(graph)
    broken = []
    for module, targets in sorted(graph.items()):
        if not module.startswith(layer):
            continue
        for target in sorted(targets):
            # "from presgend.core import config" names a module; "from x import f" a name
            real = target if target in modules else target.rsplit(".", 1)[0]
            if real not in ("presgend",) and not real.startswith(allowed):
                broken.append(f"{module} imports {real}")
    return broken


def test_the_graph_is_read() -> None:
    graph = imports()
    assert "presgend.pipeline.job" in graph and "presgend.core.config" in graph
    assert "presgend.core.errors.JobError" in graph["presgend.pipeline.job"]
    assert "presgend.ops.doctor imports presgend.pipeline.video.transcribe" in _breaks(
        "presgend.ops", ("presgend.core",)
    )  # the rule does see a layer reaching up


def test_core_imports_nothing_above_it() -> None:
    assert _breaks("presgend.core", ("presgend.core",)) == []


def test_the_pipeline_never_imports_the_daemon_a_backend_or_a_front() -> None:
    assert _breaks("presgend.pipeline", ("presgend.core", "presgend.pipeline")) == []


def test_the_daemon_never_imports_a_front() -> None:
    """The daemon runs whatever services a front attaches (app.py builds them); it
    never builds the HTTP app, MCP or the CLI itself."""
    graph = imports()
    modules = set(graph)
    broken = [
        f"{module} imports {target}"
        for module, targets in sorted(graph.items())
        if module.startswith("presgend.daemon")
        for target in sorted(targets)
        if (target if target in modules else target.rsplit(".", 1)[0]).startswith("presgend.fronts")
    ]
    assert broken == []


def test_the_backend_is_chosen_once_and_its_name_compared_nowhere() -> None:
    """`backends.kind` resolves `queue.backend` to a class once; no module branches on
    the name itself (`cfg.queue.backend == "postgres"`)."""
    compared = []
    for path in PACKAGE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Compare):
                sides = [node.left, *node.comparators]
                if any(isinstance(s, ast.Attribute) and s.attr == "backend" for s in sides):
                    compared.append(f"{path.relative_to(PACKAGE)}:{node.lineno}")
    assert compared == []


def test_backends_never_import_the_daemon_or_a_front() -> None:
    """A backend gets the daemon's parts as protocols (backends.Parts); what every
    backend and the daemon share about the inbox lives below both, in presgend/inbox."""
    allowed = ("presgend.core", "presgend.inbox", "presgend.pipeline", "presgend.backends")
    assert _breaks("presgend.backends", allowed) == []


def test_the_inbox_package_imports_only_core() -> None:
    assert _breaks("presgend.inbox", ("presgend.core", "presgend.inbox")) == []


def test_ops_never_import_a_front() -> None:
    allowed = ("presgend.core", "presgend.inbox", "presgend.pipeline", "presgend.backends",
               "presgend.daemon", "presgend.ops")  # fmt: skip
    assert _breaks("presgend.ops", allowed) == []


def test_the_pipelines_parts_import_only_what_they_should() -> None:
    """text/ writes and draws slides from a transcript (it knows the transcript's types,
    nothing else of video/); video/ and script/ are the two pipelines, which end in the
    job's finish; neither pipeline imports the other."""
    core, text = "presgend.core", "presgend.pipeline.text"
    transcript = "presgend.pipeline.video.transcribe"
    shared = ("presgend.pipeline.context", "presgend.pipeline.deck", "presgend.pipeline.finish",
              "presgend.pipeline.report", "presgend.pipeline.publish")  # fmt: skip
    assert _breaks(text, (core, text, transcript)) == []
    assert _breaks("presgend.pipeline.video", (core, text, "presgend.pipeline.video",
                                               *shared)) == []  # fmt: skip
    script = ("presgend.pipeline.script", "presgend.pipeline.video")
    assert _breaks("presgend.pipeline.script", (core, text, *script, *shared)) == []


def test_speech_and_summary_engines_and_the_encoder_are_chosen_once() -> None:
    """`speech.engine`, `summary.engine` and `output.encoder` resolve to objects
    (speech.POLICIES, deck.WRITERS, compose.choose_encoder); nothing past the config's
    own checks branches on a setting's name."""
    compared = []
    for path in PACKAGE.rglob("*.py"):
        if path == PACKAGE / "core" / "config.py":
            continue  # validation reads the names, once
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Compare):
                sides = [node.left, *node.comparators]
                if any(isinstance(s, ast.Attribute) and s.attr in ("engine", "encoder")
                       for s in sides):  # fmt: skip
                    compared.append(f"{path.relative_to(PACKAGE)}:{node.lineno}")
    assert compared == []
