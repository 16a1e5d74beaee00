"""A playbook becomes a LangGraph `StateGraph` (DESIGN §2.3, §6).

What a caller may rely on:

- Node names are stable and derived from step ids only, so a run started in one process can be
  resumed in another that compiles the same playbook. Per step:

  ========================  =====================================================
  agent step ``S``          ``S`` (renders the task, runs the step executor) →
                            ``S.accepted``; when the output was escalated, ``S`` →
                            ``S.review`` (waits for the owner) → ``S.accepted``, or
                            back to ``S`` on a retry
  ``for_each`` step ``S``   ``S`` (picks the items) → ``S.item`` (one task per item,
                            a LangGraph ``Send``) → ``S.collect`` (the list, in item
                            order) → ``S.accepted``. Escalated items: ``S.collect``
                            sends one ``S.review`` task per escalated item (so each
                            has its own interrupt id; the run waits until all are
                            answered), and one ``S.item`` task per item retried
  checkpoint ``S``          ``S`` (opens the checkpoint card) → ``S.gate`` (waits for
                            the human: the only node that interrupts) → ``S.approved``
  ========================  =====================================================

  Successors of an agent step wait on ``S.accepted``, which runs only once the step's output
  (every item's, for a fan-out) is accepted: by its confidence, or by a person. A plain step
  whose output is accepted at once, and that no join waits on, goes straight to its
  successors (one superstep less per step).
- An escalation (`StepOutcome.escalation`, a `crew.types.EscalationGate`) is resumed with a
  `crew.types.ResumeValue` (read as a `Resume`): approve accepts the escalated output, edit the
  given one, retry runs the execution again (the next revision) with the comment as guidance,
  reject ends the run ``rejected`` (an agent step has no rejection path).

  A step that a join inside a revision loop waits for, but that the loop does not run again,
  also has ``S.joined`` (a no-op the checkpoint fires again on a revision, so the join runs on
  the step's earlier output).

  The model call and the human gate are separate nodes: answering a checkpoint re-runs only
  ``S.gate``, never a model call, and opening the checkpoint card happens once per revision.
- The work itself is injected (`StepExecutor`): the runtime passes one that keeps cards on the
  board and calls the agents; the compiler's own tests pass a tiny in-process one.
- The state (`RunState`) is plain data (dicts, lists, strings, numbers), so any checkpoint saver
  can store it; every key written by parallel branches has a reducer.
- A step that fails, or a rejection that cannot be revised, sets `outcome`; every later node then
  does nothing and every branch ends, so the run stops as a whole.
- A checkpoint's gate waits with a `crew.types.CheckpointGate` and is resumed with a
  `crew.types.ResumeValue` whose decision is one `CardKind.CHECKPOINT.decisions` names
  (approve, reject, edit). On edit the edited output replaces the output of the first step in
  ``show`` (or, with no ``show``, of the step before the checkpoint).
- A rejection of a checkpoint with ``on_reject`` (while fewer than ``max_revisions`` were asked)
  sends the run back to that step with ``{{feedback}}`` = the comment; the steps after it run
  again on the way back to the checkpoint. Each execution knows its step's revision (how many
  times the step ran before in this run): cards and cassettes key on it.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass, field
from typing import Annotated, Any, Protocol, TypedDict, cast

from langchain_core.runnables import RunnableConfig
from langgraph.graph import END, START, StateGraph
from langgraph.graph.state import CompiledStateGraph
from langgraph.types import Command, Send, interrupt

from crew.exceptions import ConfigError
from crew.spec import flow
from crew.spec.models import PlaybookSpec, StepSpec
from crew.types import (
    CardKind,
    CheckpointGate,
    Decision,
    EscalationGate,
    Resume,
    ResumeValue,
    RunOutcome,
    RunStatus,
    StepOutcome,
)

__all__ = [
    "AgentTask",
    "CheckpointTask",
    "RunState",
    "StepExecutor",
    "StepOutcome",
    "build_graph",
    "compile_playbook",
    "entry_node",
    "exit_node",
    "initial_state",
    "mermaid",
    "resolve_path",
]

ITEM = ".item"
COLLECT = ".collect"
GATE = ".gate"
APPROVED = ".approved"
JOINED = ".joined"
REVIEW = ".review"
ACCEPTED = ".accepted"


# --- state -------------------------------------------------------------------------------------


def _merge(left: dict[str, Any], right: dict[str, Any]) -> dict[str, Any]:
    return {**left, **right}


def _merge_items(left: dict[str, Any], right: dict[str, Any]) -> dict[str, Any]:
    """Item outputs of fan-out steps; writing `{step: {}}` starts that step's items afresh."""
    merged = dict(left)
    for step, items in right.items():
        merged[step] = {**merged.get(step, {}), **items} if items else {}
    return merged


