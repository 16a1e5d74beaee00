"""`crew.types`: the values that cross layers, and what LangGraph stores of them.

The gate payloads and resume values travel through the checkpoint saver: a run answered in one
process is resumed in another, so what is stored must be plain data that LangGraph's strict
deserialisation (``LANGGRAPH_STRICT_MSGPACK``) reads back as it was written.
"""

from __future__ import annotations

import ast
import inspect
import json
import os
import subprocess
import sys
import textwrap
import uuid
from pathlib import Path
from typing import Any

import pytest
import yaml
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.checkpoint.serde.jsonplus import JsonPlusSerializer
from langgraph.types import Command, Interrupt, Send
from support.example import copy_example

import crew.types
from crew.engine.graph import AgentTask, CheckpointTask, compile_playbook, initial_state
from crew.engine.runtime import Session, start_run
from crew.spec.loader import load_project
from crew.spec.models import PlaybookSpec
from crew.testing import ScriptedModel
from crew.types import (
    CardKind,
    CardStatus,
    CheckpointGate,
    Decision,
    Resume,
    RunStatus,
    StepOutcome,
)

# --- the module ----------------------------------------------------------------------------------


def test_all_is_sorted_and_every_public_name_is_documented() -> None:
    names = list(crew.types.__all__)
    assert names == sorted(names)
    assert all(hasattr(crew.types, name) for name in names)
    public = {name for name in vars(crew.types) if not name.startswith("_")}
    imported = {
        "Any",
        "NotRequired",
        "Required",
        "StrEnum",
        "TypedDict",
        "annotations",
        "dataclass",
    }
    assert public - imported == set(names)
    # A class has its docstring; an alias has the string that follows its assignment.
    tree = ast.parse(inspect.getsource(crew.types))
    documented = set()
    for node, after in zip(tree.body, [*tree.body[1:], None], strict=True):
        if isinstance(node, ast.ClassDef) and ast.get_docstring(node):
            documented.add(node.name)
        if (
            isinstance(node, ast.Assign)
            and isinstance(after, ast.Expr)
            and isinstance(after.value, ast.Constant)
            and isinstance(after.value.value, str)
        ):
            documented |= {t.id for t in node.targets if isinstance(t, ast.Name)}
    assert set(names) - documented == set()


