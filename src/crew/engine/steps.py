"""The `StepExecutor` of a driven run (`crew.engine.graph`): every agent step execution is a card.

What a caller may rely on:

- **Cards are found before they are made.** An execution is keyed by (step kind, step, revision,
  item index); a node LangGraph runs again after a crash never makes a second card, a step
  whose card is done is not executed again (an escalation answered with an edit gives the
  edited output), and a card left running by a crashed driver is cancelled and run again.
- **Escalation.** An agent step whose output is not good enough (its confidence below the
  role's threshold, still invalid after retries, or its model call failed; see
  `crew.agents.escalation`) is decided in one place, `Steps._step_not_ok`: its card becomes an
  escalation assigned to the first person of the role's chain, due after the role's SLA, that
  person's webhook delivery is queued with it (`crew.people.notify` makes the attempts, in the
  background), and the step's review gate waits on the card like a checkpoint. A retry runs
  the step's next revision as a new card and closes the escalation card it answered.
- **Checkpoints** are cards waiting on their owner (and the owner's delegates) from the start.
"""

from __future__ import annotations

import contextlib
import threading
from typing import TYPE_CHECKING, Any, Protocol

from crew.board.cards import Card, CardKind, CardStatus, Lease
from crew.engine.lease import Cancelled, Heartbeat
from crew.engine.tool_journal import BoardJournal, ToolCards
from crew.exceptions import BoardError, CrewError, LeaseLost
from crew.spec.models import PlaybookSpec, RoleSpec, StepSpec
from crew.types import CheckpointGate, EscalationGate, StepOutcome, ToolCall

if TYPE_CHECKING:
    from crew.agents.escalation import Assessment
    from crew.agents.responders import Responder
    from crew.board.board import Board
    from crew.engine.graph import AgentTask, CheckpointTask
    from crew.engine.observer import Observer
    from crew.spec.project import Project

__all__ = ["AUTOMATED", "CardKey", "StepSession", "Steps", "key_of"]

AUTOMATED = "automated"
"""Who an automated step's card is assigned to, and who the audit trail says completed it."""


CardKey = tuple[str, str, int, int | None]  # kind, step, revision, item index


class StepSession(Protocol):
    """What the step executor needs of the session driving the run (`crew.engine.runtime.Session` is
    one): the project and board, who acts, the lease, progress and notifications."""

    project: Project
    board: Board
    observer: Observer
    holder: str
    """Names the driver on the cards it claims (their worker)."""
    lease_seconds: float

    @property
    def actor(self) -> str:
        """Who the audit trail names for the transitions of this run."""
        ...

    def webhook(self, person: str) -> str | None:
        """`person`'s webhook URL, queued with a transition that assigns them a card."""
        ...

    def notify(self, card: Card) -> None:
        """Start attempting the webhook delivery queued for `card`'s assignee."""
        ...


