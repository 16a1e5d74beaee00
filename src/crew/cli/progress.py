"""A progress bar for long fan-outs, on a terminal: `research  ━━━━━━━━╸━━━━━  7/12  0:00:04`.

`crew run` prints a line per step as it starts and finishes (stderr). A `for_each` step over many
items would print two lines an item; on an interactive terminal, a fan-out of `LONG_FANOUT` items
or more shows one bar instead (rich's progress: items settled / total), and its items' lines are
left out, except what needs a person's eye (a failure, an escalation: printed above the bar).
Off a terminal (a pipe, a file, CI, `TERM=dumb`) nothing changes: the plain lines, one per event.

`with_fanout_bars(lines, console, quiet)` wraps the observer that prints the lines: it takes the
item events of long fan-outs and hands every other call (and every call off a terminal) to it.
"""

from __future__ import annotations

import atexit
import threading
from typing import TYPE_CHECKING, Any

from rich.console import Console

from crew.cli.display import markup
from crew.types import CardStatus

if TYPE_CHECKING:
    from rich.progress import Progress, TaskID

    from crew.board.cards import Card

__all__ = ["LONG_FANOUT", "FanOutBars", "with_fanout_bars"]

LONG_FANOUT = 4
"""A fan-out of this many items or more gets a bar (on a terminal)."""


def with_fanout_bars(lines: Any, console: Console, quiet: bool) -> Any:
    """`lines` (an Observer printing a line per event), with bars for long fan-outs when
    `console` is an interactive terminal; `lines` itself otherwise."""
    if quiet or not console.is_terminal or console.is_dumb_terminal:
        return lines
    return FanOutBars(lines, console)


def _total(card: Card) -> int | None:
    """How many items `card`'s fan-out runs, when it gets a bar. A retried item (`crew answer
    CARD retry`) runs alone, at a revision of its own: it gets its lines, not a bar."""
    detail = card.detail or {}
    items = detail.get("items")
    if detail.get("retry_of") or not isinstance(items, int) or items < LONG_FANOUT:
        return None
    return items


class FanOutBars:
    """An Observer (by duck typing: every call it does not take goes to `lines`) that shows long
    fan-outs as bars. Thread-safe: items of a fan-out run in parallel threads."""

    def __init__(self, lines: Any, console: Console) -> None:
        self.lines = lines
        self.console = console
        self.lock = threading.Lock()
        self.progress: Progress | None = None
        self.tasks: dict[tuple[str, int], TaskID] = {}
        self.settled: dict[tuple[str, int], int] = {}
        self.running: dict[tuple[str, int], int] = {}  # items started, not settled yet
        atexit.register(self.stop)  # a run that stops mid fan-out leaves the terminal as it was

    def __getattr__(self, name: str) -> Any:
        return getattr(self.lines, name)

    # What the bars take ---------------------------------------------------------------------

    def step_started(self, card: Card) -> None:
        if not self._advance(card, settled=False):
            self.lines.step_started(card)

    def step_finished(self, card: Card) -> None:
        if card.status is not CardStatus.DONE:
            self.lines.step_finished(card)  # a failure is worth a line above the bar
        if not self._advance(card, settled=True) and card.status is CardStatus.DONE:
            self.lines.step_finished(card)

    def step_reused(self, card: Card) -> None:
        if not self._advance(card, settled=True):
            self.lines.step_reused(card)

    def step_escalated(self, card: Card) -> None:
        self.lines.step_escalated(card)  # waits on a person: always a line
        self._advance(card, settled=True)

    def checkpoint_opened(self, card: Card) -> None:
        self.stop()  # the run waits on a person now: no bar stays up (had an item gone missing)
        self.lines.checkpoint_opened(card)

    def tool_call_waiting(self, card: Card) -> None:
        # An item's tool call waits on a person (its step may be asked about next): the bar
        # comes down; the items still running bring it back with their count.
        self.stop()
        self.lines.tool_call_waiting(card)

    # ----------------------------------------------------------------------------------------

    def _advance(self, card: Card, *, settled: bool) -> bool:
        """Count `card` on its fan-out's bar; False when it is no item of a long fan-out."""
        total = _total(card)
        with self.lock:
            if total is None:
                # Another step: once no item is running, the fan-out is over (a resumed run
                # runs only the items it lacked), so its bar comes down even short of its total.
                if self.progress is not None and not any(self.running.values()):
                    self.tasks.clear()
                    self._stop()
                return False
            key = (card.step, card.revision)
            if settled:
                self.running[key] = max(0, self.running.get(key, 0) - 1)
            else:
                self.running[key] = self.running.get(key, 0) + 1
            task = self.tasks.get(key)
            if task is None:
                if self.settled.get(key, 0) >= total:
                    return True  # that bar is finished (a late callback)
                task = self._bar(card, total)
            if settled:
                self.settled[key] = self.settled.get(key, 0) + 1
                assert self.progress is not None
                self.progress.update(task, completed=self.settled[key])
                if self.settled[key] >= total:
                    del self.tasks[key]
                    if not self.tasks:
                        self._stop()
        return True

    def _bar(self, card: Card, total: int) -> TaskID:
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
        )

        if self.progress is None:
            self.progress = Progress(
                TextColumn("{task.description}"),
                BarColumn(bar_width=None),
                MofNCompleteColumn(),
                TextColumn("items"),
                TimeElapsedColumn(),
                console=self.console,
                expand=False,
            )
            self.progress.start()
        name = f"[bold]{markup(card.step)}[/]" + (
            f" (revision {card.revision})" if card.revision else ""
        )
        done = self.settled.get((card.step, card.revision), 0)
        task = self.progress.add_task(name, total=total, completed=done)
        self.tasks[(card.step, card.revision)] = task
        return task

    def _stop(self) -> None:
        if self.progress is not None:
            self.progress.stop()  # the finished bar stays on screen, as a record
            self.progress = None

    def stop(self) -> None:
        with self.lock:
            self.tasks.clear()
            self._stop()
