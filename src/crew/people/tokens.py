"""Who a person is when they come through `crew serve`: personal access tokens and one-click links.

What a caller may rely on:

- **Tokens** (`issue_token`, `revoke_token`, `revoke_tokens_of`, `person_of_token`): a token is
  `crew_<id>_<secret>`. The board keeps only the SHA-256 of the secret (`<P>token:<id>`: person,
  hash, created, expires), compared in constant time; the token itself is shown once, when it is
  issued, and never stored, logged or shown again. `id` names it for `crew token revoke`.
  An expired or revoked token is no one (`person_of_token` returns None).
- **One-click links** (`link_for`, `open_link`): a link opens one card for one person. It is
  signed (HMAC-SHA256 with the board's own random web secret, `<P>web`), expires (7 days,
  `LINK_SECONDS`) and is single-use: opening it records its nonce (`<P>link:<nonce>`, kept until
  it expires) in the same step that checks it was not used, so a second opening is refused.
  Links exist only where a public URL is known (`crew serve --public-url` records it on the
  board, `set_public_url`): every crew process that delivers a webhook then adds a `link`.
- Nothing here needs the web extra: the CLI (`crew token`) and webhook deliveries use it too.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from crew.exceptions import ConfigError, NotAllowed

if TYPE_CHECKING:
    from crew.board.board import Board

__all__ = [
    "LINK_SECONDS",
    "TOKEN_SECONDS",
    "Issued",
    "LinkClaim",
    "issue_token",
    "link_for",
    "open_link",
    "person_of_token",
    "public_url",
    "revoke_token",
    "revoke_tokens_of",
    "set_public_url",
    "token_id",
]

TOKEN_SECONDS = 30 * 86400.0
"""How long a token lasts unless `crew token issue --expires` says otherwise."""
LINK_SECONDS = 7 * 86400.0
"""How long a one-click link can be opened (DESIGN §8)."""
_PREFIX = "crew"


@dataclass(frozen=True)
class Issued:
    """A token just issued: `token` is shown once and kept nowhere."""

    id: str
    person: str
    token: str
    expires: float


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def issue_token(board: Board, person: str, seconds: float = TOKEN_SECONDS) -> Issued:
    """A new personal access token for `person`, valid for `seconds`."""
    if seconds <= 0:
        raise ConfigError(
            f"a token must last a positive time, not {seconds:g}s", hint="Use e.g. 30d."
        )
    token_id = secrets.token_hex(4)
    secret = secrets.token_urlsafe(32)
    now = board.now()
    expires = now + seconds
    key = board.keys.token(token_id)
    pipe = board.client.pipeline(transaction=True)
    pipe.hset(
        key,
        mapping={
            "person": person,
            "hash": _hash(secret),
            "created": repr(now),
            "expires": repr(expires),
        },
    )
    pipe.expireat(key, int(expires) + 1)
    pipe.sadd(board.keys.person_tokens(person), token_id)
    pipe.execute()
    return Issued(token_id, person, f"{_PREFIX}_{token_id}_{secret}", expires)


def token_id(token: str) -> str | None:
    """The id part of `token` (None when it is not shaped like a crew token)."""
    prefix, _, rest = token.partition("_")
    ident, _, secret = rest.partition("_")
    if prefix != _PREFIX or not ident or not secret:
        return None
    return ident


def person_of_token(board: Board, token: str) -> str | None:
    """Who `token` stands for; None when it is unknown, revoked, expired or malformed."""
    ident = token_id(token)
    if ident is None or len(token) > 200:
        return None
    secret = token.split("_", 2)[2]
    db: Any = board.client
    record: dict[str, str] = db.hgetall(board.keys.token(ident))
    if not record:
        return None
    if not hmac.compare_digest(record.get("hash", ""), _hash(secret)):
        return None
    if float(record.get("expires") or 0) <= board.now():
        return None
    return record.get("person") or None


def revoke_token(board: Board, ident: str) -> str | None:
    """Revoke the token with id `ident` (a whole token is accepted too); return whose it was,
    None when there is no such token."""
    ident = token_id(ident) or ident
    db: Any = board.client
    key = board.keys.token(ident)
    person = db.hget(key, "person")
    if person is None:
        return None
    pipe = board.client.pipeline(transaction=True)
    pipe.delete(key)
    pipe.srem(board.keys.person_tokens(person), ident)
    pipe.execute()
    return str(person)


def revoke_tokens_of(board: Board, person: str) -> int:
    """Revoke every token of `person`; return how many there were (expired ones included)."""
    db: Any = board.client
    ids: set[str] = db.smembers(board.keys.person_tokens(person))
    pipe = board.client.pipeline(transaction=True)
    for ident in ids:
        pipe.delete(board.keys.token(ident))
    pipe.delete(board.keys.person_tokens(person))
    pipe.execute()
    return len(ids)


# -- one-click links ------------------------------------------------------------------------------


def _secret(board: Board, stored: str | None) -> bytes:
    """The board's web secret: `stored` (as read from `<P>web`), else made now (the first
    process to make it wins)."""
    if stored is None:
        db: Any = board.client
        key = board.keys.web()
        db.hsetnx(key, "secret", secrets.token_hex(32))
        stored = str(db.hget(key, "secret"))
    return bytes.fromhex(stored)


def set_public_url(board: Board, url: str | None) -> None:
    """Record where `crew serve` is reached (None: forget it; no links are made then)."""
    db: Any = board.client
    if url:
        db.hset(board.keys.web(), "public_url", url.rstrip("/"))
    else:
        db.hdel(board.keys.web(), "public_url")


def public_url(board: Board) -> str | None:
    """The public URL `crew serve` recorded, if any."""
    db: Any = board.client
    url = db.hget(board.keys.web(), "public_url")
    return str(url) if url else None


def _signature(secret: bytes, card: str, person: str, expires: int, nonce: str) -> str:
    message = f"{card}\n{person}\n{expires}\n{nonce}".encode()
    return hmac.new(secret, message, hashlib.sha256).hexdigest()


def link_for(board: Board, card: str, person: str, *, seconds: float = LINK_SECONDS) -> str | None:
    """A signed, single-use link opening `card` for `person`; None when no public URL is
    recorded on the board."""
    db: Any = board.client
    base, stored = db.hmget(board.keys.web(), "public_url", "secret")  # one round trip a link
    if not base:
        return None
    expires = int(board.now() + seconds)
    nonce = secrets.token_urlsafe(12)
    signature = _signature(_secret(board, stored), card, person, expires, nonce)
    query = urlencode({"card": card, "person": person, "expires": expires, "nonce": nonce})
    return f"{base}/link?{query}&sig={signature}"


@dataclass(frozen=True)
class LinkClaim:
    """What a one-click link claims: the card, the person, until when, its nonce, its HMAC."""

    card: str
    person: str
    expires: int
    nonce: str
    sig: str


def open_link(board: Board, claim: LinkClaim) -> None:
    """Check `claim` and use it up; NotAllowed (one line) for a forged, expired or reused link."""
    db: Any = board.client
    secret = _secret(board, db.hget(board.keys.web(), "secret"))
    expected = _signature(secret, claim.card, claim.person, claim.expires, claim.nonce)
    if not hmac.compare_digest(expected, claim.sig):
        raise NotAllowed("this link is not one crew made (its signature does not match)")
    left = claim.expires - board.now()
    if left <= 0:
        raise NotAllowed("this link has expired", hint="Sign in with a token instead.")
    if not db.set(board.keys.link(claim.nonce), claim.person, nx=True, ex=int(left) + 1):
        raise NotAllowed(
            "this link was already used: a link opens its card once",
            hint="Sign in with a token to see the card again.",
        )
