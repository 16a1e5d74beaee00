"""`crew serve`: the web inbox and JSON API (crew.web), on this project's board."""

from __future__ import annotations

from typing import Annotated

import typer

from crew.cli._app import app, err_console
from crew.exceptions import ConfigError


@app.command("serve")
def serve_command(
    host: Annotated[str, typer.Option("--host", help="The address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="The port to listen on.")] = 8400,
    public_url: Annotated[
        str | None,
        typer.Option(
            "--public-url",
            metavar="URL",
            help="Where people reach this server (behind a proxy); webhook messages then carry "
            "one-click links to it.",
            show_default=False,
        ),
    ] = None,
    trust_header: Annotated[
        str | None,
        typer.Option(
            "--trust-header",
            metavar="HEADER",
            help="Sign people in from this header of an authenticating proxy (e.g. "
            "X-Forwarded-User). Only behind such a proxy.",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Serve the web inbox and the JSON API on this board (the web extra)."""
    from crew.cli.board import open_project

    try:
        from crew.web.app import open_state, serve
    except ImportError as error:
        raise ConfigError(
            f"crew serve needs the web extra ({error.name} is not installed)",
            hint='pip install "crew[web]"',
        ) from None
    if public_url is not None and not public_url.startswith(("http://", "https://")):
        raise ConfigError(
            f"--public-url {public_url!r} is not an http(s) URL",
            hint="e.g. --public-url https://crew.example.com",
        )
    if not 0 < port < 65536:
        raise ConfigError(f"--port {port} is not a port number", hint="Use 1 to 65535.")
    project = open_project(code=True)
    state, signing = open_state(project, public_url=public_url, trust_header=trust_header)
    public = f", reached at {public_url}" if public_url else ""
    err_console.print(
        f"crew serve: http://{host}:{port} (board {project.board_name}{public}); Ctrl-C stops",
        markup=False,
        highlight=False,
    )
    err_console.print(f"  {signing}", markup=False, highlight=False)
    if trust_header:
        err_console.print(
            f"  signing in people named by the {trust_header} header: only behind a proxy "
            "that sets it",
            markup=False,
        )
    serve(state, host=host, port=port)
