"""`crew init`: a new project that passes `crew validate` and runs offline at once."""

from __future__ import annotations

import getpass
import json
import re
from dataclasses import dataclass
from pathlib import Path
from string import Template

from crew.exceptions import ConfigError
from crew.spec.loader import CREW_FILE, PLAYBOOKS_DIR, ROLES_DIR
from crew.spec.models import NAME_PATTERN
from crew.spec.scaffold import write_new_file
from crew.spec.schema import SCHEMAS, schema_text

ROLE = "assistant"
PLAYBOOK = "first-task"
TOPIC = "the weekly team update"
"""The `topic` input of the run command `crew init` prints (its cassette answers any topic)."""

_CREW = Template(
    """\
# yaml-language-server: $$schema=schemas/crew.schema.json
# The team: who the people are, which models the roles may use, and shared settings.
name: $project
models:                      # named profiles; a role's `model:` names one
  default:
    provider: openai         # langchain-openai ChatOpenAI; the key is read from OPENAI_API_KEY
    model: gpt-4.1-mini
    # base_url: http://127.0.0.1:8000/v1   # any OpenAI-compatible server (vLLM, Ollama)
    # api_key_env: LOCAL_LLM_KEY           # env var holding the key; default OPENAI_API_KEY
people:                      # only these people may start runs (--as) and answer cards
  $login: {name: $login_name, backup: $colleague}
  $colleague: {name: $colleague_name}    # an example colleague: rename or remove
settings:
  redis_url: null            # null: embedded Redis in .crew/; or redis://host:6379/0
                             # (the env CREW_REDIS_URL wins)
  board: default             # several teams can share one Redis, one board each
  sla: 4h                    # time a person has to answer before it escalates
"""
)

_ROLE = Template(
    """\
# yaml-language-server: $$schema=../schemas/role.schema.json
# A role: an AI agent with a goal, instructions, typed output and a named human owner.
# Add another with `crew new role NAME`.
name: $role
title: Assistant
goal: Summarise a topic in a few plain sentences.
instructions: |
  You are a careful assistant. Summarise the topic you are given in a few plain sentences,
  and say what you are unsure of. When you are given reviewer feedback, address every point.
model: default               # a profile from crew.yaml `models`, or "openai:<model>"
owner: $login$owner_pad# the accountable person (a key of crew.yaml `people`)
output:                      # the fields this role returns; crew adds confidence and rationale
  summary: {type: string, description: "The summary, in Markdown"}
confidence:
  threshold: 0.7             # below this the output is escalated to the owner
  method: self_report        # self_report | consistency | judge
tools: []
"""
)

_PLAYBOOK = Template(
    """\
# yaml-language-server: $$schema=../schemas/playbook.schema.json
# A playbook: which role does which step, and where a human checks the work.
# Run it offline: crew run $playbook --replay -i topic="..." --as $login
name: $playbook
description: An assistant summarises a topic and a person approves the summary.
inputs:                             # what a run must pass (-i key=value), checked before it starts
  topic: {type: string, description: What to summarise}
steps:
  - id: summarise
    role: $role                 # a role from agents/
    task: |                         # mustache: inputs.*, steps.<id>, steps.<id>.<field>, feedback
      Summarise {{inputs.topic}}.
      {{feedback}}
  - id: review
    checkpoint:                     # a human checkpoint: the run waits for this person
      owner: $login$owner_pad# a person from crew.yaml `people`
      question: Is this summary ready to share?
      show: [summarise]             # step outputs shown to the person
      on_reject: summarise          # revise: go back with the comment as feedback
      max_revisions: 2              # after that a rejection fails the run
"""
)

_CASSETTE = """\
# Recorded model answers for `crew run first-task --replay` (DESIGN §2.4): one list per step,
# one answer per model call. Hand-editable; `crew run first-task --record` records real ones.
summarise:
  - summary: |
      This week the team shipped its first playbook and set up a review step, so every
      summary an assistant writes is checked by a person before it is shared.
    confidence: 0.9
    rationale: The topic is simple and the summary sticks to it.
"""

_GITIGNORE = """\
# crew's local state: the embedded Redis and run data
.crew/
"""


@dataclass(frozen=True)
class NewProject:
    """What `init_project` wrote: the project's root, its files, and the login's person key."""

    root: Path
    files: list[Path]
    login: str


def login_key(login: str | None = None) -> str:
    """The current login as a people key: lowercase, other characters '_'; "me" when unusable."""
    if login is None:
        try:
            login = getpass.getuser()
        except Exception:  # no login name in the environment or the password database
            login = ""
    key = re.sub(r"[^a-z0-9_-]+", "_", login.strip().lower()).strip("_-")
    return key if key and re.match(NAME_PATTERN, key) else "me"


def init_project(directory: Path, name: str | None = None, login: str | None = None) -> NewProject:
    """Write a starter project into `directory` (created if missing); never overwrites a file.

    Every target is checked before anything is written, so a refusal leaves the directory as it was.
    """
    root = directory.expanduser().resolve()
    if root.exists() and not root.is_dir():
        raise ConfigError(f"{directory} is a file, not a directory", hint="Pass a directory.")
    key = login_key(login)
    colleague = "sam" if key != "sam" else "alex"
    project = name if name is not None else root.name or "crew-project"
    if not project.strip():
        raise ConfigError("the project name is empty", hint="Pass --name NAME.")
    owner_pad = " " * max(1, 29 - len("owner: " + key))
    files: dict[str, str] = {
        CREW_FILE: _CREW.substitute(
            project=_scalar(project),
            login=key,
            login_name=_scalar(login if login is not None else _display(key)),
            colleague=colleague,
            colleague_name=_scalar(colleague.title()),
        ),
        f"{ROLES_DIR}/{ROLE}.yaml": _ROLE.substitute(role=ROLE, login=key, owner_pad=owner_pad),
        f"{PLAYBOOKS_DIR}/{PLAYBOOK}.yaml": _PLAYBOOK.substitute(
            playbook=PLAYBOOK,
            role=ROLE,
            login=key,
            owner_pad=" " * max(1, 36 - len("      owner: " + key)),
        ),
        f"{PLAYBOOKS_DIR}/{PLAYBOOK}.cassette.yaml": _CASSETTE,
        ".gitignore": _GITIGNORE,
    }
    files.update({f"schemas/{file_name}": schema_text(file_name) for file_name in SCHEMAS})
    for relative in files:
        if (root / relative).exists() or (root / relative).is_symlink():
            raise ConfigError(
                f"{root / relative} already exists; crew init never overwrites",
                hint="Run crew init in an empty directory (crew init DIR), "
                "or add to this project with crew new role|playbook NAME.",
            )
    written = [
        write_new_file(
            root / relative,
            text,
            command="crew init",
            hint="Run crew init in an empty directory (crew init DIR).",
        )
        for relative, text in files.items()
    ]
    return NewProject(root=root, files=written, login=key)


def _display(key: str) -> str:
    return re.sub(r"[_-]+", " ", key).strip().title() or key


def _scalar(value: str) -> str:
    """`value` as a YAML scalar: plain when safe, else double-quoted (JSON is valid YAML)."""
    if re.fullmatch(r"[A-Za-z0-9_][A-Za-z0-9_ .-]*", value) and not value.endswith(" "):
        return value
    return json.dumps(value, ensure_ascii=False)
