"""The values that cross crew's layers: statuses, decisions, what a human gate shows, what
resumes it, and what a step or a run came to.

What a caller may rely on:

- **Statuses and decisions are `StrEnum`s.** A member equals its string (``CardStatus.DONE ==
  "done"``) and prints as it, so the board's hashes, `--json` output and audit events hold the
  same strings as before; compare with the members, never with string literals.
- **What LangGraph stores is plain data.** Gate payloads (`CheckpointGate`, `EscalationGate`),
  resume values (`ResumeValue`) and a run's end (`RunOutcome`) are `TypedDict`s: at run time they
  are dicts of strings, numbers, lists and dicts, so the checkpoint saver stores them without
  pickling or registering a class, a run saved by one version of crew is resumed by another, and
  LangGraph's strict deserialisation (``LANGGRAPH_STRICT_MSGPACK``) reads them. Enum members
  never go into them: their string value does.
- **`Resume` is the typed view of a resume value.** `Resume.from_value` reads what
  ``Command(resume=...)`` carried (a `ResumeValue`, or a bare decision string), `Resume.to_value`
  writes it back; the graph decides on `Resume.decision`, a `Decision`.
- **`StepOutcome`** is what the step executor hands the graph for one execution of an agent step
  (in process: never stored as is).

Nothing here imports LangGraph or LangChain, so every layer may use it (the board and the
commands that must feel instant too).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any, NotRequired, Required, TypedDict

__all__ = [
    "CardKind",
    "CardStatus",
    "CheckpointGate",
    "Decision",
    "DeliveryOutcome",
    "DeliveryReport",
    "EscalationGate",
    "EscalationReason",
    "Gate",
    "Resume",
    "ResumeValue",
    "RunOutcome",
    "RunStatus",
    "StepOutcome",
    "ToolCall",
    "Usage",
]


# --- statuses ------------------------------------------------------------------------------------


class CardKind(StrEnum):
    """What a card stands for (DESIGN §4)."""

    AGENT = "agent"
    """One execution of an agent step (or of one item of a for_each step)."""
    CHECKPOINT = "checkpoint"
    """A human checkpoint of the playbook: waits on its owner (or a delegate) from the start."""
    ESCALATION = "escalation"
    """An agent step's output that was not good enough: waits on a person of the role's chain."""
    TASK = "task"
    """A human work step (DESIGN §8): waits on its owner, who submits the step's output."""
    TOOL_CALL = "tool_call"
    """A tool call an agent asked for that needs a person's approval first (DESIGN §7): waits
    on the approver; approve runs it, edit runs it with other arguments, reject tells the model
    why instead."""

    @property
    def decisions(self) -> tuple[Decision, ...]:
        """The decisions a person may answer a card of this kind with (none for an agent card:
        it waits on nobody until it is escalated)."""
        if self is CardKind.CHECKPOINT:
            return (Decision.APPROVE, Decision.REJECT, Decision.EDIT)
        if self is CardKind.ESCALATION:
            return (Decision.APPROVE, Decision.REJECT, Decision.EDIT, Decision.RETRY)
        if self is CardKind.TOOL_CALL:
            return (Decision.APPROVE, Decision.EDIT, Decision.REJECT)
        if self is CardKind.TASK:
            return (Decision.SUBMIT, Decision.REJECT)
        return ()


class CardStatus(StrEnum):
    """Where a card stands; each transition is one board script (DESIGN §4)."""

    QUEUED = "queued"
    RUNNING = "running"
    WAITING = "waiting"
    ESCALATED = "escalated"
    DONE = "done"
    REJECTED = "rejected"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def finished(self) -> bool:
        """Done, rejected, failed or cancelled: no transition leaves it."""
        return self in _FINISHED_CARDS

    @property
    def waits_on_person(self) -> bool:
        """Waiting (a checkpoint) or escalated: a person's answer moves it on."""
        return self in (CardStatus.WAITING, CardStatus.ESCALATED)


_FINISHED_CARDS = frozenset(
    {CardStatus.DONE, CardStatus.REJECTED, CardStatus.FAILED, CardStatus.CANCELLED}
)


class RunStatus(StrEnum):
    """Where a run stands (the board's run record, `RunReport.status`)."""

    QUEUED = "queued"
    """Submitted (`crew run --detach`) or handed back: it waits for a worker to drive it."""
    RUNNING = "running"
    WAITING = "waiting"
    DONE = "done"
    FAILED = "failed"
    REJECTED = "rejected"
    CANCELLED = "cancelled"

    @property
    def finished(self) -> bool:
        """Anything but queued, running or waiting: the run never goes on."""
        return self not in (RunStatus.QUEUED, RunStatus.RUNNING, RunStatus.WAITING)


