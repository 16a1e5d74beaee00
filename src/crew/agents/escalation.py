"""How sure is an agent step, and does a person have to look (DESIGN §5)?

`assess` runs one execution of an agent step the way its role's confidence method says, and tells
whether the output flows on or is escalated to the first person of the role's chain:

- ``self_report``: one model call; the confidence is the output's own ``confidence``.
- ``consistency``: ``samples`` calls of the same prompt (numbered ``sample`` 0..N-1, so cassettes
  place them deterministically); the confidence is `crew.agents.confidence.consistency` over the
  outputs, and the output kept is the sample that agrees with the most fields.
- ``judge``: one call, then one call of the judge role (step id ``<step>.judge``, output fields
  `crew.agents.confidence.JUDGE_OUTPUT` plus crew's ``confidence``/``rationale``) given the task
  and the
  output; the confidence is the judge's ``score``.

An execution is escalated when its confidence is below the role's ``threshold``, when its output
is still invalid after the retries, or when the model call failed after its retries (for
``judge``: also when the judge gives no valid verdict, with the step's output kept for an
approve), or when its rendered task is larger than ``settings.limits.task`` (not sent to the
model: escalated with no output, like a failed call). The card's ``confidence`` is the score; the
method and its parts go with it (`Assessment.confidence`, in the card's audit event and the
escalation's payload).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from crew.agents.confidence import (
    JUDGE_OUTPUT,
    Confidence,
    consistency,
    judge_task,
    judged,
    self_report,
)
from crew.agents.step import StepResult, run_agent_step
from crew.spec.models import ConfidenceMethod, FieldSpec, RoleSpec
from crew.types import EscalationReason, Usage

if TYPE_CHECKING:
    from crew.agents.responders import Responder
    from crew.agents.tool_loop import Journal
    from crew.spec.project import Project

__all__ = ["Assessment", "assess", "judge_role"]


@dataclass(frozen=True)
class Assessment:
    """One execution of an agent step, measured: what it produced and whether a person must look."""

    result: StepResult
    """The output kept (ok), or why there is none."""
    confidence: Confidence | None
    """The method, score and parts; None when there was nothing to measure."""
    escalate: str | None
    """Why a person must decide (one line), or None when the output flows on."""
    usage: Usage = field(default_factory=Usage)
    """Every model call of the execution: its calls, each sample's, and the judge's (the judge
    is part of what the step cost)."""
    why: EscalationReason | None = None
    """The kind of `escalate` (what `crew report` counts escalations by); None when the output
    flows on."""

    @property
    def score(self) -> float | None:
        return None if self.confidence is None else self.confidence.score


def judge_role(judge: RoleSpec) -> RoleSpec:
    """The judge role as it is asked to score: its prompt and model, the judge's output fields."""
    fields = {name: FieldSpec.model_validate(spec) for name, spec in JUDGE_OUTPUT.items()}
    return judge.model_copy(update={"output": fields})


def assess(
    project: Project,
    role: RoleSpec,
    task: str,
    *,
    step: str,
    responder: Responder,
    item: int | None = None,
    items: int | None = None,
    revision: int = 0,
    guidance: str | None = None,
    journal: Journal | None = None,
) -> Assessment:
    """Run one execution of `step` by `role` with its confidence method; see the module doc.

    A role with tools needs a `journal` (where its tool loop is kept, `crew.agents.tool_loop`);
    an execution that waits on a person's decision on a tool call comes back with
    `result.waiting` and is not measured."""
    profile = project.profile_for(role)
    spec = role.confidence
    toolbox = None
    if role.tools and journal is not None:
        from crew.agents.toolbox import toolbox_for

        toolbox = toolbox_for(project, role)
    limits = project.crew.settings.limits
    too_large = _task_too_large(task, limits.task)
    if too_large is not None:  # like a model call that failed: the owner decides what to do
        return Assessment(
            StepResult(False, None, None, too_large, calls=0),
            None,
            too_large,
            why=EscalationReason.TASK_TOO_LARGE,
        )

    def call(sample: int = 0, samples: int = 1) -> StepResult:
        return run_agent_step(
            role,
            profile,
            task,
            step=step,
            responder=responder,
            item=item,
            items=items,
            revision=revision,
            guidance=guidance,
            sample=sample,
            samples=samples,
            max_output=limits.output,
            toolbox=toolbox,
            journal=journal,
        )

    if spec.method is ConfidenceMethod.CONSISTENCY:
        if toolbox:
            from crew.exceptions import ConfigError

            raise ConfigError(
                f"role {role.name!r} has tools and confidence method 'consistency': its "
                f"{spec.samples} samples would each call the tools",
                hint="Use confidence method self_report or judge for a role with tools.",
            )
        results = [call(sample, spec.samples) for sample in range(spec.samples)]
        usage = sum((r.usage for r in results), Usage())
        failed = next((r for r in results if not r.ok), None)
        if failed is not None:
            return Assessment(failed, None, failed.reason or "no valid output", usage, failed.why)
        outputs = [r.output or {} for r in results]
        measured, kept = consistency(outputs, role.output)
        result = next(r for r in results if r.output is kept)
    else:
        result = call()
        usage = result.usage
        if result.waiting:
            return Assessment(result, None, None, usage)
        if not result.ok:
            return Assessment(result, None, result.reason or "no valid output", usage, result.why)
        if spec.method is ConfidenceMethod.JUDGE:
            judge = project.role(spec.judge or "")
            verdict = run_agent_step(
                judge_role(judge),
                project.profile_for(judge),
                judge_task(task, result.output or {}),
                step=f"{step}.judge",
                responder=responder,
                item=item,
                items=items,
                revision=revision,
            )
            usage += verdict.usage
            if not verdict.ok:
                why = f"the judge role {judge.name!r} gave no verdict: {verdict.reason}"
                return Assessment(result, None, why, usage, EscalationReason.NO_VERDICT)
            measured = judged(judge.name, verdict.output or {})
        else:
            measured = self_report(result.output or {})
    if measured.score < spec.threshold:
        return Assessment(
            result, measured, _low(role, measured), usage, EscalationReason.LOW_CONFIDENCE
        )
    return Assessment(result, measured, None, usage)


def _task_too_large(task: str, limit: int) -> str | None:
    """Why a rendered task is not sent to the model (over `settings.limits.task`), or None."""
    from crew.spec.limits import exceeds, text_size

    size = text_size(task)
    if size <= limit:
        return None
    return (
        f"{exceeds('the task', size, limit, 'task')}; it was not sent to the model "
        "(raise the limit in crew.yaml, then retry)"
    )


def _low(role: RoleSpec, measured: Confidence) -> str:
    threshold = role.confidence.threshold
    why = f"confidence {measured.score:.2f} is below {role.name}'s threshold {threshold:g}"
    parts: dict[str, Any] = measured.parts
    if measured.method == "judge":
        return f"{why} (judged by {parts.get('judge')}: {parts.get('reason') or 'no reason'})"
    if measured.method == "consistency":
        fields = parts.get("fields") or {}
        agreement = ", ".join(f"{name} {share:.2f}" for name, share in fields.items())
        return f"{why} (agreement over {parts.get('samples')} samples: {agreement or 'n/a'})"
    return f"{why} (self-reported)"
