"""Redis Cluster (DESIGN §9): a 3-master cluster this module starts from the `redis-server` binary
(skipped, saying why, where the binary or redis-cli is missing) runs a playbook through the CLI,
the board's races test, and LangGraph's checkpointer conformance suite; every key of a board and
of its runs' saved state lands in one slot. `CREW_REDIS_URL=redis+cluster://host:port,...`.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.checkpoint.conformance import checkpointer_test, validate
from support.cli import as_json
from support.cluster import Cluster, cluster_or_skip
from support.example import add_signoff, copy_example

# The board's races, run here with this module's fixtures (the cluster's URL and client).
from test_board_races import (  # noqa: F401
    board,
    test_a_worker_whose_lease_expired_cannot_complete_after_another_claimed,
    test_fifty_concurrent_answers_record_exactly_one,
    test_the_reaper_reclaims_a_card_whose_holder_was_killed_and_fails_poison_work,
    test_twenty_processes_claim_one_card_and_exactly_one_wins,
)

from crew import ConfigError, RedisCheckpointSaver
from crew.board import Board, RunStatus
from crew.connection import ClusterURL, connect, is_cluster_url
from crew.engine.retention import enforce_retention
from crew.spec.models import Retention

Cli = Callable[..., Any]
RUN_SIGNOFF = ("run", "signoff", "--replay", "-i", "product=Solar kettle", "--as", "bob")


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    started = cluster_or_skip(tmp_path_factory.mktemp("cluster"))
    yield started
    started.stop()


@pytest.fixture
def redis_url(cluster: Cluster) -> str:
    return cluster.url


@pytest.fixture
def client(cluster: Cluster) -> Iterator[Any]:
    db = connect(cluster.url, check=False)
    yield db
    db.close()


@pytest.fixture
def unique_name() -> str:
    return f"t{uuid.uuid4().hex[:12]}"  # the cluster is this module's own: stopped at its end


def keys_of(cluster: Cluster, name: str) -> dict[str, list[str]]:
    """Every key holding `name`, per node port."""
    found: dict[str, list[str]] = {}
    for server in cluster.servers:
        keys = list(server.client().scan_iter(match=f"*{name}*", count=1000))
        if keys:
            found[str(server.port)] = sorted(keys)
    return found


def test_a_cluster_url_names_its_nodes() -> None:
    parsed = ClusterURL.parse("rediss+cluster://ops:s3cret@10.0.0.1:7000,10.0.0.2:7001/0")
    assert parsed.nodes == [("10.0.0.1", 7000), ("10.0.0.2", 7001)]
    assert (parsed.username, parsed.password, parsed.tls) == ("ops", "s3cret", True)
    assert is_cluster_url("redis+cluster://h:1") and not is_cluster_url("redis://h:1")


def test_a_bad_cluster_url_is_one_clear_line(
    crew_cli: Cli, project_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    copy_example(project_dir)
    monkeypatch.setenv("CREW_REDIS_URL", "redis+cluster://127.0.0.1:notaport")
    result = crew_cli("runs")
    assert result.code == 2 and "invalid Redis Cluster URL" in result.err
    assert len(result.err.strip().splitlines()) == 1 and "Traceback" not in result.err


def test_a_playbook_runs_on_the_cluster_and_every_key_shares_the_boards_slot(
    cluster: Cluster, crew_cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    name = f"t{uuid.uuid4().hex[:12]}"
    monkeypatch.setenv("CREW_REDIS_URL", cluster.url)
    monkeypatch.setenv("CREW_BOARD", name)
    monkeypatch.delenv("CREW_USER", raising=False)
    monkeypatch.chdir(tmp_path)
    copy_example(tmp_path)
    add_signoff(tmp_path)

    started = crew_cli(*RUN_SIGNOFF, "--json")
    assert started.code == 3, started.err
    card = as_json(started)["waiting_on"][0]["card"]
    finished = crew_cli("answer", card, "approve", "--as", "carol", "--json")
    assert finished.code == 0, finished.out + finished.err
    assert as_json(finished)["status"] == "done"
    submitted = crew_cli(*RUN_SIGNOFF, "--detach").out.strip()
    assert crew_cli("worker", "--once").code == 0
    on_cluster = Board(connect(cluster.url), name)
    assert on_cluster.get_run(submitted).status is RunStatus.WAITING

    where = keys_of(cluster, name)
    assert len(where) == 1, f"the board's keys are on several nodes: {where}"
    (keys,) = where.values()
    assert any(":lg:" in key for key in keys)  # the runs' LangGraph state is there too
    node = cluster.servers[0].client()
    assert len({node.cluster("keyslot", key) for key in keys}) == 1

    # Retention deletes finished runs with their saved state, slot and all.
    run = as_json(finished)["run"]
    retained = enforce_retention(on_cluster, Retention(finished=0))
    assert retained.runs_deleted == 1
    assert [k for k in keys_of(cluster, name).get(next(iter(where)), []) if run in k] == []


async def test_the_conformance_suite_passes_on_the_cluster(cluster: Cluster) -> None:
    prefix = f"crew:{{t{uuid.uuid4().hex[:10]}}}:lg"

    @checkpointer_test(name="RedisCheckpointSaver[cluster]")
    async def cluster_saver() -> AsyncIterator[BaseCheckpointSaver[str]]:
        instance = RedisCheckpointSaver.from_url(
            cluster.url, namespace=f"{prefix}:{uuid.uuid4().hex[:8]}"
        )
        yield instance
        await instance.aclose()
        instance.close()

    report = await validate(cluster_saver)
    if not report.passed_all_base():
        report.print_report()
    assert report.passed_all_base()


def test_a_saver_namespace_without_a_hash_tag_is_refused_on_a_cluster(cluster: Cluster) -> None:
    with pytest.raises(ConfigError, match="needs a hash tag"):
        RedisCheckpointSaver.from_url(cluster.url, namespace="crew")
