"""The example project this repository ships (crew.yaml, agents/, playbooks/), copied for tests,
and made confident where a test is not about escalation."""

from __future__ import annotations

import shutil
from pathlib import Path

import yaml

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


def without_escalation(root: Path) -> None:
    """The example's research answer is unsure on purpose (the escalation demo); tests about
    other things start from a confident one."""
    cassette = root / "playbooks" / "launch-brief.cassette.yaml"
    entries = yaml.safe_load(cassette.read_text())
    entries["research"][0]["confidence"] = 0.86
    cassette.write_text(yaml.safe_dump(entries, sort_keys=False))
