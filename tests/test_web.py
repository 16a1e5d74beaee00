"""`crew serve` without a browser: tokens, the JSON API, the pages' guards, one-click links.

The server is the real ASGI app (`crew.web.app.create_app`) on the example project's board,
driven through Starlette's TestClient (real requests through the whole app, in process)."""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from support.cli import RUN, CliResult, as_json
from support.web import issue_token

pytest.importorskip("starlette", reason="crew[web] is not installed")

from starlette.testclient import TestClient

from crew.spec.loader import load_project
from crew.web.app import create_app, open_state
from crew.web.state import WebState

Crew = Callable[..., CliResult]


@pytest.fixture
def waiting(example: Path, crew_cli: Crew) -> str:
    """Bob's launch-brief run, waiting on carol at legal_review; its card id."""
    result = crew_cli(*RUN, "--json")
    assert result.code == 3, result.err
    return str(re.search(r'"card": "(c\w+)"', result.out).group(1))  # type: ignore[union-attr]


@pytest.fixture
def served(example: Path) -> Iterator[tuple[WebState, TestClient]]:
    state, _said = open_state(load_project(example), public_url="http://testserver")
    with TestClient(create_app(state), follow_redirects=False) as client:
        yield state, client
    state.settle(30)
    state.close()


def bearer(value: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {value}"}


def test_token_issue_prints_it_alone_on_the_last_line_and_revoke_ends_it(
    example: Path, crew_cli: Crew, served: tuple[WebState, TestClient]
) -> None:
    _state, client = served
    result = crew_cli("token", "issue", "carol", "--expires", "2h")
    assert result.code == 0, result.err
    issued = result.out.splitlines()[-1]
    assert re.fullmatch(r"crew_[0-9a-f]{8}_\S+", issued)
    ident = issued.split("_")[1]
    assert f"token {ident} for carol" in result.err
    assert client.get("/api/inbox", headers=bearer(issued)).status_code == 200
    revoked = crew_cli("token", "revoke", ident)
    assert revoked.code == 0 and "revoked token" in revoked.out and issued not in revoked.out
    refused = client.get("/api/inbox", headers=bearer(issued))
    assert refused.status_code == 401
    assert refused.json()["error"] == "unauthorized"
    assert crew_cli("token", "issue", "carl").code == 2
    assert "Did you mean 'carol'" in crew_cli("token", "issue", "carl").err
    assert crew_cli("token", "revoke", ident).code == 2


def test_tokens_are_stored_hashed_and_expire(
    example: Path, crew_cli: Crew, served: tuple[WebState, TestClient]
) -> None:
    state, client = served
    issued = issue_token(crew_cli, "carol")
    stored = state.board.client.hgetall(state.board.keys.token(issued.split("_")[1]))
    assert issued.split("_", 2)[2] not in str(stored) and len(stored["hash"]) == 64
    state.board.client.hset(state.board.keys.token(issued.split("_")[1]), "expires", "1")
    assert client.get("/api/inbox", headers=bearer(issued)).status_code == 401
    assert client.get("/api/inbox").status_code == 401
    assert client.get("/api/inbox", headers=bearer("crew_00000000_nope")).status_code == 401
    many = crew_cli("token", "revoke", "--person", "carol")
    assert many.code == 0 and "revoked 1 token of carol" in many.out


def test_the_api_answers_a_card_in_the_crew_answer_json_shape(
    waiting: str, crew_cli: Crew, served: tuple[WebState, TestClient]
) -> None:
    state, client = served
    carol, dan, alice = (issue_token(crew_cli, p) for p in ("carol", "dan", "alice"))
    inbox = client.get("/api/inbox", headers=bearer(carol)).json()
    assert [c["card"] for c in inbox] == [waiting]
    assert {"card", "run", "playbook", "step", "kind", "status", "assignee"} <= set(inbox[0])
    shown = client.get(f"/api/cards/{waiting}", headers=bearer(carol)).json()
    assert shown["question"] == "Approve this brief for publication?" and "draft" in shown[
        "under_review"
    ]
    assert client.get("/api/cards/c999", headers=bearer(carol)).status_code == 404
    # alice owns the researcher role: she may see the card, not answer it
    refused = client.post(
        f"/api/cards/{waiting}/answer", json={"decision": "approve"}, headers=bearer(alice)
    )
    assert refused.status_code == 403, refused.text
    assert refused.json()["error"] == "forbidden" and "only carol or dan may" in refused.json()[
        "message"
    ]
    stale = client.post(
        f"/api/cards/{waiting}/answer",
        json={"decision": "approve", "version": shown["version"] - 1},
        headers=bearer(carol),
    )
    assert stale.status_code == 409 and "changed since you opened it" in stale.json()["message"]
    bad = client.post(
        f"/api/cards/{waiting}/answer", json={"decision": "maybe"}, headers=bearer(carol)
    )
    assert bad.status_code == 400 and "unknown decision" in bad.json()["message"]
    answered = client.post(
        f"/api/cards/{waiting}/answer",
        json={"decision": "approve", "version": shown["version"]},
        headers=bearer(dan),
    )
    assert answered.status_code == 200, answered.text
    body = answered.json()
    assert {"run", "playbook", "status", "waiting_on", "outputs", "card"} <= set(body)
    assert body["card"]["decision"]["by"] == "dan"
    again = client.post(
        f"/api/cards/{waiting}/answer", json={"decision": "approve"}, headers=bearer(carol)
    )
    assert again.status_code == 409 and "already answered" in again.json()["message"]
    state.settle(60)
    run = client.get(f"/api/runs/{body['run']}", headers=bearer(carol)).json()
    assert run["status"] == "done" and any(s["step"] == "publish" for s in run["steps"])
    log = client.get(f"/api/runs/{body['run']}/log", headers=bearer(carol)).json()
    assert any(e["event"] == "answered" and e["actor"] == "dan" for e in log)


def test_the_api_submits_a_run_for_a_worker(
    example: Path, crew_cli: Crew, served: tuple[WebState, TestClient]
) -> None:
    _state, client = served
    bob = issue_token(crew_cli, "bob")
    body = {"playbook": "launch-brief", "inputs": {"product": "Kettle"}, "key": "k1"}
    made = client.post("/api/runs", json={**body, "mode": "replay"}, headers=bearer(bob))
    assert made.status_code == 201, made.text
    assert made.json()["status"] == "queued"
    again = client.post("/api/runs", json={**body, "mode": "replay"}, headers=bearer(bob))
    assert again.json()["run"] == made.json()["run"]
    missing = client.post("/api/runs", json={"playbook": "launch-brief"}, headers=bearer(bob))
    assert missing.status_code == 400 and "product" in missing.json()["message"]
    assert client.post("/api/runs", content=b"[1", headers=bearer(bob)).status_code == 400
    huge = client.post("/api/runs", content=b"x" * (3 * 1024 * 1024), headers=bearer(bob))
    assert huge.status_code == 413


def _signin(client: TestClient, value: str, then: str = "/inbox") -> Any:
    page = client.get("/signin")
    csrf = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]
    return client.post("/signin", data={"csrf": csrf, "token": value, "next": then})


