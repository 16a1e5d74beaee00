"""A Redis that may evict keys is refused (or, with settings.allow_eviction, warned about), and a
board that lost keys never hands out a card id or a run id again."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
import yaml
from support.board import dump_board
from support.example import copy_example
from support.redis_server import RedisServer, server_binaries, start_server

from crew.board import Board, BoardKeys
from crew.connection import connect
from crew.exceptions import BoardError, RedisUnavailable, RunExists
from crew.persistence import thread_keys

Cli = Callable[..., Any]
RUN = ("run", "launch-brief", "--replay", "-i", "product=Solar kettle", "--as", "bob")
EVICTING = ("--maxmemory", "2mb", "--maxmemory-policy", "allkeys-lru")
# The real entry point in a process of its own, so stderr is what a user's terminal shows.
CREW = [sys.executable, "-c", "import sys; from crew.cli import main; sys.argv[0] = 'crew'; main()"]


@pytest.fixture
def servers(tmp_path: Path) -> Iterator[Callable[..., RedisServer]]:
    """Start redis-servers of this test (stopped by pid at the end)."""
    started: list[RedisServer] = []

    def start(*args: str, binary: str | None = None) -> RedisServer:
        server = start_server(tmp_path / f"redis{len(started)}", *args, binary=binary)
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


@pytest.fixture
def example(project_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    copy_example(project_dir)
    monkeypatch.delenv("CREW_USER", raising=False)
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    return project_dir


def allow_eviction(project: Path) -> None:
    crew_yaml = project / "crew.yaml"
    spec = yaml.safe_load(crew_yaml.read_text())
    spec["settings"]["allow_eviction"] = True
    crew_yaml.write_text(yaml.safe_dump(spec, sort_keys=False))


def one_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    return lines[0]


# --- the policy, checked at connect -------------------------------------------------------------


@pytest.mark.parametrize(
    "binary",
    sorted(server_binaries()),
    ids=lambda binary: "redis" + ".".join(map(str, server_binaries()[binary])),
)
def test_a_redis_that_evicts_keys_is_refused_naming_the_policy_and_the_fix(
    crew_cli: Cli,
    example: Path,
    servers: Callable[..., RedisServer],
    monkeypatch: pytest.MonkeyPatch,
    binary: str,
) -> None:
    server = servers(*EVICTING, binary=binary)
    monkeypatch.setenv("CREW_REDIS_URL", server.url)
    for args in (("board",), RUN):
        result = crew_cli(*args)
        assert result.code == 2, result.err
        line = one_line(result.err)
        assert f"Redis at {server.url} evicts keys when it is full" in line
        assert "maxmemory-policy allkeys-lru, maxmemory 2MB" in line
        assert "CONFIG SET maxmemory-policy noeviction" in line
        assert "settings.allow_eviction: true" in line
    assert server.client().dbsize() == 0  # refused before anything was written


def test_with_allow_eviction_crew_warns_once_and_works(
    example: Path, servers: Callable[..., RedisServer], unique_name: str
) -> None:
    server = servers(*EVICTING)
    allow_eviction(example)
    env = {**os.environ, "CREW_REDIS_URL": server.url}
    result = subprocess.run(
        [*CREW, *RUN], cwd=example, env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 3, result.stderr  # the run waits at its checkpoint
    warning = f"Redis at {server.url} evicts keys when it is full (maxmemory-policy allkeys-lru"
    assert result.stderr.count(warning) == 1, result.stderr
    assert "going on because settings.allow_eviction is true" in result.stderr
    assert "crew answer" in result.stdout
    assert server.client().exists(BoardKeys(unique_name).card("c1"))


def test_a_policy_without_a_memory_limit_never_evicts_and_is_accepted(
    crew_cli: Cli,
    example: Path,
    servers: Callable[..., RedisServer],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    # maxmemory 0: no limit, so no policy ever evicts anything (the check says why it passes).
    server = servers("--maxmemory-policy", "allkeys-lru")
    monkeypatch.setenv("CREW_REDIS_URL", server.url)
    result = crew_cli(*RUN)
    assert result.code == 3, result.err
    assert "evicts" not in result.err + caplog.text


def test_without_permission_for_config_the_policy_is_read_from_info(
    servers: Callable[..., RedisServer],
) -> None:
    server = servers(*EVICTING)
    server.client().acl_setuser(
        "crew", enabled=True, passwords=["+pw"], keys=["*"], commands=["+@all", "-config"]
    )
    url = f"redis://crew:pw@127.0.0.1:{server.port}/0"
    with pytest.raises(redis.exceptions.NoPermissionError):
        redis.Redis.from_url(url).config_get("maxmemory-policy")
    with pytest.raises(RedisUnavailable, match="maxmemory-policy allkeys-lru, maxmemory 2MB"):
        connect(url)


def test_the_policy_is_read_once_per_server_per_process(
    servers: Callable[..., RedisServer],
) -> None:
    server = servers("--maxmemory", "64mb")  # noeviction (the default) with a limit: accepted
    for _ in range(3):
        connect(server.url).ping()
    stats = server.client().info("commandstats")  # CONFIG GET: cmdstat_config(|get) by version
    assert sum(s["calls"] for name, s in stats.items() if name.startswith("cmdstat_config")) == 1


def test_a_full_redis_that_keeps_every_key_refuses_writes_in_one_clear_line(
    crew_cli: Cli,
    example: Path,
    servers: Callable[..., RedisServer],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    server = servers("--maxmemory", "3mb")  # noeviction, the default policy
    client = server.client()
    with pytest.raises(redis.exceptions.OutOfMemoryError):
        for i in range(10_000):
            client.set(f"filler{i}", "x" * 10_000)
    monkeypatch.setenv("CREW_REDIS_URL", server.url)
    result = crew_cli(*RUN)
    assert result.code == 2, result.err
    line = one_line(result.err)
    assert "Redis is full: it reached its maxmemory and refuses writes; nothing was changed" in line
    assert not [key for key in client.scan_iter() if not key.startswith("filler")]


def test_the_embedded_redis_never_evicts(tmp_path: Path) -> None:
    from crew.connection import ensure_embedded_redis, stop_embedded_redis

    directory = tmp_path / ".crew" / "redis"
    try:
        client = connect(ensure_embedded_redis(directory))
        assert client.config_get("maxmemory-policy") == {"maxmemory-policy": "noeviction"}
        assert client.config_get("maxmemory") == {"maxmemory": "0"}
    finally:
        stop_embedded_redis(directory)


# --- ids: never handed out twice ----------------------------------------------------------------


def test_a_lost_id_counter_is_refused_instead_of_reusing_c1(
    crew_cli: Cli, example: Path, redis_url: str, unique_name: str
) -> None:
    assert crew_cli(*RUN).code == 3
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    keys = BoardKeys(unique_name)
    cards = {
        key: client.hgetall(key)
        for key in client.scan_iter(match=keys.card("*"))
        if key.count(":") == keys.card("c1").count(":")  # not card:<id>:transcript etc.
    }
    count = client.get(keys.seq())
    client.delete(keys.seq())  # as an eviction would

    refused = crew_cli(*RUN)
    assert refused.code == 2, refused.err
    line = one_line(refused.err)
    assert f"the board's id counter ({keys.seq()}) is missing" in line
    assert "was Redis evicting keys or restored from an old backup?" in line
    assert f"redis-cli SET '{keys.seq()}' {count}" in line  # the way out, with the number
    assert {key: client.hgetall(key) for key in cards} == cards  # c1... untouched
    assert not client.exists(keys.seq())

    # following the hint, the board goes on after the last card
    client.set(keys.seq(), count)
    assert crew_cli(*RUN).code == 3
    assert {key: client.hgetall(key) for key in cards} == cards


@pytest.fixture
def board(redis_url: str, unique_name: str) -> Board:
    return Board(connect(redis_url), unique_name)


NEW_CARD: dict[str, Any] = {
    "run": "r1",
    "playbook": "launch-brief",
    "step": "research",
    "assignee": "researcher",
    "owner": "alice",
}


def test_creating_or_starting_a_card_never_overwrites_an_existing_one(board: Board) -> None:
    board.create_card(**NEW_CARD)  # c1; the counter says 1
    client = board.client
    # c2 is there already: the counter went back (a restore mixed with newer keys, an eviction)
    client.hset(board.keys.card("c2"), mapping={"id": "c2", "run": "r0", "step": "older"})
    before = dump_board(client, board.name)
    message = re.escape(
        "card c2 already exists: the board's id counter went back — was Redis evicting keys "
        "or restored from an old backup? Nothing was created or overwritten"
    )
    with pytest.raises(BoardError, match=message):
        board.create_card(**NEW_CARD)
    with pytest.raises(BoardError, match=message):
        board.start_card(worker="w1", lease_seconds=30, **NEW_CARD)
    with pytest.raises(BoardError, match=message):
        board.create_cards([NEW_CARD, NEW_CARD])
    assert dump_board(client, board.name) == before


def test_a_missing_counter_on_a_board_that_had_cards_is_refused(board: Board) -> None:
    board.create_card(**NEW_CARD)
    board.client.delete(board.keys.seq(), board.keys.meta())  # both lost: the indexes tell
    before = dump_board(board.client, board.name)
    with pytest.raises(BoardError, match=r"id counter .* is missing .* nothing was created"):
        board.start_card(worker="w1", lease_seconds=30, **NEW_CARD)
    assert dump_board(board.client, board.name) == before


def test_a_new_board_starts_at_c1(board: Board) -> None:
    board.create_run("r1", playbook="launch-brief", inputs={}, started_by="alice")
    assert board.create_card(**NEW_CARD).id == "c1"  # a run before the first card is no loss


@pytest.mark.parametrize("left", ["run_cards", "run_events", "run_state", "runs"])
def test_a_run_id_is_not_reused_while_anything_of_its_run_is_left(board: Board, left: str) -> None:
    run_id = "team/r1"  # the LangGraph state's key percent-encodes it
    board.create_run(run_id, playbook="launch-brief", inputs={}, started_by="alice")
    board.create_card(**{**NEW_CARD, "run": run_id})
    client = board.client
    (state,) = thread_keys(board.keys.run_state_namespace(), run_id)
    client.hset(state, "checkpoint", "1")
    kept = {
        "run_cards": board.keys.run_cards(run_id),
        "run_events": board.keys.run_events(run_id),
        "run_state": state,
        "runs": board.keys.runs(),
    }[left]
    for key in client.scan_iter(match=board.keys.pattern()):
        if key not in (kept, board.keys.seq()):
            client.delete(key)  # lost with the run record, as an eviction would lose them
    with pytest.raises(RunExists, match="run 'team/r1' already exists"):
        board.create_run(run_id, playbook="launch-brief", inputs={}, started_by="bob")
