"""The tool loop of one agent step (DESIGN §7): model turn → tool calls → results → next turn,
until the model gives its output.

What a caller may rely on:

- **Effects happen once.** Everything the loop learns is written to the `Journal` (on the
  board: the card's transcript) before it goes on: each model turn, the calls about to run,
  each call's result. A loop run again on the same journal (a resumed run, a driver that took
  over) replays it: a recorded turn is not sent to the model again, a recorded result is not
  run again. A call that started but has no result (a crash in between) runs again only if its
  tool is `idempotent`; otherwise a person decides (`Journal.decide(..., uncertain=True)`):
  approve runs it again, edit gives its result, reject tells the model it did not run.
- **Approvals.** A call whose tool needs one (`approval`, `approve_when`) runs only after a
  person's decision (`Journal.decide`): approve runs it as asked, edit with the person's
  arguments, reject gives the model "rejected by PERSON: WHY" as its result. While a decision
  is pending the loop stops (`ToolLoop.run_calls` returns the `Pending` ones, and the step
  comes back with `StepResult.waiting`); the calls of the same turn that needed no
  decision have run and are recorded.
- The calls of one turn run concurrently. A tool that fails gives the model its error as the
  result; a call of a tool the role does not have, or with arguments that do not fit its
  schema, too. Past `max_tool_calls` calls the loop ends not ok ("too many tool calls").
- `--replay`: a responder replaying a cassette hands each call its recorded result
  (`ToolRequest.recorded`); the loop uses it and runs no tool (approvals are still asked).
"""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Protocol

from crew.agents.responders import ModelReply, ToolRequest
from crew.agents.toolbox import Tool, Toolbox, ToolResult
from crew.types import Decision, ToolCall

__all__ = ["Decided", "Journal", "Pending", "ToolLoop", "needs_approval"]


@dataclass(frozen=True)
class Decided:
    """A person's decision on a tool call: `arguments` are an edit's (for a call that may or
    may not have run: the result the person gives)."""

    decision: Decision
    by: str
    comment: str = ""
    arguments: Any = None
    card: str | None = None


@dataclass(frozen=True)
class Pending:
    """A decision the loop waits for: the card a person answers."""

    card: str


class Journal(Protocol):
    """Where the loop keeps what it did, and asks people (the engine's is on the board)."""

    def entries(self) -> list[dict[str, Any]]:
        """What was recorded before, in order."""
        ...

    def record(self, *entries: dict[str, Any]) -> None:
        """Keep `entries` before going on (fenced: raises if the card was lost)."""
        ...

    def call_id(self, turn: int, index: int) -> str:
        """The id of call `index` of model turn `turn`: the same on every resume."""
        ...

    def decide(
        self, request: ToolRequest, tool: Tool, call_id: str, *, uncertain: bool
    ) -> Decided | Pending:
        """The decision on this call, or the card that waits for it (opened if need be)."""
        ...

    def tool_call(self, call_id: str, approved_by: str | None) -> ToolCall:
        """What a tool declaring ``call: crew.ToolCall`` is told."""
        ...


def needs_approval(tool: Tool, arguments: Any) -> bool:
    """Whether a call of `tool` with `arguments` waits for a person first."""
    if tool.spec.approval == "none":
        return False
    if tool.spec.approve_when is None:
        return True
    from crew.spec.expressions import matches

    return matches(tool.spec.approve_when, arguments if isinstance(arguments, dict) else {})


