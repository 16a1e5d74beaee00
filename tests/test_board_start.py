"""`Board.start_card` (create and claim in one round trip) and the card JSON the scripts return."""

from __future__ import annotations

from typing import Any

import pytest
import redis
from support.board import FakeClock, dump_board

from crew import ConfigError, LeaseLost
from crew.board import Board, CardStatus


@pytest.fixture
def board(client: redis.Redis, unique_name: str) -> Board:
    return Board(client, unique_name, clock=FakeClock())


CARD: dict[str, Any] = {
    "run": "r1",
    "playbook": "launch-brief",
    "step": "research",
    "role": "researcher",
    "assignee": "researcher",
    "owner": "alice",
}


def test_a_started_card_is_running_under_its_lease_as_after_create_then_claim(
    board: Board,
) -> None:
    card, lease = board.start_card(worker="w1", lease_seconds=30, item="US", **CARD)

    assert (card.id, card.status, card.worker, card.attempt, card.version) == (
        "c1",
        CardStatus.RUNNING,
        "w1",
        1,
        2,
    )
    assert (lease.card, lease.token, lease.version) == ("c1", "1", 2)
    assert lease.deadline == card.lease_deadline == board.now() + 30
    assert card == board.get("c1")
    assert [(e.card, e.event, e.actor, e.version) for e in board.events("r1")] == [
        ("c1", "created", "alice", 1),
        ("c1", "claimed", "w1", 2),
    ]
    assert [c.id for c in board.cards(status="running")] == ["c1"]

    done = board.complete("c1", lease.token, output={"ok": True}, confidence=0.8, actor="w1")
    assert (done.status, done.output, done.version) == (CardStatus.DONE, {"ok": True}, 3)


def test_started_and_created_then_claimed_cards_leave_the_same_board(
    client: redis.Redis, unique_name: str
) -> None:
    clock = FakeClock()  # both boards' keys go with unique_name's cleanup
    one = Board(client, unique_name + "a", clock=clock)
    two = Board(client, unique_name + "b", clock=clock)
    one.start_card(worker="w1", lease_seconds=30, detail={"index": 0}, **CARD)
    created = two.create_card(kind="agent", detail={"index": 0}, **CARD)
    two.claim(created.id, "w1", 30)

    def normal(board: Board) -> dict[str, Any]:
        # Keys differ by the board's name, stream entries by their ids: compare the rest.
        return {
            key.replace(board.name, "B"): (value[0], [fields for _, fields in value[1]])
            if isinstance(value, tuple)
            else value
            for key, value in dump_board(client, board.name).items()
        }

    assert normal(one) == normal(two)


def test_start_checks_its_arguments_before_touching_the_board(
    board: Board, client: redis.Redis
) -> None:
    with pytest.raises(ConfigError, match="lease_seconds"):
        board.start_card(worker="w1", lease_seconds=0, **CARD)
    with pytest.raises(ConfigError, match="card kind"):
        board.start_card(worker="w1", lease_seconds=30, kind="chore", **CARD)
    assert dump_board(client, board.name) == {}


def test_a_started_cards_lease_is_fenced_like_a_claimed_one(board: Board) -> None:
    card, lease = board.start_card(worker="w1", lease_seconds=30, **CARD)
    board.fail(card.id, lease.token, reason="model down", actor="w1", retry=True)
    again = board.claim(card.id, "w2", 30)
    assert again.token == "2"
    with pytest.raises(LeaseLost):
        board.complete(card.id, lease.token, output={}, actor="w1")


@pytest.mark.parametrize(
    "output",
    [
        {"text": 'quotes " and \\ backslashes / slashes\nnew lines\ttabs'},
        {"text": "ünïcödé ✓ 日本語 🚀", "nested": {"list": [1, 2.5, None, True]}},
        {"control": "\u0001\u001f", "empty": "", "zero": 0},
        ["a list", {"of": "things"}],
        "just a string",
    ],
)
def test_cards_come_back_from_the_scripts_exactly_as_stored(board: Board, output: Any) -> None:
    """The scripts return a card as one JSON object; whatever the output holds survives it."""
    card = board.create_card(
        kind="checkpoint",
        status="waiting",
        allowed=["carol"],
        reason='Approve "this"?',
        output=output,
        detail={"question": "ok?"},
        **{**CARD, "assignee": "carol"},
    )
    assert card == board.get(card.id)
    assert card.output == output
    answered = board.answer(card.id, person="carol", decision="edit", edited_output=output)
    assert answered == board.get(card.id)
    assert answered.decision is not None and answered.decision.edited_output == output


def test_a_started_card_is_the_card_stored_on_the_server_clock(
    client: redis.Redis, unique_name: str
) -> None:
    """`start_card` builds its card from what it sent and what the script made up (id, time,
    lease), not from a read back: it must be exactly the stored card."""
    board = Board(client, unique_name)  # the server's clock, as in a real run
    card, lease = board.start_card(
        worker="w1",
        lease_seconds=30,
        item={"market": "ünïcödé ✓ 🚀", "quote": '"\\'},
        revision=2,
        max_attempts=5,
        detail={"task": "line\nbreak", "index": 0, "items": 1},
        actor="bob",
        **CARD,
    )
    assert card == board.get(card.id)
    assert lease.deadline == card.lease_deadline
