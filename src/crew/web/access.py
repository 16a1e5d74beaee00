"""What a person signed in to `crew serve` may see: the board's own rules, nothing more.

- A card: one they may answer (assignee, delegates) or answered, or a card of a run they may see.
- A run: one they started, or a run of a playbook they take part in: they own one of its roles,
  checkpoints or human steps, or the playbook (its automated steps), or are the delegate or
  backup of such an owner, or an admin (`settings.admins`).
Answering follows exactly the CLI's rules: `crew.people.answering.answer_card` decides.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable

    from crew.board.cards import Card
    from crew.board.runs import Run
    from crew.spec.project import Project

__all__ = ["may_see_card", "may_see_run", "takes_part"]


def takes_part(project: Project, playbook_name: str) -> set[str]:
    """The people who take part in playbook `playbook_name` (see the module docstring)."""
    playbook = project.playbooks.get(playbook_name)
    owners: set[str] = set(project.crew.settings.admins)
    if playbook is not None:
        if playbook.owner:
            owners.add(playbook.owner)
        for step in playbook.steps:
            if step.checkpoint is not None:
                owners.add(step.checkpoint.owner)
            if step.human is not None:
                owners.add(step.human.owner)
            role = project.roles.get(step.role) if step.role else None
            if role is not None:
                owners.add(role.owner)
    people = set(owners)
    for owner in owners:
        spec = project.crew.people.get(owner)
        if spec is not None:
            people.update(spec.delegates)
            if spec.backup:
                people.add(spec.backup)
    return people


def may_see_run(project: Project, person: str, run: Run) -> bool:
    return run.started_by == person or person in takes_part(project, run.playbook)


def may_see_card(
    project: Project, person: str, card: Card, run: Run | Callable[[], Run | None] | None
) -> bool:
    """`run` (None: gone) may be a function reading it: it is called only when the card and its
    playbook do not already let `person` see the card (a board page reads few runs then)."""
    if person in card.may_answer or person in (card.assignee, card.owner):
        return True
    if card.decision is not None and card.decision.by == person:
        return True
    if person in takes_part(project, card.playbook):
        return True
    found = run() if callable(run) else run
    return found is not None and found.started_by == person
