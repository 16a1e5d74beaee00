"""The README's examples of terminal output are what crew prints: each block is compared with the
real command's output on the example project, at 80 columns."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

Cli = Callable[..., Any]
README = Path(__file__).resolve().parent.parent / "README.md"


def shown_in_readme(first_line: str) -> list[str]:
    """The lines of the README's plain code block (no language) that starts with `first_line`."""
    plain: list[list[str]] = []
    inside: list[str] | None = None
    for text in README.read_text().splitlines():
        if text.startswith("```"):
            if inside is not None:
                inside = None
            else:
                inside = []
                if text == "```":
                    plain.append(inside)
        elif inside is not None:
            inside.append(text)
    for block in plain:
        if block and block[0].startswith(first_line):
            return block
    raise AssertionError(f"README has no plain code block starting with {first_line!r}")


def lines(text: str) -> list[str]:
    return [shown.rstrip() for shown in text.strip("\n").splitlines()]


@pytest.fixture(autouse=True)
def columns(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "80")


def test_the_graph_sketch_is_what_crew_graph_prints(crew_cli: Cli, example: Path) -> None:
    result = crew_cli("graph", "launch-brief")
    assert result.code == 0, result.err
    assert lines(result.err) == shown_in_readme("launch-brief")


def test_the_validate_example_is_what_crew_validate_prints(crew_cli: Cli, example: Path) -> None:
    writer = example / "agents" / "writer.yaml"
    writer.write_text(re.sub(r"^owner: bob$", "owner: alcie", writer.read_text(), flags=re.M))
    playbook = example / "playbooks" / "launch-brief.yaml"
    playbook.write_text(playbook.read_text().replace("medium: legal_review, ", ""))

    result = crew_cli("validate")
    assert result.code == 2
    shown = lines((result.out + result.err).replace(str(example), "/path/to/project"))
    assert shown == shown_in_readme("agents/writer.yaml:")
