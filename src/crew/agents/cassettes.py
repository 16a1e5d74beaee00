"""Cassettes: recorded model answers for offline, deterministic runs (DESIGN §2.4).

`playbooks/<name>.cassette.yaml` maps each step id to the list of answers its model calls get:

    research:                       # a fan-out step over two markets
      - {summary: "...", confidence: 0.91, rationale: "..."}     # item 0
      - {summary: "...", confidence: 0.55, rationale: "..."}     # item 1
    draft:
      - "{not json"                 # a raw text answer: invalid, so the step asks again
      - {brief: "...", confidence: 0.88, rationale: "..."}       # the retry's answer
      - {$failure: "HTTP 500 from https://api.openai.com/v1"}    # revision 1: the call failed

A role with tools has its model turns that called tools recorded too, each before the turn
that saw their results, with what every call returned (`--replay` runs no tool):

    publish:
      - $tool_calls:
          - {id: call_1, tool: publish_post, args: {channel: blog}, result: '{"url": "..."}'}
      - {channel: blog, url: "...", confidence: 0.9, rationale: "..."}

How calls find their answer (the rule both replay and record follow): a step's calls are taken in
the order (revision, attempt, item). The first pass asks every item once, in item order; the items
whose answer was invalid ask again, in item order; and so on until every item has a valid answer,
a failure, or no attempts left. A revision of the step (a checkpoint's revise, an owner's retry)
asks every item again the same way, after all earlier calls. A step sampled N times (the
`consistency` confidence method) counts as N items per item: item 0's samples, then item 1's.
An item's tool-calling turns come one after another within its attempt, before the answer that
ends it. So an entry's position depends only on the call and the entries before it, never on
timing: parallel items and a run resumed in another process get the same answers.

`CassetteReplay` answers from the file (no network, no API key); `CassetteRecorder` wraps a live
responder and writes the file after every call.
"""

from __future__ import annotations

import copy
import json
import os
import tempfile
import threading
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml

from crew.agents.outputs import InvalidOutput, validate_output
from crew.agents.responders import ModelCall, ModelFailure, ModelReply, Responder, ToolRequest
from crew.exceptions import ConfigError, Problem, RunError
from crew.spec.models import RoleSpec
from crew.spec.yamlfile import NotYAML, load_yaml, read_text

__all__ = [
    "FAILURE",
    "TOOL_CALLS",
    "CassetteRecorder",
    "CassetteReplay",
    "cassette_path",
    "position",
]

FAILURE = "$failure"
"""The key of an entry that replays a failed model call: `{$failure: "reason"}`."""

TOOL_CALLS = "$tool_calls"
"""The key of an entry that replays a model turn calling tools: `{$tool_calls: [{id, tool,
args, result}]}`."""

_HEADER = """\
# Recorded model answers for `crew run --replay` (DESIGN 2.4). Hand-editable.
# Keyed by step id; a list = successive calls: fan-out items in item order, then the retries of
# invalid answers, then revisions. A string entry is a raw (invalid) answer; {$failure: reason}
# replays a failed model call (attempts: n = the HTTP attempts it took).
"""


def cassette_path(playbook_file: str | Path) -> Path:
    """`playbooks/<name>.yaml` -> `playbooks/<name>.cassette.yaml`."""
    path = Path(playbook_file)
    return path.with_name(f"{path.name.split('.')[0]}.cassette.yaml")


def _settles(role: RoleSpec, entry: Any) -> bool:
    """Whether this answer ends its item's attempts (valid, or a failure) instead of a retry."""
    if isinstance(entry, dict) and FAILURE in entry:
        return True
    try:
        validate_output(role, entry)
    except InvalidOutput:
        return False
    return True


