"""Webhooks reach a real HTTP server on 127.0.0.1; a failing one is reported, never raised."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from webhook_support import Hook, closed_port_url

from crew.notify import Delivery, Notifier, message, post


@pytest.fixture
def hook() -> Iterator[Hook]:
    server = Hook()
    yield server
    server.close()


def _message() -> dict[str, Any]:
    return message(
        person="bob", card="c7", run="r1", playbook="launch-brief", step="research",
        kind="escalation", reason="confidence 0.55 below 0.7", due=None, previous="alice",
    )


def test_the_message_says_who_what_why_and_how_to_answer(hook: Hook) -> None:
    delivery = post(hook.url, _message())
    assert delivery.ok and delivery.status == 200 and delivery.attempts == 1
    [got] = hook.received
    assert got["person"] == "bob" and got["card"] == "c7" and got["step"] == "research"
    assert got["reason"] == "confidence 0.55 below 0.7"
    assert got["answer"].startswith("crew answer c7 ")
    assert "alice" in got["text"]


def test_server_errors_are_retried(hook: Hook) -> None:
    hook.statuses[:] = [500, 429]
    delivery = post(hook.url, _message(), backoff=0)
    assert delivery.ok and delivery.attempts == 3
    assert len(hook.received) == 3


def test_a_client_error_is_not_retried(hook: Hook) -> None:
    hook.statuses[:] = [404]
    delivery = post(hook.url, _message(), backoff=0)
    assert not delivery.ok and delivery.attempts == 1 and delivery.error == "HTTP 404 Not Found"


def test_a_webhook_that_is_down_is_reported_not_raised() -> None:
    delivery = post(closed_port_url(), _message(), attempts=2, backoff=0)
    assert not delivery.ok and delivery.attempts == 2
    assert delivery.error and "refused" in delivery.error.lower()


def test_notifier_delivers_in_the_background_and_reports(hook: Hook) -> None:
    outcomes: list[Delivery] = []
    notifier = Notifier()
    notifier.send(hook.url, _message(), on_done=outcomes.append)
    notifier.flush()
    assert [o.ok for o in outcomes] == [True]
    assert outcomes[0].to_dict()["url"] == hook.url
