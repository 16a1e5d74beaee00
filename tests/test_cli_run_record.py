"""`crew run --record` against a loopback OpenAI-compatible server writes the cassette that
`crew run --replay` then answers from, offline; two `crew answer`s racing on one checkpoint:
one resumes the run, the other is refused."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from support.example import copy_example, use_loopback, without_escalation, without_tool_approval

from crew.testing import OpenAIServer, step_of

Cli = Callable[..., Any]

ANSWERS: dict[str, dict[str, Any]] = {
    "research": {
        "summary": "live demand",
        "risks": [],
        "severity": "low",
        "score": 6,
        "confidence": 0.9,
        "rationale": "r",
    },
    "draft": {"brief": "a live brief", "confidence": 0.9, "rationale": "r"},
    "triage": {"severity": "high", "reasons": ["claim"], "confidence": 0.9, "rationale": "r"},
    "publish": {"channel": "blog", "url": "https://x", "confidence": 0.9, "rationale": "r"},
}


def answer(body: dict[str, Any]) -> Any:
    step = step_of(body)
    assert step is not None, "request without a crew step line"
    return ANSWERS[step]


def test_record_writes_the_cassette_replay_then_answers_from_it(
    crew_cli: Cli, project_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    without_escalation(copy_example(project_dir))
    without_tool_approval(project_dir)
    monkeypatch.delenv("CREW_USER", raising=False)
    cassette = project_dir / "playbooks" / "quick-brief.cassette.yaml"
    cassette.unlink()
    with OpenAIServer(answer) as server:
        use_loopback(project_dir, server.url, max_retries=0)
        monkeypatch.setenv("CREW_TEST_LLM_KEY", "sk-test")
        recorded = crew_cli(
            "run", "quick-brief", "--record", "-i", "product=x", "--json", "--as", "bob"
        )
        assert recorded.code == 0, recorded.err
        assert len(server.calls) == 2
    entries = yaml.safe_load(cassette.read_text())
    assert entries["draft"][0]["brief"] == "a live brief"

    monkeypatch.delenv("CREW_TEST_LLM_KEY")
    replayed = crew_cli(
        "run", "quick-brief", "--replay", "-i", "product=x", "--json", "--as", "bob"
    )
    assert replayed.code == 0, replayed.err
    assert json.loads(replayed.out)["outputs"] == json.loads(recorded.out)["outputs"]


def test_two_answers_racing_on_one_checkpoint_one_resumes_one_is_refused(
    crew_cli: Cli, project_dir: Path
) -> None:
    without_escalation(copy_example(project_dir))
    without_tool_approval(project_dir)
    started = crew_cli(
        "run", "launch-brief", "--replay", "-i", "product=x", "--json", "--as", "bob"
    )
    assert started.code == 3, started.err
    card = json.loads(started.out)["waiting_on"][0]["card"]
    crew = str(Path(sys.executable).parent / "crew")
    racers = [
        subprocess.Popen(
            [crew, "answer", card, "approve", "--as", person],
            cwd=project_dir,
            env=dict(os.environ),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for person in ("carol", "dan")
    ]
    results = [(racer.wait(timeout=120), *racer.communicate()) for racer in racers]
    codes = sorted(code for code, _, _ in results)
    assert codes == [0, 2], results
    (refused,) = [err for code, _, err in results if code == 2]
    assert "already" in refused.lower() and "Traceback" not in refused
    status = json.loads(crew_cli("status", json.loads(started.out)["run"], "--json").out)
    assert status["status"] == "done"
    assert [s["step"] for s in status["steps"]].count("publish") == 1


def test_an_answer_without_the_model_key_is_recorded_and_resume_finishes_later(
    crew_cli: Cli, project_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    without_escalation(copy_example(project_dir))
    without_tool_approval(project_dir)
    with OpenAIServer(answer) as server:
        use_loopback(project_dir, server.url, max_retries=0)
        monkeypatch.setenv("CREW_TEST_LLM_KEY", "sk-test")
        started = crew_cli("run", "launch-brief", "-i", "product=x", "--json", "--as", "bob")
        assert started.code == 3, started.err
        run = json.loads(started.out)["run"]

        monkeypatch.delenv("CREW_TEST_LLM_KEY")
        answered = crew_cli("answer", "legal_review", "approve", "--as", "carol")
        assert answered.code == 2
        line = answered.err.strip().splitlines()[-1]
        assert line.startswith("error: answer recorded") and "CREW_TEST_LLM_KEY" in line
        assert f"crew resume {run}" in line

        monkeypatch.setenv("CREW_TEST_LLM_KEY", "sk-test")
        resumed = crew_cli("resume", run, "--json")
        assert resumed.code == 0, resumed.err
        assert json.loads(resumed.out)["status"] == "done"
        assert [c.step for c in server.calls].count("publish") == 1
