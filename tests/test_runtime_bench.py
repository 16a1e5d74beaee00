"""bench/overhead.py runs (tiny sizes) and ends with the `ratio: <crew ÷ plain>` line."""

from __future__ import annotations

from support.bench import run_bench


def test_overhead_bench_prints_the_ratio_last(redis_url: str) -> None:
    run_bench("overhead", "--url", redis_url, "--steps", "3", "--rounds", "1")
