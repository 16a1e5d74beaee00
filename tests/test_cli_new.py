"""`crew new role|playbook NAME`: a commented file that passes validate; never overwrites."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from support.cli import CliResult
from support.example import copy_example

Crew = Callable[..., CliResult]


@pytest.fixture
def example(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of the shipped example project, as the current directory."""
    root = copy_example(tmp_path / "example", schemas=True, cassettes=False)
    monkeypatch.delenv("CREW_PROJECT", raising=False)
    monkeypatch.chdir(root)
    return root


def test_new_role_writes_a_valid_commented_file(crew_cli: Crew, example: Path) -> None:
    result = crew_cli("new", "role", "market_analyst")

    assert result.code == 0, result.err
    assert result.out.strip() == "agents/market_analyst.yaml"
    text = (example / "agents" / "market_analyst.yaml").read_text()
    assert text.startswith("# yaml-language-server: $schema=../schemas/role.schema.json\n")
    assert "name: market_analyst" in text
    assert "owner: alice" in text
    assert "model: default" in text
    assert text.count("#") > 5  # commented, so a newcomer knows what each key does
    validated = crew_cli("validate")
    assert validated.code == 0, validated.err
    assert "5 roles" in validated.out


def test_new_playbook_writes_a_valid_file_using_an_existing_role(
    crew_cli: Crew, example: Path
) -> None:
    result = crew_cli("new", "playbook", "intake")

    assert result.code == 0, result.err
    assert result.out.strip() == "playbooks/intake.yaml"
    text = (example / "playbooks" / "intake.yaml").read_text()
    assert "name: intake" in text
    assert "checkpoint:" in text
    validated = crew_cli("validate")
    assert validated.code == 0, validated.err
    assert "3 playbooks" in validated.out


def test_new_refuses_to_overwrite(crew_cli: Crew, example: Path) -> None:
    before = (example / "agents" / "writer.yaml").read_text()

    result = crew_cli("new", "role", "writer")

    assert result.code == 2
    assert result.err.count("\n") == 1
    assert "agents/writer.yaml already exists" in result.err
    assert (example / "agents" / "writer.yaml").read_text() == before
    assert crew_cli("new", "playbook", "launch-brief").code == 2


def test_second_new_of_the_same_name_is_refused(crew_cli: Crew, example: Path) -> None:
    assert crew_cli("new", "playbook", "triage").code == 0
    again = crew_cli("new", "playbook", "triage")
    assert again.code == 2
    assert "playbooks/triage.yaml already exists" in again.err


@pytest.mark.parametrize("name", ["my role", "1st", "../escape", "-x"])
def test_new_refuses_an_invalid_name(crew_cli: Crew, example: Path, name: str) -> None:
    result = crew_cli("new", "role", "--", name)

    assert result.code == 2
    assert "is not a valid role name" in result.err
    assert "Traceback" not in result.err
    assert sorted(p.name for p in (example / "agents").iterdir()) == [
        "publisher.yaml",
        "researcher.yaml",
        "risk_officer.yaml",
        "writer.yaml",
    ]


def test_new_playbook_needs_a_role_first(
    crew_cli: Crew, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "crew.yaml").write_text("name: empty\npeople:\n  alice: {name: Alice}\n")
    monkeypatch.chdir(tmp_path)

    result = crew_cli("new", "playbook", "first")

    assert result.code == 2
    assert "crew new role NAME" in result.err
    assert crew_cli("new", "role", "helper").code == 0
    assert crew_cli("new", "playbook", "first").code == 0
    validated = crew_cli("validate")
    # No model profiles in crew.yaml: the scaffold names an OpenAI model directly.
    assert validated.code == 0, validated.err
    assert "openai:" in (tmp_path / "agents" / "helper.yaml").read_text()


def test_new_outside_a_project_is_one_line(
    crew_cli: Crew, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("CREW_PROJECT", raising=False)
    monkeypatch.chdir(tmp_path)

    result = crew_cli("new", "role", "x")

    assert result.code == 2
    assert "no crew.yaml" in result.err
