"""Answer-to-resumed latency, signed vs unsigned, in one run of this script.

    python bench/answer.py [--url URL] [--rounds R]

Each round starts a run that waits at a checkpoint, then times what `crew answer` does from the
answer to the run going on: `answer_card` (checked, signed on the signed side, recorded) and
`continue_run` (the driver verifies the signature with `settings.require_signed` on the signed
side, resumes, runs the one agent step after the checkpoint against an instant scripted model,
and ends the run). The unsigned side is the same project with `require_signed: false` and no key.
Rounds alternate between the sides; the median of each counts. The last line is
`ratio: <signed ÷ unsigned>` (the target is at most 1.3).

The Redis keys are written on fresh boards and deleted afterwards.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from _common import add_url, fresh_session, print_ratio, scripted_project
from cryptography.hazmat.primitives.asymmetric import ed25519
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    PublicFormat,
)

from crew.agents.responders import ModelCall
from crew.engine.runtime import continue_run, start_run
from crew.people.answering import answer_card
from crew.spec.models import PlaybookSpec, RoleSpec
from crew.spec.project import Project
from crew.testing import ScriptedModel

ROLE = RoleSpec(
    name="writer",
    title="Writer",
    goal="Write one line.",
    owner="alice",
    output={"text": {"type": "string"}},  # type: ignore[dict-item]
)
PLAYBOOK = PlaybookSpec.model_validate(
    {
        "name": "gate",
        "steps": [
            {"id": "review", "checkpoint": {"owner": "alice", "question": "Go on?"}},
            {"id": "write", "role": "writer", "task": "Write one line.", "needs": ["review"]},
        ],
    }
)


def answer(call: ModelCall) -> dict[str, Any]:
    return {"text": "a line", "confidence": 0.9, "rationale": "scripted"}


def make_key(directory: Path) -> tuple[Path, str]:
    key = ed25519.Ed25519PrivateKey.generate()
    path = directory / "id_ed25519"
    path.write_bytes(key.private_bytes(Encoding.PEM, PrivateFormat.OpenSSH, NoEncryption()))
    public = key.public_key().public_bytes(Encoding.OpenSSH, PublicFormat.OpenSSH).decode()
    return path, public


def project(public: str, *, signed: bool) -> Project:
    return scripted_project(
        Path.cwd(),
        {"writer": ROLE},
        {"gate": PLAYBOOK},
        people={"alice": {"name": "Alice", "keys": [public]}},
        settings={"require_signed": signed},
    )


def answered_seconds(url: str, key: Path, public: str, *, signed: bool) -> float:
    """One run: start it (untimed), then time the answer until the run has gone on to its end."""
    os.environ["CREW_SIGNING_KEY"] = str(key if signed else key.with_name("absent"))
    model = ScriptedModel({"write": answer})
    with fresh_session(project(public, signed=signed), url) as session:
        report = start_run(session, PLAYBOOK, {}, responder=model)
        assert report.status == "waiting", report
        card = report.waiting_on[0].card
        started = time.perf_counter()
        answered = answer_card(session.project, session.board, card, "alice", "approve")
        final = continue_run(session, answered, responder=model)
        elapsed = time.perf_counter() - started
        assert final is not None and final.status == "done", final
        assert answered.decision is not None and answered.decision.verified is signed
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_url(parser)
    parser.add_argument("--rounds", type=int, default=15, help="Runs per side; medians count.")
    args = parser.parse_args()
    os.environ.pop("SSH_AUTH_SOCK", None)  # the key file, not an agent: what is measured

    with tempfile.TemporaryDirectory() as directory:
        key, public = make_key(Path(directory))
        for signed in (False, True):  # warm up imports and caches on both sides
            answered_seconds(args.url, key, public, signed=signed)
        samples: dict[bool, list[float]] = {False: [], True: []}
        for _ in range(args.rounds):
            for signed in (False, True):
                samples[signed].append(answered_seconds(args.url, key, public, signed=signed))
    unsigned = statistics.median(samples[False])
    signed_ = statistics.median(samples[True])
    print(f"rounds: {args.rounds}, redis: {args.url}")
    print(f"unsigned (self-declared): {unsigned * 1000:.2f} ms from answer to run resumed")
    print(f"signed (require_signed): {signed_ * 1000:.2f} ms from answer to run resumed")
    print_ratio(signed_ / unsigned)


if __name__ == "__main__":
    main()
