"""`crew init [DIR] [--name NAME]`: a new project that validates and runs offline at once."""

from __future__ import annotations

import shlex
from collections.abc import Callable
from pathlib import Path

import pytest
from support.cli import CliResult

Crew = Callable[..., CliResult]


@pytest.fixture
def empty(project_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty current directory on its own board, logged in as John.Doe, with no API key."""
    for name in ("CREW_USER", "CREW_PROJECT", "OPENAI_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("LOGNAME", "John.Doe")  # what getpass.getuser() reads first
    return project_dir


def _printed(out: str, command: str) -> list[str]:
    """The first printed `command ...` (e.g. "crew run "), as argv without the leading `crew`."""
    line = next(line for line in out.splitlines() if command in line)
    return shlex.split(line[line.index(command) :])[1:]


def _tree(root: Path) -> dict[str, tuple[bytes, int]]:
    return {
        str(path.relative_to(root)): (path.read_bytes(), path.stat().st_mtime_ns)
        for path in sorted(root.rglob("*"))
        if path.is_file()
    }


def test_init_makes_a_project_that_validates_and_runs_offline(crew_cli: Crew, empty: Path) -> None:
    made = crew_cli("init")

    assert made.code == 0, made.err
    crew_yaml = (empty / "crew.yaml").read_text()
    assert crew_yaml.startswith("# yaml-language-server: $schema=schemas/crew.schema.json\n")
    assert "john_doe: {name: John Doe" in crew_yaml
    assert f"name: {empty.name}" in crew_yaml
    assert ".crew/" in (empty / ".gitignore").read_text().splitlines()
    for kind in ("crew", "role", "playbook"):
        assert (empty / "schemas" / f"{kind}.schema.json").is_file()
    assert "crew new role NAME" in made.out
    assert "OPENAI_API_KEY" in made.out and "base_url" in made.out
    validated = crew_cli("validate")
    assert validated.code == 0, validated.err
    assert "1 role, 1 playbook, 2 people" in validated.out

    run = _printed(made.out, "crew run ")
    assert "--replay" in run and run[-2:] == ["--as", "john_doe"]
    started = crew_cli(*run)

    assert started.code in (0, 3), started.err
    if started.code == 3:  # it waits at the checkpoint, printing the exact answer command
        answer = _printed(started.out, "crew answer ")
        assert answer[:1] == ["answer"] and answer[-2:] == ["--as", "john_doe"]
        answered = crew_cli(*answer)
        assert answered.code == 0, answered.err
        assert "done" in answered.out
    else:
        assert "done" in started.out


def test_init_refuses_a_second_time_and_changes_nothing(crew_cli: Crew, empty: Path) -> None:
    assert crew_cli("init").code == 0
    before = _tree(empty)

    again = crew_cli("init")

    assert again.code == 2
    assert "crew.yaml already exists" in again.err
    assert len(again.err.strip().splitlines()) == 1
    assert _tree(empty) == before


def test_init_checks_every_file_before_writing_any(crew_cli: Crew, empty: Path) -> None:
    (empty / "schemas").mkdir()
    (empty / "schemas" / "role.schema.json").write_text("{}")

    refused = crew_cli("init")

    assert refused.code == 2
    assert "role.schema.json already exists" in refused.err
    assert sorted(str(p.relative_to(empty)) for p in empty.rglob("*")) == [
        "schemas",
        "schemas/role.schema.json",
    ]


def test_init_into_a_new_directory_with_a_name(crew_cli: Crew, empty: Path) -> None:
    made = crew_cli("init", "team/launches", "--name", "Acme: launches")

    assert made.code == 0, made.err
    root = empty / "team" / "launches"
    assert 'name: "Acme: launches"' in (root / "crew.yaml").read_text()
    assert "cd team/launches" in made.out
    validated = crew_cli("--project", str(root), "validate")
    assert validated.code == 0, validated.err
    assert "(Acme: launches)" in validated.out


def test_new_role_outside_a_project_says_to_run_crew_init(crew_cli: Crew, empty: Path) -> None:
    result = crew_cli("new", "role", "x")

    assert result.code == 2
    assert "no crew.yaml" in result.err
    assert "crew init" in result.err
    assert list(empty.iterdir()) == []
