"""Everything a person needs to decide on a card, gathered from the board in one place.

`view_card` is what `crew show CARD` (and any other surface) calls: the question or the reason the
card waits, the rendered task, the output under review (an escalated output; the outputs a
checkpoint shows), its confidence and how it was measured, the run's inputs, the card's history,
who may answer and the decisions it takes. It reads only the board (no LangGraph), so it is fast.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from crew.board.cards import CardKind, Decision
from crew.exceptions import BoardError

if TYPE_CHECKING:
    from crew.board import Board, Card, Event, Run

__all__ = ["CardView", "view_card"]

# How many of a run's newest events are searched for the card's history.
HISTORY_EVENTS = 2000


@dataclass(frozen=True)
class CardView:
    card: Card
    run: Run | None
    """None when the run record is gone (purged) while the card is still kept."""
    question: str | None
    """A checkpoint's question, or why an escalation waits."""
    task: str | None
    """The task the model was given (agent steps and escalations)."""
    under_review: dict[str, Any]
    """Step id → the output to decide on (None: that step was skipped or has not run)."""
    measured: dict[str, Any] | None
    """How the confidence was measured: method, score, parts (from the audit event)."""
    history: list[Event] = field(default_factory=list)

    @property
    def waiting(self) -> bool:
        return self.card.status.waits_on_person

    @property
    def decisions(self) -> list[Decision]:
        """The decisions this card takes while it waits (none once it is decided)."""
        if not self.waiting:
            return []
        if self.card.kind is CardKind.CHECKPOINT:
            return [Decision.APPROVE, Decision.REJECT, Decision.EDIT]
        if self.card.kind is CardKind.TASK:
            return [Decision.SUBMIT, Decision.REJECT]
        if self.tool_call is not None:  # approve runs it; edit: its arguments (or its result)
            return [Decision.APPROVE, Decision.EDIT, Decision.REJECT]
        if self.card.output is None:  # invalid output or a failed model: nothing to approve
            return [Decision.EDIT, Decision.RETRY, Decision.REJECT]
        return [Decision.APPROVE, Decision.EDIT, Decision.RETRY, Decision.REJECT]

    @property
    def tool_call(self) -> dict[str, Any] | None:
        """A decision on a tool call: {call, tool, source, agent_card, uncertain}; else None."""
        call = self.card.detail.get("tool_call")
        return call if isinstance(call, dict) else None

    @property
    def edit_file(self) -> str:
        """What an edit's file holds: the corrected output, a tool call's arguments, or the
        result of a call that may or may not have run."""
        call = self.tool_call
        if call is None:
            return "EDITED.yaml"
        return "RESULT.yaml" if call.get("uncertain") else "ARGS.yaml"

    def commands(self, person: str | None = None) -> list[str]:
        """The exact `crew answer` commands, for `person` (default: the assignee)."""
        who = person or self.card.assignee
        card = self.card.id
        shapes = {
            Decision.APPROVE: f"crew answer {card} approve --as {who}",
            Decision.REJECT: f'crew answer {card} reject -m "why" --as {who}',
            Decision.EDIT: f"crew answer {card} edit --file {self.edit_file} --as {who}",
            Decision.RETRY: f'crew answer {card} retry -m "guidance" --as {who}',
            Decision.SUBMIT: f"crew answer {card} submit --file OUT.yaml --as {who}",
        }
        return [shapes[decision] for decision in self.decisions]

    def to_json(self) -> dict[str, Any]:
        """The card's `crew board --json` shape, extended with what is needed to decide."""
        return {
            **self.card.to_json(),
            "item": self.card.item,
            "revision": self.card.revision,
            "question": self.question,
            "task": self.task,
            "under_review": self.under_review,
            "confidence_method": self.card.detail.get("confidence"),
            "measured": self.measured,
            "inputs": self.run.inputs if self.run is not None else None,
            "decisions": [str(d) for d in self.decisions],
            "commands": self.commands(),
            "history": [event.to_json() for event in self.history],
        }


def view_card(board: Board, card_id: str) -> CardView:
    """The card `card_id` with what surrounds it; CardNotFound when there is no such card."""
    card = board.get(card_id)
    try:
        run: Run | None = board.get_run(card.run)
    except BoardError:
        run = None
    history = [e for e in board.last_events(card.run, limit=HISTORY_EVENTS) if e.card == card.id]
    measured = None
    for event in history:
        if event.event in ("completed", "escalated") and "measured" in event.detail:
            measured = event.detail["measured"]
    detail = card.detail
    if card.kind is CardKind.CHECKPOINT:
        question = detail.get("question") or card.reason
        output = card.output if isinstance(card.output, dict) else {}
        under_review = {step: output.get(step) for step in detail.get("show") or output}
    elif isinstance(detail.get("tool_call"), dict):  # the call's arguments, under its tool
        question = card.reason
        tool = str(detail["tool_call"].get("tool") or card.step)
        under_review = {f"{tool} arguments": card.output}
    else:
        question = card.reason
        under_review = {card.step: card.output} if card.output is not None else {}
    return CardView(
        card=card,
        run=run,
        question=question,
        task=detail.get("task"),
        under_review=under_review,
        measured=measured,
        history=history,
    )
