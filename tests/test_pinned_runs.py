"""A run follows the playbook and roles it started with (issue 8, item 6): an edit made while it
waits does not change it; `crew status` says the files changed; `crew resume RUN --upgrade`
moves it to the current files when nothing it did is lost, and the audit trail records it."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from support.cli import as_json

from crew.board import Board
from crew.connection import connect

Cli = Callable[..., Any]
START = ("run", "launch-brief", "--replay", "-i", "product=Solar kettle", "--as", "alice")

ANNOUNCE = """
  - id: announce
    role: publisher
    needs: [publish]
    task: "Announce the launch: {{steps.publish.url}}"
"""


def waiting(crew_cli: Cli) -> tuple[str, str]:
    """A launch-brief run stopped at carol's legal_review checkpoint: (run, card)."""
    result = crew_cli(*START, "--json")
    assert result.code == 3, result.err
    report = as_json(result)
    return report["run"], report["waiting_on"][0]["card"]


def playbook_file(root: Path) -> Path:
    return root / "playbooks" / "launch-brief.yaml"


def add_announce_step(root: Path) -> None:
    """A step after publish, with a recorded answer, so it would run if the run followed it."""
    path = playbook_file(root)
    path.write_text(path.read_text() + ANNOUNCE)
    cassette = root / "playbooks" / "launch-brief.cassette.yaml"
    entries = yaml.safe_load(cassette.read_text())
    answer = {"channel": "newsletter", "url": "https://example.com/n", "confidence": 0.9}
    entries["announce"] = [{**answer, "rationale": "r"}]
    cassette.write_text(yaml.safe_dump(entries, sort_keys=False))


def change_publish_task(root: Path) -> None:
    path = playbook_file(root)
    text = path.read_text()
    assert 'task: "Publish: {{steps.draft.brief}}"' in text
    path.write_text(text.replace('"Publish: {{', '"Publish on every channel at once: {{'))


def remove_triage(root: Path) -> None:
    """A valid playbook without the triage step (the checkpoint shows the draft only)."""
    path = playbook_file(root)
    spec = yaml.safe_load(path.read_text())
    spec["steps"] = [step for step in spec["steps"] if step["id"] != "triage"]
    for step in spec["steps"]:
        if step["id"] == "legal_review":
            step["checkpoint"]["show"] = ["draft"]
    path.write_text(yaml.safe_dump(spec, sort_keys=False))


def board_of() -> Board:
    """The board the CLI of these tests uses (CREW_REDIS_URL, CREW_BOARD set by project_dir)."""
    return Board(connect(os.environ["CREW_REDIS_URL"]), os.environ["CREW_BOARD"])


def status_json(crew_cli: Cli, run: str) -> dict[str, Any]:
    result = crew_cli("status", run, "--json")
    assert result.code == 0, result.err
    return dict(as_json(result))


def upgrades(crew_cli: Cli, run: str) -> list[dict[str, Any]]:
    log = crew_cli("log", run, "--json")
    assert log.code == 0, log.err
    return [event for event in as_json(log) if event["event"] == "upgraded"]


def test_an_edited_playbook_does_not_change_a_waiting_run(crew_cli: Cli, example: Path) -> None:
    run, card = waiting(crew_cli)
    pinned = status_json(crew_cli, run)["pinned"]
    assert pinned["changed"] == [] and pinned["hash"].startswith("sha256:")
    add_announce_step(example)
    change_publish_task(example)

    shown = crew_cli("status", run)
    assert shown.code == 0, shown.err
    assert (
        "playbooks/launch-brief.yaml changed since this run started; it goes on with the "
        f"version it started with; `crew resume {run} --upgrade` moves it to the current files"
    ) in " ".join(shown.out.split())
    status = status_json(crew_cli, run)
    assert status["pinned"] == {
        "hash": pinned["hash"],
        "changed": [{"file": "playbooks/launch-brief.yaml", "change": "changed"}],
    }
    assert "announce" not in [step["step"] for step in status["steps"]]  # never pending

    answered = crew_cli("answer", card, "approve", "--as", "carol", "--json")

    assert answered.code == 0, answered.err
    report = as_json(answered)
    assert report["status"] == "done"
    assert list(report["outputs"]) == ["research", "draft", "triage", "publish"]
    board = board_of()
    assert [c.step for c in board.cards_of_run(run)][-1] == "publish"
    (publish,) = [c for c in board.cards_of_run(run) if c.step == "publish"]
    assert publish.detail["task"].startswith("Publish: ")  # the task Carol approved to
    assert upgrades(crew_cli, run) == []
    after = crew_cli("status", run)
    assert "it ran with the version it started with" in " ".join(after.out.split())


def test_a_run_goes_on_when_its_playbook_file_was_deleted(crew_cli: Cli, example: Path) -> None:
    run, card = waiting(crew_cli)
    playbook_file(example).unlink()  # the cassette stays: replayed model answers

    shown = crew_cli("status", run)
    assert shown.code == 0, shown.err
    note = " ".join(shown.out.split())
    assert (
        "playbooks/launch-brief.yaml deleted since this run started; it goes on with the "
        "version it started with"
    ) in note
    assert "--upgrade" not in note
    refused = crew_cli("resume", run, "--upgrade", "--as", "carol")
    assert refused.code == 2
    assert "playbooks/launch-brief.yaml is gone" in refused.err
    assert "Traceback" not in refused.err

    answered = crew_cli("answer", card, "approve", "--as", "carol", "--json")

    assert answered.code == 0, answered.err
    done = as_json(answered)
    assert done["status"] == "done"
    assert done["outputs"]["publish"]["channel"] == "blog"


