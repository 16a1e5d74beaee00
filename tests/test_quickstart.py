"""The README's quickstart, verbatim: a new user pastes two commands into a fresh copy of the
example project; the first stops at the checkpoint (exit 3), the second answers it (exit 0)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


def quickstart_commands() -> list[str]:
    readme = (REPO / "README.md").read_text()
    for block in re.findall(r"```bash\n(.*?)```", readme, flags=re.S):
        if "crew run " in block:
            return [line for line in block.splitlines() if line.strip()]
    raise AssertionError("README has no bash block with `crew run`")


def shell(command: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}
    env.pop("CREW_USER", None)
    env.pop("OPENAI_API_KEY", None)  # --replay needs no key
    return subprocess.run(
        ["bash", "-c", command], cwd=cwd, env=env, capture_output=True, text=True, timeout=120
    )


def test_the_readme_quickstart_runs_to_the_checkpoint_then_to_the_end(
    project_dir: Path, crew_cli: Callable[..., Any]
) -> None:
    for name in ("crew.yaml", "agents", "playbooks"):
        if (REPO / name).is_dir():
            shutil.copytree(REPO / name, project_dir / name)
        else:
            shutil.copy(REPO / name, project_dir / name)
    run, answer = quickstart_commands()

    first = shell(run, project_dir)
    assert first.returncode == 3, first.stderr
    assert "carol" in first.stdout and "crew answer" in first.stdout
    assert "Traceback" not in first.stderr

    second = shell(answer, project_dir)
    assert second.returncode == 0, second.stdout + second.stderr
    assert "done" in second.stdout

    # What the user checks next (in-process: the same entry point, faster).
    runs = json.loads(crew_cli("runs", "--json").out)
    run_id = runs[0]["run"]
    assert runs[0]["status"] == "done"
    status = json.loads(crew_cli("status", run_id, "--json").out)
    assert status["status"] == "done"
    assert [s["step"] for s in status["steps"]] == [
        "research",
        "draft",
        "triage",
        "legal_review",
        "publish",
    ]
    assert all(s["status"] == "done" for s in status["steps"])
    decision = status["steps"][3]["decision"]
    assert decision["by"] == "carol" and decision["decision"] == "approve" and decision["at"]
    assert status["outputs"]["publish"]["channel"]

    log = json.loads(crew_cli("log", run_id, "--json").out)
    answered = [e for e in log if e["card"] == status["steps"][3]["card"] and e["actor"] == "carol"]
    assert answered and answered[0]["at"]
    human = crew_cli("status", run_id)
    assert human.code == 0 and "approve by carol" in human.out
