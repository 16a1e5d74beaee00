"""Signed decisions (DESIGN §8): who decided, provably.

What a caller may rely on:

- **What is signed.** A `Payload`: the board, run, card, the card version answered, who, the
  decision, the comment, a hash of the edited output and a hash of what the card showed (its
  kind, step, reason, detail and output: the question, the task, the outputs under review, a tool
  call's arguments: whatever the card kind puts there). `Payload.message()` is its canonical JSON
  (sorted keys, no spaces, UTF-8): the exact bytes signed. Hashes are SHA-256 (`sha256:<hex>`) of
  the canonical JSON of the value (`""` for none).
- **How.** A standard SSH signature (SSHSIG, namespace `crew`, SHA-512), what `ssh-keygen -Y sign
  -n crew` makes: `ssh-keygen -Y verify -n crew -I PERSON -f allowed_signers -s SIG < MESSAGE`
  checks an exported one. Keys and signing are `cryptography`'s; the SSHSIG wire format is the
  `sshsig` package's (it verifies too). The signer is the key file `CREW_SIGNING_KEY` (default
  `~/.ssh/id_ed25519`), else an ssh-agent (`SSH_AUTH_SOCK`) holding that key's public half.
- **Verification** (`verify_answer`) recomputes the payload from the card as the board holds it
  and checks the signature over it, then whose key signed: one of `people.<by>.keys` (verified
  by `signed`) or an authority (verified by the authority's name). Anything else is a `Verdict`
  with `verified=False` and `why` in one line. Nothing here raises on a bad signature.
- With `settings.require_signed`, `sign_answer` refuses (ConfigError / NotAllowed, one line,
  before anything is recorded) when it cannot sign, or signs with a key crew.yaml does not list
  for the person. Without it, a missing key (or one crew.yaml does not list for the person)
  means an unsigned (self-declared) decision.
"""

from __future__ import annotations

import base64
import hashlib
import io
import os
import socket
import struct
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from crew.exceptions import ConfigError, NotAllowed
from crew.spec.snapshot import canonical_json, sha256_name

if TYPE_CHECKING:
    from crew.board.cards import Card
    from crew.spec.models import CrewSpec
    from crew.spec.sshkeys import PublicKey

__all__ = [
    "DEFAULT_KEY",
    "NAMESPACE",
    "SIGNING_KEY_ENV",
    "Payload",
    "Proof",
    "Signer",
    "Verdict",
    "digest",
    "find_signer",
    "key_owner",
    "key_path",
    "shown_digest",
    "sign_answer",
    "verify_answer",
    "verify_payload",
]

NAMESPACE = "crew"
SIGNING_KEY_ENV = "CREW_SIGNING_KEY"
DEFAULT_KEY = "~/.ssh/id_ed25519"
SIGNED = "signed"
"""`verified_by` of a decision signed with one of the person's own keys."""
_FORMAT = "crew-decision-1"


def canonical(value: Any) -> bytes:
    """The canonical JSON of `value` (`crew.spec.snapshot.canonical_json`), as UTF-8."""
    return canonical_json(value).encode()


def digest(value: Any) -> str:
    """`sha256:<hex>` of `value`'s canonical JSON; `""` for None."""
    return "" if value is None else sha256_name(canonical_json(value))


def shown_digest(card: Card) -> str:
    """The hash of what `card` shows a person (every card kind keeps it in these fields)."""
    return digest(
        {
            "kind": str(card.kind),
            "step": card.step,
            "reason": card.reason,
            "detail": card.detail,
            "output": card.output,
        }
    )


@dataclass(frozen=True)
class Payload:
    """What a person signs when they decide (see the module docstring)."""

    board: str
    run: str
    card: str
    version: int
    by: str
    decision: str
    comment: str
    output: str
    shown: str

    @classmethod
    def of(
        cls,
        board: str,
        card: Card,
        *,
        by: str,
        decision: str,
        comment: str | None,
        edited: Any,
        version: int | None = None,
    ) -> Payload:
        return cls(
            board=board,
            run=card.run,
            card=card.id,
            version=card.version if version is None else version,
            by=by,
            decision=str(decision),
            comment=comment or "",
            output=digest(edited),
            shown=shown_digest(card),
        )

    @classmethod
    def recorded(cls, board: str, card: Card) -> Payload | None:
        """The payload `card`'s recorded answer stands for (None: no answer)."""
        answer = card.decision
        if answer is None:
            return None
        return cls.of(
            board,
            card,
            by=answer.by,
            decision=str(answer.decision),
            comment=answer.comment,
            edited=answer.edited_output,
            version=answer.version,
        )

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Payload:
        return cls(
            board=str(data["board"]),
            run=str(data["run"]),
            card=str(data["card"]),
            version=int(data["version"]),
            by=str(data["by"]),
            decision=str(data["decision"]),
            comment=str(data.get("comment") or ""),
            output=str(data.get("output") or ""),
            shown=str(data.get("shown") or ""),
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "format": _FORMAT,
            "board": self.board,
            "run": self.run,
            "card": self.card,
            "version": self.version,
            "by": self.by,
            "decision": self.decision,
            "comment": self.comment,
            "output": self.output,
            "shown": self.shown,
        }

    def message(self) -> bytes:
        """The exact bytes signed."""
        return canonical(self.to_json())

    def differences(self, signed: Payload) -> list[str]:
        """`field: signed X, recorded Y` for each field where `signed` differs from this one."""
        mine, theirs = self.to_json(), signed.to_json()
        return [
            f"{k}: signed {theirs[k]!r}, recorded {mine[k]!r}" for k in mine if mine[k] != theirs[k]
        ]