def _csrf(html: str) -> str:
    return re.search(r'name="csrf" value="([^"]+)"', html).group(1)  # type: ignore[union-attr]


def test_pages_sign_in_by_token_and_guard_forms(
    waiting: str, crew_cli: Crew, served: tuple[WebState, TestClient]
) -> None:
    _state, client = served
    assert client.get("/inbox").headers["location"].startswith("/signin")
    refused = _signin(client, "crew_00000000_wrong")
    assert refused.status_code == 401 and "unknown, expired or revoked" in refused.text
    signed = _signin(client, issue_token(crew_cli, "carol"))
    assert signed.status_code == 303
    cookie = signed.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie.replace("Lax", "lax")
    inbox = client.get("/inbox")
    assert waiting in inbox.text and "legal_review" in inbox.text
    card = client.get(f"/cards/{waiting}")
    assert "Approve this brief for publication?" in card.text
    no_csrf = client.post(f"/cards/{waiting}/answer", data={"decision": "approve"})
    assert no_csrf.status_code == 403 and "CSRF" in no_csrf.text
    assert client.get("/cards/c999").status_code == 404


def test_signing_in_goes_on_to_a_page_of_this_server_only(
    crew_cli: Crew, served: tuple[WebState, TestClient]
) -> None:
    _state, client = served
    carol = issue_token(crew_cli, "carol")

    def lands(target: str) -> str:
        client.cookies.clear()  # signed out
        return str(_signin(client, carol, target).headers["location"])

    assert lands("/runs?status=waiting") == "/runs?status=waiting"
    away = ("https://evil.example/", "//evil.example/", "/\\evil.example/", "/\t/evil.example")
    for target in away:
        location = lands(target)
        assert location.startswith("/") and not location.startswith("//"), target
        # Browsers read a backslash as a slash and drop a tab: either would make it "//".
        assert "\\" not in location and location.isprintable(), target


