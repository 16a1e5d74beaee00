"""Checks across files (DESIGN §2): owners, people, profiles, roles, steps, templates, cycles."""

from __future__ import annotations

from typing import TYPE_CHECKING

from crew.exceptions import Problem

if TYPE_CHECKING:
    from crew.spec.loader import Loaded


def check_project(loaded: Loaded) -> list[Problem]:
    """Every cross-file problem of a project whose files each parsed on their own."""
    return []
