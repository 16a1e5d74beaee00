"""`Board`: the shared Redis task board's Python API (DESIGN §4).

Every transition is one Lua script (one round trip) that validates first (the card's status,
version, lease token, who is acting), then writes the card, its indexes and an audit event
atomically. A refusal raises a `BoardError` subclass and changes nothing. Reads go through
per-status, per-run and per-person indexes, so they stay bounded on a board of any size.

Retention: the board's audit stream keeps about the newest `events_maxlen` events and each run's
stream about `run_events_maxlen` (approximate trimming, XADD MAXLEN ~); finished cards and runs
are deleted `retention_seconds` after they finished (`purge`).

Times are seconds since the epoch (floats). With no `clock`, the scripts use the Redis server's
clock, so leases and due times do not depend on any client's clock; an injected `clock` (tests,
SLA simulation) is passed to every script instead.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, NamedTuple, Required, TypedDict, TypeVar, Unpack

from crew.board.cards import (
    ACTIVE,
    FINISHED,
    Card,
    CardKind,
    CardStatus,
    Decision,
    Lease,
    iso,
)
from crew.board.events import Event
from crew.board.keys import BoardKeys
from crew.board.outbox import OutboxEntry, Outcome, Reported
from crew.board.refusals import Refusal, answerers
from crew.board.runs import Pinned, Run, RunStatus, WorkerState, run_event_name
from crew.board.scripts import EVENTS_MAXLEN, RUN_EVENTS_MAXLEN, Scripts
from crew.board.texts import CARD_FIELDS, EVENT_FIELDS, RUN_FIELDS, Texts, TextWriter
from crew.exceptions import BoardError, ConfigError
from crew.persistence import thread_keys
from crew.types import Usage

if TYPE_CHECKING:
    import redis

# Finished cards and runs are deleted (with their index entries and the run's event stream)
# this long after they finished; see `Board.purge`.
RETENTION_SECONDS = 7 * 86400



class Purged(NamedTuple):
    """What one `Board.purge` deleted."""

    cards: int
    """How many cards."""
    runs: list[str]
    """The runs (their records, events, pinned playbooks and texts)."""


class NewCard(TypedDict, total=False):
    """The fields of a new card (`Board.create_card`, `create_cards`, `start_card`)."""

    run: Required[str]
    playbook: Required[str]
    step: Required[str]
    kind: CardKind | str  # default: agent
    role: str | None
    assignee: Required[str]
    owner: Required[str]
    status: CardStatus | str  # default: queued
    max_attempts: int  # default: 3
    due: float | None
    item: Any
    revision: int
    detail: dict[str, Any] | None
    allowed: Sequence[str] | None
    reason: str | None
    output: Any
    confidence: float | None
    actor: str | None
    chain: Sequence[str] | None
    sla: float | None
    webhook: str | None  # the assignee's, for a card that waits on them: a delivery is queued


def _new_card(card: NewCard) -> tuple[dict[str, str], str]:
    """A new card's fields as stored (strings; '' = none) and its 'created' event's detail."""
    card_kind = _enum(CardKind, card.get("kind", CardKind.AGENT), "card kind")
    card_status = _enum(CardStatus, card.get("status", CardStatus.QUEUED), "card status")
    if card_status not in (CardStatus.QUEUED, CardStatus.WAITING, CardStatus.ESCALATED):
        raise ConfigError(
            f"a new card cannot start as {card_status}",
            hint="Create it queued, waiting or escalated.",
        )
    max_attempts = card.get("max_attempts", 3)
    if max_attempts < 1:
        raise ConfigError(f"max_attempts must be at least 1, not {max_attempts}")
    waits = card_status.waits_on_person
    step, assignee, owner = card["step"], card["assignee"], card["owner"]
    role, reason = card.get("role"), card.get("reason")
    item, output, chain = card.get("item"), card.get("output"), card.get("chain")
    fields = {
        "run": card["run"],
        "playbook": card["playbook"],
        "step": step,
        "kind": str(card_kind),
        "role": role or "",
        "assignee": assignee,
        "owner": owner,
        "status": str(card_status),
        "max_attempts": str(max_attempts),
        "due": _time(card.get("due")),
        "item": _dumps(item) if item is not None else "",
        "revision": str(card.get("revision", 0)),
        "detail": _dumps(card.get("detail") or {}),
        "allowed": _dumps(list(card.get("allowed") or [assignee])) if waits else "",
        "reason": reason or "",
        "output": _dumps(output) if output is not None else "",
        "confidence": _number(card.get("confidence")),
        "waiting_since": "",
        "created_by": card.get("actor") or owner,
        "chain": _dumps(list(chain)) if chain else "",
        "sla": _number(card.get("sla")),
    }
    event = {"step": step, "kind": str(card_kind), "assignee": assignee, "role": role}
    if waits:
        event["reason"] = reason
    return fields, _dumps(event)

class Board:
    """One board (a name) on one Redis. Cheap to create; safe to share between threads.

    `client` must decode responses (`decode_responses=True`, as `crew.connection.connect`
    gives); `Board.from_url` makes one.
    """

    def __init__(
        self,
        client: redis.Redis,
        name: str,
        *,
        clock: Callable[[], float] | None = None,
        retention_seconds: float = RETENTION_SECONDS,
        events_maxlen: int = EVENTS_MAXLEN,
        run_events_maxlen: int = RUN_EVENTS_MAXLEN,
    ) -> None:
        if not client.get_connection_kwargs().get("decode_responses"):  # also a RedisCluster
            raise ConfigError(
                "the board needs a Redis client that decodes responses",
                hint="Create it with decode_responses=True, or use Board.from_url(url, name).",
            )
        self.client = client
        # redis-py's return types cover bytes and str; this client decodes (str), so reads go
        # through an untyped handle rather than a cast at every call.
        self._db: Any = client
        self.name = name
        self.keys = BoardKeys(name)
        self._texts = Texts(self._db, self.keys)  # long text stored once per run
        self.clock = clock
        self._waitaof: bool | None = None  # whether answers wait for the AOF fsync (WAITAOF)
        self.retention_seconds = retention_seconds
        self._scripts = Scripts(
            client,
            self.keys,
            clock,
            events_maxlen=events_maxlen,
            run_events_maxlen=run_events_maxlen,
        )

    @classmethod
    def from_url(
        cls,
        url: str,
        name: str,
        *,
        clock: Callable[[], float] | None = None,
        allow_eviction: bool = False,
    ) -> Board:
        """A board on the Redis at `url`, checked by `crew.connection.connect`: reachable,
        version >= 6.2, loaded, and not evicting keys (with `allow_eviction`: a warning)."""
        from crew.connection import connect

        return cls(connect(url, allow_eviction=allow_eviction), name, clock=clock)

    def now(self) -> float:
        """The board's time: the injected clock, else the Redis server's clock."""
        if self.clock is not None:
            return self.clock()
        seconds, micros = self._db.time()
        return float(seconds) + float(micros) / 1_000_000

    # -- cards -------------------------------------------------------------------------------

    def create_card(self, **card: Unpack[NewCard]) -> Card:
        """Put a new card on the board and return it (its id is short: c1, c2, ... c1f).

        The fields are `NewCard`'s. `status` is queued (agent work), or waiting / escalated for
        a card that waits on a person from the start; then `allowed` lists who may answer
        (default: the assignee). `actor` is who puts it there, for the audit log (default: the
        owner). `chain` (who the card moves to, in order, when nobody answers by `due`) and
        `sla` (the seconds each next person gets) are what `crew.people.sla.sweep` acts on; see
        `wait`.
        `webhook` (not stored on the card): the assignee's webhook URL, for a card that waits on
        them; the same atomic step queues its delivery in the board's outbox (see `wait`).
        """
        fields, event = _new_card(card)
        texts = self._texts.writer(card["run"])
        sent, event = _encoded(texts, fields), texts.encode(event)
        texts.flush()
        reply = self._call("create", event, _dumps(sent), card.get("webhook") or "")
        return self._card(reply)

    def create_cards(self, cards: Sequence[NewCard]) -> list[Card]:
        """Create many cards in one round trip (a fan-out); each holds `create_card`'s keyword
        arguments. Each card is still created by its own atomic script."""
        pipe = self._scripts.pipeline()
        for card in cards:
            fields, event = _new_card(card)
            texts = self._texts.writer(card["run"])
            sent, event = _encoded(texts, fields), texts.encode(event)
            texts.flush()
            self._scripts.stage(pipe, "create", event, _dumps(sent), card.get("webhook") or "")
        return [self._card(self._ok(reply)) for reply in self._scripts.execute(pipe)]

    def start_card(
        self, *, worker: str, lease_seconds: float, **card: Unpack[NewCard]
    ) -> tuple[Card, Lease]:
        """Create a queued card and claim it for `worker` in one atomic step (one round trip):
        `create_card` then `claim`, for work that starts right away. The card comes back
        running; the audit log has its created and claimed events, as with the two calls."""
        _positive(lease_seconds, "lease_seconds")
        status = _enum(CardStatus, card.get("status", CardStatus.QUEUED), "card status")
        if status is not CardStatus.QUEUED:
            raise ConfigError("a started card starts queued", hint="Leave out `status`.")
        fields, event = _new_card(card)
        texts = self._texts.writer(card["run"])
        sent, event = _encoded(texts, fields), texts.encode(event)
        texts.flush()
        stored = json.loads(self._call("start", worker, lease_seconds, event, _dumps(sent))[1])
        token, deadline = stored["lease_token"], float(stored["lease_deadline"])
        created = self._cards([stored])[0]
        return created, Lease(created.id, token, deadline, created.version)

    def claim(self, card_id: str, worker: str, lease_seconds: float) -> Lease:
        """Take a queued card: it becomes running under a lease with a new fencing token.

        Exactly one of many concurrent claimers wins; the others get WrongStatus.
        """
        _positive(lease_seconds, "lease_seconds")
        reply = self._call("claim", card_id, worker, lease_seconds)
        return Lease(card=card_id, token=reply[1], deadline=float(reply[2]), version=int(reply[3]))

    def heartbeat(self, card_id: str, token: str, lease_seconds: float) -> float:
        """Extend the lease to now + `lease_seconds`; return the deadline. LeaseLost if stale.

        The token is the fence, not the clock: a lease that expired but was not reaped yet can
        still be extended (or completed); once the reaper or another worker moved the card on,
        the old token is refused.
        """
        _positive(lease_seconds, "lease_seconds")
        reply = self._call("heartbeat", card_id, token, lease_seconds)
        return float(reply[1])

    def complete(
        self,
        card_id: str,
        token: str,
        *,
        output: Any,
        confidence: float | None = None,
        actor: str,
        measured: dict[str, Any] | None = None,
        usage: Usage | None = None,
    ) -> Card:
        """running -> done with `output` (LeaseLost if `token` is stale). `measured` (how the
        confidence was measured: method, score, parts) goes into the audit event; `usage` (the
        execution's model tokens and cost) onto the card, in the same step."""
        detail: dict[str, Any] = {"confidence": confidence}
        if measured is not None:
            detail["measured"] = measured
        texts = self._texts.writer(card=card_id)
        stored, event = texts.encode(_dumps(output)), texts.encode(_dumps(detail))
        texts.flush()
        reply = self._call(
            "complete", card_id, token, actor, stored, _number(confidence), event, _usage(usage)
        )
        return self._card(reply)

    def fail(
        self, card_id: str, token: str, *, reason: str, actor: str, retry: bool = False
    ) -> Card:
        """running -> failed; with `retry`, back to queued while attempts remain."""
        reply = self._call("fail", card_id, token, actor, reason, "1" if retry else "0")
        return self._card(reply)

    def wait(
        self,
        card_id: str,
        token: str,
        *,
        kind: CardKind | str = CardKind.CHECKPOINT,
        assignee: str,
        allowed: Sequence[str],
        due: float | None,
        reason: str,
        output: Any = None,
        confidence: float | None = None,
        actor: str | None = None,
        chain: Sequence[str] | None = None,
        sla: float | None = None,
        measured: dict[str, Any] | None = None,
        webhook: str | None = None,
        usage: Usage | None = None,
        why: str | None = None,
    ) -> Card:
        """running -> waiting (kind checkpoint) or escalated (kind escalation).

        `why`: an escalation's kind of reason (`crew.types.EscalationReason`), kept on the card
        (`reason_kind`) and in its event: what `crew report` counts escalations by.

        The card's kind becomes `kind`; `allowed` is who may answer (the assignee, plus the
        owner's delegates for checkpoints), stored on the card so `answer` checks it atomically.

        SLA: `chain` is who the card moves to when nobody answers by `due`, in order, starting
        with `assignee` (escalations: `project.escalation_chain(role)`; checkpoints: `[owner]`);
        `sla` is the seconds each next person gets. Both are kept on the card (None keeps what
        it had), so `crew.people.sla.sweep` needs no code to know them. Waiting again clears the
        overdue flag.

        `webhook`: the assignee's webhook URL, if they have one. The same atomic step queues a
        delivery to it in the board's outbox (`outbox`, `claim_delivery`; `crew.people.notify`
        delivers it), so a card is never assigned without its notification being on the board.
        """
        card_kind = _enum(CardKind, kind, "waiting kind")
        if card_kind is CardKind.AGENT:
            raise ConfigError("a card waits as a checkpoint or an escalation, not as an agent")
        people = answerers(assignee, allowed)
        detail: dict[str, Any] = {
            "assignee": assignee,
            "allowed": people,
            "due": iso(due),
            "reason": reason,
        }
        if measured is not None:  # how the confidence was measured (method, score, parts)
            detail["measured"] = measured
        if why is not None:
            detail["reason_kind"] = str(why)
        texts = self._texts.writer(card=card_id)
        stored = texts.encode(_dumps(output)) if output is not None else ""
        event = texts.encode(_dumps(detail))
        texts.flush()
        reply = self._call(
            "wait",
            card_id,
            token,
            str(card_kind),
            assignee,
            _dumps(people),
            _time(due),
            reason,
            stored,
            _number(confidence),
            actor or assignee,
            event,
            _dumps(list(chain)) if chain else "",
            _number(sla),
            webhook or "",
            _usage(usage),
            str(why) if why is not None else "",
        )
        return self._card(reply)

    def answer(
        self,
        card_id: str,
        *,
        person: str,
        decision: Decision | str,
        comment: str | None = None,
        edited_output: Any = None,
        expected_version: int | None = None,
        proof: dict[str, str] | None = None,
        proof_detail: dict[str, Any] | None = None,
    ) -> Card:
        """Record `person`'s answer to a waiting/escalated card, once.

        approve/edit -> done, reject -> rejected, retry -> queued. Refusals (nothing changes):
        NotAllowed (names who may), AlreadyDecided (names who answered first and when),
        WrongStatus (not waiting, or `expected_version` is not the card's version).
        `proof` (signature, signed, verified, verified_by: crew.people.signing.Proof.fields)
        goes on the card with the answer, and `proof_detail` into the `answered` event.
        """
        choice = _enum(Decision, decision, "decision")
        if choice in (Decision.EDIT, Decision.SUBMIT) and edited_output is None:
            raise ConfigError(
                f"an '{choice}' answer to card {card_id} needs the edited output",
                hint="Pass the corrected output (crew answer CARD edit --file EDITED.yaml).",
            )
        # answer.lua adds the card's new status (`status`), which the decision says.
        detail = {"decision": str(choice), "comment": comment, **(proof_detail or {})}
        texts = self._texts.writer(card=card_id)
        edited = texts.encode(_dumps(edited_output)) if edited_output is not None else ""
        event = texts.encode(_dumps(detail))
        texts.flush()
        reply = self._call(
            "answer",
            card_id,
            person,
            str(choice),
            comment or "",
            edited,
            "" if expected_version is None else str(expected_version),
            event,
            _dumps(proof) if proof else "",
        )
        self._sync_decision()
        return self._card(reply)

    def _sync_decision(self) -> None:
        """A decision is on disk before it is acknowledged: where the server has WAITAOF
        (Redis 7.2+) and an append-only file, wait (up to a second) for the local fsync. The
        embedded server fsyncs every write (`appendfsync always`); elsewhere the server's own
        setting decides (README: "Running a team's board")."""
        if self._waitaof is None:
            from crew.connection import persistence_of

            try:
                persistence = persistence_of(self.client)
            except Exception:  # e.g. a cluster client, or CONFIG refused: as configured
                persistence = None
            self._waitaof = bool(
                persistence
                and persistence.waitaof
                and persistence.aof
                and persistence.fsync != "always"
            )
        if self._waitaof:
            with contextlib.suppress(Exception):  # the server's own fsync policy still holds
                self._db.execute_command("WAITAOF", 1, 0, 1000)

    def refuse_decision(
        self,
        card_id: str,
        *,
        version: int,
        actor: str,
        detail: dict[str, Any],
        webhook: str | None = None,
    ) -> Card:
        """Take back the decision recorded on card `card_id` (at card version `version`, as the
        caller checked it): the card waits again on the same people, in the status it was
        answered from, and the audit trail gets `refused_decision` with `detail` (why); with
        the assignee's `webhook`, a delivery telling them is queued in the same step.
        WrongStatus when the card changed since, or holds no decision (nothing changes)."""
        texts = self._texts.writer(card=card_id)
        event = texts.encode(_dumps(detail))
        texts.flush()
        reply = self._call("refuse", card_id, str(version), actor, event, webhook or "")
        return self._card(reply)

    def reassign(
        self,
        card_id: str,
        *,
        to: str,
        actor: str,
        reason: str,
        allowed: Sequence[str] | None = None,
        due: float | None = None,
        expected_version: int | None = None,
        event: str = "reassigned",
        keep_reason: bool = False,
        webhook: str | None = None,
    ) -> Card:
        """Hand a waiting/escalated card to `to` (e.g. the next person of an escalation chain).

        The audit event (`event`, default `reassigned`) has from, to, allowed, due and `reason`;
        the card's own reason becomes `reason` unless `keep_reason`. With `expected_version`,
        a card that changed meanwhile is refused (WrongStatus), so two sweepers move it once.
        Clears the overdue flag. `webhook`: `to`'s webhook URL, if they have one: its delivery
        (naming who had the card) is queued in the same atomic step, as for `wait`.
        """
        current = self.get(card_id) if expected_version is None else None
        people = answerers(to, allowed or [to])
        detail = {
            "from": current.assignee if current else None,
            "to": to,
            "allowed": people,
            "due": iso(due),
            "reason": reason,
        }
        reply = self._call(
            "reassign",
            card_id,
            to,
            actor,
            reason,
            _dumps(people),
            _time(due),
            "" if expected_version is None else str(expected_version),
            _dumps(detail),
            event,
            "1" if keep_reason else "",
            webhook or "",
        )
        return self._card(reply)

    def flag_overdue(
        self,
        card_id: str,
        *,
        actor: str,
        reason: str,
        expected_version: int | None = None,
    ) -> Card | None:
        """Flag a waiting/escalated card overdue (nobody left to move it to); None when it was
        flagged already. Writes `card.overdue` and an `overdue` event once; not a transition
        (status and version unchanged). The card leaves the due index, so `overdue()` no longer
        lists it; a reassign or a new wait clears the flag. WrongStatus if it is not waiting or
        changed since `expected_version`."""
        reply = self._scripts.call(
            "overdue",
            card_id,
            actor,
            "" if expected_version is None else str(expected_version),
            _dumps({"reason": reason}),
        )
        refused = Refusal.of(reply)
        if refused is not None and refused.code == "flagged":
            return None
        return self._card(self._ok(reply))

    def note(self, card_id: str, *, event: str, actor: str, detail: dict[str, Any]) -> Card:
        """Record what happened to a card without moving it (a webhook delivery: `notified` /
        `notify_failed`): the event goes to the audit log and stays on the card as
        `card.notified` ({event, actor, at, detail}). Not a transition: status, version and
        indexes are unchanged, in any status, so no other transition's checks see it."""
        reply = self._call("note", card_id, event, actor, _dumps(detail))
        return self._card(reply)

    # -- webhook deliveries (the outbox) -------------------------------------------------------

    def claim_delivery(
        self, holder: str, *, lease_seconds: float, attempts: int, actor: str = "crew"
    ) -> OutboxEntry | None:
        """Take the webhook delivery that has been due longest for one attempt (counted now);
        None when none is due. Until `lease_seconds` pass, no other claim gets it; after that,
        an attempt that was not reported (its process stopped) is made again by the next claim.
        A delivery whose `attempts` were all made that way is finished as failed on the way
        (`notify_failed` by `actor` on its card). Report the attempt with `report_delivery`."""
        _positive(lease_seconds, "lease_seconds")
        reply = self._scripts.call("outbox_claim", holder, lease_seconds, attempts, actor)
        if len(reply) < 3:
            return None
        return OutboxEntry.from_json(reply[1], reply[2])

    def report_delivery(
        self,
        entry: OutboxEntry,
        outcome: Outcome,
        *,
        status: int | None = None,
        error: str | None = None,
        attempts: int,
        backoff: float,
        actor: str = "crew",
    ) -> Reported:
        """Record the outcome of the attempt `entry` was claimed for. Delivered (`ok`), refused
        for good (`fail`), or failed with all `attempts` made: the delivery is finished, with a
        `notified` / `notify_failed` event by `actor` on its card (`card.notified`: url, ok,
        attempts, status, error, person). Else (`retry`) it is due again after `backoff`
        seconds, doubled for each attempt made after the first, for any process to claim.
        A failed attempt whose claim was taken over meanwhile changes nothing (`stale`)."""
        reply = self._scripts.call(
            "outbox_report",
            entry.id,
            entry.attempts,
            outcome,
            "" if status is None else status,
            error or "",
            attempts,
            f"{backoff:.6f}",
            actor,
        )
        refused = Refusal.of(reply)  # gone or stale: nothing was done
        return Reported(refused.code if refused is not None else reply[1])

    def outbox(self, limit: int = 100) -> list[OutboxEntry]:
        """Webhook deliveries not finished yet, soonest due first (at most `limit`)."""
        members = self._db.zrange(self.keys.outbox(), 0, limit - 1, withscores=True)
        pipe = self._db.pipeline(transaction=False)
        for member, _ in members:
            card_id, _, n = str(member).rpartition(":")
            pipe.hget(self.keys.deliveries(card_id), n)
        return [
            OutboxEntry.from_json(member, raw, float(score))
            for (member, score), raw in zip(members, pipe.execute(), strict=True)
            if raw
        ]

    def requeue(self, card_id: str, *, actor: str, reason: str) -> Card:
        """waiting | escalated | rejected -> queued (run the step again: retry or revise)."""
        reply = self._call("requeue", card_id, actor, reason)
        return self._card(reply)

    def record(self, card_id: str, token: str, *entries: Mapping[str, Any]) -> int:
        """Append `entries` (JSON objects) to a running card's transcript, under its lease
        (LeaseLost if `token` is stale): what its tool loop did, kept before it goes on.
        Returns the transcript's length."""
        if not entries:
            return len(self.transcript(card_id))
        reply = self._call("record", card_id, token, *(_dumps(dict(e)) for e in entries))
        return int(reply[1])

    def transcript(self, card_id: str) -> list[dict[str, Any]]:
        """The entries recorded on a card, in order (empty for a card without a tool loop)."""
        return [json.loads(raw) for raw in self._db.lrange(self.keys.transcript(card_id), 0, -1)]

    def take_over(self, card_id: str, worker: str, lease_seconds: float, *, reason: str) -> Lease:
        """A card a stopped driver left running (or queued) -> running for `worker` under a new
        lease: the old token is refused from now on. For the driver holding the run's lease."""
        _positive(lease_seconds, "lease_seconds")
        reply = self._call("takeover", card_id, worker, lease_seconds, reason)
        return Lease(card=card_id, token=reply[1], deadline=float(reply[2]), version=int(reply[3]))

    def release(
        self, card_id: str, token: str, *, actor: str, reason: str, usage: Usage | None = None
    ) -> Card:
        """running -> queued, its lease handed back: the card waits on something else (a
        person's approval of a tool call) and is claimed again once that is decided."""
        reply = self._call("release", card_id, token, actor, reason, _usage(usage))
        return self._card(reply)

    def cancel(self, card_id: str, *, actor: str, reason: str) -> Card:
        """Any unfinished card -> cancelled."""
        reply = self._call("cancel", card_id, actor, reason)
        return self._card(reply)

    def reap(self, limit: int = 100) -> list[str]:
        """Expired leases: back to queued (attempt counted) or failed after max_attempts.

        Returns the ids of the cards it moved. Call it periodically (workers do).
        """
        reply = self._scripts.call("reap", limit)
        return [str(card_id) for card_id in reply[1:]]

    def purge(self, limit: int = 500, *, older_than: float | None = None) -> Purged:
        """Retention: delete cards and runs finished more than `older_than` seconds ago
        (default: the board's `retention_seconds`), at most `limit` of each per call.

        A run's LangGraph state is not the board's: delete the state of the runs this returns
        with the saver (`crew.engine.retention` does).
        """
        seconds = self.retention_seconds if older_than is None else older_than
        reply = self._call("purge", f"{seconds:.6f}", limit)
        return Purged(cards=int(reply[1]), runs=[str(run) for run in reply[2:]])

    # -- reads -------------------------------------------------------------------------------

    def get(self, card_id: str) -> Card:
        """The card with this id (CardNotFound if there is none)."""
        h = self._db.hgetall(self.keys.card(card_id)) if card_id else {}
        if not h:
            raise Refusal("not_found", {"card": card_id}).error(self.name)
        return self._cards([h])[0]

    def cards(
        self,
        *,
        run: str | None = None,
        status: CardStatus | str | Iterable[CardStatus | str] | None = None,
        limit: int = 200,
        finished_since: float | None = None,
    ) -> list[Card]:
        """Cards in creation order: of one run, or the newest `limit` per status.

        `finished_since` drops finished cards that finished before that time.
        """
        statuses = _statuses(status)
        if run is not None:
            ids = self._db.zrange(self.keys.run_cards(run), 0, limit - 1)
            found = self._fetch(ids)
            found = [c for c in found if c.status in statuses]
        else:
            pipe = self._db.pipeline(transaction=False)
            for each in statuses:
                key = self.keys.status(each)
                if each in FINISHED and finished_since is not None:
                    pipe.zrevrangebyscore(key, "+inf", f"{finished_since:.6f}", start=0, num=limit)
                else:
                    pipe.zrevrange(key, 0, limit - 1)
            ids = [card_id for batch in pipe.execute() for card_id in batch]
            found = self._fetch(ids)
        if finished_since is not None:
            found = [c for c in found if not (c.status.finished and c.updated < finished_since)]
        return sorted(found, key=lambda c: (c.created, _id_order(c.id)))

    def counts(self, run: str | None = None) -> dict[CardStatus, int]:
        """How many cards are in each status (of the whole board; cheap: ZCARD per status)."""
        if run is not None:
            counted: dict[CardStatus, int] = dict.fromkeys(CardStatus, 0)
            for card in self.cards(run=run, limit=100_000):
                counted[card.status] += 1
            return counted
        pipe = self._db.pipeline(transaction=False)
        for each in CardStatus:
            pipe.zcard(self.keys.status(each))
        return dict(zip(CardStatus, (int(n) for n in pipe.execute()), strict=True))

    def inbox(self, person: str, limit: int = 200) -> list[Card]:
        """Cards waiting on `person` (assignee or allowed to answer), oldest first."""
        ids = self._db.zrange(self.keys.inbox(person), 0, limit - 1)
        return [
            c
            for c in self._fetch(ids)
            if c.status.waits_on_person and person in [*c.may_answer, c.assignee]
        ]

    def overdue(self, limit: int = 100) -> list[Card]:
        """Waiting/escalated cards whose due time has passed, most overdue first."""
        now = self.now()
        ids = self._db.zrangebyscore(self.keys.due(), "-inf", f"{now:.6f}", start=0, num=limit)
        found = [
            c
            for c in self._fetch(ids)
            if c.status.waits_on_person and c.due is not None and c.due <= now
        ]
        return sorted(found, key=lambda c: c.due or 0.0)

    def events(
        self, run: str | None = None, *, after: str | None = None, limit: int = 1000
    ) -> list[Event]:
        """Audit events, oldest first: of one run (its own stream) or of the whole board.

        `after` is an event id (exclusive): pass the last id you saw to read only newer ones.
        """
        key = self.keys.run_events(run) if run is not None else self.keys.events()
        start = f"({after}" if after else "-"
        entries = self._db.xrange(key, min=start, max="+", count=limit)
        return self._events(entries)

    def stored_events(
        self, run: str, *, after: str | None = None, limit: int = 1000
    ) -> list[tuple[str, dict[str, str]]]:
        """The run's audit events as Redis holds them (details not resolved: what the audit
        chain hashes; `crew.board.audit`), oldest first, after event id `after`."""
        start = f"({after}" if after else "-"
        entries = self._db.xrange(self.keys.run_events(run), min=start, max="+", count=limit)
        return [(str(entry_id), dict(fields)) for entry_id, fields in entries]

    def events_from_stored(self, entries: Sequence[tuple[str, dict[str, str]]]) -> list[Event]:
        """The events `stored_events` returned (left as they are), as `events` reads them."""
        return self._events([(entry_id, dict(fields)) for entry_id, fields in entries])

    def audit_head(self, run: str) -> str | None:
        """The hash of the run's newest audit event, as its run record keeps it (None: no run
        record, or one written before the chain)."""
        head = self._db.hget(self.keys.run(run), "audit_head")
        return None if head is None else str(head)

    def stored_texts(self, run: str, names: Sequence[str]) -> dict[str, str | None]:
        """The run's texts `names` as stored (None: missing)."""
        if not names:
            return {}
        values = self._db.hmget(self.keys.run_texts(run), list(names))
        return {name: None if v is None else str(v) for name, v in zip(names, values, strict=True)}

    def last_events(self, run: str | None = None, *, limit: int = 100) -> list[Event]:
        """The newest `limit` audit events, oldest first."""
        key = self.keys.run_events(run) if run is not None else self.keys.events()
        entries = self._db.xrevrange(key, max="+", min="-", count=limit)
        return self._events(list(reversed(entries)))

    # -- runs --------------------------------------------------------------------------------

    def create_run(
        self,
        run_id: str,
        *,
        playbook: str,
        inputs: dict[str, Any],
        started_by: str,
        meta: dict[str, Any] | None = None,
        pinned: Pinned | None = None,
        queued: bool = False,
        priority: int = 0,
        key: str | None = None,
        takeover: float = 60.0,
    ) -> Run:
        """Record a new run. BoardError if the id is taken. `meta` is what a driver needs to run
        it again from the top (e.g. the replay mode), kept as `Run.meta`; `pinned`, the playbook
        version it follows, is stored once beside it (`pinned_of`).

        A run is running (this process drives it: it has `takeover` seconds to take the run
        lease before a worker may), or with `queued` waits in line for a worker (`take_run`:
        higher `priority` first, then first in first out). With `key`, a run still kept on the
        board that was created with the same key is returned instead, and nothing is written
        (its id differs from `run_id`)."""
        if not run_id:
            raise ConfigError("a run needs a non-empty id")
        check_priority(priority)
        if key is not None:
            check_run_key(key)
        detail: dict[str, Any] = {"playbook": playbook, "inputs": inputs}
        if pinned is not None:
            detail["pinned"] = pinned.hash
        if queued:
            detail["queued"] = True
            detail["priority"] = priority
        if key:
            detail["key"] = key
        texts = self._texts.writer(run_id)
        stored, event = texts.encode(_dumps(inputs)), texts.encode(_dumps(detail))
        texts.flush()
        # State a run with this id left behind (a record lost with it) is in the saver's keys.
        state = thread_keys(self.keys.run_state_namespace(), run_id)
        reply = self._call(
            "run_create",
            run_id,
            playbook,
            stored,
            started_by,
            event,
            _dumps(meta or {}),
            pinned.hash if pinned else "",
            pinned.text if pinned else "",
            str(RunStatus.QUEUED if queued else RunStatus.RUNNING),
            str(priority),
            key or "",
            f"{takeover:.6f}",
            *state,
        )
        if reply[0] == "existing":
            return self.get_run(str(reply[1]))
        return self._runs_from([_hash(reply[1:])])[0]

    def set_run_status(
        self,
        run_id: str,
        status: RunStatus | str,
        *,
        waiting_on: list[dict[str, Any]] | None = None,
        actor: str,
        reason: str | None = None,
    ) -> Run:
        """Move a run to `status`; a finished run is final (WrongStatus)."""
        run_status = _enum(RunStatus, status, "run status")
        detail: dict[str, Any] = {"status": str(run_status)}
        if reason:
            detail["reason"] = reason
        if waiting_on:
            detail["waiting_on"] = waiting_on
        texts = self._texts.writer(run_id)
        event = texts.encode(_dumps(detail))
        texts.flush()
        reply = self._call(
            "run_status",
            run_id,
            str(run_status),
            _dumps(waiting_on or []),  # not a reference: reassign.lua edits it
            actor,
            reason or "",
            run_event_name(run_status),
            event,
        )
        return self._runs_from([_hash(reply[1:])])[0]

    def pinned_of(self, run_id: str) -> Pinned | None:
        """The playbook version a run follows, as stored (None for a run started unpinned)."""
        pipe = self._db.pipeline(transaction=False)
        pipe.hget(self.keys.run(run_id), "pinned")
        pipe.get(self.keys.run_pinned(run_id))
        digest, text = pipe.execute()
        return Pinned(digest, text) if digest and text else None

    def upgrade_run(
        self,
        run_id: str,
        token: str,
        *,
        expected: str | None,
        pinned: Pinned,
        actor: str,
        detail: dict[str, Any],
    ) -> Run:
        """Pin a run to another playbook version (an `upgraded` audit event with `detail`), by
        the holder of its lease (`token`), if it is still pinned to `expected` (the hash the
        caller checked against). Refused (nothing changed): finished (WrongStatus), stale token
        (LeaseLost), moved meanwhile (WrongStatus)."""
        reply = self._call(
            "run_upgrade",
            run_id,
            token,
            expected or "",
            pinned.hash,
            pinned.text,
            actor,
            _dumps(detail),
        )
        return self._runs_from([_hash(reply[1:])])[0]

    def get_run(self, run_id: str) -> Run:
        h = self._db.hgetall(self.keys.run(run_id)) if run_id else {}
        if not h:
            raise Refusal("not_found", {"run": run_id}).error(self.name)
        return self._runs_from([h])[0]

    def runs(self, limit: int = 20) -> list[Run]:
        """The newest runs first."""
        return self._runs_of(self._db.zrevrange(self.keys.runs(), 0, limit - 1))

    def runs_in(
        self, status: RunStatus | str, limit: int = 100, *, offset: int = 0
    ) -> list[Run]:
        """Runs that can go on (queued, running, waiting) in `status`, longest there first, at
        most `limit` from `offset` (the status index: no scan of the board's runs)."""
        run_status = _enum(RunStatus, status, "run status")
        if run_status.finished:
            raise ConfigError(f"runs are indexed by status only while they go on, not {status}")
        ids = self._db.zrange(self.keys.runs_status(run_status), offset, offset + limit - 1)
        return self._runs_of(ids)

    def count_runs(self) -> dict[RunStatus, int]:
        """How many runs are queued, running and waiting (ZCARD of each status index)."""
        going = [status for status in RunStatus if not status.finished]
        pipe = self._db.pipeline(transaction=False)
        for status in going:
            pipe.zcard(self.keys.runs_status(status))
        return dict(zip(going, (int(n) for n in pipe.execute()), strict=True))

    def queued_runs(self, limit: int = 100) -> list[Run]:
        """The runs waiting for a worker, in the order workers take them."""
        return self._runs_of(self._db.zrange(self.keys.run_queue(), 0, limit - 1))

    def runs_lease_expired(self, limit: int = 100) -> list[Run]:
        """Runs whose driver's lease ran out (a crashed driver), longest ago first, at most
        `limit`: a worker takes them over (the takeover index)."""
        now = self.now()
        ids = self._db.zrangebyscore(
            self.keys.run_leases(), "-inf", f"({now:.6f}", start=0, num=limit
        )
        return self._runs_of(ids)

    def index_older_runs(self, limit: int = 1000) -> int:
        """Put runs recorded before runs were indexed (by an older crew) in the index of their
        status, and a running one in the takeover index: the newest `limit` runs are looked
        at once (a worker does it when it starts). Returns how many were missing."""
        ids = self._db.zrevrange(self.keys.runs(), 0, limit - 1)
        pipe = self._db.pipeline(transaction=False)
        for run_id in ids:
            pipe.hmget(self.keys.run(run_id), "status", "updated", "lease_deadline")
        fields = pipe.execute()
        going = [status for status in RunStatus if not status.finished]
        for run_id in ids:
            for status in going:
                pipe.zscore(self.keys.runs_status(status), run_id)
        scores = pipe.execute()
        missing = 0
        for n, (run_id, (status, updated, deadline)) in enumerate(zip(ids, fields, strict=True)):
            indexed = scores[n * len(going) : (n + 1) * len(going)]
            if not status or RunStatus(status).finished or any(s is not None for s in indexed):
                continue
            missing += 1
            pipe.zadd(self.keys.runs_status(status), {run_id: float(updated or 0)})
            if status == RunStatus.RUNNING:
                pipe.zadd(self.keys.run_leases(), {run_id: float(deadline or updated or 0)})
        if missing:
            pipe.execute()
        return missing

    def take_run(self, holder: str, lease_seconds: float) -> tuple[str, str] | None:
        """Take the first run in line (priority, then first in first out) with its lease, for
        `holder`: (run id, lease token), or None when no run waits for a worker."""
        _positive(lease_seconds, "lease_seconds")
        reply = self._call("run_take", holder, lease_seconds)
        if len(reply) < 3:
            return None
        return str(reply[1]), str(reply[2])

    def enqueue_run(self, run_id: str, *, actor: str, reason: str) -> Run:
        """Put a run that goes on in line for a worker (queued). WrongStatus if it finished."""
        return self.set_run_status(run_id, RunStatus.QUEUED, actor=actor, reason=reason)

    # -- workers -----------------------------------------------------------------------------

    def beat_worker(self, state: WorkerState, ttl: float) -> None:
        """Say worker `state.id` is alive for `ttl` seconds more (`workers` lists it until then);
        its record expires by itself a while after its last beat."""
        _positive(ttl, "ttl")
        now = self.now()
        key = self.keys.worker(state.id)
        fields = {
            "host": state.host,
            "pid": str(state.pid),
            "concurrency": str(state.concurrency),
            "runs": _dumps(sorted(state.runs)),
            "started": f"{state.started:.6f}",
            "heartbeat": f"{now:.6f}",
            "draining": "1" if state.draining else "0",
        }
        pipe = self._db.pipeline(transaction=False)
        pipe.hset(key, mapping=fields)
        pipe.expire(key, max(60, int(ttl * 10)))
        pipe.zadd(self.keys.workers(), {state.id: now + ttl})
        # Workers gone long ago leave the index (it stays as small as the fleet).
        pipe.zremrangebyscore(self.keys.workers(), "-inf", f"({now - max(60.0, ttl * 10):.6f}")
        pipe.execute()

    def leave_worker(self, worker: str) -> None:
        """Worker `worker` stopped: it is no longer listed."""
        pipe = self._db.pipeline(transaction=False)
        pipe.zrem(self.keys.workers(), worker)
        pipe.delete(self.keys.worker(worker))
        pipe.execute()

    def workers(self, limit: int = 1000) -> list[WorkerState]:
        """The live workers (their heartbeat has not run out), longest running first."""
        ids = self._db.zrangebyscore(
            self.keys.workers(), f"{self.now():.6f}", "+inf", start=0, num=limit
        )
        if not ids:
            return []
        pipe = self._db.pipeline(transaction=False)
        for worker in ids:
            pipe.hgetall(self.keys.worker(worker))
        found = [
            WorkerState.from_hash(worker, h)
            for worker, h in zip(ids, pipe.execute(), strict=True)
            if h
        ]
        return sorted(found, key=lambda w: (w.started, w.id))

    def runs_started_before(self, before: float, limit: int = 100) -> list[Run]:
        """The oldest runs started before `before` (a time), oldest first, at most `limit`."""
        ids = self._db.zrangebyscore(self.keys.runs(), "-inf", f"({before}", start=0, num=limit)
        return self._runs_of(ids)

    def cancel_run(self, run_id: str, *, actor: str, reason: str) -> Run:
        """Cancel a run and each of its open cards (a driver holding it stops before its next
        step). WrongStatus when the run is already finished."""
        run = self.set_run_status(run_id, RunStatus.CANCELLED, actor=actor, reason=reason)
        for card in self.cards_of_run(run_id):
            if not card.status.finished:
                with contextlib.suppress(BoardError):  # it finished meanwhile
                    self.cancel(card.id, actor=actor, reason=reason)
        return run

    def cards_of_run(self, run_id: str) -> list[Card]:
        """Every card of a run, in creation order."""
        return self.cards(run=run_id, limit=100_000)

    def acquire_run(self, run_id: str, holder: str, lease_seconds: float) -> str | None:
        """Take the run's lease: a fencing token, or None while another holder's lease is live.

        An expired lease is taken over (the audit log records from whom).
        """
        _positive(lease_seconds, "lease_seconds")
        reply = self._call("run_acquire", run_id, holder, lease_seconds)
        return str(reply[1]) or None

    def renew_run(self, run_id: str, token: str, lease_seconds: float) -> float:
        """Extend the run lease; return the new deadline. LeaseLost if `token` is stale."""
        _positive(lease_seconds, "lease_seconds")
        reply = self._call("run_renew", run_id, token, lease_seconds)
        return float(reply[1])

    def release_run(self, run_id: str, token: str) -> bool:
        """Give the run lease back; False (and no change) if `token` is not the current one."""
        reply = self._scripts.call("run_release", run_id, token)
        return bool(int(reply[1]))

    # -- internals ---------------------------------------------------------------------------

    def _call(self, script: str, *argv: object) -> list[Any]:
        """Run `script`; a refusal raises the error it stands for (`Refusal.error`)."""
        return self._ok(self._scripts.call(script, *argv))

    def _ok(self, reply: list[Any]) -> list[Any]:
        """`reply`, unless it is a refusal: then the error it stands for (nothing changed)."""
        refused = Refusal.of(reply)
        if refused is not None:
            raise refused.error(self.name)
        return reply

    def _card(self, reply: Sequence[str]) -> Card:
        """The card of a script's {'ok', card JSON, ...} reply."""
        return self._cards([json.loads(reply[1])])[0]

    def _cards(self, hashes: list[dict[str, str]]) -> list[Card]:
        """Cards from their hashes as stored, the texts they refer to read (one round trip for
        all of them, only when some do)."""
        for h in hashes:
            self._texts.note_card(h["id"], h.get("run", ""))
        self._texts.resolve(hashes, CARD_FIELDS, lambda h: h.get("run", ""))
        return [Card.from_hash(h) for h in hashes]

    def _events(self, entries: list[tuple[str, dict[str, str]]]) -> list[Event]:
        """Events from stream entries, the texts their details refer to read."""
        self._texts.resolve([f for _, f in entries], EVENT_FIELDS, lambda f: f.get("run", ""))
        return [Event.from_entry(entry_id, fields) for entry_id, fields in entries]

    def _runs_from(self, hashes: list[dict[str, str]]) -> list[Run]:
        """Run records from their hashes as stored, the texts they refer to read."""
        self._texts.resolve(hashes, RUN_FIELDS, lambda h: h.get("id", ""))
        return [Run.from_hash(h) for h in hashes]

    def _runs_of(self, ids: Sequence[str]) -> list[Run]:
        if not ids:
            return []
        pipe = self._db.pipeline(transaction=False)
        for run_id in ids:
            pipe.hgetall(self.keys.run(run_id))
        return self._runs_from([h for h in pipe.execute() if h])

    def get_many(self, ids: Sequence[str]) -> list[Card]:
        """The cards `ids` that exist, in one round trip (those that do not are left out)."""
        return self._fetch(ids)

    def _fetch(self, ids: Sequence[str]) -> list[Card]:
        if not ids:
            return []
        pipe = self._db.pipeline(transaction=False)
        for card_id in ids:
            pipe.hgetall(self.keys.card(card_id))
        return self._cards([h for h in pipe.execute() if h])


def _hash(flat: Sequence[str]) -> dict[str, str]:
    return dict(zip(flat[::2], flat[1::2], strict=True))


def _encoded(texts: TextWriter, fields: dict[str, str]) -> dict[str, str]:
    """A new card's fields as sent: long JSON fields as references to the run's texts."""
    return {k: texts.encode(v) if v and k in CARD_FIELDS else v for k, v in fields.items()}


def _dumps(value: Any) -> str:
    try:
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    except (TypeError, ValueError) as exc:
        raise ConfigError(
            f"cannot store {type(value).__name__} value on the board: {exc}",
            hint="Card outputs, inputs and details must be JSON-compatible.",
        ) from None


def _time(seconds: float | None) -> str:
    return "" if seconds is None else f"{float(seconds):.6f}"


def _usage(usage: Usage | None) -> str:
    return "" if usage is None else _dumps(usage.to_dict())


def _number(value: float | None) -> str:
    return "" if value is None else repr(float(value))


MAX_PRIORITY = 1000
MAX_RUN_KEY = 200


def check_priority(priority: object) -> int:
    """`priority` if it is a whole number from -1000 to 1000 (higher goes first)."""
    if isinstance(priority, bool) or not isinstance(priority, int):
        raise ConfigError(
            f"priority must be a whole number, not {priority!r}", hint="Use e.g. --priority 10."
        )
    if not -MAX_PRIORITY <= priority <= MAX_PRIORITY:
        raise ConfigError(
            f"priority {priority} is out of range",
            hint=f"Use a whole number from -{MAX_PRIORITY} to {MAX_PRIORITY} (higher goes first).",
        )
    return priority


def check_run_key(key: str) -> str:
    """`key` if it can be a submission's idempotency key (1-200 printable characters)."""
    if not key or len(key) > MAX_RUN_KEY or not key.isprintable():
        raise ConfigError(
            f"invalid run key {key[:40]!r}",
            hint=f"Use 1 to {MAX_RUN_KEY} printable characters, e.g. --key ticket-4711.",
        )
    return key


def _positive(value: float, name: str) -> None:
    if not value > 0:
        raise ConfigError(f"{name} must be a positive number of seconds, not {value!r}")


_E = TypeVar("_E", CardKind, CardStatus, Decision, RunStatus)


def _enum(enum: type[_E], value: object, what: str) -> _E:
    try:
        return enum(str(value))
    except ValueError:
        choices = ", ".join(str(member) for member in enum)
        raise ConfigError(f"unknown {what} {value!r}", hint=f"Use one of: {choices}.") from None


def _statuses(
    status: CardStatus | str | Iterable[CardStatus | str] | None,
) -> list[CardStatus]:
    if status is None:
        return list(CardStatus)
    if isinstance(status, str):
        return [_enum(CardStatus, status, "card status")]
    return [_enum(CardStatus, each, "card status") for each in status]


def _id_order(card_id: str) -> tuple[int, str]:
    """Card ids are c + base36 of a counter: sort c9 before c10."""
    return len(card_id), card_id


__all__ = ["ACTIVE", "RETENTION_SECONDS", "Board", "Purged"]
