"""`crew validate`: the example passes; problems are `file:line: what. fix` lines, exit 2."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from support.cli import CliResult
from support.example import copy_example

Crew = Callable[..., CliResult]
REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def example(tmp_path: Path) -> Path:
    """A copy of the example project shipped at the repository root."""
    return copy_example(tmp_path / "example", cassettes=False)


@pytest.fixture(autouse=True)
def _no_project_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CREW_PROJECT", raising=False)


def test_the_shipped_example_project_passes(
    crew_cli: Crew, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(REPO)

    result = crew_cli("validate")

    assert result.code == 0, result.err
    assert result.out.strip() == "ok: 4 roles, 2 playbooks, 4 people (acme-launches)"
    assert result.err == ""


def test_validate_finds_the_project_from_a_subdirectory(
    crew_cli: Crew, example: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(example / "agents")

    result = crew_cli("validate")

    assert result.code == 0
    assert "acme-launches" in result.out


def test_validate_takes_the_project_from_the_project_option(crew_cli: Crew, example: Path) -> None:
    assert crew_cli("--project", str(example), "validate").code == 0
    assert crew_cli("validate", str(example / "crew.yaml")).code == 0
    # A file of the project: the whole project it belongs to is checked.
    assert crew_cli("validate", str(example / "agents" / "writer.yaml")).code == 0


def test_json_report_of_a_valid_project(crew_cli: Crew, example: Path) -> None:
    result = crew_cli("validate", "--json", str(example))

    assert result.code == 0
    report = json.loads(result.out)
    assert report["ok"] is True
    assert report["project"] == "acme-launches"
    assert report["roles"] == ["publisher", "researcher", "risk_officer", "writer"]
    assert report["playbooks"] == ["launch-brief", "quick-brief"]
    assert report["people"] == ["alice", "bob", "carol", "dan"]
    assert report["problems"] == []


def test_every_problem_in_every_file_is_reported(crew_cli: Crew, example: Path) -> None:
    role = example / "agents" / "writer.yaml"
    role.write_text(role.read_text().replace("owner: bob", "owner: bobby"))
    playbook = example / "playbooks" / "launch-brief.yaml"
    playbook.write_text(playbook.read_text().replace("owner: carol", "owner: carl"))
    (example / "playbooks" / "broken.yaml").write_text("name: broken\nsteps: [\n")

    result = crew_cli("validate", str(example))

    assert result.code == 2
    lines = result.err.splitlines()
    assert "agents/writer.yaml:10: unknown owner 'bobby'. Did you mean 'bob'? " in result.err
    assert any(
        line.startswith("playbooks/launch-brief.yaml:25: unknown checkpoint owner 'carl'")
        for line in lines
    )
    assert any(line.startswith("playbooks/broken.yaml:3: YAML syntax error") for line in lines)
    assert lines[-1].startswith("3 problems in ")
    assert "Traceback" not in result.err


def test_json_report_lists_the_problems(crew_cli: Crew, example: Path) -> None:
    role = example / "agents" / "writer.yaml"
    role.write_text(role.read_text().replace("owner: bob", "owner: bobby"))

    result = crew_cli("validate", "--json", str(example))

    assert result.code == 2
    report = json.loads(result.out)
    assert report["ok"] is False
    assert report["problems"] == [
        {
            "file": "agents/writer.yaml",
            "line": 10,
            "message": "unknown owner 'bobby'",
            "hint": "Did you mean 'bob'? People: alice, bob, carol, dan",
        }
    ]


def test_a_role_broken_on_its_own_is_not_also_an_unknown_role(
    crew_cli: Crew, example: Path
) -> None:
    (example / "agents" / "writer.yaml").write_text("name: writer\ntitle: [\n")

    result = crew_cli("validate", str(example))

    assert result.code == 2
    assert "agents/writer.yaml:" in result.err
    assert "unknown role" not in result.err


def test_no_project_is_one_line_with_the_fix(
    crew_cli: Crew, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)

    result = crew_cli("validate")

    assert result.code == 2
    assert result.err.count("\n") == 1
    assert f"no crew.yaml in {tmp_path.resolve()} or any parent directory" in result.err
    assert "--project" in result.err


def test_a_path_without_a_project_is_refused(crew_cli: Crew, tmp_path: Path) -> None:
    result = crew_cli("validate", str(tmp_path / "nowhere"))

    assert result.code == 2
    assert "does not exist" in result.err
    assert "Traceback" not in result.err


def test_an_empty_list_or_mapping_key_means_none(crew_cli: Crew, example: Path) -> None:
    role = example / "agents" / "writer.yaml"
    role.write_text(role.read_text() + "tools:\n")

    result = crew_cli("validate", str(example))

    assert result.code == 0, result.err


def test_the_installed_command_reports_without_a_traceback(example: Path) -> None:
    """The console script end to end: what a user's shell sees."""
    crew = Path(sys.executable).parent / "crew"
    (example / "agents" / "writer.yaml").write_bytes(b"name: writer\ntitle: \xff\n")

    result = subprocess.run(
        [str(crew), "validate", str(example)], capture_output=True, text=True, check=False
    )

    assert result.returncode == 2
    assert result.stderr.startswith(
        "agents/writer.yaml:2: is not UTF-8 text (byte 0xff at offset 20)."
    )
    assert "Traceback" not in result.stderr
    assert result.stdout == ""
