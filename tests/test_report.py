"""`crew report` (DESIGN §10): roll-ups kept by the transitions, the report's figures, the CLI.

A scripted history goes through the board's real transitions; the test computes the rates the
script implies on its own and compares them with `build_report` (and `crew report --json`).
"""

from __future__ import annotations

import json
import os
from typing import Any

import pytest
import redis

from crew.board import Board
from crew.people.report import build_report, rebuild_rollups, suggest
from crew.types import Usage
from tests.support.board import FakeClock

HOUR = 3600.0


class History:
    """Drives runs of one playbook through the board as the engine would."""

    def __init__(self, board: Board, clock: FakeClock) -> None:
        self.board, self.clock, self.n = board, clock, 0

    def run(self) -> str:
        self.n += 1
        run = f"r{self.n}"
        self.board.create_run(run, playbook="brief", inputs={}, started_by="ann")
        return run

    def execute(
        self,
        run: str,
        step: str,
        role: str,
        confidence: float,
        *,
        threshold: float = 0.7,
        owner: str = "alice",
        cost: float = 0.01,
        revision: int = 0,
    ) -> str:
        card, lease = self.board.start_card(
            worker="w",
            lease_seconds=60,
            run=run,
            playbook="brief",
            step=step,
            role=role,
            assignee=role,
            owner=owner,
            revision=revision,
        )
        usage = Usage(input_tokens=100, output_tokens=50, calls=1, cost=cost)
        self.clock.advance(10)
        if confidence >= threshold:
            self.board.complete(
                card.id,
                lease.token,
                output={"x": 1},
                confidence=confidence,
                actor=role,
                usage=usage,
            )
        else:
            self.board.wait(
                card.id,
                lease.token,
                kind="escalation",
                assignee=owner,
                allowed=[owner],
                due=self.clock() + 4 * HOUR,
                reason=f"confidence {confidence:.2f} is below {role}'s threshold {threshold:g}",
                output={"x": 1},
                confidence=confidence,
                chain=[owner, "bob"],
                sla=4 * HOUR,
                usage=usage,
            )
        return card.id

    def checkpoint(self, run: str, show: list[str], owner: str = "carol") -> str:
        card = self.board.create_card(
            run=run,
            playbook="brief",
            step="review",
            kind="checkpoint",
            assignee=owner,
            owner=owner,
            status="waiting",
            allowed=[owner],
            due=self.clock() + 4 * HOUR,
            reason="ok?",
            detail={"question": "ok?", "show": show},
        )
        return card.id

    def answer(self, card: str, person: str, decision: str, after: float) -> None:
        self.clock.advance(after)
        edited = {"x": 2} if decision == "edit" else None
        self.board.answer(card, person=person, decision=decision, edited_output=edited)

    def end(self, run: str, status: str) -> None:
        self.clock.advance(5)
        self.board.set_run_status(run, status, actor="w")


@pytest.fixture
def board(client: redis.Redis, unique_name: str, clock: FakeClock) -> Board:
    return Board(client, unique_name, clock=clock)