def test_upgrade_is_refused_when_a_step_the_run_did_is_gone(crew_cli: Cli, example: Path) -> None:
    run, card = waiting(crew_cli)
    before = status_json(crew_cli, run)["pinned"]["hash"]
    remove_triage(example)

    refused = crew_cli("resume", run, "--upgrade", "--as", "carol")

    assert refused.code == 2, refused.out
    message = " ".join(refused.err.split())
    assert (
        f"run {run} cannot move to the current playbooks/launch-brief.yaml: steps the run has "
        "done or waits on are not in it: triage (nothing changed)"
    ) in message
    assert "Traceback" not in refused.err
    assert upgrades(crew_cli, run) == []
    status = status_json(crew_cli, run)
    assert status["pinned"]["hash"] == before
    assert status["status"] == "waiting"
    # It goes on with the version it started with.
    answered = crew_cli("answer", card, "approve", "--as", "carol", "--json")
    assert answered.code == 0, answered.err
    assert "triage" in as_json(answered)["outputs"]


def test_upgrade_moves_the_run_to_the_current_files_and_the_audit_says_who(
    crew_cli: Cli, example: Path
) -> None:
    run, card = waiting(crew_cli)
    before = status_json(crew_cli, run)["pinned"]["hash"]
    add_announce_step(example)

    moved = crew_cli("resume", run, "--upgrade", "--as", "carol")

    assert moved.code == 3, moved.err  # still waiting on carol's answer
    assert f"run {run} now follows the current files" in " ".join(moved.err.split())
    (event,) = upgrades(crew_cli, run)
    assert event["actor"] == "carol"
    status = status_json(crew_cli, run)
    assert event["detail"] == {
        "from": before,
        "to": status["pinned"]["hash"],
        "files": [{"file": "playbooks/launch-brief.yaml", "change": "changed"}],
    }
    assert status["pinned"]["hash"] != before and status["pinned"]["changed"] == []
    assert "since this run started" not in crew_cli("status", run).out
    answered = crew_cli("answer", card, "approve", "--as", "carol", "--json")
    assert answered.code == 0, answered.err
    assert as_json(answered)["outputs"]["announce"]["channel"] == "newsletter"


def test_upgrade_is_for_those_who_may_cancel_the_run(crew_cli: Cli, example: Path) -> None:
    crew = example / "crew.yaml"
    crew.write_text(crew.read_text().replace("people:\n", "people:\n  erin: {name: Erin}\n"))
    run, _ = waiting(crew_cli)
    add_announce_step(example)

    refused = crew_cli("resume", run, "--upgrade", "--as", "erin")

    assert refused.code == 2
    assert f"erin may not upgrade run {run}; who may: alice" in refused.err
    assert upgrades(crew_cli, run) == []


def test_a_worker_drives_each_run_with_its_own_version(crew_cli: Cli, example: Path) -> None:
    old_run, old_card = waiting(crew_cli)
    add_announce_step(example)
    new_run, new_card = waiting(crew_cli)
    board = board_of()
    # The answering processes recorded their decisions and stopped before resuming.
    for card in (old_card, new_card):
        board.answer(card, person="carol", decision="approve")

    result = crew_cli("worker", "--once")

    assert result.code == 0, result.err
    assert list(status_json(crew_cli, old_run)["outputs"]) == [
        "research",
        "draft",
        "triage",
        "publish",
    ]
    assert "announce" in status_json(crew_cli, new_run)["outputs"]


@pytest.mark.parametrize("edit", ["comment", "reorder keys"])
def test_an_edit_that_changes_no_meaning_is_no_change(
    crew_cli: Cli, example: Path, edit: str
) -> None:
    run, _ = waiting(crew_cli)
    path = playbook_file(example)
    if edit == "comment":
        path.write_text("# reviewed by legal in March\n" + path.read_text())
    else:
        spec = yaml.safe_load(path.read_text())
        path.write_text(yaml.safe_dump(dict(reversed(list(spec.items()))), sort_keys=False))

    assert status_json(crew_cli, run)["pinned"]["changed"] == []
    assert json.dumps(upgrades(crew_cli, run)) == "[]"


def test_an_edit_is_checked_against_the_role_the_run_follows(
    crew_cli: Cli, example: Path, tmp_path: Path
) -> None:
    run, card = waiting(crew_cli)
    writer = example / "agents" / "writer.yaml"  # a field added to the role since the run began
    writer.write_text(writer.read_text() + "  audience: {type: string}\n")
    edited = tmp_path / "edited.yaml"
    edited.write_text("brief: '# Solar kettle, priced at $99'\n")

    answered = crew_cli("answer", card, "edit", "--file", str(edited), "--as", "carol", "--json")

    assert answered.code == 0, answered.err
    assert as_json(answered)["outputs"]["draft"]["brief"] == "# Solar kettle, priced at $99"
    assert "agents/writer.yaml changed" in " ".join(crew_cli("status", run).out.split())
