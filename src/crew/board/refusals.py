"""A board script's refusal, decoded by name into the error it stands for.

A script that refuses a transition writes nothing and returns ``{'err', JSON object}``: the
object's `code` names the refusal and its other fields are named too (`refuse` in
`scripts/_common.lua`; each script lists its refusals and their fields at its top). This module
is the one place that reads them: `Refusal.of(reply)` decodes one, `Refusal.error` turns it into
the `CrewError` a caller sees.

    code          fields                                  error
    not_found     card | run                              CardNotFound | BoardError
    not_allowed   card, person, allowed, assignee,        NotAllowed (names who may)
                  kind, step
    decided       card, by, decision, at, version         AlreadyDecided (names who, when)
    status        card, status, worker, wanted, done      WrongStatus
                  | run, status[, to]
    version       card, version, expected                 WrongStatus
    lease_lost    card, status, worker, token             LeaseLost
                  | run, status, holder, token[, stale]
    changed       run, pinned                             WrongStatus
    exists        run                                     RunExists
    card_exists   counter, card, number                   BoardError (Redis lost keys)
    seq_lost      counter, last                           BoardError (Redis lost keys)
    decision      card, decision                          ConfigError

Some refusals are outcomes a caller expects rather than errors (`flagged` from overdue.lua,
`gone` and `stale` from outbox_report.lua): the caller reads their `code`.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from crew.board.cards import Decision, card_id, iso
from crew.exceptions import (
    AlreadyDecided,
    BoardError,
    CardNotFound,
    ConfigError,
    CrewError,
    LeaseLost,
    NotAllowed,
    RunExists,
    WrongStatus,
)

__all__ = ["Refusal", "answerers"]


@dataclass(frozen=True)
class Refusal:
    """A script's refusal: its `code` and its named fields (strings; '' when left out)."""

    code: str
    fields: dict[str, Any]

    @classmethod
    def of(cls, reply: Sequence[Any]) -> Refusal | None:
        """The refusal a script replied, or None for an ``{'ok', ...}`` reply."""
        if not reply or reply[0] != "err":
            return None
        fields = json.loads(reply[1])
        return cls(str(fields.pop("code")), fields)

    def __getitem__(self, name: str) -> str:
        value = self.fields.get(name)
        return "" if value is None else str(value)

    def error(self, board: str) -> CrewError:
        """The error this refusal stands for, on board `board` (its name)."""
        if "run" in self.fields:
            return _run_error(self, board)
        return _card_error(self, board)


def answerers(assignee: str, allowed: Iterable[str]) -> list[str]:
    """Who a waiting card waits on, in the order crew names them: the assignee, then everyone
    else allowed to answer."""
    people = [assignee]
    for person in allowed:
        if person not in people:
            people.append(person)
    return people


def _card_error(refused: Refusal, board: str) -> CrewError:
    code, card = refused.code, refused["card"]
    if code == "not_found":
        return CardNotFound(
            f"no card {card!r} on board {board!r}",
            hint="See `crew inbox` or `crew board` for card ids.",
        )
    if code == "lease_lost":
        status, worker = refused["status"], refused["worker"]
        holder = f" by {worker}" if status == "running" and worker else ""
        return LeaseLost(
            f"lease on card {card} lost: it is {status}{holder} now "
            f"(current token {refused['token'] or '-'})",
            hint="Stop working on it; the reaper requeued it or another worker has it.",
        )
    if code == "not_allowed":
        allowed = json.loads(refused["allowed"]) if refused["allowed"] else []
        assignee = refused["assignee"]
        may = answerers(assignee, allowed) if assignee else allowed
        return NotAllowed(
            f"{refused['person']} may not answer card {card} ({refused['kind']} "
            f"{refused['step']}): only {_or(may)} may",
            hint="Ask them, or answer as one of them with --as PERSON.",
        )
    if code == "decided":
        return AlreadyDecided(
            f"card {card} was already answered: {refused['decision']} by {refused['by']} at "
            f"{iso(float(refused['at']))} (card version {refused['version']})",
            hint="Nothing changed.",
        )
    if code == "version":
        return WrongStatus(
            f"card {card} changed since it was read (version {refused['version']} now, "
            f"{refused['expected']} expected)",
            hint="Read it again and retry.",
        )
    if code == "status":
        status, worker = refused["status"], refused["worker"]
        holder = f" (claimed by {worker})" if status == "running" and worker else ""
        return WrongStatus(
            f"card {card} is {status}{holder}; only a card that is {refused['wanted']} can be "
            f"{refused['done']}"
        )
    if code == "decision":
        choices = ", ".join(str(member) for member in Decision)
        return ConfigError(
            f"unknown decision {refused['decision']!r}", hint=f"Use one of: {choices}."
        )
    if code in ("card_exists", "seq_lost"):
        return _lost_keys(refused)
    return BoardError(f"card {card}: the board refused it ({code})")


def _run_error(refused: Refusal, board: str) -> CrewError:
    code, run = refused.code, refused["run"]
    if code == "not_found":
        return BoardError(f"no run {run!r} on board {board!r}", hint="See `crew runs` for run ids.")
    if code == "exists":
        return RunExists(f"run {run!r} already exists on board {board!r}", hint="Use a new run id.")
    if code == "status":
        status, to = refused["status"], refused["to"]
        if to:
            return WrongStatus(f"run {run} is already {status}; a finished run cannot become {to}")
        return WrongStatus(f"run {run} is already {status}; it cannot be upgraded")
    if code == "lease_lost":
        message = f"lease on run {run} lost: {refused['holder'] or 'nobody'} holds it now"
        if refused["stale"]:
            message += f" (token {refused['token'] or '-'}); token {refused['stale']} is stale"
        return LeaseLost(message, hint="Stop driving this run; another process took it over.")
    if code == "changed":
        return WrongStatus(
            f"run {run} was moved to another playbook version meanwhile",
            hint=f"See `crew status {run}`, then try again.",
        )
    return BoardError(f"run {run}: the board refused it ({code})")


def _lost_keys(refused: Refusal) -> BoardError:
    """A card is never created over another, nor numbered from c1 again on a board that lost
    its id counter: both mean Redis lost keys (see next_card_id in _common.lua)."""
    counter, count = refused["counter"], refused["number"] or refused["last"]
    fix = "Make Redis keep every key (maxmemory-policy noeviction); then"
    new_board = "or use a new board (settings.board / CREW_BOARD)."
    if refused.code == "card_exists":
        return BoardError(
            f"card {refused['card']} already exists: the board's id counter went back — was "
            "Redis evicting keys or restored from an old backup? Nothing was created or "
            "overwritten",
            hint=f"{fix} set the counter past the board's highest card id "
            f"(redis-cli SET '{counter}' N), {new_board}",
        )
    repair = (
        f"if nothing else was lost, `redis-cli SET '{counter}' {count}` continues after "
        f"{card_id(int(count))},"
        if count
        else f"set it past the board's highest card id (redis-cli SET '{counter}' N),"
    )
    return BoardError(
        f"the board's id counter ({counter}) is missing but the board has had cards — was "
        "Redis evicting keys or restored from an old backup? Card ids would start again at "
        "c1 and overwrite cards, so nothing was created",
        hint=f"{fix} {repair} {new_board}",
    )


def _or(people: Sequence[str]) -> str:
    if len(people) <= 1:
        return people[0] if people else "nobody"
    return ", ".join(people[:-1]) + " or " + people[-1]