def test_the_board_page_shows_a_person_the_cards_they_may_see_only(
    example: Path, crew_cli: Crew
) -> None:
    """erin takes part in no playbook: she sees the cards of the run she started, not bob's;
    frank, who started nothing, sees none."""
    crew_yaml = example / "crew.yaml"
    team = yaml.safe_load(crew_yaml.read_text())
    team["people"]["erin"] = {"name": "Erin Starter"}
    team["people"]["frank"] = {"name": "Frank Stranger"}
    crew_yaml.write_text(yaml.safe_dump(team, sort_keys=False))
    bobs = as_json(crew_cli(*RUN, "--json"))["waiting_on"][0]["card"]
    erins_run = [*RUN[:-1], "erin", "--json"]
    erins = as_json(crew_cli(*erins_run))["waiting_on"][0]["card"]
    state, _said = open_state(load_project(example))
    app = create_app(state)
    try:
        with TestClient(app) as erin, TestClient(app) as frank, TestClient(app) as carol:
            for client, person in ((erin, "erin"), (frank, "frank"), (carol, "carol")):
                _signin(client, issue_token(crew_cli, person))
            seen = erin.get("/board")
            assert seen.status_code == 200
            assert f"/cards/{erins}" in seen.text and f"/cards/{bobs}" not in seen.text
            assert "/cards/c" not in frank.get("/board").text
            assert {f"/cards/{erins}", f"/cards/{bobs}"} <= set(
                re.findall(r"/cards/c\w+", carol.get("/board").text)
            )
            # Nor can frank learn anything of it through the API: 403 before his answer is read.
            franks = bearer(issue_token(crew_cli, "frank"))
            for decision in ("approve", "maybe"):
                refused = frank.post(
                    f"/api/cards/{bobs}/answer", json={"decision": decision}, headers=franks
                )
                assert refused.status_code == 403, refused.text
                assert "frank may not see card" in refused.json()["message"]
            assert state.board.get(bobs).decision is None
    finally:
        state.close()


def test_outputs_are_sanitised_markdown(
    waiting: str, crew_cli: Crew, served: tuple[WebState, TestClient]
) -> None:
    state, client = served
    card = state.board.get(waiting)
    detail_output = dict(card.output or {})
    draft = dict(detail_output.get("draft") or {})
    draft["brief"] = "# Brief\n<script>alert(1)</script> **bold** <img src=x onerror=alert(2)>"
    detail_output["draft"] = draft
    import json

    state.board.client.hset(state.board.keys.card(waiting), "output", json.dumps(detail_output))
    _signin(client, issue_token(crew_cli, "carol"))
    page = client.get(f"/cards/{waiting}").text
    assert "<strong>bold</strong>" in page and "<h1>Brief</h1>" in page
    assert "<script>alert" not in page and "<img" not in page
    assert "&lt;script&gt;" in page


