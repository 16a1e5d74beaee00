"""Model calls: the `Responder` extension interface and its live implementation.

A responder answers one `ModelCall` (the prompt of one agent step, plus where the call sits in the
run) with the model's raw structured answer. It is the one seam between crew and a model, like an
httpx transport:

    OpenAIResponder      live calls through langchain-openai `ChatOpenAI` (this module)
    CassetteReplay       answers from `playbooks/<name>.cassette.yaml` (crew.agents.cassettes)
    CassetteRecorder     wraps another responder and writes the cassette (crew.agents.cassettes)
    ScriptedModel        a scripted test double (crew.testing)

`respond` returns the answer as decoded JSON (usually a dict), or the raw text when the model's
answer was not JSON; crew validates it afterwards (crew.agents.outputs). A call that fails after the
transport's own retries raises `ModelFailure` with a one-line reason.

LangChain and openai load on the first live call, never at import.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from crew.agents.outputs import InvalidOutput, parse_answer
from crew.exceptions import ConfigError
from crew.spec.models import ModelProfile, RoleSpec

if TYPE_CHECKING:
    from langchain_core.runnables import Runnable

__all__ = [
    "ModelCall",
    "ModelFailure",
    "ModelReply",
    "OpenAIResponder",
    "Responder",
    "ToolRequest",
    "require_api_keys",
]


@dataclass(frozen=True)
class ModelCall:
    """One model call of one agent step: what to ask, and where the call sits in the run.

    `(step, item, items, revision, attempt, sample)` identify the call, so a cassette can place it
    without depending on the order in which parallel fan-out items happen to run. `max_attempts` is
    1 + the step's invalid-output retries; `sample`/`samples` number the calls of a step sampled
    several times (the `consistency` confidence method). A judge's call uses the step id
    `<step>.judge`, so its answers never mix with the step's own.

    A role with tools gets `tools` (OpenAI tool definitions) and may answer with tool calls
    instead of its output; `turn` numbers the model turns of one execution (0, 1, ...: each
    turn after the first sees the results of the calls before it in `messages`).
    """

    step: str
    role: RoleSpec
    profile: ModelProfile
    messages: list[dict[str, Any]]
    schema: dict[str, Any]
    item: int | None = None
    items: int | None = None
    revision: int = 0
    attempt: int = 0
    max_attempts: int = 3
    sample: int = 0
    samples: int = 1
    tools: tuple[dict[str, Any], ...] = ()
    turn: int = 0


@dataclass(frozen=True)
class ToolRequest:
    """One tool call a model turn asks for. `arguments` is what the model sent: a dict, or
    the raw text when it was not a JSON object (the call then fails with that, to the model).

    `recorded` is set by a responder that replays a cassette: the result the call had when it
    was recorded, used instead of running the tool (`--replay` executes no tool)."""

    id: str
    name: str
    arguments: Any
    recorded: str | None = None


@dataclass(frozen=True)
class ModelReply:
    """An answer with the tokens the call used, as the response reported them.

    A responder may return this instead of the bare answer so its token counts are recorded on
    the step's card (DESIGN §7 "Usage"); a bare answer counts as a call with no tokens (e.g. a
    cassette replay). `ScriptedModel` scripts may use it to report usage.
    """

    answer: Any
    input_tokens: int = 0
    output_tokens: int = 0
    tool_calls: tuple[ToolRequest, ...] = ()
    """The tools the model asked to call this turn (then `answer` is None: no output yet)."""


class ModelFailure(Exception):
    """The model call failed after the transport's own retries.

    `reason` is one line ("HTTP 429 from http://…/v1: rate limited"); `attempts` how many HTTP
    requests were made for it (1 + retries for transient errors).
    """

    def __init__(self, reason: str, *, attempts: int = 1) -> None:
        super().__init__(reason)
        self.reason = reason
        self.attempts = attempts


class Responder(Protocol):
    """Answers model calls. Implementations must be safe to call from several threads."""

    def respond(self, call: ModelCall) -> Any:
        """The raw structured answer (usually a dict), or a `ModelReply` carrying it with its
        token counts; raise `ModelFailure(reason)` on failure."""
        ...


def require_api_keys(
    profiles: Mapping[str, ModelProfile], env: Mapping[str, str] | None = None
) -> None:
    """Raise `ConfigError` naming the first profile whose API key env var is unset or empty."""
    env = os.environ if env is None else env
    for name, profile in profiles.items():
        if not env.get(profile.api_key_env):
            raise _missing_key(profile.api_key_env, f"model profile '{name}'")


def _missing_key(variable: str, needed_by: str) -> ConfigError:
    return ConfigError(
        f"{variable} is not set ({needed_by} needs it).",
        hint=(
            f"Set {variable}, or run offline from a cassette with `crew run --replay` "
            "(record one with `crew run --record`)."
        ),
    )


class OpenAIResponder:
    """Live model calls through langchain-openai `ChatOpenAI`, one client per profile.

    The profile's `timeout` bounds each HTTP request and `max_retries` retries 408/409/429/5xx,
    timeouts and connection errors with the openai client's exponential backoff (honouring
    `Retry-After`). Structured output uses the profile's `structured_output` method.
    """

    def __init__(self, env: Mapping[str, str] | None = None) -> None:
        self._env = env
        self._lock = threading.Lock()
        # One ChatOpenAI (one HTTP connection pool) per profile and key; one runnable per schema.
        self._models: dict[tuple[ModelProfile, str], Any] = {}
        self._runnables: dict[tuple[ModelProfile, str, str], Runnable[Any, Any]] = {}

    def prepare(self, profiles: Iterable[ModelProfile]) -> None:
        """Load LangChain and make the clients of `profiles` (those whose key is set) now,
        not on the first call: a worker does it before it takes runs, so its first runs do not
        wait on the imports."""
        for profile in profiles:
            key = self._key(profile)
            if key:
                with self._lock:
                    self._model(profile, key)

    def respond(self, call: ModelCall) -> Any:
        profile = call.profile
        runnable = self._runnable(profile, call.schema, call.tools)
        try:
            result = runnable.invoke(call.messages)
        except Exception as error:
            raise _failure(error, profile) from None
        if call.tools:
            return _tool_turn(result, call.schema)
        return ModelReply(_answer(result), *_tokens(result))

    def _runnable(
        self,
        profile: ModelProfile,
        schema: dict[str, Any],
        tools: tuple[dict[str, Any], ...] = (),
    ) -> Runnable[Any, Any]:
        key = self._key(profile)
        if not key:
            raise _missing_key(profile.api_key_env, f"model '{profile.model}'")
        runnable_key = (profile, key, json.dumps([schema, tools], sort_keys=True))
        with self._lock:
            runnable = self._runnables.get(runnable_key)
            if runnable is None:
                model = self._model(profile, key)
                if tools:
                    runnable = _with_tools(model, profile, schema, tools)
                else:
                    runnable = _structured(model, profile, schema)
                self._runnables[runnable_key] = runnable
            return runnable

    def _key(self, profile: ModelProfile) -> str:
        """The profile's API key from the environment ('' when unset)."""
        env = os.environ if self._env is None else self._env
        return env.get(profile.api_key_env) or ""

    def _model(self, profile: ModelProfile, key: str) -> Any:
        """The profile's one `ChatOpenAI` for `key`, made on first use (under `_lock`)."""
        model = self._models.get((profile, key))
        if model is None:
            model = self._models[(profile, key)] = _chat_model(profile, key)
        return model


