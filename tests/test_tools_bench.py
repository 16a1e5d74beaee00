"""bench/tools.py runs (tiny sizes) and ends with the `ratio: <crew ÷ plain>` line."""

from __future__ import annotations

from support.bench import run_bench


def test_tools_bench_prints_the_ratio_last(redis_url: str) -> None:
    run_bench("tools", "--url", redis_url, "--calls", "2", "--rounds", "1")
