"""`crew graph PLAYBOOK` draws the playbook as its author wrote it (Mermaid on stdout, a sketch on
stderr); `--internal` keeps LangGraph's compiled graph."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

from support.cli import CliResult
from support.example import copy_example
from support.imports import imports_of

Cli = Callable[..., CliResult]

BRANCHING = """\
name: two-way
steps:
  - id: first-draft
    role: writer
    task: "Write a brief about kettles."
  - id: risk-check
    role: risk_officer
    task: "Rate the launch risk."
    route:
      field: severity
      cases: {high: sign-off}
      default: ship
  - id: sign-off
    checkpoint:
      owner: carol
      question: Ship it?
      on_reject: first-draft
      max_revisions: 1
  - id: ship
    role: publisher
    task: "Publish it."
"""


def edges(mermaid: str) -> set[tuple[str, str, str]]:
    """(source, label, target) of every arrow, with node ids mapped back to their labels' first
    line (the step id, or start/end)."""
    names = {
        node: label.split("<br/>")[0].split(" × ")[0]
        for node, label in re.findall(r'^\s+(\w+)[\[({/]+"([^"]*)"', mermaid, re.MULTILINE)
    }
    found = set()
    for source, label, target in re.findall(
        r'^\s+(\w+) -\.?->(?:\|"([^"]*)"\|)? (\w+)$', mermaid, re.MULTILINE
    ):
        found.add((names[source], label, names[target]))
    return found


def test_graph_draws_the_playbook_steps_routes_and_revision_loop(
    crew_cli: Cli, example: Path
) -> None:
    result = crew_cli("graph", "launch-brief")

    assert result.code == 0, result.err
    assert "flowchart TD" in result.out
    assert edges(result.out) == {
        ("start", "", "research"),
        ("research", "", "draft"),
        ("draft", "", "triage"),
        ("triage", "high, medium", "legal_review"),
        ("triage", "low", "publish"),
        ("legal_review", "on reject", "draft"),
        ("legal_review", "", "publish"),
        ("publish", "", "end"),
    }
    assert "research × inputs.markets" in result.out  # the fan-out
    assert "checkpoint · carol" in result.out
    for internal in (".accepted", ".gate", ".item", ".review", "__start__"):
        assert internal not in result.out
    # the sketch: every step, its routes and its revision loop, within 80 columns
    assert "severity high, medium → legal_review" in result.err
    assert "on reject → draft" in result.err
    for step in ("research", "draft", "triage", "legal_review", "publish"):
        assert step in result.err
    assert max(len(line) for line in result.err.splitlines()) <= 80


def test_dashed_step_ids_and_a_default_route_are_drawn(crew_cli: Cli, example: Path) -> None:
    (example / "playbooks" / "two-way.yaml").write_text(BRANCHING)

    result = crew_cli("graph", "two-way")

    assert result.code == 0, result.err
    node_ids = re.findall(r"^\s+(\S+?)[\[({]", result.out, re.MULTILINE)
    assert node_ids and all(re.fullmatch(r"\w+", node) for node in node_ids)
    assert edges(result.out) == {
        ("start", "", "first-draft"),
        ("first-draft", "", "risk-check"),
        ("risk-check", "high", "sign-off"),
        ("risk-check", "default", "ship"),
        ("sign-off", "on reject", "first-draft"),
        ("sign-off", "", "end"),  # `ship` is a route target: it runs only when routed to
        ("ship", "", "end"),
    }
    assert "severity default → ship" in result.err


def test_internal_prints_the_compiled_langgraph_graph(crew_cli: Cli, example: Path) -> None:
    result = crew_cli("graph", "launch-brief", "--internal")

    assert result.code == 0, result.err
    assert "graph TD" in result.out
    assert "legal_review.gate" in result.out and "research.item" in result.out


def test_an_unknown_playbook_is_one_line_with_exit_2(crew_cli: Cli, example: Path) -> None:
    result = crew_cli("graph", "nope")

    assert result.code == 2
    (line,) = result.err.strip().splitlines()
    assert "nope" in line and "launch-brief" in line


def test_graph_does_not_import_langgraph(tmp_path: Path) -> None:
    project = copy_example(tmp_path / "example", schemas=True, cassettes=False)

    report = imports_of(["graph", "launch-brief"], project)

    assert report["code"] in (0, None)
    assert report["heavy"] == []
