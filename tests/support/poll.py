"""Waiting on what other processes write (a file, the board): nothing to wait on but polling."""

from __future__ import annotations

import time
from collections.abc import Callable


def wait_for(
    check: Callable[[], object],
    what: str,
    timeout: float = 60,
    *,
    tolerate: tuple[type[Exception], ...] = (),
) -> None:
    """Poll until `check()` holds; an exception in `tolerate` counts as not yet (e.g. a Redis
    that is restarting). AssertionError naming `what` after `timeout` seconds."""
    give_up = time.monotonic() + timeout
    while True:
        try:
            if check():
                return
        except tolerate:
            pass
        if time.monotonic() > give_up:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)
