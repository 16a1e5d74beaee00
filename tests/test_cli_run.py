"""`crew run`, `answer` (its resume), `resume`, `cancel`, `runs`, `status`, `graph` as a user sees
them: exit codes, the printed answer command, the JSON shapes of DESIGN §3, one-line errors."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from support.cli import RUN, as_json
from support.terminal import Terminal

Cli = Callable[..., Any]


def started(crew_cli: Cli, *extra: str) -> dict[str, Any]:
    result = crew_cli(*RUN, "--json", *extra)
    assert result.code == 3, result.err
    return dict(as_json(result))


def test_run_stops_at_the_checkpoint_printing_who_and_the_answer_command(
    crew_cli: Cli, example: Path
) -> None:
    result = crew_cli(*RUN)
    assert result.code == 3, result.err
    assert "waits on carol" in result.out
    card = crew_cli("runs", "--json")
    (run,) = as_json(card)
    (waiting,) = run["waiting_on"]
    assert f"crew answer {waiting['card']} approve --as carol" in result.out
    for step in ("research", "draft", "triage"):
        assert step in result.err  # progress lines, one per step, on stderr


def test_run_json_has_the_design_shape(crew_cli: Cli, example: Path) -> None:
    report = started(crew_cli)
    assert set(report) == {"run", "playbook", "status", "waiting_on", "outputs"}
    assert (report["playbook"], report["status"]) == ("launch-brief", "waiting")
    (waiting,) = report["waiting_on"]
    assert set(waiting) == {"card", "step", "kind", "assignee", "reason"}
    assert (waiting["step"], waiting["kind"], waiting["assignee"]) == (
        "legal_review",
        "checkpoint",
        "carol",
    )
    assert set(report["outputs"]) == {"research", "draft", "triage"}
    assert isinstance(report["outputs"]["research"], list)


def test_answer_resumes_the_run_to_the_end(crew_cli: Cli, example: Path) -> None:
    report = started(crew_cli)
    card = report["waiting_on"][0]["card"]
    result = crew_cli("answer", card, "approve", "--as", "carol", "--json")
    assert result.code == 0, result.err
    done = as_json(result)
    assert done["status"] == "done" and done["run"] == report["run"]
    assert done["outputs"]["publish"]["channel"] == "blog"


def test_a_second_answer_to_the_same_checkpoint_is_refused(crew_cli: Cli, example: Path) -> None:
    card = started(crew_cli)["waiting_on"][0]["card"]
    assert crew_cli("answer", card, "approve", "--as", "carol").code == 0
    second = crew_cli("answer", card, "approve", "--as", "dan")
    assert second.code == 2
    assert "carol" in second.err and "Traceback" not in second.err


def test_rejections_revise_then_end_the_run_rejected(crew_cli: Cli, example: Path) -> None:
    report = started(crew_cli)
    for comment in ("back the boil-time claim", "price it lower"):
        card = report["waiting_on"][0]["card"]
        result = crew_cli("answer", card, "reject", "-m", comment, "--as", "carol", "--json")
        assert result.code == 3, result.err
        report = as_json(result)
        assert report["status"] == "waiting"
    assert "second revision" in report["outputs"]["draft"]["brief"]
    card = report["waiting_on"][0]["card"]
    final = crew_cli("answer", card, "reject", "-m", "no", "--as", "carol")
    assert final.code == 1
    assert "rejected" in final.out
    status = as_json(crew_cli("status", report["run"], "--json"))
    assert status["status"] == "rejected"
    drafts = [s for s in status["steps"] if s["step"] == "draft"]
    assert [d["revision"] for d in drafts] == [0, 1, 2]
    assert [s["status"] for s in status["steps"] if s["step"] == "publish"] == ["skipped"]


def test_edit_with_a_file_replaces_the_draft(crew_cli: Cli, example: Path) -> None:
    card = started(crew_cli)["waiting_on"][0]["card"]
    edited = example / "edited.yaml"
    edited.write_text(yaml.safe_dump({"brief": "Carol's brief", "confidence": 1, "rationale": "x"}))
    result = crew_cli("answer", card, "edit", "--file", str(edited), "--as", "carol", "--json")
    assert result.code == 0, result.err
    assert as_json(result)["outputs"]["draft"]["brief"] == "Carol's brief"


def test_route_low_skips_the_checkpoint_and_status_says_skipped(
    crew_cli: Cli, example: Path
) -> None:
    cassette = example / "playbooks" / "launch-brief.cassette.yaml"
    entries = yaml.safe_load(cassette.read_text())
    entries["triage"][0]["severity"] = "low"
    cassette.write_text(yaml.safe_dump(entries))
    result = crew_cli(*RUN, "--json")
    assert result.code == 0, result.err
    run = as_json(result)["run"]
    steps = as_json(crew_cli("status", run, "--json"))["steps"]
    assert {s["step"]: s["status"] for s in steps} == {
        "research": "done",
        "draft": "done",
        "triage": "done",
        "publish": "done",
        "legal_review": "skipped",
    }


def test_resume_without_an_answer_still_waits(crew_cli: Cli, example: Path) -> None:
    report = started(crew_cli)
    result = crew_cli("resume", report["run"], "--json")
    assert result.code == 3, result.err
    assert as_json(result)["waiting_on"] == report["waiting_on"]


def test_cancel_ends_the_run_and_its_cards(crew_cli: Cli, example: Path) -> None:
    run = started(crew_cli)["run"]
    result = crew_cli("cancel", run, "-m", "not this quarter", "--as", "bob")
    assert result.code == 0, result.err
    status = as_json(crew_cli("status", run, "--json"))
    assert status["status"] == "cancelled"
    assert status["steps"][3]["status"] == "cancelled"
    again = crew_cli("cancel", run, "--as", "bob")
    assert again.code == 2 and "already cancelled" in again.err
    log = as_json(crew_cli("log", run, "--json"))
    assert [e["actor"] for e in log if e["event"] == "run_cancelled"] == ["bob"]


def with_erin(root: Path, *, admin: bool = False) -> None:
    """A person of the project who owns nothing in launch-brief (an admin, if `admin`)."""
    team = yaml.safe_load((root / "crew.yaml").read_text())
    team["people"]["erin"] = {"name": "Erin Lee"}
    if admin:
        team["settings"]["admins"] = ["erin"]
    (root / "crew.yaml").write_text(yaml.safe_dump(team))


def test_only_the_starter_the_owners_and_admins_may_cancel(crew_cli: Cli, example: Path) -> None:
    with_erin(example)
    run = started(crew_cli)["run"]
    nobody = crew_cli("cancel", run)  # the login is not a person of crew.yaml
    assert nobody.code == 2 and "who are you?" in nobody.err
    erin = crew_cli("cancel", run, "--as", "erin")
    assert erin.code == 2
    assert f"erin may not cancel run {run}; who may: bob, alice, carol, dan" in erin.err
    assert as_json(crew_cli("status", run, "--json"))["status"] == "waiting"
    owner = crew_cli("cancel", run, "--as", "dan")  # owns the publisher role
    assert owner.code == 0, owner.err


def test_who_may_cancel_follows_the_version_the_run_started_with(
    crew_cli: Cli, example: Path
) -> None:
    run = started(crew_cli)["run"]
    publisher = example / "agents" / "publisher.yaml"
    publisher.write_text(publisher.read_text().replace("owner: dan", "owner: alice"))
    assert crew_cli("cancel", run, "--as", "dan").code == 0, "dan owns publish in this run"


def test_an_admin_may_cancel_any_run(crew_cli: Cli, example: Path) -> None:
    with_erin(example, admin=True)
    run = started(crew_cli)["run"]
    assert crew_cli("cancel", run, "--as", "erin").code == 0


def test_only_people_of_the_project_may_start_runs(
    crew_cli: Cli, example: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    nobody = crew_cli(*RUN[:-2])
    assert nobody.code == 2 and "who are you?" in nobody.err and "--as PERSON" in nobody.err
    monkeypatch.setenv("CREW_USER", "mallory")
    stranger = crew_cli(*RUN[:-2])
    assert stranger.code == 2 and "unknown person 'mallory'" in stranger.err
    assert as_json(crew_cli("runs", "--json")) == []


def test_runs_and_status_list_the_run(crew_cli: Cli, example: Path) -> None:
    run = started(crew_cli)["run"]
    (listed,) = as_json(crew_cli("runs", "--json"))
    assert (listed["run"], listed["status"]) == (run, "waiting")
    table = crew_cli("runs")
    assert run in table.out and "carol" in table.out
    status = crew_cli("status", run)
    assert status.code == 0 and "legal_review" in status.out and "waits on carol" in status.out


def test_no_api_key_without_replay_is_one_line_naming_the_variable_and_options(
    crew_cli: Cli,
    example: Path,
) -> None:
    result = crew_cli("run", "launch-brief", "-i", "product=x", "--as", "bob")
    assert result.code == 2
    (line,) = result.err.strip().splitlines()
    assert "OPENAI_API_KEY" in line and "--replay" in line and "--record" in line


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (("run", "launch-brief", "--replay", "-i", "nope=1", "-i", "product=x"), "'nope'"),
        (("run", "launch-brief", "--replay"), "product"),
        (("run", "launch-brif", "--replay", "-i", "product=x"), "launch-brief"),
        (("run", "launch-brief", "--replay", "--record", "-i", "product=x"), "--replay"),
        (("run", "launch-brief", "--replay", "-i", "product=x", "--as", "carl"), "carol"),
        (("run", "launch-brief", "--replay", "-i", "product"), "key=value"),
        (("run", "launch-brief", "--replay", "--inputs", "missing.yaml"), "missing.yaml"),
        (("graph", "nope"), "nope"),
        (("status", "r000000"), "r000000"),
        (("resume", "r000000"), "r000000"),
    ],
)
def test_user_errors_are_one_line_with_exit_2(
    crew_cli: Cli, example: Path, args: tuple[str, ...], needle: str
) -> None:
    result = crew_cli(*args)
    assert result.code == 2, result.out + result.err
    assert needle in result.err and "Traceback" not in result.err


def test_inputs_are_parsed_as_yaml_and_from_a_file(crew_cli: Cli, example: Path) -> None:
    inputs = example / "inputs.json"
    inputs.write_text(json.dumps({"product": "Solar kettle"}))
    report = started(crew_cli, "--inputs", str(inputs), "-i", "markets=[US, EU]")
    assert len(report["outputs"]["research"]) == 2


def test_graph_prints_mermaid(crew_cli: Cli, example: Path) -> None:
    result = crew_cli("graph", "launch-brief")
    assert result.code == 0
    assert "flowchart TD" in result.out
    for node in ("research", "draft", "triage", "legal_review", "publish"):
        assert node in result.out


def test_the_owner_answers_interactively_on_a_terminal(crew_cli: Cli, example: Path) -> None:
    """On a TTY, carol running the playbook sees the panels and approves in place."""
    terminal = Terminal([*RUN, "--as", "carol"], example)
    terminal.read_until(b"or edit?")
    assert b"Approve this brief for publication?" in terminal.seen and b"draft" in terminal.seen
    terminal.type("approve")
    terminal.read_until(b"comment")
    terminal.type("looks good")
    assert terminal.close() == 0
    status = as_json(crew_cli("runs", "--json"))
    assert status[0]["status"] == "done"


def test_reject_then_edit_interactively(crew_cli: Cli, example: Path) -> None:
    """Reject with a comment (the draft is revised), then edit the revision in $EDITOR."""
    editor = "sed -i 's/launch brief (revised)/launch brief (edited by Carol)/'"
    terminal = Terminal([*RUN, "--as", "carol"], example, EDITOR=editor, VISUAL=editor)
    terminal.read_until(b"or edit?")
    terminal.type("reject")
    terminal.read_until(b"why?")
    terminal.type("back the boil-time claim")
    terminal.read_until(b"revision 1")
    terminal.read_until(b"or edit?")
    terminal.type("edit")
    terminal.read_until(b"comment")
    terminal.type("")
    assert terminal.close() == 0, terminal.seen.decode(errors="replace")
    (run,) = as_json(crew_cli("runs", "--json"))
    status = as_json(crew_cli("status", run["run"], "--json"))
    assert "edited by Carol" in status["outputs"]["draft"]["brief"]
    decisions = [s["decision"]["decision"] for s in status["steps"] if s["decision"]]
    assert decisions == ["reject", "edit"]


def test_runs_does_not_import_langchain_or_langgraph(crew_cli: Cli, example: Path) -> None:
    started(crew_cli)
    probe = (
        "import sys; from crew.cli import main; sys.argv = ['crew', 'runs']\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        "heavy = sorted({m.split('.')[0] for m in sys.modules} & "
        "{'langchain_core', 'langchain_openai', 'langgraph', 'openai'})\n"
        "print('HEAVY', heavy, file=sys.__stderr__)"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], cwd=example, capture_output=True, text=True, timeout=60
    )
    assert "HEAVY []" in result.stderr, result.stderr
    assert "launch-brief" in result.stdout


def test_every_example_playbook_ships_a_cassette_that_replays(crew_cli: Cli, example: Path) -> None:
    from crew.spec.loader import load_project

    project = load_project(example)
    assert project.playbooks
    for name, playbook in project.playbooks.items():
        assert project.cassette_path(name).is_file(), f"no cassette for {name}"
        args = ["run", name, "--replay", "--json", "--as", "bob"]
        for key, spec in playbook.inputs.items():
            if spec.default is None and spec.required:
                args += ["-i", f"{key}=Solar kettle"]
        result = crew_cli(*args)
        assert result.code in (0, 3), f"{name}: {result.err}"
