"""One webhook POST reaches a real HTTP server on 127.0.0.1; what it did is reported, never
raised. Retrying it is the board's outbox's job (tests/test_outbox.py)."""

from __future__ import annotations

import time
from typing import Any

import pytest
from support.webhook import Hang, Hook, closed_port_url

from crew.people.notify import message, post


def _message() -> dict[str, Any]:
    return message(
        person="bob", card="c7", run="r1", playbook="launch-brief", step="research",
        kind="escalation", reason="confidence 0.55 below 0.7", due=None, previous="alice",
    )


def test_the_message_says_who_what_why_and_how_to_answer(hook: Hook) -> None:
    sent = post(hook.url, _message())
    assert sent.ok and sent.status == 200 and sent.error is None
    [got] = hook.received
    assert got["person"] == "bob" and got["card"] == "c7" and got["step"] == "research"
    assert got["reason"] == "confidence 0.55 below 0.7"
    assert got["answer"].startswith("crew answer c7 ")
    assert "alice" in got["text"]


@pytest.mark.parametrize("status", [500, 503, 429])
def test_server_errors_and_429_are_worth_another_attempt(hook: Hook, status: int) -> None:
    hook.statuses[:] = [status]
    sent = post(hook.url, _message())
    assert not sent.ok and sent.status == status and sent.retryable
    assert len(hook.received) == 1  # one POST: the next attempt is the outbox's


def test_a_client_error_is_not_worth_another_attempt(hook: Hook) -> None:
    hook.statuses[:] = [404]
    sent = post(hook.url, _message())
    assert not sent.ok and not sent.retryable and sent.error == "HTTP 404 Not Found"


def test_a_webhook_that_is_down_is_reported_not_raised() -> None:
    sent = post(closed_port_url(), _message())
    assert not sent.ok and sent.retryable
    assert sent.error and "refused" in sent.error.lower()


def test_a_webhook_that_never_answers_times_out() -> None:
    hang = Hang()
    try:
        started = time.monotonic()
        sent = post(hang.url, _message(), timeout=0.2)
        assert time.monotonic() - started < 2.0
    finally:
        hang.close()
    assert not sent.ok and sent.retryable and sent.error == "timed out after 0.2s"


def test_a_checkpoints_message_offers_only_the_decisions_a_checkpoint_takes() -> None:
    sent = message(
        person="carol",
        card="c5",
        run="r1",
        playbook="launch-brief",
        step="legal_review",
        kind="checkpoint",
        reason="Approve?",
        due=None,
    )
    assert sent["answer"] == "crew answer c5 approve|reject|edit --as carol"
