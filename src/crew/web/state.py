"""What `crew serve` keeps while it runs: the project, its board, browser sessions, sign-in
attempts, and the runs it goes on with after an answer.

- **Sessions** live on the board (`<P>session:<id>`, expiring after `SESSION_SECONDS`); the
  browser holds only the random id, in an HttpOnly, SameSite=Lax cookie (Secure behind HTTPS).
  Each session has its own CSRF token, which every form carries. A session opened by a one-click
  link is limited to that card (`WebSession.card`).
- **SLAs** are enforced as by every crew command, at most every `SWEEP_SECONDS`, when an inbox
  or a card is read (`WebState.sweep`).
- **Sign-in attempts** are limited per client address (`SIGNIN_ATTEMPTS` a `SIGNIN_WINDOW`).
- **After an answer** the run goes on in the background (`crew.engine.runtime.continue_run`,
  as the person who answered): a run submitted to workers is queued for them, any other is
  driven in this process. The page or the API call returns at once.
"""

from __future__ import annotations

import collections
import dataclasses
import logging
import secrets
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from crew.board.board import Board
    from crew.board.cards import Card
    from crew.engine.runtime import Session
    from crew.spec.project import Project

__all__ = ["SESSION_SECONDS", "RateLimit", "WebSession", "WebState"]

logger = logging.getLogger("crew.web")

SESSION_SECONDS = 12 * 3600
SIGNIN_ATTEMPTS = 10
SIGNIN_WINDOW = 300.0
SWEEP_SECONDS = 15.0
COOKIE = "crew_session"
SIGNIN_COOKIE = "crew_signin"


@dataclass(frozen=True)
class WebSession:
    id: str
    person: str
    csrf: str
    card: str | None = None
    """A session a one-click link opened: only this card."""


class RateLimit:
    """At most `attempts` per `window` seconds for each key (a client address)."""

    def __init__(self, attempts: int = SIGNIN_ATTEMPTS, window: float = SIGNIN_WINDOW) -> None:
        self.attempts = attempts
        self.window = window
        self._seen: dict[str, collections.deque[float]] = {}
        self._lock = threading.Lock()

    def allow(self, key: str) -> bool:
        now = time.monotonic()
        with self._lock:
            seen = self._seen.setdefault(key, collections.deque())
            while seen and seen[0] <= now - self.window:
                seen.popleft()
            if len(seen) >= self.attempts:
                return False
            seen.append(now)
            if len(self._seen) > 10_000:  # forget the quiet ones
                for name in [k for k, v in self._seen.items() if not v]:
                    del self._seen[name]
            return True


@dataclass
class WebState:
    project: Project
    session: Session
    public_url: str | None = None
    trust_header: str | None = None
    signed_by: str | None = None
    """The authority the server's key is listed as in crew.yaml (None: decisions unsigned)."""
    limiter: RateLimit = field(default_factory=RateLimit)
    runner: ThreadPoolExecutor = field(
        default_factory=lambda: ThreadPoolExecutor(max_workers=4, thread_name_prefix="crew-run")
    )
    max_body: int = 2 * 1024 * 1024
    _going: list[Future[None]] = field(default_factory=list)
    _next_sweep: float = 0.0

    @property
    def board(self) -> Board:
        return self.session.board

    @property
    def secure(self) -> bool:
        return bool(self.public_url and self.public_url.startswith("https://"))

    # -- sessions ---------------------------------------------------------------------------

    def open_session(self, person: str, *, card: str | None = None) -> WebSession:
        made = WebSession(secrets.token_urlsafe(32), person, secrets.token_urlsafe(24), card)
        key = self.board.keys.web_session(made.id)
        pipe = self.board.client.pipeline(transaction=True)
        pipe.hset(key, mapping={"person": person, "csrf": made.csrf, "card": card or ""})
        pipe.expire(key, SESSION_SECONDS)
        pipe.execute()
        return made

    def find_session(self, session_id: str | None) -> WebSession | None:
        if not session_id or len(session_id) > 100:
            return None
        db: Any = self.board.client
        record: dict[str, str] = db.hgetall(self.board.keys.web_session(session_id))
        person = record.get("person")
        if not person or person not in self.project.crew.people:
            return None
        return WebSession(session_id, person, record.get("csrf", ""), record.get("card") or None)

    def close_session(self, session_id: str) -> None:
        self.board.client.delete(self.board.keys.web_session(session_id))

    def sweep(self) -> None:
        """What every crew command touching the board does (DESIGN §5): move overdue cards on
        their chain and attempt due webhook deliveries; here at most every `SWEEP_SECONDS`."""
        from crew.people.sla import enforce_slas

        now = time.monotonic()
        if now < self._next_sweep:
            return
        self._next_sweep = now + SWEEP_SECONDS
        enforce_slas(self.project, self.board, deliverer=self.session.deliverer)

    # -- after an answer --------------------------------------------------------------------

    def go_on(self, card: Card, person: str) -> None:
        """Let the card's run act on the answer, in the background (see the module docstring)."""
        session = dataclasses.replace(self.session, person=person)
        self._going = [f for f in self._going if not f.done()]
        self._going.append(self.runner.submit(_go_on, session, card))

    def settle(self, timeout: float | None = None) -> None:
        """Wait (at most `timeout` seconds) until the runs going on after answers stop (they
        finished, or wait again): for tests and a clean shutdown."""
        wait(list(self._going), timeout=timeout)

    def close(self) -> None:
        self.runner.shutdown(wait=False, cancel_futures=True)
        self.session.close()


def _go_on(session: Session, card: Card) -> None:
    from crew.engine.runtime import continue_run

    try:
        report = continue_run(session, card)
    except Exception as error:  # the answer stays recorded: `crew resume` or a worker acts on it
        logger.warning("run %s did not go on after card %s: %s", card.run, card.id, error)
        return
    if report is not None:
        logger.info("run %s is %s after card %s", report.run, report.status, card.id)
