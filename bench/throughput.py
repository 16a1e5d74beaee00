"""Throughput of a fleet of workers: submitted runs of a 3-step playbook against a loopback model.

    python bench/throughput.py [--url URL] [--runs 500] [--workers 4] [--concurrency 32]
                               [--delay 0.1] [--contrast-runs N]

Every model call goes over real HTTP to `crew.testing.OpenAIServer` on 127.0.0.1, which answers
after `--delay` seconds (100 ms). `--workers` `crew worker --concurrency N` processes start; once
every one of them is up (listed on the board), the runs are submitted
(`crew.engine.runtime.submit_run`, as `crew run --detach` does) and the workers drive them. The
wall time is read from the board: from the first step of any run starting to the last run
finishing (the workers' start-up, imports included, is not counted). The ideal is what a fleet
of workers × concurrency slots would take with no overhead at all:
⌈runs ÷ (workers × concurrency)⌉ × 3 steps × delay.

Measured in the same run, for contrast: the floor, the same model calls through bare
langchain-openai in as many processes and threads as the fleet (`_bare_client.py`: no crew,
LangGraph or Redis), which shows what the machine allows at all; and `--contrast-runs` of the
same runs through one `crew worker --concurrency 1` (0 skips it). The last line is
`ratio: <measured wall time ÷ ideal wall time>` of the fleet (the target is at most 2).

The Redis keys are written on a fresh board and deleted afterwards; worker processes are
stopped by their pids.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import yaml
from _common import add_url, delete_board, print_ratio

from crew.board import Board, CardStatus, RunStatus
from crew.engine.runtime import Session, submit_run
from crew.spec.loader import load_project
from crew.testing import OpenAIServer

STEPS = 3
ANSWER = {"text": "a line", "confidence": 0.9, "rationale": "loopback"}


def write_project(root: Path, model_url: str) -> None:
    """A project of one role and a 3-step chain playbook, its model the loopback server."""
    (root / "agents").mkdir(parents=True)
    (root / "playbooks").mkdir()
    crew = {
        "name": "bench",
        "models": {
            "default": {"model": "loopback", "base_url": model_url, "api_key_env": "BENCH_KEY"}
        },
        "people": {"alice": {"name": "Alice"}},
    }
    (root / "crew.yaml").write_text(yaml.safe_dump(crew))
    role = {
        "name": "writer",
        "title": "Writer",
        "goal": "Write one line.",
        "model": "default",
        "owner": "alice",
        "output": {"text": {"type": "string"}},
    }
    (root / "agents" / "writer.yaml").write_text(yaml.safe_dump(role))
    steps = [
        {"id": f"s{i}", "role": "writer", "task": f"Line {i} about {{{{inputs.topic}}}}."}
        for i in range(STEPS)
    ]
    playbook = {"name": "chain", "inputs": {"topic": {"type": "string"}}, "steps": steps}
    (root / "playbooks" / "chain.yaml").write_text(yaml.safe_dump(playbook))


def fleet_seconds(
    root: Path, env: dict[str, str], runs: int, workers: int, concurrency: int
) -> tuple[float, int]:
    """Submit `runs`, drive them with `workers` × `concurrency`; (wall seconds, runs done)."""
    board_name = f"bench-{uuid.uuid4().hex[:8]}"
    env = {**env, "CREW_BOARD": board_name}
    os.environ.update(env)
    project = load_project(root)
    session = Session.open(project, person="alice")
    board: Board = session.board
    processes: list[subprocess.Popen[bytes]] = []
    try:
        playbook = project.playbook("chain")
        command = [sys.executable, "-c", "from crew.cli import main; main()", "worker"]
        for _ in range(workers):
            processes.append(
                subprocess.Popen(
                    [*command, "--concurrency", str(concurrency), "--interval", "1"],
                    cwd=root,
                    env=env,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
            )
        # Every worker up (listed once it made its model clients) before the runs are
        # submitted: otherwise the first workers' runs share the cores with the others' imports.
        ready_by = time.monotonic() + 120
        while len(board.workers()) < workers:
            if time.monotonic() > ready_by or any(p.poll() is not None for p in processes):
                raise SystemExit("the workers did not start")
            time.sleep(0.05)
        ids = [submit_run(session, playbook, {"topic": f"tides {n}"}).run for n in range(runs)]
        give_up = time.monotonic() + 60 + runs * STEPS * 2.0
        while sum(board.count_runs().values()) > 0:
            if time.monotonic() > give_up:
                raise SystemExit("the workers did not finish the runs in time")
            time.sleep(0.1)
        return _wall(board, ids), sum(board.get_run(run).status is RunStatus.DONE for run in ids)
    finally:
        for process in processes:
            process.send_signal(signal.SIGTERM)
        for process in processes:
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()
        delete_board(board)
        session.close()


def bare_client_seconds(model_url: str, runs: int, workers: int, concurrency: int) -> float:
    """The same calls through bare langchain-openai (`_bare_client.py`), in as many processes
    and threads as the fleet, with no crew, LangGraph or Redis: the floor on this machine."""
    script = str(Path(__file__).with_name("_bare_client.py"))
    shares = [runs // workers + (1 if n < runs % workers else 0) for n in range(workers)]
    processes = [
        subprocess.Popen(
            [sys.executable, script, model_url, str(share), str(concurrency)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        for share in shares
    ]
    try:
        for process in processes:
            assert process.stdout is not None
            if process.stdout.readline().strip() != "ready":
                raise SystemExit("the bare client did not start")
        for process in processes:
            assert process.stdin is not None
            process.stdin.write("go\n")
            process.stdin.flush()
        times = [json.loads(p.communicate(timeout=60 + runs)[0]) for p in processes]
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
    return max(t["end"] for t in times) - min(t["start"] for t in times)


def _wall(board: Board, ids: list[str]) -> float:
    """From the first step of any run starting to the last run finishing (board times)."""
    first = math.inf
    last = 0.0
    for run in ids:
        record = board.get_run(run)
        last = max(last, record.finished or 0.0)
        cards = board.cards(run=run, status=CardStatus.DONE, limit=STEPS)
        if cards:
            first = min(first, min(card.created for card in cards))
    return last - first


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_url(parser)
    parser.add_argument("--runs", type=int, default=500)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--delay", type=float, default=0.1, help="Seconds per model call.")
    parser.add_argument(
        "--contrast-runs",
        type=int,
        default=None,
        help="Runs through one worker --concurrency 1 for contrast (default: --runs; 0: none).",
    )
    args = parser.parse_args()
    contrast_runs = args.runs if args.contrast_runs is None else args.contrast_runs

    def answer(body: dict[str, Any]) -> Any:
        return OpenAIServer.hang(args.delay, then=ANSWER)

    with OpenAIServer(answer) as model, tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        write_project(root, model.url)
        env = {"CREW_REDIS_URL": args.url, "BENCH_KEY": "sk-bench", "CREW_RUN_LEASE": "30"}
        slots = args.workers * args.concurrency
        ideal = math.ceil(args.runs / slots) * STEPS * args.delay
        wall, done = fleet_seconds(root, env, args.runs, args.workers, args.concurrency)
        print(f"redis: {args.url}; model delay {args.delay * 1000:.0f} ms per call (real HTTP)")
        print(
            f"fleet: {args.runs} runs x {STEPS} steps, {args.workers} workers x "
            f"--concurrency {args.concurrency}: {done} done in {wall:.2f} s, "
            f"{args.runs / wall:.1f} runs/s (ideal {ideal:.2f} s)"
        )
        bare = bare_client_seconds(model.url, args.runs, args.workers, args.concurrency)
        print(
            f"floor: the same {args.runs * STEPS} calls through bare langchain-openai, "
            f"{args.workers} processes x {args.concurrency} threads (no crew, LangGraph or "
            f"Redis): {bare:.2f} s (ratio {bare / ideal:.2f}); the fleet takes "
            f"{wall / bare:.1f}x that"
        )
        if contrast_runs:
            one, one_done = fleet_seconds(root, env, contrast_runs, 1, 1)
            one_ideal = contrast_runs * STEPS * args.delay
            print(
                f"one worker --concurrency 1: {contrast_runs} runs, {one_done} done in "
                f"{one:.2f} s, {contrast_runs / one:.1f} runs/s (ideal {one_ideal:.2f} s, "
                f"ratio {one / one_ideal:.2f})"
            )
            print(
                f"fleet speed-up over one worker: {(args.runs / wall) / (contrast_runs / one):.1f}x"
            )
        print_ratio(wall / ideal)


if __name__ == "__main__":
    main()