def _chat_model(profile: ModelProfile, api_key: str) -> Any:
    from langchain_openai import ChatOpenAI
    from pydantic import SecretStr

    options: dict[str, Any] = {
        "model": profile.model,
        "api_key": SecretStr(api_key),
        "timeout": profile.timeout,
        "max_retries": profile.max_retries,
    }
    if profile.base_url:
        options["base_url"] = profile.base_url
    if profile.temperature is not None:
        options["temperature"] = profile.temperature
    return ChatOpenAI(**options)


def _structured(model: Any, profile: ModelProfile, schema: dict[str, Any]) -> Runnable[Any, Any]:
    """The model bound to answer in the role's schema, the way `with_structured_output` binds
    it, but without its parser: crew reads the raw message itself (`_answer`), and the parser's
    `include_raw` branch runs in a thread pool that starts threads on every call (most of the
    client's CPU per call)."""
    method = profile.structured_output.value
    name = schema.get("title") or "output"
    parameters = {k: v for k, v in schema.items() if k not in ("title", "description")}
    runnable: Runnable[Any, Any]
    if method == "function_calling":
        # Non-strict: many OpenAI-compatible servers reject or ignore `strict` on tools.
        tool = {
            "type": "function",
            "function": {
                "name": name,
                "description": schema.get("description") or "",
                "parameters": parameters,
            },
        }
        runnable = model.bind_tools([tool], tool_choice=name, parallel_tool_calls=False)
    elif method == "json_mode":
        runnable = model.bind(response_format={"type": "json_object"})
    else:
        # Strict json_schema makes OpenAI enforce the schema; crew validates either way.
        json_schema = {"name": name, "schema": parameters, "strict": True}
        if schema.get("description"):
            json_schema["description"] = schema["description"]
        runnable = model.bind(response_format={"type": "json_schema", "json_schema": json_schema})
    return runnable


def _with_tools(
    model: Any, profile: ModelProfile, schema: dict[str, Any], tools: tuple[dict[str, Any], ...]
) -> Runnable[Any, Any]:
    """The model with the role's tools bound, and its output offered as one more tool, last,
    with a tool call required: calling that one is the answer (LangChain's "tool strategy").

    Whatever the profile's `structured_output`: OpenAI's Chat Completions API takes tools beside
    a `response_format` only when every tool is strict, and a tool's optional arguments do not
    fit strict schemas. crew validates the answer either way."""
    output_tool = {
        "type": "function",
        "function": {
            "name": schema.get("title") or "output",
            "description": f"Give your final answer. {schema.get('description') or ''}".strip(),
            "parameters": {k: v for k, v in schema.items() if k not in ("title", "description")},
        },
    }
    runnable: Runnable[Any, Any] = model.bind_tools(
        [*tools, output_tool], tool_choice="required", strict=False
    )
    return runnable


