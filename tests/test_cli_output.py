"""A run's results where people look: a finished `crew answer`/`run` prints the final outputs, and
`crew output RUN [STEP] [--format md|json|yaml]` prints one output in full."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml
from support.cli import RUN, as_json
from support.example import answers

Cli = Callable[..., Any]


def _words(text: str) -> str:
    """`text` with Markdown's marks gone and its whitespace (wrapping) made single spaces."""
    return " ".join(text.replace("**", "").replace("#", "").split())


def _finished(crew_cli: Cli) -> tuple[str, Any]:
    """Bob's quickstart run, approved by carol: the run id and what that answer printed."""
    started = as_json(crew_cli(*RUN, "--json"))
    card = started["waiting_on"][0]["card"]
    return started["run"], crew_cli("answer", card, "approve", "--as", "carol")


def _cassette(example: Path) -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(
        (example / "playbooks" / "launch-brief.cassette.yaml").read_text()
    )
    return loaded


def test_the_final_answer_prints_the_published_posts_fields(crew_cli: Cli, example: Path) -> None:
    run, result = _finished(crew_cli)
    assert result.code == 0, result.err
    lines = result.out.splitlines()
    assert f"run {run} (launch-brief) done" in lines[0]
    published = answers(_cassette(example), "publish")[0]
    assert "publish" in result.out
    for field in ("channel", "url"):
        row = next(row for row in lines if row.split()[:1] == [field])
        assert str(published[field]) in row
    # Only the final step's output: the brief publish consumed is not repeated here.
    assert "launch brief" not in result.out


def test_output_of_a_step_prints_the_whole_brief(crew_cli: Cli, example: Path) -> None:
    run, _ = _finished(crew_cli)
    result = crew_cli("output", run, "draft")
    assert result.code == 0, result.err
    brief = _cassette(example)["draft"][0]["brief"]
    shown = _words(result.out)
    for line in brief.strip().splitlines():
        assert _words(line) in shown


def test_output_json_and_yaml_are_exact(crew_cli: Cli, example: Path) -> None:
    run, _ = _finished(crew_cli)
    status = as_json(crew_cli("status", run, "--json"))
    draft = json.loads(crew_cli("output", run, "draft", "--format", "json").out)
    assert draft == status["outputs"]["draft"]
    assert draft["brief"] == _cassette(example)["draft"][0]["brief"]
    finals = json.loads(crew_cli("output", run, "--format", "json").out)
    assert finals == {"publish": status["outputs"]["publish"]}
    assert yaml.safe_load(crew_cli("output", run, "--format", "yaml").out) == finals


def test_a_fan_out_step_gives_the_list_of_its_items_outputs(crew_cli: Cli, example: Path) -> None:
    run, _ = _finished(crew_cli)
    research = json.loads(crew_cli("output", run, "research", "--format", "json").out)
    assert isinstance(research, list) and len(research) == 1
    assert "summary" in research[0]


def test_an_unknown_step_or_run_is_one_line_and_exit_2(crew_cli: Cli, example: Path) -> None:
    run, _ = _finished(crew_cli)
    unknown = crew_cli("output", run, "nosuch")
    assert unknown.code == 2
    assert unknown.out == ""
    assert len(unknown.err.strip().splitlines()) == 1
    assert "nosuch" in unknown.err and "draft" in unknown.err  # names it and the real steps
    missing = crew_cli("output", "r-nosuch")
    assert missing.code == 2
    assert len(missing.err.strip().splitlines()) == 1


def test_json_of_a_finished_answer_keeps_its_shape(crew_cli: Cli, example: Path) -> None:
    started = as_json(crew_cli(*RUN, "--json"))
    card = started["waiting_on"][0]["card"]
    report = as_json(crew_cli("answer", card, "approve", "--as", "carol", "--json"))
    assert set(report) == {"run", "playbook", "status", "waiting_on", "outputs"}


def test_a_playbook_may_declare_its_outputs(crew_cli: Cli, example: Path) -> None:
    playbook = example / "playbooks" / "launch-brief.yaml"
    playbook.write_text(playbook.read_text() + "outputs: [draft, publish]\n")
    assert crew_cli("validate").code == 0
    run, result = _finished(crew_cli)
    assert result.code == 0, result.err
    assert "Solar kettle: launch brief" in result.out
    finals = json.loads(crew_cli("output", run, "--format", "json").out)
    assert list(finals) == ["draft", "publish"]
