"""Running a bench script of bench/ (at tiny sizes) as a user does: `python bench/NAME.py`."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def run_bench(name: str, *args: str, timeout: float = 120) -> str:
    """Run bench/`name`.py with `args`; check it exited 0 and ended with its `ratio: R` line
    (R with two decimals); return its stdout."""
    result = subprocess.run(
        [sys.executable, str(REPO / "bench" / f"{name}.py"), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert result.returncode == 0, result.stderr
    last = result.stdout.strip().splitlines()[-1]
    assert re.fullmatch(r"ratio: \d+\.\d\d", last), result.stdout
    return result.stdout
