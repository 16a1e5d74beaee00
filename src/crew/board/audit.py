"""The audit chain of a run: every event carries the hash of the one before (DESIGN §8).

What a caller may rely on: the board's scripts (`log_event` in scripts/_common.lua) give each
event of a run `prev` (the hash of the run's previous event, `""` for its first) and `hash`
(`event_hash` of its fields), and keep the newest hash on the run record (`audit_head`), all in
the transition's atomic step. `check_chain` reads a run's events as stored and returns every
place the chain does not hold, as `Break`s:

- `hash`: an event's fields do not hash to its `hash` (it was edited after it was written);
- `prev`: an event's `prev` is not the hash of the event before it (an event was deleted,
  inserted, or rewritten with a new hash);
- `head`: the newest event is not the one the run record names (newer events were deleted);
- `text`: a long text an event refers to (`crew.board.texts`) is missing or was changed.

The hash is SHA-1 because it is the only hash a Redis script has (`redis.sha1hex`); see the
comment above `log_event`. What the chain proves, and what it cannot, is in the README's threat
model: anyone able to write to the Redis can rewrite a whole chain from an event on (and the
run record's head with it); signatures (`crew.people.signing`) are what bind decisions to people.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from crew.board.scripts import RUN_EVENTS_MAXLEN
from crew.board.texts import MARK, text_name

if TYPE_CHECKING:
    from crew.board.board import Board

__all__ = ["CHAIN_FIELDS", "Break", "ChainReport", "check_chain", "event_hash"]

CHAIN_FIELDS = ("at", "card", "run", "event", "actor", "version", "detail", "prev")
"""The fields an event's hash covers, in order (as log_event in scripts/_common.lua)."""
_PAGE = 1000


def event_hash(fields: Mapping[str, str]) -> str:
    """The hash `log_event` gives an event with these stored fields."""
    lines = []
    for name in CHAIN_FIELDS:
        value = fields.get(name) or ""
        lines.append(f"{name}:{len(value.encode())}:{value}")
    # Not a security hash by choice: it is the one Redis's Lua offers (see the module docstring).
    return hashlib.sha1("\n".join(lines).encode(), usedforsecurity=False).hexdigest()


@dataclass(frozen=True)
class Break:
    """One place where the audit trail does not hold: the event (its stream id, name and card),
    what was checked (`hash`, `prev`, `head`, `text`, `signature`), what was expected, what was
    found, and what that means."""

    run: str
    event: str
    name: str
    card: str | None
    what: str
    expected: str
    found: str
    why: str

    def to_json(self) -> dict[str, Any]:
        return {
            "run": self.run,
            "event": self.event,
            "name": self.name,
            "card": self.card,
            "what": self.what,
            "expected": self.expected,
            "found": self.found,
            "why": self.why,
        }


@dataclass(frozen=True)
class ChainReport:
    """A run's chain: how many events were checked and where it breaks; `stored`: the events
    as read (id, fields as Redis holds them), oldest first, for a caller that reads them too
    (`Board.events_from_stored`)."""

    run: str
    events: int
    breaks: list[Break]
    stored: list[tuple[str, dict[str, str]]] = field(default_factory=list)


def check_chain(board: Board, run: str) -> ChainReport:
    """Check the audit chain of `run` as stored on `board` (see the module docstring)."""
    breaks: list[Break] = []
    stored: list[tuple[str, dict[str, str]]] = []
    count = 0
    last_hash: str | None = None
    last: tuple[str, dict[str, str]] | None = None
    after: str | None = None
    while True:
        page = board.stored_events(run, after=after, limit=_PAGE)
        for entry_id, fields in page:
            breaks.extend(_check_event(board, run, entry_id, fields, last_hash, count))
            stored.append((entry_id, fields))
            last_hash = fields.get("hash", "")
            last = (entry_id, fields)
            count += 1
        if len(page) < _PAGE:
            break
        after = page[-1][0]
    head = board.audit_head(run)
    if head is not None and head != (last_hash or ""):
        entry_id, fields = last if last is not None else ("", {})
        breaks.append(
            Break(
                run,
                entry_id,
                fields.get("event", ""),
                fields.get("card") or None,
                "head",
                head,
                last_hash or "no events",
                "the run record names a newer event than the newest one stored: events were "
                "deleted",
            )
        )
    return ChainReport(run, count, breaks, stored)


def _check_event(
    board: Board,
    run: str,
    entry_id: str,
    fields: dict[str, str],
    last_hash: str | None,
    index: int,
) -> list[Break]:
    name, card = fields.get("event", ""), fields.get("card") or None

    def broken(what: str, expected: str, found: str, why: str) -> Break:
        return Break(run, entry_id, name, card, what, expected, found, why)

    found: list[Break] = []
    stored = fields.get("hash")
    computed = event_hash(fields)
    if stored is None:
        found.append(broken("hash", computed, "none", "the event carries no hash"))
    elif stored != computed:
        found.append(
            broken("hash", computed, stored, "its fields changed after it was written")
        )
    prev = fields.get("prev", "")
    if last_hash is None:
        # The run's first stored event: '' unless older ones were trimmed (a stream that long).
        if prev and index == 0 and not _maybe_trimmed(board, run):
            found.append(
                broken("prev", "", prev, "an event before the run's first stored one is gone")
            )
    elif prev != last_hash:
        found.append(
            broken(
                "prev",
                last_hash,
                prev or "none",
                "the event before it is not the one it was written after: an event was "
                "deleted, inserted or rewritten",
            )
        )
    detail = fields.get("detail") or ""
    if detail.startswith(MARK):
        found.extend(_check_texts(board, run, detail, broken))
    return found


def _maybe_trimmed(board: Board, run: str) -> bool:
    return len(board.stored_events(run, limit=RUN_EVENTS_MAXLEN)) >= RUN_EVENTS_MAXLEN


def _check_texts(board: Board, run: str, detail: str, broken: Any) -> list[Break]:
    """Each text the detail refers to is stored and still hashes to its name."""
    try:
        pieces = json.loads(detail[len(MARK) :])
    except ValueError:
        return [broken("text", "a list of pieces", detail[:40], "its reference is garbled")]
    names = [p["t"] for p in pieces if isinstance(p, dict) and isinstance(p.get("t"), str)]
    found = []
    for name, text in board.stored_texts(run, names).items():
        if text is None:
            found.append(broken("text", name, "missing", "a text the event refers to is gone"))
            continue
        actual = text_name(text)
        if actual != name:
            found.append(
                broken("text", name, actual, "a text the event refers to was changed")
            )
    return found
