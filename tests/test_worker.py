"""`crew worker`: SLAs enforced, expired leases reaped, runs that can go on resumed — as a user
sees it (`--once`, its lines, the board afterwards), and with a fake clock where time matters.

Every command that touches the board sweeps SLAs too: `crew inbox` shows the backup a card its
first person let run past due, and the webhook server on 127.0.0.1 hears of it.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from support.board import FakeClock
from support.example import example_project
from support.imports import imports_of
from support.webhook import Hook, closed_port_url

from crew.board import Board, CardKind, CardStatus, Purged, RunStatus
from crew.connection import connect
from crew.engine.runtime import Session
from crew.persistence import RedisCheckpointSaver
from crew.spec.project import Project
from crew.worker import Worker

REPO = Path(__file__).resolve().parent.parent
Cli = Callable[..., Any]
RUN = ("run", "signoff", "--replay", "-i", "product=Solar kettle", "--json", "--as", "bob")


# A playbook of this test's own (the example cassettes change as the examples grow): a draft,
# carol's checkpoint on it, then publishing; replayed from a cassette written here.
SIGNOFF = """
name: signoff
description: Draft, get it approved, publish.
inputs:
  product: {type: string}
steps:
  - id: draft
    role: writer
    task: "Write a launch brief for {{inputs.product}}."
  - id: legal_review
    checkpoint:
      owner: carol
      question: Approve this brief for publication?
      show: [draft]
  - id: publish
    role: publisher
    needs: [legal_review]
    task: "Publish: {{steps.draft.brief}}"
"""
SIGNOFF_CASSETTE = """
draft:
  - {brief: "# Launch brief", confidence: 0.9, rationale: r}
publish:
  - {channel: blog, url: "https://example.com/b", confidence: 0.95, rationale: r}
"""


def with_signoff(project: Project) -> Project:
    from crew.spec.loader import load_project

    (project.root / "playbooks" / "signoff.yaml").write_text(SIGNOFF)
    (project.root / "playbooks" / "signoff.cassette.yaml").write_text(SIGNOFF_CASSETTE)
    return load_project(project.root)


@pytest.fixture
def example(project_dir: Path, hook: Hook, monkeypatch: pytest.MonkeyPatch) -> Project:
    monkeypatch.delenv("CREW_USER", raising=False)
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    return with_signoff(example_project(project_dir, hook.url))


def cli_board(project: Project, clock: FakeClock | None = None) -> Board:
    return Board(connect(project.redis_url()), project.board_name, clock=clock)


def waiting_run(crew_cli: Cli) -> tuple[str, str]:
    """A signoff run (replayed) stopped at carol's checkpoint: (run id, card id)."""
    result = crew_cli(*RUN)
    assert result.code == 3, result.err
    report = json.loads(result.out)
    return report["run"], report["waiting_on"][0]["card"]


def overdue_escalation(board: Board, **more: Any) -> str:
    """An escalation on alice (chain alice → bob, 2h SLA) already past its due time."""
    fields: dict[str, Any] = {
        "run": "r-esc",
        "playbook": "launch-brief",
        "step": "research",
        "kind": CardKind.ESCALATION,
        "role": "researcher",
        "assignee": "alice",
        "owner": "alice",
        "status": CardStatus.ESCALATED,
        "reason": "confidence 0.55 below 0.7",
        "due": board.now() - 1,
        "chain": ["alice", "bob"],
        "sla": 7200,
    }
    fields.update(more)
    return board.create_card(**fields).id


def test_worker_once_resumes_a_run_whose_answer_was_recorded_but_not_acted_on(
    crew_cli: Cli, example: Project
) -> None:
    run_id, card_id = waiting_run(crew_cli)
    board = cli_board(example)
    # The answering process recorded the decision, then died before resuming the run.
    board.answer(card_id, person="carol", decision="approve")
    assert board.get_run(run_id).status is RunStatus.WAITING

    result = crew_cli("worker", "--once")

    assert result.code == 0, result.err
    assert f"run {run_id} (signoff): resuming, an answer was recorded" in result.out
    assert f"run {run_id}: done" in result.out
    assert board.get_run(run_id).status is RunStatus.DONE
    assert [c.step for c in board.cards_of_run(run_id)][-1] == "publish"
    # nothing left to do: a second round says nothing
    again = crew_cli("worker", "--once")
    assert again.code == 0 and again.out == ""


def test_worker_leaves_a_waiting_run_nobody_answered_alone(crew_cli: Cli, example: Project) -> None:
    run_id, _ = waiting_run(crew_cli)
    result = crew_cli("worker", "--once")
    assert result.code == 0 and run_id not in result.out
    assert cli_board(example).get_run(run_id).status is RunStatus.WAITING


