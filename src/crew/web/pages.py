"""The pages of `crew serve`: sign in, my inbox, a card (and its decisions), runs, a run, the
board (live through server-sent events). Server-rendered with Jinja2 (autoescaped); plain forms,
each with the session's CSRF token; no script but the board's few lines of EventSource.
"""

from __future__ import annotations

import asyncio
import hmac
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response, StreamingResponse
from starlette.routing import Route

from crew.exceptions import AlreadyDecided, ConfigError, CrewError, NotAllowed, WrongStatus
from crew.web import views
from crew.web.markdown import render_markdown, render_value
from crew.web.state import COOKIE, SESSION_SECONDS, SIGNIN_COOKIE, WebSession, WebState

if TYPE_CHECKING:
    from crew.people.card_view import CardView
    from crew.spec.models import FieldSpec

__all__ = ["render_error", "routes"]

_TEMPLATES = Path(__file__).parent / "templates"
RUN_PAGE_EVENTS = 200
"""How many of a run's newest events its page lists (`crew log RUN` has them all)."""
_env = Environment(
    loader=FileSystemLoader(_TEMPLATES),
    autoescape=select_autoescape(default=True, default_for_string=True),
    trim_blocks=True,
    lstrip_blocks=True,
)
_env.filters["markdown"] = lambda text: render_markdown(str(text or ""))
_env.filters["value"] = render_value
_env.filters["iso"] = lambda seconds: _iso(seconds)


def _iso(seconds: float | None) -> str:
    from crew.board.cards import iso

    stamp = iso(seconds)
    return stamp.replace("T", " ")[:19] if stamp else ""


class _Redirect(Exception):
    def __init__(self, url: str) -> None:
        self.url = url


def _state(request: Request) -> WebState:
    state: WebState = request.app.state.crew
    return state


# -- sessions -------------------------------------------------------------------------------------


def _signed_in(request: Request) -> WebSession | None:
    """The request's session: its cookie's, else (with --trust-header) one opened for the person
    the proxy names."""
    state = _state(request)
    found = state.find_session(request.cookies.get(COOKIE))
    header = state.trust_header
    if header:
        named = request.headers.get(header, "").strip()
        if named and named in state.project.crew.people:
            if found is not None and found.person == named and found.card is None:
                return found
            made = state.open_session(named)
            request.state.new_session = made
            return made
    return found


def _require(request: Request, card: str | None = None) -> WebSession:
    session = _signed_in(request)
    if session is None:
        raise _Redirect("/signin?next=" + quote(request.url.path, safe="/"))
    if session.card is not None and session.card != card:
        raise NotAllowed(
            f"this sign-in came from a one-click link: it opens card {session.card} only",
            hint="Sign in with a token (crew token issue) to see the rest.",
        )
    return session


def _cookie(response: Response, request: Request, session: WebSession) -> None:
    response.set_cookie(
        COOKIE,
        session.id,
        max_age=SESSION_SECONDS,
        httponly=True,
        samesite="lax",
        secure=_state(request).secure or request.url.scheme == "https",
        path="/",
    )


def render(request: Request, template: str, code: int = 200, **context: Any) -> HTMLResponse:
    session: WebSession | None = context.get("session")
    html = _env.get_template(template).render(
        request=request,
        person=session.person if session else None,
        csrf=session.csrf if session else "",
        scoped=session.card if session else None,
        **context,
    )
    response = HTMLResponse(html, status_code=code)
    made = getattr(request.state, "new_session", None)
    if made is not None:
        _cookie(response, request, made)
    return response


def render_error(request: Request, status: int, message: str, session: Any = None) -> HTMLResponse:
    return render(request, "error.html", status, message=message, status=status, session=session)


def _check_csrf(session: WebSession, form: Any) -> None:
    given = str(form.get("csrf") or "")
    if not given or not hmac.compare_digest(given, session.csrf):
        raise NotAllowed(
            "the form's CSRF token is missing or wrong (nothing was done)",
            hint="Reload the page and try again.",
        )


