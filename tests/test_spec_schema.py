"""`crew schema`: JSON Schemas for editors, generated from the models and kept in sync."""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from support.cli import CliResult

Crew = Callable[..., CliResult]
REPO = Path(__file__).resolve().parents[1]
NAMES = ["crew.schema.json", "role.schema.json", "playbook.schema.json"]
HEADER = re.compile(r"^# yaml-language-server: \$schema=(\S+)$")


def test_schema_writes_the_three_schemas(crew_cli: Crew, tmp_path: Path) -> None:
    out = tmp_path / "out"

    result = crew_cli("--project", str(REPO), "schema", "--out", str(out))

    assert result.code == 0, result.err
    assert sorted(p.name for p in out.iterdir()) == sorted(NAMES)
    assert [Path(line).name for line in result.out.splitlines()] == NAMES
    for name in NAMES:
        schema = json.loads((out / name).read_text())
        assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
        assert schema["type"] == "object"
        assert schema["additionalProperties"] is False
        assert "name" in schema["required"]


def test_the_committed_schemas_are_up_to_date(crew_cli: Crew, tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert crew_cli("--project", str(REPO), "schema", "--out", str(out)).code == 0

    for name in NAMES:
        assert (out / name).read_text() == (REPO / "schemas" / name).read_text(), (
            f"schemas/{name} is stale: run `crew schema` and commit it"
        )


def test_schema_defaults_to_the_projects_schemas_directory(
    crew_cli: Crew, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    shutil.copy(REPO / "crew.yaml", tmp_path / "crew.yaml")
    (tmp_path / "agents").mkdir()
    monkeypatch.delenv("CREW_PROJECT", raising=False)
    monkeypatch.chdir(tmp_path / "agents")

    result = crew_cli("schema")

    assert result.code == 0, result.err
    assert sorted(p.name for p in (tmp_path / "schemas").iterdir()) == sorted(NAMES)


def test_schema_into_a_file_is_one_line(crew_cli: Crew, tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")

    result = crew_cli("--project", str(REPO), "schema", "--out", str(blocker))

    assert result.code == 2
    assert "cannot write schemas into" in result.err
    assert "Traceback" not in result.err


@pytest.mark.parametrize(
    ("pattern", "schema"),
    [
        ("crew.yaml", "crew.schema.json"),
        ("agents/*.yaml", "role.schema.json"),
        ("playbooks/*.yaml", "playbook.schema.json"),
    ],
)
def test_example_files_point_at_their_schema(pattern: str, schema: str) -> None:
    files = [p for p in REPO.glob(pattern) if not p.name.endswith(".cassette.yaml")]
    assert files
    for path in files:
        first = path.read_text().splitlines()[0]
        match = HEADER.match(first)
        assert match, f"{path.relative_to(REPO)} lacks the yaml-language-server header"
        target = (path.parent / match.group(1)).resolve()
        assert target == REPO / "schemas" / schema
        assert target.is_file()