def position(
    call: ModelCall, entry_at: Callable[[int], Any | None], settles: Callable[[Any], bool]
) -> int:
    """The index of `call`'s answer in its step's list, by the rule in this module's docstring.

    `entry_at(i)` is the i-th entry (None past the end); `settles(entry)` says whether that answer
    ended its item's attempts.
    """
    count = (call.items or 1) * call.samples
    target = (call.revision, call.attempt, _slot(call))
    index = 0
    for revision in range(call.revision + 1):
        asking = list(range(count))
        turns = [0] * count  # entries each item took in this revision (its turns so far)
        for attempt in range(max(call.max_attempts, call.attempt + 1)):
            still: list[int] = []
            for item in asking:
                while True:
                    if (revision, attempt, item) == target and (
                        not call.tools or turns[item] >= call.turn
                    ):
                        return index
                    entry = entry_at(index)
                    index += 1
                    turns[item] += 1
                    if _calls_tools(entry):
                        continue  # the same attempt goes on with the results
                    if (
                        entry is not None
                        and not settles(entry)
                        and attempt + 1 < call.max_attempts
                    ):
                        still.append(item)
                    break
            asking = still
            if not asking and revision < call.revision:
                break
    # The entries before it say this call should not happen (e.g. an earlier answer was valid,
    # yet the step asked again): place it after everything that did.
    return index


def _calls_tools(entry: Any) -> bool:
    return isinstance(entry, dict) and TOOL_CALLS in entry


def _slot(call: ModelCall) -> int:
    """The call's place among the step's parallel calls of one attempt: item, then sample."""
    return (call.item or 0) * call.samples + call.sample


class CassetteReplay:
    """A responder answering every call from a cassette file; no network, no API key.

    The file is read once, when created: a missing or malformed file is a `ConfigError`. A call
    with no entry raises `RunError` naming the file, step and call number.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.entries = _load(self.path)

    def respond(self, call: ModelCall) -> Any:
        entries = self.entries.get(call.step, [])
        index = position(call, lambda i: _at(entries, i), lambda e: _settles(call.role, e))
        if index >= len(entries):
            raise RunError(
                f"{_shown(self.path)} has no entry for step '{call.step}' call {index + 1} "
                f"(it has {len(entries)}).",
                hint="Record one with crew run --record, or add it by hand.",
            )
        entry = entries[index]
        if isinstance(entry, dict) and FAILURE in entry:
            attempts = entry.get("attempts")
            if not isinstance(attempts, int) or isinstance(attempts, bool) or attempts < 1:
                attempts = 1
            raise ModelFailure(str(entry[FAILURE]), attempts=attempts)
        if _calls_tools(entry):
            return self._tool_turn(call, entry, index)
        return copy.deepcopy(entry)

    def _tool_turn(self, call: ModelCall, entry: dict[str, Any], index: int) -> ModelReply:
        calls = entry[TOOL_CALLS]
        where = f"{_shown(self.path)}: step '{call.step}' call {index + 1}"
        if not isinstance(calls, list) or not calls:
            raise RunError(f"{where}: {TOOL_CALLS} should be a list of calls.")
        requests = []
        for number, made in enumerate(calls):
            if not isinstance(made, dict) or not isinstance(made.get("tool"), str):
                raise RunError(f"{where}: tool call {number + 1} has no `tool`.")
            if "result" not in made:
                raise RunError(
                    f"{where}: tool call {number + 1} ({made['tool']}) has no recorded `result`.",
                    hint="Record the run again with crew run --record, or add the result by hand.",
                )
            result = made["result"]
            requests.append(
                ToolRequest(
                    str(made.get("id") or f"call_{call.turn}_{number}"),
                    made["tool"],
                    copy.deepcopy(made.get("args") or {}),
                    result if isinstance(result, str) else json.dumps(result),
                )
            )
        return ModelReply(None, tool_calls=tuple(requests))


class CassetteRecorder:
    """A responder that passes calls to `inner` and writes every answer to a cassette file.

    The file is rewritten (atomically) after each call, entries in the replay order, so a run that
    stops at a checkpoint leaves a usable cassette. Failed calls are recorded as
    `{$failure: reason, attempts: n}`. Thread-safe. A new recorder starts a new cassette; to keep
    recording a resumed run, pass `resume=True` to start from the file's entries.
    """

    def __init__(self, inner: Responder, path: str | Path, *, resume: bool = False) -> None:
        self.inner = inner
        self.path = Path(path)
        self._lock = threading.Lock()
        self._earlier: dict[str, list[Any]] = {}
        if resume and self.path.exists():
            self._earlier = _load(self.path)
        # per step: (revision, attempt, item, turn) -> entry, of this recorder's calls
        self._calls: dict[str, dict[tuple[int, int, int, int], Any]] = {}
        # tool call id -> its recorded call (in an entry above), until its result is seen
        self._waiting_results: dict[str, dict[str, Any]] = {}
        for answers in self._earlier.values():
            for entry in answers:
                self._expect_results(entry)

    def _expect_results(self, entry: Any) -> None:
        if _calls_tools(entry):
            for made in entry[TOOL_CALLS]:
                if isinstance(made, dict) and "result" not in made and made.get("id"):
                    self._waiting_results[str(made["id"])] = made

    def respond(self, call: ModelCall) -> Any:
        # The results of earlier turns' tool calls are in this call's messages: keep them
        # with the calls (a replay hands them back instead of running the tools).
        with self._lock:
            for message in call.messages:
                if message.get("role") == "tool":
                    made = self._waiting_results.pop(str(message.get("tool_call_id")), None)
                    if made is not None:
                        made["result"] = str(message.get("content") or "")
        try:
            answer = self.inner.respond(call)
        except ModelFailure as failure:
            entry: dict[str, Any] = {FAILURE: failure.reason}
            if failure.attempts > 1:
                entry["attempts"] = failure.attempts
            self._record(call, entry)
            raise
        # the answer is recorded, not its token counts: a replay spends no tokens
        recorded = answer.answer if isinstance(answer, ModelReply) else answer
        if isinstance(answer, ModelReply) and answer.tool_calls:
            recorded = {
                TOOL_CALLS: [
                    {"id": request.id, "tool": request.name, "args": request.arguments}
                    for request in answer.tool_calls
                ]
            }
            with self._lock:
                self._expect_results(recorded)
        self._record(call, copy.deepcopy(recorded) if not _calls_tools(recorded) else recorded)
        return answer

    def close(self) -> None:
        """Write the file (it is already written after each call; kept for `with`-style use)."""
        with self._lock:
            self._write()

    def _record(self, call: ModelCall, entry: Any) -> None:
        with self._lock:
            key = (call.revision, call.attempt, _slot(call), call.turn)
            self._calls.setdefault(call.step, {})[key] = entry
            self._write()

    def _write(self) -> None:
        steps: dict[str, list[Any]] = {name: list(v) for name, v in self._earlier.items()}
        for step, calls in self._calls.items():
            steps.setdefault(step, []).extend(calls[key] for key in sorted(calls))
        text = _HEADER + yaml.dump(
            steps, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=100
        )
        self.path.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=self.path.parent, prefix=".cassette-")
        try:
            with os.fdopen(handle, "w", encoding="utf-8") as file:
                file.write(text)
            os.replace(temporary, self.path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise


class _Loader(yaml.SafeLoader):
    """Safe YAML, except that dates stay strings: answers are JSON, which has no dates."""


_Loader.yaml_implicit_resolvers = {
    first: [(tag, pattern) for tag, pattern in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


class _Dumper(yaml.SafeDumper):
    """Readable YAML: multi-line strings as `|` blocks, every value written out (no aliases:
    a cassette is read back with aliases bounded)."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def _represent_str(dumper: yaml.SafeDumper, value: str) -> yaml.Node:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _represent_str)


