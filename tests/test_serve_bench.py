"""bench/serve.py runs (a small board, a few requests) and ends with the `ratio: <crew ÷ bare>`
line; the inbox it measures reads one bounded page, whatever the number of waiting cards."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("starlette", reason="crew[web] is not installed")

REPO = Path(__file__).resolve().parent.parent


def test_serve_bench_prints_the_ratio_last(redis_url: str) -> None:
    bench = str(REPO / "bench" / "serve.py")
    result = subprocess.run(
        [sys.executable, bench, "--url", redis_url, "--cards", "600", "--requests", "10"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert "(200 cards a page)" in result.stdout
    last = result.stdout.strip().splitlines()[-1]
    assert re.fullmatch(r"ratio: \d+\.\d\d", last), result.stdout
