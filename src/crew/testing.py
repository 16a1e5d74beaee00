"""Public test doubles: `ScriptedModel` (a responder) and `OpenAIServer` (a loopback HTTP model).

`ScriptedModel` stands in for the model inside crew: it answers each step from a script, no HTTP.

    model = ScriptedModel({
        "research": [{"summary": "...", "confidence": 0.9, "rationale": "..."}],
        "draft": lambda call: {"brief": f"v{call.revision}", "confidence": 0.8, "rationale": ""},
    })

`OpenAIServer` is an OpenAI-compatible server on 127.0.0.1 for tests that go through the real
langchain-openai client and its HTTP stack. It answers `POST /v1/chat/completions` in the wire
shape of the request's structured-output method (a tool call when the request has `tools`, message
content otherwise), from replies scripted per step, globally, or by a function:

    with OpenAIServer() as server:
        server.reply({"summary": "..."}, step="research")        # the structured output
        server.reply("{not json", OpenAIServer.status(500), OpenAIServer.hang(5))
        profile = ModelProfile(model="test", base_url=server.url, timeout=1, max_retries=1)
        responder = OpenAIResponder(env={"OPENAI_API_KEY": "test"})  # any key will do
        ...
        assert server.calls[0].step == "research"

A request's step is read from the `crew step: <id>` line crew puts in its system message.
"""

from __future__ import annotations

import itertools
import json
import re
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Self

from crew.agents.responders import ModelCall, ModelFailure, ModelReply, ToolRequest
from crew.exceptions import RunError

__all__ = [
    "OpenAIServer",
    "Reply",
    "ScriptedModel",
    "ServerCall",
    "step_of",
    "tool_calls",
    "tool_results",
]

Script = Sequence[Any] | Callable[[ModelCall], Any]


def tool_calls(*calls: tuple[str, Any]) -> ModelReply:
    """A scripted model turn that asks for tool calls instead of answering:
    ``tool_calls(("lookup_ticket", {"id": 7}), ("search_docs", {"query": "refunds"}))``.
    Each call gets an id of its own (``call_1``, ``call_2``, ... in this process), as a model's
    calls do."""
    return ModelReply(
        None,
        tool_calls=tuple(
            ToolRequest(f"call_{next(_call_ids)}", name, arguments) for name, arguments in calls
        ),
    )


_call_ids = itertools.count(1)


def tool_results(call: ModelCall) -> list[str]:
    """The tool results a model turn was given (the contents of its `tool` messages), in
    order: what a scripted answer may look at."""
    return [str(m.get("content")) for m in call.messages if m.get("role") == "tool"]


class ScriptedModel:
    """A responder that answers each step from a script; records every call in `calls`.

    Per step: a list of answers used in call order (an `Exception` in the list is raised as a
    `ModelFailure`), or a function of the `ModelCall`. A step with no script, or with no answer
    left, raises `crew.exceptions.RunError` naming the step. Thread-safe; for parallel fan-out
    items, script with a function of `call.item` to get answers independent of timing.
    """

    def __init__(self, script: Mapping[str, Script]) -> None:
        self._script = dict(script)
        self._used: dict[str, int] = {}
        self._lock = threading.Lock()
        self.calls: list[ModelCall] = []

    def respond(self, call: ModelCall) -> Any:
        with self._lock:
            self.calls.append(call)
            script = self._script.get(call.step)
            if script is None:
                steps = ", ".join(sorted(self._script)) or "none"
                raise RunError(
                    f"ScriptedModel has no script for step '{call.step}' (scripted steps: {steps})."
                )
            if callable(script):
                answer = script
            else:
                used = self._used.get(call.step, 0)
                if used >= len(script):
                    raise RunError(
                        f"ScriptedModel has no answer left for step '{call.step}': call "
                        f"{used + 1}, but the script has {len(script)}."
                    )
                self._used[call.step] = used + 1
                answer = script[used]
        if callable(answer):
            answer = answer(call)
        if isinstance(answer, ModelFailure):
            raise answer
        if isinstance(answer, Exception):
            raise ModelFailure(str(answer) or type(answer).__name__)
        return answer


@dataclass(frozen=True)
class _Status:
    code: int
    message: str
    retry_after: float | None = None
    retry: bool | None = None  # sent as x-should-retry when set


@dataclass(frozen=True)
class _Refusal:
    text: str


@dataclass(frozen=True)
class _ToolCalls:
    calls: tuple[tuple[str, Any], ...]


@dataclass(frozen=True)
class _Hang:
    seconds: float
    then: Any


Reply = Any
"""A scripted reply: a dict (the structured output), a str (raw text, e.g. invalid JSON),
`OpenAIServer.status(...)`, `OpenAIServer.hang(...)` or `OpenAIServer.refusal(...)`."""