def scripted(board: Board, clock: FakeClock) -> History:
    """Six runs of `brief` (research by the researcher, draft by the writer, review by carol):
    - r1: both confident; carol approves after 1h.                        -> done
    - r2: research escalated (0.55), alice edits after 2h; carol approves after 1h. -> done
    - r3: research escalated (0.62), alice approves after 30m; carol rejects after 3h. -> rejected
    - r4: research 0.75 at once; carol edits after 2h (the research, shown first). -> done
    - r5: research escalated (0.4), nobody answers: SLA moves it from alice to bob, who retries
          after 1h; the retry is confident; carol approves after 1h.    -> done
    - r6: research 0.9, draft 0.95; cancelled before the checkpoint.     -> cancelled
    """
    h = History(board, clock)
    r1 = h.run()
    h.execute(r1, "research", "researcher", 0.8)
    h.execute(r1, "draft", "writer", 0.9)
    h.answer(h.checkpoint(r1, ["research", "draft"]), "carol", "approve", HOUR)
    h.end(r1, "done")

    r2 = h.run()
    card = h.execute(r2, "research", "researcher", 0.55)
    h.answer(card, "alice", "edit", 2 * HOUR)
    h.execute(r2, "draft", "writer", 0.9)
    h.answer(h.checkpoint(r2, ["research", "draft"]), "carol", "approve", HOUR)
    h.end(r2, "done")

    r3 = h.run()
    card = h.execute(r3, "research", "researcher", 0.62)
    h.answer(card, "alice", "approve", 0.5 * HOUR)
    h.execute(r3, "draft", "writer", 0.85)
    h.answer(h.checkpoint(r3, ["research", "draft"]), "carol", "reject", 3 * HOUR)
    h.end(r3, "rejected")

    r4 = h.run()
    h.execute(r4, "research", "researcher", 0.75)
    h.execute(r4, "draft", "writer", 0.9)
    h.answer(h.checkpoint(r4, ["research", "draft"]), "carol", "edit", 2 * HOUR)
    h.end(r4, "done")

    r5 = h.run()
    card = h.execute(r5, "research", "researcher", 0.4)
    clock.advance(4 * HOUR + 1)
    moved = board.overdue()[0]
    board.reassign(
        moved.id,
        to="bob",
        actor="crew",
        reason="no answer within 4h",
        allowed=["bob"],
        due=clock() + 4 * HOUR,
        expected_version=moved.version,
        keep_reason=True,
    )
    h.answer(card, "bob", "retry", HOUR)
    h.execute(r5, "research", "researcher", 0.8, revision=1)
    h.execute(r5, "draft", "writer", 0.9)
    h.answer(h.checkpoint(r5, ["research", "draft"]), "carol", "approve", HOUR)
    h.end(r5, "done")

    r6 = h.run()
    h.execute(r6, "research", "researcher", 0.9)
    h.execute(r6, "draft", "writer", 0.95)
    h.end(r6, "cancelled")
    return h


def by_name(items: list[dict[str, Any]], key: str) -> dict[str, dict[str, Any]]:
    return {item[key]: item for item in items}


def test_the_report_gives_exactly_the_rates_a_scripted_history_implies(
    board: Board, clock: FakeClock
) -> None:
    start = clock()
    scripted(board, clock)
    report = build_report(board, since=start - HOUR, thresholds={"researcher": 0.7})
    roles = by_name(report.roles, "role")
    research, writer = roles["researcher"], roles["writer"]
    # researcher: 7 executions (r1..r6, plus r5's retry); escalated: r2, r3, r5 (low confidence)
    assert research["executions"] == 7
    assert research["accepted_at_once"] == 4  # r1, r4, r5 retry, r6
    assert research["escalated"] == 3
    assert research["escalated_rate"] == round(3 / 7, 4)
    assert research["escalated_by"] == {"low_confidence": 3}
    assert research["escalation_decisions"] == {"approve": 1, "edit": 1, "retry": 1}
    # checkpoints that showed research: r1 approve, r2 approve, r3 reject, r4 edit, r5 approve
    assert research["checkpoint_decisions"] == {"approve": 3, "edit": 1, "reject": 1}
    # the writer's outputs: approved where the checkpoint edited the research (shown first)
    assert writer["checkpoint_decisions"] == {"approve": 4, "reject": 1}
    assert writer["executions"] == 6 and writer["escalated"] == 0
    # calibration: each judged output once, its last verdict
    bands = {b["band"]: b for b in research["calibration"]}
    verdicts = {name: (b["kept"], b["changed"]) for name, b in bands.items()}
    assert verdicts["0.5-0.6"] == (0, 1)  # r2 edited
    assert verdicts["0.6-0.7"] == (0, 1)  # r3 approved, then rejected at the checkpoint
    assert verdicts["0.4-0.5"] == (0, 1)  # r5 retried
    assert verdicts["0.7-0.8"] == (0, 1)  # r4 edited at the checkpoint
    assert verdicts["0.8-0.9"] == (2, 0)  # r1, r5's retry
    assert bands["0.9-1.0"]["executions"] == 1 and bands["0.9-1.0"]["kept"] == 0  # r6 never judged
    assert research["tokens"] == {"input": 700, "output": 350, "calls": 7}
    assert research["cost"] == pytest.approx(0.07)
    # accepted: 4 at once + the escalation edited + the one approved
    assert research["accepted"] == 6
    assert research["cost_per_accepted"] == pytest.approx(round(0.07 / 6, 6))

    people = by_name(report.people, "person")
    carol, alice, bob = people["carol"], people["alice"], people["bob"]
    assert carol["decisions"] == {"approve": 3, "edit": 1, "reject": 1}
    assert carol["edits"] == 1
    assert alice["decisions"] == {"approve": 1, "edit": 1}
    assert alice["sla_misses"] == 1 and bob["sla_misses"] == 0
    assert bob["decisions"] == {"retry": 1}
    # carol took 1h, 1h, 3h, 2h, 1h: median 1h, within a histogram bucket's precision
    assert carol["time_to_decide"]["mean"] == pytest.approx(8 * HOUR / 5, rel=1e-3)
    assert 0.7 * HOUR <= carol["time_to_decide"]["median"] <= 1.42 * HOUR

    playbook = by_name(report.playbooks, "playbook")["brief"]
    assert playbook["runs"] == {"cancelled": 1, "done": 4, "rejected": 1}
    assert playbook["total"] == 6
    # waiting on people is the union of the waits: r4 waited 2h on carol, so 2h of its lead time
    assert playbook["waiting_on_people_total"] == pytest.approx(
        (1 + 3 + 3.5 + 2 + (4 + 1 / 3600 + 1 + 1)) * HOUR, rel=1e-6
    )


