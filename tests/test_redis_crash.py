"""A crash of Redis itself (DESIGN §9): `kill -9` of the redis-server (append-only file on),
restart, and `crew worker` finishes the run; no finished step runs again and no decision `crew
answer` acknowledged is lost. With the embedded server (fsynced on every write) and with a server
the test starts (`appendfsync always`). A worker warns once when a shared Redis persists nothing.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from support.cli import as_json
from support.example import add_signoff, copy_example, use_loopback
from support.poll import wait_for
from support.redis_server import RedisServer, start_server

from crew.board import Board, CardStatus, RunStatus
from crew.connection import connect, stop_embedded_redis
from crew.spec.loader import load_project
from crew.testing import OpenAIServer

Cli = Callable[..., Any]
DURABLE = ("--appendonly", "yes", "--appendfsync", "always")
CHAIN = """
name: chain
inputs:
  product: {type: string}
steps:
""" + "".join(
    f"""  - id: s{n}
    role: writer
    task: "Step {n} for {{{{inputs.product}}}}."
"""
    for n in range(1, 6)
)
SUBMIT = ("run", "signoff", "--replay", "-i", "product=Kettle", "--as", "bob", "--detach")


def project_in(root: Path) -> Path:
    copy_example(root)
    add_signoff(root)
    (root / "playbooks" / "chain.yaml").write_text(CHAIN)
    return root


@pytest.fixture
def durable(tmp_path: Path) -> Iterator[RedisServer]:
    """A redis-server of this test, its append-only file fsynced on every write."""
    server = start_server(tmp_path / "redis", *DURABLE)
    yield server
    server.stop()


def kill_and_restart(server: RedisServer) -> RedisServer:
    """kill -9 the server (its pid), then start it again on the same port and directory."""
    server.process.send_signal(signal.SIGKILL)
    server.process.wait(10)
    return start_server(server.directory, *DURABLE, port=server.port)


def answer_left_for_a_worker(crew_cli: Cli) -> tuple[str, str]:
    """A submitted signoff run at carol's checkpoint, answered (acknowledged) and not yet
    acted on: (run, card)."""
    run = crew_cli(*SUBMIT).out.strip()
    assert crew_cli("worker", "--once").code == 0
    card = as_json(crew_cli("status", run, "--json"))["waiting_on"][0]["card"]
    answered = crew_cli("answer", card, "approve", "-m", "ship it", "--as", "carol", "--json")
    assert answered.code == 0, answered.err
    assert as_json(answered)["status"] == "queued"
    return run, card


def test_an_acknowledged_decision_survives_kill_9_of_redis(
    crew_cli: Cli,
    tmp_path: Path,
    durable: RedisServer,
    unique_name: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    root = project_in(tmp_path / "project")
    monkeypatch.chdir(root)
    monkeypatch.setenv("CREW_REDIS_URL", durable.url)
    monkeypatch.setenv("CREW_BOARD", unique_name)
    run, card = answer_left_for_a_worker(crew_cli)

    restarted = kill_and_restart(durable)
    try:
        board = Board(connect(restarted.url), unique_name)
        decision = board.get(card).decision
        assert decision is not None and (decision.by, decision.comment) == ("carol", "ship it")
        finished = crew_cli("worker", "--once")
        assert f"run {run}: done" in finished.out, finished.out + finished.err
        assert board.get_run(run).status is RunStatus.DONE
    finally:
        restarted.stop()


def test_an_acknowledged_decision_survives_kill_9_of_the_embedded_redis(
    crew_cli: Cli, tmp_path: Path, unique_name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = project_in(tmp_path / "project")
    monkeypatch.chdir(root)
    monkeypatch.delenv("CREW_REDIS_URL", raising=False)
    monkeypatch.setenv("CREW_BOARD", unique_name)
    embedded = root / ".crew" / "redis"
    try:
        run, card = answer_left_for_a_worker(crew_cli)
        assert "appendfsync always" in (embedded / "redis.conf").read_text()
        os.kill(int((embedded / "redis.pid").read_text()), signal.SIGKILL)

        finished = crew_cli("worker", "--once")  # starts the embedded server again

        assert f"run {run}: done" in finished.out, finished.out + finished.err
        board = Board(connect(load_project(root).redis_url()), unique_name)
        assert board.get(card).decision is not None
        assert board.get_run(run).status is RunStatus.DONE
    finally:
        stop_embedded_redis(embedded)


def test_kill_9_of_redis_mid_run_then_restart_and_the_worker_finishes_the_run(
    tmp_path: Path, durable: RedisServer, unique_name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    answer = {"brief": "text", "confidence": 0.9, "rationale": "r"}
    with OpenAIServer(lambda body: OpenAIServer.hang(0.3, then=answer)) as model:
        root = project_in(tmp_path / "project")
        use_loopback(root, model.url, timeout=20, max_retries=0)
        env = {
            **os.environ,
            "CREW_REDIS_URL": durable.url,
            "CREW_BOARD": unique_name,
            "CREW_RUN_LEASE": "2",
            "CREW_TEST_LLM_KEY": "sk-test",
        }
        crew = [sys.executable, "-c", "from crew.cli import main; main()"]
        submitted = subprocess.run(
            [*crew, "run", "chain", "-i", "product=Kettle", "--as", "bob", "--detach"],
            cwd=root,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert submitted.returncode == 0, submitted.stderr
        run = submitted.stdout.strip()
        worker = subprocess.Popen(
            [*crew, "worker", "--interval", "0.3"],
            cwd=root,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        restarted: RedisServer | None = None
        try:
            board = Board(connect(durable.url), unique_name)

            def done_steps() -> list[str]:
                return [c.step for c in board.cards_of_run(run) if c.status is CardStatus.DONE]

            wait_for(
                lambda: len(done_steps()) >= 2, "two steps to finish", 60, tolerate=(Exception,)
            )
            restarted = kill_and_restart(durable)  # mid-run: the third step is in flight
            board = Board(connect(restarted.url), unique_name)
            wait_for(
                lambda: board.get_run(run).status is RunStatus.DONE,
                "the run to finish",
                90,
                tolerate=(Exception,),
            )
            done = sorted(done_steps())
        finally:
            worker.send_signal(signal.SIGTERM)
            out, err = worker.communicate(timeout=30)
            if restarted is not None:
                restarted.stop()
        assert done == ["s1", "s2", "s3", "s4", "s5"], out + err
        # finished steps never ran again: one model call each for s1 and s2
        assert len(model.calls_for("s1")) == 1 and len(model.calls_for("s2")) == 1
        assert "Traceback" not in err


def test_a_worker_warns_once_when_a_shared_redis_persists_nothing(
    crew_cli: Cli, tmp_path: Path, unique_name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    volatile = start_server(tmp_path / "volatile")  # --save "" --appendonly no
    try:
        project_in(tmp_path / "project")
        monkeypatch.chdir(tmp_path / "project")
        monkeypatch.setenv("CREW_BOARD", unique_name)
        monkeypatch.setenv("CREW_REDIS_URL", volatile.url)
        first = crew_cli("worker", "--once")
        again = crew_cli("worker", "--once")
    finally:
        volatile.stop()
    assert first.code == 0 and again.code == 0
    said = f"Redis at {volatile.url} persists nothing (appendonly no, no save points)"
    assert said in first.err and said not in again.err  # once per server and process
    assert first.err.startswith("warning: ") and len(first.err.strip().splitlines()) == 1


def test_a_worker_on_a_durable_redis_says_nothing_about_persistence(
    crew_cli: Cli,
    tmp_path: Path,
    durable: RedisServer,
    unique_name: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    project_in(tmp_path / "project")
    monkeypatch.chdir(tmp_path / "project")
    monkeypatch.setenv("CREW_BOARD", unique_name)
    monkeypatch.setenv("CREW_REDIS_URL", durable.url)
    result = crew_cli("worker", "--once")
    assert result.code == 0 and "persists nothing" not in result.err
