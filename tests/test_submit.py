"""Submitting runs to workers (DESIGN §9): `crew run --detach [--key KEY] [--priority N]` queues a
run and returns at once; `crew worker` drives queued runs (priority, then first in first out);
an answer to a submitted run is left for a worker; bad input is one clear line.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from support.cli import RUN, as_json

from crew.board import Board, RunStatus
from crew.connection import connect
from crew.engine.runtime import Session, submit_run
from crew.exceptions import ConfigError
from crew.spec.loader import load_project

Cli = Callable[..., Any]
DETACH = (*RUN, "--detach")


def board_of(root: Path) -> Board:
    project = load_project(root)
    return Board(connect(project.redis_url()), project.board_name)


def test_detach_prints_the_run_id_and_queues_it_for_a_worker(crew_cli: Cli, example: Path) -> None:
    submitted = crew_cli(*DETACH)

    assert submitted.code == 0, submitted.err
    run_id = submitted.out.strip()
    assert run_id.startswith("r") and len(submitted.out.splitlines()) == 1
    assert f"follow it with `crew status {run_id}`" in " ".join(submitted.err.split())
    board = board_of(example)
    run = board.get_run(run_id)
    assert run.status is RunStatus.QUEUED and board.cards_of_run(run_id) == []
    assert [r.id for r in board.queued_runs()] == [run_id]
    listed = as_json(crew_cli("runs", "--json"))
    assert [(r["run"], r["status"]) for r in listed] == [(run_id, "queued")]

    worked = crew_cli("worker", "--once")

    assert worked.code == 0, worked.err
    assert f"run {run_id} (launch-brief): started, taken from the queue" in worked.out
    assert f"run {run_id}: waiting, waiting on carol" in worked.out
    assert board.get_run(run_id).status is RunStatus.WAITING
    assert board.queued_runs() == []


def test_detach_json_is_the_run_shape_with_status_queued(crew_cli: Cli, example: Path) -> None:
    report = as_json(crew_cli(*DETACH, "--json"))
    assert report == {
        "run": report["run"],
        "playbook": "launch-brief",
        "status": "queued",
        "waiting_on": [],
        "outputs": {},
    }


def test_an_answer_to_a_submitted_run_is_left_for_a_worker_who_finishes_it(
    crew_cli: Cli, example: Path
) -> None:
    run_id = crew_cli(*DETACH).out.strip()
    assert crew_cli("worker", "--once").code == 0
    status = as_json(crew_cli("status", run_id, "--json"))
    card = status["waiting_on"][0]["card"]

    answered = crew_cli("answer", card, "approve", "--as", "carol", "--json")

    assert answered.code == 0, answered.err  # recorded; a worker goes on with it
    assert as_json(answered)["status"] == "queued"
    board = board_of(example)
    assert [r.id for r in board.queued_runs()] == [run_id]
    worked = crew_cli("worker", "--once")
    assert f"run {run_id}: done" in worked.out, worked.out
    assert board.get_run(run_id).status is RunStatus.DONE
    done = [c.step for c in board.cards_of_run(run_id) if c.status == "done"]
    assert done.count("publish") == 1 and len(done) == len(set(done))


def test_the_same_key_twice_gives_one_run(crew_cli: Cli, example: Path) -> None:
    first = crew_cli(*DETACH, "--key", "ticket-4711")
    second = crew_cli(*DETACH, "--key", "ticket-4711", "--json")

    assert first.code == 0 and second.code == 0, second.err
    assert as_json(second)["run"] == first.out.strip()
    board = board_of(example)
    assert [r.id for r in board.runs(10)] == [first.out.strip()]
    other = crew_cli(*DETACH, "--key", "ticket-4712").out.strip()
    assert other != first.out.strip()


def test_a_key_frees_up_once_its_run_is_purged(crew_cli: Cli, example: Path) -> None:
    first = crew_cli(*DETACH, "--key", "nightly").out.strip()
    board = board_of(example)
    board.cancel_run(first, actor="bob", reason="test")
    assert crew_cli(*DETACH, "--key", "nightly").out.strip() == first  # still kept
    assert board.purge(older_than=0).runs == [first]

    again = crew_cli(*DETACH, "--key", "nightly").out.strip()

    assert again and again != first
    assert board.get_run(again).status is RunStatus.QUEUED


def test_workers_take_higher_priorities_first_then_first_in_first_out(
    crew_cli: Cli, example: Path
) -> None:
    low = crew_cli(*DETACH, "--priority", "-5").out.strip()
    first = crew_cli(*DETACH).out.strip()
    second = crew_cli(*DETACH, "--priority", "0").out.strip()
    urgent = crew_cli(*DETACH, "--priority", "10").out.strip()
    board = board_of(example)

    assert [r.id for r in board.queued_runs()] == [urgent, first, second, low]
    assert board.get_run(urgent).priority == 10
    taken = board.take_run("test-worker", 30)
    assert taken is not None and taken[0] == urgent
    assert [r.id for r in board.queued_runs()] == [first, second, low]


def test_a_cancelled_queued_run_is_never_taken(crew_cli: Cli, example: Path) -> None:
    run_id = crew_cli(*DETACH).out.strip()
    assert crew_cli("cancel", run_id, "--as", "bob").code == 0
    board = board_of(example)
    assert board.queued_runs() == [] and board.take_run("w", 30) is None
    assert board.get_run(run_id).status is RunStatus.CANCELLED


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (("--detach", "--priority", "high"), "--priority 'high' is not a whole number"),
        (("--detach", "--priority", "5000"), "priority 5000 is out of range"),
        (("--priority", "3"), "--priority goes with --detach"),
        (("--key", "k"), "--key goes with --detach"),
        (("--detach", "--key", ""), "invalid run key ''"),
        (("--detach", "--key", "x" * 201), "invalid run key"),
    ],
)
def test_bad_submissions_are_one_clear_line(
    crew_cli: Cli, example: Path, args: tuple[str, ...], said: str
) -> None:
    result = crew_cli(*RUN, *args)
    assert result.code == 2, result.err
    assert said in result.err and len(result.err.strip().splitlines()) == 1, result.err
    assert board_of(example).runs(10) == []


def test_detach_with_record_or_a_missing_cassette_is_refused(crew_cli: Cli, example: Path) -> None:
    record = ("run", "launch-brief", "--record", "-i", "product=K", "--as", "bob", "--detach")
    refused = crew_cli(*record)
    assert refused.code == 2 and "--detach and --record exclude each other" in refused.err
    (example / "playbooks" / "launch-brief.cassette.yaml").unlink()
    missing = crew_cli(*DETACH)
    assert missing.code == 2 and "no cassette for playbook 'launch-brief'" in missing.err
    assert len(missing.err.strip().splitlines()) == 1
    assert board_of(example).runs(10) == []


def test_submit_run_is_the_library_call_beside_start_run(example: Path) -> None:
    project = load_project(example)
    session = Session.open(project, person="bob")
    try:
        playbook = project.playbook("launch-brief")
        inputs = {"product": "Solar kettle", "markets": ["US"]}
        report = submit_run(session, playbook, inputs, mode="replay", key="api-1", priority=3)
        again = submit_run(session, playbook, inputs, mode="replay", key="api-1")
        with pytest.raises(ConfigError, match="out of range"):
            submit_run(session, playbook, inputs, mode="replay", priority=-1001)
    finally:
        session.close()
    assert report.status is RunStatus.QUEUED and report.exit_code == 0
    assert again.run == report.run
    run = session.board.get_run(report.run)
    assert (run.priority, run.key, run.meta["detached"]) == (3, "api-1", True)


def test_status_of_an_unknown_run_is_one_line(crew_cli: Cli, example: Path) -> None:
    result = crew_cli("status", "rnope00", "--json")
    assert result.code == 2 and "rnope00" in result.err
    assert len(result.err.strip().splitlines()) <= 2 and "Traceback" not in result.err


def test_crew_run_help_shows_the_submission_options(crew_cli: Cli) -> None:
    shown = " ".join(crew_cli("run", "--help").out.split())
    for option in ("--detach", "--key", "--priority"):
        assert option in shown


def test_crew_resume_drives_a_queued_run_here_and_takes_it_out_of_line(
    crew_cli: Cli, example: Path
) -> None:
    run_id = crew_cli(*DETACH).out.strip()

    resumed = crew_cli("resume", run_id, "--json")

    assert resumed.code == 3, resumed.err  # driven here to carol's checkpoint
    assert as_json(resumed)["status"] == "waiting"
    board = board_of(example)
    assert board.queued_runs() == [] and board.take_run("w", 30) is None
    assert crew_cli("worker", "--once").out == ""  # nothing left for a worker
