"""The files a kept project ships: type hints marked for checkers (py.typed, in the wheel with the
package), a licence matching pyproject's, and a changelog that names the current version."""

from __future__ import annotations

import tomllib
from importlib.resources import files
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PROJECT = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]


def test_the_package_says_it_is_typed() -> None:
    assert files("crew").joinpath("py.typed").is_file()


def test_the_licence_is_the_one_pyproject_declares() -> None:
    assert PROJECT["license"] == "MIT"
    text = (REPO / "LICENSE").read_text()
    assert text.startswith("MIT License")
    assert "Copyright (c) 2026 the crew authors" in text


def test_the_changelog_names_the_current_version() -> None:
    text = (REPO / "CHANGELOG.md").read_text()
    assert "## Unreleased" in text
    assert f"## {PROJECT['version']} - " in text