def _at(entries: Sequence[Any], index: int) -> Any | None:
    return entries[index] if index < len(entries) else None


def _shown(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def _load(path: Path) -> dict[str, list[Any]]:
    shown = _shown(path)
    if not path.exists():
        raise ConfigError(
            f"{shown} does not exist.",
            hint="Record it with `crew run --record`, or run without --replay.",
        )
    # Read like any file a user hands crew: UTF-8 checked, YAML aliases bounded.
    text = read_text(path, what=shown)
    try:
        data = load_yaml(text, shown, loader=_Loader)  # a SafeLoader
    except NotYAML as error:
        problem = Problem(
            shown, error.line or 1, f"not valid YAML: {error.problem}", "Fix the syntax."
        )
        raise ConfigError.from_problems([problem]) from None
    if data is None:
        return {}
    if not isinstance(data, Mapping):
        raise ConfigError(
            f"{shown}: a cassette maps step ids to lists of answers, got {type(data).__name__}."
        )
    entries: dict[str, list[Any]] = {}
    for step, answers in data.items():
        if not isinstance(answers, list):
            raise ConfigError(
                f"{shown}: step '{step}' should be a list of answers, "
                f"got {type(answers).__name__}.",
                hint="Write each answer as a list item: `- {field: value, ...}`.",
            )
        entries[str(step)] = answers
    return entries
