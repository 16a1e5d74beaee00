"""The public test doubles: ScriptedModel and OpenAIServer behave as their docs promise."""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

import crew
from crew.agents.responders import ModelCall, ModelFailure
from crew.exceptions import RunError
from crew.spec.models import ModelProfile, RoleSpec
from crew.testing import OpenAIServer, ScriptedModel

ROLE = RoleSpec.model_validate(
    {"name": "r", "title": "R", "goal": "g", "owner": "o", "output": {"x": {"type": "string"}}}
)


def call(step: str, **fields: Any) -> ModelCall:
    return ModelCall(
        step=step,
        role=ROLE,
        profile=ModelProfile(model="m"),
        messages=[{"role": "user", "content": "hi"}],
        schema={},
        **fields,
    )


def test_the_doubles_are_public() -> None:
    assert crew.ScriptedModel is ScriptedModel
    assert crew.OpenAIServer is OpenAIServer


def test_scripted_model_answers_in_order_and_records_calls() -> None:
    model = ScriptedModel(
        {
            "a": [{"x": "1"}, "raw text", TimeoutError("timed out after 1s")],
            "b": lambda c: {"x": f"item {c.item}"},
        }
    )

    assert model.respond(call("a")) == {"x": "1"}
    assert model.respond(call("b", item=4)) == {"x": "item 4"}
    assert model.respond(call("a")) == "raw text"
    with pytest.raises(ModelFailure, match=r"^timed out after 1s$"):
        model.respond(call("a"))
    assert [c.step for c in model.calls] == ["a", "b", "a", "a"]


def test_scripted_model_says_when_the_script_runs_out() -> None:
    model = ScriptedModel({"a": [{"x": "1"}]})
    model.respond(call("a"))

    with pytest.raises(
        RunError, match=r"no answer left for step 'a': call 2, but the script has 1"
    ):
        model.respond(call("a"))
    with pytest.raises(RunError, match=r"no script for step 'zzz' \(scripted steps: a\)"):
        model.respond(call("zzz"))


def test_scripted_model_hands_out_each_answer_once_across_threads() -> None:
    model = ScriptedModel({"a": [{"x": str(i)} for i in range(50)]})

    with ThreadPoolExecutor(max_workers=8) as pool:
        answers = list(pool.map(lambda _: model.respond(call("a"))["x"], range(50)))

    assert sorted(answers, key=int) == [str(i) for i in range(50)]


