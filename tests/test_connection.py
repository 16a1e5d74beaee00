"""Settings → Redis: the embedded server, a shared URL, and clear errors for unusable servers."""

from __future__ import annotations

import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from support.redis_server import next_command

from crew.connection import (
    connect,
    ensure_embedded_redis,
    resolve_redis_url,
    stop_embedded_redis,
)
from crew.exceptions import RedisUnavailable


@pytest.fixture
def embedded_dir(tmp_path: Path) -> Iterator[Path]:
    directory = tmp_path / ".crew" / "redis"
    yield directory
    stop_embedded_redis(directory)


def test_embedded_server_is_started_once_and_shared_across_processes(embedded_dir: Path) -> None:
    url = ensure_embedded_redis(embedded_dir)
    connect(url).set("greeting", "hello")

    # another process joins the same server rather than starting a second one
    code = (
        "from crew.connection import ensure_embedded_redis, connect; from pathlib import Path; "
        f"u = ensure_embedded_redis(Path({str(embedded_dir)!r})); print(u); "
        "print(connect(u).get('greeting'))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.split()
    assert out == [url, "hello"]

    # the server outlived that process and is still the one we use
    assert connect(url).get("greeting") == "hello"
    assert len(list(embedded_dir.glob("redis.pid"))) == 1


def test_embedded_server_keeps_an_fsynced_append_only_file(embedded_dir: Path) -> None:
    client = connect(ensure_embedded_redis(embedded_dir))
    assert client.config_get("appendonly") == {"appendonly": "yes"}
    # every write is on disk before it is acknowledged (DESIGN §9: no decision lost)
    assert client.config_get("appendfsync") == {"appendfsync": "always"}
    assert client.info("server")["redis_version"] >= "6.2"


def test_data_survives_a_stop_and_restart(embedded_dir: Path) -> None:
    url = ensure_embedded_redis(embedded_dir)
    connect(url).set("card", "c1")
    assert stop_embedded_redis(embedded_dir)
    assert connect(ensure_embedded_redis(embedded_dir)).get("card") == "c1"


def test_env_url_wins_over_settings_and_embedded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CREW_REDIS_URL", "redis://example.invalid:6379/3")
    assert resolve_redis_url(tmp_path, "redis://other:6379/0") == "redis://example.invalid:6379/3"
    monkeypatch.delenv("CREW_REDIS_URL")
    assert resolve_redis_url(tmp_path, "redis://other:6379/0") == "redis://other:6379/0"
    assert not (tmp_path / ".crew").exists()  # nothing embedded was started


def test_unreachable_redis_is_one_clear_line() -> None:
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(RedisUnavailable) as error:
        connect(f"redis://:secret@127.0.0.1:{port}/0")
    message = str(error.value)
    assert f"127.0.0.1:{port}" in message
    assert "secret" not in message  # never print the password
    assert "CREW_REDIS_URL" in message
    assert "\n" not in message


def test_malformed_url_is_a_clear_error() -> None:
    with pytest.raises(RedisUnavailable, match="invalid Redis URL 'http://x'"):
        connect("http://x")


class _OldRedis:
    """A fake server that answers every command as a Redis 5.0 would answer INFO."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen()
        self.port = self.sock.getsockname()[1]
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        body = b"# Server\r\nredis_version:5.0.7\r\n"
        reply = b"$%d\r\n%s\r\n" % (len(body), body)
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with conn:
                buffer = b""
                while data := conn.recv(65536):
                    buffer += data
                    while (command := next_command(buffer)) is not None:
                        words, buffer = command
                        name = words[0].upper() if words else b""
                        if name == b"PING":
                            conn.sendall(b"+PONG\r\n")
                        elif name == b"INFO":
                            conn.sendall(reply)
                        else:
                            conn.sendall(b"+OK\r\n")


def test_too_old_redis_is_refused_with_the_version() -> None:
    server = _OldRedis()
    try:
        with pytest.raises(RedisUnavailable, match=r"version 5\.0\.7; crew needs 6\.2 or newer"):
            connect(f"redis://127.0.0.1:{server.port}/0")
    finally:
        server.sock.close()


def test_connect_returns_a_decoded_client(redis_url: str) -> None:
    client = connect(redis_url)
    assert isinstance(client, redis.Redis)
    assert client.ping() is True