class Decision(StrEnum):
    """What a person answers to a waiting card (`CardKind.decisions` says which a kind takes)."""

    APPROVE = "approve"
    """Accept the output as it is (an escalation's held output; a checkpoint's shown steps)."""
    REJECT = "reject"
    """End the run rejected, or send it back (a checkpoint's `on_reject`) with the comment."""
    EDIT = "edit"
    """Accept a corrected output instead (it replaces the output of the step it edits)."""
    RETRY = "retry"
    """Run the escalated step again, with the comment as guidance (escalations only)."""
    SUBMIT = "submit"
    """Hand in a human step's output (task cards only); it flows on like an agent's."""

    # Where each decision moves its card (approve/edit: done; reject: rejected; retry: queued)
    # is answer.lua's rule (crew/board/scripts), written only there.

    @property
    def accepts_output(self) -> bool:
        """approve, edit and submit: an output (the one held, the edited one, the one handed
        in) flows on."""
        return self in (Decision.APPROVE, Decision.EDIT, Decision.SUBMIT)


class EscalationReason(StrEnum):
    """Why an agent step's output went to a person, as a kind (the card's `reason` says it in
    words): what `crew report` counts escalations by. Decided where the step ends, so the
    count never depends on a sentence's wording."""

    LOW_CONFIDENCE = "low_confidence"
    INVALID_OUTPUT = "invalid_output"
    MODEL_FAILED = "model_failed"
    NO_VERDICT = "no_verdict"
    """The judge role gave no verdict."""
    TOO_MANY_TOOL_CALLS = "too_many_tool_calls"
    UNCERTAIN_EFFECT = "uncertain_effect"
    """A tool call may or may not have run (a crash cut it short)."""
    TASK_TOO_LARGE = "task_too_large"
    """The rendered task is over `settings.limits.task`: it was not sent."""


class DeliveryOutcome(StrEnum):
    """What one attempt at a webhook delivery did (`crew.people.notify` makes it, the board records
    it
    with `Board.report_delivery`)."""

    OK = "ok"
    """Delivered."""
    RETRY = "retry"
    """Failed, but worth another attempt (no answer, a server error, 429)."""
    FAIL = "fail"
    """Refused for good (another client error)."""


class DeliveryReport(StrEnum):
    """What recording an attempt did (`Board.report_delivery`'s answer)."""

    NOTIFIED = "notified"
    """The delivery is finished, delivered (the card's `notified` audit event)."""
    NOTIFY_FAILED = "notify_failed"
    """The delivery is finished, failed (refused for good, or every attempt made)."""
    RETRY = "retry"
    """The next attempt is scheduled, after the backoff."""
    GONE = "gone"
    """Nothing: the delivery was finished meanwhile."""
    STALE = "stale"
    """Nothing: a later claim took the delivery over."""


# --- what a human gate shows (the payload of its interrupt) ------------------------------------


class CheckpointGate(TypedDict):
    """What a checkpoint's gate waits with: the payload of its interrupt, stored in the run's
    state (`RunState.checkpoints`) and seen by every process as ``state.interrupts[i].value``."""

    card: str
    """The checkpoint card; its recorded answer is what resumes the gate."""
    step: str
    """The checkpoint step's id."""
    owner: str
    """The checkpoint's owner (who is asked; delegates may answer too)."""
    question: str
    """The checkpoint's question, rendered."""
    revision: int
    """How many times this checkpoint was opened before in this run."""


class EscalationGate(TypedDict):
    """What an escalated agent step's review gate waits with (the payload of its interrupt,
    stored in `RunState.escalations`): the card, and what a person needs to decide."""

    card: str
    """The escalation card; its recorded answer is what resumes the gate."""
    step: str
    """The agent step's id."""
    kind: str
    """The card's kind: ``escalation`` (an output a person must decide on), ``task`` (a human
    step's work) or ``tool_call`` (a tool call to approve)."""
    assignee: str
    """The person of the role's chain it waits on now."""
    reason: str
    """Why a person must decide (low confidence, invalid output, failed model call...)."""
    revision: int
    """The execution's revision (how many times the step ran before in this run)."""
    index: int | None
    """The item's index, for an item of a for_each step."""
    item: Any
    """The item, for an item of a for_each step."""
    task: str
    """The task the model was asked, rendered."""
    output: Any
    """What an approve accepts; None when there is no valid output (approve is refused)."""
    confidence: NotRequired[dict[str, Any]]
    """How the confidence was measured (method, score, parts), when it was."""
    answer: NotRequired[Any]
    """The model's last invalid answer, for the person to see."""
    continues: NotRequired[bool]
    """True when the card is a decision on one of the step's tool calls: whatever the answer,
    the execution goes on (its tool loop, from the card's transcript) instead of accepting an
    output. `kind` is then the card's (``tool_call``, or ``escalation`` for a call that may or
    may not have run)."""


Gate = CheckpointGate | EscalationGate
"""What any human gate of a run waits with; both name their card under ``"card"``."""


# --- what resumes a gate ---------------------------------------------------------------------


