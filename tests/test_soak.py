"""Soak (slow: CI runs these with --run-slow): 2,000 small submitted runs through 4 `crew worker`
processes with a one-second retention. Every run finishes exactly once (one `run_done` event
each, one completed card per step), Redis holds no more than a handful of the board's keys
afterwards (retention deleted every run, its cards, texts and saved state; the audit stream is
capped), and the workers' memory stays bounded.

Also: `bench/throughput.py` at tiny sizes ends with its `ratio:` line, and the issue's acceptance
run: 200 runs submitted with `crew run --detach` on the example, 2 workers, one killed with -9.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import redis
import yaml
from support.example import copy_example

from crew.board import EVENTS_MAXLEN, Board, RunStatus
from crew.connection import connect
from crew.engine.runtime import Session, submit_run
from crew.spec.loader import load_project

REPO = Path(__file__).resolve().parent.parent
RUNS, WORKERS, STEPS = 2000, 4, 3
WORKER = (sys.executable, "-c", "from crew.cli import main; main()", "worker")
BENCH = (sys.executable, str(REPO / "bench" / "throughput.py"))
TINY = ("--runs", "12", "--workers", "2", "--concurrency", "4", "--contrast-runs", "3")
CHAIN = {
    "name": "tiny",
    "inputs": {"n": {"type": "integer"}},
    "steps": [
        {"id": f"s{i}", "role": "writer", "task": f"Line {i} of run {{{{inputs.n}}}}."}
        for i in range(STEPS)
    ],
}
CASSETTE = {
    f"s{i}": [{"brief": f"line {i}", "confidence": 0.9, "rationale": "r"}] for i in range(STEPS)
}


def rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


@pytest.mark.slow
def test_two_thousand_runs_through_four_workers_finish_once_and_leave_nothing_behind(
    tmp_path: Path, redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    name = f"tsoak{uuid.uuid4().hex[:8]}"
    root = copy_example(tmp_path / "project")
    team = yaml.safe_load((root / "crew.yaml").read_text())
    team["settings"]["retention"] = {"finished": 1}
    (root / "crew.yaml").write_text(yaml.safe_dump(team))
    (root / "playbooks" / "tiny.yaml").write_text(yaml.safe_dump(CHAIN))
    (root / "playbooks" / "tiny.cassette.yaml").write_text(yaml.safe_dump(CASSETTE))
    env = {**os.environ, "CREW_REDIS_URL": redis_url, "CREW_BOARD": name}
    monkeypatch.setenv("CREW_REDIS_URL", redis_url)
    monkeypatch.setenv("CREW_BOARD", name)
    project = load_project(root)
    session = Session.open(project, person="bob")
    board: Board = session.board
    workers: list[subprocess.Popen[str]] = []
    try:
        playbook = project.playbook("tiny")
        runs = [submit_run(session, playbook, {"n": n}, mode="replay").run for n in range(RUNS)]
        for _ in range(WORKERS):
            workers.append(
                subprocess.Popen(
                    [*WORKER, "--concurrency", "8", "--interval", "0.5"],
                    cwd=root,
                    env=env,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.PIPE,
                    text=True,
                )
            )
        give_up = time.monotonic() + 900
        early: dict[int, int] = {}
        while sum(board.count_runs().values()) > 0 or board.client.zcard(board.keys.runs()):
            left = sum(board.count_runs().values())
            if not early and left < RUNS * 3 // 4:  # warmed up: a quarter done
                early = {w.pid: rss_kb(w.pid) for w in workers}
            assert time.monotonic() < give_up, f"{left} runs left after 15 minutes"
            assert all(w.poll() is None for w in workers), "a worker died"
            time.sleep(0.5)
        late = {w.pid: rss_kb(w.pid) for w in workers}
    finally:
        for worker in workers:
            worker.send_signal(signal.SIGTERM)
        errors = [worker.communicate(timeout=60)[1] for worker in workers]
        session.close()
    assert all("Traceback" not in err for err in errors), errors

    # every run finished exactly once; every step was completed once
    events = board.client.xrange(board.keys.events(), count=EVENTS_MAXLEN)
    done = Counter(fields["run"] for _, fields in events if fields["event"] == "run_done")
    assert set(done) == set(runs) and set(done.values()) == {1}
    completed = [fields["card"] for _, fields in events if fields["event"] == "completed"]
    assert len(completed) == len(set(completed)) == RUNS * STEPS

    # retention left no run behind: a handful of the board's own keys, the audit stream capped
    keys = list(board.client.scan_iter(match=board.keys.pattern(), count=1000))
    assert len(keys) <= 12, sorted(keys)
    assert board.client.xlen(board.keys.events()) <= EVENTS_MAXLEN
    used = sum(board.client.memory_usage(key) or 0 for key in keys)
    assert used < 64 * 1024 * 1024, f"{used} bytes left on the board"
    # the workers' memory is bounded: after 1,500 more runs, not much more than when warmed up
    for pid, kb in late.items():
        assert kb < early[pid] * 1.5 + 50_000, (early, late)
    client = redis.Redis.from_url(redis_url)
    leftover = list(client.scan_iter(match=f"*{name}*", count=1000))
    if leftover:
        client.delete(*leftover)


@pytest.mark.slow
def test_the_throughput_bench_prints_its_ratio_last(redis_url: str) -> None:
    result = subprocess.run(
        [*BENCH, "--url", redis_url, *TINY],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.strip().splitlines()
    assert (
        "12 done" in result.stdout and "one worker --concurrency 1: 3 runs, 3 done" in result.stdout
    )
    assert "floor: the same 36 calls through bare langchain-openai" in result.stdout
    assert re.fullmatch(r"ratio: \d+\.\d\d", lines[-1]), result.stdout


@pytest.mark.slow
def test_two_hundred_detached_runs_two_workers_one_killed_mid_way_all_finish_once(
    crew_cli: Callable[..., Any], example: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The issue's acceptance: 200 runs submitted with `crew run --detach` on the example project
    (`--replay`), 2 workers; one killed with -9 mid-way changes nothing but the time."""
    from support.cli import RUN
    from test_workers import WorkerProcess, done_twice, wait_for

    cassette = example / "playbooks" / "launch-brief.cassette.yaml"
    entries = yaml.safe_load(cassette.read_text())
    entries["triage"][0]["severity"] = "low"  # straight on to publish: no checkpoint
    cassette.write_text(yaml.safe_dump(entries, sort_keys=False))
    monkeypatch.setenv("CREW_RUN_LEASE", "2")
    runs = [crew_cli(*RUN, "--detach").out.strip() for _ in range(200)]
    assert len(set(runs)) == 200 and all(runs)
    board = Board(connect(load_project(example).redis_url()), example_board())
    first = WorkerProcess(example, "--concurrency", "8", "--interval", "0.5")
    second = WorkerProcess(example, "--concurrency", "8", "--interval", "0.5")
    try:
        wait_for(lambda: board.count_runs()[RunStatus.QUEUED] <= 140, "60 runs taken", 120)
        first.kill()  # kill -9 mid-way
        wait_for(lambda: sum(board.count_runs().values()) == 0, "every run to finish", 600)
    finally:
        first.kill()
        second.process.send_signal(signal.SIGTERM)
        second.finish(timeout=60)
    assert {board.get_run(run).status for run in runs} == {RunStatus.DONE}
    assert done_twice(board, runs) == []


def example_board() -> str:
    return os.environ["CREW_BOARD"]
