"""The board's Python API against real Redis: transitions, refusals, leases, indexes, runs."""

from __future__ import annotations

from typing import Any

import pytest
import redis
from support.board import FakeClock, dump_board

from crew import (
    AlreadyDecided,
    BoardError,
    CardNotFound,
    ConfigError,
    LeaseLost,
    NotAllowed,
    WrongStatus,
)
from crew.board import Board, Card, CardStatus, RunStatus


@pytest.fixture
def board(client: redis.Redis, unique_name: str, clock: FakeClock) -> Board:
    return Board(client, unique_name, clock=clock)


def agent_card(board: Board, **extra: Any) -> Card:
    fields: dict[str, Any] = {
        "run": "r1",
        "playbook": "launch-brief",
        "step": "research",
        "kind": "agent",
        "role": "researcher",
        "assignee": "researcher",
        "owner": "alice",
    }
    fields.update(extra)
    return board.create_card(**fields)


def waiting_card(board: Board, **extra: Any) -> Card:
    card = agent_card(board, **extra)
    lease = board.claim(card.id, "w1", 30)
    return board.wait(
        card.id,
        lease.token,
        kind="checkpoint",
        assignee="carol",
        allowed=["carol", "dan"],
        due=board.now() + 3600,
        reason="Approve this brief?",
    )


def test_a_card_goes_queued_running_done_and_every_step_is_in_the_log(board: Board) -> None:
    card = agent_card(board)
    assert (card.id, card.status, card.version, card.attempt) == ("c1", "queued", 1, 0)

    lease = board.claim(card.id, "w1", 30)
    done = board.complete(
        card.id, lease.token, output={"summary": "ok"}, confidence=0.9, actor="w1"
    )

    assert done.status is CardStatus.DONE
    assert (done.output, done.confidence, done.attempt, done.version) == (
        {"summary": "ok"},
        0.9,
        1,
        3,
    )
    events = board.events("r1")
    assert [(e.card, e.event, e.actor, e.version) for e in events] == [
        ("c1", "created", "alice", 1),
        ("c1", "claimed", "w1", 2),
        ("c1", "completed", "w1", 3),
    ]
    assert [e.event for e in board.events()] == ["created", "claimed", "completed"]
    assert board.events("r1", after=events[0].id)[0].event == "claimed"


def test_card_ids_are_short_and_count_up_in_base36(board: Board) -> None:
    ids = [agent_card(board).id for _ in range(37)]
    assert ids[:3] == ["c1", "c2", "c3"]
    assert ids[34:] == ["cz", "c10", "c11"]


def test_boards_sharing_one_redis_do_not_see_each_other(
    client: redis.Redis, unique_name: str, clock: FakeClock
) -> None:
    first = Board(client, unique_name + "-a", clock=clock)
    second = Board(client, unique_name + "-b", clock=clock)
    agent_card(first)
    assert first.get("c1").run == "r1"
    with pytest.raises(CardNotFound):
        second.get("c1")
    assert second.cards() == [] and second.events() == []


def test_a_second_claim_is_refused_and_changes_nothing(board: Board, client: redis.Redis) -> None:
    card = agent_card(board)
    board.claim(card.id, "w1", 30)
    before = dump_board(client, board.name)
    with pytest.raises(WrongStatus, match=r"card c1 is running \(claimed by w1\)"):
        board.claim(card.id, "w2", 30)
    assert dump_board(client, board.name) == before


def test_a_stale_lease_cannot_complete_after_another_worker_claimed_the_card(
    board: Board, client: redis.Redis, clock: FakeClock
) -> None:
    card = agent_card(board)
    stale = board.claim(card.id, "w1", 10)
    clock.advance(11)
    assert board.reap() == [card.id]
    fresh = board.claim(card.id, "w2", 10)
    assert int(fresh.token) > int(stale.token)

    before = dump_board(client, board.name)
    with pytest.raises(LeaseLost, match="lease on card c1 lost: it is running by w2"):
        board.complete(card.id, stale.token, output={}, actor="w1")
    with pytest.raises(LeaseLost):
        board.heartbeat(card.id, stale.token, 10)
    assert dump_board(client, board.name) == before
    assert board.complete(card.id, fresh.token, output={}, actor="w2").status is CardStatus.DONE


def test_heartbeats_keep_a_lease_from_being_reaped(board: Board, clock: FakeClock) -> None:
    card = agent_card(board)
    lease = board.claim(card.id, "w1", 10)
    clock.advance(8)
    assert board.heartbeat(card.id, lease.token, 10) == clock.now + 10
    clock.advance(8)
    assert board.reap() == []
    assert board.get(card.id).status is CardStatus.RUNNING


