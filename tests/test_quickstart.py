"""The README's quickstart, verbatim: a new user pastes its commands into a fresh copy of the
example project: the run stops at an escalation to Alice (exit 3), her inbox shows it, her retry
with guidance lets the run go on to Carol's checkpoint (exit 3), Carol's approval lets the
publisher ask to call its publish_post tool, which waits for Dan (exit 3), and Dan's approval
ends it."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from support.example import copy_example

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
    copy_example(project_dir)
    run, inbox, retry, answer, publish = quickstart_commands()

    first = shell(run, project_dir)
    assert first.returncode == 3, first.stderr
    assert "alice" in first.stdout and "escalation" in first.stdout
    assert "crew answer" in first.stdout and "0.55" in first.stdout
    assert "Traceback" not in first.stderr

    listed = shell(inbox, project_dir)
    assert listed.returncode == 0, listed.stderr
    assert "research" in listed.stdout and "escalation" in listed.stdout

    retried = shell(retry, project_dir)
    assert retried.returncode == 3, retried.stdout + retried.stderr
    assert "carol" in retried.stdout and "legal_review" in retried.stdout
    assert "research [US] (revision 1) done" in retried.stderr

    second = shell(answer, project_dir)
    assert second.returncode == 3, second.stdout + second.stderr
    # the publisher asks to call publish_post, which waits for dan's approval
    assert "dan" in second.stdout and "tool_call" in second.stdout
    assert "publish_post(channel='blog'" in second.stdout
    assert not (project_dir / "published").exists()

    published = shell(publish, project_dir)
    assert published.returncode == 0, published.stdout + published.stderr
    assert "done" in published.stdout
    assert "https://example.com/blog/solar-kettle-launch-brief" in published.stdout
    assert not (project_dir / "published").exists()  # --replay runs no tool

    # What the user checks next (in-process: the same entry point, faster).
    runs = json.loads(crew_cli("runs", "--json").out)
    run_id = runs[0]["run"]
    assert runs[0]["status"] == "done"
    status = json.loads(crew_cli("status", run_id, "--json").out)
    assert status["status"] == "done"
    steps = [s for s in status["steps"] if s["status"] != "cancelled"]  # the retried card
    assert [s["step"] for s in steps] == [
        "research",
        "draft",
        "triage",
        "legal_review",
        "publish",
        "publish",  # dan's approval of the publish_post call
    ]
    assert steps[5]["kind"] == "tool_call" and steps[5]["decision"]["by"] == "dan"
    assert all(s["status"] == "done" for s in steps)
    decision = steps[3]["decision"]
    assert decision["by"] == "carol" and decision["decision"] == "approve" and decision["at"]
    assert status["outputs"]["publish"]["channel"]

    log = json.loads(crew_cli("log", run_id, "--json").out)
    answered = [e for e in log if e["card"] == steps[3]["card"] and e["actor"] == "carol"]
    retry = [e for e in log if e["actor"] == "alice" and e["event"] == "answered"]
    assert retry and retry[0]["detail"]["decision"] == "retry"
    assert answered and answered[0]["at"]
    human = crew_cli("status", run_id)
    assert human.code == 0 and "approve by carol" in human.out
