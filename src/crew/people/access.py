"""Who may start and cancel runs.

- Starting a run: any person of `crew.yaml` (a project with no people lets anyone, since nobody
  could be named).
- Cancelling a run: the person who started it, the owners of its playbook's roles and checkpoints,
  and `settings.admins`.

The runtime calls these for the acting person of its session. A session with no person is crew
itself (retention, a Python caller that reached the Redis, which is inside the trust boundary).
A refusal is `NotAllowed`, naming who may.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from crew.exceptions import NotAllowed
from crew.spec.suggest import did_you_mean

if TYPE_CHECKING:
    from crew.board.runs import Run
    from crew.spec.models import PlaybookSpec
    from crew.spec.project import Project

__all__ = ["check_may_cancel", "check_may_start", "may_cancel"]


def check_may_start(project: Project, person: str | None) -> None:
    """Refuse a start by someone who is not a person of the project (crew itself may)."""
    people = project.crew.people
    if not people or person is None or person in people:
        return
    raise NotAllowed(
        f"only people of crew.yaml may start runs; '{person}' is not one of them",
        hint=did_you_mean(person, people, kind="People"),
    )


def may_cancel(project: Project, run: Run, playbook: PlaybookSpec | None) -> list[str]:
    """The people who may cancel `run`, in a stable order: its starter, its owners, the admins."""
    allowed: list[str] = [run.started_by] if run.started_by in project.crew.people else []
    for step in playbook.steps if playbook else []:
        if step.checkpoint is not None:
            allowed.append(step.checkpoint.owner)
        role = project.roles.get(step.role) if step.role else None
        if role is not None:
            allowed.append(role.owner)
    allowed.extend(project.crew.settings.admins)
    return list(dict.fromkeys(allowed))


def check_may_cancel(
    project: Project, run: Run, playbook: PlaybookSpec | None, person: str | None
) -> None:
    """Refuse a cancel by anyone but the people `may_cancel` names (crew itself may)."""
    if person is None:
        return
    allowed = may_cancel(project, run, playbook)
    if person in allowed:
        return
    raise NotAllowed(
        f"{person} may not cancel run {run.id}; who may: {', '.join(allowed) or 'nobody'}",
        hint="The run's starter, the owners of its playbook's steps, or settings.admins "
        "in crew.yaml.",
    )
