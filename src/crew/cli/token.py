"""`crew token issue PERSON` / `crew token revoke`: personal access tokens for `crew serve`.

The token is printed once, alone on the last line of stdout (so a script can take it with
`tail -n 1`); the board keeps only its SHA-256 (`crew.people.tokens`).
"""

from __future__ import annotations

from typing import Annotated

import typer

from crew.cli._app import app, console, err_console
from crew.exceptions import ConfigError

token_app = typer.Typer(help="Personal access tokens for `crew serve` and its API.")
app.add_typer(token_app, name="token")


@token_app.command("issue")
def issue(
    person: Annotated[str, typer.Argument(help="The person of crew.yaml the token stands for.")],
    expires: Annotated[
        str,
        typer.Option("--expires", metavar="DURATION", help="How long it lasts (e.g. 12h, 30d)."),
    ] = "30d",
) -> None:
    """Issue a token for PERSON; it is printed once, alone on the last line."""
    from crew.board.cards import iso
    from crew.cli.board import open_board, open_project
    from crew.people.tokens import issue_token
    from crew.spec.durations import parse_duration
    from crew.spec.suggest import did_you_mean

    try:
        seconds = parse_duration(expires)
    except ValueError as error:
        raise ConfigError(f"--expires {expires!r}: {error}") from None
    if seconds <= 0:
        raise ConfigError(f"--expires {expires!r} must be a positive time", hint="Use e.g. 30d.")
    project = open_project()
    if person not in project.crew.people:
        raise ConfigError(
            f"unknown person '{person}'",
            hint=did_you_mean(person, project.crew.people, kind="People"),
        )
    issued = issue_token(open_board(project), person, seconds)
    err_console.print(
        f"token {issued.id} for {person}, expires {iso(issued.expires)}; it is shown only once "
        f"(revoke it with `crew token revoke {issued.id}`):",
        highlight=False,
        markup=False,
    )
    typer.echo(issued.token)


@token_app.command("revoke")
def revoke(
    token_id: Annotated[
        str | None,
        typer.Argument(
            metavar="TOKEN_ID", help="The id `crew token issue` named.", show_default=False
        ),
    ] = None,
    person: Annotated[
        str | None,
        typer.Option("--person", help="Revoke every token of this person.", show_default=False),
    ] = None,
) -> None:
    """Revoke one token (TOKEN_ID) or every token of a person (--person)."""
    from crew.cli.board import open_board, open_project
    from crew.people.tokens import revoke_token, revoke_tokens_of
    from crew.people.tokens import token_id as id_of

    if (token_id is None) == (person is None):
        raise ConfigError(
            "name one token id or --person PERSON",
            hint="e.g. `crew token revoke 1a2b3c4d` or `crew token revoke --person carol`.",
        )
    board = open_board(open_project())
    if person is not None:
        count = revoke_tokens_of(board, person)
        console.print(f"revoked {count} token{'s' if count != 1 else ''} of {person}", markup=False)
        return
    assert token_id is not None
    token_id = id_of(token_id) or token_id  # a whole token names its id; never echo a secret
    whose = revoke_token(board, token_id)
    if whose is None:
        raise ConfigError(
            f"no token {token_id!r} on this board (revoked already, or expired)",
            hint="`crew token issue PERSON` names the id of each token.",
        )
    console.print(f"revoked token {token_id} of {whose}", markup=False)
