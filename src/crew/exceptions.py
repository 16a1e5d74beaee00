"""Every error crew raises on purpose.

    CrewError                 anything crew raises on purpose; the CLI prints it as one line
    ├── ConfigError           you configured it wrong: project files, names, inputs (exit 2)
    ├── RedisUnavailable      the Redis named by the settings cannot be used (exit 2)
    ├── BoardError            the board refused a transition; nothing was changed (exit 2)
    │   ├── CardNotFound      no card with that id on this board
    │   ├── NotAllowed        this person may not act on this card (names who may)
    │   ├── AlreadyDecided    a second answer to a card (names who answered first)
    │   ├── WrongStatus       the card is not in a status that allows this transition
    │   ├── LeaseLost         the caller's lease expired or was taken over (stale token)
    │   └── RunExists         a new run's id is taken (or a run with that id left data behind)
    └── RunError              a run could not go on (model failures, missing cassette entries)

A `ConfigError` carries every problem found (`problems`), each with the file, the line, what is
wrong and a hint, so `crew validate` can report them all at once.
"""

from __future__ import annotations

from dataclasses import dataclass


class CrewError(Exception):
    """Base class of every error crew raises on purpose."""

    hint: str = ""

    def __init__(self, message: str, *, hint: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        if not self.hint:
            return self.message
        stop = "" if self.message.endswith((".", "!", "?", ":")) else "."
        return f"{self.message}{stop} {self.hint}"


@dataclass(frozen=True, order=True)
class Problem:
    """One thing wrong in a project file: `file:line: message. hint`."""

    file: str
    line: int
    message: str
    hint: str = ""

    def __str__(self) -> str:
        text = f"{self.file}:{self.line}: {self.message.rstrip('.')}."
        return f"{text} {self.hint}" if self.hint else text


class ConfigError(CrewError):
    """The user's configuration (files, names, inputs, options) is wrong."""

    def __init__(self, message: str, *, hint: str = "", problems: list[Problem] | None = None):
        super().__init__(message, hint=hint)
        self.problems: list[Problem] = list(problems or [])

    @classmethod
    def from_problems(cls, problems: list[Problem]) -> ConfigError:
        problems = sorted(problems)
        head = str(problems[0]) if problems else "invalid project"
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        return cls(head + more, problems=problems)

    def __str__(self) -> str:
        if self.problems:
            return "\n".join(str(p) for p in self.problems)
        return super().__str__()


class RedisUnavailable(CrewError):
    """The Redis server named by the settings is unreachable, too old, or refuses us."""


class BoardError(CrewError):
    """The board refused a transition. Nothing on the board was changed."""


class CardNotFound(BoardError):
    """No card with that id exists on this board."""


class NotAllowed(BoardError):
    """The acting person may not perform this transition; the message names who may."""


class AlreadyDecided(BoardError):
    """The card was already answered; the message names who answered and when."""


class WrongStatus(BoardError):
    """The card's current status (or version) does not allow this transition."""


class LeaseLost(BoardError):
    """The caller's lease token is stale: it expired, or another worker holds the card now."""


class RunExists(BoardError):
    """A run with that id exists, or left something behind (cards, events, saved state)."""


class RunError(CrewError):
    """A run could not continue: the model kept failing, a cassette lacked an entry, ..."""