def _most(left: dict[str, int], right: dict[str, int]) -> dict[str, int]:
    """Revision counters only grow: parallel writers (fan-out items retried together) agree on
    the highest."""
    return {**left, **{key: max(value, left.get(key, value)) for key, value in right.items()}}


def _first_outcome(left: dict[str, Any], right: dict[str, Any]) -> dict[str, Any]:
    """The first failure or rejection wins: it is what ended the run."""
    return left or right


class RunState(TypedDict, total=False):
    """The LangGraph state of one run. Plain data only; keys written in parallel have reducers."""

    inputs: dict[str, Any]
    """The checked inputs of the run."""
    meta: dict[str, Any]
    """What the runtime needs to resume the run the same way (e.g. replay mode)."""
    outputs: Annotated[dict[str, Any], _merge]
    """Step id → output (a for_each step's output is the list of item outputs)."""
    items: Annotated[dict[str, Any], _merge_items]
    """Fan-out step id → {str(index): item output}, while the items run."""
    fanout: Annotated[dict[str, Any], _merge]
    """Fan-out step id → the list of items it runs over."""
    ran: Annotated[dict[str, int], _most]
    """Step id → how many times the step has finished (its next execution's revision)."""
    revisions: Annotated[dict[str, int], _merge]
    """Checkpoint id → revisions it asked for."""
    feedback: Annotated[dict[str, str], _merge]
    """Step id → the last rejection comment, for the step a checkpoint sends back to."""
    checkpoints: Annotated[dict[str, CheckpointGate], _merge]
    """Checkpoint id → what its gate shows (the payload of the interrupt)."""
    decisions: Annotated[dict[str, ResumeValue], _merge]
    """Checkpoint id → the last decision taken on it (what its gate was resumed with)."""
    outcome: Annotated[dict[str, Any], _first_outcome]
    """Empty while the run goes on; else a `crew.types.RunOutcome` (failed or rejected)."""
    escalations: Annotated[dict[str, Any], _merge]
    """Execution key (`S`, or `S#<index>` for a fan-out item) → the `crew.types.EscalationGate`
    it waits on (the payload of its review gate); `{}` once decided."""
    retries: Annotated[dict[str, Any], _merge]
    """Execution key → the owner's retry (`{"comment", "card", "by"}`) the next execution of
    it runs with; `{}` once that execution ran."""


def initial_state(inputs: dict[str, Any], meta: dict[str, Any] | None = None) -> RunState:
    """The input of a new run's first `invoke`."""
    return RunState(inputs=dict(inputs), meta=dict(meta or {}))


# --- what the runtime injects ------------------------------------------------------------------


@dataclass(frozen=True)
class AgentTask:
    """One execution of an agent step (or of one item of a for_each step)."""

    step: StepSpec
    task: str
    """The step's task template, rendered."""
    revision: int
    """How many times this step ran before in this run (0 the first time, 1 on a revision)."""
    feedback: str = ""
    """The rejection comment, when a checkpoint sent the run back to this step."""
    item: Any = None
    index: int | None = None
    items: int | None = None
    """How many items the for_each step runs over (None for a plain step)."""
    guidance: str = ""
    """The owner's comment when an escalation of this execution was answered `retry`."""
    retry_of: str | None = None
    """The escalation card that retry answered (the new execution replaces it)."""
    context: dict[str, Any] = field(default_factory=dict)
    """An automated step's: the run's inputs, the step outputs so far, and the fan-out's item
    and index (what its function's parameters are filled from)."""


@dataclass(frozen=True)
class CheckpointTask:
    """A human checkpoint to open: what to ask, whom, and what to show."""

    step: StepSpec
    question: str
    shown: dict[str, Any] = field(default_factory=dict)
    revision: int = 0
    """How many times this checkpoint was opened before in this run."""


class StepExecutor(Protocol):
    """The work behind the nodes. Both methods may be called again for the same execution when a
    run is resumed after a crash, so they must be idempotent (look the card up first)."""

    def run_agent(self, task: AgentTask) -> StepOutcome: ...

    def open_checkpoint(self, task: CheckpointTask) -> CheckpointGate:
        """Open (or find) the checkpoint card; return the payload the gate waits with."""
        ...


# --- templates and paths -------------------------------------------------------------------------


