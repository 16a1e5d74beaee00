"""`crew keys`, `crew audit verify [RUN]`, `crew audit export CARD`: who decided, provably.

`crew keys` says which key `crew answer` would sign with and whether crew.yaml lists it for the
person; `crew audit verify` checks runs' audit chains and signed decisions (exit 1 when something
does not hold); `crew audit export` writes a signed decision for `ssh-keygen -Y verify`.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from crew.cli._app import app, console, current_person, print_json
from crew.cli.board import AsOption, JsonOption, open_board, open_project
from crew.cli.display import line
from crew.cli.fit import wrapped

if TYPE_CHECKING:
    from crew.board.audit import Break

audit_app = typer.Typer(help="Check the audit trail: chains of events and signed decisions.")
app.add_typer(audit_app, name="audit")

# How many of the newest runs `crew audit verify` checks when no run is named.
_RUNS = 1000


@app.command("keys")
def keys_command(as_person: AsOption = None, as_json: JsonOption = False) -> None:
    """Which SSH key `crew answer` signs with, and whether crew.yaml lists it for you."""
    from crew.people.signing import SIGNING_KEY_ENV, find_signer, key_owner, key_path
    from crew.spec.sshkeys import parse_public_key

    project = open_project()
    crew = project.crew
    person = current_person(as_person, crew.people)
    signer, why = find_signer()
    key = parse_public_key(signer.public) if signer is not None else None
    owner = key_owner(crew, key, person or "") if key is not None and person else None
    listed = [parse_public_key(k).fingerprint for k in crew.people[person].keys] if (
        person in crew.people
    ) else []
    report: dict[str, Any] = {
        "person": person,
        "path": str(key_path()),
        "source": signer.source if signer is not None else None,
        "key": signer.public if signer is not None else None,
        "fingerprint": key.fingerprint if key is not None else None,
        "listed": owner is not None,
        "verified_by": owner,
        "listed_keys": listed,
        "require_signed": crew.settings.require_signed,
        "problem": why or None,
    }
    if as_json:
        print_json(report)
        return
    who = person or "nobody (pass --as PERSON)"
    _say(f"person: {line(who)}")
    if signer is None or key is None:
        _say(f"key: none ({line(why)})")
    else:
        _say(f"key: {key.fingerprint} {key.type} from {line(signer.source)}")
        typer.echo(f"public: {signer.public}")  # whole, to be copied to crew.yaml
        if owner is not None:
            where = f"people.{person}.keys" if owner == "signed" else f"authorities.{owner}"
            _say(f"listed: yes, in crew.yaml {where}")
        else:
            _say(
                f"listed: no; to sign as {line(who)}, add the public line above to "
                f"people.{line(person or 'PERSON')}.keys in crew.yaml"
            )
    _say(
        f"require_signed: {'yes' if crew.settings.require_signed else 'no'} "
        f"(key: {SIGNING_KEY_ENV}, default ~/.ssh/id_ed25519, or an ssh-agent)"
    )


@audit_app.command("verify")
def verify_command(
    run: Annotated[
        str | None,
        typer.Argument(help="A run id (default: the board's newest runs).", show_default=False),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Check each run's chain of events and every signed decision; exit 1 on any break."""
    from crew.people.audit import audit_run

    project = open_project()
    board = open_board(project)
    if run is not None:
        if not board.stored_events(run, limit=1):
            board.get_run(run)  # no such run: one clear error
        runs = [run]
    else:
        runs = [r.id for r in board.runs(limit=_RUNS)]
    audits = [audit_run(project, board, r) for r in runs]
    ok = all(a.ok for a in audits)
    if as_json:
        print_json({"ok": ok, "runs": [a.to_json() for a in audits]})
    else:
        for audit in audits:
            state = "ok" if audit.ok else f"{len(audit.breaks)} broken"
            plural = "" if audit.signatures == 1 else "s"
            _say(
                f"run {line(audit.run)}: {audit.events} events, "
                f"{audit.signatures} signed decision{plural}: {state}"
            )
            for found in audit.breaks:
                for text in _break_lines(found):
                    _say(text)
            for event in audit.refused:
                detail = event.detail
                _say(
                    f"  refused {event.id} ({line(event.card or '')}): "
                    f"{line(detail.get('decision') or '')} by {line(detail.get('by') or '')}: "
                    f"{line(detail.get('why') or '')}"
                )
        if not audits:
            _say("no runs on this board")
    if not ok:
        raise typer.Exit(1)


def _say(text: str) -> None:
    """A line wrapped at the terminal's width between words (a key, a hash, an id stays whole),
    its continuation lines indented under it."""
    typer.echo(wrapped(text, console.width))


def _break_lines(found: Break) -> list[str]:
    """Which event and what does not hold, then what was expected and what was found."""
    card = f" {found.card}" if found.card else ""
    why = f": {line(found.why)}" if found.why else ""
    return [
        f"  event {found.event} ({line(found.name)}{line(card)}): {found.what}{why}",
        f"    expected {_short(found.expected)}, found {_short(found.found)}",
    ]


def _short(value: str) -> str:
    """A hash as its first 12 digits; other values on one line."""
    if len(value) == 40 and all(c in "0123456789abcdef" for c in value):
        return value[:12]
    return line(value)


@audit_app.command("export")
def export_command(
    card: Annotated[str, typer.Argument(help="The card whose signed decision to export.")],
    out: Annotated[
        Path, typer.Option("--out", help="The directory to write into.", show_default=False)
    ] = Path("."),
) -> None:
    """Write a card's signed decision so `ssh-keygen -Y verify -n crew` can check it."""
    from crew.people.audit import export_decision

    project = open_project()
    exported = export_decision(project, open_board(project), card, out)
    typer.echo(f"wrote {exported.message}, {exported.signature}, {exported.allowed_signers}")
    typer.echo("check it with:")
    typer.echo(f"  {exported.command}")
