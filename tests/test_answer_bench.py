"""bench/answer.py runs (one round a side) and ends with the `ratio: <signed ÷ unsigned>` line."""

from __future__ import annotations

from support.bench import run_bench


def test_answer_bench_prints_the_ratio_last(redis_url: str) -> None:
    run_bench("answer", "--url", redis_url, "--rounds", "1")
