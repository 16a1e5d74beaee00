"""OpenSSH public keys as crew.yaml lists them (`people.<p>.keys`, `authorities`).

What a caller may rely on: `parse_public_key` turns one `ssh-ed25519 AAAA... comment` line into a
`PublicKey` (its type, SHA256 fingerprint as `ssh-keygen -l` prints it, the key itself) or raises
`KeyLineError` with a one-line reason. crew signs and verifies with ssh-ed25519 and ssh-rsa keys
(what the `sshsig` package verifies); any other type is refused as unknown. The parsing is the
`sshsig` package's (which uses `cryptography`): nothing here decodes key material by hand.
"""

from __future__ import annotations

import binascii
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import sshsig

__all__ = ["KEY_TYPES", "KeyLineError", "PublicKey", "parse_public_key"]

KEY_TYPES = ("ssh-ed25519", "ssh-rsa")
"""The key types crew signs and verifies decisions with."""


class KeyLineError(ValueError):
    """A key line that is not a usable OpenSSH public key; `str()` says why, in one line."""


@dataclass(frozen=True)
class PublicKey:
    """One public key: `type` (ssh-ed25519), `fingerprint` (SHA256:...), `line` (type and
    base64, without the comment) and `key` (the `sshsig.PublicKey`, to verify with)."""

    type: str
    fingerprint: str
    line: str
    comment: str
    key: sshsig.PublicKey

    def __eq__(self, other: object) -> bool:
        return isinstance(other, PublicKey) and other.line == self.line

    def __hash__(self) -> int:
        return hash(self.line)


def parse_public_key(text: str) -> PublicKey:
    """`text` (one OpenSSH public key line) as a `PublicKey`; KeyLineError saying why not."""
    import sshsig

    if not isinstance(text, str):
        raise KeyLineError(f"a key is a line of text, not {type(text).__name__}")
    parts = text.strip().split(maxsplit=2)
    if len(parts) < 2:
        shown = text.strip()[:40] or "an empty line"
        raise KeyLineError(
            f"'{shown}' is not an OpenSSH public key (expected 'ssh-ed25519 AAAA... comment')"
        )
    kind, blob = parts[0], parts[1]
    if kind not in KEY_TYPES:
        if kind.startswith(("ssh-", "ecdsa-", "sk-")):
            raise KeyLineError(
                f"unknown key type '{kind}': crew signs with {' or '.join(KEY_TYPES)} keys"
            )
        raise KeyLineError(
            f"'{kind[:40]}' is not an OpenSSH key type (expected 'ssh-ed25519 AAAA... comment')"
        )
    try:
        raw = binascii.a2b_base64(blob)
        key = sshsig.PublicKey.from_ssh_encoding(raw)
    except (binascii.Error, ValueError, NotImplementedError) as error:
        raise KeyLineError(
            f"the {kind} key '{blob[:16]}...' is malformed ({error or 'bad encoding'})"
        ) from None
    except Exception as error:  # cryptography refuses key material it cannot load
        raise KeyLineError(f"the {kind} key '{blob[:16]}...' is malformed ({error})") from None
    if key.algo_name != kind:
        raise KeyLineError(f"the key says '{kind}' but holds a {key.algo_name} key")
    return PublicKey(
        type=kind,
        fingerprint=key.sha256_str(),
        line=f"{kind} {blob}",
        comment=parts[2] if len(parts) > 2 else "",
        key=key,
    )
