from __future__ import annotations

from pathlib import Path

import pytest

from presgend.core import config
from presgend.core.errors import ConfigError

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
