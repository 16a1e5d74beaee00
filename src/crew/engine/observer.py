"""What a driven run tells whoever watches it: `Observer`, one method per kind of progress.

The runtime (`crew.engine.runtime`) and the step executor (`crew.engine.steps`) call it as a run is
driven;
a surface subclasses it to show progress (the CLI's progress lines). Every method does nothing
by default. It is called from the threads that run parallel steps, so an implementation must be
thread-safe.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from crew.board.cards import Card
    from crew.spec.snapshot import FileChange

__all__ = ["Observer"]


class Observer:
    """Progress of a run as it is driven; override what you want to show. Called from the
    threads that run parallel steps, so implementations must be thread-safe."""

    def step_started(self, card: Card) -> None:
        """An agent step (or fan-out item) started; the card is running."""

    def step_finished(self, card: Card) -> None:
        """An agent step finished: the card is done (or failed, with `card.reason`)."""

    def step_reused(self, card: Card) -> None:
        """A step that had finished before a crash: its output is reused, no model call."""

    def checkpoint_opened(self, card: Card) -> None:
        """A checkpoint card now waits on a person."""

    def step_escalated(self, card: Card) -> None:
        """An agent step's output went to a person (the card is escalated, with the reason)."""

    def tool_call_waiting(self, card: Card) -> None:
        """A tool call waits on a person (a `tool_call` card, or an escalation of a call that
        may or may not have run); the step goes on once it is decided."""

    def run_upgraded(self, run: str, old: str | None, new: str, changes: list[FileChange]) -> None:
        """The run now follows the current files (hashes `old` -> `new`; what changed)."""