@dataclass(frozen=True)
class Verdict:
    """How a recorded decision was verified: `verified`, `by` (`signed`, an authority's name,
    or None: self-declared), `key` (the signing key's fingerprint) and, when not verified, `why`."""

    verified: bool
    by: str | None = None
    key: str | None = None
    why: str | None = None

    @property
    def how(self) -> str:
        """`signed`, the authority's name (e.g. `web`), or `self-declared`."""
        return self.by or "self-declared"


# -- signers -------------------------------------------------------------------------------


@dataclass
class Signer:
    """A private key crew can sign with: `public` (its OpenSSH public key line), `source` (the
    file, or `ssh-agent`), and `sign_blob(data)`: the SSH signature blob over `data`."""

    public: str
    source: str
    _sign: Callable[[bytes], bytes] = field(repr=False)

    def sign_blob(self, data: bytes) -> bytes:
        return self._sign(data)

    def sign(self, message: bytes) -> str:
        """The armored SSHSIG signature of `message` in namespace `crew`."""
        from sshsig.binary_io import SshWriter
        from sshsig.sshsig import SshsigWrapper, ssh_enarmor_sshsig

        signed = SshsigWrapper(
            namespace=NAMESPACE.encode(),
            hash_algo=b"sha512",
            hash=hashlib.sha512(message).digest(),
        ).to_bytes()
        signature = self.sign_blob(signed)
        key_blob = base64.b64decode(self.public.split()[1])
        # The blob of OpenSSH's PROTOCOL.sshsig: MAGIC_PREAMBLE, SIG_VERSION 1, publickey,
        # namespace, reserved, hash_algorithm, signature (sshsig's own writer and armor).
        out = SshWriter(io.BytesIO())
        out.write(b"SSHSIG")
        out.write_uint32(1)
        out.write_string(key_blob)
        out.write_string(NAMESPACE.encode())
        out.write_string(b"")
        out.write_string(b"sha512")
        out.write_string(signature)
        return ssh_enarmor_sshsig(out.output_fh.getvalue())


def key_path(env: Mapping[str, str] | None = None) -> Path:
    """The private key file crew signs with: `CREW_SIGNING_KEY`, else ~/.ssh/id_ed25519."""
    env = os.environ if env is None else env
    return Path(env.get(SIGNING_KEY_ENV) or DEFAULT_KEY).expanduser()


def find_signer(env: Mapping[str, str] | None = None) -> tuple[Signer | None, str]:
    """The signer crew would use, or None and why not (one line, saying how to fix it)."""
    env = os.environ if env is None else env
    path = key_path(env)
    shown = str(path)
    agent = env.get("SSH_AUTH_SOCK") or ""
    public = _public_line(path)

    def held() -> Signer | None:
        """An ssh-agent holding the key's public half, asked when the file cannot sign."""
        return _agent_signer(agent, public) if public is not None and agent else None

    if not path.exists():
        if (signer := held()) is not None:
            return signer, ""
        return None, (
            f"no signing key at {shown}: create one with `ssh-keygen -t ed25519 -f {shown}`, "
            f"or set {SIGNING_KEY_ENV} to your key"
        )
    from cryptography.hazmat.primitives.serialization import load_ssh_private_key

    try:
        data = path.read_bytes()
    except OSError as error:
        return None, f"cannot read the signing key {shown}: {error.strerror or error}"
    try:
        private = load_ssh_private_key(data, password=None)
    except TypeError:  # encrypted: only the agent can sign with it
        if (signer := held()) is not None:
            return signer, ""
        return None, (
            f"the signing key {shown} is protected by a passphrase and no ssh-agent holds it: "
            f"run `ssh-add {shown}`, or set {SIGNING_KEY_ENV} to a key without one"
        )
    except Exception as error:  # cryptography: not a key, or a kind of key it cannot load
        return None, (
            f"{shown} is not an OpenSSH private key crew can use ({error}): "
            f"set {SIGNING_KEY_ENV} to an ssh-ed25519 or ssh-rsa key"
        )
    return _file_signer(private, shown)


