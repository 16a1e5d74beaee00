"""Webhook deliveries are durable: the transition that assigns a card queues its delivery on the
board (the outbox), and any crew process makes the attempts, each under a lease, retried with
backoff across processes, the outcome recorded on the card once. A command never waits on a
webhook for more than a moment.

Receivers are real servers on 127.0.0.1 (`support.webhook`); time is a fake clock injected into
the board wherever backoff and leases matter, so nothing sleeps through them.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
import yaml
from support.board import FakeClock
from support.example import copy_example
from support.webhook import Hang, Hook, closed_port_url

from crew.board import Board, Card, CardKind, CardStatus
from crew.connection import connect
from crew.engine.runtime import Session
from crew.people.notify import ATTEMPTS, BACKOFF, LEASE, Deliverer
from crew.persistence import RedisCheckpointSaver
from crew.spec.loader import load_project
from crew.worker import Worker

Cli = Callable[..., Any]
RUN_ARGS = ("-i", "product=Solar kettle", "--json", "--as", "alice")


@pytest.fixture
def hang() -> Iterator[Hang]:
    server = Hang()
    yield server
    server.close()


@pytest.fixture
def board(redis_url: str, unique_name: str, clock: FakeClock) -> Board:
    return Board(connect(redis_url), unique_name, clock=clock)


def escalation(board: Board, url: str | None, **more: Any) -> Card:
    """An escalation waiting on bob from the start, with `url` as bob's webhook."""
    fields: dict[str, Any] = {
        "run": "r1",
        "playbook": "launch-brief",
        "step": "research",
        "kind": CardKind.ESCALATION,
        "role": "researcher",
        "assignee": "bob",
        "owner": "alice",
        "status": CardStatus.ESCALATED,
        "reason": "confidence 0.55 below 0.7",
        "webhook": url,
    }
    fields.update(more)
    return board.create_card(**fields)


def another_process(board: Board, **options: Any) -> Deliverer:
    """A deliverer as another process has it: its own connection and holder, same clock."""
    kwargs = board.client.connection_pool.connection_kwargs
    url = f"redis://{kwargs['host']}:{kwargs['port']}/{kwargs.get('db', 0)}"
    other = Board(connect(url), board.name, clock=board.clock)
    return Deliverer(other, holder=f"other:{id(other)}", **options)


def events_of(board: Board, event: str) -> list[Any]:
    return [e for e in board.events("r1") if e.event == event]


# --- the acceptance check: a webhook that never answers ---------------------------------------