def post(url: str, body: dict[str, Any]) -> tuple[int, dict[str, str], dict[str, Any]]:
    request = urllib.request.Request(
        f"{url}/chat/completions",
        data=json.dumps(body).encode(),
        headers={"content-type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, dict(response.headers), json.load(response)
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), json.load(error)


def messages(step: str) -> list[dict[str, str]]:
    return [
        {"role": "system", "content": f"You are R.\n\ncrew step: {step}"},
        {"role": "user", "content": "Do it."},
    ]


def test_server_answers_in_the_shape_of_the_request() -> None:
    with OpenAIServer() as server:
        server.reply({"x": "content"}, '{"x": "tool"}')
        assert server.url.startswith("http://127.0.0.1:") and server.url.endswith("/v1")

        status, _, plain = post(server.url, {"model": "m", "messages": messages("a")})
        tool = {"type": "function", "function": {"name": "r", "parameters": {}}}
        _, _, called = post(
            server.url,
            {
                "model": "m",
                "messages": messages("b"),
                "tools": [tool],
                "tool_choice": {"type": "function", "function": {"name": "r"}},
            },
        )

    assert status == 200
    assert json.loads(plain["choices"][0]["message"]["content"]) == {"x": "content"}
    assert plain["choices"][0]["finish_reason"] == "stop"
    (tool_call,) = called["choices"][0]["message"]["tool_calls"]
    assert tool_call["function"] == {"name": "r", "arguments": '{"x": "tool"}'}
    assert [c.step for c in server.calls] == ["a", "b"]
    assert [c.method for c in server.calls] == ["json_mode", "function_calling"]
    assert all(c.end is not None and c.end >= c.start for c in server.calls)
    assert [c.status for c in server.calls] == [200, 200]


def test_server_queues_per_step_before_global_then_handler() -> None:
    with OpenAIServer(handler=lambda body: {"from": "handler"}) as server:
        server.reply({"from": "global"})
        server.reply({"from": "draft"}, step="draft")

        answers = [
            json.loads(
                post(server.url, {"messages": messages(step)})[2]["choices"][0]["message"][
                    "content"
                ]
            )
            for step in ("research", "draft", "draft")
        ]

    assert answers == [{"from": "global"}, {"from": "draft"}, {"from": "handler"}]
    assert [c.step for c in server.calls] == ["research", "draft", "draft"]


def test_server_status_replies_and_the_unscripted_case() -> None:
    with OpenAIServer() as server:
        server.reply(OpenAIServer.status(429, "slow down", retry_after=0.25))
        status, headers, body = post(server.url, {"messages": messages("a")})
        unscripted = post(server.url, {"messages": messages("a")})

    assert (status, body["error"]["message"]) == (429, "slow down")
    assert headers["retry-after-ms"] == "250"
    assert unscripted[0] == 500
    assert unscripted[1]["x-should-retry"] == "false"
    assert "no scripted reply left (step 'a')" in unscripted[2]["error"]["message"]


def test_server_serves_requests_in_parallel() -> None:
    both_inside = threading.Barrier(2, timeout=10)

    def meet(body: dict[str, Any]) -> Any:
        both_inside.wait()  # breaks (and the test fails) unless two requests are served at once
        return {"ok": True}

    with OpenAIServer(handler=meet) as server, ThreadPoolExecutor(max_workers=2) as pool:
        results = list(pool.map(lambda _: post(server.url, {"messages": []})[0], range(2)))

    assert results == [200, 200]


def test_a_fleet_connecting_at_once_is_served_without_resets() -> None:
    # A fleet of workers opens a connection per slot at once (4 workers x 32 in bench/
    # throughput.py): with socketserver's listen backlog of 5, most of them were reset and the
    # clients' retries cost seconds.
    clients = 200
    together = threading.Barrier(clients, timeout=30)

    def connect_then_post(_: int) -> tuple[int, float]:
        together.wait()
        started = time.monotonic()
        return post(server_url, {"messages": []})[0], time.monotonic() - started

    with OpenAIServer(handler=lambda body: OpenAIServer.hang(0.2, {"ok": True})) as server:
        server_url = server.url
        with ThreadPoolExecutor(max_workers=clients) as pool:
            results = list(pool.map(connect_then_post, range(clients)))

    assert [status for status, _ in results] == [200] * clients
    assert max(seconds for _, seconds in results) < 3  # no connection waited on a resend


def test_a_hang_ends_when_the_server_closes() -> None:
    arrived = threading.Event()

    def hang(body: dict[str, Any]) -> Any:
        arrived.set()
        return OpenAIServer.hang(600)

    server = OpenAIServer(handler=hang)
    server.start()
    with ThreadPoolExecutor(max_workers=1) as pool:
        pending = pool.submit(post, server.url, {"messages": messages("a")})
        assert arrived.wait(10)
        server.close()
        status, _, _ = pending.result(timeout=30)

    assert status == 503


def test_the_readme_example_runs() -> None:
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    section = readme.split("## Models, cassettes and testing", 1)[1]
    code = section.split("```python\n", 1)[1].split("```", 1)[0]

    exec(compile(code, "README.md", "exec"), {})


def test_a_broken_script_is_reported_to_the_client() -> None:
    def broken(body: dict[str, Any]) -> Any:
        raise KeyError("nope")

    with OpenAIServer(handler=broken) as server:
        server.reply({"not": {"serialisable": {1, 2}}})
        first = post(server.url, {"messages": []})
        second = post(server.url, {"messages": []})

    assert first[0] == second[0] == 500
    assert first[2]["error"]["message"].startswith("OpenAIServer script failed: TypeError(")
    assert second[2]["error"]["message"] == "OpenAIServer script failed: KeyError('nope')"
    assert second[1]["x-should-retry"] == "false"
