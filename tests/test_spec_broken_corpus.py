"""The broken-project corpus: every case is exit 2 with `file:line: what. fix`, never a traceback.

Each directory under tests/broken/ (except `_base`) holds the files that differ from the valid
project in tests/broken/_base, plus `expect.yaml`: where the problem must be reported (`where`,
as `file:line`) and a fragment of what must be said (`says`).
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml
from support.cli import CliResult

BROKEN = Path(__file__).parent / "broken"
CASES = sorted(p.name for p in BROKEN.iterdir() if p.is_dir() and not p.name.startswith("_"))


def _project(case: str, tmp_path: Path) -> Path:
    root = tmp_path / "project"
    shutil.copytree(BROKEN / "_base", root)
    for path in sorted((BROKEN / case).rglob("*")):
        rel = path.relative_to(BROKEN / case)
        if rel == Path("expect.yaml"):
            continue
        target = root / rel
        if path.is_dir():
            target.mkdir(parents=True, exist_ok=True)
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, target)
    return root


def test_the_corpus_is_big_enough() -> None:
    assert len(CASES) >= 20


def test_the_base_project_is_valid(crew_cli: Callable[..., CliResult]) -> None:
    result = crew_cli("validate", str(BROKEN / "_base"))
    assert result.code == 0, result.err
    assert result.out.startswith("ok: 2 roles, 1 playbook, 3 people (broken-corpus)")


@pytest.mark.parametrize("case", CASES)
def test_broken_project_is_reported_at_file_and_line(
    case: str, tmp_path: Path, crew_cli: Callable[..., CliResult]
) -> None:
    expect = yaml.safe_load((BROKEN / case / "expect.yaml").read_text())
    root = _project(case, tmp_path)

    result = crew_cli("validate", str(root))

    assert result.code == 2
    assert "Traceback" not in result.out + result.err
    lines = [line for line in result.err.splitlines() if line.startswith(expect["where"] + ":")]
    assert lines, f"no problem at {expect['where']}:\n{result.err}"
    assert any(expect["says"] in line for line in lines), result.err


@pytest.mark.parametrize("case", CASES)
def test_every_problem_says_how_to_fix_it(
    case: str, tmp_path: Path, crew_cli: Callable[..., CliResult]
) -> None:
    root = _project(case, tmp_path)

    result = crew_cli("validate", "--json", str(root))

    assert result.code == 2
    report = json.loads(result.out)
    assert report["ok"] is False
    assert report["problems"]
    for problem in report["problems"]:
        assert problem["file"] and problem["line"] >= 1
        assert problem["hint"], f"no hint for {problem}"
