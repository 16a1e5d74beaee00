"""`crew audit`: does a run's audit trail hold, and who decided, provably?

What a caller may rely on:

- `audit_run` checks a run's audit chain (`crew.board.audit.check_chain`: every event carries
  the hash of the one before; edits, deletions and insertions break it) and every signed
  decision in it: its `answered` event's signature must verify (`crew.people.signing`) with a
  key crew.yaml lists for the person (or an authority's), and the event must say what was
  signed (card, who, decision, comment). Each thing that does not hold is a `Break`.
- `export_decision` writes a card's signed decision as three files `ssh-keygen -Y verify -n crew`
  checks on its own: the exact message signed, its signature and an allowed-signers file.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from crew.board.audit import Break, check_chain
from crew.exceptions import ConfigError
from crew.people.signing import NAMESPACE, Payload, verify_payload

if TYPE_CHECKING:
    from crew.board.board import Board
    from crew.board.cards import Card
    from crew.board.events import Event
    from crew.spec.project import Project

__all__ = ["Exported", "RunAudit", "audit_run", "export_decision"]


@dataclass(frozen=True)
class RunAudit:
    """One run's audit: events checked, signed decisions checked, and every break."""

    run: str
    events: int
    signatures: int
    breaks: list[Break] = field(default_factory=list)
    refused: list[Event] = field(default_factory=list)
    """The decisions a driver refused (`refused_decision` events): the trail holds, and says so."""

    @property
    def ok(self) -> bool:
        return not self.breaks

    def to_json(self) -> dict[str, Any]:
        return {
            "run": self.run,
            "ok": self.ok,
            "events": self.events,
            "signatures": self.signatures,
            "breaks": [b.to_json() for b in self.breaks],
            "refused": [e.to_json() for e in self.refused],
        }


def audit_run(project: Project, board: Board, run: str) -> RunAudit:
    """Check `run`'s chain and every signed decision in it (see the module docstring)."""
    chain = check_chain(board, run)
    breaks = list(chain.breaks)
    signatures = 0
    answered: dict[str, Event] = {}
    refused: list[Event] = []
    for event in board.events_from_stored(chain.stored):  # the events the chain read
        if event.event == "refused_decision":
            refused.append(event)
            if event.card:
                answered.pop(event.card, None)
        if event.event != "answered":
            continue
        if event.card:
            answered[event.card] = event
        if not event.detail.get("signature"):
            if event.detail.get("verified") or event.detail.get("verified_by"):
                breaks.append(
                    Break(
                        run,
                        event.id,
                        event.event,
                        event.card,
                        "signature",
                        "a signature, as it claims to be verified",
                        "none",
                        "a decision recorded as verified carries no signature",
                    )
                )
            continue
        signatures += 1
        breaks.extend(_check_signed(project, run, event))
    for card in board.cards_of_run(run):
        breaks.extend(_check_card(project, board.name, card, answered.get(card.id)))
    return RunAudit(run, chain.events, signatures, breaks, refused)


def _check_card(project: Project, board: str, card: Card, event: Event | None) -> list[Break]:
    """A decided card says what its `answered` event says, and a signed one still verifies."""
    answer = card.decision
    if answer is None:
        return []
    where = event.id if event is not None else ""
    name = event.event if event is not None else "answered"

    def broken(what: str, expected: str, found: str, why: str) -> Break:
        return Break(card.run, where, name, card.id, what, expected, found, why)

    if event is None:
        return [
            broken(
                "card",
                "an answered event",
                f"{answer.decision} by {answer.by}",
                "the card holds a decision no event records (written straight into Redis?)",
            )
        ]
    said = {
        "by": event.actor,
        "decision": str(event.detail.get("decision") or ""),
        "comment": str(event.detail.get("comment") or ""),
    }
    holds = {"by": answer.by, "decision": str(answer.decision), "comment": answer.comment or ""}
    found = [
        broken(
            "card",
            f"{key} {said[key]!r}",
            f"{key} {holds[key]!r}",
            "the card's decision was changed after it was recorded",
        )
        for key in said
        if said[key] != holds[key]
    ]
    if answer.signature:
        from crew.people.signing import verify_answer

        verdict = verify_answer(project.crew, board, card)
        if not verdict.verified:
            found.append(
                broken("signature", "the card's decision as signed", verdict.why or "no", "")
            )
    return found