def resolve_path(path: str, state: RunState) -> Any:
    """`inputs.x`, `steps.y` or `steps.y.field` in a run's state; None when absent."""
    head, _, rest = path.partition(".")
    value: Any
    if head == "inputs":
        value = state.get("inputs", {})
    elif head == "steps":
        value = state.get("outputs", {})
    else:
        return None
    for part in rest.split(".") if rest else []:
        if isinstance(value, dict):
            value = value.get(part)
        elif isinstance(value, list) and part.isdigit() and int(part) < len(value):
            value = value[int(part)]
        else:
            return None
    return value


def _context(
    state: RunState, step_id: str, item: Any = None, index: int | None = None
) -> dict[str, Any]:
    context: dict[str, Any] = {
        "inputs": state.get("inputs", {}),
        "steps": state.get("outputs", {}),
        "feedback": state.get("feedback", {}).get(step_id, ""),
    }
    if index is not None:
        context["item"] = item
        context["index"] = index
    return context


def _render(template: str, context: dict[str, Any]) -> str:
    from crew.spec.templates import render

    return render(template, context)


# --- the graph -----------------------------------------------------------------------------------


def entry_node(step: StepSpec) -> str:
    """The node a step starts at (what `needs`, routes and revisions point to)."""
    return step.id


def exit_node(step: StepSpec) -> str:
    """The node whose completion means the step is done (what successors wait on)."""
    if step.checkpoint is not None:
        return step.id + APPROVED
    return step.id + ACCEPTED


def _check(playbook: PlaybookSpec) -> None:
    """The few structural facts the compiler relies on (the loader reports them with lines)."""
    ids = {step.id for step in playbook.steps}

    def unknown(what: str, name: str, step: StepSpec) -> ConfigError:
        return ConfigError(
            f"playbook {playbook.name!r}: step {step.id!r} {what} unknown step {name!r}",
            hint=f"Steps: {', '.join(sorted(ids))}.",
        )

    for step in playbook.steps:
        for need in step.needs or []:
            if need not in ids:
                raise unknown("needs", need, step)
        if step.route is not None:
            for routed in flow.route_targets(step):
                if routed not in ids:
                    raise unknown("routes to", routed, step)
            if step.for_each:
                raise ConfigError(
                    f"playbook {playbook.name!r}: step {step.id!r} has both for_each and route",
                    hint="Route on a step that returns one output, e.g. a step after the fan-out.",
                )
        if step.checkpoint is not None:
            for name in step.checkpoint.show:
                if name not in ids:
                    raise unknown("shows", name, step)
            target = step.checkpoint.on_reject
            if target is not None and target not in ids:
                raise unknown("sends rejections to", target, step)


def build_graph(playbook: PlaybookSpec) -> StateGraph[Any]:
    """The uncompiled `StateGraph` of `playbook`. Its nodes call the `StepExecutor` found in the
    run's config (`executor_config`), so one compiled graph serves every run of the playbook."""
    _check(playbook)
    by_id = {step.id: step for step in playbook.steps}
    preds = flow.needs(playbook)
    routed = flow.routes_into(playbook)
    successors: dict[str, list[str]] = {step.id: [] for step in playbook.steps}
    for step_id, needs in preds.items():
        for need in needs:
            successors[need].append(step_id)

    resignal = _resignals(playbook, preds, successors)
    signalled = {need for needs in resignal.values() for need in needs}

    graph: StateGraph[Any] = StateGraph(RunState)
    for step in playbook.steps:
        if step.checkpoint is not None:
            _add_checkpoint(
                graph,
                playbook,
                step,
                successors[step.id],
                by_id,
                [need + JOINED for need in resignal.get(step.id, [])],
            )
        elif step.for_each:
            _add_fanout(graph, step)
        else:
            joins = any(len(preds[after]) > 1 for after in successors[step.id])
            onward = None
            if step.id not in signalled and not joins:
                onward = _onward(step, [entry_node(by_id[s]) for s in successors[step.id]], by_id)
            _add_agent(graph, step, onward)
        if step.route is not None:
            _add_route(graph, step, by_id)

    for need in sorted(signalled):
        _add_node(graph, need + JOINED, _nothing)
        graph.add_edge(exit_node(by_id[need]), need + JOINED)

    # Static edges: joins (`needs` with several steps) wait for all of them.
    for step in playbook.steps:
        needs = preds[step.id]
        target = entry_node(step)
        if not needs:
            if step.id not in routed or step.needs == []:
                graph.add_edge(START, target)
        elif len(needs) == 1:
            graph.add_edge(exit_node(by_id[needs[0]]), target)
        else:
            sources = [
                need + JOINED if need in signalled else exit_node(by_id[need]) for need in needs
            ]
            graph.add_edge(sources, target)
    return graph


