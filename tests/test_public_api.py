"""The package's public surface: one sorted `__all__`, every name importable, errors one tree."""

from __future__ import annotations

import subprocess
import sys

import crew
from crew import exceptions


def test_all_is_sorted_and_every_name_resolves() -> None:
    assert crew.__all__ == sorted(crew.__all__)
    for name in crew.__all__:
        assert getattr(crew, name) is not None, name


def test_every_error_is_a_crew_error() -> None:
    for name in crew.__all__:
        value = getattr(crew, name)
        if isinstance(value, type) and issubclass(value, Exception):
            assert issubclass(value, crew.CrewError), name
    assert issubclass(exceptions.LeaseLost, exceptions.BoardError)


def test_importing_crew_does_not_load_langchain_or_langgraph() -> None:
    code = (
        "import sys, crew; "
        "heavy = sorted(m for m in sys.modules if m.startswith(('langchain', 'langgraph'))); "
        "print(heavy)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_config_error_lists_every_problem_one_per_line() -> None:
    error = crew.ConfigError.from_problems(
        [
            crew.Problem("agents/b.yaml", 3, "unknown owner 'x'", "People: alice"),
            crew.Problem("agents/a.yaml", 7, "missing field 'goal'."),
        ]
    )
    assert str(error).splitlines() == [
        "agents/a.yaml:7: missing field 'goal'.",
        "agents/b.yaml:3: unknown owner 'x'. People: alice",
    ]