def _check_signed(project: Project, run: str, event: Event) -> list[Break]:
    detail = event.detail

    def broken(expected: str, found: str, why: str) -> Break:
        return Break(run, event.id, event.event, event.card, "signature", expected, found, why)

    try:
        payload = Payload.from_json(detail.get("signed") or {})
    except (KeyError, TypeError, ValueError):
        return [broken("the signed payload", "none", "the event's signed payload is garbled")]
    said = {
        "card": event.card or "",
        "by": event.actor,
        "decision": str(detail.get("decision") or ""),
        "comment": str(detail.get("comment") or ""),
        "run": run,
    }
    signed = {
        "card": payload.card,
        "by": payload.by,
        "decision": payload.decision,
        "comment": payload.comment,
        "run": payload.run,
    }
    found = [
        broken(
            f"{name} {signed[name]!r}",
            f"{name} {said[name]!r}",
            "the event says other than what was signed",
        )
        for name in said
        if said[name] != signed[name]
    ]
    verdict = verify_payload(project.crew, payload, str(detail["signature"]))
    if not verdict.verified:
        found.append(
            broken(f"a signature by {payload.by}'s key", verdict.why or "no", "not verified")
        )
    return found


@dataclass(frozen=True)
class Exported:
    """The files `export_decision` wrote, and the command that checks them."""

    message: Path
    signature: Path
    allowed_signers: Path
    person: str

    @property
    def command(self) -> str:
        return (
            f"ssh-keygen -Y verify -n {NAMESPACE} -I {self.person} -f {self.allowed_signers} "
            f"-s {self.signature} < {self.message}"
        )


def export_decision(project: Project, board: Board, card_id: str, out: Path) -> Exported:
    """Write card `card_id`'s signed decision into directory `out` (created if needed):
    `<card>.decision.json` (the exact bytes signed), `<card>.decision.json.sig` and
    `<card>.allowed_signers` (the person's keys and the authorities' from crew.yaml).
    ConfigError (one line) when the card has no signed decision."""
    card = board.get(card_id)
    answer = card.decision
    if answer is None or not answer.signature or answer.signed is None:
        what = "no decision" if answer is None else "an unsigned decision"
        raise ConfigError(
            f"card {card.id} has {what}: there is nothing to export",
            hint="Only a signed decision can be checked with ssh-keygen.",
        )
    try:
        payload = Payload.from_json(answer.signed)
    except (KeyError, TypeError, ValueError):
        raise ConfigError(f"card {card.id}'s signed payload is garbled") from None
    person = payload.by
    lines = [f'{person} namespaces="{NAMESPACE}" {key}' for key in _keys_of(project, person)]
    try:
        out.mkdir(parents=True, exist_ok=True)
        message = out / f"{card.id}.decision.json"
        signature = out / f"{card.id}.decision.json.sig"
        allowed = out / f"{card.id}.allowed_signers"
        message.write_bytes(payload.message())
        signature.write_text(answer.signature)
        allowed.write_text("".join(f"{line}\n" for line in lines))
    except OSError as error:
        raise ConfigError(
            f"cannot write into {out}: {error.strerror or error}",
            hint="Pass a directory you can write to (--out).",
        ) from None
    return Exported(message, signature, allowed, person)


def _keys_of(project: Project, person: str) -> list[str]:
    entry = project.crew.people.get(person)
    keys = list(entry.keys) if entry is not None else []
    return keys + list(project.crew.authorities.values())
