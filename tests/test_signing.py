"""Signed decisions (DESIGN §8, issue 11): keys in crew.yaml, `crew answer` signing with the
person's SSH key, the driver acting only on decisions that verify (settings.require_signed),
`crew keys`, and `ssh-keygen -Y verify` checking an exported decision.

Keys are made here with `cryptography` (as a user's `ssh-keygen -t ed25519` would). Each test
points CREW_SIGNING_KEY at the key of the person it answers as (or at none)."""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import redis
import yaml
from cryptography.hazmat.primitives.asymmetric import ed25519
from cryptography.hazmat.primitives.serialization import (
    BestAvailableEncryption,
    Encoding,
    NoEncryption,
    PrivateFormat,
    PublicFormat,
)
from support.cli import RUN, as_json
from support.terminal import Terminal

from crew.board import Board
from crew.people.signing import Payload, Signer, find_signer

Cli = Callable[..., Any]


def make_key(directory: Path, name: str) -> tuple[Path, str]:
    """An ed25519 key pair in `directory` (name, name.pub); returns the private key's path and
    the public key line."""
    key = ed25519.Ed25519PrivateKey.generate()
    private = directory / name
    private.write_bytes(key.private_bytes(Encoding.PEM, PrivateFormat.OpenSSH, NoEncryption()))
    private.chmod(0o600)  # as ssh-keygen leaves it (ssh-add refuses a key others can read)
    public = key.public_key().public_bytes(Encoding.OpenSSH, PublicFormat.OpenSSH).decode()
    (directory / f"{name}.pub").write_text(f"{public} {name}@laptop\n")
    return private, f"{public} {name}@laptop"


def locked_key(directory: Path) -> Path:
    """A passphrase-protected ed25519 key (cryptography needs bcrypt to write one; ssh-keygen
    does it where it is installed)."""
    path = directory / "locked"
    if shutil.which("ssh-keygen"):
        subprocess.run(
            ["ssh-keygen", "-q", "-t", "ed25519", "-N", "secret", "-f", str(path)], check=True
        )
        return path
    pytest.importorskip("bcrypt")
    key = ed25519.Ed25519PrivateKey.generate()
    path.write_bytes(
        key.private_bytes(Encoding.PEM, PrivateFormat.OpenSSH, BestAvailableEncryption(b"secret"))
    )
    return path


def team(root: Path, *, require_signed: bool) -> dict[str, Path]:
    """Keys for carol and dan, listed in crew.yaml; returns their private key paths."""
    keys = root / ".keys"
    keys.mkdir()
    crew_yaml = root / "crew.yaml"
    data = yaml.safe_load(crew_yaml.read_text())
    paths = {}
    for person in ("carol", "dan"):
        path, public = make_key(keys, person)
        data["people"][person]["keys"] = [public]
        paths[person] = path
    data["settings"]["require_signed"] = require_signed
    crew_yaml.write_text(yaml.safe_dump(data, sort_keys=False))
    return paths


def started(crew_cli: Cli) -> tuple[str, str]:
    """Bob starts the example run; it waits on carol's checkpoint. Returns (run, card)."""
    result = crew_cli(*RUN, "--json")
    assert result.code == 3, result.err
    report = as_json(result)
    return report["run"], report["waiting_on"][0]["card"]


def card_json(crew_cli: Cli, card: str) -> dict[str, Any]:
    return dict(as_json(crew_cli("show", card, "--json")))


def board_of(redis_url: str, name: str) -> Board:
    return Board(redis.Redis.from_url(redis_url, decode_responses=True), name)


@pytest.fixture
def keys(example: Path) -> dict[str, Path]:
    return team(example, require_signed=True)


