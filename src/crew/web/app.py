"""The ASGI application of `crew serve`: pages, the JSON API, static files, and the guards
every request passes (a bounded body; Redis unavailable is a clear 503, never a traceback).

`create_app(state)` builds it around a `WebState`; `open_state` makes that state from a project
(its board, the server's signing authority, the public URL recorded for one-click links);
`serve` runs it under uvicorn.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Mount
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from crew.exceptions import RedisUnavailable
from crew.web import api, pages
from crew.web.state import WebState

if TYPE_CHECKING:
    from crew.spec.project import Project

__all__ = ["create_app", "open_state", "serve", "signing_authority"]

logger = logging.getLogger("crew.web")
_STATIC = Path(__file__).parent / "static"


class _TooLarge(Exception):
    pass


class _BoundedBody:
    """Refuses a request body over `limit` bytes (413), announced or streamed."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        announced = dict(scope.get("headers") or []).get(b"content-length")
        if announced is not None and announced.isdigit() and int(announced) > self.limit:
            await _too_large(scope, receive, send, self.limit)
            return
        seen = 0

        async def bounded() -> Message:
            nonlocal seen
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > self.limit:
                raise _TooLarge
            return message

        try:
            await self.app(scope, bounded, send)
        except _TooLarge:
            await _too_large(scope, receive, send, self.limit)


async def _too_large(scope: Scope, receive: Receive, send: Send, limit: int) -> None:
    text = f"the request body is larger than {limit} bytes"
    response: Response
    if str(scope.get("path", "")).startswith("/api/"):
        response = JSONResponse({"error": "too_large", "message": text}, status_code=413)
    else:
        response = Response(text, status_code=413, media_type="text/plain")
    await response(scope, receive, send)


def _unavailable(request: Request, error: Exception) -> Response:
    logger.warning("the board's Redis is unavailable: %s", type(error).__name__)
    text = "the board's Redis is unavailable; try again in a moment"
    if request.url.path.startswith("/api/"):
        return JSONResponse({"error": "unavailable", "message": text}, status_code=503)
    return pages.render_error(request, 503, text)


def create_app(state: WebState) -> Starlette:
    """The application serving `state`'s project and board."""
    import redis

    app = Starlette(
        routes=[
            *pages.routes,
            *api.routes,
            Mount("/static", app=StaticFiles(directory=_STATIC), name="static"),
        ],
        exception_handlers={
            redis.exceptions.ConnectionError: _unavailable,
            redis.exceptions.TimeoutError: _unavailable,
            RedisUnavailable: _unavailable,
        },
    )
    app.state.crew = state
    app.add_middleware(_BoundedBody, limit=state.max_body)
    return app


def signing_authority(project: Project) -> tuple[str | None, str]:
    """The authority of crew.yaml this process signs as (its key: CREW_SIGNING_KEY, as for
    `crew answer`), and a line saying how decisions made through the server are recorded."""
    from crew.people.signing import find_signer
    from crew.spec.sshkeys import KeyLineError, parse_public_key

    signer, why = find_signer()
    if signer is None:
        return None, f"decisions are recorded unsigned (self-declared): {why}"
    line = parse_public_key(signer.public).line
    for name, listed in project.crew.authorities.items():
        try:
            if parse_public_key(listed).line == line:
                return name, f"decisions are signed as the authority '{name}' ({signer.source})"
        except KeyLineError:
            continue
    fingerprint = parse_public_key(signer.public).fingerprint
    return None, (
        f"the signing key {fingerprint} ({signer.source}) is not an authority in crew.yaml: "
        f'add `authorities: {{web: "{signer.public}"}}` so decisions made here verify'
    )


def open_state(
    project: Project, *, public_url: str | None = None, trust_header: str | None = None
) -> tuple[WebState, str]:
    """The server's state for `project` (its board opened), and the signing line to show."""
    from crew.engine.runtime import Session
    from crew.people.tokens import set_public_url

    authority, said = signing_authority(project)
    if authority is None and project.crew.settings.require_signed:
        from crew.exceptions import ConfigError

        raise ConfigError(
            f"settings.require_signed is on, but {said.split(': ', 1)[-1]}",
            hint="Set CREW_SIGNING_KEY to the server's key and list it under authorities.",
        )
    session = Session.open(project)
    if public_url:
        set_public_url(session.board, public_url)
    state = WebState(
        project=project,
        session=session,
        public_url=public_url,
        trust_header=trust_header,
        signed_by=authority,
    )
    return state, said


def serve(state: WebState, *, host: str, port: int, **options: Any) -> None:
    """Run the server until it is stopped (Ctrl-C)."""
    import uvicorn

    app = create_app(state)
    try:
        # access_log off: a one-click link's query is a credential, never written to a log
        uvicorn.run(
            app,
            host=host,
            port=port,
            access_log=False,
            log_level="warning",
            timeout_graceful_shutdown=3,
            **options,
        )
    finally:
        state.close()