@dataclass
class ServerCall:
    """One request the server received: when, what, for which step, and what it answered."""

    start: float
    body: dict[str, Any]
    step: str | None
    end: float | None = None
    status: int | None = None
    reply: Any = None
    connection: int = 0
    """The client's port: calls with the same one came over one kept-alive connection."""

    @property
    def method(self) -> str:
        """The request's structured-output method: function_calling, json_schema or json_mode."""
        if self.body.get("tools"):
            return "function_calling"
        kind = (self.body.get("response_format") or {}).get("type")
        return "json_schema" if kind == "json_schema" else "json_mode"

    @property
    def text(self) -> str:
        """Every message's content, joined: what the model was asked."""
        return "\n".join(str(m.get("content") or "") for m in self.body.get("messages", []))


_STEP = re.compile(r"crew step: (\S+)")


class _Server(ThreadingHTTPServer):
    """A thread per connection. The listen backlog is socketserver's 5 by default: a fleet of
    workers opening a hundred connections at once would have most of them reset."""

    daemon_threads = True
    request_queue_size = 1024


class OpenAIServer:
    """An OpenAI-compatible chat-completions server on 127.0.0.1, scripted per request.

    Use as a context manager; `url` is the `base_url` for a model profile. Replies are taken from
    the step's queue (`reply(..., step=...)`), then the global queue, then `handler(body)`; with
    none of these the request gets HTTP 500 saying so (and the client is told not to retry).
    Requests are served on parallel threads, so concurrent calls overlap.

    Every completion reports its `usage`: `prompt_tokens` and `completion_tokens` are the words
    of the request's messages and of the answer, or the fixed `usage=(prompt, completion)`.
    """

    def __init__(
        self,
        handler: Callable[[dict[str, Any]], Reply] | None = None,
        *,
        usage: tuple[int, int] | None = None,
    ) -> None:
        self.handler = handler
        self.usage = usage
        self.calls: list[ServerCall] = []
        self._queues: dict[str | None, deque[Reply]] = {}
        self._lock = threading.Lock()
        self._closing = threading.Event()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @staticmethod
    def status(
        code: int, message: str = "", *, retry_after: float | None = None, retry: bool | None = None
    ) -> Reply:
        """An HTTP error reply. `retry_after` (seconds) is sent as `retry-after-ms`; `retry` as
        `x-should-retry`, which the openai client obeys over its own rules."""
        return _Status(code, message or HTTPStatus(code).phrase, retry_after, retry)

    @staticmethod
    def hang(seconds: float, then: Reply = None) -> Reply:
        """Wait `seconds` before answering (`then`, or HTTP 504), to make the client time out."""
        return _Hang(seconds, then)

    @staticmethod
    def refusal(text: str = "I can't help with that.") -> Reply:
        """A refusal: the assistant message carries `refusal` instead of an answer."""
        return _Refusal(text)

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("OpenAIServer is not started; use it as a context manager")
        return f"http://127.0.0.1:{self._server.server_address[1]}/v1"

    @staticmethod
    def tool_calls(*calls: tuple[str, Any]) -> Reply:
        """A reply that calls tools: ``OpenAIServer.tool_calls(("lookup", {"id": 7}))`` (the
        arguments may be a str, sent as is: e.g. invalid JSON)."""
        return _ToolCalls(tuple(calls))

    def reply(self, *replies: Reply, step: str | None = None) -> None:
        """Queue replies, used in order: for requests of `step`, or for any request."""
        with self._lock:
            self._queues.setdefault(step, deque()).extend(replies)

    def calls_for(self, step: str) -> list[ServerCall]:
        with self._lock:
            return [call for call in self.calls if call.step == step]

    def start(self) -> None:
        server = _Server(("127.0.0.1", 0), _handler_class(self))
        self._server = server
        # A short poll interval: shutdown() waits for it, and tests open many servers.
        self._thread = threading.Thread(
            target=server.serve_forever, args=(0.05,), name="OpenAIServer", daemon=True
        )
        self._thread.start()

    def close(self) -> None:
        self._closing.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join()

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    # -- serving -------------------------------------------------------------------------------

    def _next_reply(self, body: dict[str, Any], step: str | None) -> Reply:
        with self._lock:
            for key in (step, None):
                queue = self._queues.get(key)
                if key in self._queues and queue:
                    return queue.popleft()
        if self.handler is not None:
            return self.handler(body)
        return _Status(500, f"OpenAIServer has no scripted reply left (step {step!r})", retry=False)

    def _serve(
        self, body: dict[str, Any], connection: int = 0
    ) -> tuple[int, dict[str, str], bytes, ServerCall]:
        step = step_of(body)
        call = ServerCall(start=time.monotonic(), body=body, step=step, connection=connection)
        with self._lock:
            self.calls.append(call)
        try:
            reply = self._next_reply(body, step)
            call.reply = reply
            if isinstance(reply, _Hang):
                if self._closing.wait(reply.seconds):
                    reply = _Status(503, "OpenAIServer is shutting down")
                else:
                    reply = reply.then if reply.then is not None else _Status(504, "hung")
            if not isinstance(reply, _Status):
                completion = _completion(body, reply)
                completion["usage"] = _usage(body, completion, self.usage)
                return 200, {}, json.dumps(completion).encode(), call
        except Exception as error:  # a broken script: tell the test, don't drop the connection
            reply = _Status(500, f"OpenAIServer script failed: {error!r}", retry=False)
        headers: dict[str, str] = {}
        if reply.retry is not None:
            headers["x-should-retry"] = "true" if reply.retry else "false"
        if reply.retry_after is not None:
            headers["retry-after-ms"] = str(int(reply.retry_after * 1000))
        error_body = {"error": {"message": reply.message, "type": "server_error", "code": None}}
        return reply.code, headers, json.dumps(error_body).encode(), call


