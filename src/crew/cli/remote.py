"""`crew login URL` / `crew logout`, and the commands that go through a crew server's API.

With a login (`~/.config/crew/login.json`, mode 0600; `$XDG_CONFIG_HOME/crew/` where set), or
`CREW_SERVER` and `CREW_TOKEN` in the environment, `crew answer`, `crew inbox`, `crew run` and
`crew status` call the server's JSON API as the person its token stands for (verified by the
server, which signs decisions as its authority) instead of reaching the board's Redis. `--as` may
only name that person. A run started this way is queued for the server's workers (as with
`--detach`). The API's errors come back as crew's one-line errors (exit 2).

Only the standard library talks HTTP here: these commands stay as quick as their local forms.
"""

from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import typer

from crew.cli._app import app, console, err_console, print_json
from crew.exceptions import (
    AlreadyDecided,
    BoardError,
    ConfigError,
    CrewError,
    NotAllowed,
    RedisUnavailable,
    WrongStatus,
)

__all__ = ["Remote", "login_path", "remote"]

SERVER_ENV = "CREW_SERVER"
TOKEN_ENV = "CREW_TOKEN"

_ERRORS: dict[str, type[CrewError]] = {
    "forbidden": NotAllowed,
    "not_found": BoardError,
    "already_decided": AlreadyDecided,
    "conflict": WrongStatus,
    "refused": BoardError,
    "unavailable": RedisUnavailable,
}
"""The API's error codes (crew.web.api.status_of) and the errors they stand for."""


def login_path() -> Path:
    """Where `crew login` keeps the server and token."""
    base = os.environ.get("XDG_CONFIG_HOME") or "~/.config"
    return Path(base).expanduser() / "crew" / "login.json"


@dataclass(frozen=True)
class Remote:
    """A crew server and the token to call its API with."""

    server: str
    token: str

    def call(self, method: str, path: str, body: Any = None) -> Any:
        """The API's JSON answer; its error as crew's error (one line)."""
        import urllib.error
        import urllib.request

        request = urllib.request.Request(
            self.server + path,
            data=None if body is None else json.dumps(body).encode(),
            method=method,
            headers={
                "Authorization": f"Bearer {self.token}",
                "Content-Type": "application/json",
                "Accept": "application/json",
                "User-Agent": "crew-cli",
            },
        )
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                return json.loads(response.read() or b"null")
        except urllib.error.HTTPError as error:
            raise self._error(error.code, error.read()) from None
        except (urllib.error.URLError, OSError, ValueError) as error:
            reason = getattr(error, "reason", error)
            raise ConfigError(
                f"cannot reach the crew server {self.server}: {reason}",
                hint=f"Is it running? `crew logout` (or unset {SERVER_ENV}) works on the board "
                "directly.",
            ) from None

    def _error(self, status: int, raw: bytes) -> CrewError:
        """The API's error (`{"error": CODE, "message": TEXT}`, crew.web.api) as crew's own."""
        try:
            answer = json.loads(raw)
            code, message = str(answer.get("error") or ""), str(answer.get("message") or "")
        except (ValueError, AttributeError):
            code, message = "", ""
        message = message or f"the server answered HTTP {status}"
        if status == 401:
            return ConfigError(
                f"{self.server}: {message}",
                hint="Log in again with a new token: `crew login URL` (`crew token issue YOU`).",
            )
        return _ERRORS.get(code, ConfigError)(message)

    def person(self, explicit: str | None) -> str:
        """Who the token stands for; `--as` may only name them. (A call of its own: the API
        acts as the token's person anyway, so the commands ask only to check an `--as`.)"""
        me = str(self.call("GET", "/api/me")["person"])
        if explicit and explicit != me:
            raise ConfigError(
                f"--as {explicit}: you are logged in to {self.server} as {me}",
                hint="Leave --as out, or `crew logout` to act on the board directly.",
            )
        return me


def remote() -> Remote | None:
    """The server the API commands go through: CREW_SERVER + CREW_TOKEN, else `crew login`'s."""
    server, token = os.environ.get(SERVER_ENV), os.environ.get(TOKEN_ENV)
    if server:
        if not token:
            raise ConfigError(f"{SERVER_ENV} is set but {TOKEN_ENV} is not", hint="Set both.")
        return Remote(server.rstrip("/"), token)
    path = login_path()
    if not path.is_file():
        return None
    try:
        saved = json.loads(path.read_text())
        return Remote(str(saved["server"]).rstrip("/"), str(saved["token"]))
    except (OSError, ValueError, KeyError, TypeError):
        raise ConfigError(
            f"{path} is not a crew login", hint="`crew logout`, then `crew login URL` again."
        ) from None


