"""`crew login URL`: the token kept in a 0600 file; then `crew inbox`, `answer`, `run` and
`status` go through the server's API as the person it verified (the board's Redis out of reach
of the CLI proves it), and `crew logout` ends it."""

from __future__ import annotations

import io
import json
import stat
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from support.cli import RUN, CliResult, as_json
from support.web import serving
from support.webhook import closed_port_url

pytest.importorskip("starlette", reason="crew[web] is not installed")

from crew.spec.loader import load_project
from crew.web.app import open_state
from crew.web.state import WebState

Crew = Callable[..., CliResult]


@pytest.fixture
def server(example: Path) -> Iterator[tuple[str, WebState]]:
    state, _said = open_state(load_project(example))
    with serving(state) as base:
        yield base, state


def _login(crew_cli: Crew, monkeypatch: pytest.MonkeyPatch, url: str, token: str) -> CliResult:
    monkeypatch.setattr("sys.stdin", io.StringIO(token + "\n"))
    return crew_cli("login", url)


def test_crew_login_sends_the_commands_through_the_api(
    example: Path,
    crew_cli: Crew,
    server: tuple[str, WebState],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    url, state = server
    started = as_json(crew_cli(*RUN, "--json"))
    issued = crew_cli("token", "issue", "carol").out.strip().splitlines()[-1]
    refused = _login(crew_cli, monkeypatch, url, "crew_00000000_wrong")
    assert refused.code == 2 and "unknown, expired or revoked" in refused.err

    logged = _login(crew_cli, monkeypatch, url, issued)
    assert logged.code == 0 and f"logged in to {url} as carol" in logged.out, logged.err
    kept = example / ".config" / "crew" / "login.json"
    assert stat.S_IMODE(kept.stat().st_mode) == 0o600
    assert json.loads(kept.read_text()) == {"server": url, "token": issued}
    assert issued not in logged.out + logged.err

    # From here the CLI cannot reach the board's Redis: only the server can.
    monkeypatch.setenv("CREW_REDIS_URL", closed_port_url().replace("http", "redis"))
    inbox = as_json(crew_cli("inbox", "--json"))
    assert [card["step"] for card in inbox] == ["legal_review"]
    other = crew_cli("inbox", "--as", "dan")
    assert other.code == 2 and f"you are logged in to {url} as carol" in other.err
    answered = crew_cli("answer", "legal_review", "approve")
    assert answered.code == 0, answered.err
    assert "Recorded: approve by carol" in answered.out
    state.settle(60)
    status = as_json(crew_cli("status", started["run"], "--json"))
    assert status["status"] == "done" and status["run"] == started["run"]
    again = crew_cli("answer", "legal_review", "approve")
    assert again.code == 2 and "already answered" in again.err
    queued = as_json(
        crew_cli("run", "launch-brief", "--replay", "-i", "product=Kettle", "--json")
    )
    assert queued["status"] == "queued"

    out = crew_cli("logout")
    assert out.code == 0 and not kept.exists()
    assert crew_cli("inbox").code == 2  # on the board directly again: its Redis is out of reach
