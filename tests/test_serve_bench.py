"""bench/serve.py runs (a small board, a few requests) and ends with the `ratio: <crew ÷ bare>`
line; the inbox it measures reads one bounded page, whatever the number of waiting cards."""

from __future__ import annotations

import pytest
from support.bench import run_bench

pytest.importorskip("starlette", reason="crew[web] is not installed")


def test_serve_bench_prints_the_ratio_last(redis_url: str) -> None:
    out = run_bench("serve", "--url", redis_url, "--cards", "600", "--requests", "10")
    assert "(200 cards a page)" in out