def test_rebuild_recomputes_the_same_rollups_from_the_cards_and_streams(
    board: Board, clock: FakeClock
) -> None:
    start = clock()
    scripted(board, clock)
    before = build_report(board, since=start - HOUR, thresholds={"researcher": 0.7}).to_json()
    rebuild_rollups(board)
    after = build_report(board, since=start - HOUR, thresholds={"researcher": 0.7}).to_json()
    for section, key in (("roles", "role"), ("people", "person")):
        assert by_name(after[section], key) == by_name(before[section], key)
    b, a = before["playbooks"][0], after["playbooks"][0]
    assert a["runs"] == b["runs"] and a["lead_time_total"] == pytest.approx(b["lead_time_total"])


def test_a_refused_decision_is_not_counted_and_the_run_waits_again(
    board: Board, clock: FakeClock
) -> None:
    # A driver refuses a recorded decision it must not act on (settings.require_signed and a
    # signature that does not verify): the report counts only what was decided in the end.
    start = clock()
    h = History(board, clock)
    run = h.run()
    escalation = h.execute(run, "research", "researcher", 0.55)
    h.answer(escalation, "alice", "approve", HOUR)
    refuse(board, escalation)
    h.answer(escalation, "alice", "edit", HOUR)  # the real answer, an hour later
    h.execute(run, "draft", "writer", 0.9)
    checkpoint = h.checkpoint(run, ["research", "draft"])
    h.answer(checkpoint, "carol", "approve", HOUR)
    refuse(board, checkpoint)
    h.answer(checkpoint, "carol", "reject", 2 * HOUR)
    h.end(run, "rejected")

    report = build_report(board, since=start - HOUR, thresholds={"researcher": 0.7}).to_json()
    roles, people = by_name(report["roles"], "role"), by_name(report["people"], "person")
    assert people["alice"]["decisions"] == {"edit": 1}
    assert people["carol"]["decisions"] == {"reject": 1}
    # each took from when the card first waited to the decision that stood
    assert people["alice"]["time_to_decide"]["mean"] == pytest.approx(2 * HOUR, rel=1e-3)
    assert people["carol"]["time_to_decide"]["mean"] == pytest.approx(3 * HOUR, rel=1e-3)
    research, writer = roles["researcher"], roles["writer"]
    assert research["escalation_decisions"] == {"edit": 1}
    assert research["checkpoint_decisions"] == {"reject": 1}
    assert writer["checkpoint_decisions"] == {"reject": 1}
    calibration = {b["band"]: (b["kept"], b["changed"]) for b in research["calibration"]}
    assert calibration["0.5-0.6"] == (0, 1)
    # the run waited on people the whole time its cards waited, refusals or not
    (playbook,) = report["playbooks"]
    assert playbook["waiting_on_people_total"] == pytest.approx(5 * HOUR, rel=1e-6)

    rebuild_rollups(board)
    again = build_report(board, since=start - HOUR, thresholds={"researcher": 0.7}).to_json()
    for section, key in (("roles", "role"), ("people", "person")):
        assert by_name(again[section], key) == by_name(report[section], key)


