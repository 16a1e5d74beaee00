"""What a run is pinned to: the playbook, roles and model profiles it started with.

A run follows the version of the files that was there when it started (what its people approved
to), not whatever the files say when it is resumed. `Snapshot.of` takes that version from a
loaded project; its `text` (canonical JSON) and `hash` are stored once per run on the board,
and `Snapshot.from_text` rebuilds the specs from it in any process, with no file at all.

What a caller may rely on:

- **Pinned:** the playbook; every role it uses (its steps' roles and, transitively, their
  `confidence.judge` roles); the crew.yaml model profiles those roles name. **Not pinned**
  (read from the current crew.yaml): people, delegates, backups, webhooks and `settings` (SLAs,
  limits, admins, ...), and the playbook's cassette (recorded model answers, not the workflow).
- **Content, not bytes.** Each part is the validated spec as canonical JSON (sorted keys, fields
  left at their defaults and `$schema` omitted), so a comment or a reformatting of a file is no
  change; any change of meaning is. `hash` is `sha256:<hex>` of the whole snapshot's text.
- `project(current)` is the project a pinned run is driven with: the current one (people,
  settings, other playbooks) with the pinned playbook, roles and profiles in place of the files'.
- `changes(current)` names the files whose meaning differs from the pinned version (or that are
  gone): what `crew status` reports, and what `crew resume RUN --upgrade` would adopt.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ValidationError

from crew.exceptions import ConfigError
from crew.spec.models import ModelProfile, PlaybookSpec, RoleSpec

if TYPE_CHECKING:
    from crew.spec.project import Project

__all__ = ["FileChange", "Snapshot", "canonical_json", "sha256_name"]

FORMAT = 1
"""The layout of a snapshot's text; a later crew reads the layouts before it."""


@dataclass(frozen=True)
class FileChange:
    """A project file whose content differs from what a run was started with."""

    file: str
    """`playbooks/<name>.yaml`, `agents/<role>.yaml` or `crew.yaml (model profile <name>)`."""
    change: Literal["changed", "deleted"]

    def to_json(self) -> dict[str, str]:
        return {"file": self.file, "change": self.change}


@dataclass(frozen=True)
class Snapshot:
    """A playbook, the roles it uses and their model profiles, as a run started with them."""

    playbook: PlaybookSpec
    roles: dict[str, RoleSpec]
    models: dict[str, ModelProfile]
    text: str
    hash: str

    @classmethod
    def of(cls, project: Project, playbook: PlaybookSpec) -> Snapshot:
        """What a run of `playbook` started now is pinned to."""
        roles: dict[str, RoleSpec] = {}
        todo = [step.role for step in playbook.steps if step.role]
        while todo:
            name = todo.pop()
            if name in roles:
                continue
            role = project.role(name)
            roles[name] = role
            if role.confidence.judge:
                todo.append(role.confidence.judge)
        models = {
            role.model: project.crew.models[role.model]
            for role in roles.values()
            if role.model in project.crew.models
        }
        return cls._make(playbook, roles, models)

    @classmethod
    def from_text(cls, text: str, *, run: str = "") -> Snapshot:
        """Rebuild a snapshot from its stored text (ConfigError if this crew cannot read it)."""
        try:
            data = json.loads(text)
            if not isinstance(data, dict) or data.get("format") != FORMAT:
                raise ValueError(f"unknown snapshot format {data.get('format')!r}")
            playbook = PlaybookSpec.model_validate(data["playbook"])
            roles = {n: RoleSpec.model_validate(r) for n, r in sorted(data["roles"].items())}
            models = {n: ModelProfile.model_validate(m) for n, m in sorted(data["models"].items())}
        except (ValueError, KeyError, TypeError, AttributeError, ValidationError) as error:
            which = f"run {run}" if run else "the run"
            first = str(error).splitlines()[0] if str(error) else type(error).__name__
            raise ConfigError(
                f"cannot read the playbook version {which} started with: {first}",
                hint=f"`crew resume {run or 'RUN'} --upgrade` moves it to the current files.",
            ) from None
        return cls(playbook, roles, models, text, sha256_name(text))

    @classmethod
    def _make(
        cls,
        playbook: PlaybookSpec,
        roles: dict[str, RoleSpec],
        models: dict[str, ModelProfile],
    ) -> Snapshot:
        data = {
            "format": FORMAT,
            "playbook": _content(playbook),
            "roles": {name: _content(role) for name, role in roles.items()},
            "models": {name: _content(profile) for name, profile in models.items()},
        }
        text = canonical_json(data)
        roles = dict(sorted(roles.items()))
        return cls(playbook, roles, dict(sorted(models.items())), text, sha256_name(text))

    @property
    def short_hash(self) -> str:
        """The hash as people read it: its first 12 hex digits."""
        return short(self.hash)

    def project(self, current: Project) -> Project:
        """`current` with this snapshot's playbook, roles and model profiles in place."""
        from crew.spec.project import Project

        crew = current.crew.model_copy(update={"models": {**current.crew.models, **self.models}})
        return Project(
            root=current.root,
            crew=crew,
            roles={**current.roles, **self.roles},
            playbooks={**current.playbooks, self.playbook.name: self.playbook},
        )

    def changes(self, current: Project) -> list[FileChange]:
        """The project files that say something else now than when the run started."""
        found: list[FileChange] = []
        name = self.playbook.name
        now = current.playbooks.get(name)
        if now is None:
            found.append(FileChange(f"playbooks/{name}.yaml", "deleted"))
        elif _content(now) != _content(self.playbook):
            found.append(FileChange(f"playbooks/{name}.yaml", "changed"))
        for role_name, role in self.roles.items():
            current_role = current.roles.get(role_name)
            if current_role is None:
                found.append(FileChange(f"agents/{role_name}.yaml", "deleted"))
            elif _content(current_role) != _content(role):
                found.append(FileChange(f"agents/{role_name}.yaml", "changed"))
        for profile_name, profile in self.models.items():
            current_profile = current.crew.models.get(profile_name)
            where = f"crew.yaml (model profile {profile_name})"
            if current_profile is None:
                found.append(FileChange(where, "deleted"))
            elif _content(current_profile) != _content(profile):
                found.append(FileChange(where, "changed"))
        return found


def short(digest: str) -> str:
    """`sha256:<hex>` as people read it: the first 12 hex digits."""
    return digest.removeprefix("sha256:")[:12]


def _content(spec: BaseModel) -> dict[str, Any]:
    # Defaults left out: a crew release that adds a field (with its default) changes no hash.
    dumped: dict[str, Any] = spec.model_dump(
        mode="json", by_alias=True, exclude_defaults=True, exclude={"schema_"}
    )
    return dumped


def canonical_json(data: Any) -> str:
    """`data` as canonical JSON: sorted keys, no spaces, not ASCII-escaped (what crew hashes)."""
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def sha256_name(text: str) -> str:
    """`sha256:<hex>` of `text` (UTF-8)."""
    return "sha256:" + hashlib.sha256(text.encode("utf-8")).hexdigest()
