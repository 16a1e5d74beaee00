"""The example project this repository ships (crew.yaml, agents/, playbooks/), copied for tests,
and made confident where a test is not about escalation."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import yaml

from crew.spec.loader import load_project
from crew.spec.project import Project

REPO = Path(__file__).resolve().parents[2]


def copy_example(root: Path, *, schemas: bool = False, cassettes: bool = True) -> Path:
    """Copy the example project into `root` (created if needed); return `root`."""
    root.mkdir(parents=True, exist_ok=True)
    ignore = None if cassettes else shutil.ignore_patterns("*.cassette.yaml")
    parts = ("crew.yaml", "agents", "playbooks", "tools", "data")
    for name in (*parts, *(["schemas"] if schemas else [])):
        source = REPO / name
        if source.is_dir():
            shutil.copytree(source, root / name, ignore=_ignore(ignore))
        else:
            shutil.copy(source, root / name)
    return root


# A playbook of the tests' own (the example's grow): a draft, carol's checkpoint on it, a final
# draft; replayed from its cassette.
SIGNOFF = """
name: signoff
inputs:
  product: {type: string}
steps:
  - id: draft
    role: writer
    task: "Write a launch brief for {{inputs.product}}."
  - id: legal_review
    checkpoint: {owner: carol, question: Approve this brief?, show: [draft]}
  - id: final
    role: writer
    needs: [legal_review]
    task: "Polish: {{steps.draft.brief}}"
"""
SIGNOFF_CASSETTE = """
draft: [{brief: "# Launch brief", confidence: 0.9, rationale: r}]
final: [{brief: "# Final brief", confidence: 0.9, rationale: r}]
"""

# The loopback model's answers to the example's launch-brief, each step confident; triage says
# low risk, so the run goes straight on to publish (no checkpoint).
LOW_RISK_ANSWERS: dict[str, dict[str, Any]] = {
    "research": {
        "summary": "demand",
        "risks": [],
        "severity": "low",
        "score": 6,
        "confidence": 0.9,
        "rationale": "r",
    },
    "draft": {"brief": "the brief", "confidence": 0.9, "rationale": "r"},
    "triage": {"severity": "low", "reasons": [], "confidence": 0.9, "rationale": "r"},
    "publish": {"channel": "blog", "url": "https://x", "confidence": 0.9, "rationale": "r"},
}


def add_signoff(root: Path) -> None:
    """Write the `signoff` playbook and its cassette into the project in `root`."""
    (root / "playbooks" / "signoff.yaml").write_text(SIGNOFF)
    (root / "playbooks" / "signoff.cassette.yaml").write_text(SIGNOFF_CASSETTE)


def _ignore(more: Any) -> Any:
    """Never copy caches (a tools/ package imported by a test leaves __pycache__)."""
    caches = shutil.ignore_patterns("__pycache__", "*.pyc")
    if more is None:
        return caches
    return lambda folder, names: set(caches(folder, names)) | set(more(folder, names))


def answers(entries: dict[str, Any], step: str) -> list[Any]:
    """A cassette step's answers (the entries that are not model turns calling tools), the same
    objects: a test may change them in place."""
    return [e for e in entries[step] if not (isinstance(e, dict) and "$tool_calls" in e)]


def without_escalation(root: Path) -> None:
    """The example's research answer is unsure on purpose (the escalation demo); tests about
    other things start from a confident one."""
    cassette = root / "playbooks" / "launch-brief.cassette.yaml"
    entries = yaml.safe_load(cassette.read_text())
    answers(entries, "research")[0]["confidence"] = 0.86
    cassette.write_text(yaml.safe_dump(entries, sort_keys=False))


def without_tool_approval(root: Path) -> None:
    """The example's publish_post call waits for dan's approval (the quickstart shows it);
    tests about other things publish at once."""
    crew_yaml = root / "crew.yaml"
    team = yaml.safe_load(crew_yaml.read_text())
    team["tools"]["publish_post"]["approval"] = "none"
    crew_yaml.write_text(yaml.safe_dump(team, sort_keys=False))


def example_project(root: Path, bob_webhook: str) -> Project:
    """The example project in `root`, loaded; bob (alice's backup) has a webhook at
    `bob_webhook`."""
    copy_example(root)
    crew_yaml = root / "crew.yaml"
    crew_yaml.write_text(
        crew_yaml.read_text().replace("https://hooks.example.com/T000/B000", bob_webhook)
    )
    return load_project(root)


def use_loopback(root: Path, url: str, **settings: Any) -> None:
    """Point the default model profile of the project in `root` at the OpenAI-compatible server
    at `url` (crew.testing.OpenAIServer), its key read from CREW_TEST_LLM_KEY; `settings` are
    more keys of the profile (max_retries, timeout, structured_output...)."""
    crew_yaml = root / "crew.yaml"
    team = yaml.safe_load(crew_yaml.read_text())
    team["models"]["default"] = {
        "model": "loopback",
        "base_url": url,
        "api_key_env": "CREW_TEST_LLM_KEY",
        **settings,
    }
    crew_yaml.write_text(yaml.safe_dump(team))
