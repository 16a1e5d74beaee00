"""What keeps one driver on a run: `Heartbeat` renews the run lease and the leases of the
cards being worked on, and notices when the run was cancelled or the lease was taken over;
`Heartbeat.check` raises (`LeaseLost`, `Cancelled`) so the driver stops before its next step."""

from __future__ import annotations

import contextlib
import threading

from crew.board.board import Board
from crew.board.runs import RunStatus
from crew.exceptions import LeaseLost, RunError

__all__ = ["Cancelled", "Heartbeat"]


class Heartbeat(threading.Thread):
    """Renews the run lease and the leases of the cards being worked on; notices cancellation."""

    def __init__(self, board: Board, run_id: str, token: str, seconds: float) -> None:
        super().__init__(name=f"crew-lease-{run_id}", daemon=True)
        self.board, self.run_id, self.token, self.seconds = board, run_id, token, seconds
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
