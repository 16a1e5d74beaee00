"""`crew --help`, `validate`, `new`, `schema` must feel instant: no LangChain or LangGraph."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from support.example import copy_example

HEAVY = ("langchain", "langchain_core", "langchain_openai", "langgraph", "openai")

# Runs the real entry point, then reports which heavy top-level packages got imported.
PROBE = """
import json, sys
args, heavy_names = json.loads(sys.argv[1]), set(json.loads(sys.argv[2]))
from crew.cli import main
sys.argv = ["crew", *args]
try:
    main()
except SystemExit as exit_:
    code = exit_.code
else:
    code = 0
heavy = sorted({m.split(".")[0] for m in sys.modules} & heavy_names)
print("PROBE " + json.dumps({"code": code, "heavy": heavy}), file=sys.__stderr__)
"""


def _imports_of(args: list[str], cwd: Path) -> dict[str, object]:
    env = {k: v for k, v in os.environ.items() if k != "CREW_PROJECT"}
    result = subprocess.run(
        [sys.executable, "-c", PROBE, json.dumps(args), json.dumps(HEAVY)],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    probe = [line for line in result.stderr.splitlines() if line.startswith("PROBE ")]
    assert probe, result.stderr
    report: dict[str, object] = json.loads(probe[-1].removeprefix("PROBE "))
    return report


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
    report = _imports_of(args, example_copy)

    assert report["code"] in (0, None)
    assert report["heavy"] == []
