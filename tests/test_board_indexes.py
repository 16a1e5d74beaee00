"""Whatever way a card goes, the board's indexes say what its fields say: its status, finished,
the inbox of each person it waits on, the due index, the leases. And a card that stops running
has no worker and no lease, however it stopped."""

from __future__ import annotations

from typing import Any

import pytest
import redis
from support.board import FakeClock

from crew.board import Board, Card, CardStatus
from crew.board.texts import MARK

RUN = {"run": "r1", "playbook": "launch-brief", "owner": "alice"}


@pytest.fixture
def board(client: redis.Redis, unique_name: str, clock: FakeClock) -> Board:
    return Board(client, unique_name, clock=clock)


@pytest.fixture
def db(client: redis.Redis) -> Any:
    return client  # decodes; untyped for reading replies


def _indexes(board: Board, db: Any) -> dict[str, set[str]]:
    """Every index of the board (status, inbox, due, leases, finished) -> its card ids."""
    prefix = board.keys.prefix
    found: dict[str, set[str]] = {}
    for key in db.scan_iter(match=board.keys.pattern(), count=1000):
        name = key[len(prefix) :]
        if name.startswith(("status:", "inbox:")) or name in ("due", "leases", "finished"):
            members = set(db.zrange(key, 0, -1))
            if members:
                found[name] = members
    return found


def _expected(cards: list[Card]) -> dict[str, set[str]]:
    """The indexes the cards' own fields call for."""
    wanted: dict[str, set[str]] = {}

    def put(name: str, card: Card) -> None:
        wanted.setdefault(name, set()).add(card.id)

    for card in cards:
        put(f"status:{card.status}", card)
        if card.status.finished:
            put("finished", card)
        if card.status.waits_on_person:
            for person in {card.assignee, *card.may_answer}:
                put(f"inbox:{person}", card)
            if card.due is not None and card.overdue is None:
                put("due", card)
        if card.status is CardStatus.RUNNING:
            put("leases", card)
    return wanted


def _check(board: Board, db: Any) -> None:
    cards = board.cards_of_run("r1")
    assert _indexes(board, db) == _expected(cards)
    for card in cards:
        running = card.status is CardStatus.RUNNING
        assert (card.worker is not None) == running, card
        assert (card.lease_deadline is not None) == running, card
        assert (card.finished is not None) == card.status.finished, card


def _agent(board: Board, step: str = "research", **extra: Any) -> Card:
    return board.create_card(
        step=step, role="researcher", assignee="researcher", max_attempts=2, **RUN, **extra
    )


def _waiting(board: Board, step: str, *, kind: str = "checkpoint", due: float | None) -> Card:
    card = _agent(board, step)
    lease = board.claim(card.id, "w1", 30)
    return board.wait(
        card.id,
        lease.token,
        kind=kind,
        assignee="carol",
        allowed=["carol", "dan"],
        due=due,
        reason="Approve?",
        output={"brief": "x"},
    )


