"""The example project this repository ships (crew.yaml, agents/, playbooks/), copied for tests."""

from __future__ import annotations

import shutil
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def copy_example(root: Path, *, schemas: bool = False, cassettes: bool = True) -> Path:
    """Copy the example project into `root` (created if needed); return `root`."""
    root.mkdir(parents=True, exist_ok=True)
    ignore = None if cassettes else shutil.ignore_patterns("*.cassette.yaml")
    for name in ("crew.yaml", "agents", "playbooks", *(["schemas"] if schemas else [])):
        source = REPO / name
        if source.is_dir():
            shutil.copytree(source, root / name, ignore=ignore)
        else:
            shutil.copy(source, root / name)
    return root
