"""The tests' own way of running `presgend`: commands forked from a process that has
imported it (tests/support/zygote.py), in the environment the test has."""

from __future__ import annotations

import pytest
from support.cli import _Zygote, cli


def test_a_changed_environment_gets_a_zygote_of_its_own_and_the_first_is_kept(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A library imported in the test process, or a test, changes the environment; the
    commands after it are still forked (not fresh interpreters), from a zygote started
    in that environment, and going back goes back to the first one."""
    first = _Zygote.for_this(None)
    assert first is not None
    monkeypatch.setenv("PRESGEND_TEST_MARK", "1")
    second = _Zygote.for_this(None)
    assert second is not None and second is not first
    assert second.environ["PRESGEND_TEST_MARK"] == "1"
    done = cli("--version")
    assert done.returncode == 0 and done.stdout.startswith("presgend "), done
    monkeypatch.undo()
    assert _Zygote.for_this(None) is first
    assert _Zygote.for_this({"PRESGEND_TEST_MARK": "2"}) is None, "env= of its own: fresh"