def test_a_one_click_link_opens_its_card_once_for_its_person_only(
    waiting: str, crew_cli: Crew, served: tuple[WebState, TestClient], hook: Any
) -> None:
    from crew.people.tokens import link_for

    state, client = served
    link = link_for(state.board, waiting, "carol")
    assert link is not None and link.startswith("http://testserver/link?")
    path = link.removeprefix("http://testserver")
    opened = client.get(path)
    assert opened.status_code == 303 and opened.headers["location"] == f"/cards/{waiting}"
    assert "Approve this brief" in client.get(f"/cards/{waiting}").text
    scoped = client.get("/inbox")
    assert scoped.status_code == 403 and "one-click link" in scoped.text
    client.cookies.clear()
    assert client.get(path).status_code == 403  # used
    forged = path.replace("person=carol", "person=dan")
    assert "signature" in client.get(forged).text


def test_webhook_payloads_carry_a_link(
    example: Path, crew_cli: Crew, hook: Any, served: tuple[WebState, TestClient]
) -> None:
    crew_yaml = example / "crew.yaml"
    team = yaml.safe_load(crew_yaml.read_text())
    team["people"]["carol"]["webhook"] = hook.url
    crew_yaml.write_text(yaml.safe_dump(team, sort_keys=False))
    result = crew_cli(*RUN)
    assert result.code == 3, result.err
    (got,) = hook.received
    assert got["link"].startswith("http://testserver/link?card=")


def test_a_trusted_proxy_header_signs_its_person_in(
    waiting: str, example: Path
) -> None:
    state, _said = open_state(load_project(example), trust_header="X-Forwarded-User")
    try:
        with TestClient(create_app(state), follow_redirects=False) as client:
            page = client.get("/inbox", headers={"X-Forwarded-User": "carol"})
            assert page.status_code == 200 and waiting in page.text
            assert "HttpOnly" in page.headers["set-cookie"]
            client.cookies.clear()
            assert client.get("/inbox", headers={"X-Forwarded-User": "mallory"}).status_code == 303
            assert client.get("/inbox").status_code == 303
    finally:
        state.close()


def test_redis_unavailable_is_a_clear_503(
    waiting: str, crew_cli: Crew, served: tuple[WebState, TestClient]
) -> None:
    import redis
    from support.webhook import closed_port_url

    from crew.board.board import Board

    state, client = served
    carol = issue_token(crew_cli, "carol")
    _signin(client, carol)
    gone = closed_port_url().replace("http://", "redis://").removesuffix("/hook")
    state.session.board = Board(redis.Redis.from_url(gone, decode_responses=True), "gone")
    api = client.get("/api/inbox", headers=bearer(carol))
    assert api.status_code == 503 and api.json()["error"] == "unavailable"
    page = client.get("/inbox")
    assert page.status_code == 503 and "Redis is unavailable" in page.text
    assert "Traceback" not in page.text


def test_decisions_made_through_the_server_verify_as_the_web_authority(
    waiting: str, example: Path, crew_cli: Crew, monkeypatch: pytest.MonkeyPatch
) -> None:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ed25519

    key = ed25519.Ed25519PrivateKey.generate()
    path = example / "server_key"
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.OpenSSH,
            serialization.NoEncryption(),
        )
    )
    public = key.public_key().public_bytes(
        serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH
    )
    monkeypatch.setenv("CREW_SIGNING_KEY", str(path))
    crew_yaml = example / "crew.yaml"
    team = yaml.safe_load(crew_yaml.read_text())
    team["authorities"] = {"web": public.decode() + " crew-serve"}
    team["settings"]["require_signed"] = True
    crew_yaml.write_text(yaml.safe_dump(team, sort_keys=False))
    state, said = open_state(load_project(example))
    assert "signed as the authority 'web'" in said
    try:
        with TestClient(create_app(state)) as client:
            carol = issue_token(crew_cli, "carol")
            answered = client.post(
                f"/api/cards/{waiting}/answer",
                json={"decision": "approve"},
                headers=bearer(carol),
            )
            assert answered.status_code == 200, answered.text
            decision = answered.json()["card"]["decision"]
            assert decision["verified"] is True and decision["verified_by"] == "web"
            state.settle(60)
    finally:
        state.close()
    log = crew_cli("log", answered.json()["run"])
    assert "verified=web" in log.out, log.out
    assert crew_cli("audit", "verify").code == 0


