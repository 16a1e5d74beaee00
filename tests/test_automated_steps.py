"""Automated steps (`run: module:function`): a typed function of the project whose return value
is the step's output, checked against an optional `output:`; no model. A raising function
escalates the step to the playbook's owner, whose retry runs it again."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml
from support.cli import as_json

Cli = Callable[..., Any]

FUNCTIONS = """\
from pathlib import Path

from crew import ToolCall


def count_words(draft: dict, product: str) -> dict:
    words = len(str(draft["brief"]).split())
    return {"words": words, "product": product, "long": words > 20}


def flaky(draft: dict) -> dict:
    if not Path("ok").exists():
        raise RuntimeError("the word service is down")
    return {"words": 1, "product": "x", "long": False}


def once(draft: dict, call: ToolCall) -> dict:
    with Path("effects.log").open("a") as log:
        log.write(call.call_id + "\\n")
    return {"words": 2, "product": "y", "long": False}
"""


def with_automated(root: Path, function: str, **step: Any) -> None:
    (root / "checks.py").write_text(FUNCTIONS)
    playbook = yaml.safe_load((root / "playbooks" / "quick-brief.yaml").read_text())
    playbook["owner"] = "carol"
    playbook["steps"] = [s for s in playbook["steps"] if s["id"] != "stats"]
    playbook["steps"].append(
        {
            "id": "stats",
            "run": f"checks:{function}",
            "output": {
                "words": {"type": "number"},
                "product": {"type": "string"},
                "long": {"type": "boolean"},
            },
            **step,
        }
    )
    playbook["outputs"] = ["stats"]
    (root / "playbooks" / "quick-brief.yaml").write_text(yaml.safe_dump(playbook, sort_keys=False))


def start(crew_cli: Cli) -> Any:
    return crew_cli(
        "run", "quick-brief", "--replay", "-i", "product=kettle", "--as", "bob", "--json"
    )


def test_an_automated_step_turns_earlier_outputs_into_its_own(crew_cli: Cli, example: Path) -> None:
    with_automated(example, "count_words")
    assert crew_cli("validate").code == 0, crew_cli("validate").err
    result = start(crew_cli)
    assert result.code == 0, result.err
    report = json.loads(result.out)
    assert report["status"] == "done"
    stats = report["outputs"]["stats"]
    assert stats["product"] == "kettle" and stats["words"] > 5
    status = as_json(crew_cli("status", report["run"], "--json"))
    (row,) = [s for s in status["steps"] if s["step"] == "stats"]
    assert row["assignee"] == "automated" and row["status"] == "done"
    assert row["confidence"] is None


def test_a_raising_function_is_escalated_to_the_playbooks_owner_and_retry_runs_it_again(
    crew_cli: Cli, example: Path
) -> None:
    with_automated(example, "flaky")
    result = start(crew_cli)
    assert result.code == 3, result.err
    (waiting,) = json.loads(result.out)["waiting_on"]
    assert waiting["assignee"] == "carol" and waiting["kind"] == "escalation"
    assert "RuntimeError: the word service is down" in waiting["reason"]
    (example / "ok").write_text("")
    retried = crew_cli(
        "answer", waiting["card"], "retry", "-m", "it is back", "--as", "carol", "--json"
    )
    assert retried.code == 0, retried.err
    assert json.loads(retried.out)["status"] == "done"


def test_validate_reports_an_unknown_function_and_a_parameter_that_names_nothing(
    crew_cli: Cli, example: Path
) -> None:
    with_automated(example, "nope")
    result = crew_cli("validate")
    assert result.code == 2
    assert "module 'checks' has no function 'nope'" in result.err

    with_automated(example, "count_words")
    text = (example / "checks.py").read_text().replace("product: str", "prodcut: str")
    (example / "checks.py").write_text(text)
    result = crew_cli("validate")
    assert result.code == 2
    assert "parameter 'prodcut' names no input or step" in result.err
    assert "Did you mean 'product'" in result.err
    assert "playbooks/quick-brief.yaml:" in result.err


def test_sigkill_while_an_automated_step_runs_leaves_the_owner_to_decide(
    example: Path,
) -> None:
    """Effects happen once: a step that is not idempotent and was cut short by a crash is not
    run again by itself; its owner decides (here: edit gives its output by hand)."""
    import os
    import signal
    import subprocess
    import sys
    import time

    crew = str(Path(sys.executable).parent / "crew")
    with_automated(example, "once")
    text = (
        (example / "checks.py")
        .read_text()
        .replace(
            '        log.write(call.call_id + "\\n")\n',
            '        log.write(call.call_id + "\\n")\n'
            '    while Path("hold").exists():\n'
            "        import time; time.sleep(0.05)\n",
        )
    )
    (example / "checks.py").write_text(text)
    (example / "hold").write_text("")
    env = {**os.environ, "CREW_RUN_LEASE": "2"}
    driver = subprocess.Popen(
        [crew, "run", "quick-brief", "--replay", "-i", "product=kettle", "--as", "bob"],
        cwd=example,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 60
        while not (example / "effects.log").exists():
            assert time.monotonic() < deadline, driver.communicate(timeout=5)
            time.sleep(0.02)
        driver.send_signal(signal.SIGKILL)
        assert driver.wait(timeout=30) == -signal.SIGKILL
    finally:
        if driver.poll() is None:
            driver.kill()
    (example / "hold").unlink()
    runs = subprocess.run(
        [crew, "runs", "--json"], cwd=example, env=env, capture_output=True, text=True
    )
    run = json.loads(runs.stdout)[0]["run"]
    resumed = subprocess.run(
        [crew, "resume", run, "--wait", "30", "--json"],
        cwd=example,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert resumed.returncode == 3, resumed.stdout + resumed.stderr
    (waiting,) = json.loads(resumed.stdout)["waiting_on"]
    assert waiting["assignee"] == "carol"
    assert "checks:once may or may not have run" in waiting["reason"]
    assert len((example / "effects.log").read_text().splitlines()) == 1


def test_a_playbook_routes_on_an_automated_steps_output(crew_cli: Cli, example: Path) -> None:
    (example / "gate.py").write_text(
        "def size(product: str) -> dict:\n"
        "    return {'size': 'big' if len(product) > 5 else 'small'}\n"
    )
    playbook = yaml.safe_load((example / "playbooks" / "quick-brief.yaml").read_text())
    first = playbook["steps"][0]["id"]
    playbook["steps"] = [
        {
            "id": "sizing",
            "run": "gate:size",
            "output": {"size": {"type": "string", "enum": ["big", "small"]}},
            "route": {"field": "size", "cases": {"big": first, "small": "noted"}},
        },
        playbook["steps"][0],
        {"id": "noted", "run": "gate:size", "output": {"size": {"type": "string"}}},
    ]
    playbook.pop("outputs", None)
    (example / "playbooks" / "quick-brief.yaml").write_text(
        yaml.safe_dump(playbook, sort_keys=False)
    )
    assert crew_cli("validate").code == 0, crew_cli("validate").err
    small = crew_cli("run", "quick-brief", "--replay", "-i", "product=mug", "--as", "bob", "--json")
    assert small.code == 0, small.err
    steps = [
        s["step"]
        for s in as_json(crew_cli("status", json.loads(small.out)["run"], "--json"))["steps"]
        if s["card"]
    ]
    assert steps == ["sizing", "noted"]
