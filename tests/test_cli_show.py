"""`crew show CARD`: a person sees, in full, what they are asked to decide before deciding."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from support.example import answers, copy_example

Cli = Callable[..., Any]
RUN = ("run", "launch-brief", "--replay", "-i", "product=Solar kettle", "--as", "bob", "--json")
LONG_SUMMARY = " ".join(f"Finding {n}: campers in region {n} buy solar gear." for n in range(40))


@pytest.fixture
def project(project_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The example project as shipped: the researcher's first answer is unsure (escalated)."""
    copy_example(project_dir)
    cassette = project_dir / "playbooks" / "launch-brief.cassette.yaml"
    entries = yaml.safe_load(cassette.read_text())
    answers(entries, "research")[0]["summary"] = LONG_SUMMARY
    cassette.write_text(yaml.safe_dump(entries, sort_keys=False))
    monkeypatch.delenv("CREW_USER", raising=False)
    monkeypatch.setenv("COLUMNS", "100")
    return project_dir


def test_the_owner_sees_the_escalated_output_in_full_before_deciding(
    crew_cli: Cli, project: Path
) -> None:
    started = json.loads(crew_cli(*RUN).out)
    card = started["waiting_on"][0]["card"]

    inbox = crew_cli("inbox", "--as", "alice")
    assert f"crew show {card}" in inbox.out

    shown = crew_cli("show", card, "--as", "alice")
    assert shown.code == 0, shown.err
    flat = " ".join(shown.out.replace("│", " ").split())
    assert LONG_SUMMARY in flat  # in full, not cut to one line
    assert "confidence 0.55 is below researcher's threshold 0.7" in flat  # why it waits
    assert "Research demand for Solar kettle in US." in flat  # the task the model was given
    assert "confidence 0.55 (self_report; threshold 0.7)" in flat
    assert "product: Solar kettle" in flat  # the run's inputs
    assert "escalated" in flat and "created" in flat  # its history
    assert "who may answer: alice" in flat
    for command in (
        f"crew answer {card} approve --as alice",
        f'crew answer {card} retry -m "guidance" --as alice',
        f"crew answer {card} edit --file EDITED.yaml --as alice",
        f'crew answer {card} reject -m "why" --as alice',
    ):
        assert command in flat


def test_show_json_extends_the_card_shape_with_what_is_needed_to_decide(
    crew_cli: Cli, project: Path
) -> None:
    card = json.loads(crew_cli(*RUN).out)["waiting_on"][0]["card"]
    data = json.loads(crew_cli("show", card, "--json").out)
    assert (data["card"], data["kind"], data["status"], data["assignee"]) == (
        card,
        "escalation",
        "escalated",
        "alice",
    )
    assert data["under_review"]["research"]["summary"] == LONG_SUMMARY
    assert data["task"] == "Research demand for Solar kettle in US."
    assert data["inputs"] == {"product": "Solar kettle", "markets": ["US"]}
    assert data["measured"]["method"] == "self_report"
    assert data["decisions"] == ["approve", "edit", "retry", "reject"]
    assert [e["event"] for e in data["history"]][:2] == ["created", "claimed"]


def test_a_checkpoint_shows_the_outputs_it_lists_in_show(crew_cli: Cli, project: Path) -> None:
    card = json.loads(crew_cli(*RUN).out)["waiting_on"][0]["card"]
    crew_cli("answer", card, "retry", "-m", "use the 2025 figures", "--as", "alice")
    (waiting,) = json.loads(crew_cli("inbox", "--as", "carol", "--json").out)
    shown = crew_cli("show", "legal_review", "--as", "carol")  # a step id works too
    assert shown.code == 0, shown.err
    assert f"card {waiting['card']} · checkpoint · waiting · legal_review" in shown.out
    assert "Approve this brief for publication?" in shown.out
    assert "draft · the output under review" in shown.out
    assert "triage · the output under review" in shown.out
    assert "Recommendation: launch in the US outdoor channel this spring." in shown.out
    assert "who may answer: carol, dan" in shown.out
    assert f"crew answer {waiting['card']} retry" not in shown.out  # checkpoints take no retry


def test_show_of_an_unknown_card_is_one_clear_line(crew_cli: Cli, project: Path) -> None:
    result = crew_cli("show", "c999")
    assert result.code == 2
    assert "c999" in result.err and "Traceback" not in result.err
