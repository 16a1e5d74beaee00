"""Webhook notifications: tell a person a card is waiting on them (DESIGN §5).

A person with a `webhook` in `crew.yaml` gets an HTTP POST with a JSON message (`message`)
whenever a card is assigned or reassigned to them. Delivery is durable: the transition that
assigns the card queues the delivery on the board in the same atomic step (the board's outbox,
`crew.board.outbox`), and any crew process that reaches the board makes the attempts: the
process that assigned the card at once, every `crew` command after its SLA sweep, and
`crew worker` every round. What a caller may rely on:

- **Nothing waits on a webhook.** `Deliverer.kick` attempts the due deliveries in background
  threads, a few at once (so one webhook that hangs does not hold up the others), each POST with
  a short timeout (`TIMEOUT`); `Deliverer.close` gives the attempts in flight a bounded moment
  (`EXIT_GRACE` for a command about to exit) and never more.
- **Attempts survive processes.** A claim takes one attempt under a lease (`LEASE`): no other
  process attempts that delivery until the lease runs out, and an attempt cut short (the process
  exited or died first) is made again by the next process that claims it. A failed attempt
  (no answer, a server error, 429) is due again after a backoff that doubles each time
  (`BACKOFF`, `ATTEMPTS`), for whichever process gets to it first.
- **The outcome is on the card, once.** Delivered: a `notified` event; another client error, or
  every attempt failed: `notify_failed` (url, HTTP status, attempts, error, person); both by
  `crew`, both kept as `card.notified`. Then the delivery leaves the outbox.
- **At least once.** A receiver may get a message twice (an attempt whose answer came back after
  its lease ran out, or whose process stopped before recording it); it never gets it zero times
  while a crew process runs, unless every attempt fails.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from crew.board.cards import iso
from crew.types import CardKind, DeliveryOutcome, DeliveryReport

if TYPE_CHECKING:
    from crew.board.board import Board
    from crew.board.outbox import OutboxEntry
    from crew.spec.project import Project

__all__ = [
    "ATTEMPTS",
    "BACKOFF",
    "EXIT_GRACE",
    "LEASE",
    "TIMEOUT",
    "Deliverer",
    "Sent",
    "close_shared_deliverers",
    "message",
    "message_of",
    "post",
    "shared_deliverer",
    "webhook_of",
]

logger = logging.getLogger("crew")

TIMEOUT = 3.0
"""Seconds one POST waits for an answer."""
ATTEMPTS = 5
"""Attempts per delivery before it is recorded as failed."""
BACKOFF = 10.0
"""Seconds before the second attempt; each next one waits twice as long (10s, 20s, 40s, 80s)."""
LEASE = 10.0
"""Seconds an attempt holds its delivery: past that, another process may attempt it again."""
EXIT_GRACE = 0.3
"""Seconds a command about to exit gives the attempt in flight (`Deliverer.close`)."""
ACTOR = "crew"
"""The actor of `notified` / `notify_failed` events in the audit log."""


@dataclass(frozen=True)
class Sent:
    """What one POST did."""

    url: str
    ok: bool
    status: int | None = None
    error: str | None = None

    @property
    def retryable(self) -> bool:
        """Worth another attempt: no answer, a server error or 429 (not another client error)."""
        return not self.ok and (self.status is None or self.status >= 500 or self.status == 429)


def message(
    *,
    person: str,
    card: str,
    run: str,
    playbook: str,
    step: str,
    kind: str,
    reason: str,
    due: str | None,
    previous: str | None = None,
    link: str | None = None,
) -> dict[str, Any]:
    """The JSON a webhook receives: who, what, why, the command that answers it and, where
    `crew serve` has a public URL, `link`: a signed single-use URL opening the card for the
    person (`crew.people.tokens.link_for`; null otherwise)."""
    what = CardKind(kind) if kind in CardKind.__members__.values() else CardKind.ESCALATION
    text = f"{person}: {playbook} / {step} is waiting on you ({what}): {reason}"
    if previous:
        text += f" (moved from {previous}, who did not answer in time)"
    return {
        "text": text,
        "person": person,
        "card": card,
        "run": run,
        "playbook": playbook,
        "step": step,
        "kind": kind,
        "reason": reason,
        "due": due,
        "previous_assignee": previous,
        "answer": f"crew answer {card} {'|'.join(what.decisions)} --as {person}",
        "link": link,
    }


def message_of(entry: OutboxEntry, link: str | None = None) -> dict[str, Any]:
    """The message of a queued delivery: the assignment as it was when it was queued."""
    return message(
        link=link,
        person=entry.person,
        card=entry.card,
        run=entry.run,
        playbook=entry.playbook,
        step=entry.step,
        kind=entry.kind,
        reason=entry.reason,
        due=iso(entry.due),
        previous=entry.previous,
    )


def webhook_of(project: Project, person: str) -> str | None:
    """`person`'s webhook URL from crew.yaml, or None (no webhook, or not a person of it).
    A person with an `email` and no webhook, on a project with `settings.smtp`, is told by
    e-mail: their address is a `mailto:` URL (`crew.people.mail`)."""
    spec = project.crew.people.get(person)
    url = getattr(spec, "webhook", None)
    if url:
        return str(url)
    smtp = project.crew.settings.smtp
    email = getattr(spec, "email", None)
    if smtp is not None and email:
        from crew.people.mail import mail_url

        return mail_url(smtp, str(email))
    return None


def post(url: str, payload: Mapping[str, Any], *, timeout: float = TIMEOUT) -> Sent:
    """POST `payload` as JSON, once; never raise. Retrying is the outbox's job. A `mailto:`
    address is sent by e-mail instead (`crew.people.mail`)."""
    if url.startswith("mailto:"):
        from crew.people.mail import send

        status, error = send(url, payload, timeout=timeout)
        return Sent(url, error is None, status, error)
    # Imported here: most commands never POST, and urllib.request is slow to import.
    import urllib.error
    import urllib.request

    request = urllib.request.Request(
        url,
        data=json.dumps(payload).encode(),
        method="POST",
        headers={"Content-Type": "application/json", "User-Agent": "crew-webhook"},
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return Sent(url, True, int(response.status))
    except urllib.error.HTTPError as exc:
        return Sent(url, False, exc.code, f"HTTP {exc.code} {exc.reason}")
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        timed_out = isinstance(reason, TimeoutError) or "timed out" in str(reason)
        return Sent(url, False, None, f"timed out after {timeout:g}s" if timed_out else str(reason))


class Deliverer:
    """Makes the attempts of one board's due webhook deliveries: in the background, `concurrency`
    at once (`kick`, `flush`, `close`), or one after another in the caller's thread
    (`deliver_due`).

    `timeout` is one POST's; `attempts` and `backoff` are the retry policy this process applies
    when it records an outcome; `lease` (default: `LEASE`, at least twice `timeout`) is how long
    a claimed attempt keeps other processes off. `limit` bounds the attempts of one pass.
    `on_report` hears of every attempt made (the delivery, the POST, what its report did), from
    the thread that made it.
    """

    def __init__(
        self,
        board: Board,
        *,
        holder: str | None = None,
        timeout: float = TIMEOUT,
        attempts: int = ATTEMPTS,
        backoff: float = BACKOFF,
        lease: float | None = None,
        limit: int = 50,
        concurrency: int = 4,
        on_report: Callable[[OutboxEntry, Sent, DeliveryReport], None] | None = None,
    ) -> None:
        self.board = board
        self.holder = holder or f"{socket.gethostname()}:{os.getpid()}"
        self.timeout = timeout
        self.attempts = attempts
        self.backoff = backoff
        self.lease = lease if lease is not None else max(LEASE, 2 * timeout + 1)
        self.limit = limit
        self.concurrency = max(1, concurrency)
        self.on_report = on_report
        self._lock = threading.Lock()
        self._again = False
        self._thread: threading.Thread | None = None
        self._closing = threading.Event()
        self._claims_until: float | None = None  # time.monotonic(); set by `close`

    def deliver_one(self) -> DeliveryReport | None:
        """Claim the delivery due longest, POST it, record the outcome; None if none is due."""
        entry = self._claim()
        return None if entry is None else self._attempt(entry)

    def _claim(self) -> OutboxEntry | None:
        return self.board.claim_delivery(
            self.holder, lease_seconds=self.lease, attempts=self.attempts, actor=ACTOR
        )

    def _attempt(self, entry: OutboxEntry) -> DeliveryReport:
        sent = post(entry.url, message_of(entry, self._link(entry)), timeout=self.timeout)
        outcome = DeliveryOutcome.OK if sent.ok else DeliveryOutcome.FAIL
        if not sent.ok and sent.retryable:
            outcome = DeliveryOutcome.RETRY
        reported = self.board.report_delivery(
            entry,
            outcome,
            status=sent.status,
            error=sent.error,
            attempts=self.attempts,
            backoff=self.backoff,
            actor=ACTOR,
        )
        if reported == DeliveryReport.NOTIFY_FAILED:
            logger.warning(
                "webhook %s for card %s failed after %d attempts: %s",
                entry.url,
                entry.card,
                entry.attempts,
                sent.error,
            )
        if self.on_report is not None:
            self.on_report(entry, sent, reported)
        return reported

    def _link(self, entry: OutboxEntry) -> str | None:
        """A one-click link for the message, where `crew serve` recorded a public URL; a
        delivery goes without one rather than not at all."""
        from crew.people.tokens import link_for

        try:
            return link_for(self.board, entry.card, entry.person)
        except Exception as error:  # e.g. Redis went away: the POST still tells the person
            logger.warning("webhook for card %s goes without a link: %s", entry.card, error)
            return None

    def deliver_due(self, limit: int | None = None) -> list[DeliveryReport]:
        """Attempt due deliveries one after another until none is due, `limit` (default: the
        deliverer's) were attempted, or `close` stops the claims; return what each report did."""
        done: list[DeliveryReport] = []
        while len(done) < (limit if limit is not None else self.limit):
            if not self._may_claim():
                break
            reported = self.deliver_one()
            if reported is None:
                break
            done.append(reported)
        return done

    def kick(self) -> None:
        """Attempt the due deliveries in the background (a pass: `concurrency` threads making
        attempts until none is due, or `limit` were made); a pass already under way makes
        another one after it. Never blocks, never raises."""
        with self._lock:
            if self._closing.is_set():
                return
            self._again = True
            if self._thread is not None:
                return  # the running pass sees `_again` and goes round once more
            self._thread = threading.Thread(target=self._passes, name="crew-webhooks", daemon=True)
            self._thread.start()

    def _passes(self) -> None:
        while True:
            with self._lock:
                if not self._again or not self._may_claim():
                    self._thread = None
                    return
                self._again = False
            self._pass()

    def _may_claim(self) -> bool:
        until = self._claims_until
        return until is None or time.monotonic() < until

    def _pass(self) -> None:
        # One claim first: with nothing due (most commands), a pass is one round trip and no
        # more threads. With something due, helpers claim the next ones while this one POSTs.
        try:
            first = self._claim() if self._may_claim() else None
        except Exception as error:  # never fails a command; the next process retries
            logger.warning("webhook deliveries skipped for now: %s", error)
            return
        if first is None:
            return
        left = [self.limit - 1]

        def attempts(entry: OutboxEntry | None) -> None:
            try:
                while True:
                    if entry is not None:
                        self._attempt(entry)
                    with self._lock:
                        if left[0] <= 0 or not self._may_claim():
                            return
                        left[0] -= 1
                    entry = self._claim()
                    if entry is None:
                        return
            except Exception as error:  # never fails a command; the next process retries
                logger.warning("webhook deliveries stopped for now: %s", error)

        helpers = [
            threading.Thread(target=attempts, args=(None,), name="crew-webhook", daemon=True)
            for _ in range(self.concurrency - 1)
        ]
        for helper in helpers:
            helper.start()
        attempts(first)
        for helper in helpers:
            helper.join()

    def flush(self, timeout: float | None = None) -> bool:
        """Wait (at most `timeout` seconds; None: until done) for the background passes to end;
        True when they did."""
        with self._lock:
            thread = self._thread
        if thread is not None:
            thread.join(timeout)
            return not thread.is_alive()
        return True

    @property
    def closed(self) -> bool:
        return self._closing.is_set()

    def close(self, grace: float = EXIT_GRACE) -> None:
        """Wait at most `grace` seconds for the background attempts, then return (once: a second
        `close` returns at once). Deliveries due are still claimed during the first half of it
        (a quick command has kicked a pass that may not have claimed yet), none after; `kick`
        does nothing any more. An attempt still running at the end is cut short when the
        process exits; its lease lets the next process make it again."""
        with self._lock:
            if self._closing.is_set():
                return
            self._closing.set()
            self._claims_until = time.monotonic() + grace / 2
        self.flush(grace)


_shared: list[Deliverer] = []
_shared_lock = threading.Lock()


def shared_deliverer(board: Board) -> Deliverer:
    """This process's deliverer for `board`: one per board, so a command that opens the board
    twice (like `crew answer`) still waits once. It attempts the board's due deliveries in the
    background while the process works. At exit they all get one moment together
    (`close_shared_deliverers`, registered with `atexit` on first use, `EXIT_GRACE`); an attempt
    cut short is made again by the next process."""
    with _shared_lock:
        for each in _shared:
            if each.board.keys.prefix == board.keys.prefix and not each.closed:
                return each
        made = Deliverer(board)
        if not _shared:
            import atexit

            atexit.register(close_shared_deliverers)
        _shared.append(made)
        return made


def close_shared_deliverers(grace: float | None = None) -> None:
    """What a process does at exit: its shared deliverers claim nothing more, and the attempts
    in flight get `grace` seconds together (default `EXIT_GRACE`)."""
    deadline = time.monotonic() + (EXIT_GRACE if grace is None else grace)
    for each in list(_shared):
        each.close(max(0.0, deadline - time.monotonic()))
