"""What a person sees and answers at a human checkpoint on a terminal (rich panels + a prompt).

`show_checkpoint` draws the question and every output the checkpoint shows; `ask_decision` asks
approve / reject (with a comment) / edit (the first shown output, in $EDITOR) and returns the
answer. An escalation is shown the same way (its reason as the question, the escalated output as
the one shown) and also takes retry (with guidance for the step). Nothing here touches the board:
the caller records the answer.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import yaml
from rich.console import Console, Group
from rich.panel import Panel
from rich.syntax import Syntax
from rich.text import Text

from crew.cli.display import block, markup
from crew.exceptions import ConfigError
from crew.types import CardKind, Decision

__all__ = [
    "CheckpointView",
    "ReviewAnswer",
    "ask_decision",
    "open_editor",
    "show_checkpoint",
    "to_yaml",
]

_CHOICES = {"a": Decision.APPROVE, "r": Decision.REJECT, "e": Decision.EDIT}


@dataclass(frozen=True)
class CheckpointView:
    """A waiting checkpoint, as the person answering it needs to see it."""

    card: str
    run: str
    playbook: str
    step: str
    question: str
    owner: str
    shown: Mapping[str, Any]
    revision: int = 0
    kind: CardKind = CardKind.CHECKPOINT
    """checkpoint, or escalation (which also takes retry)."""


@dataclass(frozen=True)
class ReviewAnswer:
    decision: Decision
    """approve, reject or edit; retry for an escalation."""
    comment: str = ""
    edited: str | None = None
    """On edit: the corrected output, as YAML text."""


def to_yaml(value: Any) -> str:
    """An output as block YAML, the way people read and edit it."""
    return yaml.safe_dump(value, sort_keys=False, allow_unicode=True, width=100).rstrip("\n")


def open_editor(text: str) -> str | None:
    """Edit `text` in $VISUAL / $EDITOR (default vi); None when it was saved unchanged.
    ConfigError (one line) when the editor saved something that is not UTF-8."""
    import os
    import shlex
    import subprocess
    import tempfile
    from pathlib import Path

    editor = os.environ.get("VISUAL") or os.environ.get("EDITOR") or "vi"
    with tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False, encoding="utf-8") as f:
        f.write(text)
    path = Path(f.name)
    try:
        # Like git and click: the variable may carry arguments, so the shell splits it.
        subprocess.run(f"{editor} {shlex.quote(str(path))}", shell=True, check=False)
        from crew.spec.yamlfile import read_text

        edited = read_text(path, what="the edited output")
    finally:
        path.unlink(missing_ok=True)
    return None if edited == text else edited


def show_checkpoint(console: Console, view: CheckpointView) -> None:
    """The question, then one panel per shown step output."""
    title = (
        f"{view.kind} [bold]{markup(view.step)}[/] · run {markup(view.run)} · "
        f"card {markup(view.card)}"
    )
    if view.revision:
        title += f" · revision {view.revision}"
    # The question and the outputs come from people and models: their lines stay inside a panel
    # and their control characters are shown, not sent to the terminal.
    question = Text(block(view.question), style="bold")
    console.print(Panel(question, title=title, border_style="cyan"))
    for step, output in view.shown.items():
        body: Any
        if output is None:
            body = Text("(no output: the step was skipped or has not run)", style="dim")
        else:
            text = block(to_yaml(output))
            body = Syntax(text, "yaml", word_wrap=True, background_color="default")
        console.print(Panel(Group(body), title=f"[bold]{markup(step)}[/]", border_style="blue"))


def ask_decision(
    console: Console,
    view: CheckpointView,
    *,
    edit: Callable[[str], str | None] | None = None,
) -> ReviewAnswer:
    """Ask until the person gives a valid answer; `edit` opens an editor on the text."""
    editable = next(iter(view.shown), None)
    escalation = view.kind is CardKind.ESCALATION
    question = "[bold]approve[/], [bold]reject[/] or [bold]edit[/]? "
    if escalation:
        question = "[bold]approve[/], [bold]edit[/], [bold]retry[/] or [bold]reject[/]? "
    while True:
        raw = console.input(question).strip().lower()
        decision = _CHOICES.get(raw) or _decision(raw)
        if decision is Decision.RETRY and escalation:
            guidance = ""
            while not guidance:
                guidance = console.input("guidance for the step (it runs again with it): ").strip()
            return ReviewAnswer(decision, guidance)
        if decision is Decision.APPROVE and escalation and editable is None:
            console.print("there is no valid output to approve; edit, retry or reject")
            continue
        if decision is Decision.APPROVE:
            return ReviewAnswer(decision, console.input("comment (optional): ").strip())
        if decision is Decision.REJECT:
            comment = ""
            while not comment:
                comment = console.input("why? (the comment goes back to the step): ").strip()
            return ReviewAnswer(decision, comment)
        if decision is Decision.EDIT:
            if editable is None:
                if escalation:
                    console.print(
                        "there is no valid output to edit here; retry or reject (or later: "
                        f"crew answer {view.card} edit --file FIXED.yaml)"
                    )
                else:
                    console.print("this checkpoint shows no output to edit; approve or reject")
                continue
            if edit is None:
                edit = open_editor
            header = f"# Edit the output of step '{editable}' (YAML). Save and close to submit.\n"
            try:
                text = edit(header + to_yaml(view.shown[editable]) + "\n")
            except ConfigError as error:  # e.g. saved in another encoding than UTF-8
                console.print(f"{markup(str(error))}; try again")
                continue
            if text is None:
                console.print("no change saved; nothing submitted")
                continue
            try:
                yaml.safe_load(text)
            except yaml.YAMLError as error:
                console.print(f"that is not valid YAML ({markup(error)}); try again")
                continue
            return ReviewAnswer(decision, console.input("comment (optional): ").strip(), text)
        choices = "approve, edit, retry or reject" if escalation else "approve, reject or edit"
        console.print(f"please type {choices} (not {markup(repr(raw))})")


def _decision(raw: str) -> Decision | None:
    try:
        return Decision(raw)
    except ValueError:
        return None
