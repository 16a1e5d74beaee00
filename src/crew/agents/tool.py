"""One tool of a role: what its model is told and how it runs (DESIGN §7).

What a caller may rely on:

- `Tool.definition` is the OpenAI tool definition the model is given (name, description, the
  arguments' JSON Schema: from a Python tool's signature through langchain-core, or an MCP
  server's own).
- `Tool.check(arguments)` returns why the arguments do not fit the schema, or None.
- `Tool.call(arguments, call)` runs the tool once, bounded by its `timeout`, and returns a
  `ToolResult`: the JSON text the model is given, or the error (type and message) when the
  tool raised, timed out or returned something that is not JSON-serialisable. It never
  raises. A tool that times out keeps running in its thread (Python cannot stop a thread);
  its result is dropped.
- `json_schema_problems(schema, arguments)` says why arguments do not fit a JSON Schema.

`crew.agents.toolbox` builds the tools of a role (Python and MCP) and re-exports these.
"""

from __future__ import annotations

import concurrent.futures
import json
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from crew.spec.models import ToolSpec
from crew.types import ToolCall

__all__ = ["CallFailed", "Tool", "ToolResult", "call_bounded", "json_schema_problems"]


@dataclass(frozen=True)
class ToolResult:
    """What one call of a tool came to: `content` is what the model is told."""

    content: str
    error: str | None = None
    """`Type: message` when the call failed (raised, timed out, unserialisable result)."""

    @classmethod
    def failed(cls, error: str) -> ToolResult:
        return cls(f"Error: {error}", error)


@dataclass(frozen=True)
class Tool:
    """One tool of a role: its registry entry, what the model is told, and how to run it."""

    name: str
    spec: ToolSpec
    description: str
    schema: dict[str, Any]
    """The JSON Schema of the arguments."""
    runner: Callable[[dict[str, Any], ToolCall], Any]
    validator: Callable[[dict[str, Any]], str | None]

    @property
    def definition(self) -> dict[str, Any]:
        return {
            "type": "function",
            "function": {
                "name": self.name,
                "description": self.description,
                "parameters": self.schema,
            },
        }

    def check(self, arguments: Any) -> str | None:
        """Why `arguments` cannot be passed to the tool (one line), or None."""
        if not isinstance(arguments, Mapping):
            shown = arguments if isinstance(arguments, str) else json.dumps(arguments)
            return f"the arguments are not a JSON object: {_short(str(shown))}"
        return self.validator(dict(arguments))

    def call(self, arguments: dict[str, Any], call: ToolCall) -> ToolResult:
        problem = self.check(arguments)
        if problem is not None:
            return ToolResult.failed(f"invalid arguments for {self.name}: {problem}")
        try:
            _, text = call_bounded(
                self.name, lambda: self.runner(dict(arguments), call), self.spec.timeout
            )
        except CallFailed as failed:  # the tool's failure is the model's result
            return ToolResult.failed(str(failed))
        return ToolResult(text)


class CallFailed(Exception):
    """A bounded call failed: `Type: message`, one line (`call_bounded`)."""


def call_bounded(name: str, work: Callable[[], Any], timeout: float) -> tuple[Any, str]:
    """Run `work()` in a thread of its own for at most `timeout` seconds; its value and that
    value as JSON text. `CallFailed` when it raised, timed out, or returned something that is
    not JSON-serialisable. A call that times out keeps running in its thread (Python cannot
    stop a thread); its result is dropped. What tools and automated steps share."""
    done: concurrent.futures.Future[Any] = concurrent.futures.Future()

    def run() -> None:
        try:
            done.set_result(work())
        except BaseException as error:  # reported to the caller, never raised in the thread
            done.set_exception(error)

    threading.Thread(target=run, name=f"crew-call-{name}", daemon=True).start()
    try:
        value = done.result(timeout=timeout)
    except concurrent.futures.TimeoutError:
        raise CallFailed(f"TimeoutError: {name} did not return within {timeout:g}s") from None
    except BaseException as error:
        raise CallFailed(_error_text(error)) from None
    try:
        return value, json.dumps(value, ensure_ascii=False, allow_nan=False)
    except (TypeError, ValueError) as error:
        raise CallFailed(
            f"TypeError: {name} returned a {type(value).__name__}, which is not "
            f"JSON-serialisable ({_short(str(error))})"
        ) from None


def json_schema_problems(schema: Mapping[str, Any], arguments: Any) -> str | None:
    """Why `arguments` do not fit a JSON Schema (an MCP tool's, or one stored on a card)."""
    import jsonschema

    validator = jsonschema.Draft202012Validator(dict(schema))
    errors = sorted(validator.iter_errors(arguments), key=lambda e: list(e.path))
    if not errors:
        return None
    shown = []
    for error in errors[:5]:
        where = ".".join(str(part) for part in error.path) or "arguments"
        shown.append(f"{where}: {error.message}")
    return "; ".join(shown)


def _error_text(error: BaseException) -> str:
    text = " ".join(str(error).split())
    return f"{type(error).__name__}: {_short(text)}" if text else type(error).__name__


def _short(text: str, limit: int = 300) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
