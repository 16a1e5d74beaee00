"""The JSON API (DESIGN §8), `Authorization: Bearer TOKEN` (`crew token issue`):

    GET  /api/me                    {"person", "name"}: who the token stands for (`crew login`)
    GET  /api/inbox                 `crew inbox --json`
    GET  /api/cards/{card}          `crew show CARD --json`
    POST /api/cards/{card}/answer   {"decision", "comment", "output", "version"?}
                                    -> `crew answer --json`
    POST /api/runs                  {"playbook", "inputs", "key", "mode"?}
                                    -> `crew run --detach --json` (queued for a worker)
    GET  /api/runs/{run}            `crew status RUN --json`
    GET  /api/runs/{run}/log        `crew log RUN --json`

Errors are `{"error": CODE, "message": TEXT}`: 400 bad input, 401 no valid token, 403 not
allowed, 404 no such card or run, 409 answered already or changed since (`version`), 413 a body
too large, 503 the board's Redis unavailable.
"""

from __future__ import annotations

import json
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from crew.exceptions import (
    AlreadyDecided,
    CardNotFound,
    ConfigError,
    CrewError,
    NotAllowed,
    WrongStatus,
)
from crew.people.answering import answer_json
from crew.people.tokens import person_of_token
from crew.web import views
from crew.web.state import WebState

__all__ = ["error_json", "routes"]


class _Unauthorized(Exception):
    pass


def error_json(status: int, code: str, message: str) -> JSONResponse:
    return JSONResponse({"error": code, "message": message}, status_code=status)


def status_of(error: CrewError) -> tuple[int, str]:
    """The HTTP status and error code a library error stands for."""
    if isinstance(error, CardNotFound | views.RunNotFound):
        return 404, "not_found"
    if isinstance(error, NotAllowed):
        return 403, "forbidden"
    if isinstance(error, AlreadyDecided):
        return 409, "already_decided"
    if isinstance(error, WrongStatus):
        return 409, "conflict"
    if isinstance(error, ConfigError):
        return 400, "bad_request"
    return 409, "refused"


def _state(request: Request) -> WebState:
    state: WebState = request.app.state.crew
    return state


def _person(request: Request) -> str:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise _Unauthorized("an Authorization: Bearer TOKEN header is needed (crew token issue)")
    person = person_of_token(_state(request).board, token.strip())
    if person is None or person not in _state(request).project.crew.people:
        raise _Unauthorized("the token is unknown, expired or revoked")
    return person


def _endpoint(handler: Any) -> Any:
    async def endpoint(request: Request) -> JSONResponse:
        from starlette.concurrency import run_in_threadpool

        try:
            body: Any = None
            if request.method == "POST":
                raw = await request.body()
                try:
                    body = json.loads(raw or b"{}")
                except ValueError:
                    return error_json(400, "bad_request", "the body is not JSON")
                if not isinstance(body, dict):
                    return error_json(400, "bad_request", "the body must be a JSON object")
            person = await run_in_threadpool(_person, request)
            status, data = await run_in_threadpool(handler, request, person, body)
            return JSONResponse(data, status_code=status)
        except _Unauthorized as error:
            return error_json(401, "unauthorized", str(error))
        except CrewError as error:
            status, code = status_of(error)
            return error_json(status, code, str(error))

    return endpoint


def _me(request: Request, person: str, body: Any) -> tuple[int, Any]:
    spec = _state(request).project.crew.people.get(person)
    return 200, {"person": person, "name": spec.name if spec else person}


def _inbox(request: Request, person: str, body: Any) -> tuple[int, Any]:
    return 200, [card.to_json() for card in views.inbox(_state(request), person)]


def _card(request: Request, person: str, body: Any) -> tuple[int, Any]:
    view = views.card_view(_state(request), person, request.path_params["card"])
    return 200, view.to_json()


def _answer(request: Request, person: str, body: dict[str, Any]) -> tuple[int, Any]:
    state = _state(request)
    decision = body.get("decision")
    comment = body.get("comment")
    output = body.get("output")
    version = body.get("version")
    if not isinstance(decision, str):
        raise ConfigError("'decision' is required: approve, reject, edit, retry or submit")
    if comment is not None and not isinstance(comment, str):
        raise ConfigError("'comment' must be a string")
    if output is not None and not isinstance(output, dict):
        raise ConfigError("'output' must be an object of output fields")
    if version is not None and (not isinstance(version, int) or isinstance(version, bool)):
        raise ConfigError("'version' must be the card version you decided on (an integer)")
    card = views.find(state, person, request.path_params["card"])  # 404 / 403 before the rest
    answered = views.answer(
        state, person, card, decision, comment, output, shown_version=version, source="'output'"
    )
    return 200, answer_json(state.board, answered)


def _submit(request: Request, person: str, body: dict[str, Any]) -> tuple[int, Any]:
    return 201, views.submit(_state(request), person, body)


def _run(request: Request, person: str, body: Any) -> tuple[int, Any]:
    state = _state(request)
    run = views.visible_run(state, person, request.path_params["run"])
    return 200, views.run_status(state, run)


def _log(request: Request, person: str, body: Any) -> tuple[int, Any]:
    state = _state(request)
    run = views.visible_run(state, person, request.path_params["run"])
    return 200, views.run_log(state, run)


routes = [
    Route("/api/me", _endpoint(_me), methods=["GET"]),
    Route("/api/inbox", _endpoint(_inbox), methods=["GET"]),
    Route("/api/cards/{card}", _endpoint(_card), methods=["GET"]),
    Route("/api/cards/{card}/answer", _endpoint(_answer), methods=["POST"]),
    Route("/api/runs", _endpoint(_submit), methods=["POST"]),
    Route("/api/runs/{run}", _endpoint(_run), methods=["GET"]),
    Route("/api/runs/{run}/log", _endpoint(_log), methods=["GET"]),
]