def test_worker_takes_over_a_run_whose_driver_lease_expired(
    crew_cli: Cli, example: Project
) -> None:
    run_id, card_id = waiting_run(crew_cli)
    clock = FakeClock(cli_board(example).now())
    board = cli_board(example, clock)
    board.answer(card_id, person="dan", decision="approve")
    # A driver picked the answer up, marked the run running, then crashed holding the lease.
    board.set_run_status(run_id, RunStatus.RUNNING, actor="dan")
    assert board.acquire_run(run_id, "laptop:4242", 30.0) is not None
    saver = RedisCheckpointSaver.from_url(
        example.redis_url(), namespace=f"crew:{{{example.board_name}}}:lg"
    )
    session = Session(project=example, board=board, saver=saver)
    lines: list[str] = []
    worker = Worker(session, say=lines.append)
    try:
        clock.advance(29)
        worker.round()
        assert lines == []  # the lease is still live: its holder may be working
        clock.advance(2)
        worker.run(interval=1, once=True)
    finally:
        session.close()
    assert f"run {run_id} (signoff): resuming, its driver stopped" in lines
    assert f"run {run_id}: done" in lines
    run = board.get_run(run_id)
    assert run.status is RunStatus.DONE
    takeover = [e for e in board.events(run_id) if e.event == "run_driver"][-1]
    assert takeover.detail["took_over_from"] == "laptop:4242"


def test_worker_once_moves_an_overdue_escalation_and_notifies_the_backup(
    crew_cli: Cli, example: Project, hook: Hook
) -> None:
    card_id = overdue_escalation(cli_board(example))
    result = crew_cli("worker", "--once")
    assert result.code == 0, result.err
    assert (
        f"card {card_id} (escalation research of run r-esc): not answered in time, "
        "now waits on bob" in result.out
    )
    [got] = hook.received  # --once waits for its webhooks
    assert got["person"] == "bob" and got["card"] == card_id
    assert f"card {card_id}: bob's webhook notified (attempt 1)" in result.out
    assert got["answer"] == f"crew answer {card_id} approve|reject|edit|retry --as bob"


def test_an_overdue_escalation_shows_in_the_backups_inbox_and_reaches_the_webhook(
    crew_cli: Cli, example: Project, hook: Hook
) -> None:
    board = cli_board(example)
    card_id = overdue_escalation(board)

    inbox = crew_cli("inbox", "--as", "bob", "--json")

    assert inbox.code == 0, inbox.err
    [card] = json.loads(inbox.out)
    assert (card["card"], card["assignee"], card["reason"]) == (
        card_id,
        "bob",
        "confidence 0.55 below 0.7",
    )
    assert json.loads(crew_cli("inbox", "--as", "alice", "--json").out) == []
    from crew.people.notify import close_shared_deliverers

    close_shared_deliverers(10)  # as the commands' exits do (a real one gives them a moment)
    [got] = hook.received
    assert (got["person"], got["card"], got["previous_assignee"]) == ("bob", card_id, "alice")
    assert "confidence 0.55 below 0.7" in got["text"]
    log = json.loads(crew_cli("log", "r-esc", "--json").out)
    moved = [e for e in log if e["event"] == "reassigned"]
    assert [(e["actor"], e["detail"]["from"], e["detail"]["to"]) for e in moved] == [
        ("crew", "alice", "bob")
    ]
    assert moved[0]["detail"]["reason"] == "no answer within 2h"
    assert any(e["event"] == "notified" for e in log)