def test_an_escalation_edited_through_its_form_then_a_rejection_revises_the_draft(
    project_dir: Path, crew_cli: Crew, monkeypatch: pytest.MonkeyPatch
) -> None:
    from support.example import copy_example

    copy_example(project_dir)  # the research answer is unsure: it escalates to alice
    monkeypatch.delenv("CREW_USER", raising=False)
    result = crew_cli(*RUN, "--json")
    assert result.code == 3, result.err
    card = re.search(r'"card": "(c\w+)"', result.out).group(1)  # type: ignore[union-attr]
    state, _said = open_state(load_project(project_dir))
    try:
        with TestClient(create_app(state), follow_redirects=False) as client:
            _signin(client, issue_token(crew_cli, "alice"))
            page = client.get(f"/cards/{card}")
            assert 'name="field.score"' in page.text and 'name="field.risks"' in page.text
            form = {
                "csrf": _csrf(page.text),
                "version": str(state.board.get(card).version),
                "decision": "edit",
                "field.summary": "Kettles sell.",
                "field.risks": "- supply\n- weather",
                "field.severity": "low",
                "field.score": "eleven",
            }
            refused = client.post(f"/cards/{card}/answer", data=form)
            assert refused.status_code == 400
            said = html.unescape(refused.text)
            assert "not a valid output of role 'researcher': score: expected a number" in said
            assert 'value="eleven"' in refused.text  # what was typed stays in the form
            assert state.board.get(card).decision is None
            edited = client.post(f"/cards/{card}/answer", data={**form, "field.score": "3"})
            assert edited.status_code == 303, edited.text
            output = state.board.get(card).decision.edited_output  # type: ignore[union-attr]
            assert output["risks"] == ["supply", "weather"] and output["score"] == 3
            state.settle(60)

            client.cookies.clear()
            _signin(client, issue_token(crew_cli, "carol"))
            (review,) = state.board.inbox("carol")
            page = client.get(f"/cards/{review.id}")
            rejected = client.post(
                f"/cards/{review.id}/answer",
                data={
                    "csrf": _csrf(page.text),
                    "version": str(review.version),
                    "decision": "reject",
                    "comment": "cite the <b>lab test</b>",
                },
            )
            assert rejected.status_code == 303
            state.settle(60)
            (again,) = state.board.inbox("carol")
            assert again.step == "legal_review" and again.revision == 1
            shown = client.get(f"/cards/{review.id}").text
            assert "cite the &lt;b&gt;lab test&lt;/b&gt;" in shown or "cite the lab test" in shown
            assert "<b>lab test</b>" not in shown
    finally:
        state.close()


def test_sign_in_attempts_are_limited_and_bad_serve_options_are_one_line(
    example: Path, crew_cli: Crew, served: tuple[WebState, TestClient]
) -> None:
    _state, client = served
    codes = [_signin(client, f"crew_0000000{n % 10}_wrong").status_code for n in range(11)]
    assert codes[:10] == [401] * 10 and codes[10] == 429
    bad = crew_cli("serve", "--public-url", "crew.example.com")
    assert bad.code == 2 and "is not an http(s) URL" in bad.err and "Traceback" not in bad.err


def test_reading_the_inbox_enforces_slas_like_a_command(
    waiting: str, crew_cli: Crew, served: tuple[WebState, TestClient]
) -> None:
    state, client = served
    past = state.board.now() - 60
    state.board.client.hset(state.board.keys.card(waiting), "due", repr(past))
    state.board.client.zadd(state.board.keys.due(), {waiting: past})
    assert state.board.get(waiting).overdue is None
    client.get("/api/inbox", headers=bearer(issue_token(crew_cli, "carol")))
    assert state.board.get(waiting).overdue is not None  # carol has no backup: flagged