def step_of(body: Mapping[str, Any]) -> str | None:
    """The step a chat-completions request body is for (its `crew step: <id>` line), or None:
    what a handler of `OpenAIServer` needs to answer per step."""
    for message in body.get("messages", []):
        match = _STEP.search(str(message.get("content") or ""))
        if match:
            return match.group(1)
    return None


def _completion(body: Mapping[str, Any], reply: Reply) -> dict[str, Any]:
    tools: Iterable[Mapping[str, Any]] = body.get("tools") or []
    if isinstance(reply, _Refusal):
        return _envelope(
            body, {"role": "assistant", "content": None, "refusal": reply.text}, "stop"
        )
    if isinstance(reply, _ToolCalls):
        calls = [
            {
                "id": f"call_{index}_{time.monotonic_ns()}",
                "type": "function",
                "function": {
                    "name": name,
                    "arguments": arguments if isinstance(arguments, str) else json.dumps(arguments),
                },
            }
            for index, (name, arguments) in enumerate(reply.calls)
        ]
        message = {"role": "assistant", "content": None, "tool_calls": calls}
        return _envelope(body, message, "tool_calls")
    text = reply if isinstance(reply, str) else json.dumps(reply)
    message = {"role": "assistant", "content": text}
    finish = "stop"
    if tools and not body.get("response_format"):
        # The structured output as a tool call: the one `tool_choice` names, else the last
        # tool (crew offers a role's output as the last tool, after the role's own tools).
        choice = body.get("tool_choice")
        name = None
        if isinstance(choice, dict):
            name = choice.get("function", {}).get("name")
        name = name or list(tools)[-1]["function"]["name"]
        message = {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": f"call_{time.monotonic_ns()}",
                    "type": "function",
                    "function": {"name": name, "arguments": text},
                }
            ],
        }
        finish = "tool_calls"
    return _envelope(body, message, finish)


def _usage(
    body: Mapping[str, Any], completion: Mapping[str, Any], fixed: tuple[int, int] | None
) -> dict[str, int]:
    """A completion's token counts: `fixed`, else the words asked and the words answered."""
    if fixed is not None:
        prompt, answered = fixed
    else:
        asked = " ".join(str(m.get("content") or "") for m in body.get("messages") or [])
        message = completion["choices"][0]["message"]
        said = [str(message.get("content") or "")]
        said += [c["function"]["arguments"] for c in message.get("tool_calls") or []]
        prompt, answered = len(asked.split()), len(" ".join(said).split())
    return {
        "prompt_tokens": prompt,
        "completion_tokens": answered,
        "total_tokens": prompt + answered,
    }


def _envelope(body: Mapping[str, Any], message: dict[str, Any], finish: str) -> dict[str, Any]:
    return {
        "id": f"chatcmpl-{time.monotonic_ns()}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": body.get("model", "test"),
        "choices": [{"index": 0, "message": message, "finish_reason": finish, "logprobs": None}],
        "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
    }


def _handler_class(owner: OpenAIServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        # The headers and the body go out in two writes: with Nagle's algorithm on, the body
        # waits for the client's delayed ACK of the headers, 40 ms on Linux, on every reply of
        # a kept-alive connection.
        disable_nagle_algorithm = True

        def do_POST(self) -> None:
            length = int(self.headers.get("content-length") or 0)
            try:
                body = json.loads(self.rfile.read(length) or b"{}")
            except json.JSONDecodeError:
                body = {}
            if not self.path.rstrip("/").endswith("/chat/completions"):
                self._send(404, {}, b'{"error": {"message": "not found"}}')
                return
            status, headers, payload, call = owner._serve(body, self.client_address[1])
            try:
                self._send(status, headers, payload)
            except OSError:
                pass  # the client gave up (timed out) while we hung
            finally:
                call.status = status
                call.end = time.monotonic()

        def _send(self, status: int, headers: Mapping[str, str], payload: bytes) -> None:
            self.send_response(status)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(payload)))
            for name, value in headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, format: str, *args: Any) -> None:
            pass  # keep test output clean; `OpenAIServer.calls` is the log

    return Handler
