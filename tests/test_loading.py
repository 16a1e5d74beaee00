"""A Redis that is loading its data (after a restart) is waited for, with a line saying so,
instead of "cannot reach Redis ... Start the server"."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from support.redis_server import LoadingProxy, RedisServer, newest_binary, start_server

from crew.board import Board
from crew.connection import connect
from crew.exceptions import RedisUnavailable
from crew.persistence import RedisCheckpointSaver

CREW = [sys.executable, "-c", "import sys; from crew.cli import main; sys.argv[0] = 'crew'; main()"]
CREW_YAML = "name: test-team\npeople:\n  alice: {name: Alice Chen}\n"
NEW_CARD = {"run": "r1", "playbook": "p", "step": "research", "assignee": "a", "owner": "alice"}


@pytest.fixture
def server(tmp_path: Path) -> Iterator[RedisServer]:
    started = start_server(tmp_path / "redis")
    yield started
    started.stop()


def slowly_loading_server(directory: Path) -> RedisServer:
    """A redis-server loading an 8 MB snapshot a key at a time (~2.5 s), answering meanwhile."""
    binary, version = newest_binary()
    first = start_server(directory, binary=binary)
    client = first.client()
    pipe = client.pipeline(transaction=False)
    for i in range(2000):
        pipe.set(f"k{i}", os.urandom(4096))  # random: the snapshot cannot be compressed
    pipe.execute()
    client.save()
    first.stop()
    # key-load-delay: microseconds per key. Redis 7 answers clients every N loaded bytes; 6.2
    # every 2 MB, so it gets longer to load to be seen loading by a new process.
    if version >= (7, 0):
        slow = ["--key-load-delay", "1200", "--loading-process-events-interval-bytes", "1024"]
    else:
        slow = ["--key-load-delay", "3000"]
    loading = start_server(directory, *slow, binary=binary)
    assert int(loading.client().info("persistence")["loading"])  # it answers INFO meanwhile
    return loading


def test_a_command_waits_for_a_redis_that_is_loading_its_data(
    tmp_path: Path, unique_name: str
) -> None:
    (tmp_path / "crew.yaml").write_text(CREW_YAML)
    server = slowly_loading_server(tmp_path / "redis")
    try:
        env = {**os.environ, "CREW_REDIS_URL": server.url, "CREW_BOARD": unique_name}
        result = subprocess.run(
            [*CREW, "board"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120
        )
        assert result.returncode == 0, result.stderr
        waiting = f"Redis at {server.url} is loading its data into memory; waiting up to 60s"
        assert waiting in result.stderr
        assert "Start the server" not in result.stderr
        assert not int(server.client().info("persistence")["loading"])
    finally:
        server.stop()


def test_board_and_saver_commands_wait_while_a_restarted_redis_loads(
    server: RedisServer, unique_name: str, caplog: pytest.LogCaptureFixture
) -> None:
    proxy = LoadingProxy(("127.0.0.1", server.port), refusals=0)
    try:
        board = Board(connect(proxy.url), unique_name)
        saver = RedisCheckpointSaver.from_url(proxy.url, namespace=f"crew:{{{unique_name}}}:lg")
        card = board.create_card(**NEW_CARD)
        # The server restarts: connections drop, then the next commands are refused with
        # LOADING, more of them than redis-py's own ten quick retries would take.
        proxy.restart(refusals=12)
        assert board.get(card.id).step == "research"
        assert proxy.refused == 12
        proxy.restart(refusals=12)
        assert saver.get_tuple({"configurable": {"thread_id": "r1"}}) is None
        assert proxy.refused == 12
        saver.close()
    finally:
        proxy.close()
    assert f"Redis at {proxy.url} is loading its data into memory; waiting up to 60s" in (
        caplog.text
    )


def test_a_redis_still_loading_after_the_wait_is_one_clear_line(
    server: RedisServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("crew.loading.LOADING_WAIT", 0.3)
    proxy = LoadingProxy(("127.0.0.1", server.port), refusals=10**9)
    try:
        with pytest.raises(RedisUnavailable) as error:
            connect(proxy.url)
    finally:
        proxy.close()
    message = str(error.value)
    assert f"Redis at {proxy.url} is still loading its data into memory" in message
    assert "Start the server" not in message
    assert "\n" not in message
