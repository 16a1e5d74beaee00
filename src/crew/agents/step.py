"""One agent step: prompt the role's model, validate its structured output, retry invalid answers.

    result = run_agent_step(role, profile, task, step="draft", responder=OpenAIResponder())
    if result.ok: result.output          # the role's fields plus confidence and rationale
    else: result.reason                  # one line, for the step's card

An answer that fails validation is asked for again with the problems fed back, at most
`max_invalid_retries` times. Transient HTTP errors are retried inside the responder (the profile's
`max_retries`); when those run out the responder raises `ModelFailure` and the step ends not ok.
Nothing from LangChain, openai or httpx escapes: errors crew raises on purpose (`CrewError`, e.g. a
missing API key or a missing cassette entry) do, because they stop the run rather than the step.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from crew.agents.outputs import (
    CONFIDENCE,
    InvalidOutput,
    output_fields,
    output_schema,
    validate_output,
)
from crew.agents.responders import ModelCall, ModelFailure, ModelReply, Responder
from crew.exceptions import CrewError
from crew.spec.models import FieldSpec, ModelProfile, RoleSpec
from crew.types import EscalationReason, Usage

if TYPE_CHECKING:
    from crew.agents.tool_loop import Journal, Pending
    from crew.agents.toolbox import Toolbox

__all__ = ["StepResult", "build_messages", "run_agent_step"]


@dataclass(frozen=True)
class StepResult:
    """What one agent step produced; `reason` says in one line why it is not ok."""

    ok: bool
    output: dict[str, Any] | None
    confidence: float | None
    reason: str | None
    calls: int
    raw: Any = None
    usage: Usage = field(default_factory=Usage)
    """The tokens of every call made (each retry too), and their cost if the profile is priced."""
    waiting: tuple[Pending, ...] = ()
    """A role with tools: the people's decisions on tool calls the step waits for (then `ok`
    is False and `reason` says so); the step goes on from its journal once they are taken."""
    tool_calls: int = 0
    """Tool calls the execution made."""
    why: EscalationReason | None = None
    """What kind of failure `reason` is (None when ok, or waiting)."""


def build_messages(
    role: RoleSpec,
    task: str,
    *,
    guidance: str | None = None,
    feedback: str | None = None,
    step: str | None = None,
) -> list[dict[str, str]]:
    """The chat messages for one step: the role's system prompt, then the task.

    `guidance` is a person's comment on a retry; `feedback` the validation problems of the previous
    answer. `step` is written into the system prompt as `crew step: <id>` so logs, test servers and
    humans reading a transcript can tell which step a request belongs to.
    """
    system = [f"You are the {role.title}.", f"Your goal: {role.goal}"]
    if role.instructions.strip():
        system.append(role.instructions.strip())
    system.append(
        "Answer with one JSON object and nothing else. Its fields:\n" + _describe_fields(role)
    )
    if step:
        system.append(f"crew step: {step}")
    messages = [
        {"role": "system", "content": "\n\n".join(system)},
        {"role": "user", "content": task},
    ]
    if guidance:
        messages.append({"role": "user", "content": f"Guidance from a reviewer: {guidance}"})
    if feedback:
        messages.append(
            {
                "role": "user",
                "content": (
                    f"Your previous answer was invalid: {feedback}\n"
                    "Answer again with one corrected JSON object."
                ),
            }
        )
    return messages


def run_agent_step(
    role: RoleSpec,
    profile: ModelProfile,
    task: str,
    *,
    step: str,
    responder: Responder,
    item: int | None = None,
    items: int | None = None,
    revision: int = 0,
    guidance: str | None = None,
    max_invalid_retries: int = 2,
    sample: int = 0,
    samples: int = 1,
    max_output: int | None = None,
    toolbox: Toolbox | None = None,
    journal: Journal | None = None,
) -> StepResult:
    """Ask the role's model to do `task`; return its validated output or why there is none.

    With a `toolbox` (the role's tools) and a `journal` (where the loop's turns and results are
    kept), the model may call tools turn after turn before it answers (`crew.agents.tool_loop`).

    `item`/`items` place a fan-out item, `revision` counts reruns of the step (a checkpoint's
    revise, an owner's retry), `sample` of `samples` numbers the runs of a step sampled several
    times for `consistency`; they only matter to responders that replay recorded answers.
    An answer larger than `max_output` bytes (as JSON; `settings.limits.output`) is invalid,
    like an answer with a wrong field: asked for again, then the step is not ok.
    """
    if toolbox and journal is not None:
        return _with_tools(
            role,
            profile,
            task,
            step=step,
            responder=responder,
            toolbox=toolbox,
            journal=journal,
            item=item,
            items=items,
            revision=revision,
            guidance=guidance,
            attempts=1 + max(0, max_invalid_retries),
            max_output=max_output,
        )
    schema = output_schema(role)
    attempts = 1 + max(0, max_invalid_retries)
    feedback: str | None = None
    raw: Any = None
    problems = ""
    usage = Usage()
    for attempt in range(attempts):
        call = ModelCall(
            step=step,
            role=role,
            profile=profile,
            messages=build_messages(role, task, guidance=guidance, feedback=feedback, step=step),
            schema=schema,
            item=item,
            items=items,
            revision=revision,
            attempt=attempt,
            max_attempts=attempts,
            sample=sample,
            samples=samples,
        )
        answer, failed = _ask(responder, call)
        if failed is not None:
            usage += _usage(profile, None)
            return StepResult(
                ok=False,
                output=None,
                confidence=None,
                reason=failed,
                why=EscalationReason.MODEL_FAILED,
                calls=attempt + 1,
                raw=raw,
                usage=usage,
            )
        raw = answer
        usage += _usage(profile, raw)
        if isinstance(raw, ModelReply):
            raw = raw.answer
        try:
            if max_output is not None:
                _check_output_size(raw, max_output)
            output = validate_output(role, raw)
        except InvalidOutput as invalid:
            problems = "; ".join(invalid.problems)
            feedback = f"{problems}. Your previous answer: {_shorten(raw)}"
            continue
        return StepResult(
            ok=True,
            output=output,
            confidence=float(output[CONFIDENCE]),
            reason=None,
            calls=attempt + 1,
            raw=raw,
            usage=usage,
        )
    times = "attempt" if attempts == 1 else "attempts"
    return StepResult(
        ok=False,
        output=None,
        confidence=None,
        reason=f"output still invalid after {attempts} {times}: {problems}",
        why=EscalationReason.INVALID_OUTPUT,
        calls=attempts,
        raw=raw,
        usage=usage,
    )


def _with_tools(
    role: RoleSpec,
    profile: ModelProfile,
    task: str,
    *,
    step: str,
    responder: Responder,
    toolbox: Toolbox,
    journal: Journal,
    item: int | None,
    items: int | None,
    revision: int,
    guidance: str | None,
    attempts: int,
    max_output: int | None,
) -> StepResult:
    """`run_agent_step` for a role with tools: model turns and tool calls until an answer."""
    from crew.agents.tool_loop import ToolLoop

    schema = output_schema(role)
    loop = ToolLoop(toolbox, journal)
    base = build_messages(role, task, guidance=guidance, step=step)
    usage = Usage()
    attempt, problems, raw, calls = 0, "", None, 0

    def ended(reason: str, **more: Any) -> StepResult:
        return StepResult(
            ok=False,
            output=None,
            confidence=None,
            reason=reason,
            calls=calls,
            raw=raw,
            usage=usage,
            tool_calls=loop.calls,
            **more,
        )

    turn = 0
    while True:
        entry = loop.recorded_turn(turn)
        if entry is None:
            call = ModelCall(
                step=step,
                role=role,
                profile=profile,
                messages=[*base, *loop.messages],
                schema=schema,
                item=item,
                items=items,
                revision=revision,
                attempt=attempt,
                max_attempts=attempts,
                tools=toolbox.definitions,
                turn=turn,
            )
            calls += 1
            reply, failed = _ask(responder, call)
            if failed is not None:
                usage += _usage(profile, None)
                return ended(failed, why=EscalationReason.MODEL_FAILED)
            if not isinstance(reply, ModelReply):
                reply = ModelReply(reply)
            entry = loop.keep_turn(turn, reply, _usage(profile, reply).to_dict())
        usage += Usage.from_dict(entry.get("usage")) or Usage(calls=1)
        if entry.get("tool_calls"):
            if loop.calls > toolbox.max_calls:
                return ended(
                    f"too many tool calls: {loop.calls} asked for, more than the role's "
                    f"max_tool_calls ({toolbox.max_calls})",
                    why=EscalationReason.TOO_MANY_TOOL_CALLS,
                )
            waiting = loop.run_calls(turn, entry)
            if waiting:
                cards = ", ".join(pending.card for pending in waiting)
                return ended(
                    f"waiting on a person's decision on a tool call ({cards})", waiting=waiting
                )
            turn += 1
            continue
        raw = entry.get("answer")
        try:
            if max_output is not None:
                _check_output_size(raw, max_output)
            output = validate_output(role, raw)
        except InvalidOutput as invalid:
            problems = "; ".join(invalid.problems)
            attempt += 1
            if attempt >= attempts:
                times = "attempt" if attempts == 1 else "attempts"
                return ended(
                    f"output still invalid after {attempts} {times}: {problems}",
                    why=EscalationReason.INVALID_OUTPUT,
                )
            loop.note_answer(
                raw,
                f"Your answer was invalid: {problems}\nAnswer again with one corrected JSON "
                "object.",
            )
            turn += 1
            continue
        return StepResult(
            ok=True,
            output=output,
            confidence=float(output[CONFIDENCE]),
            reason=None,
            calls=calls,
            raw=raw,
            usage=usage,
            tool_calls=loop.calls,
        )


def _ask(responder: Responder, call: ModelCall) -> tuple[Any, str | None]:
    """The responder's answer, or why the call failed (one line). Errors crew raises on
    purpose (`CrewError`) pass: they stop the run, not the step."""
    try:
        return responder.respond(call), None
    except CrewError:
        raise
    except ModelFailure as failure:
        times = "attempt" if failure.attempts == 1 else "attempts"
        return None, f"model call failed after {failure.attempts} {times}: " + _one_line(
            failure.reason
        )
    except Exception as error:  # a responder bug must not crash the run with a traceback
        return None, f"model call failed: {type(error).__name__}: {_one_line(str(error))}"


def _usage(profile: ModelProfile, reply: Any) -> Usage:
    """One call's usage: its tokens when the responder reported them, priced by the profile."""
    tokens = (reply.input_tokens, reply.output_tokens) if isinstance(reply, ModelReply) else (0, 0)
    cost = profile.price.cost(*tokens) if profile.price is not None else None
    return Usage(tokens[0], tokens[1], 1, cost)


def _check_output_size(raw: Any, limit: int) -> None:
    from crew.spec.limits import exceeds, json_size, text_size

    size = text_size(raw) if isinstance(raw, str) else json_size(raw)
    if size > limit:
        raise InvalidOutput([exceeds("the answer", size, limit, "output")])


def _describe_fields(role: RoleSpec) -> str:
    return "\n".join(_describe_field(name, spec, "") for name, spec in output_fields(role).items())


def _describe_field(name: str, spec: FieldSpec, indent: str) -> str:
    kind = spec.type.value
    if spec.items is not None:
        kind = f"array of {spec.items.type.value}"
        if spec.items.enum is not None:
            kind += " (one of " + ", ".join(map(str, spec.items.enum)) + ")"
    details = [kind]
    if spec.enum is not None:
        details.append("one of " + ", ".join(map(str, spec.enum)))
    if spec.minimum is not None:
        details.append(f"minimum {spec.minimum:g}")
    if spec.maximum is not None:
        details.append(f"maximum {spec.maximum:g}")
    if not spec.required:
        details.append("optional, may be null")
    line = f"{indent}- {name} ({', '.join(details)})"
    if spec.description:
        line += f": {spec.description}"
    nested = spec.properties or (spec.items.properties if spec.items is not None else None)
    for child, child_spec in (nested or {}).items():
        line += "\n" + _describe_field(child, child_spec, indent + "  ")
    return line


def _shorten(raw: Any, limit: int = 500) -> str:
    text = raw if isinstance(raw, str) else json.dumps(raw, default=str)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _one_line(text: str, limit: int = 200) -> str:
    line = " ".join(text.split())
    return line if len(line) <= limit else line[: limit - 1] + "…"