def test_the_reaper_counts_attempts_and_fails_poison_work(board: Board, clock: FakeClock) -> None:
    card = agent_card(board, max_attempts=2)
    board.claim(card.id, "w1", 5)
    clock.advance(6)
    assert board.reap() == [card.id]
    requeued = board.get(card.id)
    assert (requeued.status, requeued.attempt) == (CardStatus.QUEUED, 1)

    board.claim(card.id, "w2", 5)
    clock.advance(6)
    assert board.reap() == [card.id]
    failed = board.get(card.id)
    assert (failed.status, failed.attempt) == (CardStatus.FAILED, 2)
    assert failed.reason is not None and "attempt 2 of 2" in failed.reason
    assert [e.detail["status"] for e in board.events("r1") if e.event == "lease_expired"] == [
        "queued",
        "failed",
    ]


def test_fail_with_retry_requeues_until_attempts_run_out(board: Board) -> None:
    card = agent_card(board, max_attempts=2)
    lease = board.claim(card.id, "w1", 30)
    assert (
        board.fail(card.id, lease.token, reason="boom", actor="w1", retry=True).status == "queued"
    )
    lease = board.claim(card.id, "w1", 30)
    assert (
        board.fail(card.id, lease.token, reason="boom", actor="w1", retry=True).status == "failed"
    )


def test_waiting_cards_are_in_the_inbox_of_the_assignee_and_delegates_oldest_first(
    board: Board, clock: FakeClock
) -> None:
    first = waiting_card(board)
    clock.advance(5)
    second = waiting_card(board, step="legal_review")
    assert [c.id for c in board.inbox("carol")] == [first.id, second.id]
    assert [c.id for c in board.inbox("dan")] == [first.id, second.id]
    assert board.inbox("bob") == []
    assert first.status is CardStatus.WAITING and first.allowed == ["carol", "dan"]


def test_only_the_allowed_people_may_answer_and_nothing_changes_otherwise(
    board: Board, client: redis.Redis
) -> None:
    card = waiting_card(board)
    before = dump_board(client, board.name)
    with pytest.raises(NotAllowed, match=r"bob may not answer card c1 .*only carol or dan may"):
        board.answer(card.id, person="bob", decision="approve")
    assert dump_board(client, board.name) == before

    answered = board.answer(card.id, person="dan", decision="approve", comment="ship it")
    assert answered.status is CardStatus.DONE
    assert answered.decision is not None
    assert (answered.decision.by, answered.decision.comment, answered.decision.version) == (
        "dan",
        "ship it",
        card.version,
    )
    assert board.inbox("carol") == [] and board.inbox("dan") == []


def test_a_second_answer_is_refused_naming_who_answered_first(
    board: Board, client: redis.Redis
) -> None:
    card = waiting_card(board)
    board.answer(card.id, person="carol", decision="reject", comment="no")
    before = dump_board(client, board.name)
    with pytest.raises(AlreadyDecided, match=r"already answered: reject by carol at 20\d\d-"):
        board.answer(card.id, person="dan", decision="approve")
    assert dump_board(client, board.name) == before
    assert board.get(card.id).status is CardStatus.REJECTED


def test_answers_move_the_card_by_decision(board: Board) -> None:
    edited = board.answer(
        waiting_card(board).id, person="carol", decision="edit", edited_output={"brief": "v2"}
    )
    assert edited.status is CardStatus.DONE and edited.decision is not None
    assert edited.decision.edited_output == {"brief": "v2"}
    retried = board.answer(waiting_card(board).id, person="carol", decision="retry", comment="more")
    assert retried.status is CardStatus.QUEUED


def test_a_retried_card_can_wait_and_be_answered_again(board: Board) -> None:
    card = waiting_card(board)
    board.answer(card.id, person="carol", decision="retry")
    lease = board.claim(card.id, "w1", 30)
    board.wait(
        card.id,
        lease.token,
        kind="escalation",
        assignee="alice",
        allowed=["alice"],
        due=None,
        reason="low confidence",
    )
    assert board.answer(card.id, person="alice", decision="approve").status is CardStatus.DONE


def test_malformed_answers_are_refused_before_touching_the_board(
    board: Board, client: redis.Redis
) -> None:
    card = waiting_card(board)
    before = dump_board(client, board.name)
    with pytest.raises(ConfigError, match="unknown decision 'maybe'"):
        board.answer(card.id, person="carol", decision="maybe")
    with pytest.raises(ConfigError, match="needs the edited output"):
        board.answer(card.id, person="carol", decision="edit")
    with pytest.raises(CardNotFound, match="no card 'c404'"):
        board.answer("c404", person="carol", decision="approve")
    with pytest.raises(WrongStatus, match="version"):
        board.answer(card.id, person="carol", decision="approve", expected_version=1)
    with pytest.raises(WrongStatus, match="card c2 is queued"):
        board.answer(agent_card(board).id, person="researcher", decision="approve")
    after = dump_board(client, board.name)
    after.pop(board.keys.card("c2"))
    for key in (
        board.keys.seq(),
        board.keys.meta(),
        board.keys.status("queued"),
        board.keys.run_cards("r1"),
        board.keys.events(),
        board.keys.run_events("r1"),
    ):
        after.pop(key, None)
        before.pop(key, None)
    assert after == before