@app.command("login")
def login(
    url: Annotated[str, typer.Argument(help="The crew server, e.g. https://crew.example.com.")],
) -> None:
    """Keep a token for URL: then answer, inbox, run and status go through its API."""
    if not url.startswith(("http://", "https://")):
        raise ConfigError(
            f"{url!r} is not an http(s) URL", hint="e.g. crew login http://127.0.0.1:8400"
        )
    token = os.environ.get(TOKEN_ENV) or ""
    if not token:
        if sys.stdin.isatty():
            token = typer.prompt("token (crew token issue YOU)", hide_input=True)
        else:
            token = sys.stdin.readline()
    token = token.strip()
    if not token:
        raise ConfigError("no token given", hint="Paste the token `crew token issue YOU` printed.")
    found = Remote(url.rstrip("/"), token)
    person = found.person(None)
    path = login_path()
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as file:
        json.dump({"server": found.server, "token": token}, file)
    path.chmod(0o600)
    console.print(f"logged in to {found.server} as {person} (token kept in {path})", markup=False)


@app.command("logout")
def logout() -> None:
    """Forget `crew login`'s token: the commands work on the board directly again."""
    path = login_path()
    if path.exists():
        path.unlink()
        console.print(f"logged out (removed {path})", markup=False)
    else:
        console.print("not logged in", markup=False)


# -- the commands through the API ---------------------------------------------------------------


def inbox(api: Remote, as_person: str | None, as_json: bool) -> None:
    from crew.cli.display import line

    person = api.person(as_person) if as_person else None
    cards = api.call("GET", "/api/inbox")
    if as_json:
        print_json(cards)
        return
    if not cards:
        console.print(f"nothing waits on {person or api.person(None)}", markup=False)
        return
    for card in cards:
        due = f", due {card['due']}" if card.get("due") else ""
        console.print(
            line(
                f"{card['card']}  {card['playbook']} / {card['step']}  {card['kind']}  "
                f"run {card['run']}{due}"
            ),
            markup=False,
            highlight=False,
        )
        if card.get("reason"):
            console.print("    " + line(str(card["reason"])), markup=False, highlight=False)


def answer(
    api: Remote,
    card: str,
    decision: str,
    comment: str | None,
    edited: Path | None,
    as_person: str | None,
    as_json: bool,
) -> None:
    from crew.cli.display import line
    from crew.people.answering import read_output_file

    if as_person:
        api.person(as_person)
    output = read_output_file(edited) if edited is not None else None
    body = {"decision": decision, "comment": comment, "output": output}
    answered = api.call("POST", f"/api/cards/{card}/answer", body)
    if as_json:
        print_json(answered)
        return
    said = answered["card"]["decision"]
    console.print(
        line(
            f"Recorded: {said['decision']} by {said['by']} on card {answered['card']['card']} "
            f"(verified: {said['verified_by'] or 'no'}); the server goes on with run "
            f"{answered['run']}."
        ),
        markup=False,
        highlight=False,
    )


def run(
    api: Remote,
    playbook: str,
    inputs: dict[str, Any],
    *,
    replay: bool,
    record: bool,
    key: str | None,
    as_person: str | None,
    as_json: bool,
) -> None:
    if record:
        raise ConfigError(
            f"a run through {api.server} cannot record a cassette: a worker drives it",
            hint="`crew logout` to record in this terminal.",
        )
    if as_person:
        api.person(as_person)
    body = {
        "playbook": playbook,
        "inputs": inputs,
        "key": key,
        "mode": "replay" if replay else "live",
    }
    report = api.call("POST", "/api/runs", body)
    if as_json:
        print_json(report)
        return
    console.print(
        f"run {report['run']} ({report['playbook']}) queued on {api.server}: a worker drives it",
        markup=False,
        highlight=False,
    )
    err_console.print(f"  follow it with: crew status {report['run']}", markup=False)


def status(api: Remote, run_id: str, as_json: bool) -> None:
    from crew.cli.display import line

    data = api.call("GET", f"/api/runs/{run_id}")
    if as_json:
        print_json(data)
        return
    console.print(
        line(f"run {data['run']} · {data['playbook']} · {data['status']} · started by "
             f"{data.get('started_by') or '?'} {data.get('created') or ''}"),
        markup=False,
        highlight=False,
    )  # fmt: skip
    for row in data.get("steps", []):
        decision = row.get("decision")
        who = decision["by"] if decision else row.get("assignee") or ""
        said = f"  {decision['decision']}" if decision else ""
        console.print(
            line(f"  {row['step']:<16} {row['card'] or '-':<6} {row['status']:<10} {who}{said}"),
            markup=False,
            highlight=False,
        )
    for waiting in data.get("waiting_on", []):
        console.print(
            line(f"waits on {waiting['assignee']} at {waiting['step']} (card {waiting['card']})"),
            markup=False,
            highlight=False,
        )