def test_crew_types_uses_the_standard_library_only() -> None:
    # Every layer imports it, the board and the commands that must feel instant too.
    tree = ast.parse(inspect.getsource(crew.types))
    modules = {
        alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.Import)
        for alias in node.names
    }
    modules |= {node.module or "" for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    roots = {module.partition(".")[0] for module in modules}
    assert roots - {"__future__"} <= sys.stdlib_module_names


def test_the_old_homes_still_export_the_moved_values() -> None:
    from crew.board import CardKind as BoardKind
    from crew.board import CardStatus as BoardStatus
    from crew.board import Decision as BoardDecision
    from crew.board import RunStatus as BoardRunStatus
    from crew.engine.graph import StepOutcome as GraphOutcome

    assert (BoardKind, BoardStatus, BoardDecision, BoardRunStatus, GraphOutcome) == (
        CardKind,
        CardStatus,
        Decision,
        RunStatus,
        StepOutcome,
    )


# --- statuses and decisions ----------------------------------------------------------------------


def test_members_equal_and_print_as_their_strings() -> None:
    assert Decision.EDIT == "edit" and str(Decision.EDIT) == "edit" and f"{Decision.EDIT}" == "edit"
    assert json.dumps({"status": RunStatus.DONE}) == '{"status": "done"}'
    assert [d for d in Decision if d.accepts_output] == [
        Decision.APPROVE,
        Decision.EDIT,
        Decision.SUBMIT,
    ]
    assert CardKind.CHECKPOINT.decisions == (Decision.APPROVE, Decision.REJECT, Decision.EDIT)
    assert CardKind.ESCALATION.decisions == (
        Decision.APPROVE,
        Decision.REJECT,
        Decision.EDIT,
        Decision.RETRY,
    )
    assert CardKind.TASK.decisions == (Decision.SUBMIT, Decision.REJECT)
    assert CardKind.TOOL_CALL.decisions == (Decision.APPROVE, Decision.EDIT, Decision.REJECT)
    assert CardKind.AGENT.decisions == ()
    assert [s for s in CardStatus if s.finished] == ["done", "rejected", "failed", "cancelled"]
    assert [s for s in RunStatus if not s.finished] == ["queued", "running", "waiting"]


def test_a_resume_value_is_plain_data_and_reads_back_as_it_was() -> None:
    resume = Resume(Decision.EDIT, comment="tighter", by="carol", card="c7", output={"brief": "x"})
    value = resume.to_value()
    assert value == {
        "decision": "edit",
        "comment": "tighter",
        "by": "carol",
        "card": "c7",
        "output": {"brief": "x"},
    }
    assert type(value["decision"]) is str  # never the enum: the saver would store its class
    assert Resume.from_value(value) == resume
    assert Resume(Decision.APPROVE).to_value() == {"decision": "approve", "comment": ""}


def test_a_resume_value_naming_no_decision_keeps_what_it_said() -> None:
    assert Resume.from_value("approve") == Resume(Decision.APPROVE)
    odd = Resume.from_value({"decision": "maybe", "by": "carol"})
    assert (odd.decision, odd.said, odd.by) == (None, "maybe", "carol")
    assert odd.to_value() == {"decision": "maybe", "comment": "", "by": "carol"}


# --- the graph decides on the typed value --------------------------------------------------------


class _Executor:
    def run_agent(self, task: AgentTask) -> StepOutcome:
        return StepOutcome(ok=True, output={"text": task.task})

    def open_checkpoint(self, task: CheckpointTask) -> CheckpointGate:
        return CheckpointGate(
            card="c1", step=task.step.id, owner="carol", question=task.question, revision=0
        )


@pytest.mark.parametrize(
    ("answer", "said"), [({"decision": "retry", "by": "carol"}, "retry"), ("maybe", "maybe")]
)
def test_a_checkpoint_answered_with_what_it_does_not_take_fails_the_run_naming_it(
    answer: Any, said: str
) -> None:
    playbook = PlaybookSpec.model_validate(
        {
            "name": "pb",
            "steps": [
                {"id": "a", "role": "r", "task": "A"},
                {"id": "ok", "checkpoint": {"owner": "carol", "question": "?"}},
            ],
        }
    )
    graph = compile_playbook(playbook, _Executor(), InMemorySaver())
    config = {"configurable": {"thread_id": uuid.uuid4().hex}}
    graph.invoke(initial_state({}), config)
    graph.invoke(Command(resume=answer), config)
    outcome = graph.get_state(config).values["outcome"]
    assert outcome == {
        "status": "failed",
        "step": "ok",
        "reason": f"checkpoint 'ok' was answered '{said}'; a checkpoint takes approve, reject "
        "or edit",
    }


# --- through the Redis saver, across processes ---------------------------------------------------

_RESUME_ELSEWHERE = textwrap.dedent(
    """
    import json, sys
    from pathlib import Path
    from langgraph.checkpoint.serde.jsonplus import JsonPlusSerializer
    from crew.engine.runtime import Session, resume_run
    from crew.spec.loader import load_project
    from crew.testing import ScriptedModel

    root, run_id = sys.argv[1:3]
    session = Session.open(load_project(Path(root)), person="carol")
    # Strict: only LangGraph's own safe types are read back; any class of ours would be dropped.
    session.saver.serde = JsonPlusSerializer(allowed_msgpack_modules=None)
    model = ScriptedModel(
        {
            "draft": [{"brief": "v0", "confidence": 0.9, "rationale": ""}],
            "triage": [{"severity": "high", "reasons": [], "confidence": 0.9, "rationale": ""}],
            "publish": [{"channel": "blog", "url": "u", "confidence": 0.9, "rationale": ""}],
        }
    )
    try:
        report = resume_run(session, run_id, responder=model)
    finally:
        session.close()
    print(json.dumps({"report": report.to_json(), "steps": [c.step for c in model.calls]}))
    """
)


def _resume_elsewhere(root: Path, run_id: str) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, "-c", _RESUME_ELSEWHERE, str(root), run_id],
        capture_output=True,
        text=True,
        env=os.environ.copy(),
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def _plain(value: Any, where: str) -> None:
    """Every value is JSON-like data (LangGraph's own Send/Interrupt wrap ours: look inside)."""
    if isinstance(value, Send):
        _plain(value.arg, f"{where}.arg")
    elif isinstance(value, Interrupt):
        _plain(value.value, f"{where}.value")
    elif type(value) is dict:
        for key, item in value.items():
            assert type(key) is str, f"{where}: key {key!r}"
            _plain(item, f"{where}.{key}")
    elif type(value) in (list, tuple):
        for index, item in enumerate(value):
            _plain(item, f"{where}[{index}]")
    else:
        assert type(value) in (str, int, float, bool, type(None)), f"{where}: {type(value)}"