class Steps:
    """The `StepExecutor` of a driven run: cards on the board, agents through the responder."""

    def __init__(
        self,
        session: StepSession,
        playbook: PlaybookSpec,
        run_id: str,
        responder: Responder,
        heartbeat: Heartbeat,
    ) -> None:
        self.session, self.board = session, session.board
        self.playbook, self.run_id, self.responder = playbook, run_id, responder
        self.heartbeat = heartbeat
        self.lock = threading.Lock()
        # We hold the run lease, so no other process creates cards of this run meanwhile: one
        # read at the start is enough to find the cards of executions that happened before.
        self.known: dict[CardKey, str] = {}
        self.tool_cards = ToolCards()
        for card in self.board.cards_of_run(run_id):
            if card.detail.get("tool_call"):
                self.tool_cards.note(card)  # a tool call's card, not an execution's
                continue
            self.known[key_of(card, playbook)] = card.id

    def _find(self, key: CardKey) -> Card | None:
        with self.lock:
            card_id = self.known.get(key)
        return self.board.get(card_id) if card_id else None

    def _remember(self, key: CardKey, card: Card) -> None:
        with self.lock:
            self.known[key] = card.id

    # StepExecutor ---------------------------------------------------------------------------

    def run_agent(self, task: AgentTask) -> StepOutcome:
        self.heartbeat.check()
        step = task.step
        if step.human is not None:
            return self._run_human(task)
        if step.run is not None:
            return self._run_automated(task)
        key: CardKey = (str(CardKind.AGENT), step.id, task.revision, task.index)
        card = self._find(key)
        before = self._before(card, task)
        if before is not None:
            return before
        role = self.session.project.role(step.role or "")
        card, lease = self._begin(
            key,
            card,
            task,
            # A role with tools goes on from the card's transcript (recorded turns are not
            # asked again, recorded calls not run again); any other runs again on a new card.
            take_over="the driver stopped; the step goes on from its transcript"
            if role.tools
            else None,
            kind=CardKind.AGENT,
            role=role.name,
            assignee=role.name,
            owner=role.owner,
            detail=card_detail(task, role),
        )
        self.heartbeat.track(card.id, lease.token)
        try:
            self.session.observer.step_started(card)
            journal = None
            if role.tools:
                journal = BoardJournal(
                    self.session,
                    self.run_id,
                    self.playbook.name,
                    card,
                    lease.token,
                    role,
                    task.task,
                    self.tool_cards,
                )
            assessment = self._assess(step, task, role, journal)
            self.heartbeat.check()
            result = assessment.result
            if result.waiting:
                return self._wait_on_tool_call(card, lease.token, task, role, assessment)
            if assessment.escalate is None:
                done = self.board.complete(
                    card.id,
                    lease.token,
                    output=result.output,
                    confidence=assessment.score,
                    actor=role.name,
                    measured=measured(assessment),
                    usage=assessment.usage,
                )
                self.session.observer.step_finished(done)
                return StepOutcome(ok=True, output=result.output, confidence=assessment.score)
            return self._step_not_ok(card, lease.token, task, role, assessment)
        except CrewError as error:
            if not isinstance(error, LeaseLost | Cancelled):
                with contextlib.suppress(BoardError):
                    self.board.fail(card.id, lease.token, reason=str(error), actor=role.name)
            raise
        finally:
            self.heartbeat.track(card.id, None)

    def _run_automated(self, task: AgentTask) -> StepOutcome:
        """An automated step: its function called once per execution, its return value the
        output. A failure (a raise, a timeout, an output that does not fit) is escalated to the
        playbook's owner (else the run's starter), whose retry runs it again. A call cut short
        by a crash runs again only if the step is `idempotent`; else the owner decides."""
        from crew.agents.toolbox import python_function
        from crew.engine.automated import StepProblem, arguments, call, check_output
        from crew.spec.tools import ToolImportError

        step = task.step
        assert step.run is not None
        key: CardKey = (str(CardKind.AGENT), step.id, task.revision, task.index)
        card = self._find(key)
        before = self._before(card, task)
        if before is not None:
            return before
        owner = self._automation_owner()
        uncertain = False
        if card is not None and card.status is CardStatus.RUNNING:
            started = any("started" in e for e in self.board.transcript(card.id))
            uncertain = started and not step.idempotent
        detail: dict[str, Any] = {"run": step.run}
        if task.index is not None:
            detail.update(index=task.index, items=task.items)
        if task.retry_of:
            detail.update(retry_of=task.retry_of, guidance=task.guidance)
        card, lease = self._begin(
            key,
            card,
            task,
            take_over="the driver stopped while the step ran",
            kind=CardKind.AGENT,
            assignee=AUTOMATED,
            owner=owner,
            detail=detail,
        )
        self.heartbeat.track(card.id, lease.token)
        try:
            self.session.observer.step_started(card)
            if uncertain:
                raise StepProblem(
                    f"{step.run} may or may not have run: the run stopped while it ran "
                    "(retry runs it again, edit gives its output, reject ends the run)"
                )
            try:
                function = python_function(self.session.project.root, step.run)
            except ToolImportError as error:
                raise StepProblem(error.message) from None
            call_id = f"{card.id}.run"
            kwargs = arguments(
                function, task.context, ToolCall(self.run_id, card.id, call_id, None)
            )
            self.board.record(card.id, lease.token, {"started": [call_id]})
            value = call(function, kwargs, step.timeout)
            output = check_output(step.output, value)
            self.heartbeat.check()
            done = self.board.complete(card.id, lease.token, output=output, actor=AUTOMATED)
            self.session.observer.step_finished(done)
            return StepOutcome(ok=True, output=output)
        except StepProblem as problem:
            return self._automation_failed(card, lease.token, task, owner, str(problem))
        finally:
            self.heartbeat.track(card.id, None)

    def _before(self, card: Card | None, task: AgentTask) -> StepOutcome | None:
        """What an execution that happened before comes to (None: it runs now). Done: its
        output (an escalation answered with an edit: the edit), no call again; failed: not ok;
        waiting on a person (escalated before a crash saved the step): its gate again."""
        if card is None:
            return None
        if card.status is CardStatus.DONE:
            self.session.observer.step_reused(card)
            answer = card.decision
            output = card.output
            if answer is not None and answer.edited_output is not None:
                output = answer.edited_output
            return StepOutcome(ok=True, output=output, confidence=card.confidence)
        if card.status is CardStatus.FAILED:
            return StepOutcome(ok=False, reason=card.reason or str(CardStatus.FAILED))
        if card.status.waits_on_person:
            return StepOutcome(
                ok=False, reason=card.reason or "", escalation=escalation_of(card, task)
            )
        return None

    def _begin(
        self,
        key: CardKey,
        card: Card | None,
        task: AgentTask,
        *,
        take_over: str | None,
        **new: Any,
    ) -> tuple[Card, Lease]:
        """The execution's card, running under this driver's lease: the queued one claimed, a
        crashed driver's taken over (`take_over`: why; else cancelled and a new card made), or
        a new one (`new`: its fields) created and claimed in one round trip."""
        lease = None
        if card is not None and card.status is not CardStatus.QUEUED:
            if take_over is not None:
                lease = self.board.take_over(
                    card.id, self.session.holder, self.session.lease_seconds, reason=take_over
                )
            else:  # close the crashed driver's card honestly; the step runs again
                with contextlib.suppress(BoardError):
                    self.board.cancel(
                        card.id, actor=self.session.holder, reason="driver stopped; step runs again"
                    )
                card = None
        if card is None:
            card, lease = self.board.start_card(
                worker=self.session.holder,
                lease_seconds=self.session.lease_seconds,
                run=self.run_id,
                playbook=self.playbook.name,
                step=task.step.id,
                item=task.item,
                revision=task.revision,
                actor=self.session.actor,
                **new,
            )
            self._remember(key, card)
        elif lease is None:
            lease = self.board.claim(card.id, self.session.holder, self.session.lease_seconds)
        if task.retry_of:
            self._close_retried(task.retry_of, card)
        return card, lease

    def _automation_owner(self) -> str:
        if self.playbook.owner:
            return self.playbook.owner
        return self.board.get_run(self.run_id).started_by or self.session.actor

    def _automation_failed(
        self, card: Card, token: str, task: AgentTask, owner: str, reason: str
    ) -> StepOutcome:
        project = self.session.project
        sla = project.crew.settings.sla
        escalated = self.board.wait(
            card.id,
            token,
            kind=CardKind.ESCALATION,
            assignee=owner,
            allowed=project.may_answer_checkpoint(owner),
            due=self.board.now() + sla,
            reason=reason,
            actor=AUTOMATED,
            chain=[owner],
            sla=sla,
            webhook=self.session.webhook(owner),
        )
        self.session.observer.step_escalated(escalated)
        self.session.notify(escalated)
        return StepOutcome(ok=False, reason=reason, escalation=escalation_of(escalated, task))

    def _run_human(self, task: AgentTask) -> StepOutcome:
        """A human work step: a `task` card waiting on its owner (and their delegates), with
        the rendered task and the fields to submit; its review gate waits on it, and the output
        submitted flows on like an agent's."""
        step, human = task.step, task.step.human
        assert human is not None
        key: CardKey = (str(CardKind.AGENT), step.id, task.revision, task.index)
        card = self._find(key)
        if card is None:
            project = self.session.project
            owner = human.owner
            chain = project.with_backup(owner)
            sla = human.sla if human.sla is not None else project.crew.settings.sla
            detail: dict[str, Any] = {
                "task": task.task,
                "output": {
                    name: spec.model_dump(mode="json", exclude_none=True)
                    for name, spec in human.output.items()
                },
            }
            if task.index is not None:
                detail.update(index=task.index, items=task.items)
            first_line = task.task.strip().splitlines()[0] if task.task.strip() else step.id
            card = self.board.create_card(
                run=self.run_id,
                playbook=self.playbook.name,
                step=step.id,
                kind=CardKind.TASK,
                assignee=owner,
                owner=owner,
                status=CardStatus.WAITING,
                allowed=project.may_answer_checkpoint(owner),
                due=self.board.now() + sla,
                reason=first_line if len(first_line) <= 200 else first_line[:199] + "…",
                revision=task.revision,
                item=task.item,
                detail=detail,
                actor=self.session.actor,
                chain=chain,
                sla=sla,
                webhook=self.session.webhook(owner),
            )
            self._remember(key, card)
            self.session.observer.checkpoint_opened(card)
            self.session.notify(card)
        elif card.status is CardStatus.DONE and card.decision is not None:
            self.session.observer.step_reused(card)
            return StepOutcome(ok=True, output=card.decision.edited_output)
        return StepOutcome(ok=False, reason=card.reason or "", escalation=escalation_of(card, task))

    def _assess(
        self, step: StepSpec, task: AgentTask, role: RoleSpec, journal: BoardJournal | None
    ) -> Assessment:
        from crew.agents.escalation import assess

        guidance = "\n\n".join(text for text in (task.feedback, task.guidance) if text)
        return assess(
            self.session.project,
            role,
            task.task,
            step=step.id,
            responder=self.responder,
            item=task.index,
            items=task.items,
            revision=task.revision,
            guidance=guidance or None,
            journal=journal,
        )

    def _wait_on_tool_call(
        self, card: Card, token: str, task: AgentTask, role: RoleSpec, assessment: Assessment
    ) -> StepOutcome:
        """The step waits on people's decisions on tool calls: its card is handed back (queued,
        with why) and the step's review gate waits on the first of those cards; once it is
        answered the step runs again and its tool loop goes on from the transcript."""
        result = assessment.result
        self.board.release(
            card.id,
            token,
            actor=role.name,
            reason=result.reason or "waiting on a tool call's decision",
            usage=assessment.usage,
        )
        waiting = self.board.get(result.waiting[0].card)
        gate = escalation_of(waiting, task)
        gate["continues"] = True
        return StepOutcome(ok=False, reason=waiting.reason or "", escalation=gate)

    def _close_retried(self, card_id: str, retry: Card) -> None:
        """The escalation card answered `retry` went back to queued; this execution replaces it."""
        with contextlib.suppress(BoardError):
            old = self.board.get(card_id)
            if old.status is CardStatus.QUEUED:
                self.board.cancel(
                    old.id,
                    actor=self.session.actor,
                    reason=f"retried: runs again as card {retry.id} (revision {retry.revision})",
                )

    def _step_not_ok(
        self, card: Card, token: str, task: AgentTask, role: RoleSpec, assessment: Assessment
    ) -> StepOutcome:
        """What an agent step whose output is not good enough does to the run: the card is
        escalated to the first person of the role's chain, with the reason and the output (if
        any); the step's review gate then waits on that person."""
        project = self.session.project
        chain = project.escalation_chain(role)
        sla = project.sla_for(role)
        reason = assessment.escalate or "not ok"
        result = assessment.result
        escalated = self.board.wait(
            card.id,
            token,
            kind=CardKind.ESCALATION,
            assignee=chain[0],
            allowed=[chain[0]],
            due=self.board.now() + sla,
            reason=reason,
            output=result.output if result.ok else None,
            confidence=assessment.score,
            actor=role.name,
            chain=chain,
            sla=sla,
            measured=measured(assessment),
            webhook=self.session.webhook(chain[0]),
            usage=assessment.usage,
            why=assessment.why,
        )
        self.session.observer.step_escalated(escalated)
        self.session.notify(escalated)
        payload = escalation_of(escalated, task)
        if assessment.confidence is not None:
            payload["confidence"] = assessment.confidence.to_dict()
        if not result.ok and result.raw is not None:
            payload["answer"] = result.raw  # the last invalid answer, for the person to see
        return StepOutcome(ok=False, reason=reason, escalation=payload)

    def open_checkpoint(self, task: CheckpointTask) -> CheckpointGate:
        self.heartbeat.check()
        spec = task.step.checkpoint
        assert spec is not None
        key: CardKey = (str(CardKind.CHECKPOINT), task.step.id, task.revision, None)
        card = self._find(key)
        if card is None:
            due = self.board.now() + self.session.project.crew.settings.sla
            card = self.board.create_card(
                run=self.run_id,
                playbook=self.playbook.name,
                step=task.step.id,
                kind=CardKind.CHECKPOINT,
                assignee=spec.owner,
                owner=spec.owner,
                status=CardStatus.WAITING,
                allowed=self.session.project.may_answer_checkpoint(spec.owner),
                due=due,
                reason=task.question,
                output=task.shown,
                revision=task.revision,
                detail={"question": task.question, "show": list(spec.show)},
                actor=self.session.actor,
                webhook=self.session.webhook(spec.owner),
            )
            self._remember(key, card)
            self.session.observer.checkpoint_opened(card)
            self.session.notify(card)
        return CheckpointGate(
            card=card.id,
            step=task.step.id,
            owner=spec.owner,
            question=task.question,
            revision=task.revision,
        )


