"""Which heavy packages (LangChain, LangGraph, openai) a `crew` command imports, run through its
real entry point in a fresh interpreter."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

HEAVY = ("langchain", "langchain_core", "langchain_openai", "langgraph", "openai")

# Runs the real entry point, then reports which heavy top-level packages got imported.
PROBE = """
import json, sys
args, heavy_names = json.loads(sys.argv[1]), set(json.loads(sys.argv[2]))
from crew.cli import main
sys.argv = ["crew", *args]
try:
    main()
except SystemExit as exit_:
    code = exit_.code
else:
    code = 0
heavy = sorted({m.split(".")[0] for m in sys.modules} & heavy_names)
print("PROBE " + json.dumps({"code": code, "heavy": heavy}), file=sys.__stderr__)
"""


def imports_of(args: list[str], cwd: Path) -> dict[str, object]:
    env = {k: v for k, v in os.environ.items() if k != "CREW_PROJECT"}
    result = subprocess.run(
        [sys.executable, "-c", PROBE, json.dumps(args), json.dumps(HEAVY)],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    probe = [line for line in result.stderr.splitlines() if line.startswith("PROBE ")]
    assert probe, result.stderr
    report: dict[str, object] = json.loads(probe[-1].removeprefix("PROBE "))
    return report