def _nothing(state: RunState) -> dict[str, Any]:
    return {}


def _resignals(
    playbook: PlaybookSpec,
    preds: dict[str, tuple[str, ...]],
    successors: dict[str, list[str]],
) -> dict[str, list[str]]:
    """Checkpoint id → the steps whose finish it must signal again when it sends the run back.

    A join (a step with several `needs`) inside a revision loop waits for all its needs, but the
    needs outside the loop do not run again. Their finish is signalled again through a no-op
    node (`<need>.joined`), so the join runs on their earlier outputs once the loop reaches it.
    """
    after = {sid: list(nexts) for sid, nexts in successors.items()}
    for step in playbook.steps:
        after[step.id] += flow.route_targets(step)
    found: dict[str, list[str]] = {}
    for step in playbook.steps:
        spec = step.checkpoint
        if spec is None or spec.on_reject is None:
            continue
        loop: set[str] = set()
        todo = [spec.on_reject]
        while todo:
            current = todo.pop()
            if current in loop or current == step.id:
                continue
            loop.add(current)
            todo += after.get(current, [])
        outside = {
            need
            for join in loop
            if len(preds[join]) > 1
            for need in preds[join]
            if need not in loop
        }
        if outside:
            found[step.id] = sorted(outside)
    return found


def _add_node(
    graph: StateGraph[Any],
    name: str,
    action: Callable[..., dict[str, Any] | Command[Any]],
    *,
    destinations: Sequence[str] | None = None,
) -> None:
    """`destinations`: where a node that routes itself (returns a `Command`) can go."""
    # LangGraph's overloads want the node's input type; ours take the state or a Send's dict.
    # The partial hides the closure from LangGraph's subgraph search, which would otherwise
    # disassemble every node function at compile time (most of the cost of compiling).
    node = cast(Any, functools.partial(action))
    if destinations is None:
        graph.add_node(name, node)
    else:
        graph.add_node(name, node, destinations=tuple(destinations))


def compile_playbook(
    playbook: PlaybookSpec, executor: StepExecutor, checkpointer: Any = None
) -> CompiledStateGraph[Any, Any, Any, Any]:
    """The compiled graph of `playbook`, its nodes calling `executor`, its state kept by
    `checkpointer` (a LangGraph saver: Redis in crew, memory in tests).

    Compiling costs milliseconds per step, so each playbook is compiled once per process and
    each call returns a cheap copy bound to its executor and saver (a worker drives many runs).
    """
    # Keyed on the playbook's content, never its name: a worker drives runs pinned to different
    # versions of one playbook (crew.spec.snapshot), each with the graph of its own version.
    key = playbook.model_dump_json()
    with _compiled_lock:
        template = _compiled.get(key)
        if template is None:
            template = build_graph(playbook).compile(name=playbook.name)
            if len(_compiled) >= _COMPILED_MAX:
                _compiled.pop(next(iter(_compiled)))
            _compiled[key] = template
    bound = template.copy({"checkpointer": checkpointer})
    return bound.with_config(executor_config(executor))


def executor_config(executor: StepExecutor) -> RunnableConfig:
    """The config that hands `executor` to the nodes of a graph built by `build_graph`."""
    # A "__" key: LangGraph copies no such key into checkpoint metadata, so the executor is
    # never serialised with the run's state.
    return {"configurable": {_EXECUTOR_KEY: executor}}


def _executor(config: RunnableConfig) -> StepExecutor:
    executor = config.get("configurable", {}).get(_EXECUTOR_KEY)
    if executor is None:
        raise RuntimeError("the graph was invoked without its step executor (executor_config)")
    return cast(StepExecutor, executor)


_EXECUTOR_KEY = "__crew_executor"
_COMPILED_MAX = 32
_compiled: dict[str, Any] = {}
_compiled_lock = threading.Lock()


def _add_edges(
    graph: StateGraph[Any], source: str, path: Callable[..., Any], destinations: Any
) -> None:
    # The partial keeps LangGraph from evaluating the path function's type hints (the state's
    # TypedDict with its reducers) for every edge, which was most of the cost of building.
    graph.add_conditional_edges(source, functools.partial(path), destinations)


def mermaid(playbook: PlaybookSpec) -> str:
    """The compiled graph as Mermaid text (what `crew graph` prints)."""
    compiled = build_graph(playbook).compile(name=playbook.name)
    return str(compiled.get_graph().draw_mermaid())


