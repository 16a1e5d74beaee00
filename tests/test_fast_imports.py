"""`crew --help`, `validate`, `new`, `schema` must feel instant: no LangChain or LangGraph.

ruff (TID253 in pyproject.toml) keeps those imports out of the light modules' top level; this
checks what the commands really import, in a fresh interpreter.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from support.example import copy_example
from support.imports import imports_of


@pytest.fixture
def example_copy(tmp_path: Path) -> Path:
    return copy_example(tmp_path / "example", schemas=True, cassettes=False)


@pytest.mark.parametrize(
    "args",
    [
        ["--help"],
        ["validate"],
        ["new", "role", "analyst"],
        ["new", "playbook", "intake"],
        ["schema", "--out", "out"],
    ],
    ids=["help", "validate", "new-role", "new-playbook", "schema"],
)
def test_command_does_not_import_langchain_or_langgraph(
    args: list[str], example_copy: Path
) -> None:
    report = imports_of(args, example_copy)

    assert report["code"] in (0, None)
    assert report["heavy"] == []