def _page(handler: Any) -> Any:
    """Run `handler`, turning redirects and library errors into pages."""

    async def endpoint(request: Request) -> Response:
        try:
            response: Response = await handler(request)
            return response
        except _Redirect as redirect:
            return RedirectResponse(redirect.url, status_code=303)
        except CrewError as error:
            from crew.web.api import status_of

            status, _code = status_of(error)
            session = await run_in_threadpool(_quiet_session, request)
            return render_error(request, status, str(error), session)

    return endpoint


def _quiet_session(request: Request) -> WebSession | None:
    try:
        return _signed_in(request)
    except Exception:
        return None


# -- sign in ---------------------------------------------------------------------------------------


async def signin_page(request: Request, message: str | None = None, status: int = 200) -> Response:
    import secrets

    nonce = request.cookies.get(SIGNIN_COOKIE) or secrets.token_urlsafe(24)
    response = render(
        request,
        "signin.html",
        status,
        signin_csrf=nonce,
        message=message,
        next=_safe_next(request.query_params.get("next")),
        trust_header=_state(request).trust_header,
    )
    response.set_cookie(SIGNIN_COOKIE, nonce, httponly=True, samesite="lax", path="/signin")
    return response


def _safe_next(target: str | None) -> str:
    if target and target.startswith("/") and not target.startswith("//"):
        return target
    return "/inbox"


async def signin(request: Request) -> Response:
    state = _state(request)
    form = await request.form()
    nonce = request.cookies.get(SIGNIN_COOKIE, "")
    given = str(form.get("csrf") or "")
    if not nonce or not hmac.compare_digest(nonce, given):
        return await signin_page(request, "The form expired: sign in again.", 403)
    client = request.client.host if request.client else "?"
    if not state.limiter.allow(client):
        return await signin_page(request, "Too many sign-in attempts: wait a few minutes.", 429)
    token = str(form.get("token") or "").strip()
    from crew.people.tokens import person_of_token

    person = await run_in_threadpool(person_of_token, state.board, token) if token else None
    if person is None or person not in state.project.crew.people:
        return await signin_page(request, "That token is unknown, expired or revoked.", 401)
    session = await run_in_threadpool(state.open_session, person)
    response = RedirectResponse(_safe_next(str(form.get("next") or "")), status_code=303)
    _cookie(response, request, session)
    response.delete_cookie(SIGNIN_COOKIE, path="/signin")
    return response


async def open_link(request: Request) -> Response:
    """A one-click link from a notification: the card, signed in for that card only, once."""
    from crew.people.tokens import LinkClaim, open_link

    state = _state(request)
    query = request.query_params
    client = request.client.host if request.client else "?"
    if not state.limiter.allow(client):
        return render_error(request, 429, "Too many sign-in attempts: wait a few minutes.")
    try:
        claim = LinkClaim(
            card=query["card"],
            person=query["person"],
            expires=int(query["expires"]),
            nonce=query["nonce"],
            sig=query["sig"],
        )
    except (KeyError, ValueError):
        return render_error(request, 400, "This link is incomplete: open it from the message.")
    if claim.person not in state.project.crew.people:
        return render_error(request, 403, "This link is not one crew made.")
    try:
        await run_in_threadpool(open_link, state.board, claim)
    except NotAllowed as error:
        return render_error(request, 403, str(error))
    session = await run_in_threadpool(state.open_session, claim.person, card=claim.card)
    response = RedirectResponse(f"/cards/{quote(claim.card)}", status_code=303)
    _cookie(response, request, session)
    return response


async def signout(request: Request) -> Response:
    state = _state(request)
    session = await run_in_threadpool(state.find_session, request.cookies.get(COOKIE))
    if session is not None:
        form = await request.form()
        _check_csrf(session, form)
        await run_in_threadpool(state.close_session, session.id)
    response = RedirectResponse("/signin", status_code=303)
    response.delete_cookie(COOKIE, path="/")
    return response


# -- inbox, card --------------------------------------------------------------------------------


async def home(request: Request) -> Response:
    return RedirectResponse("/inbox", status_code=303)


async def inbox_page(request: Request) -> Response:
    state = _state(request)
    session = await run_in_threadpool(_require, request)
    cards = await run_in_threadpool(views.inbox, state, session.person)
    return render(request, "inbox.html", session=session, cards=cards)


