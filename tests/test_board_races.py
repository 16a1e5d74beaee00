"""The board under real concurrency and crashes: many processes, one winner; SIGKILLed holders.

The processes connect with `crew.connection.connect`, so `test_cluster.py` runs these same tests
on a Redis Cluster (a `redis+cluster://` URL)."""

from __future__ import annotations

import multiprocessing
import signal
import subprocess
import sys
import textwrap
from typing import Any

import pytest
import redis
from support.board import FakeClock

from crew import AlreadyDecided, LeaseLost, WrongStatus
from crew.board import Board, CardStatus
from crew.connection import connect

FORK = multiprocessing.get_context("fork")


@pytest.fixture
def board(client: redis.Redis, unique_name: str) -> Board:
    return Board(client, unique_name)


def new_card(board: Board, **extra: Any) -> str:
    fields: dict[str, Any] = {
        "run": "r1",
        "playbook": "p",
        "step": "research",
        "kind": "agent",
        "assignee": "researcher",
        "owner": "alice",
    }
    fields.update(extra)
    return board.create_card(**fields).id


def _claimer(url: str, name: str, card: str, worker: str, gate: Any, results: Any) -> None:
    board = Board(connect(url, check=False), name)
    gate.wait()
    try:
        board.claim(card, worker, 30)
        results.put(("won", worker))
    except WrongStatus as refused:
        results.put(("refused", str(refused)))


def _answerer(url: str, name: str, card: str, person: str, gate: Any, results: Any) -> None:
    board = Board(connect(url, check=False), name)
    gate.wait()
    try:
        board.answer(card, person=person, decision="approve", comment=f"from {person}")
        results.put(("recorded", person))
    except AlreadyDecided as refused:
        results.put(("refused", str(refused)))


def race(target: Any, args_per_process: list[tuple[Any, ...]]) -> list[tuple[str, str]]:
    gate = FORK.Event()
    results = FORK.Queue()
    processes = [FORK.Process(target=target, args=(*a, gate, results)) for a in args_per_process]
    for process in processes:
        process.start()
    gate.set()
    outcomes = [results.get(timeout=60) for _ in processes]
    for process in processes:
        process.join(timeout=60)
        assert process.exitcode == 0
    return outcomes


def test_twenty_processes_claim_one_card_and_exactly_one_wins(board: Board, redis_url: str) -> None:
    card = new_card(board)
    outcomes = race(_claimer, [(redis_url, board.name, card, f"w{i}") for i in range(20)])
    winners = [who for outcome, who in outcomes if outcome == "won"]
    assert len(winners) == 1
    refusals = [text for outcome, text in outcomes if outcome == "refused"]
    assert len(refusals) == 19
    assert all(f"card {card} is running (claimed by {winners[0]})" in r for r in refusals)
    claimed = board.get(card)
    assert (claimed.status, claimed.worker, claimed.attempt) == ("running", winners[0], 1)
    assert [e.event for e in board.events("r1")].count("claimed") == 1


def test_fifty_concurrent_answers_record_exactly_one(board: Board, redis_url: str) -> None:
    card = board.create_card(
        run="r1",
        playbook="p",
        step="legal_review",
        kind="checkpoint",
        assignee="carol",
        owner="carol",
        status="waiting",
        allowed=["carol", "dan"],
        reason="Approve?",
    ).id
    people = ["carol", "dan"] * 25
    outcomes = race(_answerer, [(redis_url, board.name, card, p) for p in people])
    recorded = [who for outcome, who in outcomes if outcome == "recorded"]
    assert len(recorded) == 1
    refusals = [text for outcome, text in outcomes if outcome == "refused"]
    assert len(refusals) == 49
    assert all(f"already answered: approve by {recorded[0]} at" in r for r in refusals)
    answered = board.get(card)
    assert answered.decision is not None and answered.decision.by == recorded[0]
    assert [e.event for e in board.events("r1")].count("answered") == 1


def _slow_worker(url: str, name: str, card: str, claimed: Any, go: Any, results: Any) -> None:
    board = Board(connect(url, check=False), name)
    lease = board.claim(card, "slow", 5)
    claimed.set()
    go.wait()
    try:
        board.complete(card, lease.token, output={"late": True}, actor="slow")
        results.put("completed")
    except LeaseLost as lost:
        results.put(str(lost))


def test_a_worker_whose_lease_expired_cannot_complete_after_another_claimed(
    board: Board, client: redis.Redis, redis_url: str
) -> None:
    card = new_card(board)
    claimed, go, results = FORK.Event(), FORK.Event(), FORK.Queue()
    slow = FORK.Process(
        target=_slow_worker, args=(redis_url, board.name, card, claimed, go, results)
    )
    slow.start()
    assert claimed.wait(timeout=60)
    later = Board(client, board.name, clock=FakeClock(board.now() + 6))  # past the 5s lease
    assert later.reap() == [card]
    fresh = board.claim(card, "fast", 30)
    go.set()
    outcome = results.get(timeout=60)
    slow.join(timeout=60)
    assert outcome.startswith(f"lease on card {card} lost: it is running by fast")
    board.complete(card, fresh.token, output={"on_time": True}, actor="fast")
    assert board.get(card).output == {"on_time": True}


HOLDER = textwrap.dedent(
    """
    import sys, threading, time
    from crew.board import Board
    from crew.connection import connect

    url, name, card = sys.argv[1:4]
    board = Board(connect(url, check=False), name)
    lease = board.claim(card, "doomed", 5)

    def beat():
        while True:
            board.heartbeat(card, lease.token, 5)
            time.sleep(1)

    threading.Thread(target=beat, daemon=True).start()
    print("claimed", lease.token, flush=True)
    while True:
        time.sleep(60)
    """
)


def claim_and_get_killed(redis_url: str, board: Board, card: str) -> None:
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, redis_url, board.name, card],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout is not None
    line = holder.stdout.readline()
    assert line.startswith("claimed"), line
    holder.send_signal(signal.SIGKILL)
    assert holder.wait(timeout=60) == -signal.SIGKILL


def test_the_reaper_reclaims_a_card_whose_holder_was_killed_and_fails_poison_work(
    board: Board, client: redis.Redis, redis_url: str
) -> None:
    card = new_card(board, max_attempts=3)
    for attempt in (1, 2, 3):
        claim_and_get_killed(redis_url, board, card)
        assert board.get(card).status is CardStatus.RUNNING
        later = Board(client, board.name, clock=FakeClock(board.now() + 6))
        assert later.reap() == [card]
        reaped = board.get(card)
        assert reaped.attempt == attempt
        assert reaped.status is (CardStatus.QUEUED if attempt < 3 else CardStatus.FAILED)
    assert board.get(card).reason == "lease of doomed expired (attempt 3 of 3)"
    with pytest.raises(WrongStatus, match="only a card that is queued can be claimed"):
        board.claim(card, "w9", 5)