def test_with_the_webhook_down_commands_and_runs_go_on_and_later_rounds_say_so_on_the_card(
    crew_cli: Cli, project_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from crew.people.notify import ATTEMPTS, BACKOFF

    monkeypatch.delenv("CREW_USER", raising=False)
    project = with_signoff(example_project(project_dir, closed_port_url()))
    board = cli_board(project)
    card_id = overdue_escalation(board)
    _, checkpoint = waiting_run(crew_cli)  # a run goes on while the webhook is down

    result = crew_cli("worker", "--once")

    assert result.code == 0, result.err
    card = board.get(card_id)
    assert card.assignee == "bob" and card.notified is None  # not given up: tried again later
    [pending] = board.outbox()
    assert pending.card == card_id and pending.attempts == 1
    assert pending.error is not None and "refused" in pending.error.lower()

    # later rounds, as the backoff of each attempt runs out
    clock = FakeClock(board.now())
    saver = RedisCheckpointSaver.from_url(
        project.redis_url(), namespace=f"crew:{{{project.board_name}}}:lg"
    )
    session = Session(project=project, board=cli_board(project, clock), saver=saver)
    lines: list[str] = []
    worker = Worker(session, say=lines.append)
    try:
        for attempt in range(1, ATTEMPTS):
            clock.advance(BACKOFF * 2 ** (attempt - 1))
            worker.round()
            assert worker.deliverer.flush(10)
    finally:
        worker.drain()
        session.close()
    card = board.get(card_id)
    assert card.notified is not None and card.notified["event"] == "notify_failed"
    assert card.notified["detail"]["attempts"] == ATTEMPTS
    said = [each for each in lines if each.startswith(f"card {card_id}: bob's webhook failed")]
    assert len(said) == ATTEMPTS - 1 and "(attempt 2: " in said[0]
    assert "tried again later" in said[0] and f"after {ATTEMPTS} attempts" in said[-1]
    assert "refused" in card.notified["detail"]["error"].lower()
    assert board.outbox() == []
    shown = json.loads(crew_cli("board", "--json").out)
    [mine] = [c for c in shown if c["card"] == card_id]
    assert mine["notified"]["event"] == "notify_failed"
    answered = crew_cli("answer", checkpoint, "approve", "--as", "carol", "--json")
    assert answered.code == 0, answered.err
    assert json.loads(answered.out)["status"] == "done"


def test_answering_a_step_already_answered_says_who_answered_first(
    crew_cli: Cli, example: Project
) -> None:
    _, card_id = waiting_run(crew_cli)
    assert crew_cli("answer", "legal_review", "approve", "--as", "carol").code == 0

    late = crew_cli("answer", "legal_review", "approve", "--as", "dan")

    assert late.code == 2
    assert f"card {card_id} (checkpoint legal_review of run" in late.err
    assert "already answered: approve by carol at" in late.err
    assert "no card" not in late.err and "Traceback" not in late.err


def test_answering_a_step_waiting_on_someone_else_names_who_may(
    crew_cli: Cli, example: Project
) -> None:
    waiting_run(crew_cli)
    refused = crew_cli("answer", "legal_review", "approve", "--as", "alice")
    assert refused.code == 2
    assert "alice may not answer card" in refused.err and "only carol or dan may" in refused.err


def test_worker_help_imports_nothing_heavy(example: Project) -> None:
    report = imports_of(["worker", "--help"], example.root)
    assert report["code"] in (0, None) and report["heavy"] == []


def test_a_board_command_with_an_overdue_card_imports_nothing_heavy(
    example: Project, redis_url: str
) -> None:
    overdue_escalation(cli_board(example))
    report = imports_of(["board", "--json"], example.root)
    assert report["code"] in (0, None) and report["heavy"] == []


def test_worker_stops_cleanly_on_sigterm(example: Project) -> None:
    import os
    import signal
    import subprocess
    import sys

    worker = subprocess.Popen(
        [sys.executable, "-c", "from crew.cli import main; main()", "worker", "--interval", "0.2"],
        cwd=example.root,
        env={**os.environ, "COLUMNS": "200"},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert worker.stdout is not None
        banner = worker.stdout.readline()  # printed once its signal handlers are installed
        assert f"worker on board {example.board_name}" in banner
        worker.send_signal(signal.SIGTERM)
        out, err = worker.communicate(timeout=20)
    finally:
        if worker.poll() is None:
            worker.kill()
    assert worker.returncode == 0, err
    assert "stopping after the runs in flight" in out and "Traceback" not in err


def test_after_an_sla_move_the_first_person_is_refused_and_the_board_is_unchanged(
    crew_cli: Cli, example: Project, redis_url: str
) -> None:
    import redis
    from support.board import dump_board

    card_id = overdue_escalation(cli_board(example))
    assert crew_cli("worker", "--once").code == 0
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    before = dump_board(client, example.board_name)

    refused = crew_cli("answer", card_id, "approve", "--as", "alice")

    assert refused.code == 2
    [line] = refused.err.strip().splitlines()
    assert f"alice may not answer card {card_id}" in line and "only bob may" in line
    assert dump_board(client, example.board_name) == before


def test_a_redis_blip_costs_the_worker_one_round_not_its_life() -> None:
    import types

    import redis

    from crew.people.notify import Deliverer
    from crew.spec.models import Retention

    lines: list[str] = []

    class FlakyBoard:
        rounds = 0

        def reap(self) -> list[str]:
            FlakyBoard.rounds += 1
            if FlakyBoard.rounds == 1:
                raise redis.ConnectionError("Connection refused")
            worker.stopping.set()
            return []

        def overdue(self, limit: int) -> list[Any]:
            return []

        def runs(self, limit: int) -> list[Any]:
            return []

        def beat_worker(self, state: Any, ttl: float) -> None:
            return None

        def leave_worker(self, worker: str) -> None:
            return None

        def index_older_runs(self) -> int:
            return 0

        def runs_lease_expired(self, limit: int) -> list[Any]:
            return []

        def runs_in(self, status: str, limit: int, *, offset: int = 0) -> list[Any]:
            return []

        def take_run(self, holder: str, lease_seconds: float) -> None:
            return None  # no run waits for a worker

        def now(self) -> float:
            return 0.0

        def claim_delivery(self, holder: str, **options: Any) -> None:
            return None  # no webhook delivery is due

        def purge(self, limit: int, *, older_than: float) -> Purged:
            return Purged(cards=0, runs=[])  # retention: nothing finished long ago

    flaky: Any = FlakyBoard()
    settings = types.SimpleNamespace(retention=Retention())
    project = types.SimpleNamespace(crew=types.SimpleNamespace(settings=settings))
    session = types.SimpleNamespace(
        board=flaky,
        deliverer=Deliverer(flaky),
        project=project,
        lease_seconds=30.0,
        holder="laptop:1:ab",
        models=None,  # no live model clients to prepare
    )
    worker = Worker(session, say=lines.append)  # type: ignore[arg-type]
    worker.run(interval=0.01)
    assert FlakyBoard.rounds == 2
    assert lines == ["round failed, trying again in 0.01s: Redis: Connection refused"]
