"""`crew serve` in a real browser: Playwright driving Debian's Chromium (/usr/bin/chromium,
headless) against the server on a loopback port. Sign in by token, the inbox, a checkpoint
approved (after a refusal because the card changed meanwhile), a human task's form with a
validation error then success, the board live, a stranger's 403, a one-click link used twice.
Screenshots go to $CREW_TEST_ARTEFACTS (else the test's tmp dir).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from support.cli import RUN, CliResult, as_json
from support.web import issue_token, serving

pytest.importorskip("starlette", reason="crew[web] is not installed")
pytest.importorskip("playwright", reason="playwright is not installed (pip install -e '.[dev]')")

CHROMIUM = Path("/usr/bin/chromium")
if not CHROMIUM.exists():
    pytest.skip(
        "no /usr/bin/chromium: apt-get install -y chromium (.ci/run does)", allow_module_level=True
    )

from crew.spec.loader import load_project  # noqa: E402
from crew.web.app import open_state  # noqa: E402
from crew.web.state import WebState  # noqa: E402

Crew = Callable[..., CliResult]

RENEWAL = {
    "name": "renewal",
    "inputs": {"customer": {"type": "string"}},
    "steps": [
        {
            "id": "quote",
            "human": {
                "owner": "dan",
                "task": "Price the renewal for **{{inputs.customer}}**.",
                "output": {
                    "amount": {"type": "number", "minimum": 0},
                    "tier": {"type": "string", "enum": ["basic", "pro"]},
                    "note": {"type": "string", "required": False},
                },
            },
        }
    ],
}


@pytest.fixture
def server(example: Path) -> Iterator[tuple[str, WebState]]:
    """`crew serve` on a free loopback port, in a thread; its base URL and state."""
    state, _said = open_state(load_project(example))
    with serving(state) as base:
        yield base, state


@pytest.fixture
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True)
        yield launched
        launched.close()


def _artefacts(tmp_path: Path) -> Path:
    folder = Path(os.environ.get("CREW_TEST_ARTEFACTS") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _sign_in(page: Any, base: str, token: str) -> None:
    page.goto(f"{base}/inbox")
    assert page.url.startswith(f"{base}/signin")
    page.fill("#token", token)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/inbox")


def test_sign_in_open_a_checkpoint_and_approve_it(
    example: Path,
    crew_cli: Crew,
    server: tuple[str, WebState],
    browser: Any,
    tmp_path: Path,
) -> None:
    base, state = server
    started = as_json(crew_cli(*RUN, "--json"))
    card = started["waiting_on"][0]["card"]
    page = browser.new_page(viewport={"width": 390, "height": 844})  # a phone
    _sign_in(page, base, issue_token(crew_cli, "carol"))
    assert "legal_review" in page.inner_text("main")
    page.screenshot(path=str(_artefacts(tmp_path) / "inbox.png"), full_page=True)
    page.click(f"a[href='/cards/{card}']")
    page.wait_for_url(f"{base}/cards/{card}")
    assert "Approve this brief for publication?" in page.inner_text("main")
    page.screenshot(path=str(_artefacts(tmp_path) / "card.png"), full_page=True)

    # Someone changes the card while the page is open: the approval is refused.
    state.board.client.hincrby(state.board.keys.card(card), "version", 1)
    page.click("button.approve")
    assert "changed since you opened it" in page.inner_text(".error")
    assert state.board.get(card).decision is None

    page.goto(f"{base}/cards/{card}")
    page.click("button.approve")
    page.wait_for_url(f"{base}/cards/{card}?answered=approve")
    assert "Recorded: approve" in page.inner_text("main")
    state.settle(60)
    run = state.board.get_run(started["run"])
    assert str(run.status) == "done"
    decided = state.board.get(card).decision
    assert decided is not None and decided.by == "carol"
    page.goto(f"{base}/runs/{started['run']}")
    assert "done" in page.inner_text(".status") and "approve" in page.inner_text("table")
    page.screenshot(path=str(_artefacts(tmp_path) / "run.png"), full_page=True)


def test_a_human_task_form_shows_the_clis_message_then_takes_the_output(
    example: Path,
    crew_cli: Crew,
    server: tuple[str, WebState],
    browser: Any,
    tmp_path: Path,
) -> None:
    base, state = server
    (example / "playbooks" / "renewal.yaml").write_text(yaml.safe_dump(RENEWAL, sort_keys=False))
    state.project = load_project(example)
    started = as_json(crew_cli("run", "renewal", "-i", "customer=ACME", "--as", "bob", "--json"))
    card = started["waiting_on"][0]["card"]
    page = browser.new_page()
    _sign_in(page, base, issue_token(crew_cli, "dan"))
    page.goto(f"{base}/cards/{card}")
    assert "Price the renewal for ACME" in page.inner_text("main")
    page.fill("#submit-amount", "lots")
    page.select_option("#submit-tier", "pro")
    page.click("#submit-form button[type=submit]")
    error = page.inner_text(".error")
    assert "not a valid output of step 'quote'" in error and "amount" in error
    assert page.input_value("#submit-amount") == "lots"  # what was typed stays
    assert state.board.get(card).decision is None
    page.screenshot(path=str(_artefacts(tmp_path) / "task.png"), full_page=True)

    page.fill("#submit-amount", "1200")
    page.click("#submit-form button[type=submit]")
    page.wait_for_url(f"{base}/cards/{card}?answered=submit")
    state.settle(60)
    decided = state.board.get(card).decision
    assert decided is not None and decided.edited_output == {
        "amount": 1200,
        "tier": "pro",
        "note": None,
    }
    assert str(state.board.get_run(started["run"]).status) == "done"


def test_the_board_live_a_strangers_403_and_a_link_that_opens_once(
    example: Path,
    crew_cli: Crew,
    server: tuple[str, WebState],
    browser: Any,
) -> None:
    base, _state = server
    page = browser.new_page()
    _sign_in(page, base, issue_token(crew_cli, "carol"))
    page.goto(f"{base}/board")
    assert "legal_review" not in page.inner_text("#board")
    page.wait_for_function("document.getElementById('live').textContent === 'live'")
    started = as_json(crew_cli(*RUN, "--json"))  # the run ends waiting on carol
    page.wait_for_selector("#board >> text=legal_review", timeout=15_000)

    card = started["waiting_on"][0]["card"]
    crew_yaml = example / "crew.yaml"
    team = yaml.safe_load(crew_yaml.read_text())
    team["people"]["erin"] = {"name": "Erin Stranger"}
    crew_yaml.write_text(yaml.safe_dump(team, sort_keys=False))
    _state.project = load_project(example)
    stranger = browser.new_page()
    _sign_in(stranger, base, issue_token(crew_cli, "erin"))
    response = stranger.goto(f"{base}/cards/{card}")
    assert response is not None and response.status == 403
    assert "erin may not see card" in stranger.inner_text("main")
    # A one-click link from a notification opens the card once.
    from crew.people.tokens import link_for, set_public_url

    set_public_url(_state.board, base)
    link = link_for(_state.board, card, "carol")
    assert link is not None
    clicked = browser.new_page()
    clicked.goto(link)
    assert clicked.url == f"{base}/cards/{card}"
    assert "Approve this brief for publication?" in clicked.inner_text("main")
    again = browser.new_page()
    refused = again.goto(link)
    assert refused is not None and refused.status == 403
    assert "already used" in again.inner_text("main")


def test_an_escalation_edited_in_the_form_then_a_checkpoint_rejected_with_a_comment(
    example: Path,
    crew_cli: Crew,
    server: tuple[str, WebState],
    browser: Any,
    tmp_path: Path,
) -> None:
    """The edit form shows the field's problem and records nothing; a valid edit lets the run
    go on to the checkpoint, whose rejection (with a comment) sends the draft back for a
    revision."""
    from support.example import answers

    base, state = server
    cassette = example / "playbooks" / "launch-brief.cassette.yaml"
    entries = yaml.safe_load(cassette.read_text())
    answers(entries, "research")[0]["confidence"] = 0.55  # escalated to alice
    cassette.write_text(yaml.safe_dump(entries, sort_keys=False))
    started = as_json(crew_cli(*RUN, "--json"))
    (waiting,) = started["waiting_on"]
    assert waiting["assignee"] == "alice" and waiting["kind"] == "escalation"
    card = waiting["card"]

    alice = browser.new_context().new_page()
    _sign_in(alice, base, issue_token(crew_cli, "alice"))
    alice.goto(f"{base}/cards/{card}")
    alice.click("details:has(#edit-form) > summary")  # open the edit form
    alice.fill("#edit-score", "eleven")
    alice.click("#edit-form button[type=submit]")
    error = alice.inner_text(".error")
    assert "score" in error
    assert state.board.get(card).decision is None  # nothing recorded
    alice.screenshot(path=str(_artefacts(tmp_path) / "edit-refused.png"), full_page=True)
    alice.fill("#edit-score", "7")
    alice.click("#edit-form button[type=submit]")
    alice.wait_for_url(f"{base}/cards/{card}?answered=edit")
    state.settle(60)
    edited = state.board.get(card).decision
    assert edited is not None and edited.edited_output["score"] == 7

    run = state.board.get_run(started["run"])
    (checkpoint,) = [w for w in run.waiting_on]
    assert checkpoint["step"] == "legal_review"
    carol = browser.new_context().new_page()
    _sign_in(carol, base, issue_token(crew_cli, "carol"))
    carol.goto(f"{base}/cards/{checkpoint['card']}")
    carol.fill("#reject-comment", "cite the lab test for the boil time")
    carol.click("button.reject")
    carol.wait_for_url(f"{base}/cards/{checkpoint['card']}?answered=reject")
    state.settle(60)
    drafts = [c for c in state.board.cards_of_run(started["run"]) if c.step == "draft"]
    assert [c.revision for c in drafts] == [0, 1]  # the run revised the draft
    (again,) = state.board.get_run(started["run"]).waiting_on
    assert again["step"] == "legal_review" and again["card"] != checkpoint["card"]
