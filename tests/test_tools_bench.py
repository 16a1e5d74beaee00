"""bench/tools.py runs (tiny sizes) and ends with the `ratio: <crew ÷ plain>` line."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def test_tools_bench_prints_the_ratio_last(redis_url: str) -> None:
    bench = str(REPO / "bench" / "tools.py")
    result = subprocess.run(
        [sys.executable, bench, "--url", redis_url, "--calls", "2", "--rounds", "1"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    last = result.stdout.strip().splitlines()[-1]
    assert re.fullmatch(r"ratio: \d+\.\d\d", last), result.stdout
