"""The loaded project: finding it, loading it (ConfigError only), and what it answers."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from support.example import copy_example

from crew.exceptions import ConfigError
from crew.spec.loader import find_project_root, load_project
from crew.spec.models import ModelProfile
from crew.spec.project import Project

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def project() -> Project:
    return load_project(REPO)


@pytest.fixture
def example(tmp_path: Path) -> Path:
    """A copy of the example project's files, without its cassettes."""
    return copy_example(tmp_path / "example", cassettes=False)


def test_the_example_project_loads(project: Project) -> None:
    assert project.root == REPO
    assert project.crew.name == "acme-launches"
    assert list(project.roles) == ["publisher", "researcher", "risk_officer", "writer"]
    assert list(project.playbooks) == ["launch-brief", "quick-brief"]


def test_playbook_by_name_or_by_path(project: Project, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(REPO / "agents")

    assert project.playbook("launch-brief").name == "launch-brief"
    assert project.playbook("../playbooks/launch-brief.yaml").name == "launch-brief"
    assert project.playbook(str(REPO / "playbooks" / "quick-brief.yaml")).name == "quick-brief"
    assert project.playbook("playbooks/quick-brief.yaml").name == "quick-brief"
    assert project.playbook("quick-brief.yaml").name == "quick-brief"


def test_an_unknown_playbook_suggests_and_lists(project: Project) -> None:
    with pytest.raises(ConfigError) as info:
        project.playbook("lanch-brief")

    assert str(info.value) == (
        "unknown playbook 'lanch-brief'. "
        "Did you mean 'launch-brief'? Playbooks: launch-brief, quick-brief"
    )


def test_a_playbook_file_outside_the_project_is_refused(project: Project, tmp_path: Path) -> None:
    outside = tmp_path / "launch-brief.yaml"
    outside.write_text((REPO / "playbooks" / "launch-brief.yaml").read_text())

    with pytest.raises(ConfigError, match="is not a playbook of the project"):
        project.playbook(str(outside))
    with pytest.raises(ConfigError, match="no playbook file"):
        project.playbook("playbooks/nothing.yaml")


def test_an_unknown_role_suggests_and_lists(project: Project) -> None:
    with pytest.raises(ConfigError, match="unknown role 'writter'") as info:
        project.role("writter")
    assert info.value.hint.startswith("Did you mean 'writer'? Roles: publisher, researcher")


def test_profiles(project: Project) -> None:
    researcher = project.role("researcher")

    assert project.profile_for(researcher).model == "gpt-4.1-mini"
    adhoc = researcher.model_copy(update={"model": "openai:gpt-4.1"})
    assert project.profile_for(adhoc) == ModelProfile(model="gpt-4.1")


def test_escalation_chain_and_sla(project: Project) -> None:
    researcher, writer, risk = (project.role(n) for n in ("researcher", "writer", "risk_officer"))

    assert project.escalation_chain(researcher) == ["alice", "bob"]
    assert project.escalation_chain(writer) == ["bob"]  # bob has no backup
    alice_owned = writer.model_copy(update={"owner": "alice"})
    assert project.escalation_chain(alice_owned) == ["alice", "bob"]  # alice's backup
    assert project.sla_for(researcher) == 2 * 3600
    assert project.sla_for(risk) == 4 * 3600  # settings.sla


def test_who_may_answer_a_checkpoint(project: Project) -> None:
    assert project.may_answer_checkpoint("carol") == ["carol", "dan"]
    assert project.may_answer_checkpoint("bob") == ["bob"]


def test_board_name_env_wins(project: Project, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CREW_BOARD", raising=False)
    assert project.board_name == "default"
    monkeypatch.setenv("CREW_BOARD", "team-b")
    assert project.board_name == "team-b"


def test_redis_url_env_wins(project: Project, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CREW_REDIS_URL", "redis://example.invalid:6379/3")
    assert project.redis_url() == "redis://example.invalid:6379/3"


def test_cassette_path(project: Project) -> None:
    assert (
        project.cassette_path("launch-brief") == REPO / "playbooks" / "launch-brief.cassette.yaml"
    )


def test_find_project_root_walks_up(example: Path) -> None:
    assert find_project_root(start=example / "agents") == example.resolve()
    assert find_project_root(example) == example.resolve()
    assert find_project_root(example / "crew.yaml") == example.resolve()


def test_find_project_root_says_how_to_fix_it(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        find_project_root(start=tmp_path)
    assert str(info.value).startswith(f"no crew.yaml in {tmp_path.resolve()} or any parent")
    assert "--project DIR" in info.value.hint and "CREW_PROJECT" in info.value.hint

    with pytest.raises(ConfigError, match=r"no crew\.yaml in"):
        find_project_root(tmp_path)


def test_load_project_lists_every_problem(example: Path) -> None:
    (example / "agents" / "writer.yaml").write_text("name: writer\n")
    (example / "crew.yaml").write_text("name: [x\n")

    with pytest.raises(ConfigError) as info:
        load_project(example)

    files = {p.file for p in info.value.problems}
    assert files == {"agents/writer.yaml", "crew.yaml"}
    assert all(p.line >= 1 for p in info.value.problems)


def _paths(data: Any, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    if isinstance(data, dict):
        for key, value in data.items():
            yield (*prefix, key)
            yield from _paths(value, (*prefix, key))
    elif isinstance(data, list):
        for index, value in enumerate(data):
            yield (*prefix, index)
            yield from _paths(value, (*prefix, index))


def _replace(data: Any, path: tuple[Any, ...], value: Any) -> Any:
    if not path:
        return value
    copy = list(data) if isinstance(data, list) else dict(data)
    copy[path[0]] = _replace(data[path[0]], path[1:], value)
    return copy


ODD_VALUES: list[Any] = [None, -1, "zz", ["zz"], {"zz": "zz"}]


@pytest.mark.parametrize(
    "file", ["crew.yaml", "agents/researcher.yaml", "playbooks/launch-brief.yaml"]
)
def test_any_odd_value_anywhere_is_a_config_error(example: Path, file: str) -> None:
    """Replace every value of a file by odd ones: loading fails only ever with ConfigError."""
    original = yaml.safe_load((REPO / file).read_text())
    target = example / file
    outcomes = set()
    for path in _paths(original):
        for value in ODD_VALUES:
            target.write_text(yaml.safe_dump(_replace(original, path, value)))
            try:
                load_project(example)
            except ConfigError as error:
                assert error.problems, path
                outcomes.add("error")
            else:
                outcomes.add("ok")
    assert "error" in outcomes
