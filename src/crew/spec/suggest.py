"""'Did you mean' hints for names a user mistyped."""

from __future__ import annotations

import difflib
from collections.abc import Iterable


def closest(name: str, choices: Iterable[str]) -> str | None:
    """The choice closest to `name`, if one is close enough to be a likely typo."""
    matches = difflib.get_close_matches(name, list(choices), n=1, cutoff=0.6)
    return matches[0] if matches else None


def did_you_mean(name: str, choices: Iterable[str], *, kind: str) -> str:
    """`Did you mean 'alice'? People: alice, bob` (the listing alone when nothing is close)."""
    options = sorted(set(choices))
    listing = f"{kind}: {', '.join(options)}" if options else f"{kind}: none defined"
    match = closest(name, options)
    return f"Did you mean '{match}'? {listing}" if match else listing