def _public_line(path: Path) -> str | None:
    try:
        line = Path(f"{path}.pub").read_text().strip()
    except (OSError, UnicodeDecodeError):
        return None
    parts = line.split()
    return f"{parts[0]} {parts[1]}" if len(parts) >= 2 else None


def _file_signer(private: Any, source: str) -> tuple[Signer | None, str]:
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ed25519, padding, rsa
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    public = private.public_key().public_bytes(Encoding.OpenSSH, PublicFormat.OpenSSH).decode()
    if isinstance(private, ed25519.Ed25519PrivateKey):

        def sign(data: bytes) -> bytes:
            return _ssh_string(b"ssh-ed25519") + _ssh_string(private.sign(data))

    elif isinstance(private, rsa.RSAPrivateKey):

        def sign(data: bytes) -> bytes:
            raw = private.sign(data, padding.PKCS1v15(), hashes.SHA512())
            return _ssh_string(b"rsa-sha2-512") + _ssh_string(raw)

    else:
        kind = public.split()[0]
        return None, (
            f"the signing key {source} is a {kind} key: crew signs with ssh-ed25519 or ssh-rsa "
            f"keys (set {SIGNING_KEY_ENV})"
        )
    return Signer(public=public, source=source, _sign=sign), ""


def _ssh_string(data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + data


# The ssh-agent protocol (draft-miller-ssh-agent): a framing over a Unix socket, no cryptography.
_REQUEST_IDENTITIES, _IDENTITIES_ANSWER = 11, 12
_SIGN_REQUEST, _SIGN_RESPONSE = 13, 14
_RSA_SHA2_512 = 4


def _agent_call(sock_path: str, kind: int, body: bytes) -> tuple[int, bytes] | None:
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(5.0)
            sock.connect(sock_path)
            message = bytes([kind]) + body
            sock.sendall(struct.pack(">I", len(message)) + message)
            head = _recv(sock, 4)
            reply = _recv(sock, struct.unpack(">I", head)[0])
    except (OSError, struct.error, ValueError):
        return None
    return (reply[0], reply[1:]) if reply else None


def _recv(sock: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        if not chunk:
            raise ValueError("the agent closed the connection")
        data += chunk
    return data


def _agent_signer(sock_path: str, public: str) -> Signer | None:
    """A signer through the agent at `sock_path`, if it holds `public`'s private half."""
    from crew.spec.sshkeys import KEY_TYPES

    if public.split()[0] not in KEY_TYPES:  # a key crew cannot verify signatures of
        return None
    try:
        blob = base64.b64decode(public.split()[1], validate=True)
    except ValueError:  # a garbled .pub file: no key to ask the agent for
        return None
    reply = _agent_call(sock_path, _REQUEST_IDENTITIES, b"")
    if reply is None or reply[0] != _IDENTITIES_ANSWER:
        return None
    try:
        count = struct.unpack(">I", reply[1][:4])[0]
        rest, held = reply[1][4:], set()
        for _ in range(count):
            size = struct.unpack(">I", rest[:4])[0]
            held.add(rest[4 : 4 + size])
            rest = rest[4 + size :]
            size = struct.unpack(">I", rest[:4])[0]  # the comment
            rest = rest[4 + size :]
    except struct.error:  # not the protocol's answer: treat as no agent
        return None
    if blob not in held:
        return None
    flags = _RSA_SHA2_512 if public.startswith("ssh-rsa ") else 0

    def sign(data: bytes) -> bytes:
        body = _ssh_string(blob) + _ssh_string(data) + struct.pack(">I", flags)
        answer = _agent_call(sock_path, _SIGN_REQUEST, body)
        if answer is None or answer[0] != _SIGN_RESPONSE or len(answer[1]) < 4:
            raise ConfigError(
                "the ssh-agent refused to sign the decision (nothing recorded)",
                hint="Check `ssh-add -l` lists your key (an agent may ask you to confirm).",
            )
        size = struct.unpack(">I", answer[1][:4])[0]
        return answer[1][4 : 4 + size]

    return Signer(public=public, source="ssh-agent", _sign=sign)


# -- signing and verifying -----------------------------------------------------------------


def key_owner(crew: CrewSpec, key: PublicKey | str, person: str) -> str | None:
    """`signed` when `key` is one of `person`'s keys in crew.yaml, an authority's name when it
    is that authority's key, else None."""
    from crew.spec.sshkeys import KeyLineError, parse_public_key

    line = key if isinstance(key, str) else key.line
    line = " ".join(line.split()[:2])

    def same(listed: str) -> bool:
        try:
            return parse_public_key(listed).line == line
        except KeyLineError:
            return False

    entry = crew.people.get(person)
    if entry is not None and any(same(k) for k in entry.keys):
        return SIGNED
    for name, listed in crew.authorities.items():
        if same(listed):
            return name
    return None


@dataclass(frozen=True)
class Proof:
    """What goes on a card's answer and its `answered` event: the signature, the payload it
    signs, and how the answering process verified it."""

    signature: str | None
    payload: Payload | None
    verdict: Verdict

    def fields(self) -> dict[str, str]:
        """The card's hash fields (board.answer's `proof`)."""
        fields = {
            "verified": "1" if self.verdict.verified else "0",
            "verified_by": self.verdict.by or "",
        }
        if self.signature is not None and self.payload is not None:
            fields["signature"] = self.signature
            fields["signed"] = canonical(self.payload.to_json()).decode()
        return fields

    def detail(self) -> dict[str, Any]:
        """The `answered` event's extra detail."""
        return {
            "signature": self.signature,
            "signed": None if self.payload is None else self.payload.to_json(),
            "verified": self.verdict.verified,
            "verified_by": self.verdict.by,
        }


def sign_answer(
    crew: CrewSpec,
    board: str,
    card: Card,
    person: str,
    decision: str,
    comment: str | None,
    edited: Any,
    *,
    env: Mapping[str, str] | None = None,
) -> Proof:
    """Sign `person`'s decision on `card` (as the card is now) with the key crew finds.

    With `settings.require_signed`: ConfigError when there is no usable key, NotAllowed when
    crew.yaml does not list the key for `person` (one line each; nothing is recorded). Without
    it, no key, or a key crew.yaml lists neither for `person` nor as an authority, gives an
    unsigned proof (self-declared)."""
    required = crew.settings.require_signed
    signer, why = find_signer(env)
    if signer is None:
        if required:
            raise ConfigError(
                f"{person}'s decision must be signed (settings.require_signed) but {why}; "
                "nothing recorded"
            )
        return Proof(None, None, Verdict(False, why="unsigned"))
    owner = key_owner(crew, signer.public, person)
    if owner is None:
        from crew.spec.sshkeys import parse_public_key

        fingerprint = parse_public_key(signer.public).fingerprint
        if not required:
            # A signature by a key crew.yaml does not list for them proves nothing about them.
            return Proof(None, None, Verdict(False, why=f"key {fingerprint} is not {person}'s"))
        raise NotAllowed(
            f"the signing key {fingerprint} ({signer.source}) is not listed for {person} in "
            "crew.yaml; nothing recorded",
            hint=f"Answer as the person that key belongs to, or add its public key to "
            f"people.{person}.keys (`crew keys` prints it).",
        )
    payload = Payload.of(board, card, by=person, decision=decision, comment=comment, edited=edited)
    signature = signer.sign(payload.message())
    verdict = verify_payload(crew, payload, signature)
    return Proof(signature, payload, verdict)


def verify_payload(crew: CrewSpec, payload: Payload, signature: str) -> Verdict:
    """Does `signature` sign `payload`, with a key crew.yaml lists for `payload.by` (or an
    authority's)? Never raises on a bad signature."""
    import sshsig

    from crew.spec.sshkeys import parse_public_key

    try:
        key = sshsig.check_signature(payload.message(), signature, namespace=NAMESPACE)
        signer = parse_public_key(key.openssh_str())
    except Exception as error:  # sshsig raises several kinds on a forged or garbled signature
        text = str(error).splitlines()[0] if str(error) else type(error).__name__
        return Verdict(False, why=f"the signature does not verify ({text[:120]})")
    owner = key_owner(crew, signer, payload.by)
    if owner is None:
        return Verdict(
            False,
            key=signer.fingerprint,
            why=f"signed with key {signer.fingerprint}, which crew.yaml lists neither for "
            f"{payload.by} nor as an authority",
        )
    return Verdict(True, by=owner, key=signer.fingerprint)


def verify_answer(crew: CrewSpec, board: str, card: Card) -> Verdict:
    """How `card`'s recorded answer verifies against crew.yaml, recomputed from the card as the
    board holds it (a decision, comment, edit or shown output changed after signing, or a
    signature over another card version, does not verify)."""
    answer = card.decision
    payload = Payload.recorded(board, card)
    if answer is None or payload is None:
        return Verdict(False, why="no decision recorded")
    if not answer.signature:
        return Verdict(False, why="the decision is not signed")
    signed = answer.signed
    if signed is not None:
        try:
            claimed = Payload.from_json(signed)
        except (KeyError, TypeError, ValueError):
            claimed = None
        if claimed is not None and claimed != payload:
            return Verdict(
                False,
                why="the signature is over another decision: "
                + "; ".join(payload.differences(claimed))[:300],
            )
    return verify_payload(crew, payload, answer.signature)
