"""Waiting for a Redis that is loading its data into memory (after a restart).

While a server loads its append-only file or snapshot it refuses nearly every command with
`LOADING` (redis-py raises `BusyLoadingError`, a `ConnectionError`). That is not a server to start
or a URL to fix: it is one to wait for. What a caller may rely on:

- `LoadingRetry` is the retry policy of every client crew makes (`crew.connection.connect`, the
  checkpoint saver): redis-py's default (ten quick tries on a connection error) and, on
  `BusyLoadingError`, a new try every 0.1 s for up to `LOADING_WAIT` seconds. So the first command
  of a `crew` process, a driver in the middle of a run and a worker all wait for a restarted
  Redis instead of failing. A command refused with LOADING was not executed: trying it again is
  safe.
- While it waits it says so on the `crew` logger (stderr when logging is not configured): "Redis
  at URL is loading its data into memory; waiting up to 60s", then every 5 seconds how long it
  has waited.
- After `LOADING_WAIT` seconds the command raises the `BusyLoadingError` it got; the connect
  check turns it into `still_loading`'s one line.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any, TypeVar, cast

from redis.backoff import ExponentialWithJitterBackoff
from redis.exceptions import BusyLoadingError
from redis.retry import Retry

from crew.exceptions import RedisUnavailable

logger = logging.getLogger("crew")

LOADING_WAIT = 60.0  # seconds crew waits for a Redis that is loading its data
_POLL = 0.1  # seconds between tries while it loads
_PROGRESS_EVERY = 5.0  # seconds between progress lines
T = TypeVar("T")


def still_loading(url: str) -> RedisUnavailable:
    """The error for a server that was still loading when crew stopped waiting."""
    return RedisUnavailable(
        f"Redis at {url} is still loading its data into memory after {LOADING_WAIT:.0f}s",
        hint="Wait until its log says it is ready to accept connections, then try again.",
    )


class LoadingRetry(Retry):
    """redis-py's default retry, plus up to `LOADING_WAIT` seconds of waiting while the server
    loads its data (see the module docstring). `url` (no password) is for the progress lines."""

    def __init__(self, url: str) -> None:
        # redis-py 8's defaults: 10 tries, jittered backoff from 10 ms up to 1 s.
        super().__init__(ExponentialWithJitterBackoff(base=0.01, cap=1.0), 10)
        self.url = url

    def call_with_retry(
        self,
        do: Callable[[], T],
        fail: Callable[[Exception], Any] | Callable[[Exception, int], Any],
        is_retryable: Callable[[Exception], bool] | None = None,
        with_failure_count: bool = False,
    ) -> T:
        def retryable(error: Exception) -> bool:
            # LOADING is waited for here, at our pace, not spent on redis-py's ten quick tries.
            if isinstance(error, BusyLoadingError):
                return False
            return is_retryable is None or is_retryable(error)

        start = time.monotonic()
        said: float | None = None
        refused = 0
        while True:
            try:
                return super().call_with_retry(do, fail, retryable, with_failure_count)
            except BusyLoadingError as error:
                refused += 1
                # As redis-py does after a failure: drop the connection (a pipeline refused
                # halfway has replies left unread on it); the next try opens a new one.
                if with_failure_count:
                    cast(Callable[[Exception, int], Any], fail)(error, refused)
                else:
                    cast(Callable[[Exception], Any], fail)(error)
                now = time.monotonic()
                if refused == 1:
                    start = now
                if now - start >= LOADING_WAIT:
                    raise
                if said is None:
                    logger.warning(
                        "Redis at %s is loading its data into memory; waiting up to %.0fs",
                        self.url,
                        LOADING_WAIT,
                    )
                    said = now
                elif now - said >= _PROGRESS_EVERY:
                    logger.warning(
                        "Redis at %s is still loading its data (waited %.0fs of %.0fs)",
                        self.url,
                        now - start,
                        LOADING_WAIT,
                    )
                    said = now
                time.sleep(_POLL)
