"""Runs are indexed, not scanned (DESIGN §9): by status (queued, running, waiting), a queue for
workers and a takeover index of run leases; every read of a worker round is a bounded range, and a
round sees a run however many newer runs the board has.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import redis
from support.board import FakeClock

from crew.board import Board, RunStatus
from crew.worker import Worker


@pytest.fixture
def board(client: redis.Redis, unique_name: str, clock: FakeClock) -> Board:
    return Board(client, unique_name, clock=clock)


def new_run(board: Board, run_id: str, **options: Any) -> str:
    board.create_run(run_id, playbook="p", inputs={}, started_by="bob", **options)
    return run_id


def indexed(board: Board) -> dict[str, list[str]]:
    return {
        str(status): sorted(r.id for r in board.runs_in(status, 1000))
        for status in RunStatus
        if not status.finished
    }


def test_each_run_is_in_the_index_of_its_status_until_it_finishes(board: Board) -> None:
    new_run(board, "r1", queued=True)
    new_run(board, "r2")
    assert indexed(board) == {"queued": ["r1"], "running": ["r2"], "waiting": []}

    taken = board.take_run("w1", 30)
    assert taken is not None and taken[0] == "r1"
    board.set_run_status("r1", RunStatus.RUNNING, actor="w1")
    board.set_run_status("r2", RunStatus.WAITING, actor="crew", waiting_on=[{"card": "c1"}])
    assert indexed(board) == {"queued": [], "running": ["r1"], "waiting": ["r2"]}

    board.enqueue_run("r2", actor="carol", reason="answered")
    assert indexed(board)["queued"] == ["r2"] and [r.id for r in board.queued_runs()] == ["r2"]
    board.set_run_status("r1", RunStatus.DONE, actor="w1")
    board.cancel_run("r2", actor="bob", reason="no longer needed")

    assert indexed(board) == {"queued": [], "running": [], "waiting": []}
    assert board.count_runs() == dict.fromkeys(
        [RunStatus.QUEUED, RunStatus.RUNNING, RunStatus.WAITING], 0
    )
    assert board.queued_runs() == [] and board.take_run("w1", 30) is None


def test_a_lease_handed_back_puts_a_running_run_back_in_line(board: Board) -> None:
    new_run(board, "r1", queued=True)
    run_id, token = board.take_run("w1", 30) or ("", "")
    board.set_run_status(run_id, RunStatus.RUNNING, actor="w1")

    assert board.release_run(run_id, token)

    run = board.get_run(run_id)
    assert run.status is RunStatus.QUEUED and run.driver is None
    assert [r.id for r in board.queued_runs()] == [run_id]
    assert board.events(run_id)[-1].event == "run_queued"
    assert board.take_run("w2", 30) == (run_id, "2")  # a new fencing token


def test_the_takeover_index_holds_driven_runs_until_their_lease_runs_out(
    board: Board, clock: FakeClock
) -> None:
    new_run(board, "r1", takeover=10)  # `crew run` has 10 s to take the lease
    assert board.runs_lease_expired() == []
    clock.advance(11)
    assert [r.id for r in board.runs_lease_expired()] == ["r1"]
    token = board.acquire_run("r1", "laptop", 30)
    assert token is not None and board.runs_lease_expired() == []
    clock.advance(20)
    board.renew_run("r1", token, 30)
    clock.advance(29)
    assert board.runs_lease_expired() == []
    clock.advance(2)
    assert [r.id for r in board.runs_lease_expired()] == ["r1"]
    board.set_run_status("r1", RunStatus.DONE, actor="laptop")
    assert board.runs_lease_expired() == []


def test_purge_drops_a_run_from_every_index_and_frees_its_key(board: Board) -> None:
    new_run(board, "r1", queued=True, key="k")
    assert new_run(board, "r2", queued=True, key="k") and board.runs(10)[0].id == "r1"
    board.cancel_run("r1", actor="bob", reason="test")
    assert board.purge(older_than=0).runs == ["r1"]

    assert board.create_run("r3", playbook="p", inputs={}, started_by="b", key="k").id == "r3"
    assert [k for k in board.client.scan_iter(match=f"*{board.name}*:r1*")] == []
    assert "r1" not in str(indexed(board))


class _Session:
    """What `Worker.resumable` reads of a session: the board and the lease length."""

    def __init__(self, board: Board) -> None:
        self.board = board
        self.lease_seconds = 30.0
        self.holder = "test-worker"
        self.draining = None
        from crew.people.notify import Deliverer

        self.deliverer = Deliverer(board)


@pytest.fixture
def worker(board: Board) -> Iterator[Worker]:
    session: Any = _Session(board)
    made = Worker(session, runs_scanned=5)
    yield made
    made.drain()


def test_a_round_reads_a_window_of_waiting_runs_and_reaches_every_one_in_turn(
    board: Board, worker: Worker, clock: FakeClock
) -> None:
    for n in range(12):
        new_run(board, f"r{n:02}")
        board.set_run_status(f"r{n:02}", RunStatus.WAITING, actor="crew", waiting_on=[])
        clock.advance(1)
    card = board.create_card(
        run="r00",
        playbook="p",
        step="ok",
        kind="checkpoint",
        assignee="carol",
        owner="carol",
        status="waiting",
    )
    board.set_run_status("r00", RunStatus.WAITING, actor="crew", waiting_on=[{"card": card.id}])
    board.answer(card.id, person="carol", decision="approve")  # nobody acted on it

    found = [[r.id for r in worker.resumable()] for _ in range(3)]

    # r00 is now the newest in the waiting index: the third window of 5 reaches it
    assert found == [[], [], ["r00"]]


def test_runs_recorded_before_the_indexes_are_indexed_when_a_worker_starts(
    board: Board, clock: FakeClock
) -> None:
    new_run(board, "r1")
    new_run(board, "r2")
    board.set_run_status("r2", RunStatus.WAITING, actor="crew", waiting_on=[])
    new_run(board, "r3")
    board.set_run_status("r3", RunStatus.DONE, actor="crew")
    # as an older crew left them: no status index, no takeover entry
    for status in ("running", "waiting", "queued"):
        board.client.delete(board.keys.runs_status(status))
    board.client.delete(board.keys.run_leases())

    assert board.index_older_runs() == 2
    assert indexed(board) == {"queued": [], "running": ["r1"], "waiting": ["r2"]}
    clock.advance(1)
    assert [r.id for r in board.runs_lease_expired()] == ["r1"]  # a worker takes it over
    assert board.index_older_runs() == 0


def test_concurrent_submissions_with_one_key_make_one_run(board: Board) -> None:
    from concurrent.futures import ThreadPoolExecutor

    def submit(n: int) -> str:
        run = board.create_run(
            f"r{n}", playbook="p", inputs={}, started_by="hook", queued=True, key="ticket-1"
        )
        return run.id

    with ThreadPoolExecutor(10) as pool:
        ids = set(pool.map(submit, range(10)))

    assert len(ids) == 1
    assert [r.id for r in board.queued_runs()] == list(ids)
    assert [r.id for r in board.runs(20)] == list(ids)
