"""`crew worker`: run `crew.worker.Worker` in this terminal until stopped; `crew workers`: the
live workers of the board.

The command builds the worker over a session of the project, prints its lines with the time,
and turns SIGINT/SIGTERM into a drain: no new runs; the runs in flight finish their step and
hand their lease back (queued again for another worker), then the webhook attempt in flight
(a second signal stops at once). `--once` does one round and waits for the runs it started and
for the attempts of the deliveries that are due.

Imports nothing heavy at module level: `crew worker --help` stays instant.
"""

from __future__ import annotations

import signal
import time
from typing import Annotated, Any

import typer

from crew.cli._app import app, console, err_console, print_json


@app.command("worker")
def worker_command(
    concurrency: Annotated[
        int,
        typer.Option(
            "--concurrency",
            min=1,
            max=1000,
            metavar="N",
            help="Runs driven at the same time (they mostly wait on models and people).",
        ),
    ] = 1,
    interval: Annotated[
        float,
        typer.Option("--interval", min=0.1, metavar="SECONDS", help="Time between rounds."),
    ] = 5.0,
    once: Annotated[
        bool, typer.Option("--once", help="One round, then exit (tests, cron).")
    ] = False,
) -> None:
    """Drive queued runs, enforce SLAs, reap expired leases and resume runs, until stopped."""
    from crew.cli.board import open_project
    from crew.connection import warn_if_volatile
    from crew.engine.runtime import Session
    from crew.worker import Worker

    project = open_project(code=True)
    session = Session.open(project)
    volatile = warn_if_volatile(session.board.client, project.redis_url())
    if volatile:
        err_console.print(f"warning: {volatile}", highlight=False, markup=False, soft_wrap=True)
    worker = Worker(session, concurrency=concurrency, say=_say)

    def stop(signum: int, frame: Any) -> None:
        if worker.stopping.is_set():
            raise KeyboardInterrupt
        _say(
            "stopping after the runs in flight (each finishes its step and goes back in line; "
            "again to stop now)"
        )
        worker.stop()

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    dumps = _stacks_on_sigusr1()
    if not once:
        _say(
            f"worker on board {project.board_name}: up to {concurrency} run(s) at once, "
            f"a round every {interval:g}s (Ctrl-C stops)"
        )
    try:
        worker.run(interval=interval, once=once)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        if dumps:
            import faulthandler

            faulthandler.unregister(signal.SIGUSR1)
        session.close()


def _stacks_on_sigusr1() -> bool:
    """`kill -USR1 PID` prints every thread's stack to stderr: what a stuck worker waits on.
    Only where stderr is a real file (not when the CLI runs in-process, e.g. under a test)."""
    import faulthandler
    import sys

    if not hasattr(signal, "SIGUSR1"):
        return False
    try:
        sys.stderr.fileno()
    except (AttributeError, OSError, ValueError):
        return False
    faulthandler.register(signal.SIGUSR1, all_threads=True)
    return True


def _say(text: str) -> None:
    from rich.text import Text

    from crew.cli.display import line
    from crew.cli.fit import hanging

    said = f"{time.strftime('%H:%M:%S')} {line(text)}"
    if console.is_terminal:  # wrapped under the text, after the time
        console.print(hanging(console, Text(said), indent=9), highlight=False)
    else:  # a log file or a pipe: one line an action, for grep, written as is (a busy worker
        # says two lines a run: rendering them through rich cost it 2% of its CPU)
        console.file.write(said + "\n")
        console.file.flush()


@app.command("workers")
def workers_command(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON on stdout.")] = False,
) -> None:
    """The live workers of the board: host, pid, heartbeat, runs in hand."""
    from rich.table import Table

    from crew.cli.board import open_board, open_project
    from crew.cli.display import line
    from crew.cli.runs import age

    project = open_project()
    board = open_board(project)
    found = board.workers()
    if as_json:
        print_json([worker.to_json() for worker in found])
        return
    if not found:
        console.print(
            f"no live worker on board {project.board_name}; start one with `crew worker`",
            highlight=False,
            markup=False,
        )
        return
    now = board.now()
    table = Table(box=None, pad_edge=False)
    for column in ("WORKER", "HEARTBEAT", "RUNS", "IN HAND"):
        table.add_column(column, no_wrap=column != "IN HAND", overflow="fold")
    for worker in found:
        state = " (draining)" if worker.draining else ""
        table.add_row(
            line(worker.id) + state,
            age(worker.heartbeat, now) + " ago",
            f"{len(worker.runs)}/{worker.concurrency}",
            line(" ".join(worker.runs)) or "-",
        )
    console.print(table)
