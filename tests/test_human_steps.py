"""Human work steps (DESIGN §8): a `task` card waits on its owner with the rendered task and the
fields to hand in; `crew answer CARD submit --file OUT.yaml` validates them like an agent's
output, and the run flows on from them (templates, routes, checkpoints that show them)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml
from support.cli import as_json

Cli = Callable[..., Any]

PLAYBOOK = {
    "name": "renewal",
    "inputs": {"customer": {"type": "string"}},
    "steps": [
        {
            "id": "quote",
            "human": {
                "owner": "dan",
                "task": "Price the renewal for {{inputs.customer}}.",
                "output": {
                    "amount": {"type": "number", "minimum": 0},
                    "tier": {"type": "string", "enum": ["basic", "pro"]},
                    "note": {"type": "string", "required": False},
                },
                "sla": "1d",
            },
        },
        {
            "id": "review",
            "checkpoint": {
                "owner": "carol",
                "question": "Send {{steps.quote.amount}} ({{steps.quote.tier}})?",
                "show": ["quote"],
            },
        },
    ],
}


def with_renewal(root: Path, playbook: dict[str, Any] | None = None) -> None:
    (root / "playbooks" / "renewal.yaml").write_text(
        yaml.safe_dump(playbook or PLAYBOOK, sort_keys=False)
    )


def test_a_human_step_waits_on_its_owner_and_flows_on_from_what_they_submit(
    crew_cli: Cli, example: Path
) -> None:
    with_renewal(example)
    assert crew_cli("validate").code == 0
    started = crew_cli("run", "renewal", "-i", "customer=ACME", "--as", "bob")
    assert started.code == 3, started.err
    assert "waits on dan at quote (task" in started.out
    assert "submit --file OUT.yaml" in started.out

    inbox = as_json(crew_cli("inbox", "--as", "dan", "--json"))
    (card,) = inbox
    assert card["kind"] == "task" and card["step"] == "quote"
    shown = crew_cli("show", card["card"])
    assert "Price the renewal for ACME." in shown.out
    assert "amount (number)" in shown.out and "note (string, optional)" in shown.out

    bad = example / "bad.yaml"
    bad.write_text("amount: -5\ntier: gold\n")
    refused = crew_cli("answer", card["card"], "submit", "--file", str(bad), "--as", "dan")
    assert refused.code == 2
    assert "amount" in refused.err and "tier" in refused.err and "Traceback" not in refused.err
    assert as_json(crew_cli("inbox", "--as", "dan", "--json"))  # still waiting: nothing recorded

    wrong = crew_cli("answer", card["card"], "approve", "--as", "dan")
    assert wrong.code == 2 and "submit or reject" in wrong.err

    good = example / "out.yaml"
    good.write_text("amount: 1200\ntier: pro\n")
    submitted = crew_cli("answer", "quote", "submit", "--file", str(good), "--as", "dan")
    assert submitted.code == 3, submitted.err  # now at carol's checkpoint
    assert "Send 1200 (pro)?" in submitted.out

    run = as_json(crew_cli("runs", "--json"))[0]["run"]
    status = as_json(crew_cli("status", run, "--json"))
    assert status["outputs"]["quote"] == {"amount": 1200, "tier": "pro", "note": None}
    approved = crew_cli("answer", "review", "approve", "--as", "carol", "--json")
    assert approved.code == 0, approved.err
    assert json.loads(approved.out)["status"] == "done"


def test_a_rejected_task_ends_the_run_rejected(crew_cli: Cli, example: Path) -> None:
    with_renewal(example)
    crew_cli("run", "renewal", "-i", "customer=ACME", "--as", "bob")
    rejected = crew_cli("answer", "quote", "reject", "-m", "not ours", "--as", "dan", "--json")
    assert rejected.code == 1, rejected.err
    report = json.loads(rejected.out)
    assert report["status"] == "rejected"


def test_validate_checks_a_human_step_like_an_agent_step(crew_cli: Cli, example: Path) -> None:
    broken = json.loads(json.dumps(PLAYBOOK))
    broken["steps"][0]["human"]["owner"] = "dna"
    broken["steps"][1]["checkpoint"]["question"] = "Send {{steps.quote.amonut}}?"
    with_renewal(example, broken)
    result = crew_cli("validate")
    assert result.code == 2
    assert "unknown owner 'dna' of human step 'quote'" in result.err
    assert "Did you mean 'dan'" in result.err
    assert "unknown field 'amonut' of step 'quote'" in result.err
    assert "playbooks/renewal.yaml:" in result.err


def test_the_next_agent_steps_prompt_contains_what_the_person_submitted(
    example: Path,
) -> None:
    from crew.engine.runtime import Session, resume_run, start_run
    from crew.people.answering import answer_card
    from crew.spec.loader import load_project
    from crew.testing import ScriptedModel

    playbook = json.loads(json.dumps(PLAYBOOK))
    playbook["steps"][1] = {
        "id": "letter",
        "role": "writer",
        "task": "Write to the customer: {{steps.quote.amount}} for {{steps.quote.tier}}.",
    }
    with_renewal(example, playbook)
    project = load_project(example)
    model = ScriptedModel({"letter": [{"brief": "Dear ACME", "confidence": 0.9, "rationale": ""}]})
    session = Session.open(project, person="bob")
    try:
        report = start_run(
            session, project.playbook("renewal"), {"customer": "ACME"}, responder=model
        )
        (waiting,) = report.waiting_on
        answer_card(
            session.project,
            session.board,
            waiting.card,
            "dan",
            "submit",
            edited={"amount": 990, "tier": "basic"},
        )
        report = resume_run(session, report.run, responder=model)
    finally:
        session.close()
    assert report.status == "done", report.reason
    (call,) = model.calls
    assert "Write to the customer: 990 for basic." in call.messages[1]["content"]