# --- nodes -------------------------------------------------------------------------------------


def _ended(status: RunStatus, step_id: str, reason: str) -> dict[str, Any]:
    """The state update that ends the run `status` (failed or rejected) at `step_id`."""
    return {"outcome": RunOutcome(status=str(status), step=step_id, reason=reason)}


def _failed(step_id: str, reason: str) -> dict[str, Any]:
    return _ended(RunStatus.FAILED, step_id, reason)


def _route_problem(step: StepSpec, output: Any) -> str | None:
    """Why `output` cannot be routed (a value no case covers), or None."""
    route = step.route
    if route is None:
        return None
    value = output.get(route.field) if isinstance(output, dict) else None
    if str(value) in route.cases or route.default:
        return None
    return (
        f"step {step.id!r} returned {route.field}={value!r}, which no route case covers "
        f"(cases: {', '.join(route.cases)})"
    )


def _key(step_id: str, index: int | None) -> str:
    """An execution's key in `escalations` / `retries`: the step, or `step#index` for an item."""
    return step_id if index is None else f"{step_id}#{index}"


def _retry_fields(retry: dict[str, Any]) -> dict[str, Any]:
    # An execution that goes on after a tool call's decision keeps the guidance it ran with,
    # but replaces no escalation card.
    retry_of = None if retry.get("continue") else retry.get("card")
    return {"guidance": str(retry.get("comment") or ""), "retry_of": retry_of}


def _waits_on_tool_call(escalation: dict[str, Any], retry: dict[str, Any]) -> dict[str, Any]:
    """The gate of an execution waiting on a tool call's decision, with the retry it ran with
    (so it goes on with the same guidance)."""
    return {**escalation, "retry": {k: v for k, v in retry.items() if k != "continue"}}


def _goes_on(escalation: EscalationGate | dict[str, Any]) -> dict[str, Any]:
    """After a tool call's decision: the execution runs again (same revision) and its tool
    loop goes on from the card's transcript, whatever the decision was."""
    retry: dict[str, Any] = dict(cast(dict[str, Any], escalation).get("retry") or {})
    return {**retry, "continue": True, "revision": int(escalation.get("revision", 0))}


def _decide(
    step: StepSpec, escalation: EscalationGate, resume: Resume
) -> tuple[Any, dict[str, Any]]:
    """An owner's answer to an escalation → (accepted output, state update). A retry accepts
    nothing and updates nothing here: the review node records it."""
    decision = resume.decision
    what = "task" if escalation.get("kind") == str(CardKind.TASK) else "escalation"
    if decision is not None and decision.accepts_output:
        handed_in = decision in (Decision.EDIT, Decision.SUBMIT)
        output = resume.output if handed_in else escalation.get("output")
        if output is None:
            return None, _failed(
                step.id,
                f"{what} of step {step.id!r} was answered {resume.said!r} with no output",
            )
        problem = _route_problem(step, output)
        return output, _failed(step.id, problem) if problem else {}
    if decision is Decision.RETRY:
        return None, {}
    if decision is Decision.REJECT:
        comment = resume.comment
        reason = f"{what} of step {step.id!r} rejected by {resume.by or '?'}" + (
            f": {comment}" if comment else ""
        )
        return None, _ended(RunStatus.REJECTED, step.id, reason)
    return None, _failed(
        step.id,
        f"{what} of step {step.id!r} was answered {resume.said!r}; "
        + (
            "a task takes submit or reject"
            if what == "task"
            else "an escalation takes approve, edit, retry or reject"
        ),
    )


