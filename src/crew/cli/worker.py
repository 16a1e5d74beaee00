"""`crew worker`: the long-running process that keeps a board moving with nobody at a terminal.

Each round it (a) enforces SLAs (`crew.sla.sweep`: overdue cards move along their chain) and
attempts the board's due webhook deliveries in the background (`crew.notify.Deliverer`: those
queued by any process, retried with backoff), (b) reaps expired card leases, (c) resumes runs
that can go on: waiting runs with an answer recorded on a card they wait on (the answering
process crashed, or had no model key), and running runs whose driver's lease ran out (a
crashed `crew run`). A resume goes through `crew.runtime.resume_run`, so it happens under the
run lease: workers on many machines never drive one run twice. One progress line per action;
SIGINT/SIGTERM stop it after the resumes in flight and the webhook attempt in flight (a second
signal stops at once). `--once` does one round and waits for its resumes and for the attempts
of the deliveries that are due.

Imports nothing heavy at module level: `crew worker --help` stays instant.
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TYPE_CHECKING, Annotated, Any

import typer

from crew.cli._app import app, console

if TYPE_CHECKING:
    from crew.board import Run
    from crew.board.outbox import OutboxEntry
    from crew.notify import Deliverer, Sent
    from crew.runtime import Session

logger = logging.getLogger("crew")

# How many of the newest runs a round looks at for resumable ones.
RUNS_SCANNED = 200


class Worker:
    """One worker process's duties over one session (its board, run state and lease holder)."""

    def __init__(
        self,
        session: Session,
        *,
        concurrency: int = 1,
        say: Callable[[str], None] | None = None,
        deliverer: Deliverer | None = None,
        runs_scanned: int = RUNS_SCANNED,
    ) -> None:
        self.session = session
        self.board = session.board
        self.say = say or (lambda line: None)
        # One deliverer for the rounds and the runs this worker resumes.
        self.deliverer = deliverer or session.deliverer
        self.deliverer.on_report = self._delivered
        self.runs_scanned = runs_scanned
        self.stopping = threading.Event()
        self._pool = ThreadPoolExecutor(max(1, concurrency), thread_name_prefix="crew-resume")
        self._in_flight: dict[str, Future[None]] = {}
        self._gave_up: dict[str, int] = {}  # run id -> run version a resume failed at

    def round(self) -> None:
        """One round of every duty (resumes are started, not waited for)."""
        self._enforce_slas()
        for card_id in self.board.reap():
            self.say(f"card {card_id}: its worker's lease expired; requeued or failed")
        self._enforce_retention()
        self._in_flight = {r: f for r, f in self._in_flight.items() if not f.done()}
        for run in self.resumable():
            if not self.stopping.is_set():
                self._in_flight[run.id] = self._pool.submit(self._resume, run)

    def _enforce_retention(self) -> None:
        from crew.retention import enforce_retention

        retained = enforce_retention(self.board, self.session.project.crew.settings.retention)
        for run_id in retained.abandoned:
            self.say(f"run {run_id}: cancelled as abandoned (settings.retention.abandoned)")

    def run(self, *, interval: float, once: bool = False) -> None:
        """Rounds every `interval` seconds until `stopping` is set (one round with `once`)."""
        import redis

        from crew.exceptions import RedisUnavailable

        try:
            while not self.stopping.is_set():
                try:
                    self.round()
                except redis.RedisError as error:  # a blip: the next round tries again
                    if once:
                        raise RedisUnavailable(
                            f"worker round failed: {error}", hint="Check that Redis is up."
                        ) from None
                    self.say(f"round failed, trying again in {interval:g}s: Redis: {error}")
                if once:
                    break
                self.stopping.wait(interval)
        finally:
            self.drain(deliver=once)

    def drain(self, *, deliver: bool = False) -> None:
        """Wait for the resumes in flight; with `deliver` (`--once`), for the attempts of the
        webhook deliveries that are due (theirs too); then for the attempt in flight, at most
        one POST's timeout: the next process makes any attempt cut short again."""
        self._pool.shutdown(wait=True)
        if deliver:
            self.deliverer.kick()
            self.deliverer.flush()
        self.deliverer.close(self.deliverer.timeout + 1)

    def resumable(self) -> list[Run]:
        """Runs a round should resume: answered but not acted on, or driverless while running."""
        from crew.board import RunStatus

        now = self.board.now()
        found = []
        for run in self.board.runs(self.runs_scanned):
            if run.status.finished or run.id in self._in_flight:
                continue
            if self._gave_up.get(run.id) == run.version:
                continue  # it failed at this version; a change (an answer, a resume) retries
            if run.lease_deadline is not None and run.lease_deadline > now:
                continue  # someone drives it right now
            if run.status is RunStatus.WAITING and self._has_answer(run):
                found.append(run)
            elif run.status is RunStatus.RUNNING and (
                run.lease_deadline is not None or now - run.updated > self.session.lease_seconds
            ):
                found.append(run)  # its driver's lease ran out (or it never took one)
        return found

    def _has_answer(self, run: Run) -> bool:
        from crew.exceptions import CardNotFound

        for waiting in run.waiting_on:
            try:
                card = self.board.get(str(waiting.get("card", "")))
            except CardNotFound:
                continue
            if card.decision is not None and not card.status.waits_on_person:
                return True
        return False

    def _resume(self, run: Run) -> None:
        from crew.exceptions import CrewError
        from crew.runtime import RunBusy, resume_run

        why = "an answer was recorded" if run.status == "waiting" else "its driver stopped"
        self.say(f"run {run.id} ({run.playbook}): resuming, {why}")
        try:
            report = resume_run(self.session, run.id)
        except RunBusy:
            return  # another process took it first; it carries the run on
        except CrewError as error:
            self._gave_up[run.id] = self._version(run)
            self.say(f"run {run.id}: could not resume: {error}")
            return
        except Exception as error:  # a worker outlives any one run's failure
            logger.exception("resuming run %s failed", run.id)
            self._gave_up[run.id] = self._version(run)
            self.say(f"run {run.id}: could not resume: {error}")
            return
        detail = ""
        if report.waiting_on:
            detail = ", waiting on " + ", ".join(w.assignee for w in report.waiting_on)
        elif report.reason and report.status != "done":
            detail = f": {report.reason}"
        self.say(f"run {run.id}: {report.status}{detail}")

    def _version(self, run: Run) -> int:
        try:
            return self.board.get_run(run.id).version
        except Exception:
            return run.version

    def _delivered(self, entry: OutboxEntry, sent: Sent, reported: str) -> None:
        whose = f"card {entry.card}: {entry.person}'s webhook"
        if reported == "notified":
            self.say(f"{whose} notified (attempt {entry.attempts})")
        elif reported == "notify_failed":
            self.say(f"{whose} failed after {entry.attempts} attempts: {sent.error}")
        elif reported == "retry":
            self.say(f"{whose} failed (attempt {entry.attempts}: {sent.error}); tried again later")

    def _enforce_slas(self) -> None:
        from crew.sla import enforce_slas

        for card in enforce_slas(
            self.session.project, self.board, deliverer=self.deliverer, limit=100
        ):
            where = f"{card.kind} {card.step} of run {card.run}"
            if card.overdue is not None:  # a move clears the flag: this one was flagged
                self.say(f"card {card.id} ({where}): overdue, nobody after {card.assignee}")
            else:
                self.say(
                    f"card {card.id} ({where}): not answered in time, now waits on {card.assignee}"
                )


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
    from crew.runtime import Session

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
    from crew.display import line

    console.print(
        f"{time.strftime('%H:%M:%S')} {line(text)}", highlight=False, markup=False, soft_wrap=True
    )