def test_reassign_moves_the_card_to_the_next_person(board: Board, clock: FakeClock) -> None:
    card = waiting_card(board)
    moved = board.reassign(
        card.id, to="bob", actor="sla", reason="carol did not answer in 4h", due=clock.now + 60
    )
    assert moved.assignee == "bob" and moved.allowed == ["bob"]
    assert board.inbox("carol") == [] and [c.id for c in board.inbox("bob")] == [card.id]
    with pytest.raises(NotAllowed, match="only bob may"):
        board.answer(card.id, person="carol", decision="approve")
    event = board.events("r1")[-1]
    assert (event.event, event.detail["from"], event.detail["to"]) == ("reassigned", "carol", "bob")
    with pytest.raises(WrongStatus):
        board.reassign(card.id, to="alice", actor="sla", reason="x", expected_version=1)


def test_overdue_lists_waiting_cards_past_due(board: Board, clock: FakeClock) -> None:
    card = waiting_card(board)
    assert board.overdue() == []
    clock.advance(3601)
    assert [c.id for c in board.overdue()] == [card.id]
    board.answer(card.id, person="carol", decision="approve")
    assert board.overdue() == []


def test_requeue_and_cancel(board: Board) -> None:
    card = waiting_card(board)
    assert board.requeue(card.id, actor="runtime", reason="revise").status is CardStatus.QUEUED
    assert board.inbox("carol") == []
    cancelled = board.cancel(card.id, actor="alice", reason="not needed")
    assert cancelled.status is CardStatus.CANCELLED
    with pytest.raises(WrongStatus, match="card c1 is cancelled"):
        board.cancel(card.id, actor="alice", reason="again")


def test_board_listing_by_run_status_and_counts(board: Board) -> None:
    first = agent_card(board)
    agent_card(board, run="r2")
    lease = board.claim(first.id, "w1", 30)
    board.complete(first.id, lease.token, output={}, actor="w1")
    assert [c.id for c in board.cards(run="r1")] == ["c1"]
    assert [c.id for c in board.cards(status="queued")] == ["c2"]
    assert [c.id for c in board.cards()] == ["c1", "c2"]
    assert board.counts()[CardStatus.DONE] == 1
    assert board.cards(finished_since=board.now() + 1) == [board.get("c2")]
    json_card = board.get("c2").to_json()
    assert list(json_card)[:10] == [
        "card",
        "run",
        "playbook",
        "step",
        "kind",
        "status",
        "assignee",
        "owner",
        "confidence",
        "due",
    ]


def test_finished_cards_and_runs_are_purged_after_the_retention(
    client: redis.Redis, unique_name: str, clock: FakeClock
) -> None:
    board = Board(client, unique_name, clock=clock, retention_seconds=100)
    board.create_run("r1", playbook="p", inputs={}, started_by="alice")
    card = agent_card(board)
    lease = board.claim(card.id, "w1", 30)
    board.complete(card.id, lease.token, output={}, actor="w1")
    board.set_run_status("r1", "done", actor="w1")
    clock.advance(50)
    assert board.purge() == (0, [])
    clock.advance(51)
    assert board.purge() == (1, ["r1"])
    with pytest.raises(CardNotFound):
        board.get(card.id)
    assert board.cards() == [] and board.runs() == [] and board.events("r1") == []
    leftovers = set(dump_board(client, board.name))
    # the report's roll-ups outlive the cards they count (totals, the days index and meta)
    rollups = {board.keys.rollup_total(), board.keys.rollup_days(), board.keys.rollup_meta()}
    assert leftovers == {board.keys.seq(), board.keys.meta(), board.keys.events(), *rollups}