def _add_agent(graph: StateGraph[Any], step: StepSpec, onward: Onward | None) -> None:
    """`S` runs the step; `S.review` waits when it escalated; `S.accepted` is where successors
    wait. With `onward`, an output accepted at once goes straight on (one superstep less)."""
    assert step.work is not None or step.run is not None

    def run(state: RunState, config: RunnableConfig) -> Command[Any]:
        update = execute(state, config)
        # Where the run goes is decided here, on the state as this node's update leaves it (the
        # reducers of the keys `after_run` reads, applied by hand), rather than by a conditional
        # edge: LangGraph evaluates one on a fresh copy of every channel of the graph, per step.
        # The writes are the same (`branch:to:<node>`), so saved runs resume either way.
        after = RunState(
            outcome=_first_outcome(state.get("outcome") or {}, update.get("outcome") or {}),
            escalations=_merge(state.get("escalations", {}), update.get("escalations", {})),
            outputs=_merge(state.get("outputs", {}), update.get("outputs", {})),
        )
        return Command(update=update, goto=after_run(after))

    def execute(state: RunState, config: RunnableConfig) -> dict[str, Any]:
        if state.get("outcome"):
            return {}
        revision = state.get("ran", {}).get(step.id, 0)
        retry = state.get("retries", {}).get(step.id) or {}
        context = _context(state, step.id)
        task = AgentTask(
            step=step,
            task=_render(step.work or "", context),
            revision=revision,
            feedback=state.get("feedback", {}).get(step.id, ""),
            context=context if step.run is not None else {},
            **_retry_fields(retry),
        )
        result = _executor(config).run_agent(task)
        if result.escalation is not None and result.escalation.get("continues"):
            gate = _waits_on_tool_call(dict(result.escalation), retry)
            return {"escalations": {step.id: gate}, "retries": {step.id: {}}}
        ran: dict[str, Any] = {"ran": {step.id: revision + 1}, "retries": {step.id: {}}}
        if result.escalation is not None:
            return {**ran, "escalations": {step.id: dict(result.escalation)}}
        if not result.ok:
            return _failed(step.id, result.reason)
        done = {**ran, "outputs": {step.id: result.output}, "escalations": {step.id: {}}}
        problem = _route_problem(step, result.output)
        if problem:
            return {**done, **_failed(step.id, problem)}
        return done

    def after_run(state: RunState) -> Any:
        if state.get("outcome"):
            return END
        if state.get("escalations", {}).get(step.id):
            return step.id + REVIEW
        if onward is not None:
            return onward[0](state)
        return step.id + ACCEPTED

    def review(state: RunState) -> dict[str, Any]:
        if state.get("outcome"):
            return {}
        escalation = cast(EscalationGate, state.get("escalations", {}).get(step.id) or {})
        # The only interrupt of this node; the model call is in `S`, so answering never
        # calls the model again.
        resume = Resume.from_value(interrupt(escalation))
        if escalation.get("continues"):
            return {"escalations": {step.id: {}}, "retries": {step.id: _goes_on(escalation)}}
        output, update = _decide(step, escalation, resume)
        if resume.decision is Decision.RETRY:
            retry = {"comment": resume.comment, "card": escalation.get("card"), "by": resume.by}
            return {"escalations": {step.id: {}}, "retries": {step.id: retry}}
        if output is not None and not update:
            return {"escalations": {step.id: {}}, "outputs": {step.id: output}}
        return update

    def after_review(state: RunState) -> Hashable:
        if state.get("outcome"):
            return END
        if state.get("retries", {}).get(step.id):
            return step.id
        return step.id + ACCEPTED

    after = {step.id + REVIEW, step.id + ACCEPTED, END, *(onward[1] if onward else [])}
    _add_node(graph, step.id, run, destinations=sorted(after))
    _add_node(graph, step.id + REVIEW, review)
    _add_node(graph, step.id + ACCEPTED, _nothing)
    _add_edges(graph, step.id + REVIEW, after_review, [step.id, step.id + ACCEPTED, END])