def _tool_turn(message: Any, schema: dict[str, Any]) -> ModelReply:
    """A model turn with tools bound: the tool calls it asks for, or its answer."""
    tokens = _tokens(message)
    output_name = schema.get("title") or "output"
    calls = []
    for index, request in enumerate(getattr(message, "tool_calls", None) or []):
        if request.get("name") == output_name:  # function_calling: the answer is this call
            return ModelReply(request.get("args"), *tokens)
        calls.append(
            ToolRequest(str(request.get("id") or f"call_{index}"), request["name"], request["args"])
        )
    for index, bad in enumerate(getattr(message, "invalid_tool_calls", None) or []):
        if bad.get("name") == output_name:
            return ModelReply(str(bad.get("args") or ""), *tokens)
        calls.append(
            ToolRequest(
                str(bad.get("id") or f"invalid_{index}"),
                str(bad.get("name") or "?"),
                str(bad.get("args") or ""),
            )
        )
    if calls:
        return ModelReply(None, *tokens, tool_calls=tuple(calls))
    return ModelReply(_answer({"raw": message}), *tokens)


def _answer(result: Any) -> Any:
    """The decoded answer in the raw message of `with_structured_output(..., include_raw=True)`.

    LangChain's own parse is ignored on purpose: its JSON parser is lenient (`{bad` parses as
    `{}`), which would hide the real problem from the validation message fed back to the model.
    Text that is not JSON is returned as is, for validation to report; a refusal is a failure.
    """
    raw = result.get("raw") if isinstance(result, dict) else result
    refusal = (getattr(raw, "additional_kwargs", None) or {}).get("refusal")
    if refusal:
        # Asking again rarely changes a refusal; a person should look at it.
        raise ModelFailure(f"the model refused: {_one_line(str(refusal))}")
    tool_calls = getattr(raw, "tool_calls", None) or []
    if tool_calls:
        return tool_calls[0].get("args")
    invalid = getattr(raw, "invalid_tool_calls", None) or []
    if invalid:
        return str(invalid[0].get("args") or "")
    content = getattr(raw, "content", "")
    text = content if isinstance(content, str) else json.dumps(content)
    try:
        return parse_answer(text)
    except InvalidOutput:
        return text


def _tokens(result: Any) -> tuple[int, int]:
    """(input, output) tokens from the raw message's `usage_metadata` (0 when not reported)."""
    raw = result.get("raw") if isinstance(result, dict) else result
    usage = getattr(raw, "usage_metadata", None) or {}
    return int(usage.get("input_tokens") or 0), int(usage.get("output_tokens") or 0)


def _failure(error: Exception, profile: ModelProfile) -> ModelFailure:
    import openai

    where = profile.base_url or "https://api.openai.com/v1"
    attempts = _attempts(error)
    if isinstance(error, openai.APITimeoutError):
        return ModelFailure(f"timed out after {profile.timeout:g}s ({where})", attempts=attempts)
    if isinstance(error, openai.APIConnectionError):
        return ModelFailure(
            f"could not connect to {where}: {_root_cause(error)}", attempts=attempts
        )
    if isinstance(error, openai.APIStatusError):
        message = _status_message(error)
        return ModelFailure(f"HTTP {error.status_code} from {where}: {message}", attempts=attempts)
    if isinstance(error, openai.LengthFinishReasonError):
        return ModelFailure("the answer was cut off at the model's output token limit")
    return ModelFailure(f"{type(error).__name__}: {_one_line(str(error))}")


def _attempts(error: Exception) -> int:
    """How many HTTP requests the openai client made: it numbers its retries in a header."""
    request = getattr(error, "request", None)
    headers = getattr(request, "headers", None) or {}
    try:
        return int(headers.get("x-stainless-retry-count", 0)) + 1
    except (TypeError, ValueError):
        return 1


def _root_cause(error: BaseException) -> str:
    """The innermost cause's message (e.g. `[Errno 111] Connection refused`), not the wrappers'."""
    while error.__cause__ is not None or error.__context__ is not None:
        error = error.__cause__ or error.__context__  # type: ignore[assignment]
    return _one_line(str(error)) or type(error).__name__


def _status_message(error: Any) -> str:
    body = error.body
    if isinstance(body, dict):
        inner = body.get("error", body)
        message = inner.get("message") if isinstance(inner, dict) else inner
        if message:
            return _one_line(str(message))
    if isinstance(body, str) and body.strip():
        return _one_line(body)
    return _one_line(str(error.message))


def _one_line(text: str, limit: int = 200) -> str:
    line = " ".join(text.split())
    return line if len(line) <= limit else line[: limit - 1] + "…"