def test_a_signed_answer_moves_the_run_on_and_is_recorded_verified(
    crew_cli: Cli, keys: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    run, card = started(crew_cli)
    monkeypatch.setenv("CREW_SIGNING_KEY", str(keys["carol"]))

    result = crew_cli("answer", card, "approve", "-m", "fine", "--as", "carol", "--json")

    assert result.code == 0, result.err
    assert as_json(result)["status"] == "done"
    decision = card_json(crew_cli, card)["decision"]
    assert (decision["verified"], decision["verified_by"]) == (True, "signed")
    assert decision["signature"].startswith("-----BEGIN SSH SIGNATURE-----")
    (answered,) = [e for e in as_json(crew_cli("log", run, "--json")) if e["event"] == "answered"]
    assert answered["detail"]["verified"] is True
    assert answered["detail"]["signed"]["version"] == 1
    assert answered["detail"]["signed"]["comment"] == "fine"
    assert crew_cli("audit", "verify", run).code == 0
    monkeypatch.setenv("COLUMNS", "200")  # the detail on one line
    log = crew_cli("log", run).out
    assert "verified=signed" in log
    assert 'decided: approve by carol (signed): "fine"' in crew_cli("show", card).out


def test_answering_as_carol_without_her_key_is_refused_and_nothing_is_recorded(
    crew_cli: Cli, keys: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    _, card = started(crew_cli)
    monkeypatch.setenv("CREW_SIGNING_KEY", str(keys["dan"]))

    result = crew_cli("answer", card, "approve", "--as", "carol")

    assert result.code == 2
    (message,) = result.err.strip().splitlines()
    assert "is not listed for carol in crew.yaml; nothing recorded" in message
    assert card_json(crew_cli, card)["status"] == "waiting"


def test_a_missing_key_is_refused_when_signatures_are_required(
    crew_cli: Cli, keys: dict[str, Path], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    _, card = started(crew_cli)
    monkeypatch.setenv("CREW_SIGNING_KEY", str(tmp_path / "absent"))

    result = crew_cli("answer", card, "approve", "--as", "carol")

    assert result.code == 2
    (message,) = result.err.strip().splitlines()
    assert "carol's decision must be signed (settings.require_signed)" in message
    assert "ssh-keygen -t ed25519" in message and "Traceback" not in result.err
    assert card_json(crew_cli, card)["status"] == "waiting"


def test_a_passphrase_protected_key_without_an_agent_says_how_to_fix_it(
    crew_cli: Cli, keys: dict[str, Path], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    _, card = started(crew_cli)
    locked = locked_key(tmp_path)
    monkeypatch.setenv("CREW_SIGNING_KEY", str(locked))

    result = crew_cli("answer", card, "approve", "--as", "carol")

    assert result.code == 2
    (message,) = result.err.strip().splitlines()
    assert "is protected by a passphrase and no ssh-agent holds it" in message
    assert f"ssh-add {locked}" in message
    assert card_json(crew_cli, card)["status"] == "waiting"


def test_a_file_that_is_not_a_key_is_a_one_line_error(
    crew_cli: Cli, keys: dict[str, Path], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    _, card = started(crew_cli)
    garbage = tmp_path / "id_garbage"
    garbage.write_text("not a key\n")
    monkeypatch.setenv("CREW_SIGNING_KEY", str(garbage))

    result = crew_cli("answer", card, "approve", "--as", "carol")

    assert result.code == 2
    assert "is not an OpenSSH private key crew can use" in result.err
    assert len(result.err.strip().splitlines()) == 1


def test_a_decision_written_straight_into_redis_is_refused_by_the_driver(
    crew_cli: Cli,
    keys: dict[str, Path],
    redis_url: str,
    unique_name: str,
    client: redis.Redis,
) -> None:
    run, card = started(crew_cli)
    # What someone with redis-cli could do: HSET the decision fields on the card's hash.
    client.hset(
        f"crew:{{{unique_name}}}:card:{card}",
        mapping={"decided_by": "carol", "decision": "approve", "decided_at": "1",
                 "decided_version": "1"},
    )

    result = crew_cli("resume", run, "--json")

    assert result.code == 3, result.err  # still waiting on carol
    shown = card_json(crew_cli, card)
    assert shown["status"] == "waiting" and shown["decision"] is None
    inbox = as_json(crew_cli("inbox", "--as", "carol", "--json"))
    assert [c["card"] for c in inbox] == [card]
    events = as_json(crew_cli("log", run, "--json"))
    (refused,) = [e for e in events if e["event"] == "refused_decision"]
    assert refused["card"] == card
    assert refused["detail"]["why"] == "the decision is not signed"
    assert refused["detail"]["by"] == "carol"
    assert "refused_decision" in crew_cli("log", run).out
    audit = crew_cli("audit", "verify", run)
    assert f"refused {refused['id']} ({card}): approve by carol" in audit.out


def test_a_signature_over_another_card_version_is_refused(
    crew_cli: Cli,
    keys: dict[str, Path],
    redis_url: str,
    unique_name: str,
    client: redis.Redis,
) -> None:
    run, card_id = started(crew_cli)
    board = board_of(redis_url, unique_name)
    card = board.get(card_id)
    signer, _ = find_signer({"CREW_SIGNING_KEY": str(keys["carol"])})
    assert isinstance(signer, Signer)
    # Carol really signed an approval, but of an earlier version of the card.
    old = Payload.of(
        unique_name, card, by="carol", decision="approve", comment=None, edited=None,
        version=card.version + 5,
    )
    client.hset(
        f"crew:{{{unique_name}}}:card:{card_id}",
        mapping={
            "decided_by": "carol",
            "decision": "approve",
            "decided_at": "1",
            "decided_version": str(card.version),
            "signature": signer.sign(old.message()),
            "signed": json.dumps(old.to_json()),
        },
    )

    assert crew_cli("resume", run).code == 3

    events = as_json(crew_cli("log", run, "--json"))
    (refused,) = [e for e in events if e["event"] == "refused_decision"]
    assert "version: signed 6, recorded 1" in refused["detail"]["why"]
    assert card_json(crew_cli, card_id)["status"] == "waiting"


def test_without_require_signed_unsigned_is_self_declared_and_signed_is_verified(
    crew_cli: Cli, example: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    keys = team(example, require_signed=False)
    run, first = started(crew_cli)
    assert crew_cli("answer", first, "reject", "-m", "again", "--as", "carol").code == 3
    decision = card_json(crew_cli, first)["decision"]
    assert (decision["verified"], decision["verified_by"], decision["signature"]) == (
        False,
        None,
        None,
    )
    monkeypatch.setenv("COLUMNS", "200")  # the detail on one line
    assert "verified=self-declared" in crew_cli("log", run).out
    assert "decided: reject by carol (self-declared)" in crew_cli("show", first).out

    (second,) = [c["card"] for c in as_json(crew_cli("inbox", "--as", "carol", "--json"))]
    monkeypatch.setenv("CREW_SIGNING_KEY", str(keys["carol"]))
    assert crew_cli("answer", second, "approve", "--as", "carol").code == 0
    decision = card_json(crew_cli, second)["decision"]
    assert (decision["verified"], decision["verified_by"]) == (True, "signed")


def test_an_authority_signs_for_the_person_it_authenticated(
    crew_cli: Cli, keys: dict[str, Path], example: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    web, public = make_key(example / ".keys", "web")
    crew_yaml = example / "crew.yaml"
    data = yaml.safe_load(crew_yaml.read_text())
    data["authorities"] = {"web": public}
    crew_yaml.write_text(yaml.safe_dump(data, sort_keys=False))
    _, card = started(crew_cli)
    monkeypatch.setenv("CREW_SIGNING_KEY", str(web))
    from crew.people.answering import answer_card
    from crew.spec.loader import load_project

    project = load_project(example)
    board = board_of(project.redis_url(), project.board_name)
    answered = answer_card(project, board, card, "carol", "approve")

    assert answered.decision is not None
    assert (answered.decision.verified, answered.decision.verified_by) == (True, "web")


def test_crew_keys_shows_the_key_and_whether_crew_yaml_lists_it(
    crew_cli: Cli, keys: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CREW_SIGNING_KEY", str(keys["carol"]))

    mine = as_json(crew_cli("keys", "--as", "carol", "--json"))
    other = as_json(crew_cli("keys", "--as", "dan", "--json"))
    text = crew_cli("keys", "--as", "dan")

    assert (mine["listed"], mine["verified_by"], mine["require_signed"]) == (True, "signed", True)
    assert mine["fingerprint"].startswith("SHA256:") and mine["source"] == str(keys["carol"])
    assert other["listed"] is False and other["fingerprint"] == mine["fingerprint"]
    assert "listed: no; to sign as dan, add the public line above to people.dan.keys" in text.out
    monkeypatch.setenv("CREW_SIGNING_KEY", str(keys["carol"]) + ".absent")
    none = as_json(crew_cli("keys", "--as", "carol", "--json"))
    assert none["key"] is None and "no signing key at" in none["problem"]


@pytest.mark.skipif(shutil.which("ssh-keygen") is None, reason="needs OpenSSH's ssh-keygen")
def test_an_exported_decision_verifies_with_ssh_keygen(
    crew_cli: Cli, keys: dict[str, Path], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    _, card = started(crew_cli)
    monkeypatch.setenv("CREW_SIGNING_KEY", str(keys["carol"]))
    assert crew_cli("answer", card, "approve", "--as", "carol").code == 0
    out = tmp_path / "export"

    result = crew_cli("audit", "export", card, "--out", str(out))

    assert result.code == 0, result.err
    check = subprocess.run(
        [
            "ssh-keygen", "-Y", "verify", "-n", "crew", "-I", "carol",
            "-f", str(out / f"{card}.allowed_signers"),
            "-s", str(out / f"{card}.decision.json.sig"),
        ],
        input=(out / f"{card}.decision.json").read_bytes(),
        capture_output=True,
        check=False,
    )
    assert check.returncode == 0, check.stderr
    assert b'Good "crew" signature for carol' in check.stdout
    # The same signature does not verify for another decision.
    forged = json.loads((out / f"{card}.decision.json").read_text())
    forged["decision"] = "reject"
    bad = subprocess.run(
        [
            "ssh-keygen", "-Y", "verify", "-n", "crew", "-I", "carol",
            "-f", str(out / f"{card}.allowed_signers"),
            "-s", str(out / f"{card}.decision.json.sig"),
        ],
        input=json.dumps(forged).encode(),
        capture_output=True,
        check=False,
    )
    assert bad.returncode != 0


def test_exporting_an_unsigned_decision_is_a_one_line_error(
    crew_cli: Cli, example: Path, tmp_path: Path
) -> None:
    _, card = started(crew_cli)
    assert crew_cli("answer", card, "approve", "--as", "carol").code == 0

    result = crew_cli("audit", "export", card, "--out", str(tmp_path / "x"))

    assert result.code == 2
    assert f"card {card} has an unsigned decision: there is nothing to export" in result.err


def test_without_require_signed_a_key_not_listed_for_the_person_does_not_sign_for_them(
    crew_cli: Cli, example: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    keys = team(example, require_signed=False)
    run, card = started(crew_cli)
    monkeypatch.setenv("CREW_SIGNING_KEY", str(keys["dan"]))  # dan's key, answering as carol

    assert crew_cli("answer", card, "approve", "--as", "carol").code == 0

    decision = card_json(crew_cli, card)["decision"]
    assert (decision["verified"], decision["signature"]) == (False, None)
    assert crew_cli("audit", "verify", run).code == 0


def test_the_prompt_of_crew_run_signs_the_decision_too(
    crew_cli: Cli, keys: dict[str, Path], example: Path
) -> None:
    args = ["run", "launch-brief", "--replay", "-i", "product=Solar kettle", "--as", "carol"]
    terminal = Terminal(args, example, CREW_SIGNING_KEY=str(keys["carol"]))
    terminal.read_until(b"or edit?")
    terminal.type("approve")
    terminal.read_until(b"comment (optional)")
    terminal.type("")
    assert terminal.close() == 0, terminal.seen.decode(errors="replace")

    (run,) = as_json(crew_cli("runs", "--json"))
    (answered,) = [
        e for e in as_json(crew_cli("log", run["run"], "--json")) if e["event"] == "answered"
    ]
    assert (answered["actor"], answered["detail"]["verified_by"]) == ("carol", "signed")
    assert crew_cli("audit", "verify", run["run"]).code == 0


def test_the_prompt_refuses_to_record_with_a_key_not_listed_for_the_person(
    crew_cli: Cli, keys: dict[str, Path], example: Path
) -> None:
    args = ["run", "launch-brief", "--replay", "-i", "product=Solar kettle", "--as", "carol"]
    terminal = Terminal(args, example, CREW_SIGNING_KEY=str(keys["dan"]))
    terminal.read_until(b"or edit?")
    terminal.type("approve")
    terminal.read_until(b"comment (optional)")
    terminal.type("")
    terminal.read_until(b"nothing recorded")

    assert terminal.close() == 3  # still waiting on carol
    said = " ".join(terminal.seen.decode(errors="replace").split())  # as wrapped on screen
    assert "not recorded: the signing key SHA256:" in said
    assert "is not listed for carol in crew.yaml; nothing recorded" in said


def test_a_worker_refuses_a_decision_written_straight_into_redis_too(
    crew_cli: Cli, keys: dict[str, Path], unique_name: str, client: redis.Redis
) -> None:
    run, card = started(crew_cli)
    # Recorded by hand as answer.lua would have, status and all, but unsigned.
    client.hset(
        f"crew:{{{unique_name}}}:card:{card}",
        mapping={"decided_by": "carol", "decision": "approve", "decided_at": "1",
                 "decided_version": "1", "status": "done"},
    )

    result = crew_cli("worker", "--once")

    assert result.code == 0, result.err
    shown = card_json(crew_cli, card)
    assert shown["status"] == "waiting" and shown["decision"] is None
    assert as_json(crew_cli("status", run, "--json"))["status"] == "waiting"
    events = as_json(crew_cli("log", run, "--json"))
    (refused,) = [e for e in events if e["event"] == "refused_decision"]
    assert (refused["card"], refused["detail"]["why"]) == (card, "the decision is not signed")


def test_an_rsa_key_signs_with_rsa_sha2_512_and_verifies(tmp_path: Path) -> None:
    from cryptography.hazmat.primitives.asymmetric import rsa

    from crew.people.signing import NAMESPACE
    from crew.spec.sshkeys import parse_public_key

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    path = tmp_path / "id_rsa"
    path.write_bytes(key.private_bytes(Encoding.PEM, PrivateFormat.OpenSSH, NoEncryption()))
    signer, why = find_signer({"CREW_SIGNING_KEY": str(path)})
    assert signer is not None, why
    assert signer.public.startswith("ssh-rsa ")

    signature = signer.sign(b"a decision")

    import sshsig

    signed_by = sshsig.check_signature(b"a decision", signature, namespace=NAMESPACE)
    assert parse_public_key(signed_by.openssh_str()) == parse_public_key(signer.public)


@pytest.mark.skipif(
    shutil.which("ssh-agent") is None or shutil.which("ssh-add") is None,
    reason="needs OpenSSH's ssh-agent",
)
def test_a_key_held_by_an_ssh_agent_signs_without_its_private_file(tmp_path: Path) -> None:
    import os
    import signal

    key, public = make_key(tmp_path, "agent_key")
    socket_path = tmp_path / "agent.sock"
    agent = subprocess.Popen(["ssh-agent", "-D", "-a", str(socket_path)])
    try:
        for _ in range(100):  # the socket appears once the agent listens
            if socket_path.exists():
                break
            time.sleep(0.05)  # no event to wait on: the agent is another program
        env = {**os.environ, "SSH_AUTH_SOCK": str(socket_path)}
        subprocess.run(["ssh-add", "-q", str(key)], env=env, check=True, capture_output=True)
        key.unlink()  # only the agent has the private key now

        signer, why = find_signer({"CREW_SIGNING_KEY": str(key), "SSH_AUTH_SOCK": str(socket_path)})

        assert signer is not None, why
        assert signer.source == "ssh-agent"
        import sshsig

        signed_by = sshsig.check_signature(b"m", signer.sign(b"m"), namespace="crew")
        assert signed_by.openssh_str().split()[:2] == public.split()[:2]
    finally:
        agent.send_signal(signal.SIGTERM)
        agent.wait(timeout=10)


def test_a_refused_decision_tells_the_person_again_through_their_webhook(
    crew_cli: Cli, keys: dict[str, Path], example: Path, hook: Any, unique_name: str,
    client: redis.Redis,
) -> None:
    crew_yaml = example / "crew.yaml"
    data = yaml.safe_load(crew_yaml.read_text())
    data["people"]["carol"]["webhook"] = hook.url
    crew_yaml.write_text(yaml.safe_dump(data, sort_keys=False))
    run, card = started(crew_cli)
    assert [b["card"] for b in hook.received] == [card]  # the checkpoint, as it opened
    client.hset(
        f"crew:{{{unique_name}}}:card:{card}",
        mapping={"decided_by": "carol", "decision": "approve", "decided_at": "1",
                 "decided_version": "1"},
    )

    assert crew_cli("resume", run).code == 3

    again = hook.received[1:]
    assert [(b["card"], b["person"]) for b in again] == [(card, "carol")]
