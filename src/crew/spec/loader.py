"""Finding and loading a project: the one path from files on disk to a checked `Project`.

Every file is read and validated on its own first (YAML, types, unknown keys), then the files are
checked against each other (`crew.spec.checks`). All problems of all files are collected, so a
`ConfigError` from `load_project` lists every one of them, each with its `file:line`.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import ValidationError

from crew.exceptions import ConfigError, Problem
from crew.spec.explain import problems_from
from crew.spec.loaded import Loaded, Sourced, SpecT
from crew.spec.models import CrewSpec, PlaybookSpec, RoleSpec
from crew.spec.project import Project
from crew.spec.yamlfile import read_yaml

CREW_FILE = "crew.yaml"
ROLES_DIR = "agents"
PLAYBOOKS_DIR = "playbooks"
CASSETTE_SUFFIX = ".cassette.yaml"


def find_project_root(explicit: Path | None = None, start: Path | None = None) -> Path:
    """`explicit` (--project / CREW_PROJECT), else the nearest directory up holding crew.yaml."""
    if explicit is not None:
        path = explicit.expanduser().resolve()
        if path.name == CREW_FILE and path.is_file():
            return path.parent
        if path.is_file():
            raise ConfigError(
                f"'{explicit}' is a file, not a project directory",
                hint="Pass the directory that holds crew.yaml.",
            )
        if not path.is_dir():
            raise ConfigError(
                f"project directory '{explicit}' does not exist",
                hint="Pass the directory that holds crew.yaml to --project (or CREW_PROJECT).",
            )
        if not (path / CREW_FILE).exists():
            raise ConfigError(
                f"no {CREW_FILE} in {path}",
                hint="Pass the directory that holds crew.yaml to --project (or CREW_PROJECT), "
                f"or start a project there with crew init {path}.",
            )
        return path
    here = (start or Path.cwd()).resolve()
    for directory in (here, *here.parents):
        if (directory / CREW_FILE).exists():
            return directory
    raise ConfigError(
        f"no {CREW_FILE} in {here} or any parent directory",
        hint="Run crew inside a project (start one here with crew init), "
        "or pass --project DIR / set CREW_PROJECT.",
    )


def load_project(root: Path, *, code: bool = True) -> Project:
    """Load and check the project in `root`; ConfigError(problems=[...]) lists every problem.
    `code`: also import the project's Python (its tools and automated steps) and check it; a
    command that only reads or answers the board leaves it out (see `check_project`)."""
    return read_project(root, code=code).project()


def read_project(root: Path, *, code: bool = True) -> Loaded:
    """Read every file of the project and collect all problems instead of raising."""
    from crew.spec.checks import check_project

    root = root.resolve()
    loaded = Loaded(root=root)
    crew_path = root / CREW_FILE
    if not crew_path.exists():
        loaded.problems.append(
            Problem(
                CREW_FILE,
                1,
                f"no {CREW_FILE} in {root}",
                "Create it (see README) or run elsewhere.",
            )
        )
        return loaded
    crew = _read_spec(crew_path, CREW_FILE, CrewSpec, loaded.problems)
    loaded.crew = crew
    for path, rel in _files(root, ROLES_DIR, loaded.problems):
        role = _read_spec(path, rel, RoleSpec, loaded.problems)
        if role is None:
            loaded.broken_roles.add(path.stem)
        else:
            loaded.roles[path.stem] = role
    for path, rel in _files(root, PLAYBOOKS_DIR, loaded.problems):
        playbook = _read_spec(path, rel, PlaybookSpec, loaded.problems)
        if playbook is None:
            loaded.broken_playbooks.add(path.stem)
        else:
            loaded.playbooks[path.stem] = playbook
    loaded.problems.extend(check_project(loaded, code=code))
    loaded.problems = sorted(set(loaded.problems))  # one line per distinct problem
    return loaded


def _files(root: Path, directory: str, problems: list[Problem]) -> list[tuple[Path, str]]:
    """The `*.yaml` files of a project directory (cassettes aside), with their relative names."""
    folder = root / directory
    if not folder.exists():
        return []
    if not folder.is_dir():
        problems.append(
            Problem(
                directory,
                1,
                f"'{directory}' is a file, not a directory",
                f"Make {directory}/ a directory.",
            )
        )
        return []
    found: list[tuple[Path, str]] = []
    for path in sorted(folder.iterdir()):
        rel = f"{directory}/{path.name}"
        if path.name.endswith(CASSETTE_SUFFIX) or path.name.startswith("."):
            continue
        if path.suffix == ".yml":
            problems.append(
                Problem(rel, 1, "crew reads only .yaml files", f"Rename it to {path.stem}.yaml.")
            )
        elif path.suffix == ".yaml":
            found.append((path, rel))
    return found


def _read_spec(
    path: Path, rel: str, model: type[SpecT], problems: list[Problem]
) -> Sourced[SpecT] | None:
    source = read_yaml(path, rel)
    problems.extend(source.problems)
    if source.data is None:
        return None
    if not isinstance(source.data, dict):
        problems.append(
            Problem(
                rel,
                source.line([]),
                f"the file must be a mapping of keys (like `name: ...`), not {_kind(source.data)}",
                "Write `key: value` lines at the top level.",
            )
        )
        return None
    try:
        spec = model.model_validate(source.data)
    except ValidationError as error:
        problems.extend(problems_from(error, source, model))
        return None
    return Sourced(spec, source)


def _kind(value: object) -> str:
    if isinstance(value, list):
        return "a list"
    if isinstance(value, str):
        return "a single string"
    return f"a single value ({value!r})"
