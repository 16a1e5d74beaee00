"""Answering a card: the use case every surface calls (the CLI, the prompt, a web handler).

What a caller may rely on:

- `answer_card` finds the card (`find_card`: a card id, or a step id when exactly one card of that
  step waits on the person), checks the answer (the decision is one the card takes, an edit is a
  valid output of the role it replaces, separation of duties: `crew.people.decisions`), then
  signs it with the person's SSH key where there is one (`crew.people.signing`; required with
  `settings.require_signed`, refused before anything is recorded otherwise) and records it
  in one atomic board transition (who may answer, and a second answer, are the board's refusal).
  It returns the answered card. A refusal raises (`ConfigError` for bad input, `BoardError`
  subclasses: `CardNotFound`, `NotAllowed`, `AlreadyDecided`, `WrongStatus`) and nothing changes.
- Recording does not drive the run. The caller either resumes it in its own process
  (`crew.engine.runtime.continue_run`) or leaves it: a `crew worker` (or any `resume_run`) acts
  on the answer.
- An edited output is a mapping. `read_output_file` and `parse_output` turn a file or a text a
  person wrote into one, bounded by `settings.limits` (edit size, YAML aliases).
- Nothing here imports LangChain or LangGraph: recording an answer is instant.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from crew.exceptions import (
    AlreadyDecided,
    BoardError,
    CardNotFound,
    ConfigError,
    NotAllowed,
    WrongStatus,
)
from crew.types import CardKind, Decision

if TYPE_CHECKING:
    from crew.board.board import Board
    from crew.board.cards import Card
    from crew.board.runs import Run
    from crew.spec.models import Limits
    from crew.spec.project import Project

__all__ = [
    "answer_card",
    "answer_json",
    "card_line",
    "find_card",
    "parse_decision",
    "parse_output",
    "read_output_file",
    "resumable_run",
]

# How many of the newest cards per status the step-id fallback looks at.
_STEP_LOOKUP_LIMIT = 200


def parse_decision(decision: Decision | str) -> Decision:
    """`decision` as a `Decision`; ConfigError naming the ones there are otherwise."""
    try:
        return Decision(decision)
    except ValueError:
        names = ", ".join(str(d) for d in Decision)
        raise ConfigError(f"unknown decision '{decision}'", hint=f"Use one of: {names}.") from None


def answer_card(
    project: Project,
    board: Board,
    card_ref: str,
    person: str,
    decision: Decision | str,
    comment: str | None = None,
    edited: Mapping[str, Any] | None = None,
    *,
    source: str = "the edited output",
    shown_version: int | None = None,
) -> Card:
    """Check `person`'s answer to the card `card_ref`, then record it atomically; return the
    answered card (its run is not driven: see `crew.engine.runtime.continue_run`).

    `edited` is the corrected output, for (and only for) an edit; `source` names it in errors
    (e.g. the file it came from). The comment and the edit are bounded by `settings.limits`.
    Raises ConfigError for bad input and BoardError subclasses for refusals (unknown card, not
    allowed, already answered, not waiting); nothing changes in either case. With
    `shown_version` (the card version a page showed the person), a card that changed since is
    refused (WrongStatus: "changed since you opened it"), up to the atomic recording itself.
    """
    from crew.people.decisions import check_decision
    from crew.people.signing import sign_answer
    from crew.spec.limits import check_size, json_size, text_size

    choice = parse_decision(decision)
    handed_in = choice in (Decision.EDIT, Decision.SUBMIT)
    if handed_in and edited is None:
        what = "output" if choice is Decision.SUBMIT else "corrected output"
        raise ConfigError(
            f"'{choice}' needs the {what}",
            hint=f"Pass the {what}: a mapping of the step's output fields.",
        )
    if not handed_in and edited is not None:
        raise ConfigError(
            f"an edited output goes with 'edit' (or a task's 'submit'), not '{choice}'",
            hint="Answer 'edit' with it, or leave the edited output out.",
        )
    limits = project.crew.settings.limits
    if comment is not None:
        check_size("the comment (-m)", text_size(comment), limits.comment, "comment")
    output = dict(edited) if edited is not None else None
    if output is not None:
        check_size(f"{source} (as JSON)", json_size(output), limits.edit, "edit")
    card = find_card(board, card_ref, person)
    stale = shown_version is not None and card.version != shown_version
    if stale and card.status.waits_on_person:  # answered meanwhile: the board names who
        raise _changed(card, shown_version or 0)
    output = check_decision(project, board, card, person, choice, output, source=source)
    # Signed over the card as found (crew.people.signing), so it answers that version only.
    proof = sign_answer(project.crew, board.name, card, person, str(choice), comment, output)
    try:
        return board.answer(
            card.id,
            person=person,
            decision=choice,
            comment=comment,
            edited_output=output,
            expected_version=card.version if proof.signature or shown_version is not None else None,
            proof=proof.fields(),
            proof_detail=proof.detail(),
        )
    except WrongStatus:
        if shown_version is None:
            raise
        now = board.get(card.id)
        if now.version == shown_version:
            raise
        raise _changed(now, shown_version) from None


def _changed(card: Card, shown_version: int) -> WrongStatus:
    return WrongStatus(
        f"card {card.id} ({card_line(card)}) changed since you opened it (version "
        f"{card.version} now, {shown_version} shown)",
        hint="Nothing was recorded: open it again and decide on what it shows now.",
    )


def find_card(board: Board, card_ref: str, person: str) -> Card:
    """The card with id `card_ref`, else the one card of step `card_ref` waiting on `person`.

    Several such cards: ConfigError listing them. None: why, when the board can tell (it waits
    on someone else: NotAllowed; it was answered already: AlreadyDecided), else CardNotFound."""
    try:
        return board.get(card_ref)
    except CardNotFound as not_found:
        matches = [c for c in board.inbox(person) if c.step == card_ref]
        if len(matches) == 1:
            return matches[0]
        if len(matches) > 1:
            ids = ", ".join(c.id for c in matches)
            raise ConfigError(
                f"several cards of step '{card_ref}' wait on {person}: {ids}",
                hint="Name one card id.",
            ) from None
        raise _step_refusal(board, card_ref, person) or not_found from None


def _step_refusal(board: Board, step: str, person: str) -> BoardError | None:
    """Why `person` has no card of step `step` to answer, when the board can tell: it waits on
    someone else (NotAllowed), or it was answered already (AlreadyDecided: who first, when)."""
    from crew.board.cards import iso

    cards = [
        c
        for c in board.cards(limit=_STEP_LOOKUP_LIMIT)
        if c.step == step and c.kind is not CardKind.AGENT
    ]
    answered = [c for c in cards if c.decision is not None and not c.status.waits_on_person]
    mine = [c for c in answered if person in c.may_answer]
    waiting = [c for c in cards if c.status.waits_on_person]
    if waiting and not mine:
        card = waiting[-1]
        return NotAllowed(
            f"{person} may not answer card {card.id} ({card_line(card)}): only "
            f"{' or '.join(card.may_answer)} may",
            hint="Ask them, or answer as one of them with --as PERSON.",
        )
    if not answered:
        return None
    card = max(mine or answered, key=lambda c: c.decision.at if c.decision else 0.0)
    assert card.decision is not None
    return AlreadyDecided(
        f"card {card.id} ({card_line(card)}) was already answered: {card.decision.decision} "
        f"by {card.decision.by} at {iso(card.decision.at)} (card version {card.decision.version})",
        hint="Nothing changed.",
    )


def card_line(card: Card) -> str:
    """`checkpoint legal_review of run r12`: how messages name a card."""
    return f"{card.kind} {card.step} of run {card.run}"


def read_output_file(path: Path, limits: Limits | None = None) -> dict[str, Any]:
    """The edited output in a YAML or JSON file; it must be a mapping. Bounded by `limits`
    (default: crew's defaults): the file's size before it is read, its YAML aliases, and the
    output as JSON (`settings.limits.edit`). ConfigError, one line, naming the file otherwise."""
    from crew.spec.models import Limits
    from crew.spec.yamlfile import read_text

    limits = limits or Limits()
    what = f"--file {path}"
    try:
        text = read_text(path, what=what, max_size=limits.edit, setting="edit")
    except ConfigError as error:
        if error.message.startswith("cannot read"):
            raise ConfigError(error.message, hint="Pass an existing YAML or JSON file.") from None
        raise
    return _mapping(
        text,
        what=what,
        where=str(path),
        hint="--file must hold a YAML or JSON mapping.",
        size_of=f"the edited output in {path} (as JSON)",
        limits=limits,
    )


def parse_output(text: str, source: str, limits: Limits | None = None) -> dict[str, Any]:
    """The edited output in `text` (YAML or JSON, e.g. what a person saved in an editor); it
    must be a mapping. `source` names it in errors. Bounded like `read_output_file`."""
    from crew.spec.limits import check_size, text_size
    from crew.spec.models import Limits

    limits = limits or Limits()
    check_size(source, text_size(text), limits.edit, "edit")
    return _mapping(
        text,
        what=source,
        where=source,
        hint="It must be a YAML or JSON mapping.",
        size_of=f"{source} (as JSON)",
        limits=limits,
    )


def _mapping(
    text: str, *, what: str, where: str, hint: str, size_of: str, limits: Limits
) -> dict[str, Any]:
    from crew.spec.limits import check_size, json_size
    from crew.spec.yamlfile import NotYAML, load_yaml

    try:
        data = load_yaml(
            text, what, max_aliases=limits.yaml_aliases, max_size=limits.edit, setting="edit"
        )
    except NotYAML as exc:
        line = f":{exc.line}" if exc.line is not None else ""
        raise ConfigError(f"{where}{line}: {exc.problem}", hint=hint) from None
    if not isinstance(data, dict):
        kind = "empty" if data is None else type(data).__name__
        raise ConfigError(
            f"{where}: the edited output must be a mapping of output fields, not {kind}",
            hint="Write it as `field: value` lines (YAML) or a JSON object.",
        )
    check_size(size_of, json_size(data), limits.edit, "edit")
    return data


def answer_json(board: Board, card: Card) -> dict[str, Any]:
    """`crew answer --json` (DESIGN §3's run shape as far as the board knows it right after the
    answer, plus the answered card): what every surface prints or returns for an answer."""
    try:
        run = board.get_run(card.run)
    except BoardError:
        return {
            "run": card.run,
            "playbook": card.playbook,
            "status": None,
            "waiting_on": [],
            "outputs": {},
            "card": card.to_json(),
        }
    return {
        "run": run.id,
        "playbook": run.playbook,
        "status": str(run.status),
        "waiting_on": [w for w in run.waiting_on if w.get("card") != card.id],
        "outputs": {},
        "card": card.to_json(),
    }


def resumable_run(board: Board, card: Card) -> Run | None:
    """The run an answer on `card` lets go on; None when the run is gone or already over."""
    try:
        run = board.get_run(card.run)
    except BoardError:
        return None
    return None if run.status.finished else run
