"""`crew server`: the project's embedded Redis (status, stop)."""

from __future__ import annotations

import typer

from crew.cli._app import app, console

server_app = typer.Typer(
    help="The project's embedded Redis server (used when no redis_url is set)."
)
app.add_typer(server_app, name="server")


@server_app.command("stop")
def stop() -> None:
    """Stop the embedded Redis of this project (its data stays in .crew/redis/)."""
    from crew.cli._app import project_option
    from crew.connection import stop_embedded_redis
    from crew.spec.loader import find_project_root

    root = find_project_root(project_option())
    stopped = stop_embedded_redis(root / ".crew" / "redis")
    console.print("stopped" if stopped else "not running")
