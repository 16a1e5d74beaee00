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
