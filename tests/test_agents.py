"""The agent step with a scripted model: prompts, validation retries, failure reasons."""

from __future__ import annotations

from typing import Any

import pytest

from crew.agents.responders import ModelCall, ModelFailure
from crew.agents.step import build_messages, run_agent_step
from crew.exceptions import RunError
from crew.spec.models import ModelProfile, RoleSpec
from crew.testing import ScriptedModel

ROLE = RoleSpec.model_validate(
    {
        "name": "writer",
        "title": "Launch Writer",
        "goal": "Write a launch brief.",
        "instructions": "Write plainly.",
        "owner": "alice",
        "output": {
            "brief": {"type": "string", "description": "The brief, in markdown"},
            "words": {"type": "integer", "minimum": 1},
        },
    }
)
PROFILE = ModelProfile(model="gpt-4.1-mini")
GOOD = {"brief": "# Launch", "words": 120, "confidence": 0.8, "rationale": "routine"}


def run(model: ScriptedModel, **options: Any) -> Any:
    return run_agent_step(
        ROLE, PROFILE, "Write the brief.", step="draft", responder=model, **options
    )


def test_a_valid_answer_is_the_output() -> None:
    model = ScriptedModel({"draft": [GOOD]})

    result = run(model)

    assert result.ok
    assert result.output == GOOD
    assert result.confidence == 0.8
    assert result.reason is None
    assert result.calls == 1


def test_the_prompt_carries_role_task_fields_and_step() -> None:
    model = ScriptedModel({"draft": [GOOD]})

    run(model, guidance="Shorter, please.")

    (call,) = model.calls
    system, task, guidance = call.messages
    assert system["role"] == "system"
    for text in ("Launch Writer", "Write a launch brief.", "Write plainly.", "crew step: draft"):
        assert text in system["content"]
    for field in ("brief", "words", "confidence", "rationale"):
        assert f"- {field} (" in system["content"]
    assert task == {"role": "user", "content": "Write the brief."}
    assert guidance["role"] == "user" and "Shorter, please." in guidance["content"]
    assert call.schema["required"] == ["brief", "words", "confidence", "rationale"]
    assert (call.step, call.item, call.revision, call.attempt) == ("draft", None, 0, 0)


def test_an_invalid_answer_is_asked_again_with_the_problems() -> None:
    model = ScriptedModel({"draft": [{**GOOD, "words": 0, "confidence": 1.7}, GOOD]})

    result = run(model)

    assert result.ok
    assert result.calls == 2
    retry = model.calls[1]
    assert retry.attempt == 1
    feedback = retry.messages[-1]["content"]
    assert feedback.startswith(
        "Your previous answer was invalid: words: 0 is below the minimum 1; "
        "confidence: 1.7 is above the maximum 1."
    )
    assert '"words": 0' in feedback  # the model sees what it answered


def test_retries_are_bounded_and_the_reason_is_one_line() -> None:
    model = ScriptedModel({"draft": ["not json at all"] * 3})

    result = run(model, max_invalid_retries=2)

    assert not result.ok
    assert result.calls == 3
    assert result.output is None and result.confidence is None
    assert result.raw == "not json at all"
    assert result.reason == (
        "output still invalid after 3 attempts: the answer is not valid JSON "
        "(Expecting value: line 1 column 1 (char 0))"
    )


def test_no_retries_when_max_invalid_retries_is_zero() -> None:
    model = ScriptedModel({"draft": [{"brief": "x"}]})

    result = run(model, max_invalid_retries=0)

    assert result.reason == (
        "output still invalid after 1 attempt: words: is missing (required integer); "
        "confidence: is missing (required number); rationale: is missing (required string)"
    )


def test_a_model_failure_ends_the_step_with_its_reason() -> None:
    model = ScriptedModel(
        {"draft": [ModelFailure("HTTP 429 from http://x/v1: slow down", attempts=3)]}
    )

    result = run(model)

    assert not result.ok
    assert result.calls == 1
    assert (
        result.reason == "model call failed after 3 attempts: HTTP 429 from http://x/v1: slow down"
    )


def test_an_unexpected_responder_error_becomes_a_reason_not_a_traceback() -> None:
    class Broken:
        def respond(self, call: ModelCall) -> Any:
            raise KeyError("choices")

    result = run_agent_step(ROLE, PROFILE, "t", step="draft", responder=Broken())

    assert not result.ok
    assert result.reason == "model call failed: KeyError: 'choices'"


def test_crew_errors_stop_the_run() -> None:
    model = ScriptedModel({"draft": []})

    with pytest.raises(RunError, match="no answer left for step 'draft'"):
        run(model)


def test_fan_out_position_and_revision_reach_the_responder() -> None:
    model = ScriptedModel({"draft": lambda call: {**GOOD, "brief": f"item {call.item}"}})

    result = run(model, item=2, items=3, revision=1)

    assert result.output is not None and result.output["brief"] == "item 2"
    (call,) = model.calls
    assert (call.item, call.items, call.revision) == (2, 3, 1)


def test_build_messages_feedback_comes_last() -> None:
    messages = build_messages(ROLE, "Task.", guidance="G", feedback="words: missing")

    assert [m["role"] for m in messages] == ["system", "user", "user", "user"]
    assert messages[-1]["content"].startswith("Your previous answer was invalid: words: missing")
