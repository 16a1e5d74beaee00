"""A fleet of workers (DESIGN §9): several `crew worker` processes share one board and drive
submitted runs, each run by one worker at a time; `kill -9` of a worker loses nothing (its runs go
on elsewhere once their lease runs out); SIGTERM drains (the runs in flight finish their step and
go back in line at once); `crew workers` lists the live ones.

The model is `crew.testing.OpenAIServer` on 127.0.0.1 (real HTTP), answering each step after a
delay, so runs are in flight when a worker is stopped. Workers are real processes (`crew worker`)
stopped by their own pid.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from support.cli import as_json
from support.example import LOW_RISK_ANSWERS, use_loopback
from support.poll import wait_for

from crew.board import Board, CardStatus, RunStatus
from crew.connection import connect
from crew.engine.runtime import Session, submit_run
from crew.spec.inputs import check_inputs
from crew.spec.loader import load_project
from crew.spec.project import Project
from crew.testing import OpenAIServer, step_of

Cli = Callable[..., Any]
STEPS = ("research", "draft", "triage", "publish")


class Model:
    """The loopback model: every step answers after `delay` seconds."""

    def __init__(self, delay: float) -> None:
        self.delay = delay
        self.server = OpenAIServer(self.answer)

    def answer(self, body: dict[str, Any]) -> Any:
        step = step_of(body) or ""
        return OpenAIServer.hang(self.delay, then=LOW_RISK_ANSWERS[step])

    def calls(self, step: str) -> int:
        return len(self.server.calls_for(step))


@pytest.fixture
def model() -> Iterator[Model]:
    loopback = Model(delay=0.2)
    with loopback.server:
        yield loopback


@pytest.fixture
def fleet(example: Path, model: Model, monkeypatch: pytest.MonkeyPatch) -> Project:
    """The example project, live against the loopback model; run leases of 2 seconds."""
    use_loopback(example, model.server.url, timeout=20, max_retries=0)
    monkeypatch.setenv("CREW_TEST_LLM_KEY", "sk-test")
    monkeypatch.setenv("CREW_RUN_LEASE", "2")
    return load_project(example)


class WorkerProcess:
    """`crew worker` in a process of its own (stopped by its pid)."""

    def __init__(self, root: Path, *args: str) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-c", "from crew.cli import main; main()", "worker", *args],
            cwd=root,
            env={**os.environ, "COLUMNS": "200"},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert self.process.stdout is not None
        banner = self.process.stdout.readline()  # once its signal handlers are installed
        assert "worker on board" in banner, self.process.stderr and self.process.stderr.read()

    @property
    def pid(self) -> int:
        return self.process.pid

    def finish(self, timeout: float = 30) -> tuple[str, str]:
        try:
            out, err = self.process.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            # What is it stuck on? The worker prints every thread's stack on SIGUSR1.
            self.process.send_signal(signal.SIGUSR1)
            time.sleep(1)
            self.process.kill()
            out, err = self.process.communicate(timeout=10)
            raise AssertionError(
                f"the worker did not exit within {timeout}s:\n{out}\n{err}"
            ) from None
        return out, err

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.communicate(timeout=10)


@pytest.fixture
def workers(fleet: Project) -> Iterator[Callable[..., WorkerProcess]]:
    started: list[WorkerProcess] = []

    def start(*args: str) -> WorkerProcess:
        worker = WorkerProcess(fleet.root, *args)
        started.append(worker)
        return worker

    yield start
    for worker in started:
        worker.kill()


def board_of(project: Project) -> Board:
    return Board(connect(project.redis_url()), project.board_name)


def submit(project: Project, count: int) -> list[str]:
    session = Session.open(project, person="bob")
    try:
        playbook = project.playbook("launch-brief")
        return [
            submit_run(session, playbook, check_inputs(playbook, {"product": f"kettle {n}"})).run
            for n in range(count)
        ]
    finally:
        session.close()


def done_twice(board: Board, runs: list[str]) -> list[tuple[str, str, Any]]:
    """(run, step, item) of every step of `runs` with more than one done card."""
    counted: Counter[tuple[str, str, Any]] = Counter()
    for run in runs:
        for card in board.cards_of_run(run):
            if card.status is CardStatus.DONE:
                counted[(run, card.step, repr(card.item))] += 1
    return [key for key, n in counted.items() if n > 1]


def test_two_workers_drive_submitted_runs_and_a_worker_killed_mid_way_loses_nothing(
    fleet: Project, workers: Callable[..., WorkerProcess], model: Model
) -> None:
    runs = submit(fleet, 24)
    board = board_of(fleet)
    first = workers("--concurrency", "6", "--interval", "0.5")
    second = workers("--concurrency", "6", "--interval", "0.5")
    wait_for(lambda: board.count_runs()[RunStatus.QUEUED] <= 12, "workers to take runs", 30)
    wait_for(lambda: len(board.workers()) == 2, "both workers to be listed", 10)
    in_hand = {w.id: w.runs for w in board.workers()}
    assert all(len(held) <= 6 for held in in_hand.values())

    first.kill()  # kill -9, runs in flight: their leases run out, the other worker goes on

    def finished() -> bool:
        return sum(board.count_runs().values()) == 0

    wait_for(finished, "every run to finish", 90)
    second.process.send_signal(signal.SIGTERM)
    _, err = second.finish()
    assert second.process.returncode == 0, err
    assert [board.get_run(run).status for run in runs] == [RunStatus.DONE] * len(runs)
    assert done_twice(board, runs) == []
    for run in runs:
        done = {c.step for c in board.cards_of_run(run) if c.status is CardStatus.DONE}
        assert done == set(STEPS)
    took_over = [e for run in runs for e in board.events(run) if e.detail.get("took_over_from")]
    assert took_over, "the killed worker had runs in hand; the other one took them over"


def test_sigterm_drains_runs_finish_their_step_and_go_back_in_line_at_once(
    fleet: Project, workers: Callable[..., WorkerProcess], model: Model, crew_cli: Cli
) -> None:
    model.delay = 0.6
    runs = submit(fleet, 3)
    board = board_of(fleet)
    worker = workers("--concurrency", "3", "--interval", "0.3")
    wait_for(lambda: model.calls("research") == 3, "every run to be in its first step", 20)

    worker.process.send_signal(signal.SIGTERM)
    out, err = worker.finish(timeout=60)

    assert worker.process.returncode == 0, err
    assert "stopping after the runs in flight" in out
    for run in runs:
        assert f"run {run}: handed back (this worker is stopping)" in out
        record = board.get_run(run)
        assert record.status is RunStatus.QUEUED and record.driver is None
        # the step in flight finished and is on the board; nothing later started
        assert [c.step for c in board.cards_of_run(run)] == ["research"]
        assert board.cards_of_run(run)[0].status is CardStatus.DONE
    assert {r.id for r in board.queued_runs()} == set(runs)
    assert board.workers() == []  # it left the list

    model.delay = 0.0
    finished = crew_cli("worker", "--once", "--concurrency", "3")
    assert finished.code == 0, finished.err
    assert [board.get_run(run).status for run in runs] == [RunStatus.DONE] * 3
    assert model.calls("research") == 3  # finished steps were not run again
    assert done_twice(board, runs) == []


def test_a_worker_keeps_its_model_connections_from_run_to_run(
    fleet: Project, workers: Callable[..., WorkerProcess], model: Model
) -> None:
    model.delay = 0.0
    runs = submit(fleet, 6)
    board = board_of(fleet)
    worker = workers("--concurrency", "2", "--interval", "0.3")
    wait_for(lambda: sum(board.count_runs().values()) == 0, "every run to finish", 60)
    worker.process.send_signal(signal.SIGTERM)
    worker.finish()

    assert [board.get_run(run).status for run in runs] == [RunStatus.DONE] * 6
    assert len(model.server.calls) == 6 * len(STEPS)
    # connections are kept alive from run to run: no more of them than runs in flight at once
    # (a run of one market makes one call at a time)
    assert len({call.connection for call in model.server.calls}) <= 2


def test_crew_workers_lists_live_workers_with_the_runs_in_hand(
    fleet: Project, workers: Callable[..., WorkerProcess], model: Model, crew_cli: Cli
) -> None:
    assert "no live worker" in crew_cli("workers").out
    model.delay = 1.0
    (run,) = submit(fleet, 1)
    worker = workers("--concurrency", "4", "--interval", "0.2")
    board = board_of(fleet)
    wait_for(lambda: model.calls("research") == 1, "the run to start", 20)
    wait_for(lambda: [w.runs for w in board.workers()] == [[run]], "a heartbeat", 10)

    listed = as_json(crew_cli("workers", "--json"))
    shown = crew_cli("workers")

    assert [(w["pid"], w["concurrency"], w["runs"]) for w in listed] == [(worker.pid, 4, [run])]
    assert str(worker.pid) in shown.out and run in shown.out and "1/4" in shown.out
    worker.process.send_signal(signal.SIGTERM)
    worker.finish()
    assert as_json(crew_cli("workers", "--json")) == []