def refuse(board: Board, card_id: str) -> None:
    card = board.get(card_id)
    board.refuse_decision(
        card_id, version=card.version, actor="crew", detail={"why": "the decision is not signed"}
    )


def test_rebuild_reads_all_of_a_long_run_stream(board: Board, clock: FakeClock) -> None:
    """A run's stream keeps up to RUN_EVENTS_MAXLEN events: a rebuild counts past the first
    page of them (here 1,200 reassignments of one card, 1,202 events)."""
    h = History(board, clock)
    run = h.run()
    card = h.execute(run, "research", "researcher", 0.4)  # escalated to alice
    for i in range(1200):
        board.reassign(card, to=("bob", "alice")[i % 2], actor="ann", reason="handed on")
    before = build_report(board, since=clock() - HOUR)
    rebuild_rollups(board)
    after = build_report(board, since=clock() - HOUR)
    moved = {p["person"]: p["reassignments"] for p in before.people}
    assert moved == {"alice": 600, "bob": 600}
    assert {p["person"]: p["reassignments"] for p in after.people} == moved


def test_rollups_stay_bounded_days_past_retention_go(board: Board, clock: FakeClock) -> None:
    from crew.board.scripts import ROLLUP_DAYS

    h = History(board, clock)
    h.execute(h.run(), "research", "researcher", 0.9)
    clock.advance(86400)
    h.execute(h.run(), "research", "researcher", 0.9)  # a new day: a copy of the totals
    second = int(clock() // 86400)
    assert board.client.hget(board.keys.rollup_day(second), "r|brief|researcher|ok") == "1"
    clock.advance((ROLLUP_DAYS + 1) * 86400)
    h.execute(h.run(), "research", "researcher", 0.9)
    days = board.client.zrange(board.keys.rollup_days(), 0, -1)
    assert days == [str(int(clock() // 86400))]
    assert not board.client.exists(board.keys.rollup_day(second))
    # the totals keep counting: a report over the whole time sees from the oldest copy kept
    assert board.client.hget(board.keys.rollup_total(), "r|brief|researcher|ok") == "3"
    report = build_report(board, since=clock() - 3 * 86400)
    assert report.roles[0]["executions"] == 1


def test_a_report_of_a_period_counts_only_that_period(board: Board, clock: FakeClock) -> None:
    h = History(board, clock)
    for day in range(5):
        for _ in range(day + 1):  # day d has d + 1 executions
            h.execute(h.run(), "research", "researcher", 0.9)
        clock.advance(86400)
    start = clock() - 5 * 86400
    counts = [
        build_report(board, since=start + d * 86400, until=start + d * 86400 + 3600).roles
        for d in range(5)
    ]
    assert [c[0]["executions"] for c in counts] == [1, 2, 3, 4, 5]
    days_1_to_3 = build_report(board, since=start + 86400, until=start + 3 * 86400 + 1)
    assert days_1_to_3.roles[0]["executions"] == 2 + 3 + 4 and days_1_to_3.days == 3


def band_counts(
    changed: dict[int, int], kept: dict[int, int], executions: dict[int, int]
) -> list[dict[str, int]]:
    return [
        {"executions": executions.get(b, 0), "kept": kept.get(b, 0), "changed": changed.get(b, 0)}
        for b in range(10)
    ]


def test_suggest_raises_the_threshold_when_people_changed_the_low_confidence_outputs() -> None:
    # 11 outputs between 0.7 and 0.8 went through at once; people edited 9 of them
    bands = band_counts(
        changed={7: 9, 8: 2},
        kept={7: 2, 8: 20, 9: 10},
        executions={5: 4, 6: 10, 7: 11, 8: 22, 9: 10},
    )
    found, why = suggest("researcher", bands, 0.7)
    assert found is not None, why
    assert found.suggested == 0.8
    assert found.line == (
        "agents/researcher.yaml: confidence.threshold 0.7 → 0.8 (would have escalated 9 of 11 "
        "outputs people later changed; +79% escalations)"
    )


def test_suggest_says_nothing_when_the_evidence_is_thin() -> None:
    bands = band_counts(changed={7: 3}, kept={8: 4}, executions={7: 3, 8: 4})
    found, why = suggest("researcher", bands, 0.7)
    assert found is None
    assert why == "not enough evidence: 7 judged outputs, 3 changed (needs 20 judged, 8 changed)"


def test_crew_report_json_and_tables(example: Any, crew_cli: Any) -> None:
    board = Board.from_url(os.environ["CREW_REDIS_URL"], os.environ["CREW_BOARD"])
    empty = crew_cli("report")
    assert empty.code == 0, empty.err
    assert "no runs yet" in empty.out
    clock = FakeClock(board.now() - 2 * 86400)
    scripted(Board(board.client, board.name, clock=clock), clock)
    result = crew_cli("report", "--json")
    assert result.code == 0, result.err
    data = json.loads(result.out)
    assert by_name(data["roles"], "role")["researcher"]["executions"] == 7
    table = crew_cli("report")
    assert table.code == 0, table.err
    assert "researcher" in table.out and "carol" in table.out
    assert max(len(line) for line in table.out.splitlines()) <= 80
    bad = crew_cli("report", "--role", "nobody")
    assert bad.code == 2
    assert "--role 'nobody' is unknown (known: " in bad.err and "researcher" in bad.err
    since = crew_cli("report", "--since", "yesterdayish")
    assert since.code == 2 and "--since 'yesterdayish' is not a duration or a date" in since.err


def test_demo_history_fills_a_board_the_report_reads(project_dir: Any, crew_cli: Any) -> None:
    from tests.support.example import copy_example

    copy_example(project_dir)  # as shipped: the publisher's publish_post waits for dan
    filled = crew_cli("demo", "history", "--runs", "6", "--days", "3")
    assert filled.code == 0, filled.err
    assert "6 runs of launch-brief over 3 days" in filled.err
    data = json.loads(crew_cli("report", "--json").out)
    playbook = by_name(data["playbooks"], "playbook")["launch-brief"]
    assert playbook["total"] == 6 and sum(playbook["runs"].values()) == 6
    roles = by_name(data["roles"], "role")
    assert roles["researcher"]["executions"] >= 6 and roles["publisher"]["executions"] == 6
    assert roles["researcher"]["cost"] > 0
    people = by_name(data["people"], "person")
    assert people["dan"]["decisions"]["approve"] >= 6  # every publish_post call
    assert playbook["waiting_on_people"]["median"] > 60  # people take minutes to hours


def test_report_html_is_one_offline_file_with_its_charts_drawn_in_chromium(
    example: Any, crew_cli: Any, tmp_path: Any
) -> None:
    import shutil
    import subprocess

    board = Board.from_url(os.environ["CREW_REDIS_URL"], os.environ["CREW_BOARD"])
    clock = FakeClock(board.now() - 2 * 86400)
    scripted(Board(board.client, board.name, clock=clock), clock)
    page = tmp_path / "report.html"
    result = crew_cli("report", "--html", str(page))
    assert result.code == 0, result.err
    text = page.read_text()
    assert text.count("<svg") == 4  # a calibration diagram per role, lead time, time to decide
    assert "<script" not in text and "src=" not in text and "<link" not in text
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        pytest.skip("no Chromium on this machine")
    shot = tmp_path / "report.png"
    subprocess.run(
        [
            chromium,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--hide-scrollbars",
            "--proxy-server=127.0.0.1:9",  # offline: anything fetched would fail
            "--window-size=1100,2400",
            f"--screenshot={shot}",
            page.as_uri(),
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )
    from PIL import Image

    colors = Image.open(shot).convert("RGB").getcolors(maxcolors=1 << 20) or []
    seen = {rgb for _, rgb in colors}
    assert (0x09, 0x69, 0xDA) in seen  # the calibration curves and the AI working bar
    assert (0xBF, 0x87, 0x00) in seen  # waiting on people
    assert (0x1A, 0x7F, 0x37) in seen  # time to decide, median


def test_suggest_lowers_the_threshold_when_people_kept_what_it_escalated() -> None:
    # the escalated outputs between 0.6 and 0.7 were all approved as they were
    bands = band_counts(
        changed={4: 6, 5: 4, 8: 1},
        kept={4: 2, 5: 3, 6: 12, 8: 9},
        executions={4: 8, 5: 7, 6: 12, 7: 20, 8: 30},
    )
    found, why = suggest("researcher", bands, 0.7)
    assert found is not None, why
    assert found.line == (
        "agents/researcher.yaml: confidence.threshold 0.7 → 0.6 (people kept 12 of the 12 "
        "outputs between 0.6 and 0.7 they judged unchanged; -12 escalations)"
    )


def test_a_board_without_rollups_says_so_and_rebuild_recomputes_them(
    example: Any, crew_cli: Any
) -> None:
    board = Board.from_url(os.environ["CREW_REDIS_URL"], os.environ["CREW_BOARD"])
    clock = FakeClock(board.now() - 2 * 86400)
    scripted(Board(board.client, board.name, clock=clock), clock)
    expected = json.loads(crew_cli("report", "--json").out)
    # as an older crew left it: cards and streams, no roll-ups
    days = board.client.zrange(board.keys.rollup_days(), 0, -1)
    board.client.delete(
        board.keys.rollup_total(),
        board.keys.rollup_days(),
        board.keys.rollup_meta(),
        *(board.keys.rollup_day(int(d)) for d in days),
    )
    old = crew_cli("report")
    assert old.code == 2
    assert "this board's 6 runs have no roll-ups" in old.err
    assert "crew report --rebuild" in old.err and "Traceback" not in old.err
    # the new crew keeps roll-ups from its first transition on, and says what it missed
    History(board, FakeClock(board.now())).execute("r7", "research", "researcher", 0.9)
    partial = crew_cli("report")
    assert partial.code == 0, partial.err
    assert "runs the board kept that finished before then are not counted" in " ".join(
        partial.out.split()
    )
    rebuilt = crew_cli("report", "--rebuild", "--json")
    assert rebuilt.code == 0, rebuilt.err
    assert "roll-ups rebuilt from 6 runs" in rebuilt.err
    again = json.loads(rebuilt.out)
    assert again["roles"] == expected["roles"] and again["people"] == expected["people"]


def readme_report_commands() -> list[str]:
    import re
    from pathlib import Path

    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    section = readme[readme.index("## The report: `crew report`") :]
    block = re.search(r"```console\n(.*?)```", section, flags=re.S)
    assert block is not None, "the report section has no console block"
    return [line.split("#")[0].strip() for line in block.group(1).splitlines() if line.strip()]


def test_the_readme_report_commands_run_on_the_example_project(project_dir: Any) -> None:
    import subprocess
    import sys
    from pathlib import Path

    from tests.support.example import copy_example

    copy_example(project_dir)
    commands = readme_report_commands()
    assert commands[0] == "crew demo history --runs 200"
    commands[0] = "crew demo history --runs 8"  # the same command, a shorter history
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    for command in commands:
        done = subprocess.run(
            ["bash", "-c", command], cwd=project_dir, env=env, capture_output=True, text=True,
            timeout=300,
        )  # fmt: skip
        assert done.returncode == 0, (command, done.stderr)
        assert "Traceback" not in done.stderr
    shown = subprocess.run(
        ["bash", "-c", "crew report --since 7d --role writer --json"],
        cwd=project_dir,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert [r["role"] for r in json.loads(shown.stdout)["roles"]] == ["writer"]
    assert (project_dir / "report.html").read_text().count("<svg") >= 3


def test_crew_serve_shows_the_same_report_as_a_page(example: Any, crew_cli: Any) -> None:
    import re

    pytest.importorskip("starlette", reason="crew[web] is not installed")
    from starlette.testclient import TestClient

    from crew.spec.loader import load_project
    from crew.web.app import create_app, open_state

    board = Board.from_url(os.environ["CREW_REDIS_URL"], os.environ["CREW_BOARD"])
    clock = FakeClock(board.now() - 2 * 86400)
    scripted(Board(board.client, board.name, clock=clock), clock)
    issued = crew_cli("token", "issue", "carol")
    assert issued.code == 0, issued.err
    state, _said = open_state(load_project(example), public_url="http://testserver")
    try:
        with TestClient(create_app(state), follow_redirects=False) as client:
            assert client.get("/report").headers["location"].startswith("/signin")
            page = client.get("/signin")
            csrf = re.search(r'name="csrf" value="([^"]+)"', page.text)
            assert csrf is not None
            client.post(
                "/signin",
                data={"csrf": csrf.group(1), "token": issued.out.strip().splitlines()[-1]},
            )
            shown = client.get("/report")
            assert shown.status_code == 200
            assert shown.text.count("<svg") == 4 and "researcher" in shown.text
            assert client.get("/report?since=whenever").status_code == 400
    finally:
        state.close()


def test_a_board_whose_first_run_is_still_going_is_not_taken_for_an_old_one(
    example: Any, crew_cli: Any
) -> None:
    board = Board.from_url(os.environ["CREW_REDIS_URL"], os.environ["CREW_BOARD"])
    h = History(board, FakeClock(board.now()))
    h.checkpoint(h.run(), ["research"])  # a run waiting at its first step: nothing rolled up
    shown = crew_cli("report")
    assert shown.code == 0, shown.err
    assert "no runs yet in this period" in shown.out


def test_escalations_are_counted_by_the_kind_the_step_gave_not_by_their_words(
    board: Board, clock: FakeClock
) -> None:
    """A model failure whose message says 'invalid' is a model failure, on the roll-ups and on
    a rebuild alike; a card without a kind (an older crew's) is still read from its words."""
    start = clock()
    run = "r1"
    board.create_run(run, playbook="brief", inputs={}, started_by="alice")
    for why, reason in (
        ("model_failed", "model call failed after 1 attempt: HTTP 400: invalid request"),
        (None, "output still invalid after 3 attempts: x: is missing"),
    ):
        card, lease = board.start_card(
            worker="w",
            lease_seconds=60,
            run=run,
            playbook="brief",
            step="research",
            role="researcher",
            assignee="researcher",
            owner="alice",
        )
        board.wait(
            card.id,
            lease.token,
            kind="escalation",
            assignee="alice",
            allowed=["alice"],
            due=clock() + HOUR,
            reason=reason,
            why=why,
        )
        assert board.get(card.id).reason_kind == why
    expected = {"model_failed": 1, "invalid_output": 1}
    researcher = by_name(build_report(board, since=start - HOUR).roles, "role")["researcher"]
    assert researcher["escalated_by"] == expected
    rebuild_rollups(board)
    researcher = by_name(build_report(board, since=start - HOUR).roles, "role")["researcher"]
    assert researcher["escalated_by"] == expected