def _add_fanout(graph: StateGraph[Any], step: StepSpec) -> None:
    source = step.for_each or ""

    def pick(state: RunState) -> dict[str, Any]:
        if state.get("outcome"):
            return {}
        items = resolve_path(source, state)
        if items is None:
            items = []
        if not isinstance(items, list):
            return _failed(
                step.id, f"for_each: {source} is {type(items).__name__}, not a list of items"
            )
        return {"fanout": {step.id: items}, "items": {step.id: {}}}

    def item_arg(state: RunState, index: int, revision: int) -> dict[str, Any]:
        items = state.get("fanout", {}).get(step.id, [])
        return {
            "inputs": state.get("inputs", {}),
            "outputs": state.get("outputs", {}),
            "feedback": state.get("feedback", {}),
            "revision": revision,
            "item": items[index],
            "index": index,
            "items": len(items),
            "retry": state.get("retries", {}).get(_key(step.id, index)) or {},
        }

    def send(state: RunState) -> list[Send] | str:
        if state.get("outcome"):
            return END
        items = state.get("fanout", {}).get(step.id, [])
        if not items:
            return step.id + COLLECT
        revision = state.get("ran", {}).get(step.id, 0)
        return [Send(step.id + ITEM, item_arg(state, i, revision)) for i in range(len(items))]

    def run_item(arg: dict[str, Any], config: RunnableConfig) -> dict[str, Any]:
        state = RunState(inputs=arg["inputs"], outputs=arg["outputs"], feedback=arg["feedback"])
        index: int = arg["index"]
        key = _key(step.id, index)
        context = _context(state, step.id, arg["item"], index)
        task = AgentTask(
            step=step,
            task=_render(step.work or "", context),
            context=context if step.run is not None else {},
            revision=arg["revision"],
            feedback=arg["feedback"].get(step.id, ""),
            item=arg["item"],
            index=index,
            items=arg["items"],
            **_retry_fields(arg.get("retry") or {}),
        )
        result = _executor(config).run_agent(task)
        if result.escalation is not None and result.escalation.get("continues"):
            gate = _waits_on_tool_call(dict(result.escalation), arg.get("retry") or {})
            return {"escalations": {key: gate}, "retries": {key: {}}}
        if result.escalation is not None:
            return {"escalations": {key: dict(result.escalation)}, "retries": {key: {}}}
        if not result.ok:
            return _failed(step.id, f"item {index} ({arg['item']!r}): {result.reason}")
        return {
            "items": {step.id: {str(index): result.output}},
            "escalations": {key: {}},
            "retries": {key: {}},
        }

    def collect(state: RunState) -> dict[str, Any]:
        if state.get("outcome"):
            return {}
        count = len(state.get("fanout", {}).get(step.id, []))
        done = state.get("items", {}).get(step.id, {})
        if any(str(index) not in done for index in range(count)):
            return {}  # items wait on people or run again; `after_collect` sends them
        revision = state.get("ran", {}).get(step.id, 0)
        return {
            "outputs": {step.id: [done.get(str(index)) for index in range(count)]},
            "ran": {step.id: revision + 1},
        }

    def after_collect(state: RunState) -> list[Send] | str:
        if state.get("outcome"):
            return END
        count = len(state.get("fanout", {}).get(step.id, []))
        done = state.get("items", {}).get(step.id, {})
        if all(str(index) in done for index in range(count)):
            return step.id + ACCEPTED
        sends: list[Send] = []
        for index in range(count):
            key = _key(step.id, index)
            retry = state.get("retries", {}).get(key)
            escalation = state.get("escalations", {}).get(key)
            if retry:
                revision = int(retry.get("revision", 0))
                sends.append(Send(step.id + ITEM, item_arg(state, index, revision)))
            elif escalation:
                sends.append(Send(step.id + REVIEW, {"key": key, "escalation": escalation}))
        return sends or END

    def review_item(arg: dict[str, Any]) -> dict[str, Any]:
        # One task per escalated item (a Send), so each waits with its own interrupt id.
        escalation: EscalationGate = arg["escalation"]
        key: str = arg["key"]
        resume = Resume.from_value(interrupt(escalation))
        if escalation.get("continues"):
            return {"escalations": {key: {}}, "retries": {key: _goes_on(escalation)}}
        output, update = _decide(step, escalation, resume)
        if resume.decision is Decision.RETRY:
            revision = int(escalation.get("revision", 0)) + 1
            retry = {
                "comment": resume.comment,
                "card": escalation.get("card"),
                "by": resume.by,
                "revision": revision,
            }
            # The step's next revision comes after every revision an item ran with.
            return {"escalations": {key: {}}, "retries": {key: retry}, "ran": {step.id: revision}}
        if output is not None and not _route_problem(step, output) and not update:
            index = key.rpartition("#")[2]
            return {"escalations": {key: {}}, "items": {step.id: {index: output}}}
        return update

    _add_node(graph, step.id, pick)
    _add_node(graph, step.id + ITEM, run_item)
    _add_node(graph, step.id + COLLECT, collect)
    _add_node(graph, step.id + REVIEW, review_item)
    _add_node(graph, step.id + ACCEPTED, _nothing)
    _add_edges(graph, step.id, send, [step.id + ITEM, step.id + COLLECT, END])
    graph.add_edge(step.id + ITEM, step.id + COLLECT)
    graph.add_edge(step.id + REVIEW, step.id + COLLECT)
    _add_edges(
        graph,
        step.id + COLLECT,
        after_collect,
        [step.id + ITEM, step.id + REVIEW, step.id + ACCEPTED, END],
    )


Onward = tuple[Callable[[RunState], list[Hashable]], list[str]]
"""Where a step goes once its output is accepted (a function of the state), and every place it
can go."""


def _route_choice(step: StepSpec, by_id: dict[str, StepSpec]) -> Onward:
    route = step.route
    assert route is not None
    targets = {value: entry_node(by_id[target]) for value, target in route.cases.items()}
    default = entry_node(by_id[route.default]) if route.default else END

    def choose(state: RunState) -> list[Hashable]:
        if state.get("outcome"):
            return [END]
        output = state.get("outputs", {}).get(step.id)
        value = output.get(route.field) if isinstance(output, dict) else None
        return [targets.get(str(value), default)]

    return choose, sorted({*targets.values(), default, END})


