"""The board side of an agent step's tool loop (`crew.agents.tool_loop.Journal`).

What a caller may rely on:

- Entries go to the agent card's transcript (`Board.record`) under the card's lease, so a
  driver that lost the card writes nothing; they are read back when the step runs again.
- A call that needs a person gets one card, found again by its call id on every resume:
  a `tool_call` card (waiting) for an approval, assigned per the tool's `approval` (`owner`:
  the role's owner; `chain`: the role's escalation chain, with its SLA; else the person named),
  answerable by the approver and their delegates; an `escalation` card to the role's owner for
  a call that may or may not have run. Both show the tool, its arguments (as the card's output)
  and the step's task, keep the tool's argument schema (an edit is checked against it), queue
  the assignee's webhook and move along the chain like any card that waits on a person.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from crew.agents.tool_loop import Decided, Pending
from crew.board.cards import Card, CardKind, CardStatus
from crew.types import Decision, ToolCall

if TYPE_CHECKING:
    from crew.agents.responders import ToolRequest
    from crew.agents.toolbox import Tool
    from crew.board.board import Board
    from crew.engine.observer import Observer
    from crew.spec.models import RoleSpec
    from crew.spec.project import Project

__all__ = ["BoardJournal", "JournalSession", "ToolCards", "approver"]


class JournalSession(Protocol):
    """What the journal needs of the session driving the run (`crew.engine.steps.StepSession`
    is one)."""

    project: Project
    board: Board
    observer: Observer

    def webhook(self, person: str) -> str | None: ...

    def notify(self, card: Card) -> None: ...


@dataclass
class ToolCards:
    """The cards of a run's tool calls, by call id (found once when the driver starts)."""

    by_call: dict[str, str] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def note(self, card: Card) -> None:
        call = card.detail.get("tool_call")
        if isinstance(call, dict) and isinstance(call.get("call"), str):
            with self.lock:
                self.by_call[call["call"]] = card.id

    def get(self, call_id: str) -> str | None:
        with self.lock:
            return self.by_call.get(call_id)


def approver(
    session: JournalSession, role: RoleSpec, approval: str
) -> tuple[str, list[str], float]:
    """Who approves a call first, the chain it moves along when nobody answers, and the SLA."""
    project = session.project
    if approval == "chain":
        chain = project.escalation_chain(role)
        return chain[0], chain, project.sla_for(role)
    person = role.owner if approval == "owner" else approval
    return person, [person], project.crew.settings.sla


class BoardJournal:
    """One agent card's transcript and tool-call cards; see the module doc."""

    def __init__(
        self,
        session: JournalSession,
        run_id: str,
        playbook: str,
        card: Card,
        token: str,
        role: RoleSpec,
        task: str,
        cards: ToolCards,
    ) -> None:
        self.session, self.board = session, session.board
        self.run_id, self.playbook, self.card, self.token = run_id, playbook, card, token
        self.role, self.task, self.cards = role, task, cards

    def entries(self) -> list[dict[str, Any]]:
        return self.board.transcript(self.card.id)

    def record(self, *entries: dict[str, Any]) -> None:
        self.board.record(self.card.id, self.token, *entries)

    def call_id(self, turn: int, index: int) -> str:
        return f"{self.card.id}.{turn}.{index}"

    def tool_call(self, call_id: str, approved_by: str | None) -> ToolCall:
        return ToolCall(self.run_id, self.card.id, call_id, approved_by)

    def decide(
        self, request: ToolRequest, tool: Tool, call_id: str, *, uncertain: bool
    ) -> Decided | Pending:
        card_id = self.cards.get(call_id)
        if card_id is None:
            card = self._open(request, tool, call_id, uncertain=uncertain)
            return Pending(card.id)
        card = self.board.get(card_id)
        answer = card.decision
        if answer is None:
            if card.status.finished:  # cancelled before anyone answered: not run
                return Decided(Decision.REJECT, card.assignee, card.reason or "cancelled", None)
            return Pending(card.id)
        decision = answer.decision
        if decision is Decision.RETRY:  # an uncertain call's retry: run it again
            decision = Decision.APPROVE
        return Decided(decision, answer.by, answer.comment or "", answer.edited_output, card.id)

    def _open(self, request: ToolRequest, tool: Tool, call_id: str, *, uncertain: bool) -> Card:
        session, role = self.session, self.role
        detail: dict[str, Any] = {
            "tool_call": {
                "call": call_id,
                "tool": tool.name,
                "source": tool.spec.source,
                "agent_card": self.card.id,
                "uncertain": uncertain,
            },
            "schema": tool.schema,
            "task": self.task,
        }
        index = self.card.detail.get("index")
        if isinstance(index, int):
            detail.update(index=index, items=self.card.detail.get("items"))
        if uncertain:
            person, chain, sla = role.owner, [role.owner], session.project.sla_for(role)
            kind, status = CardKind.ESCALATION, CardStatus.ESCALATED
            allowed = [person]
            reason = (
                f"{tool.name} may or may not have run: the run stopped while it ran "
                "(approve runs it again, edit gives its result, reject tells the model it "
                "did not run)"
            )
        else:
            person, chain, sla = approver(session, role, tool.spec.approval)
            kind, status = CardKind.TOOL_CALL, CardStatus.WAITING
            allowed = session.project.may_answer_checkpoint(person)
            reason = f"{role.name} asks to call {tool.name}({_arguments(request.arguments)})"
        card = self.board.create_card(
            run=self.run_id,
            playbook=self.playbook,
            step=self.card.step,
            kind=kind,
            role=role.name,
            assignee=person,
            owner=role.owner,
            status=status,
            allowed=allowed,
            due=self.board.now() + sla,
            reason=reason,
            output=request.arguments,
            revision=self.card.revision,
            item=self.card.item,
            detail=detail,
            actor=role.name,
            chain=chain,
            sla=sla,
            webhook=session.webhook(person),
        )
        self.cards.note(card)
        session.observer.tool_call_waiting(card)
        session.notify(card)
        return card


def _arguments(arguments: Any, limit: int = 120) -> str:
    """A call's arguments in one short line: `channel='blog', title='Solar kettle…'`."""
    if not isinstance(arguments, dict):
        text = str(arguments)
    else:
        parts = []
        for name, value in arguments.items():
            shown = (
                repr(value)
                if not isinstance(value, str) or len(value) <= 40
                else repr(value[:39] + "…")
            )
            parts.append(f"{name}={shown}")
        text = ", ".join(parts)
    return text if len(text) <= limit else text[: limit - 1] + "…"
