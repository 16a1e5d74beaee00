"""The tamper-evident audit trail (DESIGN §8, issue 11): each event of a run carries the hash of
the one before, and `crew audit verify [RUN] [--json]` names every event where the trail does
not hold (exit 1), or says all holds (exit 0).

The tampering is what someone with write access to the Redis could do by hand: rewrite a stream
entry (a stream cannot edit one in place: the stream is rebuilt with the same ids), delete one,
edit a card's decision fields."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from pathlib import Path
from typing import Any

import redis
from support.cli import RUN, as_json

from crew.board.audit import event_hash

Cli = Callable[..., Any]


def finished_run(crew_cli: Cli, comment: str = "ship it") -> tuple[str, str]:
    """Bob's run, approved by carol with `comment`; returns (run, checkpoint card)."""
    report = as_json(crew_cli(*RUN, "--json"))
    card = report["waiting_on"][0]["card"]
    assert crew_cli("answer", card, "approve", "-m", comment, "--as", "carol").code == 0
    return report["run"], card


def stream_key(board: str, run: str) -> str:
    return f"crew:{{{board}}}:run:{run}:events"


def rewrite(client: redis.Redis, key: str, entry_id: str, **changes: str) -> None:
    """Rebuild the stream `key` with entry `entry_id`'s fields changed, every id kept."""
    entries = client.xrange(key)
    client.delete(key)
    for eid, fields in entries:
        client.xadd(key, {**fields, **changes} if eid == entry_id else fields, id=eid)


def verify(crew_cli: Cli, *args: str) -> tuple[int, dict[str, Any]]:
    result = crew_cli("audit", "verify", *args, "--json")
    return result.code, as_json(result)


def test_every_event_of_a_run_carries_the_hash_of_the_one_before(
    crew_cli: Cli, example: Path, client: redis.Redis, unique_name: str
) -> None:
    run, _ = finished_run(crew_cli)

    entries = client.xrange(stream_key(unique_name, run))

    assert entries[0][1]["prev"] == ""
    for (_, before), (_, after) in itertools.pairwise(entries):
        assert after["prev"] == before["hash"]
    for _, fields in entries:
        assert fields["hash"] == event_hash(fields)  # Lua's redis.sha1hex, recomputed
    code, report = verify(crew_cli, run)
    assert code == 0 and report["ok"] is True
    (checked,) = report["runs"]
    assert checked["events"] == len(entries) and checked["breaks"] == []
    assert crew_cli("audit", "verify").code == 0  # every run of the board


def test_an_edited_event_makes_verify_exit_1_naming_it(
    crew_cli: Cli, example: Path, client: redis.Redis, unique_name: str
) -> None:
    run, card = finished_run(crew_cli)
    key = stream_key(unique_name, run)
    (answered,) = [(i, f) for i, f in client.xrange(key) if f["event"] == "answered"]
    entry_id, fields = answered
    rewrite(client, key, entry_id, actor="dan", detail=fields["detail"].replace("ship", "sink"))

    code, report = verify(crew_cli, run)
    text = crew_cli("audit", "verify", run)

    assert code == 1 and report["ok"] is False
    # The chain names the edited event; the card, which still says carol's words, disagrees.
    broken, disagrees, *_ = report["runs"][0]["breaks"]
    assert (broken["event"], broken["name"], broken["card"], broken["what"]) == (
        entry_id,
        "answered",
        card,
        "hash",
    )
    assert (disagrees["event"], disagrees["what"]) == (entry_id, "card")
    assert broken["found"] == fields["hash"] and broken["expected"] != fields["hash"]
    assert text.code == 1
    assert f"event {entry_id} (answered {card}): hash: its fields changed after it was" in text.out
    assert f"    expected {broken['expected'][:12]}, found {fields['hash'][:12]}" in text.out


def test_a_deleted_event_breaks_the_chain_at_the_next_one(
    crew_cli: Cli, example: Path, client: redis.Redis, unique_name: str
) -> None:
    run, _ = finished_run(crew_cli)
    key = stream_key(unique_name, run)
    entries = client.xrange(key)
    client.xdel(key, entries[3][0])

    code, report = verify(crew_cli, run)

    assert code == 1
    (broken,) = report["runs"][0]["breaks"]
    assert (broken["event"], broken["what"]) == (entries[4][0], "prev")
    assert (broken["expected"], broken["found"]) == (entries[2][1]["hash"], entries[3][1]["hash"])


def test_deleting_the_newest_events_is_detected_by_the_run_record(
    crew_cli: Cli, example: Path, client: redis.Redis, unique_name: str
) -> None:
    run, _ = finished_run(crew_cli)
    key = stream_key(unique_name, run)
    entries = client.xrange(key)
    client.xdel(key, entries[-1][0], entries[-2][0])

    code, report = verify(crew_cli, run)

    assert code == 1
    (broken,) = report["runs"][0]["breaks"]
    assert (broken["event"], broken["what"], broken["expected"]) == (
        entries[-3][0],
        "head",
        entries[-1][1]["hash"],
    )


def test_a_decision_edited_on_the_card_afterwards_is_named(
    crew_cli: Cli, example: Path, client: redis.Redis, unique_name: str
) -> None:
    run, card = finished_run(crew_cli)
    client.hset(f"crew:{{{unique_name}}}:card:{card}", "comment", "never approved")

    code, report = verify(crew_cli, run)

    assert code == 1
    (broken,) = report["runs"][0]["breaks"]
    events = as_json(crew_cli("log", run, "--json"))
    (answered,) = [e for e in events if e["event"] == "answered"]
    assert (broken["event"], broken["card"], broken["what"]) == (answered["id"], card, "card")
    assert broken["expected"] == "comment 'ship it'"
    assert broken["found"] == "comment 'never approved'"


def test_a_long_text_an_event_refers_to_is_checked_too(
    crew_cli: Cli, example: Path, client: redis.Redis, unique_name: str
) -> None:
    run, _ = finished_run(crew_cli, comment="a long comment " * 200)  # stored as a run text
    texts = f"crew:{{{unique_name}}}:run:{run}:texts"
    name = next(n for n, t in client.hgetall(texts).items() if "a long comment" in t)
    client.hset(texts, name, "a different comment " * 150)

    code, report = verify(crew_cli, run)

    assert code == 1
    broken = report["runs"][0]["breaks"][0]
    assert (broken["name"], broken["what"], broken["expected"]) == ("answered", "text", name)


def test_verify_of_an_unknown_run_is_a_one_line_error(crew_cli: Cli, example: Path) -> None:
    result = crew_cli("audit", "verify", "r-nope")

    assert result.code == 2
    assert "r-nope" in result.err and len(result.err.strip().splitlines()) == 1


def test_a_decision_recorded_as_verified_without_a_signature_is_a_break(
    crew_cli: Cli, example: Path, redis_url: str, unique_name: str
) -> None:
    from crew.board import Board

    report = as_json(crew_cli(*RUN, "--json"))
    run, card = report["run"], report["waiting_on"][0]["card"]
    board = Board(redis.Redis.from_url(redis_url, decode_responses=True), unique_name)
    # Someone calling the board's answer script with a made-up proof.
    board.answer(
        card,
        person="carol",
        decision="approve",
        proof={"verified": "1", "verified_by": "signed"},
        proof_detail={"verified": True, "verified_by": "signed"},
    )

    code, audit = verify(crew_cli, run)

    assert code == 1
    (broken,) = audit["runs"][0]["breaks"]
    assert (broken["card"], broken["what"], broken["found"]) == (card, "signature", "none")
