"""`crew serve` for tests: its app under uvicorn on a loopback port, and tokens issued the way a
user issues them (`crew token issue`)."""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from crew.web.state import WebState


@contextmanager
def serving(state: WebState) -> Iterator[str]:
    """`state`'s app on a free loopback port, in a thread; its base URL. Afterwards the server
    stops, the runs it went on with settle, and `state` is closed."""
    import uvicorn

    from crew.web.app import create_app

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)  # connections queue until uvicorn accepts them: nothing to wait for
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(state), log_level="warning", access_log=False, timeout_graceful_shutdown=1
        )
    )
    thread = threading.Thread(target=server.run, kwargs={"sockets": [listener]}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(10)
        state.settle(30)
        state.close()
        listener.close()


def issue_token(crew_cli: Callable[..., Any], person: str, *more: str) -> str:
    """A token for `person` from `crew token issue` (its last line of stdout)."""
    result = crew_cli("token", "issue", person, *more)
    assert result.code == 0, result.err
    return str(result.out.strip().splitlines()[-1])
