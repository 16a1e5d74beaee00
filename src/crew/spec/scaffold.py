"""`crew new`: commented starter files that pass `crew validate` in the project they are made in."""

from __future__ import annotations

import re
from pathlib import Path
from string import Template

from crew.exceptions import ConfigError
from crew.spec.loader import PLAYBOOKS_DIR, ROLES_DIR, read_project
from crew.spec.models import NAME_PATTERN

_ROLE = Template(
    """\
$header# A role: an AI agent with a goal, instructions, typed output and a named human owner.
# Check it with `crew validate`; use it from a playbook step with `role: $name`.
name: $name$name_pad# must equal the file's stem
title: $title
goal: Say in one sentence what this role is for.
instructions: |
  You are a careful $title_lower. Explain how to do the work well, what to cite,
  and what to flag as uncertain.
model: $model$model_pad# a profile from crew.yaml `models`, or "openai:<model>"
owner: $owner$owner_pad# the accountable person (a key of crew.yaml `people`)
output:                      # the fields this role returns; crew adds confidence and rationale
  summary: {type: string, description: What the role found or produced}
  # status: {type: string, enum: [ok, needs_review]}   # an enum field can drive a playbook route
  # items: {type: array, items: {type: string}}        # a list a later step can fan out over
confidence:
  threshold: 0.7             # below this the output is escalated to the owner
  method: self_report        # self_report | consistency | judge
# escalation:
#   chain: [$owner]           # default: the owner, then the owner's backup
#   sla: 2h                  # default: settings.sla in crew.yaml
tools: []
"""
)

_PLAYBOOK = Template(
    """\
$header# A playbook: which role does which step, and where a human checks the work.
# Check it with `crew validate`; run it with `crew run $name -i topic=...`.
name: $name
description: Say what this playbook produces.
inputs:                             # what a run must pass (-i key=value), checked before it starts
  topic: {type: string, description: What to work on}
  # markets: {type: array, items: {type: string}, default: [US]}
steps:
  - id: work
    role: $role$role_pad# a role from agents/
    task: |                         # mustache: inputs.*, steps.<id>, steps.<id>.<field>, feedback
      Work on {{inputs.topic}}.
      {{feedback}}
    # for_each: inputs.markets      # fan out: one task per item, with {{item}} and {{index}}
    # needs: [other_step]           # default: the step listed before this one
  - id: review
    checkpoint:                     # a human checkpoint
      owner: $owner$owner_pad# a person from crew.yaml `people`
      question: Is this ready to use?
      show: [work]                  # step outputs shown to the person
      on_reject: work               # revise: go back to `work` with the comment as feedback
      max_revisions: 2              # after that a rejection fails the run
"""
)


def new_role(root: Path, name: str) -> Path:
    """Write agents/<name>.yaml; ConfigError if the name is invalid or the file exists."""
    _check_name(name, "role")
    path = _target(root, ROLES_DIR, name)
    loaded = read_project(root)
    if loaded.crew is None:
        raise _fix_crew_first()
    people = list(loaded.crew.spec.people)
    if not people:
        raise ConfigError(
            "crew.yaml has no people, and every role needs an owner",
            hint="Add one under `people:` in crew.yaml, e.g. `alice: {name: Alice Chen}`.",
        )
    profiles = loaded.crew.spec.models
    model = "default" if "default" in profiles else next(iter(profiles), "openai:gpt-4.1-mini")
    title = re.sub(r"[_-]+", " ", name).strip().title() or name
    text = _ROLE.substitute(
        header=_header(root, "role"),
        name=name,
        name_pad=_pad("name: " + name, 29),
        title=title,
        title_lower=title.lower(),
        model=model,
        model_pad=_pad("model: " + model, 29),
        owner=people[0],
        owner_pad=_pad("owner: " + people[0], 29),
    )
    return write_new_file(path, text)


def new_playbook(root: Path, name: str) -> Path:
    """Write playbooks/<name>.yaml using an existing role and its owner."""
    _check_name(name, "playbook")
    path = _target(root, PLAYBOOKS_DIR, name)
    loaded = read_project(root)
    if loaded.crew is None:
        raise _fix_crew_first()
    people = loaded.crew.spec.people
    roles = [r.spec for r in loaded.roles.values() if r.spec.name in loaded.roles]
    if not roles:
        raise ConfigError(
            f"no valid role in {ROLES_DIR}/ for the playbook's first step",
            hint="Create one first: crew new role NAME.",
        )
    role = next((r for r in roles if r.owner in people), roles[0])
    owner = role.owner if role.owner in people else next(iter(people), role.owner)
    text = _PLAYBOOK.substitute(
        header=_header(root, "playbook"),
        name=name,
        role=role.name,
        role_pad=_pad("    role: " + role.name, 36),
        owner=owner,
        owner_pad=_pad("      owner: " + owner, 36),
    )
    return write_new_file(path, text)


def _check_name(name: str, kind: str) -> None:
    if not re.match(NAME_PATTERN, name):
        raise ConfigError(
            f"'{name}' is not a valid {kind} name",
            hint="Use letters, digits, '_' and '-', starting with a letter or '_' "
            "(e.g. market_research).",
        )


def _target(root: Path, directory: str, name: str) -> Path:
    path = root / directory / f"{name}.yaml"
    if path.exists():
        raise ConfigError(
            f"{directory}/{name}.yaml already exists; crew new never overwrites",
            hint="Pick another name, or edit the existing file.",
        )
    return path


def write_new_file(
    path: Path, text: str, *, command: str = "crew new", hint: str = "Pick another name."
) -> Path:
    """Write `path` (and its folders), which must not exist yet: `command` never overwrites."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("x", encoding="utf-8") as handle:  # "x": never clobber a racing writer
            handle.write(text)
    except FileExistsError:
        raise ConfigError(f"{path} already exists; {command} never overwrites", hint=hint) from None
    except OSError as exc:
        raise ConfigError(
            f"cannot write {path}: {exc.strerror}", hint="Check the directory."
        ) from None
    return path


def _header(root: Path, kind: str) -> str:
    if (root / "schemas" / f"{kind}.schema.json").is_file():
        return f"# yaml-language-server: $schema=../schemas/{kind}.schema.json\n"
    return ""


def _pad(prefix: str, column: int) -> str:
    """Spaces that line the trailing comment up at `column`, as in the shipped examples."""
    return " " * max(1, column - len(prefix))


def _fix_crew_first() -> ConfigError:
    return ConfigError(
        "crew.yaml has problems, so crew new cannot pick an owner or a model",
        hint="Run crew validate and fix crew.yaml first.",
    )
