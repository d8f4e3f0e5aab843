from __future__ import annotations

from pathlib import Path

import pytest

from presgend.core import config
from presgend.core.errors import ConfigError, PresetUnknown

REPO = Path(__file__).resolve().parents[1]


def test_shipped_file_matches_the_defaults() -> None:
    loaded = config.load(REPO / "config" / "presgend.toml")
    assert loaded == config.Config(source=loaded.source)


def test_every_problem_is_reported_at_once() -> None:
    with pytest.raises(ConfigError) as caught:
        config.from_dict(
            {
                "paths": {"inbox": 3, "bogus": "x"},
                "watch": {"mode": "sometimes", "settle_seconds": -1},
                "breaker": {"cpu_percent": 150},
                "output": {"quality": "ultra"},
                "nonsense": {},
                "jobs": {"max_concurrent": True},
            }
        )
    problems = caught.value.problems
    assert len(problems) == 8, problems
    text = str(caught.value)
    for fragment in (
        "paths.inbox must be a string path",
        "unknown key paths.bogus",
        "watch.mode must be one of auto, inotify, polling",
        "watch.settle_seconds must be greater than 0",
        "breaker.cpu_percent must be a percentage",
        "output.quality must be one of",
        "unknown section [nonsense]",
        "jobs.max_concurrent must be an integer",
    ):
        assert fragment in text


def test_archive_empty_means_delete_and_numbers_widen() -> None:
    cfg = config.from_dict({"paths": {"archive": ""}, "watch": {"settle_seconds": 3}})
    assert cfg.paths.archive is None
    assert cfg.watch.settle_seconds == 3.0 and isinstance(cfg.watch.settle_seconds, float)


def test_environment_variable_picks_the_file(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "c.toml"
    path.write_text('[output]\nquality = "fast"\n')
    monkeypatch.setenv(config.ENV_VAR, str(path))
    assert config.load().output.quality == "fast"


def test_broken_toml_and_missing_file_are_config_errors(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("[paths\n")
    with pytest.raises(ConfigError, match="cannot be read as TOML"):
        config.load(bad)
    with pytest.raises(ConfigError, match="does not exist"):
        config.load(tmp_path / "missing.toml")


PRESETS = """
[presets.board]
slides.theme = "dark"
output.quality = "high"
[presets.social]
output.burn_captions = true
"""


def test_presets_are_checked_at_load_and_override_only_their_keys(tmp_path: Path) -> None:
    path = tmp_path / "p.toml"
    path.write_text(PRESETS)
    loaded = config.load(path)
    board = config.with_preset(loaded, "board")
    assert (board.slides.theme, board.output.quality) == ("dark", "high")
    assert board.slides.max_slides == loaded.slides.max_slides and board.paths == loaded.paths
    assert config.with_preset(loaded, "") is loaded
    assert config.with_preset(loaded, "social").output.burn_captions is True
    with pytest.raises(
        PresetUnknown, match="no preset named 'nope'; the config has: board, social"
    ):
        config.with_preset(loaded, "nope")
    path.write_text(PRESETS + '[presets.bad]\npaths.inbox = "x"\nslides.theme = "pink"\n'
                    'slides.nope = 1\n[presets."two words"]\nslides.theme = "dark"\n')  # fmt: skip
    with pytest.raises(ConfigError) as caught:
        config.load(path)
    problems = "\n".join(caught.value.problems)  # every one of them, at once
    assert "presets.bad.paths: a preset overrides only output, slides" in problems
    assert "presets.bad: slides.theme must be one of" in problems
    assert "presets.bad: unknown key slides.nope" in problems
    assert "presets.two words: a preset is a table named with letters" in problems


def test_beam_size_follows_the_device_unless_set() -> None:
    from presgend.pipeline.video import transcribe

    default = config.from_dict({}).transcription
    assert default.beam_size == 0
    assert transcribe.beam_size(default, "cpu") == 1  # greedy: the same words, less time
    assert transcribe.beam_size(default, "cuda") == 5
    chosen = config.from_dict({"transcription": {"beam_size": 3}}).transcription
    assert transcribe.beam_size(chosen, "cpu") == 3
    with pytest.raises(ConfigError, match="beam_size must not be negative"):
        config.from_dict({"transcription": {"beam_size": -1}})