class ResumeValue(TypedDict, total=False):
    """What ``Command(resume=...)`` carries to a human gate: plain data, stored with the run's
    state (a checkpoint's gate keeps it in `RunState.decisions`). Read and write it through
    `Resume`."""

    decision: Required[str]
    """A `Decision`'s value."""
    comment: str
    """The person's comment: the feedback of a rejection, the guidance of a retry."""
    by: str
    """Who answered."""
    card: str
    """The card the answer was recorded on."""
    output: Any
    """The edited output (edit only)."""


@dataclass(frozen=True)
class Resume:
    """A person's answer as a human gate receives it."""

    decision: Decision | None
    """What was decided; None when the value named no decision crew knows (`said` tells what)."""
    comment: str = ""
    by: str | None = None
    card: str | None = None
    output: Any = None
    """The edited output (edit only); None when there is none."""
    unknown: str = ""
    """The decision as given, when it is not a `Decision` (for the error that names it)."""

    @property
    def said(self) -> str:
        """The decision as the person gave it, for messages."""
        return self.unknown if self.decision is None else str(self.decision)

    @classmethod
    def from_value(cls, value: object) -> Resume:
        """Read what a gate was resumed with: a `ResumeValue`, or a bare decision string."""
        data: dict[str, Any] = dict(value) if isinstance(value, dict) else {"decision": value}
        said = str(data.get("decision") or "")
        try:
            decision: Decision | None = Decision(said)
        except ValueError:
            decision = None
        by, card = data.get("by"), data.get("card")
        return cls(
            decision=decision,
            comment=str(data.get("comment") or ""),
            by=str(by) if by else None,
            card=str(card) if card else None,
            output=data.get("output"),
            unknown="" if decision is not None else said,
        )

    def to_value(self) -> ResumeValue:
        """The plain data to resume a gate with (``Command(resume=...)``)."""
        value = ResumeValue(decision=self.said, comment=self.comment)
        if self.by is not None:
            value["by"] = self.by
        if self.card is not None:
            value["card"] = self.card
        if self.output is not None:
            value["output"] = self.output
        return value


# --- tools --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ToolCall:
    """What crew tells a Python tool about the call, when the tool declares a parameter
    ``call: crew.ToolCall`` (DESIGN §7). That parameter is crew's: the model never sees it.

    `call_id` is stable across resumes of the run: a tool that must not act twice can key its
    side effect on it."""

    run: str
    """The run's id."""
    card: str
    """The id of the agent step's card the call belongs to."""
    call_id: str
    """This call's id, the same every time the call is attempted."""
    approved_by: str | None = None
    """The person who approved the call (None when it needed no approval)."""


# --- what a step or a run came to -----------------------------------------------------------


@dataclass(frozen=True)
class StepOutcome:
    """What one execution of an agent step produced: an output, or why it did not. With
    `escalation` (and `ok` False) the output went to a person instead: the gate payload its
    review gate waits with."""

    ok: bool
    output: Any = None
    reason: str = ""
    confidence: float | None = None
    escalation: EscalationGate | None = None


class RunOutcome(TypedDict):
    """How a run ended early (`RunState.outcome`, stored with its state): the first step that
    failed or was rejected wins."""

    status: str
    """``RunStatus.FAILED``'s or ``RunStatus.REJECTED``'s value."""
    step: str
    """The step that failed or was rejected."""
    reason: str
    """Why, in one line (what `crew run` and `crew runs` show)."""


@dataclass(frozen=True)
class Usage:
    """The model tokens one execution of a step used (DESIGN §7), summed over all its calls:
    invalid-output retries, consistency samples and the judge's call. `cost` is in USD, the sum
    over the calls whose model profile declares a `price` (None when none does)."""

    input_tokens: int = 0
    output_tokens: int = 0
    calls: int = 0
    cost: float | None = None

    def __add__(self, other: Usage) -> Usage:
        cost = None
        if self.cost is not None or other.cost is not None:
            cost = (self.cost or 0.0) + (other.cost or 0.0)
        return Usage(
            self.input_tokens + other.input_tokens,
            self.output_tokens + other.output_tokens,
            self.calls + other.calls,
            cost,
        )

    def counts(self) -> dict[str, Any]:
        """`{input_tokens, output_tokens, calls}` (DESIGN §7's `usage`)."""
        return {
            "input_tokens": self.input_tokens,
            "output_tokens": self.output_tokens,
            "calls": self.calls,
        }

    def to_dict(self) -> dict[str, Any]:
        """`counts()`, plus `cost` when there is one (how a card stores it)."""
        value = self.counts()
        if self.cost is not None:
            value["cost"] = round(self.cost, 8)
        return value

    @classmethod
    def from_dict(cls, value: Any) -> Usage | None:
        """The usage `to_dict` wrote (None for anything else, e.g. a card written before usage)."""
        if not isinstance(value, dict):
            return None
        cost = value.get("cost")
        return cls(
            int(value.get("input_tokens") or 0),
            int(value.get("output_tokens") or 0),
            int(value.get("calls") or 0),
            float(cost) if isinstance(cost, int | float) else None,
        )
