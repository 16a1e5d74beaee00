"""Agent steps through the real langchain-openai client against a loopback OpenAI-compatible server.

Nothing is patched: requests go over HTTP to `crew.testing.OpenAIServer` on 127.0.0.1, so the
openai client's own retries, backoff and timeouts are what is tested.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from crew.agents.responders import OpenAIResponder, require_api_keys
from crew.agents.step import StepResult, run_agent_step
from crew.exceptions import ConfigError
from crew.spec.models import ModelProfile, RoleSpec
from crew.testing import OpenAIServer

ENV = {"LOOPBACK_KEY": "test-key"}

ROLE = RoleSpec.model_validate(
    {
        "name": "risk_officer",
        "title": "Risk Officer",
        "goal": "Rate the launch risk of a brief.",
        "instructions": "Be conservative.",
        "owner": "carol",
        "output": {
            "severity": {"type": "string", "enum": ["low", "medium", "high"]},
            "risks": {"type": "array", "items": {"type": "string"}},
            "note": {"type": "string", "required": False},
        },
    }
)

GOOD: dict[str, Any] = {
    "severity": "low",
    "risks": ["supply"],
    "note": None,
    "confidence": 0.9,
    "rationale": "clear evidence",
}


@pytest.fixture
def server() -> Iterator[OpenAIServer]:
    with OpenAIServer() as server:
        yield server


def profile(server: OpenAIServer, method: str = "json_schema", **options: Any) -> ModelProfile:
    settings: dict[str, Any] = {"timeout": 5, "max_retries": 1, **options}
    return ModelProfile(
        model="test-model",
        base_url=server.url,
        api_key_env="LOOPBACK_KEY",
        structured_output=method,
        **settings,
    )


def step(server: OpenAIServer, method: str = "json_schema", **options: Any) -> StepResult:
    retries = options.pop("max_invalid_retries", 2)
    return run_agent_step(
        ROLE,
        profile(server, method, **options),
        "Rate this brief: launch in the US.",
        step="triage",
        responder=OpenAIResponder(env=ENV),
        max_invalid_retries=retries,
    )


@pytest.mark.parametrize("method", ["json_schema", "function_calling", "json_mode"])
def test_each_structured_output_method_round_trips(server: OpenAIServer, method: str) -> None:
    server.reply(GOOD, step="triage")

    result = step(server, method)

    assert result.ok, result.reason
    assert result.output == GOOD
    assert result.confidence == 0.9
    assert result.calls == 1
    (call,) = server.calls
    assert call.method == method
    assert call.step == "triage"
    assert call.body["model"] == "test-model"
    assert "Risk Officer" in call.text and "Rate this brief" in call.text
    if method == "json_schema":
        sent = call.body["response_format"]["json_schema"]
        assert sent["strict"] is True
        assert set(sent["schema"]["required"]) == {
            "severity",
            "risks",
            "note",
            "confidence",
            "rationale",
        }
    if method == "function_calling":
        assert call.body["tools"][0]["function"]["name"] == "risk_officer"


@pytest.mark.parametrize("method", ["json_schema", "function_calling", "json_mode"])
def test_invalid_json_is_asked_again_with_the_error(server: OpenAIServer, method: str) -> None:
    server.reply('{"severity": "low", "risks": [', GOOD)

    result = step(server, method)

    assert result.ok, result.reason
    assert result.calls == 2
    assert len(server.calls) == 2
    retry = server.calls[1].text
    assert "Your previous answer was invalid" in retry
    assert "not valid JSON" in retry


@pytest.mark.parametrize("confidence", [1.7, math.inf, -0.2])
def test_out_of_range_confidence_is_retried(server: OpenAIServer, confidence: float) -> None:
    server.reply({**GOOD, "confidence": confidence}, GOOD)

    result = step(server)

    assert result.ok, result.reason
    assert result.calls == 2
    assert "confidence:" in server.calls[1].text


def test_output_still_invalid_after_the_retries_says_why(server: OpenAIServer) -> None:
    server.reply(*[{**GOOD, "severity": "extreme"}] * 2)

    result = step(server, max_invalid_retries=1)

    assert not result.ok
    assert result.output is None
    assert result.calls == 2
    assert result.reason == (
        "output still invalid after 2 attempts: severity: 'extreme' is not one of low, medium, high"
    )
    assert result.raw == {**GOOD, "severity": "extreme"}


def test_a_server_error_is_retried_by_the_client(server: OpenAIServer) -> None:
    server.reply(OpenAIServer.status(500), GOOD)

    result = step(server, "function_calling")

    assert result.ok, result.reason
    assert result.calls == 1  # one model call; the HTTP retry is the client's
    assert len(server.calls) == 2


@pytest.mark.parametrize(
    ("code", "phrase"), [(429, "Too Many Requests"), (500, "Internal Server Error")]
)
def test_persistent_http_errors_end_the_step_with_the_reason(
    server: OpenAIServer, code: int, phrase: str
) -> None:
    server.reply(*[OpenAIServer.status(code)] * 3)

    result = step(server, max_retries=2)

    assert not result.ok
    assert result.reason == (
        f"model call failed after 3 attempts: HTTP {code} from {server.url}: {phrase}"
    )
    assert len(server.calls) == 3  # max_retries=2: the first request and two retries


def test_a_client_error_is_not_retried(server: OpenAIServer) -> None:
    server.reply(OpenAIServer.status(400, "response_format json_schema is not supported"))

    result = step(server)

    assert result.reason == (
        f"model call failed after 1 attempt: HTTP 400 from {server.url}: "
        "response_format json_schema is not supported"
    )
    assert len(server.calls) == 1


def test_a_hanging_server_times_out(server: OpenAIServer) -> None:
    server.reply(OpenAIServer.hang(30), OpenAIServer.hang(30))

    result = step(server, timeout=1, max_retries=1)

    assert not result.ok
    assert result.reason == f"model call failed after 2 attempts: timed out after 1s ({server.url})"
    assert len(server.calls) == 2


def test_an_unreachable_server_is_a_clear_reason() -> None:
    with OpenAIServer() as gone:
        url = gone.url
    dead = ModelProfile(model="m", base_url=url, api_key_env="LOOPBACK_KEY", max_retries=0)

    result = run_agent_step(ROLE, dead, "task", step="triage", responder=OpenAIResponder(env=ENV))

    assert not result.ok
    assert result.reason is not None
    assert result.reason.startswith(
        f"model call failed after 1 attempt: could not connect to {url}"
    )
    assert "\n" not in result.reason


def test_a_missing_api_key_is_a_config_error_naming_the_variable(server: OpenAIServer) -> None:
    with pytest.raises(ConfigError) as caught:
        run_agent_step(
            ROLE, profile(server), "task", step="triage", responder=OpenAIResponder(env={})
        )

    assert str(caught.value) == (
        "LOOPBACK_KEY is not set (model 'test-model' needs it). Set LOOPBACK_KEY, or run offline "
        "from a cassette with `crew run --replay` (record one with `crew run --record`)."
    )
    assert server.calls == []


def test_require_api_keys_names_the_profile() -> None:
    profiles = {
        "default": ModelProfile(model="gpt-4.1-mini"),
        "local": ModelProfile(model="qwen", api_key_env="LOCAL_LLM_KEY"),
    }

    require_api_keys(profiles, env={"OPENAI_API_KEY": "k", "LOCAL_LLM_KEY": "k"})
    with pytest.raises(ConfigError, match=r"^LOCAL_LLM_KEY is not set \(model profile 'local'"):
        require_api_keys(profiles, env={"OPENAI_API_KEY": "k", "LOCAL_LLM_KEY": ""})
    with pytest.raises(ConfigError, match="crew run --replay"):
        require_api_keys(profiles, env={})


def test_a_refusal_ends_the_step_without_asking_again(server: OpenAIServer) -> None:
    server.reply(OpenAIServer.refusal("I can't rate this."))

    result = step(server)

    assert (
        result.reason == "model call failed after 1 attempt: the model refused: I can't rate this."
    )
    assert len(server.calls) == 1


def test_parallel_fan_out_items_share_one_responder() -> None:
    def by_market(body: dict[str, Any]) -> Any:
        market = body["messages"][1]["content"].rsplit(" ", 1)[-1].rstrip(".")
        return {**GOOD, "risks": [market]}

    responder = OpenAIResponder(env=ENV)
    markets = ["US", "EU", "JP", "BR"]
    with OpenAIServer(handler=by_market) as server, ThreadPoolExecutor(max_workers=4) as pool:
        results = list(
            pool.map(
                lambda i: run_agent_step(
                    ROLE,
                    profile(server),
                    f"Rate the launch in {markets[i]}.",
                    step="triage",
                    responder=responder,
                    item=i,
                    items=len(markets),
                ),
                range(len(markets)),
            )
        )

    assert [r.output["risks"] if r.output else r.reason for r in results] == [[m] for m in markets]


def test_the_reason_counts_the_requests_actually_made(server: OpenAIServer) -> None:
    # Two quick 503s, then the server says "don't retry": 3 requests, though 5 retries were allowed.
    server.reply(*[OpenAIServer.status(503, retry_after=0.01)] * 2)

    result = step(server, max_retries=5)

    assert result.reason is not None
    assert result.reason.startswith("model call failed after 3 attempts: HTTP 500 from")
    assert len(server.calls) == 3


def test_tool_arguments_that_stay_invalid_json_say_so(server: OpenAIServer) -> None:
    server.reply('{"severity": "low",', "{}}")

    result = step(server, "function_calling", max_invalid_retries=1)

    assert not result.ok
    assert result.reason == (
        "output still invalid after 2 attempts: the answer is not valid JSON "
        "(Extra data: line 1 column 3 (char 2))"
    )
    assert result.raw == "{}}"