def test_a_run_exits_within_a_second_of_its_work_when_the_webhook_never_answers_and_the_worker_records_notify_failed(  # noqa: E501
    project_dir: Path, hang: Hang, crew_cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    copy_example(project_dir)
    team = yaml.safe_load((project_dir / "crew.yaml").read_text())
    team["people"]["alice"]["webhook"] = hang.url  # the researcher's owner
    team["people"]["bob"]["webhook"] = closed_port_url()  # never the example's real host
    (project_dir / "crew.yaml").write_text(yaml.safe_dump(team))
    monkeypatch.delenv("CREW_USER", raising=False)
    crew = Path(sys.executable).parent / "crew"

    ran = subprocess.run(
        [str(crew), "run", "launch-brief", "--replay", *RUN_ARGS],
        cwd=project_dir,
        env={**os.environ, "NO_COLOR": "1"},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    real = Board(connect(os.environ["CREW_REDIS_URL"]), os.environ["CREW_BOARD"])
    exited = real.now()  # the board's clock, like its audit events'

    assert ran.returncode == 3, ran.stderr  # escalated to alice: the run waits on her
    assert hang.accepted, "the run's process attempted the delivery"
    report = json.loads(ran.stdout)
    [waiting] = report["waiting_on"]
    # its work ended when it recorded that the run waits; it did not wait on the webhook
    worked = [e.at for e in real.events(report["run"]) if e.event == "run_waiting"][-1]
    assert exited - worked < 1.0
    [pending] = real.outbox()
    assert (pending.card, pending.person, pending.url) == (waiting["card"], "alice", hang.url)
    assert pending.attempts == 1 and pending.holder is not None  # cut short, under its lease

    # A worker (a later process) makes the other attempts as each comes due; one POST's
    # timeout is short here so the test does not wait out a real one.
    clock = FakeClock(real.now())
    board = Board(connect(os.environ["CREW_REDIS_URL"]), real.name, clock=clock)
    project = load_project(project_dir)
    saver = RedisCheckpointSaver.from_url(
        project.redis_url(), namespace=f"crew:{{{project.board_name}}}:lg"
    )
    session = Session(project=project, board=board, saver=saver)
    worker = Worker(session, deliverer=Deliverer(board, timeout=0.2))
    try:
        clock.advance(LEASE)
        for attempt in range(2, ATTEMPTS + 1):
            worker.round()
            assert worker.deliverer.flush(10)
            assert len(hang.accepted) == attempt
            clock.advance(BACKOFF * 2 ** (attempt - 1))
        worker.round()
        assert worker.deliverer.flush(10)
    finally:
        worker.drain()
        session.close()
    assert len(hang.accepted) == ATTEMPTS  # nothing after the last attempt

    log = json.loads(crew_cli("log", report["run"], "--json").out)
    failed = [e for e in log if e["event"] == "notify_failed"]
    assert len(failed) == 1 and not [e for e in log if e["event"] == "notified"]
    detail = failed[0]["detail"]
    assert (detail["url"], detail["person"], detail["attempts"]) == (hang.url, "alice", ATTEMPTS)
    assert detail["ok"] is False and detail["status"] is None
    assert detail["error"] == "timed out after 0.2s"
    assert real.outbox() == []


def test_any_command_delivers_what_is_due_and_still_exits_at_once(
    project_dir: Path, hang: Hang, hook: Hook, redis_url: str, unique_name: str
) -> None:
    copy_example(project_dir)
    real = Board(connect(redis_url), unique_name)
    hanging = escalation(real, hang.url)  # queued by some other process, never delivered
    answered = escalation(real, hook.url, run="r2")
    crew = Path(sys.executable).parent / "crew"

    shown = subprocess.run(
        [str(crew), "board", "--json"],
        cwd=project_dir,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    exited = time.monotonic()

    assert shown.returncode == 0, shown.stderr
    assert hang.accepted and exited - hang.accepted[0] < 1.0
    assert [m["card"] for m in hook.received] == [answered.id]
    assert real.get(answered.id).notified is not None
    [left] = real.outbox()  # cut short at exit: the next process makes it again
    assert (left.card, left.attempts) == (hanging.id, 1)


# --- delivering ----------------------------------------------------------------------------


def test_a_delivery_is_recorded_once_as_notified_and_leaves_the_outbox(
    board: Board, hook: Hook, redis_url: str
) -> None:
    card = escalation(board, hook.url)
    [queued] = board.outbox()
    assert (queued.card, queued.person, queued.attempts) == (card.id, "bob", 0)

    assert Deliverer(board).deliver_due() == ["notified"]
    assert another_process(board).deliver_due() == []  # nothing left to do

    [got] = hook.received
    assert got["card"] == card.id and got["person"] == "bob" and got["kind"] == "escalation"
    assert got["answer"] == f"crew answer {card.id} approve|reject|edit|retry --as bob"
    [event] = events_of(board, "notified")
    assert event.actor == "crew" and event.version == card.version
    assert event.detail == {
        "url": hook.url,
        "ok": True,
        "attempts": 1,
        "status": 200,
        "error": None,
        "person": "bob",
    }
    assert board.get(card.id).notified == {
        "event": "notified",
        "actor": "crew",
        "at": event.at,
        "detail": event.detail,
    }
    assert board.outbox() == []
    client = redis.Redis.from_url(redis_url)
    assert not client.exists(board.keys.deliveries(card.id), board.keys.outbox())


def test_a_failing_receiver_is_retried_with_backoff_by_later_processes(
    board: Board, hook: Hook, clock: FakeClock
) -> None:
    hook.statuses[:] = [500, 503, 429]
    card = escalation(board, hook.url, reason="why")

    assert Deliverer(board, backoff=10).deliver_due() == ["retry"]
    [entry] = board.outbox()
    assert entry.attempts == 1 and entry.holder is None
    assert (entry.status, entry.error) == (500, "HTTP 500 Internal Server Error")
    assert entry.next == pytest.approx(clock.now + 10)

    second = another_process(board, backoff=10)
    clock.advance(9.9)
    assert second.deliver_due() == []  # not before its backoff
    clock.advance(0.1)
    assert second.deliver_due() == ["retry"]
    assert board.outbox()[0].next == pytest.approx(clock.now + 20)  # doubled

    third = another_process(board, backoff=10)
    clock.advance(19.9)
    assert third.deliver_due() == []
    clock.advance(0.1)
    assert third.deliver_due() == ["retry"]  # the 429
    clock.advance(40)
    assert another_process(board, backoff=10).deliver_due() == ["notified"]

    assert len(hook.received) == 4 and all(m["card"] == card.id for m in hook.received)
    [event] = events_of(board, "notified")
    assert (event.detail["attempts"], event.detail["status"]) == (4, 200)
    assert events_of(board, "notify_failed") == [] and board.outbox() == []


def test_every_attempt_failing_is_recorded_once_as_notify_failed(
    board: Board, clock: FakeClock
) -> None:
    dead = closed_port_url()
    card = escalation(board, dead)
    deliverer = Deliverer(board, attempts=3, backoff=1)
    reports = []
    for _ in range(3):
        reports += deliverer.deliver_due()
        clock.advance(10)
    assert reports == ["retry", "retry", "notify_failed"]
    [event] = events_of(board, "notify_failed")
    assert event.detail["url"] == dead and event.detail["attempts"] == 3
    assert "refused" in event.detail["error"].lower() and event.detail["person"] == "bob"
    assert board.get(card.id).notified is not None
    assert board.outbox() == [] and deliverer.deliver_due() == []


def test_a_client_error_is_not_retried(board: Board, hook: Hook) -> None:
    hook.statuses[:] = [404]
    escalation(board, hook.url)
    assert Deliverer(board).deliver_due() == ["notify_failed"]
    [event] = events_of(board, "notify_failed")
    assert (event.detail["status"], event.detail["attempts"]) == (404, 1)
    assert event.detail["error"] == "HTTP 404 Not Found"


def test_two_processes_delivering_at_once_post_once_per_attempt(
    board: Board, hook: Hook, clock: FakeClock
) -> None:
    hook.statuses[:] = [500]  # the first attempt at the first card fails
    cards = [escalation(board, hook.url, run=f"r{i}") for i in range(8)]
    deliverers = [another_process(board, backoff=5) for _ in range(4)]

    def all_at_once() -> list[str]:
        barrier = threading.Barrier(len(deliverers))
        results: list[str] = []

        def deliver(each: Deliverer) -> None:
            barrier.wait()
            results.extend(each.deliver_due())

        threads = [threading.Thread(target=deliver, args=(each,)) for each in deliverers]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        return sorted(results)

    assert all_at_once() == ["notified"] * 7 + ["retry"]
    assert len(hook.received) == 8
    assert sorted(m["card"] for m in hook.received) == sorted(c.id for c in cards)
    clock.advance(5)
    assert all_at_once() == ["notified"]
    assert len(hook.received) == 9  # one POST per attempt
    assert len(events_of(board, "notified")) == 1  # of r1's card; the others are in their runs
    assert all(board.get(c.id).notified is not None for c in cards)


def test_an_attempt_cut_short_is_made_again_by_the_next_process_once_its_lease_runs_out(
    board: Board, hook: Hook, clock: FakeClock
) -> None:
    card = escalation(board, hook.url)
    # A process claimed the attempt, then exited before it could report.
    claimed = board.claim_delivery("laptop:4242", lease_seconds=LEASE, attempts=ATTEMPTS)
    assert claimed is not None and claimed.attempts == 1

    later = another_process(board)
    clock.advance(LEASE - 1)
    assert later.deliver_due() == []  # its lease keeps others off
    clock.advance(1)
    assert later.deliver_due() == ["notified"]
    [event] = events_of(board, "notified")
    assert event.detail["attempts"] == 2 and len(hook.received) == 1
    # the first claimer's late report changes nothing: the delivery is finished
    assert board.report_delivery(claimed, "retry", attempts=ATTEMPTS, backoff=1) == "gone"
    assert board.get(card.id).notified is not None and board.outbox() == []


def test_a_late_success_of_an_attempt_taken_over_still_counts(
    board: Board, clock: FakeClock
) -> None:
    escalation(board, closed_port_url())
    slow = board.claim_delivery("slow:1", lease_seconds=LEASE, attempts=ATTEMPTS)
    clock.advance(LEASE)
    fast = board.claim_delivery("fast:2", lease_seconds=LEASE, attempts=ATTEMPTS)
    assert slow is not None and fast is not None and fast.attempts == 2
    # the slow attempt's failure is stale; its success is the message getting there
    assert board.report_delivery(slow, "retry", attempts=ATTEMPTS, backoff=1) == "stale"
    assert board.report_delivery(slow, "ok", status=200, attempts=ATTEMPTS, backoff=1) == (
        "notified"
    )
    assert board.report_delivery(fast, "ok", status=200, attempts=ATTEMPTS, backoff=1) == "gone"
    assert len(events_of(board, "notified")) == 1


def test_closing_gives_a_hanging_webhook_a_moment_and_leaves_it_for_the_next_process(
    board: Board, hang: Hang
) -> None:
    escalation(board, hang.url)
    deliverer = Deliverer(board, timeout=30)
    deliverer.kick()
    assert hang.connected.wait(10)
    started = time.monotonic()
    deliverer.close(0.2)
    assert time.monotonic() - started < 0.5
    [entry] = board.outbox()
    assert entry.attempts == 1 and entry.holder == deliverer.holder
    deliverer.kick()  # closed: claims nothing more
    assert len(hang.accepted) == 1


# --- what queues a delivery ------------------------------------------------------------------


def test_waiting_and_moving_a_card_queue_a_delivery_only_for_people_with_a_webhook(
    board: Board, hook: Hook, clock: FakeClock
) -> None:
    quiet = escalation(board, None)
    checkpoint = escalation(board, None, status=CardStatus.QUEUED, kind=CardKind.AGENT)
    assert board.outbox() == []  # bob has no webhook here, and a queued card waits on nobody
    lease = board.claim(checkpoint.id, "w1", 30)
    board.wait(
        checkpoint.id,
        lease.token,
        kind=CardKind.CHECKPOINT,
        assignee="carol",
        allowed=["carol", "dan"],
        due=clock.now + 3600,
        reason="Approve this brief?",
        webhook=hook.url,
    )
    board.reassign(quiet.id, to="dan", actor="crew", reason="no answer", webhook=hook.url)
    board.reassign(quiet.id, to="erin", actor="crew", reason="no answer")  # no webhook
    assert sorted(e.person for e in board.outbox()) == ["carol", "dan"]

    assert sorted(Deliverer(board).deliver_due()) == ["notified", "notified"]
    by_person = {m["person"]: m for m in hook.received}
    assert by_person["carol"]["kind"] == "checkpoint"
    assert by_person["carol"]["reason"] == "Approve this brief?"
    assert by_person["carol"]["due"] is not None and by_person["carol"]["previous_assignee"] is None
    assert by_person["dan"]["previous_assignee"] == "bob" and by_person["dan"]["reason"] == (
        "no answer"
    )
    assert "moved from bob" in by_person["dan"]["text"]


def test_purging_a_finished_run_drops_the_deliveries_of_its_cards(
    board: Board, clock: FakeClock, redis_url: str
) -> None:
    card = escalation(board, closed_port_url())
    Deliverer(board).deliver_due()  # failed once, due again later
    assert len(board.outbox()) == 1
    board.cancel(card.id, actor="alice", reason="not needed")
    clock.advance(board.retention_seconds + 1)
    assert board.purge() == (1, [])
    assert board.outbox() == []
    client = redis.Redis.from_url(redis_url)
    assert not client.exists(board.keys.deliveries(card.id), board.keys.outbox())