def key_of(card: Card, playbook: PlaybookSpec) -> CardKey:
    """Which execution a card is for. The step's kind comes from the playbook, not the card:
    an agent step's card may have become an escalation while it waited on its owner."""
    try:
        checkpoint = playbook.step(card.step).checkpoint is not None
    except KeyError:  # a step the playbook no longer has
        checkpoint = card.kind is CardKind.CHECKPOINT
    kind = CardKind.CHECKPOINT if checkpoint else CardKind.AGENT
    index = None if checkpoint else card.detail.get("index")
    return (str(kind), card.step, card.revision, index if isinstance(index, int) else None)


def card_detail(task: AgentTask, role: RoleSpec) -> dict[str, Any]:
    """What an agent card keeps of its execution: the task asked, which item it is, and how its
    confidence is measured (the score is the card's `confidence`; its parts are in the card's
    `completed` / `escalated` audit event and the escalation's reason)."""
    spec = role.confidence
    measured = {"method": str(spec.method), "threshold": spec.threshold}
    detail: dict[str, Any] = {"task": task.task, "confidence": measured}
    if task.index is not None:
        detail.update(index=task.index, items=task.items)
    if task.retry_of:
        detail.update(retry_of=task.retry_of, guidance=task.guidance)
    return detail


def measured(assessment: Assessment) -> dict[str, Any] | None:
    return None if assessment.confidence is None else assessment.confidence.to_dict()


def escalation_of(card: Card, task: AgentTask) -> EscalationGate:
    """What an escalation's review gate waits with: the card, and what a person needs."""
    return EscalationGate(
        card=card.id,
        step=card.step,
        kind=str(card.kind),
        assignee=card.assignee,
        reason=card.reason or "",
        revision=task.revision,
        index=task.index,
        item=task.item,
        task=task.task,
        output=card.output,
    )