def _onward(step: StepSpec, static: list[str], by_id: dict[str, StepSpec]) -> Onward:
    """Where an agent step accepted at once goes, skipping its `S.accepted` node: its static
    successors and its route's choice. Only for steps no join waits on (a join waits for
    `S.accepted` by name)."""
    route = _route_choice(step, by_id) if step.route is not None else None

    def onward(state: RunState) -> list[Hashable]:
        chosen: list[Hashable] = list(static)
        if route is not None:
            chosen += [t for t in route[0](state) if t != END]
        return chosen or [END]

    return onward, sorted({*static, *(route[1] if route else []), END})


def _add_route(graph: StateGraph[Any], step: StepSpec, by_id: dict[str, StepSpec]) -> None:
    choose, destinations = _route_choice(step, by_id)

    def choose_one(state: RunState) -> Hashable:
        return choose(state)[0]

    _add_edges(graph, exit_node(step), choose_one, destinations)


def _add_checkpoint(
    graph: StateGraph[Any],
    playbook: PlaybookSpec,
    step: StepSpec,
    successors: list[str],
    by_id: dict[str, StepSpec],
    resignal: list[str],
) -> None:
    spec = step.checkpoint
    assert spec is not None
    edited_step = flow.edited_step(playbook, step.id)
    revise_to = entry_node(by_id[spec.on_reject]) if spec.on_reject else None

    def open_card(state: RunState, config: RunnableConfig) -> dict[str, Any]:
        if state.get("outcome"):
            return {}
        outputs = state.get("outputs", {})
        revision = state.get("ran", {}).get(step.id, 0)
        task = CheckpointTask(
            step=step,
            question=_render(spec.question, _context(state, step.id)),
            shown={name: outputs.get(name) for name in spec.show},
            revision=revision,
        )
        payload = _executor(config).open_checkpoint(task)
        return {"checkpoints": {step.id: payload}, "ran": {step.id: revision + 1}}

    def gate(state: RunState) -> dict[str, Any]:
        if state.get("outcome"):
            return {}
        # The only interrupt of this node: on resume the node re-runs from here, and nothing
        # above has side effects.
        resume = Resume.from_value(
            interrupt(state.get("checkpoints", {}).get(step.id, {"step": step.id}))
        )
        decision = resume.decision
        update: dict[str, Any] = {"decisions": {step.id: resume.to_value()}}
        if decision is Decision.EDIT and edited_step is not None and resume.output is not None:
            update["outputs"] = {edited_step: resume.output}
        elif decision is Decision.REJECT:
            used = state.get("revisions", {}).get(step.id, 0)
            comment = resume.comment
            if spec.on_reject and used < spec.max_revisions:
                update["revisions"] = {step.id: used + 1}
                # The comment is for the revision asked now; older comments no longer apply.
                stale = {name: "" for name, text in state.get("feedback", {}).items() if text}
                update["feedback"] = {**stale, spec.on_reject: comment}
            else:
                by = resume.by or spec.owner
                reason = f"rejected by {by}" + (f": {comment}" if comment else "")
                if spec.on_reject:
                    reason += f" (after {used} revision{'s' if used != 1 else ''})"
                update |= _ended(RunStatus.REJECTED, step.id, reason)
        elif decision not in CardKind.CHECKPOINT.decisions:
            update |= _failed(
                step.id,
                f"checkpoint {step.id!r} was answered {resume.said!r}; a checkpoint takes "
                "approve, reject or edit",
            )
        return update

    def after_gate(state: RunState) -> Hashable | list[Hashable]:
        if state.get("outcome"):
            return END
        resume = Resume.from_value(state.get("decisions", {}).get(step.id) or {})
        if resume.decision is Decision.REJECT and revise_to is not None:
            return [revise_to, *resignal]
        return step.id + APPROVED

    def approved(state: RunState) -> dict[str, Any]:
        return {}

    _add_node(graph, step.id, open_card)
    _add_node(graph, step.id + GATE, gate)
    _add_node(graph, step.id + APPROVED, approved)
    graph.add_edge(step.id, step.id + GATE)
    destinations: Sequence[str] = sorted(
        {step.id + APPROVED, END, *([revise_to] if revise_to else []), *resignal}
    )
    _add_edges(graph, step.id + GATE, after_gate, list(destinations))
    if not successors:
        graph.add_edge(step.id + APPROVED, END)