class ToolLoop:
    """The state of one execution's conversation with its model, rebuilt from the journal.

    `messages` grows with every turn: the assistant's tool calls and the tool results. A turn
    is asked through `ask(messages, turn)`; `step` (in `crew.agents.step`) drives it."""

    def __init__(self, toolbox: Toolbox, journal: Journal) -> None:
        self.toolbox, self.journal = toolbox, journal
        recorded = journal.entries()
        self._turns = {e["turn"]: e for e in recorded if "turn" in e}
        self._started = {c for e in recorded for c in e.get("started", ())}
        self._results = {e["result"]: e for e in recorded if "result" in e}
        self.calls = sum(len(e.get("tool_calls") or ()) for e in self._turns.values())
        self.messages: list[dict[str, Any]] = []

    def recorded_turn(self, turn: int) -> dict[str, Any] | None:
        return self._turns.get(turn)

    def keep_turn(self, turn: int, reply: ModelReply, usage: dict[str, Any]) -> dict[str, Any]:
        """Record a model turn the model just gave (before anything acts on it)."""
        entry: dict[str, Any] = {"turn": turn, "usage": usage}
        if reply.tool_calls:
            entry["tool_calls"] = [
                {
                    "id": request.id,
                    "name": request.name,
                    "arguments": request.arguments,
                    **({"recorded": request.recorded} if request.recorded is not None else {}),
                }
                for request in reply.tool_calls
            ]
            self.calls += len(reply.tool_calls)
        else:
            entry["answer"] = reply.answer
        self.journal.record(entry)
        self._turns[turn] = entry
        return entry

    def note_answer(self, answer: Any, feedback: str) -> None:
        """An invalid answer: the model sees it and what is wrong with it next turn."""
        text = answer if isinstance(answer, str) else json.dumps(answer, ensure_ascii=False)
        self.messages.append({"role": "assistant", "content": text})
        self.messages.append({"role": "user", "content": feedback})

    def run_calls(self, turn: int, entry: dict[str, Any]) -> tuple[Pending, ...]:
        """Make (or replay) the calls of a recorded turn; the decisions still pending."""
        requests = [
            ToolRequest(
                str(c.get("id") or f"call_{turn}_{i}"),
                str(c.get("name") or ""),
                c.get("arguments"),
                c.get("recorded"),
            )
            for i, c in enumerate(entry.get("tool_calls") or ())
        ]
        self.messages.append(
            {
                "role": "assistant",
                "content": "",
                "tool_calls": [
                    {
                        "id": r.id,
                        "type": "function",
                        "function": {"name": r.name, "arguments": _arguments_text(r.arguments)},
                    }
                    for r in requests
                ],
            }
        )
        results: dict[str, str] = {}
        to_run: list[tuple[str, ToolRequest, Tool, Any, str | None]] = []
        waiting: list[Pending] = []
        for index, request in enumerate(requests):
            call_id = self.journal.call_id(turn, index)
            done = self._results.get(call_id)
            if done is not None:
                results[request.id] = str(done.get("content") or "")
                continue
            tool = self.toolbox.get(request.name)
            if tool is None:
                names = ", ".join(sorted(self.toolbox.tools)) or "none"
                results[request.id] = self._keep(
                    call_id,
                    request,
                    ToolResult.failed(f"no tool '{request.name}' (yours: {names})"),
                )
                continue
            problem = tool.check(request.arguments)
            if problem is not None:
                results[request.id] = self._keep(
                    call_id,
                    request,
                    ToolResult.failed(f"invalid arguments for {request.name}: {problem}"),
                )
                continue
            uncertain = (
                call_id in self._started and not tool.spec.idempotent and request.recorded is None
            )
            arguments, approved_by = request.arguments, None
            if uncertain or needs_approval(tool, request.arguments):
                decided = self.journal.decide(request, tool, call_id, uncertain=uncertain)
                if isinstance(decided, Pending):
                    waiting.append(decided)
                    continue
                if decided.decision is Decision.REJECT:
                    why = f": {decided.comment}" if decided.comment else ""
                    results[request.id] = self._keep(
                        call_id, request, ToolResult(f"rejected by {decided.by}{why}"), decided
                    )
                    continue
                if decided.decision is Decision.EDIT and uncertain:
                    given = ToolResult(json.dumps(decided.arguments, ensure_ascii=False))
                    results[request.id] = self._keep(call_id, request, given, decided)
                    continue
                if decided.decision is Decision.EDIT:
                    arguments = decided.arguments
                approved_by = decided.by
            to_run.append((call_id, request, tool, arguments, approved_by))
        if to_run:
            results.update(self._run(to_run))
        if waiting:
            return tuple(waiting)
        for request in requests:
            self.messages.append(
                {"role": "tool", "tool_call_id": request.id, "content": results[request.id]}
            )
        return ()

    def _run(self, calls: list[tuple[str, ToolRequest, Tool, Any, str | None]]) -> dict[str, str]:
        live = [c for c in calls if c[1].recorded is None]
        if live:  # before any side effect: a crash from here on is seen on resume
            self.journal.record({"started": [c[0] for c in live]})
            self._started.update(c[0] for c in live)

        def one(call: tuple[str, ToolRequest, Tool, Any, str | None]) -> tuple[str, str]:
            call_id, request, tool, arguments, approved_by = call
            if request.recorded is not None:
                result = ToolResult(request.recorded)
            else:
                result = tool.call(arguments, self.journal.tool_call(call_id, approved_by))
            return request.id, self._keep(call_id, request, result, by=approved_by)

        if len(calls) == 1:
            return dict([one(calls[0])])
        with ThreadPoolExecutor(max_workers=min(8, len(calls))) as pool:
            return dict(pool.map(one, calls))

    def _keep(
        self,
        call_id: str,
        request: ToolRequest,
        result: ToolResult,
        decided: Decided | None = None,
        *,
        by: str | None = None,
    ) -> str:
        entry: dict[str, Any] = {
            "result": call_id,
            "tool": request.name,
            "content": result.content,
        }
        if result.error is not None:
            entry["error"] = result.error
        if decided is not None:
            entry["decision"] = str(decided.decision)
            entry["by"] = decided.by
        elif by is not None:
            entry["by"] = by
        self.journal.record(entry)
        self._results[call_id] = entry
        return result.content


def _arguments_text(arguments: Any) -> str:
    return arguments if isinstance(arguments, str) else json.dumps(arguments, ensure_ascii=False)
