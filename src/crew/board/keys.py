"""Every Redis key of a board, built in this one module.

All keys of board `B` start with `crew:{B}:`; the `{B}` hash tag puts them in one cluster slot,
so each transition script can touch any of them atomically, and boards sharing a Redis never see
each other. The layout (`<P>` = `crew:{B}:`):

    <P>seq                    counter behind card ids (c1, c2, ... c1f in base36)
    <P>meta                   hash: the board's own facts: seq (a copy of the counter, so that
                              a lost counter is noticed and can be set back, see create.lua)
    <P>card:<id>              hash: one card (fields in `crew.board.cards`)
    <P>status:<status>        zset card id -> time it entered that status
    <P>run:<run>:cards        zset card id -> created time (the cards of one run)
    <P>inbox:<person>         zset card id -> time it started waiting on that person
    <P>leases                 zset card id -> lease deadline (running cards; the reaper's index)
    <P>due                    zset card id -> due time (waiting/escalated cards with an SLA)
    <P>finished               zset card id -> time it finished (retention)
    <P>outbox                 zset "<card>:<n>" -> when that webhook delivery is due (while a
                              process attempts it: the end of its lease), see `crew.people.notify`
    <P>card:<id>:deliveries   hash: the card's webhook deliveries not finished yet, n (the card's
                              version when it was assigned) -> JSON; purged with the card
    <P>card:<id>:transcript   list: an agent card's tool loop, one JSON entry per model turn,
                              tool call started and tool result (`crew.engine.tool_journal`),
                              appended under the card's lease; purged with the card
    <P>events                 stream: the board's audit log (approximately trimmed)
    <P>run:<run>:events       stream: the same events, for one run (so `crew log RUN` is bounded)
    <P>run:<run>              hash: one run record and its driver lease
    <P>run:<run>:texts        hash: the run's long texts, stored once (hash -> text), which its
                              cards, events and record refer to (`crew.board.texts`)
    <P>run:<run>:pinned       string: the playbook, roles and profiles the run is pinned to
                              (`crew.spec.snapshot`; its hash is the run record's `pinned`)
    <P>runs                   zset run id -> started time
    <P>runs:finished          zset run id -> finished time (retention)
    <P>runs:status:<status>   zset run id -> when it entered that status, for the statuses a run
                              goes on from (queued, running, waiting): nothing scans `runs`
    <P>runs:queue             zset run id -> place in line (priority, then first in first out):
                              the runs waiting for a worker to drive them (`crew run --detach`,
                              an answer left for a worker, a lease handed back)
    <P>runs:seq               counter behind the places in line
    <P>runs:leases            zset run id -> its driver's lease deadline (the takeover index)
    <P>runs:key:<key>         string: the run submitted with idempotency key <key> (`--key`),
                              deleted with the run
    <P>workers                zset worker id -> when its heartbeat runs out (`crew workers`)
    <P>worker:<id>            hash: one worker's host, pid, concurrency, runs in hand (expires)
    <P>report:total           hash: the report's roll-ups, running totals since they began,
                              "<section>|<playbook>|<name>|<metric>" -> a number, kept by the
                              transitions (scripts/_rollups.lua), read by crew.people.report
    <P>report:day:<d>         hash: a copy of report:total as UTC day d (days since the epoch)
                              began, made by the day's first transition
    <P>report:days            zset day -> day: the days with a copy (copies past the roll-up
                              retention are deleted when a new day starts)
    <P>report:meta            hash: facts about the roll-ups (since: when they were first kept,
                              rebuilt: when `crew report --rebuild` last recomputed them)
    <P>token:<id>             hash: one personal access token of `crew token issue`: person,
                              sha256 of its secret, created, expires (`crew.people.tokens`)
    <P>tokens:<person>        set: the ids of a person's tokens (`crew token revoke --person`)
    <P>web                    hash: the web server's facts: secret (signs one-click links),
                              public_url (where `crew serve` is reached; links point there)
    <P>link:<nonce>           string: a one-click link already opened (single use), expiring
                              with the link
    <P>session:<id>           hash: one browser session of `crew serve` (person, csrf, the
                              card a one-click link limits it to), expiring
    <P>lg:...                 the runs' LangGraph state: `crew.RedisCheckpointSaver`'s keys under
                              namespace `<P>lg` (`run_state_namespace`), one thread per run id.
                              Their layout is the saver's (`crew.persistence`): the board asks it
                              which keys a run's state has, and retention has it delete them.

The Lua scripts receive the prefix as KEYS[1] and build keys with functions generated from the
same templates (`LUA_KEYS`), so the layout above is written down exactly once.
"""

from __future__ import annotations

import string

from crew.exceptions import ConfigError