def _edit_fields(state: WebState, view: CardView) -> tuple[dict[str, FieldSpec] | None, Any]:
    """The output fields an edit (or a task's submit) fills in, as `crew answer` checks them
    (`crew.people.decisions.edit_fields`), and the values shown at first; None for the fields
    when the edit is free YAML (a tool call's arguments, say)."""
    from crew.board.cards import CardKind
    from crew.people.decisions import edit_fields

    card = view.card
    step, fields = edit_fields(state.project, state.board, card)
    if card.kind is CardKind.TASK:
        return fields, None
    if card.kind is CardKind.CHECKPOINT:
        return fields, (view.under_review.get(step) if step else None)
    return fields, card.output


def _card_context(state: WebState, session: WebSession, card_id: str) -> dict[str, Any]:
    import yaml

    from crew.web.forms import form_fields

    view = views.card_view(state, session.person, card_id)
    fields, current = _edit_fields(state, view)
    return {
        "view": view,
        "card": view.card,
        "may_answer": session.person in view.card.may_answer and view.waiting,
        "decisions": [str(d) for d in view.decisions],
        "fields": form_fields(fields, current if isinstance(current, dict) else None)
        if fields is not None
        else None,
        "raw": "" if current is None else yaml.safe_dump(current, sort_keys=False).strip(),
    }


async def card_page(request: Request) -> Response:
    state = _state(request)
    card_id = request.path_params["card"]
    session = await run_in_threadpool(_require, request, card_id)
    context = await run_in_threadpool(_card_context, state, session, card_id)
    answered = request.query_params.get("answered")
    return render(request, "card.html", session=session, answered=answered, **context)


async def answer_form(request: Request) -> Response:
    from crew.people.answering import parse_output
    from crew.web.forms import output_of_form

    state = _state(request)
    card_id = request.path_params["card"]
    session = await run_in_threadpool(_require, request, card_id)
    form = await request.form()
    _check_csrf(session, form)
    decision = str(form.get("decision") or "")
    comment = str(form.get("comment") or "").strip() or None
    posted = {k: str(v) for k, v in form.items()}
    try:
        shown = int(str(form.get("version") or ""))
    except ValueError:
        shown = None

    def record() -> None:
        output = None
        if decision in ("edit", "submit"):
            fields, _ = _edit_fields(state, views.card_view(state, session.person, card_id))
            limits = state.project.crew.settings.limits
            if fields is not None and "yaml" not in form:
                output = output_of_form(fields, posted, limits)
            else:
                output = parse_output(str(form.get("yaml") or ""), "the edited output", limits)
        views.answer(
            state,
            session.person,
            card_id,
            decision,
            comment,
            output,
            shown_version=shown,
            source="the form",
        )

    try:
        await run_in_threadpool(record)
    except (ConfigError, NotAllowed, WrongStatus, AlreadyDecided) as error:
        from crew.web.api import status_of

        status, _code = status_of(error)
        context = await run_in_threadpool(_card_context, state, session, card_id)
        return render(
            request,
            "card.html",
            status,
            session=session,
            error=str(error),
            posted=posted,
            tried=decision,
            **context,
        )
    return RedirectResponse(f"/cards/{quote(card_id)}?answered={quote(decision)}", 303)


# -- runs, board --------------------------------------------------------------------------------


async def runs_page(request: Request) -> Response:
    state = _state(request)
    session = await run_in_threadpool(_require, request)
    status = request.query_params.get("status") or None
    playbook = request.query_params.get("playbook") or None
    found = await run_in_threadpool(
        lambda: views.runs(state, session.person, status=status, playbook=playbook)
    )
    from crew.types import RunStatus

    return render(
        request,
        "runs.html",
        session=session,
        runs=found,
        status=status,
        playbook=playbook,
        statuses=[str(s) for s in RunStatus],
        playbooks=sorted(state.project.playbooks),
    )


async def run_page(request: Request) -> Response:
    state = _state(request)
    session = await run_in_threadpool(_require, request)
    run = await run_in_threadpool(
        views.visible_run, state, session.person, request.path_params["run"]
    )
    data = await run_in_threadpool(views.run_status, state, run)
    log = await run_in_threadpool(lambda: views.run_log(state, run, newest=RUN_PAGE_EVENTS))
    return render(request, "run.html", session=session, run=data, log=log)


