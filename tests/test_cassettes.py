"""Cassettes: offline replay by a timing-independent rule, clear errors, recordings that replay."""

from __future__ import annotations

import random
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import yaml

from crew.agents.cassettes import CassetteRecorder, CassetteReplay, cassette_path
from crew.agents.responders import OpenAIResponder, Responder
from crew.agents.step import StepResult, run_agent_step
from crew.exceptions import ConfigError, RunError
from crew.spec.models import ModelProfile, RoleSpec
from crew.testing import OpenAIServer

ROLE = RoleSpec.model_validate(
    {
        "name": "researcher",
        "title": "Market Researcher",
        "goal": "Find evidence.",
        "owner": "alice",
        "output": {"summary": {"type": "string"}},
    }
)
# A key that does not exist anywhere: replay must never need one.
OFFLINE = ModelProfile(model="gpt-4.1-mini", api_key_env="CREW_TEST_NO_SUCH_KEY")


def answer(summary: str, confidence: float = 0.9) -> dict[str, Any]:
    return {"summary": summary, "confidence": confidence, "rationale": "r"}


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    (tmp_path / "playbooks").mkdir()
    monkeypatch.chdir(tmp_path)
    return tmp_path


def write(path: Path, data: Any) -> Path:
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def step(
    responder: Responder,
    name: str,
    *,
    item: int | None = None,
    items: int | None = None,
    revision: int = 0,
    profile: ModelProfile = OFFLINE,
    retries: int = 2,
) -> StepResult:
    task = f"Research market {item}." if item is not None else "Research."
    return run_agent_step(
        ROLE,
        profile,
        task,
        step=name,
        responder=responder,
        item=item,
        items=items,
        revision=revision,
        max_invalid_retries=retries,
    )


def fan_out(responder: Responder, name: str, items: int, revision: int = 0) -> list[StepResult]:
    """Run every item on its own thread, started in a shuffled order."""
    order = list(range(items))
    random.shuffle(order)
    with ThreadPoolExecutor(max_workers=items) as pool:
        futures = {
            i: pool.submit(step, responder, name, item=i, items=items, revision=revision)
            for i in order
        }
    return [futures[i].result() for i in range(items)]


def summaries(results: list[StepResult]) -> list[str | None]:
    return [r.output["summary"] if r.output else r.reason for r in results]


def test_replay_answers_each_step_from_the_file(project: Path) -> None:
    path = write(
        project / "playbooks/launch-brief.cassette.yaml",
        {
            "research": [answer("found")],
            "draft": [{"summary": "# Brief", "confidence": 0.4, "rationale": "thin"}],
        },
    )
    replay = CassetteReplay(path)

    assert step(replay, "research").output == answer("found")
    drafted = step(replay, "draft")
    assert drafted.ok and drafted.confidence == 0.4


def test_fan_out_items_get_their_entries_whatever_the_timing(project: Path) -> None:
    path = write(
        project / "playbooks/p.cassette.yaml",
        {
            "research": [
                "{broken",  # item 0, first try: invalid, so item 0 asks again after the others
                answer("item 1"),
                {"summary": "item 2", "confidence": 1.5, "rationale": "r"},  # invalid too
                answer("item 0, retried"),
                answer("item 2, retried"),
            ]
        },
    )

    for _ in range(3):
        results = fan_out(CassetteReplay(path), "research", 3)
        assert summaries(results) == ["item 0, retried", "item 1", "item 2, retried"]
        assert [r.calls for r in results] == [2, 1, 2]


def test_a_revision_follows_every_earlier_call(project: Path) -> None:
    path = write(
        project / "playbooks/p.cassette.yaml",
        {"draft": ["bad", "still bad", answer("revised")]},
    )
    replay = CassetteReplay(path)

    first = step(replay, "draft", retries=1)
    revised = step(CassetteReplay(path), "draft", revision=1, retries=1)  # e.g. another process

    assert first.reason is not None and first.reason.startswith(
        "output still invalid after 2 attempts"
    )
    assert revised.output == answer("revised")


def test_a_failure_entry_replays_a_failed_model_call(project: Path) -> None:
    path = write(
        project / "playbooks/p.cassette.yaml",
        {"draft": [{"$failure": "HTTP 500 from https://api.openai.com/v1: overloaded"}]},
    )

    result = step(CassetteReplay(path), "draft")

    assert result.reason == (
        "model call failed after 1 attempt: HTTP 500 from https://api.openai.com/v1: overloaded"
    )


def test_a_missing_entry_names_file_step_and_call(project: Path) -> None:
    path = write(
        project / "playbooks/launch-brief.cassette.yaml",
        {"draft": [answer("v1"), answer("v2")]},
    )

    with pytest.raises(RunError) as caught:
        step(CassetteReplay(path), "draft", revision=2)

    assert str(caught.value) == (
        "playbooks/launch-brief.cassette.yaml has no entry for step 'draft' call 3 (it has 2). "
        "Record one with crew run --record, or add it by hand."
    )
    with pytest.raises(RunError, match="step 'triage' call 1 \\(it has 0\\)"):
        step(CassetteReplay(path), "triage")