def test_every_transition_keeps_the_indexes_as_the_cards_say(
    board: Board, db: Any, clock: FakeClock
) -> None:
    done = _agent(board, "done")
    lease = board.claim(done.id, "w1", 30)
    _check(board, db)
    board.heartbeat(done.id, lease.token, 60)
    _check(board, db)
    board.complete(done.id, lease.token, output={"ok": True}, actor="w1")
    _check(board, db)

    retried = _agent(board, "retried")
    lease = board.claim(retried.id, "w1", 30)
    board.fail(retried.id, lease.token, reason="boom", actor="w1", retry=True)
    _check(board, db)
    lease = board.claim(retried.id, "w2", 30)
    board.fail(retried.id, lease.token, reason="boom again", actor="w2", retry=True)
    _check(board, db)  # attempts used up: failed

    started, _ = board.start_card(
        worker="w3",
        lease_seconds=5,
        step="started",
        **RUN,
        role="researcher",
        assignee="researcher",
    )
    _check(board, db)
    clock.advance(10)
    assert board.reap() == [started.id]
    _check(board, db)

    due = clock.now + 3600
    approved = _waiting(board, "approved", due=due)
    _check(board, db)
    board.reassign(approved.id, to="erin", actor="sla", reason="no answer", due=due + 60)
    _check(board, db)
    board.flag_overdue(approved.id, actor="sla", reason="nobody left")
    _check(board, db)
    board.reassign(approved.id, to="carol", actor="sla", reason="back", allowed=["carol"])
    _check(board, db)
    board.answer(approved.id, person="carol", decision="approve")
    _check(board, db)

    rejected = _waiting(board, "rejected", due=due)
    board.answer(rejected.id, person="dan", decision="reject", comment="no")
    _check(board, db)
    board.requeue(rejected.id, actor="crew", reason="revise")
    _check(board, db)

    escalated = _waiting(board, "escalated", kind="escalation", due=None)
    board.answer(escalated.id, person="carol", decision="retry", comment="again")
    _check(board, db)
    lease = board.claim(escalated.id, "w1", 30)
    board.wait(
        escalated.id,
        lease.token,
        kind="escalation",
        assignee="dan",
        allowed=["dan"],
        due=due,
        reason="still unsure",
    )
    _check(board, db)
    board.answer(escalated.id, person="dan", decision="edit", edited_output={"brief": "y"})
    _check(board, db)

    for step in ("cancel queued", "cancel running", "cancel waiting"):
        card = _agent(board, step)
        if step != "cancel queued":
            lease = board.claim(card.id, "w1", 30)
        if step == "cancel waiting":
            board.wait(
                card.id, lease.token, assignee="carol", allowed=["carol"], due=due, reason="?"
            )
        board.cancel(card.id, actor="alice", reason="not needed")
        _check(board, db)

    board.create_card(
        step="born waiting",
        kind="checkpoint",
        status="waiting",
        assignee="carol",
        allowed=["carol", "dan"],
        due=due,
        reason="Approve?",
        **RUN,
    )
    _check(board, db)
    statuses = {card.step: card.status for card in board.cards_of_run("r1")}
    assert statuses == {
        "done": "done",
        "retried": "failed",
        "started": "queued",
        "approved": "done",
        "rejected": "queued",
        "escalated": "done",
        "cancel queued": "cancelled",
        "cancel running": "cancelled",
        "cancel waiting": "cancelled",
        "born waiting": "waiting",
    }


@pytest.mark.parametrize(
    ("decision", "status"),
    [("approve", "done"), ("edit", "done"), ("reject", "rejected"), ("retry", "queued")],
)
def test_the_answer_script_moves_the_card_where_the_decision_says(
    board: Board, decision: str, status: str
) -> None:
    card = _waiting(board, "legal_review", kind="escalation", due=None)
    edited = {"brief": "fixed"} if decision == "edit" else None
    answered = board.answer(card.id, person="carol", decision=decision, edited_output=edited)

    assert answered.status == status
    event = board.events("r1")[-1]
    assert (event.event, event.detail) == (
        "answered",
        {"decision": decision, "comment": None, "status": status},
    )


def test_a_long_comment_is_stored_once_and_the_answer_event_still_names_the_new_status(
    board: Board, db: Any
) -> None:
    card = _waiting(board, "legal_review", due=None)
    comment = "Too vague about pricing. " * 200
    board.answer(card.id, person="dan", decision="reject", comment=comment)

    event = board.events("r1")[-1]
    assert list(event.detail.items()) == [
        ("decision", "reject"),
        ("comment", comment),
        ("status", "rejected"),
    ]
    raw = db.xrevrange(board.keys.run_events("r1"), count=1)[0][1]["detail"]
    assert raw.startswith(MARK) and len(raw) < 200  # the comment is one of the run's texts
