"""Escalations as their owners meet them through the CLI, against the loopback OpenAI-compatible
server: a low-confidence answer lands in the owner's inbox; retry asks the model again with the
owner's guidance (the server's request log shows it); edit is validated before anything is
recorded; approve has nothing to accept from an invalid answer; only the assignee may answer."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
import yaml
from support.board import FakeClock, dump_board
from support.cli import as_json
from support.example import copy_example, use_loopback
from support.terminal import Terminal
from support.webhook import Hook

from crew.board import Board
from crew.connection import connect
from crew.people.notify import ATTEMPTS, BACKOFF, Deliverer
from crew.testing import OpenAIServer

Cli = Callable[..., Any]
GUIDANCE = "use the 2025 figures"


def research(confidence: float, summary: str = "demand is growing") -> dict[str, Any]:
    return {
        "summary": summary,
        "risks": ["price"],
        "severity": "low",
        "score": 7,
        "confidence": confidence,
        "rationale": "r",
    }


DRAFT = {"brief": "# Brief", "confidence": 0.9, "rationale": "r"}


@pytest.fixture
def server(project_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[OpenAIServer]:
    """The example project, its models pointed at a loopback server (a live run, no cassette)."""
    copy_example(project_dir)
    monkeypatch.delenv("CREW_USER", raising=False)
    with OpenAIServer() as loopback:
        use_loopback(project_dir, loopback.url, max_retries=0)
        monkeypatch.setenv("CREW_TEST_LLM_KEY", "sk-test")
        yield loopback


def escalated(crew_cli: Cli) -> dict[str, Any]:
    """Start quick-brief; it must stop at an escalation of `research` to alice."""
    started = crew_cli("run", "quick-brief", "-i", "product=Solar kettle", "--json", "--as", "bob")
    assert started.code == 3, started.err
    report = as_json(started)
    assert report["status"] == "waiting"
    (waiting,) = report["waiting_on"]
    assert (waiting["step"], waiting["kind"], waiting["assignee"]) == (
        "research",
        "escalation",
        "alice",
    )
    return dict(report)


def board_state(unique_name: str, redis_url: str) -> dict[str, Any]:
    return dump_board(redis.Redis.from_url(redis_url), unique_name)


def test_low_confidence_lands_in_the_owners_inbox_and_retry_asks_again_with_the_guidance(
    crew_cli: Cli, server: OpenAIServer
) -> None:
    server.reply(
        research(0.55, "figures from 2023"), research(0.9, "2025 figures"), step="research"
    )
    server.reply(DRAFT, step="draft")
    report = escalated(crew_cli)
    (waiting,) = report["waiting_on"]
    assert "0.55" in waiting["reason"] and "0.7" in waiting["reason"]
    assert "research" not in report["outputs"]  # nothing flowed on
    assert server.calls_for("draft") == []

    inbox = as_json(crew_cli("inbox", "--as", "alice", "--json"))
    mine = [c for c in inbox if c["card"] == waiting["card"]]
    assert mine and mine[0]["kind"] == "escalation" and mine[0]["confidence"] == 0.55
    assert mine[0]["status"] == "escalated" and mine[0]["due"]

    answered = crew_cli(
        "answer", waiting["card"], "retry", "-m", GUIDANCE, "--as", "alice", "--json"
    )
    assert answered.code == 0, answered.err
    done = as_json(answered)
    assert done["status"] == "done"
    assert done["outputs"]["research"]["summary"] == "2025 figures"
    assert done["outputs"]["draft"]["brief"] == "# Brief"

    first, again = server.calls_for("research")[:2]
    assert GUIDANCE not in first.text and GUIDANCE in again.text

    log = as_json(crew_cli("log", report["run"], "--json"))
    decisions = [e for e in log if e["event"] == "answered"]
    assert [(e["actor"], e["detail"]["decision"]) for e in decisions] == [("alice", "retry")]
    assert decisions[0]["detail"]["comment"] == GUIDANCE


def test_run_prints_who_it_waits_on_and_the_answer_commands(
    crew_cli: Cli, server: OpenAIServer
) -> None:
    server.reply(research(0.55), step="research")
    text = crew_cli("run", "quick-brief", "-i", "product=Solar kettle", "--as", "bob")
    assert text.code == 3, text.err
    assert "waits on alice" in text.out and "escalation" in text.out
    assert "--as alice" in text.out and 'retry -m "guidance"' in text.out
    assert "escalated to alice" in text.err  # the progress line
    (run,) = as_json(crew_cli("runs", "--json"))
    status = crew_cli("status", run["run"])
    assert status.code == 0 and "escalated" in status.out
    assert "approve|edit|retry|reject --as alice" in status.out


def test_an_unsure_retry_is_escalated_again(crew_cli: Cli, server: OpenAIServer) -> None:
    server.reply(research(0.55), research(0.6), step="research")
    report = escalated(crew_cli)
    card = report["waiting_on"][0]["card"]
    again = crew_cli("answer", card, "retry", "-m", GUIDANCE, "--as", "alice", "--json")
    assert again.code == 3, again.err
    (waiting,) = as_json(again)["waiting_on"]
    assert waiting["kind"] == "escalation" and waiting["card"] != card
    assert "0.60" in waiting["reason"]


def test_an_invalid_edit_is_refused_with_the_problem_and_changes_nothing(
    crew_cli: Cli, server: OpenAIServer, project_dir: Path, unique_name: str, redis_url: str
) -> None:
    server.reply(research(0.55), step="research")
    server.reply(DRAFT, step="draft")
    card = escalated(crew_cli)["waiting_on"][0]["card"]
    bad = project_dir / "bad.yaml"
    bad.write_text("summary: fixed\nrisks: []\nseverity: urgent\nscore: 7\n")

    before = board_state(unique_name, redis_url)
    refused = crew_cli("answer", card, "edit", "--file", str(bad), "--as", "alice")
    assert refused.code == 2
    assert "severity" in refused.err and "urgent" in refused.err
    assert len(refused.err.strip().splitlines()) <= 2 and "Traceback" not in refused.err
    assert board_state(unique_name, redis_url) == before

    good = project_dir / "good.yaml"
    good.write_text("summary: checked by hand\nrisks: []\nseverity: medium\nscore: 6\n")
    edited = crew_cli("answer", card, "edit", "--file", str(good), "--as", "alice", "--json")
    assert edited.code == 0, edited.err
    research_output = as_json(edited)["outputs"]["research"]
    assert research_output["summary"] == "checked by hand"
    assert (
        research_output["confidence"] == 1.0 and research_output["rationale"] == "edited by alice"
    )
    assert len(server.calls_for("research")) == 1  # answering never calls the model


def test_only_the_assignee_may_answer_and_a_refusal_changes_nothing(
    crew_cli: Cli, server: OpenAIServer, unique_name: str, redis_url: str
) -> None:
    server.reply(research(0.55), step="research")
    server.reply(DRAFT, step="draft")
    card = escalated(crew_cli)["waiting_on"][0]["card"]
    before = board_state(unique_name, redis_url)
    for person in ("bob", "carol"):
        refused = crew_cli("answer", card, "approve", "--as", person)
        assert refused.code == 2, refused.out
        assert "only alice may" in refused.err and "Traceback" not in refused.err
    assert board_state(unique_name, redis_url) == before

    approved = crew_cli("answer", card, "approve", "--as", "alice", "--json")
    assert approved.code == 0, approved.err
    assert as_json(approved)["outputs"]["research"]["confidence"] == 0.55


def test_an_output_still_invalid_is_escalated_and_approve_is_refused_reject_ends_the_run(
    crew_cli: Cli, server: OpenAIServer
) -> None:
    server.reply("{not json", "{still not", {"summary": "no fields"}, step="research")
    report = escalated(crew_cli)
    (waiting,) = report["waiting_on"]
    assert "invalid after 3 attempts" in waiting["reason"]

    refused = crew_cli("answer", waiting["card"], "approve", "--as", "alice")
    assert refused.code == 2 and "no valid output to approve" in refused.err
    assert "edit" in refused.err and "retry" in refused.err

    rejected = crew_cli(
        "answer", waiting["card"], "reject", "-m", "no data", "--as", "alice", "--json"
    )
    assert rejected.code == 1, rejected.err
    ended = as_json(rejected)
    assert ended["status"] == "rejected" and "no data" in ended["reason"]
    assert server.calls_for("draft") == []


def test_a_failing_model_is_escalated_with_the_reason(crew_cli: Cli, server: OpenAIServer) -> None:
    server.reply(OpenAIServer.status(500, "upstream down", retry=False), step="research")
    server.reply(research(0.9), step="research")
    server.reply(DRAFT, step="draft")
    (waiting,) = escalated(crew_cli)["waiting_on"]
    assert "model call failed" in waiting["reason"]
    retried = crew_cli("answer", waiting["card"], "retry", "-m", "try again", "--as", "alice")
    assert retried.code == 0, retried.err


def give_alice_a_webhook(project_dir: Path, url: str) -> None:
    team = yaml.safe_load((project_dir / "crew.yaml").read_text())
    team["people"]["alice"]["webhook"] = url
    (project_dir / "crew.yaml").write_text(yaml.safe_dump(team))


def test_the_owner_with_a_webhook_is_told_of_the_escalation(
    crew_cli: Cli, server: OpenAIServer, project_dir: Path
) -> None:
    hooks = Hook()
    try:
        give_alice_a_webhook(project_dir, hooks.url)
        server.reply(research(0.55), step="research")
        card = escalated(crew_cli)["waiting_on"][0]["card"]
    finally:
        hooks.close()
    (body,) = hooks.received
    assert body["person"] == "alice" and body["card"] == card and body["kind"] == "escalation"
    assert "0.55" in body["reason"] and f"crew answer {card}" in body["answer"]
    shown = as_json(crew_cli("board", "--json"))
    (row,) = [c for c in shown if c["card"] == card]
    assert row["notified"]["event"] == "notified"


def test_a_dead_webhook_never_stops_the_run_and_is_recorded_on_the_card_after_its_retries(
    crew_cli: Cli, server: OpenAIServer, project_dir: Path
) -> None:
    hooks = Hook()
    dead = hooks.url
    hooks.close()  # nothing listens there any more
    give_alice_a_webhook(project_dir, dead)
    server.reply(research(0.55), step="research")
    server.reply(DRAFT, step="draft")
    card = escalated(crew_cli)["waiting_on"][0]["card"]
    board = Board(connect(os.environ["CREW_REDIS_URL"]), os.environ["CREW_BOARD"])
    (pending,) = board.outbox()  # the first attempt failed; the delivery waits for the next
    assert (pending.card, pending.person, pending.attempts) == (card, "alice", 1)
    # later processes make the other attempts as their backoff runs out
    clock = FakeClock(board.now())
    later = Deliverer(Board(board.client, board.name, clock=clock))
    for attempt in range(1, ATTEMPTS):
        clock.advance(BACKOFF * 2 ** (attempt - 1))
        later.deliver_due()
    shown = as_json(crew_cli("board", "--json"))
    (row,) = [c for c in shown if c["card"] == card]
    assert row["notified"]["event"] == "notify_failed"
    assert row["notified"]["detail"]["attempts"] == ATTEMPTS
    approved = crew_cli("answer", card, "approve", "--as", "alice")
    assert approved.code == 0, approved.err


def test_the_owner_answers_an_escalation_interactively_on_a_terminal(
    project_dir: Path, crew_cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The example's unsure research answer, shown to alice on a TTY; she asks for a retry."""
    copy_example(project_dir)
    monkeypatch.delenv("CREW_USER", raising=False)
    run = ["run", "launch-brief", "--replay", "-i", "product=Solar kettle", "--as", "alice"]
    terminal = Terminal(run, project_dir)
    terminal.read_until(b"or reject?")
    assert b"escalation" in terminal.seen and b"0.55" in terminal.seen
    terminal.type("retry")
    terminal.read_until(b"guidance")
    terminal.type(GUIDANCE)
    assert terminal.close() == 3, terminal.seen.decode(errors="replace")  # now carol's turn
    (run_row,) = as_json(crew_cli("runs", "--json"))
    (waiting,) = run_row["waiting_on"]
    assert waiting["step"] == "legal_review" and waiting["assignee"] == "carol"
    log = as_json(crew_cli("log", run_row["run"], "--json"))
    assert [e["detail"]["comment"] for e in log if e["event"] == "answered"] == [GUIDANCE]
