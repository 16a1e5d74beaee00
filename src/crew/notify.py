"""Webhook notifications: tell a person a card is waiting on them (DESIGN §5).

A person with a `webhook` in `crew.yaml` gets an HTTP POST with a JSON message whenever a card is
assigned or reassigned to them. Delivery has a timeout and a few retries, runs in a background
thread, and never raises: a failing webhook must not block or fail a run. The outcome is handed
to a callback (the runtime records it on the card).
"""

from __future__ import annotations

import json
import logging
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

logger = logging.getLogger("crew")

TIMEOUT = 3.0
ATTEMPTS = 3
BACKOFF = 0.25


@dataclass(frozen=True)
class Delivery:
    """What happened to one webhook POST."""

    url: str
    ok: bool
    attempts: int
    status: int | None = None
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "url": self.url,
            "ok": self.ok,
            "attempts": self.attempts,
            "status": self.status,
            "error": self.error,
        }


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
) -> dict[str, Any]:
    """The JSON a webhook receives: who, what, why, and the command that answers it."""
    what = "checkpoint" if kind == "checkpoint" else "escalation"
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
        "answer": f"crew answer {card} approve|reject|edit|retry --as {person}",
    }


def post(
    url: str,
    payload: Mapping[str, Any],
    *,
    timeout: float = TIMEOUT,
    attempts: int = ATTEMPTS,
    backoff: float = BACKOFF,
) -> Delivery:
    """POST `payload` as JSON; retry on errors and 5xx/429; never raise."""
    body = json.dumps(payload).encode()
    status: int | None = None
    error: str | None = None
    for attempt in range(1, attempts + 1):
        request = urllib.request.Request(
            url,
            data=body,
            method="POST",
            headers={"Content-Type": "application/json", "User-Agent": "crew-webhook"},
        )
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                status = int(response.status)
            return Delivery(url, True, attempt, status)
        except urllib.error.HTTPError as exc:
            status, error = exc.code, f"HTTP {exc.code} {exc.reason}"
            if exc.code < 500 and exc.code != 429:
                return Delivery(url, False, attempt, status, error)
        except (urllib.error.URLError, OSError, ValueError) as exc:
            reason = getattr(exc, "reason", exc)
            error = f"timed out after {timeout:g}s" if "timed out" in str(reason) else str(reason)
        if attempt < attempts:
            time.sleep(backoff * 2 ** (attempt - 1))
    logger.warning("webhook %s failed after %d attempts: %s", url, attempts, error)
    return Delivery(url, False, attempts, status, error)


class Notifier:
    """Sends webhooks in background threads; `flush` waits (bounded) for those in flight."""

    def __init__(self, *, timeout: float = TIMEOUT, attempts: int = ATTEMPTS) -> None:
        self.timeout = timeout
        self.attempts = attempts
        self._threads: list[threading.Thread] = []

    def send(
        self,
        url: str,
        payload: Mapping[str, Any],
        on_done: Callable[[Delivery], None] | None = None,
    ) -> None:
        def deliver() -> None:
            delivery = post(url, payload, timeout=self.timeout, attempts=self.attempts)
            if on_done is not None:
                try:
                    on_done(delivery)
                except Exception:  # recording the outcome must not crash anything either
                    logger.exception("could not record the webhook outcome for %s", url)

        thread = threading.Thread(target=deliver, name="crew-webhook", daemon=True)
        thread.start()
        self._threads.append(thread)

    def flush(self, timeout: float | None = None) -> None:
        limit = timeout if timeout is not None else self.timeout * self.attempts + 2
        deadline = time.monotonic() + limit
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        self._threads = [t for t in self._threads if t.is_alive()]
