"""Automated steps (`run: module:function` in a playbook): a typed Python function of the
project whose return value is the step's output; no model, no confidence.

What a caller may rely on:

- `arguments(function, context, call)` fills the function's parameters by name: the run's
  inputs, then the outputs of earlier steps (by step id), then a fan-out's `item` and `index`;
  a parameter annotated ``crew.ToolCall`` gets the call (a `call_id` stable across resumes). A
  parameter none of these name uses its default, or is a `StepProblem`.
- `call(function, kwargs, timeout)` runs it in a thread bounded by `timeout` and returns the
  value, or raises `StepProblem` with the error's type and message (a raise, a timeout, a value
  that is not JSON). A function that times out keeps running in its thread; its result is
  dropped.
- `check_output(fields, value)` checks the value against the step's declared `output` fields.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from typing import Any

from crew.spec.models import FieldSpec
from crew.types import ToolCall

__all__ = ["StepProblem", "arguments", "call", "check_output"]


class StepProblem(Exception):
    """Why an automated step has no output (one line, for its card)."""


def arguments(
    function: Callable[..., Any], context: Mapping[str, Any], call: ToolCall
) -> dict[str, Any]:
    from crew.spec.tools import call_parameters

    inputs = context.get("inputs") or {}
    steps = context.get("steps") or {}
    given: dict[str, Any] = {name: call for name in call_parameters(function)}
    for parameter in inspect.signature(function).parameters.values():
        name = parameter.name
        if name in given:
            continue
        if name in inputs:
            given[name] = inputs[name]
        elif name in steps:
            given[name] = steps[name]
        elif name in ("item", "index") and name in context:
            given[name] = context[name]
        elif parameter.default is parameter.empty:
            raise StepProblem(
                f"parameter '{name}' names no input or step of the run (inputs: "
                f"{', '.join(sorted(inputs)) or 'none'}; steps: "
                f"{', '.join(sorted(steps)) or 'none'})"
            )
    return given


def call(function: Callable[..., Any], kwargs: dict[str, Any], timeout: float) -> Any:
    from crew.agents.tool import CallFailed, call_bounded

    try:
        value, _ = call_bounded(
            getattr(function, "__name__", "step"), lambda: function(**kwargs), timeout
        )
    except CallFailed as failed:
        raise StepProblem(str(failed)) from None
    return value


def check_output(fields: Mapping[str, FieldSpec] | None, value: Any) -> Any:
    """The value, checked against the declared fields (their defaults filled in)."""
    if fields is None:
        return value
    from crew.agents.outputs import InvalidOutput, validate_fields

    try:
        return validate_fields(fields, value)
    except InvalidOutput as invalid:
        raise StepProblem(
            "the value returned is not the step's output: " + "; ".join(invalid.problems)
        ) from None
