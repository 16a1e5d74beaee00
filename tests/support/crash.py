"""Crash tests: `crew` as a real process, SIGKILLed at a chosen moment, then another `crew`
command (usually `resume`) that must finish the run. The model is a loopback
`crew.testing.OpenAIServer` (its key CREW_TEST_LLM_KEY, see `support.example.use_loopback`)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path

from support.poll import wait_for

CREW = str(Path(sys.executable).parent / "crew")


def crash_env() -> dict[str, str]:
    """The environment of the processes: the loopback model's key, and a 2 s run lease so that
    a killed driver's run is taken over soon."""
    return {**os.environ, "CREW_TEST_LLM_KEY": "sk-test", "CREW_RUN_LEASE": "2"}


def crew(cwd: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """`crew *args` run to its end in `cwd`."""
    return subprocess.run(
        [CREW, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=120
    )


def sigkill_when(
    ready: threading.Event | Callable[[], object], cwd: Path, env: dict[str, str], *args: str
) -> None:
    """Start `crew *args` in `cwd`, SIGKILL it once `ready` is set (an event the loopback model
    sets) or true (a condition polled), and check it died of that signal."""
    process = subprocess.Popen(
        [CREW, *args], cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    try:
        if isinstance(ready, threading.Event):
            assert ready.wait(60), process.communicate(timeout=5)
        else:
            wait_for(ready, f"the moment to kill `crew {args[0]}` at")
        process.send_signal(signal.SIGKILL)
        assert process.wait(timeout=30) == -signal.SIGKILL
    finally:
        if process.poll() is None:
            process.kill()