def test_a_missing_or_malformed_cassette_is_a_config_error(project: Path) -> None:
    with pytest.raises(ConfigError, match=r"^playbooks/none.cassette.yaml does not exist\."):
        CassetteReplay("playbooks/none.cassette.yaml")

    broken = project / "playbooks/broken.cassette.yaml"
    broken.write_text("draft:\n  - {summary: 'x'\n  - oops: [\n")
    with pytest.raises(ConfigError, match=r"^playbooks/broken.cassette.yaml:\d+: not valid YAML"):
        CassetteReplay(broken)

    write(broken, {"draft": {"summary": "x"}})
    with pytest.raises(ConfigError, match="step 'draft' should be a list of answers"):
        CassetteReplay(broken)


def test_cassette_path_sits_next_to_the_playbook() -> None:
    assert cassette_path("playbooks/launch-brief.yaml") == Path(
        "playbooks/launch-brief.cassette.yaml"
    )


@pytest.fixture
def server() -> Iterator[OpenAIServer]:
    def research(body: dict[str, Any]) -> Any:
        task = body["messages"][1]["content"]
        if "market 1" in task and "invalid" not in body["messages"][-1]["content"]:
            return "{not json"  # item 1 answers badly once
        return answer(f"about {task}\nsecond line")

    with OpenAIServer(handler=research) as server:
        yield server


def test_a_recorded_cassette_replays_identically(project: Path, server: OpenAIServer) -> None:
    live = ModelProfile(model="m", base_url=server.url, api_key_env="LOOPBACK_KEY", max_retries=0)
    path = project / "playbooks/p.cassette.yaml"
    recorder = CassetteRecorder(OpenAIResponder(env={"LOOPBACK_KEY": "k"}), path)

    recorded = [
        run_agent_step(
            ROLE,
            live,
            f"Research market {i}.",
            step="research",
            responder=recorder,
            item=i,
            items=3,
        )
        for i in (2, 0, 1)  # any order: the file is written in the replay order
    ]
    server.reply(*[OpenAIServer.status(503, "overloaded", retry_after=0.01)] * 2, step="draft")
    live = live.model_copy(update={"max_retries": 1})
    failed = run_agent_step(ROLE, live, "Write.", step="draft", responder=recorder)
    recorder.close()

    text = path.read_text()
    assert text.startswith("# Recorded model answers")
    assert "summary: |-\n" in text or "summary: |\n" in text  # multi-line text stays readable
    data = yaml.safe_load(text)
    assert len(data["research"]) == 4
    assert data["research"][1] == "{not json"
    assert data["draft"] == [{"$failure": f"HTTP 503 from {server.url}: overloaded", "attempts": 2}]
    assert (
        failed.reason
        == f"model call failed after 2 attempts: HTTP 503 from {server.url}: overloaded"
    )

    calls_before = len(server.calls)
    replayed = fan_out(CassetteReplay(path), "research", 3)
    by_item = [recorded[1], recorded[2], recorded[0]]
    assert [r.output for r in replayed] == [r.output for r in by_item]
    assert [r.calls for r in replayed] == [1, 2, 1]
    assert step(CassetteReplay(path), "draft").reason == failed.reason
    assert len(server.calls) == calls_before  # replay made no request


def test_the_recorder_can_continue_a_resumed_run(project: Path) -> None:
    path = write(project / "playbooks/p.cassette.yaml", {"draft": [answer("v1")]})
    # stands in for the live model of the resumed run
    live = CassetteReplay(write(project / "live.yaml", {"draft": [answer("v1"), answer("v2")]}))

    recorder = CassetteRecorder(live, path, resume=True)
    step(recorder, "draft", revision=1)

    assert yaml.safe_load(path.read_text()) == {"draft": [answer("v1"), answer("v2")]}
    assert step(CassetteReplay(path), "draft", revision=1).output == answer("v2")


def test_samples_of_a_fan_out_item_follow_each_other(project: Path) -> None:
    path = write(
        project / "playbooks/p.cassette.yaml",
        {"triage": [answer(f"item {i} sample {s}") for i in range(2) for s in range(3)]},
    )
    replay = CassetteReplay(path)

    def sample(item: int, number: int) -> str | None:
        result = run_agent_step(
            ROLE,
            OFFLINE,
            "t",
            step="triage",
            responder=replay,
            item=item,
            items=2,
            sample=number,
            samples=3,
        )
        return result.output["summary"] if result.output else result.reason

    assert [sample(1, 2), sample(0, 0), sample(1, 0)] == [
        "item 1 sample 2",
        "item 0 sample 0",
        "item 1 sample 0",
    ]


def test_hand_written_dates_and_infinities_stay_what_json_would_say(project: Path) -> None:
    path = project / "playbooks/p.cassette.yaml"
    path.write_text(
        "draft:\n"
        "  - {summary: 2026-05-01, confidence: .inf, rationale: r}\n"
        "  - {summary: 2026-05-01, confidence: 0.5, rationale: r}\n"
    )

    result = step(CassetteReplay(path), "draft")

    assert result.output == {"summary": "2026-05-01", "confidence": 0.5, "rationale": "r"}
    assert result.calls == 2
