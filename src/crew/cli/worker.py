"""`crew worker`: run `crew.worker.Worker` in this terminal until stopped.

The command builds the worker over a session of the project, prints its lines with the time,
and turns SIGINT/SIGTERM into a stop after the resumes in flight and the webhook attempt in
flight (a second signal stops at once). `--once` does one round and waits for its resumes and
for the attempts of the deliveries that are due.

Imports nothing heavy at module level: `crew worker --help` stays instant.
"""

from __future__ import annotations

import signal
import time
from typing import Annotated, Any

import typer

from crew.cli._app import app, console


@app.command("worker")
def worker_command(
    concurrency: Annotated[
        int, typer.Option("--concurrency", min=1, help="Runs resumed at the same time.")
    ] = 1,
    interval: Annotated[
        float,
        typer.Option("--interval", min=0.1, metavar="SECONDS", help="Time between rounds."),
    ] = 5.0,
    once: Annotated[
        bool, typer.Option("--once", help="One round, then exit (tests, cron).")
    ] = False,
) -> None:
    """Enforce SLAs, reap expired leases and resume runs that can go on, until stopped."""
    from crew.cli.board import open_project
    from crew.engine.runtime import Session
    from crew.worker import Worker

    project = open_project()
    session = Session.open(project)
    worker = Worker(session, concurrency=concurrency, say=_say)

    def stop(signum: int, frame: Any) -> None:
        if worker.stopping.is_set():
            raise KeyboardInterrupt
        _say("stopping after the runs in flight (again to stop now)")
        worker.stopping.set()

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    if not once:
        _say(f"worker on board {project.board_name}: a round every {interval:g}s (Ctrl-C stops)")
    try:
        worker.run(interval=interval, once=once)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        session.close()


def _say(text: str) -> None:
    from crew.cli.display import line

    console.print(
        f"{time.strftime('%H:%M:%S')} {line(text)}", highlight=False, markup=False, soft_wrap=True
    )
