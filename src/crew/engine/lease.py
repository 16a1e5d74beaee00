"""What keeps one driver on a run: `Heartbeat` renews the run lease and the leases of the
cards being worked on, and notices when the run was cancelled or the lease was taken over;
`Heartbeat.check` raises (`LeaseLost`, `Cancelled`) so the driver stops before its next step;
`Drained` when the process was told to stop (a worker draining on SIGTERM): raised only between
steps, so the steps in flight finish and their results are on the board before the lease goes
back."""

from __future__ import annotations

import contextlib
import threading

from crew.board.board import Board
from crew.board.runs import RunStatus
from crew.exceptions import LeaseLost, RunError

__all__ = ["Cancelled", "Drained", "Heartbeat"]


class Heartbeat(threading.Thread):
    """Renews the run lease and the leases of the cards being worked on; notices cancellation."""

    def __init__(
        self,
        board: Board,
        run_id: str,
        token: str,
        seconds: float,
        *,
        draining: threading.Event | None = None,
    ) -> None:
        super().__init__(name=f"crew-lease-{run_id}", daemon=True)
        self.board, self.run_id, self.token, self.seconds = board, run_id, token, seconds
        self.draining = draining
        self.cards: dict[str, str] = {}  # card id -> lease token
        self.lock = threading.Lock()
        self.stopped = threading.Event()
        self.lost: str | None = None
        self.cancelled: str | None = None

    def run(self) -> None:
        while not self.stopped.wait(self.seconds / 3):
            self.beat()

    def beat(self) -> None:
        try:
            self.board.renew_run(self.run_id, self.token, self.seconds)
        except LeaseLost as error:
            self.lost = str(error)
            self.stopped.set()
            return
        except Exception:  # Redis blips: the next beat retries; the lease has 2/3 left
            return
        with self.lock:
            cards = dict(self.cards)
        for card_id, token in cards.items():
            with contextlib.suppress(Exception):
                self.board.heartbeat(card_id, token, self.seconds)
        with contextlib.suppress(Exception):
            run = self.board.get_run(self.run_id)
            if run.status is RunStatus.CANCELLED:
                self.cancelled = run.reason or str(RunStatus.CANCELLED)

    def check(self) -> None:
        """Raise if this process may no longer drive the run."""
        if self.lost:
            raise LeaseLost(self.lost, hint="Another process drives this run now.")
        if self.cancelled:
            raise Cancelled(self.cancelled)
        if self.draining is not None and self.draining.is_set():
            with self.lock:
                working = bool(self.cards)
            if not working:  # between steps: no step's work is thrown away
                raise Drained(
                    f"run {self.run_id}: this worker is stopping; the run goes back in line",
                    hint="Another worker carries it on from its last finished step.",
                )

    def track(self, card_id: str, token: str | None) -> None:
        with self.lock:
            if token is None:
                self.cards.pop(card_id, None)
            else:
                self.cards[card_id] = token

    def stop(self) -> None:
        self.stopped.set()


class Cancelled(RunError):
    """The run was cancelled while this process drove it."""


class Drained(LeaseLost):
    """This process is stopping (a worker told to drain): the driver stops between steps and
    hands the run lease back; the run is queued again for another worker. A `LeaseLost`: the
    steps treat it the same way (nothing is failed)."""
