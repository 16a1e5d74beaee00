"""`crew` on a pseudo-terminal, as a person at an interactive terminal meets it."""

from __future__ import annotations

import os
import select
import subprocess
import sys
from pathlib import Path


class Terminal:
    """`crew` on a pseudo-terminal: read what it shows, type answers."""

    def __init__(self, args: list[str], cwd: Path, **env: str) -> None:
        self.primary, secondary = os.openpty()
        environ = {**os.environ, "COLUMNS": "100", "TERM": "dumb", "NO_COLOR": "1", **env}
        environ.pop("FORCE_COLOR", None)
        crew = Path(sys.executable).parent / "crew"
        self.process = subprocess.Popen(
            [str(crew), *args],
            stdin=secondary,
            stdout=secondary,
            stderr=secondary,
            cwd=cwd,
            env=environ,
            close_fds=True,
        )
        os.close(secondary)
        self.seen = b""

    def read_until(self, text: bytes) -> None:
        start = len(self.seen)
        while text not in self.seen[start:]:
            ready, _, _ = select.select([self.primary], [], [], 60)
            shown = self.seen.decode(errors="replace")
            assert ready, f"no {text!r} in {shown}"
            try:
                chunk = os.read(self.primary, 4096)
            except OSError:
                chunk = b""
            assert chunk, f"crew ended before {text!r}: {shown}"
            self.seen += chunk

    def type(self, line: str) -> None:
        os.write(self.primary, line.encode() + b"\n")

    def close(self) -> int:
        try:
            return self.process.wait(timeout=60)
        finally:
            if self.process.poll() is None:
                self.process.kill()
            os.close(self.primary)
