"""What reading a project's files gives: each file's validated spec with its source (`Sourced`),
and all of them with every problem found (`Loaded`).

`crew.spec.loader` fills them in; `crew.spec.checks` checks the files against each other on
them. Kept apart from both so that neither imports the other.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Generic, TypeVar

from pydantic import BaseModel

from crew.exceptions import ConfigError, Problem
from crew.spec.models import CrewSpec, PlaybookSpec, RoleSpec
from crew.spec.project import Project
from crew.spec.yamlfile import Located

__all__ = ["Loaded", "Sourced", "SpecT"]

SpecT = TypeVar("SpecT", bound=BaseModel)


@dataclass(frozen=True)
class Sourced(Generic[SpecT]):
    """A validated file and where it came from (for the lines of cross-file problems)."""

    spec: SpecT
    source: Located


@dataclass
class Loaded:
    """Everything read from a project, valid or not: what `crew validate` reports on."""

    root: Path
    crew: Sourced[CrewSpec] | None = None
    roles: dict[str, Sourced[RoleSpec]] = field(default_factory=dict)
    playbooks: dict[str, Sourced[PlaybookSpec]] = field(default_factory=dict)
    # Stems of files that exist but did not parse: references to them are not "unknown".
    broken_roles: set[str] = field(default_factory=set)
    broken_playbooks: set[str] = field(default_factory=set)
    problems: list[Problem] = field(default_factory=list)

    def project(self) -> Project:
        """The checked project; ConfigError listing every problem if there is any."""
        if self.problems or self.crew is None:
            raise ConfigError.from_problems(self.problems)
        return Project(
            root=self.root,
            crew=self.crew.spec,
            roles={name: s.spec for name, s in sorted(self.roles.items())},
            playbooks={name: s.spec for name, s in sorted(self.playbooks.items())},
        )