def test_runs_record_status_and_refuse_changes_once_finished(board: Board) -> None:
    run = board.create_run("r1", playbook="launch-brief", inputs={"product": "x"}, started_by="ann")
    assert (run.status, run.inputs) == (RunStatus.RUNNING, {"product": "x"})
    with pytest.raises(BoardError, match="run 'r1' already exists"):
        board.create_run("r1", playbook="p", inputs={}, started_by="ann")
    waiting = [{"card": "c1", "step": "legal_review", "kind": "checkpoint", "assignee": "carol"}]
    assert (
        board.set_run_status("r1", "waiting", waiting_on=waiting, actor="ann").waiting_on == waiting
    )
    assert board.set_run_status("r1", "done", actor="ann").status is RunStatus.DONE
    with pytest.raises(WrongStatus, match="run r1 is already done"):
        board.set_run_status("r1", "running", actor="ann")
    with pytest.raises(BoardError, match="no run 'r9'"):
        board.get_run("r9")
    assert [e.event for e in board.events("r1")] == ["run_started", "run_waiting", "run_done"]
    assert [r.id for r in board.runs()] == ["r1"]


def test_one_process_drives_a_run_and_a_stale_driver_is_fenced(
    board: Board, clock: FakeClock
) -> None:
    board.create_run("r1", playbook="p", inputs={}, started_by="ann")
    first = board.acquire_run("r1", "host-a", 10)
    assert first is not None
    assert board.acquire_run("r1", "host-b", 10) is None
    assert board.renew_run("r1", first, 10) == clock.now + 10
    clock.advance(11)
    second = board.acquire_run("r1", "host-b", 10)
    assert second is not None and int(second) > int(first)
    with pytest.raises(LeaseLost, match="host-b holds it now"):
        board.renew_run("r1", first, 10)
    assert board.release_run("r1", first) is False
    assert board.release_run("r1", second) is True
    assert board.acquire_run("r1", "host-c", 10) is not None
    assert board.get_run("r1").driver == "host-c"
    takeover = [e for e in board.events("r1") if e.event == "run_driver"][1]
    assert takeover.detail == {"holder": "host-b", "took_over_from": "host-a"}


@pytest.mark.parametrize("bad", ["", "a{b}", "two words"])
def test_a_bad_board_name_is_a_config_error(client: redis.Redis, bad: str) -> None:
    with pytest.raises(ConfigError, match="invalid board name"):
        Board(client, bad)


def test_the_server_clock_drives_leases_on_redis_6_2_and_7(any_redis_url: str) -> None:
    import uuid

    db = redis.Redis.from_url(any_redis_url, decode_responses=True)
    board = Board(db, f"t{uuid.uuid4().hex[:12]}")
    try:
        card = agent_card(board)
        lease = board.claim(card.id, "w1", 30)
        assert abs(lease.deadline - (board.now() + 30)) < 5
        board.wait(
            card.id,
            lease.token,
            kind="escalation",
            assignee="alice",
            allowed=[],
            due=board.now() - 1,
            reason="low confidence",
        )
        assert [c.id for c in board.overdue()] == [card.id]
        assert board.answer(card.id, person="alice", decision="approve").status == "done"
        assert [e.event for e in board.events("r1")] == [
            "created",
            "claimed",
            "escalated",
            "answered",
        ]
    finally:
        keys = list(db.scan_iter(match=board.keys.pattern()))
        if keys:
            db.delete(*keys)


def test_many_cards_are_created_in_one_round_trip(board: Board) -> None:
    specs = [
        {
            "run": "r1",
            "playbook": "p",
            "step": "research",
            "kind": "agent",
            "assignee": "researcher",
            "owner": "alice",
            "item": market,
        }
        for market in ("US", "EU", "JP")
    ]
    cards = board.create_cards(specs)
    assert [(c.id, c.item) for c in cards] == [("c1", "US"), ("c2", "EU"), ("c3", "JP")]
    assert [c.id for c in board.cards_of_run("r1")] == ["c1", "c2", "c3"]


def test_the_log_names_who_created_a_card(board: Board) -> None:
    card = agent_card(board, actor="runner@host")
    assert card.created_by == "runner@host"
    assert board.events("r1")[0].actor == "runner@host"


def test_the_audit_streams_are_trimmed_to_their_limits(
    client: redis.Redis, unique_name: str, clock: FakeClock
) -> None:
    board = Board(client, unique_name, clock=clock, events_maxlen=200, run_events_maxlen=100)
    board.create_cards(
        [
            {
                "run": "r1",
                "playbook": "p",
                "step": "s",
                "kind": "agent",
                "assignee": "a",
                "owner": "alice",
            }
            for _ in range(2000)
        ]
    )
    # approximate trimming drops whole stream nodes (100 entries by default): bounded, not exact
    assert 200 <= client.xlen(board.keys.events()) < 400
    assert 100 <= client.xlen(board.keys.run_events("r1")) < 300
    assert board.events("r1", limit=10_000)[-1].card == "c1jk"  # the newest is kept


def test_a_client_returning_bytes_is_refused_up_front(redis_url: str) -> None:
    with pytest.raises(ConfigError, match="decode_responses=True"):
        Board(redis.Redis.from_url(redis_url), "b")
