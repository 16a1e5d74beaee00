"""Usage and cost (DESIGN §7): the tokens every model call reports, through the real
langchain-openai client against the loopback server, land on the step's card; `crew status` and
`crew show` show them, and the cost when the model profile declares a price."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from support.example import copy_example, use_loopback

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
}
PRICE = {"input": 0.40, "output": 1.60}
STEP_COST = (120 * 0.40 + 30 * 1.60) / 1e6  # usage=(120, 30) per call


def answer(body: dict[str, Any]) -> Any:
    step = step_of(body)
    assert step is not None, "request without a crew step line"
    return ANSWERS[step]


def live_run(crew_cli: Cli, root: Path, server: OpenAIServer, **profile: Any) -> str:
    copy_example(root)
    use_loopback(root, server.url, max_retries=0, **profile)
    ran = crew_cli("run", "quick-brief", "-i", "product=x", "--json", "--as", "bob")
    assert ran.code == 0, ran.err
    run: str = json.loads(ran.out)["run"]
    return run


@pytest.fixture
def llm_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CREW_TEST_LLM_KEY", "sk-test")
    monkeypatch.delenv("CREW_USER", raising=False)


@pytest.mark.usefixtures("llm_key")
def test_a_live_run_records_each_calls_tokens_on_its_card_without_a_cost(
    crew_cli: Cli, project_dir: Path
) -> None:
    with OpenAIServer(answer, usage=(120, 30)) as server:
        run = live_run(crew_cli, project_dir, server)

    status = crew_cli("status", run, "--json")
    assert status.code == 0, status.err
    data = json.loads(status.out)
    steps = {row["step"]: row for row in data["steps"]}
    for step in ("research", "draft"):
        assert steps[step]["usage"] == {"input_tokens": 120, "output_tokens": 30, "calls": 1}
        assert steps[step]["cost"] is None
    assert data["usage"] == {"input_tokens": 240, "output_tokens": 60, "calls": 2}
    assert data["cost"] is None

    shown = crew_cli("show", steps["draft"]["card"], "--json")
    assert shown.code == 0, shown.err
    card = json.loads(shown.out)
    assert card["usage"] == {"input_tokens": 120, "output_tokens": 30, "calls": 1}
    assert card["cost"] is None

    table = crew_cli("status", run)
    assert table.code == 0, table.err
    assert "120 in, 30 out" in table.out
    assert "usage: 2 model calls, 240 input + 60 output tokens" in table.out
    assert "$" not in table.out and "cost" not in table.out


@pytest.mark.usefixtures("llm_key")
def test_with_a_price_cards_status_and_json_show_the_cost(crew_cli: Cli, project_dir: Path) -> None:
    with OpenAIServer(answer, usage=(120, 30)) as server:
        run = live_run(crew_cli, project_dir, server, price=PRICE)

    data = json.loads(crew_cli("status", run, "--json").out)
    for row in data["steps"]:
        assert row["cost"] == pytest.approx(STEP_COST)
    assert data["cost"] == pytest.approx(2 * STEP_COST)
    card = json.loads(crew_cli("show", data["steps"][0]["card"], "--json").out)
    assert card["cost"] == pytest.approx(STEP_COST)
    assert "cost $0.000096" in crew_cli("show", data["steps"][0]["card"]).out

    table = crew_cli("status", run).out
    assert "$0.000096" in table
    assert "usage: 2 model calls, 240 input + 60 output tokens, cost $0.000192" in table


@pytest.mark.usefixtures("llm_key")
def test_an_invalid_answer_asked_again_counts_both_calls_on_the_steps_card(
    crew_cli: Cli, project_dir: Path
) -> None:
    with OpenAIServer(answer) as server:
        server.reply({"summary": "missing fields"}, step="research")
        run = live_run(crew_cli, project_dir, server, price=PRICE)
        research = [call for call in server.calls if call.step == "research"]
        assert len(research) == 2

    data = json.loads(crew_cli("status", run, "--json").out)
    usage = next(row["usage"] for row in data["steps"] if row["step"] == "research")
    assert usage["calls"] == 2
    # the server counts words: the retry's prompt repeats the task and adds the feedback
    asked = [len(" ".join(m["content"] for m in c.body["messages"]).split()) for c in research]
    assert usage["input_tokens"] == sum(asked)
    assert usage["output_tokens"] > 0
    cost = next(row["cost"] for row in data["steps"] if row["step"] == "research")
    assert cost == pytest.approx((usage["input_tokens"] * 0.4 + usage["output_tokens"] * 1.6) / 1e6)


def test_a_replayed_run_counts_its_calls_and_spends_no_tokens(
    crew_cli: Cli, project_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    copy_example(project_dir)
    monkeypatch.delenv("CREW_USER", raising=False)
    ran = crew_cli("run", "quick-brief", "--replay", "-i", "product=x", "--json", "--as", "bob")
    assert ran.code == 0, ran.err
    data = json.loads(crew_cli("status", json.loads(ran.out)["run"], "--json").out)
    assert data["usage"] == {"input_tokens": 0, "output_tokens": 0, "calls": 2}
    assert data["cost"] is None


def test_a_price_must_be_two_non_negative_numbers(crew_cli: Cli, project_dir: Path) -> None:
    copy_example(project_dir)
    use_loopback(project_dir, "http://127.0.0.1:9/v1", price={"input": -1, "output": 1.6})
    checked = crew_cli("validate")
    assert checked.code == 2
    assert "price" in checked.out + checked.err


def test_the_judges_tokens_count_on_the_step_it_judged_and_an_escalation_keeps_them(
    project_dir: Path,
) -> None:
    import yaml

    from crew.agents.responders import ModelReply
    from crew.engine.runtime import Session, start_run
    from crew.spec.loader import load_project
    from crew.testing import ScriptedModel

    copy_example(project_dir)
    team = yaml.safe_load((project_dir / "crew.yaml").read_text())
    team["models"]["default"]["price"] = PRICE
    (project_dir / "crew.yaml").write_text(yaml.safe_dump(team))
    role_file = project_dir / "agents" / "researcher.yaml"
    role = yaml.safe_load(role_file.read_text())
    role["confidence"] = {"threshold": 0.7, "method": "judge", "judge": "risk_officer"}
    role_file.write_text(yaml.safe_dump(role))
    research = {**ANSWERS["research"], "confidence": 0.95}
    verdict = {"score": 0.4, "reason": "no sources", "confidence": 0.9, "rationale": ""}
    model = ScriptedModel(
        {
            "research": [ModelReply(research, 100, 20)],
            "research.judge": [ModelReply(verdict, 50, 5)],
        }
    )
    project = load_project(project_dir)
    session = Session.open(project, person="alice")
    try:
        report = start_run(
            session,
            project.playbook("launch-brief"),
            {"product": "kettle", "markets": ["US"]},
            responder=model,
        )
        (waiting,) = report.waiting_on
        card = session.board.get(waiting.card)
    finally:
        session.close()
    assert card.step == "research" and str(card.status) == "escalated"
    assert card.to_json()["usage"] == {"input_tokens": 150, "output_tokens": 25, "calls": 2}
    assert card.to_json()["cost"] == pytest.approx((150 * 0.40 + 25 * 1.60) / 1e6)


def test_the_readme_usage_example_runs() -> None:
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    section = readme.split("## Usage and cost", 1)[1]
    code = section.split("```python\n", 1)[1].split("```", 1)[0]

    exec(compile(code, "README.md", "exec"), {})
