"""A loaded, checked project: the team, its roles and playbooks, and the answers derived from them.

Build one with `crew.spec.loader.load_project`; every cross-file rule of DESIGN §2 has been
checked by then, so the lookups below only fail on names a caller passes in.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from crew.exceptions import ConfigError
from crew.spec.models import CrewSpec, ModelProfile, PlaybookSpec, RoleSpec
from crew.spec.suggest import did_you_mean

ENV_BOARD = "CREW_BOARD"
OPENAI_PREFIX = "openai:"


@dataclass(frozen=True)
class Project:
    root: Path
    crew: CrewSpec
    roles: dict[str, RoleSpec]
    playbooks: dict[str, PlaybookSpec]

    @property
    def name(self) -> str:
        return self.crew.name

    def playbook(self, name_or_path: str) -> PlaybookSpec:
        """A playbook by name (`launch-brief`) or by the path to its file in `playbooks/`."""
        found = self.playbooks.get(name_or_path)
        if found is not None:
            return found
        if (
            "/" in name_or_path
            or os.sep in name_or_path
            or name_or_path.endswith((".yaml", ".yml"))
        ):
            return self._playbook_at(Path(name_or_path))
        raise ConfigError(
            f"unknown playbook '{name_or_path}'",
            hint=did_you_mean(name_or_path, self.playbooks, kind="Playbooks"),
        )

    def _playbook_at(self, path: Path) -> PlaybookSpec:
        candidates = [path] if path.is_absolute() else [Path.cwd() / path, self.root / path]
        if len(path.parts) == 1:  # `launch-brief.yaml`: the file in playbooks/ is meant
            candidates.append(self.root / "playbooks" / path)
        existing = next((p for p in candidates if p.is_file()), None)
        if existing is None:
            raise ConfigError(
                f"no playbook file '{path}'",
                hint=did_you_mean(path.stem, self.playbooks, kind="Playbooks"),
            )
        playbooks_dir = (self.root / "playbooks").resolve()
        if existing.resolve().parent != playbooks_dir or existing.stem not in self.playbooks:
            raise ConfigError(
                f"'{path}' is not a playbook of the project in {self.root}",
                hint=f"Playbooks live in {playbooks_dir}; move the file there.",
            )
        return self.playbooks[existing.stem]

    def role(self, name: str) -> RoleSpec:
        found = self.roles.get(name)
        if found is None:
            raise ConfigError(
                f"unknown role '{name}'", hint=did_you_mean(name, self.roles, kind="Roles")
            )
        return found

    def profile_for(self, role: RoleSpec) -> ModelProfile:
        """The crew.yaml profile the role names, or an ad-hoc one for `openai:<model>`."""
        profile = self.crew.models.get(role.model)
        if profile is not None:
            return profile
        if role.model.startswith(OPENAI_PREFIX) and role.model[len(OPENAI_PREFIX) :]:
            return ModelProfile(model=role.model[len(OPENAI_PREFIX) :])
        raise ConfigError(
            f"role '{role.name}' names unknown model profile '{role.model}'",
            hint=did_you_mean(role.model, self.crew.models, kind="Profiles")
            + ", or write openai:<model>",
        )

    def escalation_chain(self, role: RoleSpec) -> list[str]:
        """Who hears of the role's escalations, in order: its chain, else owner + backup."""
        if role.escalation.chain:
            return list(role.escalation.chain)
        return self.with_backup(role.owner)

    def with_backup(self, person: str) -> list[str]:
        """`person`, then their backup when they have one: who a card moves to by default."""
        chain = [person]
        found = self.crew.people.get(person)
        if found is not None and found.backup and found.backup != person:
            chain.append(found.backup)
        return chain

    def sla_for(self, role: RoleSpec) -> float:
        """Seconds a person has to answer the role's escalation before it moves on."""
        if role.escalation.sla is not None:
            return role.escalation.sla
        return self.crew.settings.sla

    def may_answer_checkpoint(self, owner: str) -> list[str]:
        """The checkpoint's owner and the owner's delegates."""
        person = self.crew.people.get(owner)
        delegates = list(person.delegates) if person is not None else []
        return [owner, *(d for d in delegates if d != owner)]

    @property
    def board_name(self) -> str:
        return os.environ.get(ENV_BOARD) or self.crew.settings.board

    def redis_url(self) -> str:
        from crew.connection import resolve_redis_url

        return resolve_redis_url(self.root, self.crew.settings.redis_url)

    def cassette_path(self, playbook: str) -> Path:
        return self.root / "playbooks" / f"{playbook}.cassette.yaml"
