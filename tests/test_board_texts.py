"""Long text is stored once per run (issue 8, item 3): a run's inputs, the tasks that quote them,
the run record and both audit streams refer to one copy, and everything reads back unchanged."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
import yaml
from support.example import answers, copy_example

from crew.board import Board, BoardKeys
from crew.board.texts import MARK

Cli = Callable[..., Any]
BIG = 500_000


class Counting(redis.Redis):
    """A client that counts the commands it sends (a script call is one)."""

    sent = 0

    def execute_command(self, *args: Any, **options: Any) -> Any:
        Counting.sent += 1
        return super().execute_command(*args, **options)


@pytest.fixture
def client(redis_url: str) -> Iterator[redis.Redis]:
    db = Counting.from_url(redis_url, decode_responses=True)
    yield db
    db.close()


@pytest.fixture
def board(client: redis.Redis, unique_name: str) -> Board:
    return Board(client, unique_name)


def memory(client: redis.Redis, name: str) -> dict[str, int]:
    """Bytes Redis uses for each key of board `name` (MEMORY USAGE, every element counted)."""
    db: Any = client
    return {
        key: int(db.memory_usage(key, samples=0) or 0)
        for key in db.scan_iter(match=BoardKeys(name).pattern(), count=1000)
    }


def test_a_run_with_a_500kb_input_takes_less_than_3x_that_in_redis(
    crew_cli: Cli,
    project_dir: Path,
    client: redis.Redis,
    unique_name: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    copy_example(project_dir)
    cassette = project_dir / "playbooks" / "launch-brief.cassette.yaml"
    entries = yaml.safe_load(cassette.read_text())
    answers(entries, "research")[0]["confidence"] = 0.86  # confident: on to the checkpoint
    cassette.write_text(yaml.safe_dump(entries, sort_keys=False))
    crew_yaml = project_dir / "crew.yaml"
    crew_yaml.write_text(crew_yaml.read_text() + "  limits: {task: 1MB}\n")
    monkeypatch.delenv("CREW_USER", raising=False)
    product = "Solar kettle " + "x" * BIG  # quoted by the research and draft tasks
    (project_dir / "in.json").write_text(json.dumps({"product": product}))

    result = crew_cli("run", "launch-brief", "--replay", "--as", "alice", "--inputs", "in.json")
    assert result.code == 3, result.err  # at Carol's checkpoint

    used = memory(client, unique_name)
    assert sum(used.values()) < 3 * BIG, sorted(used.items(), key=lambda kv: -kv[1])[:8]
    # ... and every copy a user sees is whole.
    (run,) = json.loads(crew_cli("runs", "--json").out)
    board = Board(client, unique_name)
    assert board.get_run(run["run"]).inputs["product"] == product
    tasks = {c.step: c.detail["task"] for c in board.cards_of_run(run["run"]) if c.kind == "agent"}
    assert tasks["research"] == f"Research demand for {product} in US."
    assert tasks["draft"].startswith(f"Write a launch brief for {product} from this research:")
    log = json.loads(crew_cli("log", run["run"], "--json").out)
    started = next(e for e in log if e["event"] == "run_started")
    assert started["detail"]["inputs"]["product"] == product
    cards = json.loads(crew_cli("board", "--json").out)
    assert {c["step"] for c in cards} >= {"research", "draft", "triage", "legal_review"}


def test_long_fields_are_stored_once_and_read_back_unchanged(
    board: Board, client: redis.Redis, unique_name: str, redis_url: str
) -> None:
    db: Any = client
    inputs = {"brief": "b" * 10_000, "notes": ["n" * 5000, "short"]}
    board.create_run("r1", playbook="p", inputs=inputs, started_by="alice")
    task = f"Summarise: {inputs['brief']}\nand {inputs['notes'][0]}."
    card, lease = board.start_card(
        worker="w",
        lease_seconds=30,
        run="r1",
        playbook="p",
        step="s",
        assignee="writer",
        owner="alice",
        detail={"task": task},
    )
    output = {"summary": "s" * 8000, "quote": inputs["brief"]}
    done = board.complete(card.id, lease.token, output=output, actor="writer")

    assert done.output == output and done.detail["task"] == task
    fresh = Board.from_url(redis_url, unique_name)  # another process: nothing cached
    assert fresh.get(card.id).output == output
    assert fresh.get(card.id).detail["task"] == task
    assert fresh.get_run("r1").inputs == inputs
    events = fresh.events("r1")
    assert events[0].detail["inputs"] == inputs
    # Redis holds each long string once: the task and the output refer to the input's texts.
    stored = db.hgetall(BoardKeys(unique_name).card(card.id))
    assert stored["detail"].startswith(MARK) and stored["output"].startswith(MARK)
    texts = db.hgetall(BoardKeys(unique_name).run_texts("r1"))
    joined = "".join(texts.values())
    assert joined.count("b" * 10_000) == 1 and joined.count("n" * 5000) == 1
    assert sum(map(len, texts.values())) < 10_000 + 5000 + 8000 + 200


def test_small_fields_cost_no_extra_round_trip(
    board: Board, redis_url: str, unique_name: str
) -> None:
    other = Board.from_url(redis_url, unique_name)  # the card was made by another process
    other.create_run("r1", playbook="p", inputs={"topic": "kettles"}, started_by="alice")
    card, lease = other.start_card(
        worker="w",
        lease_seconds=30,
        run="r1",
        playbook="p",
        step="s",
        assignee="writer",
        owner="alice",
        detail={"task": "Write about kettles."},
    )
    Counting.sent = 0
    board.complete(card.id, lease.token, output={"text": "t" * 1000}, actor="writer")
    assert Counting.sent == 1  # the script call, nothing else
    Counting.sent = 0
    assert board.get(card.id).output == {"text": "t" * 1000}
    assert Counting.sent == 1


def test_a_purged_run_takes_its_texts_with_it(
    board: Board, client: redis.Redis, unique_name: str
) -> None:
    db: Any = client
    keys = BoardKeys(unique_name)
    board.create_run("r1", playbook="p", inputs={"brief": "b" * 10_000}, started_by="alice")
    board.create_card(
        run="r2",
        playbook="p",
        step="s",
        assignee="writer",
        owner="alice",
        output={"long": "l" * 10_000},
    )  # a card of a run with no run record
    assert db.exists(keys.run_texts("r1"), keys.run_texts("r2")) == 2
    board.set_run_status("r1", "done", actor="alice")
    for card in board.cards(run="r2"):
        board.cancel(card.id, actor="alice", reason="done with it")

    board.retention_seconds = 0
    board.purge()

    assert db.exists(keys.run_texts("r1"), keys.run_texts("r2")) == 0