def _board_cards(state: WebState, person: str) -> list[Any]:
    """The cards of the last day `person` may see; a run is read (once) only for a card they
    may see for having started its run alone."""
    import functools

    from crew.web.access import may_see_card

    since = state.board.now() - 86400
    runs: dict[str, Any] = {}

    def run_of(run_id: str) -> Any:
        if run_id not in runs:
            try:
                runs[run_id] = state.board.get_run(run_id)
            except CrewError:
                runs[run_id] = None
        return runs[run_id]

    return [
        card
        for card in state.board.cards(limit=50, finished_since=since)
        if may_see_card(state.project, person, card, functools.partial(run_of, card.run))
    ]


async def board_page(request: Request) -> Response:
    from crew.types import CardStatus

    state = _state(request)
    session = await run_in_threadpool(_require, request)
    cards = await run_in_threadpool(_board_cards, state, session.person)
    template = "board_cards.html" if request.query_params.get("part") else "board.html"
    columns = [(str(s), [c for c in cards if c.status is s]) for s in CardStatus]
    return render(request, template, session=session, columns=columns)


async def board_events(request: Request) -> Response:
    """Server-sent events: `change` whenever the board's audit stream grows (the page then
    fetches its cards again); a comment every few seconds keeps the connection open."""
    state = _state(request)
    await run_in_threadpool(_require, request)
    db: Any = state.board.client
    key = state.board.keys.events()

    def newest() -> str:
        last = db.xrevrange(key, "+", "-", count=1)
        return str(last[0][0]) if last else "0-0"

    def wait(since: str) -> list[Any]:
        found: list[Any] = db.xread({key: since}, count=100, block=5000) or []
        return found

    async def stream() -> Any:
        since = await run_in_threadpool(newest)
        yield "retry: 3000\n\n"
        while not await request.is_disconnected():
            try:
                found = await run_in_threadpool(wait, since)
            except Exception:  # Redis went away: the browser reconnects after `retry`
                return
            if found:
                entries = found[0][1]
                since = str(entries[-1][0])
                cards = sorted({str(fields.get("card", "")) for _id, fields in entries})
                yield f"event: change\ndata: {json.dumps({'cards': cards})}\n\n"
            else:
                yield ": still here\n\n"
            await asyncio.sleep(0)

    return StreamingResponse(
        stream(),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


# -- report (crew report's page: crew.people.report, rendered by crew.people.report_html) --------


def _report_html(state: WebState, since: str) -> str:
    from crew.people.report import build_report, parse_since
    from crew.people.report_html import render_html

    now = state.board.now()
    thresholds = {name: role.confidence.threshold for name, role in state.project.roles.items()}
    start = parse_since(since, now)
    found = build_report(state.board, since=start, until=now, thresholds=thresholds)
    return render_html(found, title=f"crew report: {state.project.crew.name}")


async def report_page(request: Request) -> Response:
    state = _state(request)
    await run_in_threadpool(_require, request)
    since = request.query_params.get("since") or "30d"
    return HTMLResponse(await run_in_threadpool(_report_html, state, since))


async def _signin_get(request: Request) -> Response:
    signed_in = await run_in_threadpool(_signed_in, request)
    if signed_in is not None and not getattr(request.state, "new_session", None):
        return RedirectResponse("/inbox", status_code=303)
    return await signin_page(request)


routes = [
    Route("/", _page(home)),
    Route("/signin", _page(_signin_get), methods=["GET"]),
    Route("/signin", _page(signin), methods=["POST"]),
    Route("/signout", _page(signout), methods=["POST"]),
    Route("/link", _page(open_link), methods=["GET"]),
    Route("/inbox", _page(inbox_page)),
    Route("/cards/{card}", _page(card_page), methods=["GET"]),
    Route("/cards/{card}/answer", _page(answer_form), methods=["POST"]),
    Route("/runs", _page(runs_page)),
    Route("/runs/{run}", _page(run_page)),
    Route("/board", _page(board_page)),
    Route("/board/events", _page(board_events)),
    Route("/report", _page(report_page)),
]
