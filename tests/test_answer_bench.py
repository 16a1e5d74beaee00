"""bench/answer.py runs (one round a side) and ends with the `ratio: <signed ÷ unsigned>` line."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def test_answer_bench_prints_the_ratio_last(redis_url: str) -> None:
    bench = str(REPO / "bench" / "answer.py")
    result = subprocess.run(
        [sys.executable, bench, "--url", redis_url, "--rounds", "1"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    last = result.stdout.strip().splitlines()[-1]
    assert re.fullmatch(r"ratio: \d+\.\d\d", last), result.stdout
