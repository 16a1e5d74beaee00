"""The README's `crew serve` section, verbatim (on a free port instead of 8400): a run waiting on
Alice, her token, the server in its own process, the curl line; then the quickstart's run is
answered through the API by the people it waits on until it finishes."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from support.example import copy_example

pytest.importorskip("starlette", reason="crew[web] is not installed")

REPO = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


def _blocks() -> tuple[list[str], str]:
    readme = (REPO / "README.md").read_text()
    found = re.findall(r"```bash\n(.*?)```", readme, flags=re.S)
    start = next(b for b in found if "crew serve --port 8400" in b)
    curl = next(b for b in found if "/api/inbox" in b and "curl" in b)
    return [line for line in start.splitlines() if line.strip()], curl.strip()


def _env() -> dict[str, str]:
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}
    env.pop("CREW_USER", None)
    return env


def _shell(command: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", "-c", command], cwd=cwd, env=_env(), capture_output=True, text=True, timeout=120
    )


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def started(project_dir: Path) -> Iterator[tuple[int, Path]]:
    copy_example(project_dir)
    lines, _curl = _blocks()
    *before, serve = lines
    for line in before:
        done = _shell(line, project_dir)
        assert done.returncode in (0, 3), f"{line}\n{done.stderr}"
    port = _free_port()
    server = subprocess.Popen(
        ["bash", "-c", f"exec {serve.replace('8400', str(port))}"],
        cwd=project_dir,
        env=_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 30
        while True:  # the server is another process: wait until it accepts connections
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert server.poll() is None, server.stderr.read() if server.stderr else ""
                assert time.monotonic() < deadline, "crew serve did not start"
                time.sleep(0.1)
        yield port, project_dir
    finally:
        server.send_signal(signal.SIGINT)
        try:
            _out, err = server.communicate(timeout=15)
        except subprocess.TimeoutExpired:
            server.kill()
            _out, err = server.communicate()
        assert "Traceback" not in err, err
        assert "crew_" not in err  # no token ever logged


def _call(port: int, method: str, path: str, token: str, body: Any = None) -> Any:
    import httpx

    response = httpx.request(
        method,
        f"http://127.0.0.1:{port}{path}",
        headers={"Authorization": f"Bearer {token}"},
        json=body,
        timeout=30,
    )
    return response.json()


def _waits_on(port: int, run: str, person: str, token: str) -> dict[str, Any]:
    """The run's status once it waits on `person` (the server drives it in the background)."""
    deadline = time.monotonic() + 60
    while True:
        status = _call(port, "GET", f"/api/runs/{run}", token)
        waiting = [w for w in status.get("waiting_on", []) if w["assignee"] == person]
        if waiting or status.get("status") in ("done", "failed", "rejected"):
            return status
        assert time.monotonic() < deadline, status
        time.sleep(0.2)


def test_the_readme_serve_section_runs(started: tuple[int, Path]) -> None:
    port, root = started
    _lines, curl = _blocks()
    listed = _shell(curl.replace("8400", str(port)), root)
    assert listed.returncode == 0, listed.stderr
    (card,) = json.loads(listed.stdout)
    assert card["assignee"] == "alice" and card["kind"] == "escalation"

    alice = (root / "alice.token").read_text().strip()
    answered = _call(
        port,
        "POST",
        f"/api/cards/{card['card']}/answer",
        alice,
        {"decision": "retry", "comment": "use the 2025 figures"},
    )
    assert answered["card"]["decision"]["by"] == "alice", answered
    run = answered["run"]
    tokens = {"alice": alice}
    for person in ("carol", "dan"):
        issued = _shell(f"crew token issue {person}", root)
        tokens[person] = issued.stdout.strip().splitlines()[-1]
        status = _waits_on(port, run, person, tokens[person])
        (waiting,) = [w for w in status["waiting_on"] if w["assignee"] == person]
        done = _call(
            port, "POST", f"/api/cards/{waiting['card']}/answer", tokens[person],
            {"decision": "approve"},
        )  # fmt: skip
        assert "error" not in done, done
    final = _waits_on(port, run, "nobody", tokens["carol"])
    assert final["status"] == "done", final
    log = _shell(f"crew log {run}", root)
    assert log.returncode == 0 and "carol" in log.stdout