def test_gates_and_answers_round_trip_through_the_redis_saver_in_another_process(
    project_dir: Path,
) -> None:
    root = copy_example(project_dir)
    researcher = root / "agents" / "researcher.yaml"
    role = yaml.safe_load(researcher.read_text())
    role["confidence"] = {"threshold": 0.7}
    researcher.write_text(yaml.safe_dump(role))
    project = load_project(root)
    unsure = {
        "summary": "s",
        "risks": [],
        "severity": "high",
        "score": 7,
        "confidence": 0.1,
        "rationale": "r",
    }
    model = ScriptedModel({"research": [unsure]})
    session = Session.open(project, person="alice")
    try:
        playbook = project.playbook("launch-brief")
        inputs = {"product": "kettle", "markets": ["US"]}
        report = start_run(session, playbook, inputs, responder=model)
        (escalated,) = report.waiting_on
        assert (report.status, escalated.kind) == (RunStatus.WAITING, CardKind.ESCALATION)
        assert report.to_json()["waiting_on"][0]["kind"] == "escalation"
        fixed = {**unsure, "summary": "fixed by alice", "confidence": 1.0}
        session.board.answer(
            escalated.card, person="alice", decision=Decision.EDIT, edited_output=fixed
        )

        # The escalation's answer resumes in another process, which stops at the checkpoint.
        middle = _resume_elsewhere(root, report.run)
        assert middle["report"]["status"] == "waiting"
        assert middle["steps"] == ["draft", "triage"]
        (checkpoint,) = middle["report"]["waiting_on"]
        assert checkpoint["kind"] == "checkpoint"
        session.board.answer(
            checkpoint["card"],
            person="carol",
            decision=Decision.EDIT,
            edited_output={"brief": "EDITED", "confidence": 1, "rationale": "carol"},
        )
        end = _resume_elsewhere(root, report.run)
        assert end["report"]["status"] == "done" and end["steps"] == ["publish"]
        assert end["report"]["outputs"]["research"][0]["summary"] == "fixed by alice"
        assert end["report"]["outputs"]["draft"]["brief"] == "EDITED"

        config = {"configurable": {"thread_id": report.run, "checkpoint_ns": ""}}
        saved = list(session.saver.list(config))
        assert saved
        for tuple_ in saved:
            values = tuple_.checkpoint["channel_values"]
            _plain(values, "state")
            _plain([write[2] for write in tuple_.pending_writes or []], "writes")
        final = session.saver.get_tuple(config)
        assert final is not None
        decided = final.checkpoint["channel_values"]["decisions"]["legal_review"]
        assert decided == {
            "decision": "edit",
            "comment": "",
            "by": "carol",
            "card": checkpoint["card"],
            "output": {"brief": "EDITED", "confidence": 1, "rationale": "carol"},
        }
        # The strict reader (LANGGRAPH_STRICT_MSGPACK) reads back every saved state as written.
        strict = JsonPlusSerializer(allowed_msgpack_modules=None)
        permissive = session.saver.serde
        session.saver.serde = strict
        try:
            again = list(session.saver.list(config))
        finally:
            session.saver.serde = permissive
        assert [t.checkpoint["channel_values"] for t in again] == [
            t.checkpoint["channel_values"] for t in saved
        ]
    finally:
        session.close()
