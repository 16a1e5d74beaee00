"""bench/report.py runs (tiny sizes): the roll-ups' overhead, then the `ratio: <large ÷ small>`
line last."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def test_report_bench_prints_the_overhead_and_the_ratio_last(redis_url: str) -> None:
    bench = str(REPO / "bench" / "report.py")
    result = subprocess.run(
        [sys.executable, bench, "--url", redis_url, "--small", "20", "--large", "200",
         "--cycles", "40"],
        capture_output=True,
        text=True,
        timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    lines = result.stdout.strip().splitlines()
    assert re.match(r"overhead: -?\d+\.\d%", lines[0]), result.stdout
    assert re.fullmatch(r"ratio: \d+\.\d\d", lines[-1]), result.stdout