_TEMPLATES: dict[str, str] = {
    "seq": "seq",
    "meta": "meta",
    "card": "card:{card}",
    "status": "status:{status}",
    "run_cards": "run:{run}:cards",
    "inbox": "inbox:{person}",
    "leases": "leases",
    "due": "due",
    "finished": "finished",
    "outbox": "outbox",
    "deliveries": "card:{card}:deliveries",
    "transcript": "card:{card}:transcript",
    "events": "events",
    "run_events": "run:{run}:events",
    "run": "run:{run}",
    "run_texts": "run:{run}:texts",
    "run_pinned": "run:{run}:pinned",
    "runs": "runs",
    "runs_finished": "runs:finished",
    "runs_status": "runs:status:{status}",
    "run_queue": "runs:queue",
    "run_seq": "runs:seq",
    "run_leases": "runs:leases",
    "run_key": "runs:key:{key}",
    "rollup_total": "report:total",
    "rollup_day": "report:day:{day}",
    "rollup_days": "report:days",
    "rollup_meta": "report:meta",
    "workers": "workers",
    "worker": "worker:{worker}",
    "token": "token:{token}",
    "person_tokens": "tokens:{person}",
    "web": "web",
    "link": "link:{nonce}",
    "web_session": "session:{session}",
}


def check_board_name(name: str) -> str:
    """Return `name` if it can name a board (no braces, which would break the hash tag)."""
    if not name or any(ch in name for ch in "{}") or any(ch.isspace() for ch in name):
        raise ConfigError(
            f"invalid board name {name!r}",
            hint="Use letters, digits, '-', '_' (settings.board in crew.yaml or CREW_BOARD).",
        )
    return name


class BoardKeys:
    """The keys of one board."""

    def __init__(self, board: str) -> None:
        self.board = check_board_name(board)
        self.prefix = f"crew:{{{board}}}:"

    def _key(self, kind: str, **parts: str) -> str:
        return self.prefix + _TEMPLATES[kind].format(**parts)

    def seq(self) -> str:
        return self._key("seq")

    def meta(self) -> str:
        return self._key("meta")

    def card(self, card: str) -> str:
        return self._key("card", card=card)

    def status(self, status: str) -> str:
        return self._key("status", status=status)

    def run_cards(self, run: str) -> str:
        return self._key("run_cards", run=run)

    def inbox(self, person: str) -> str:
        return self._key("inbox", person=person)

    def leases(self) -> str:
        return self._key("leases")

    def due(self) -> str:
        return self._key("due")

    def finished(self) -> str:
        return self._key("finished")

    def outbox(self) -> str:
        return self._key("outbox")

    def deliveries(self, card: str) -> str:
        return self._key("deliveries", card=card)

    def transcript(self, card: str) -> str:
        return self._key("transcript", card=card)

    def events(self) -> str:
        return self._key("events")

    def run_events(self, run: str) -> str:
        return self._key("run_events", run=run)

    def run(self, run: str) -> str:
        return self._key("run", run=run)

    def run_texts(self, run: str) -> str:
        return self._key("run_texts", run=run)

    def run_pinned(self, run: str) -> str:
        return self._key("run_pinned", run=run)

    def runs(self) -> str:
        return self._key("runs")

    def runs_finished(self) -> str:
        return self._key("runs_finished")

    def runs_status(self, status: str) -> str:
        return self._key("runs_status", status=status)

    def run_queue(self) -> str:
        return self._key("run_queue")

    def run_seq(self) -> str:
        return self._key("run_seq")

    def run_leases(self) -> str:
        return self._key("run_leases")

    def run_key(self, key: str) -> str:
        return self._key("run_key", key=key)

    def workers(self) -> str:
        return self._key("workers")

    def worker(self, worker: str) -> str:
        return self._key("worker", worker=worker)

    def token(self, token: str) -> str:
        return self._key("token", token=token)

    def person_tokens(self, person: str) -> str:
        return self._key("person_tokens", person=person)

    def web(self) -> str:
        return self._key("web")

    def link(self, nonce: str) -> str:
        return self._key("link", nonce=nonce)

    def web_session(self, session: str) -> str:
        return self._key("web_session", session=session)

    def rollup_total(self) -> str:
        return self._key("rollup_total")

    def rollup_day(self, day: int) -> str:
        return self._key("rollup_day", day=str(day))

    def rollup_days(self) -> str:
        return self._key("rollup_days")

    def rollup_meta(self) -> str:
        return self._key("rollup_meta")

    def run_state_namespace(self) -> str:
        """The namespace of the runs' LangGraph state (`crew.RedisCheckpointSaver`'s; under the
        board's hash tag, so a board script may check its keys)."""
        return self.prefix + "lg"

    def pattern(self) -> str:
        """A SCAN pattern matching every key of this board (tests and admin only)."""
        escaped = "".join(f"\\{ch}" if ch in "*?[]\\" else ch for ch in self.prefix)
        return escaped + "*"


def _lua_function(kind: str, template: str) -> str:
    pieces: list[str] = []
    params: list[str] = []
    for literal, field, _spec, _conv in string.Formatter().parse(template):
        if literal:
            pieces.append(repr(literal).replace('"', "'"))
        if field:
            params.append(field)
            pieces.append(f"tostring({field})")
    body = " .. ".join(["PREFIX", *pieces])
    return f"function K.{kind}({', '.join(params)}) return {body} end"


# Prepended to every board script: KEYS[1] is the board's prefix, K.<kind>(...) builds a key.
LUA_KEYS = "\n".join(
    [
        "local PREFIX = KEYS[1]",
        "local K = {}",
        *(_lua_function(kind, template) for kind, template in _TEMPLATES.items()),
        "",
    ]
)
