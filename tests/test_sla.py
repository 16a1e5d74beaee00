"""SLAs: a card nobody answers in time moves along its chain, its new assignee's webhook (a real
server on 127.0.0.1) hears of it, and what happened is on the card and in the audit log.

Time is a fake clock injected into the board; the webhook deliveries a move queues are made by
`Deliverer.deliver_due`, in the test's thread.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import pytest
import redis
from support.board import FakeClock, dump_board
from support.example import example_project
from support.webhook import Hook, closed_port_url

from crew.board import Board, Card, CardKind, CardStatus
from crew.connection import connect
from crew.exceptions import NotAllowed
from crew.people.notify import Deliverer
from crew.people.sla import enforce_slas, sweep
from crew.spec.project import Project

HOURS = 3600.0


@pytest.fixture
def board(redis_url: str, unique_name: str, clock: FakeClock) -> Board:
    return Board(connect(redis_url), unique_name, clock=clock)


@pytest.fixture
def project(project_dir: Path, hook: Hook) -> Project:
    return example_project(project_dir, hook.url)


def escalation(board: Board, clock: FakeClock, **more: Any) -> Card:
    """An escalation of the researcher role waiting on alice, due in 2h, chain alice → bob."""
    fields: dict[str, Any] = {
        "run": "r1",
        "playbook": "launch-brief",
        "step": "research",
        "kind": CardKind.ESCALATION,
        "role": "researcher",
        "assignee": "alice",
        "owner": "alice",
        "status": CardStatus.ESCALATED,
        "reason": "confidence 0.55 below 0.7",
        "due": clock.now + 2 * HOURS,
        "chain": ["alice", "bob"],
        "sla": 2 * HOURS,
    }
    fields.update(more)
    return board.create_card(**fields)


def test_an_escalation_past_its_sla_moves_to_the_backup_and_is_logged(
    project: Project, board: Board, clock: FakeClock
) -> None:
    card = escalation(board, clock)
    clock.advance(2 * HOURS - 1)
    assert sweep(project, board) == [] and board.get(card.id).assignee == "alice"

    clock.advance(2)
    [moved] = sweep(project, board)

    assert moved.id == card.id and moved.assignee == "bob" and moved.may_answer == ["bob"]
    assert moved.status is CardStatus.ESCALATED
    assert moved.reason == "confidence 0.55 below 0.7"  # why it waits has not changed
    assert moved.due == pytest.approx(clock.now + 2 * HOURS)
    assert [c.id for c in board.inbox("bob")] == [card.id]
    assert board.inbox("alice") == []
    moves = [e for e in board.events("r1") if e.event == "reassigned"]
    assert [(e.actor, e.detail["from"], e.detail["to"], e.detail["reason"]) for e in moves] == [
        ("crew", "alice", "bob", "no answer within 2h")
    ]


def test_past_the_end_of_the_chain_the_card_stays_and_is_flagged_overdue_once(
    project: Project, board: Board, clock: FakeClock
) -> None:
    card = escalation(board, clock)
    clock.advance(2 * HOURS + 1)
    sweep(project, board)
    clock.advance(2 * HOURS + 1)
    [flagged] = sweep(project, board)
    assert flagged.assignee == "bob" and flagged.overdue == clock.now
    assert flagged.status is CardStatus.ESCALATED
    assert [c.id for c in board.inbox("bob")] == [card.id]

    clock.advance(5 * HOURS)
    assert sweep(project, board) == []
    overdue = [e for e in board.events("r1") if e.event == "overdue"]
    assert len(overdue) == 1 and overdue[0].detail["assignee"] == "bob"
    assert "nobody after bob" in overdue[0].detail["reason"]
    assert board.get(card.id).to_json()["overdue"] is not None

    # bob still answers it
    assert board.answer(card.id, person="bob", decision="approve").status is CardStatus.DONE


def test_the_new_assignees_webhook_receives_who_what_why_and_the_answer_command(
    project: Project, board: Board, clock: FakeClock, hook: Hook
) -> None:
    card = escalation(board, clock)
    clock.advance(3 * HOURS)
    sweep(project, board)
    assert hook.received == []  # queued by the move, sent by whoever delivers
    assert Deliverer(board).deliver_due() == ["notified"]

    [got] = hook.received
    assert got["person"] == "bob" and got["card"] == card.id and got["run"] == "r1"
    assert (got["playbook"], got["step"], got["kind"]) == ("launch-brief", "research", "escalation")
    assert got["reason"] == "confidence 0.55 below 0.7"
    assert got["previous_assignee"] == "alice"
    assert got["answer"] == f"crew answer {card.id} approve|reject|edit|retry --as bob"
    notified = board.get(card.id).notified
    assert notified is not None and notified["event"] == "notified"
    assert notified["detail"]["ok"] is True and notified["detail"]["url"] == hook.url
    assert [e.event for e in board.events("r1")][-1] == "notified"


def test_a_webhook_that_is_down_fails_on_the_card_after_its_retries_and_the_sweep_goes_on(
    project_dir: Path, board: Board, clock: FakeClock
) -> None:
    project = example_project(project_dir, closed_port_url())
    card = escalation(board, clock)
    other = escalation(board, clock, run="r2")
    clock.advance(3 * HOURS)
    started = time.monotonic()
    moved = sweep(project, board)
    assert time.monotonic() - started < 1.0  # a move only queues its delivery
    assert {c.id for c in moved} == {card.id, other.id}
    deliverer = Deliverer(board, attempts=2, backoff=60)
    assert deliverer.deliver_due() == ["retry", "retry"]
    assert board.get(card.id).notified is None  # not failed yet: it is tried again
    clock.advance(59)
    assert deliverer.deliver_due() == []  # not before its backoff
    clock.advance(1)
    assert deliverer.deliver_due() == ["notify_failed", "notify_failed"]

    failed = board.get(card.id)
    assert failed.assignee == "bob" and failed.status is CardStatus.ESCALATED
    assert failed.notified is not None and failed.notified["event"] == "notify_failed"
    assert failed.notified["detail"]["attempts"] == 2
    assert "refused" in failed.notified["detail"]["error"].lower()
    events = [e for e in board.events("r1") if e.event == "notify_failed"]
    assert len(events) == 1 and events[0].detail["person"] == "bob"
    # recording the failure is not a transition: the card can still be answered at its version
    assert (
        board.answer(
            card.id, person="bob", decision="approve", expected_version=failed.version
        ).status
        is CardStatus.DONE
    )


def test_two_sweeps_at_once_move_each_card_once(
    project: Project, board: Board, clock: FakeClock, redis_url: str
) -> None:
    cards = [escalation(board, clock, run=f"r{i}") for i in range(20)]
    clock.advance(3 * HOURS)
    boards = [Board(connect(redis_url), board.name, clock=clock) for _ in range(4)]
    barrier = threading.Barrier(len(boards))
    results: list[list[Card]] = []

    def run(each: Board) -> None:
        barrier.wait()
        results.append(sweep(project, each))

    threads = [threading.Thread(target=run, args=(each,)) for each in boards]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(c.id for batch in results for c in batch) == sorted(c.id for c in cards)
    moves = [e for e in board.events() if e.event == "reassigned"]
    assert len(moves) == len(cards)
    assert all(board.get(c.id).assignee == "bob" for c in cards)


def test_after_a_move_the_previous_assignee_is_refused_and_nothing_changes(
    project: Project, board: Board, clock: FakeClock, redis_url: str
) -> None:
    card = escalation(board, clock)
    clock.advance(3 * HOURS)
    sweep(project, board)
    Deliverer(board).deliver_due()
    before = dump_board(redis.Redis.from_url(redis_url, decode_responses=True), board.name)
    with pytest.raises(NotAllowed, match="only bob may"):
        board.answer(card.id, person="alice", decision="approve")
    with pytest.raises(NotAllowed):
        board.answer(card.id, person="carol", decision="approve")
    after = dump_board(redis.Redis.from_url(redis_url, decode_responses=True), board.name)
    assert after == before


def test_a_checkpoint_moves_with_the_owners_delegates_still_allowed(
    project: Project, board: Board, clock: FakeClock
) -> None:
    card = board.create_card(
        run="r1",
        playbook="launch-brief",
        step="legal_review",
        kind=CardKind.CHECKPOINT,
        assignee="carol",
        owner="carol",
        status=CardStatus.WAITING,
        allowed=["carol", "dan"],
        due=clock.now + HOURS,
        chain=["carol", "alice"],
        sla=HOURS,
        reason="Approve the brief?",
    )
    clock.advance(HOURS + 1)
    [moved] = sweep(project, board)
    assert moved.assignee == "alice" and moved.may_answer == ["alice", "dan"]
    assert [c.id for c in board.inbox("dan")] == [card.id]
    assert board.inbox("carol") == []


def test_a_card_stored_without_a_chain_uses_the_roles_chain_and_sla(
    project: Project, board: Board, clock: FakeClock
) -> None:
    card = escalation(board, clock, chain=None, sla=None)
    clock.advance(2 * HOURS + 1)  # researcher.yaml: chain [alice, bob], sla 2h
    [moved] = sweep(project, board)
    assert moved.id == card.id and moved.assignee == "bob"
    assert moved.due == pytest.approx(clock.now + 2 * HOURS)


def test_a_sweep_that_fails_is_logged_not_raised(
    project: Project, caplog: pytest.LogCaptureFixture
) -> None:
    class Broken:
        def overdue(self, limit: int) -> list[Card]:
            raise redis.ConnectionError("connection refused")

    assert enforce_slas(project, Broken()) == []  # type: ignore[arg-type]
    assert "SLA sweep skipped: connection refused" in caplog.text


def test_a_move_to_a_person_without_a_webhook_queues_nothing(
    project: Project, board: Board, clock: FakeClock, hook: Hook
) -> None:
    card = escalation(board, clock, chain=["bob", "alice"], assignee="bob")
    clock.advance(3 * HOURS)
    [moved] = sweep(project, board)  # to alice, who has no webhook
    assert moved.assignee == "alice" and board.outbox() == []
    assert Deliverer(board).deliver_due() == []
    assert hook.received == [] and board.get(card.id).notified is None


def test_the_run_record_names_the_new_assignee_after_a_move(
    project: Project, board: Board, clock: FakeClock
) -> None:
    board.create_run("r1", playbook="launch-brief", inputs={}, started_by="alice")
    card = escalation(board, clock)
    entry = {
        "card": card.id,
        "step": "research",
        "kind": "escalation",
        "assignee": "alice",
        "reason": "confidence 0.55 below 0.7",
    }
    board.set_run_status("r1", "waiting", waiting_on=[entry], actor="crew")
    clock.advance(3 * HOURS)
    sweep(project, board)
    assert board.get_run("r1").waiting_on == [{**entry, "assignee": "bob"}]


@pytest.mark.parametrize("command", [["runs"], ["status", "r1"], ["inbox", "--as", "bob"]])
def test_commands_that_read_the_board_move_overdue_cards_first(
    project: Project, redis_url: str, unique_name: str, crew_cli: Any, command: list[str]
) -> None:
    board = Board(connect(redis_url), unique_name)  # the server's clock, as the CLI uses
    board.create_run("r1", playbook="launch-brief", inputs={}, started_by="alice")
    card = board.create_card(
        run="r1",
        playbook="launch-brief",
        step="research",
        kind=CardKind.ESCALATION,
        role="researcher",
        assignee="alice",
        owner="alice",
        status=CardStatus.ESCALATED,
        reason="confidence 0.55 below 0.7",
        due=board.now() - 1,
        chain=["alice", "bob"],
        sla=2 * HOURS,
    )
    crew_cli(*command)
    assert board.get(card.id).assignee == "bob"
