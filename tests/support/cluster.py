"""A 3-master Redis Cluster a test starts itself from the `redis-server` binary (and `redis-cli
--cluster create`), on free ports of 127.0.0.1; stopped by its own pids.

`cluster_or_skip(directory)` skips the test (with the reason) where redis-server >= 7 or
redis-cli is missing.
"""

from __future__ import annotations

import shutil
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import redis

from support.redis_server import (
    RedisServer,
    free_port,
    newest_binary,
    server_binaries,
    start_server,
)


@dataclass
class Cluster:
    """Three masters, every slot served; `url` is crew's form of it (CREW_REDIS_URL)."""

    servers: list[RedisServer] = field(default_factory=list)

    @property
    def url(self) -> str:
        return "redis+cluster://" + ",".join(f"127.0.0.1:{s.port}" for s in self.servers)

    def stop(self) -> None:
        for server in self.servers:
            server.stop()


def cluster_or_skip(directory: Path) -> Cluster:
    if not server_binaries():
        pytest.skip("no redis-server binary on this machine: cannot start a Redis Cluster")
    binary, version = newest_binary()
    cli = shutil.which("redis-cli")
    if version < (7, 0) or cli is None:
        pytest.skip(
            f"a Redis Cluster test needs redis-server >= 7 and redis-cli (found {version}, "
            f"redis-cli {'yes' if cli else 'no'}): apt-get install redis-server"
        )
    cluster = Cluster()
    try:
        for n in range(3):
            node = directory / f"node{n}"
            cluster.servers.append(
                start_server(
                    node,
                    "--cluster-enabled",
                    "yes",
                    "--cluster-config-file",
                    str(node / "nodes.conf"),
                    "--cluster-node-timeout",
                    "5000",
                    binary=binary,
                    port=_cluster_port(),
                )
            )
        subprocess.run(
            [
                cli,
                "--cluster",
                "create",
                *(f"127.0.0.1:{s.port}" for s in cluster.servers),
                "--cluster-replicas",
                "0",
                "--cluster-yes",
            ],
            check=True,
            capture_output=True,
            timeout=60,
        )
        _wait_ok(cluster)
    except BaseException:
        cluster.stop()
        raise
    return cluster


def _cluster_port() -> int:
    """A free port whose cluster bus port (+10000) is free too (so at most 55535)."""
    import socket

    for _ in range(100):
        port = free_port()
        if port > 55535:
            continue
        with socket.socket() as bus:
            try:
                bus.bind(("127.0.0.1", port + 10000))
            except OSError:
                continue
        return port
    raise RuntimeError("found no free port pair for a Redis Cluster node")


def _wait_ok(cluster: Cluster) -> None:
    """Until every node says the cluster is ok (the slots are assigned and agreed on)."""
    give_up = time.monotonic() + 30
    for server in cluster.servers:
        client = redis.Redis(port=server.port, decode_responses=True)
        while client.cluster("info").get("cluster_state") != "ok":
            if time.monotonic() > give_up:
                raise RuntimeError("the Redis Cluster did not come up within 30 seconds")
            time.sleep(0.05)  # nothing to wait on but the nodes' gossip