def test_a_tool_calls_page_shows_its_arguments_and_takes_an_edit_as_yaml(
    project_dir: Path, crew_cli: Crew, monkeypatch: pytest.MonkeyPatch
) -> None:
    from support.example import copy_example, without_escalation

    copy_example(project_dir)  # publish_post waits for dan's approval
    without_escalation(project_dir)
    monkeypatch.delenv("CREW_USER", raising=False)
    assert crew_cli(*RUN).code == 3
    assert crew_cli("answer", "legal_review", "approve", "--as", "carol").code == 3
    state, _said = open_state(load_project(project_dir))
    try:
        with TestClient(create_app(state), follow_redirects=False) as client:
            _signin(client, issue_token(crew_cli, "dan"))
            (call,) = state.board.inbox("dan")
            page = client.get(f"/cards/{call.id}")
            assert page.status_code == 200
            assert "Tool call: publish_post" in page.text and 'name="yaml"' in page.text
            edited = client.post(
                f"/cards/{call.id}/answer",
                data={
                    "csrf": _csrf(page.text),
                    "version": str(call.version),
                    "decision": "edit",
                    "yaml": "- not\n- a mapping",
                },
            )
            assert edited.status_code == 400 and "must be a mapping" in html.unescape(edited.text)
            assert client.get(f"/runs/{call.run}").status_code == 200
            assert client.get("/runs?status=waiting&playbook=launch-brief").status_code == 200
            assert call.run in client.get("/runs?status=waiting").text
            assert call.run not in client.get("/runs?status=done").text
            assert client.get("/board").status_code == 200
    finally:
        state.close()


def test_without_the_web_extra_crew_serve_names_the_install_command(
    example: Path, crew_cli: Crew, monkeypatch: pytest.MonkeyPatch
) -> None:
    import sys

    for name in [n for n in sys.modules if n == "crew.web.app" or n.startswith("starlette")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "starlette", None)  # as if it were not installed
    result = crew_cli("serve")
    assert result.code == 2, result.err
    assert "crew serve needs the web extra" in result.err
    assert 'pip install "crew[web]"' in result.err


def test_a_checkpoint_edit_fills_the_form_of_the_step_it_shows(
    waiting: str, crew_cli: Crew, served: tuple[WebState, TestClient]
) -> None:
    state, client = served
    _signin(client, issue_token(crew_cli, "carol"))
    page = client.get(f"/cards/{waiting}")
    assert 'name="field.brief"' in page.text  # the writer's output, the draft it shows
    assert "Solar kettle: launch brief" in page.text.split('name="field.brief"')[1]
    edited = client.post(
        f"/cards/{waiting}/answer",
        data={
            "csrf": _csrf(page.text),
            "version": str(state.board.get(waiting).version),
            "decision": "edit",
            "field.brief": "# Shorter brief",
        },
    )
    assert edited.status_code == 303, html.unescape(edited.text)
    answer = state.board.get(waiting).decision
    assert answer is not None and answer.edited_output["brief"] == "# Shorter brief"


def test_people_with_an_email_and_no_webhook_are_told_by_mail_with_the_link(
    example: Path, crew_cli: Crew, served: tuple[WebState, TestClient]
) -> None:
    from support.smtp import Inbox

    mail = Inbox()
    try:
        crew_yaml = example / "crew.yaml"
        team = yaml.safe_load(crew_yaml.read_text())
        team["people"]["carol"]["email"] = "carol@example.com"
        team["settings"]["smtp"] = {
            "host": "127.0.0.1",
            "port": mail.port,
            "sender": "crew@example.com",
            "starttls": False,
        }
        crew_yaml.write_text(yaml.safe_dump(team, sort_keys=False))
        assert crew_cli("validate").code == 0
        assert crew_cli(*RUN).code == 3
        assert mail.got.wait(10)
    finally:
        mail.close()
    (message,) = mail.received
    assert message["To"] == "carol@example.com" and message["From"] == "crew@example.com"
    assert "legal_review waits on you (checkpoint)" in message["Subject"]
    body = message.get_payload(decode=True).decode()  # type: ignore[union-attr]
    assert "http://testserver/link?card=" in body and "crew answer" in body
