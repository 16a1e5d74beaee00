"""The report (DESIGN §10): is the AI work any good, and where does the time go?

`build_report` reads the roll-ups the board's transition scripts keep (`scripts/_rollups.lua`):
one hash per UTC day of counters and histograms per role, person and playbook. It reads one hash
per day of the period, never a card, so it costs the same for a thousand or a million past
executions, and covers history older than card retention (roll-ups are kept `ROLLUP_DAYS` days).

Every surface calls this module (the CLI renders `Report.to_json()`; `crew serve` can show the
same); `suggest` turns a role's calibration into a YAML change, only with enough evidence.
`rebuild_rollups` recomputes the roll-ups from the cards and event streams still kept, for a
board written by a crew that kept none.

Definitions (what the numbers mean):
- execution: an agent step's execution that ended with an output accepted at once (confidence at
  or above the role's threshold) or escalated (with its reason's kind). A retry is a new one.
- calibration: per confidence band (0.0-0.1 ... 0.9-1.0), of the outputs people judged (an
  escalation answered, or a checkpoint that showed the output answered), the share they kept
  unchanged (approved) rather than changed (edited, retried, rejected). A checkpoint's edit
  counts against the output it replaced (the first step it shows); the other outputs it showed
  went on unchanged. An output is counted once; a later change of one counted as kept moves it.
- time to decide: from when a card started waiting on the person (or was handed to them) to
  their answer. Medians and p90s come from histograms whose buckets are a factor sqrt(2) apart
  (interpolated within a bucket: within ~20%).
- lead time: a run's start to its end; waiting on people: the time at least one of its cards
  waited on a person; AI working: the rest (model and tool calls, queues).
"""

from __future__ import annotations

import math
import re
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any, cast

from crew.exceptions import ConfigError

if TYPE_CHECKING:
    from crew.board.board import Board

__all__ = [
    "CHANGED_MOST",
    "KEPT_MOST",
    "MIN_BAND",
    "MIN_CHANGED",
    "MIN_JUDGED",
    "Report",
    "Suggestion",
    "build_report",
    "parse_since",
    "rebuild_rollups",
    "suggest",
]

DAY = 86400
BANDS = 10
MIN_JUDGED = 20
"""A threshold is suggested only for a role with at least this many judged outputs..."""
MIN_CHANGED = 8
"""...of which at least this many were changed by people."""
MIN_BAND = 5
"""A confidence band speaks for a change only with this many judged outputs in it..."""
CHANGED_MOST = 0.5
"""...of which people changed at least this share (raise the threshold over it)..."""
KEPT_MOST = 0.9
"""...or kept at least this share unchanged (lower the threshold under it)."""

_SINCE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(m|min|h|d|w)\s*$")


def parse_since(text: str, now: float) -> float:
    """`--since`: a duration back from `now` (90m, 12h, 30d, 2w) or a date (2026-11-01, UTC).
    Returns the time it names; ConfigError (a one-line reason) if it does not parse."""
    match = _SINCE.match(text.lower())
    if match:
        unit = {"m": 60, "min": 60, "h": 3600, "d": DAY, "w": 7 * DAY}[match.group(2)]
        return now - float(match.group(1)) * unit
    try:
        day = date.fromisoformat(text.strip())
    except ValueError:
        raise ConfigError(
            f"--since {text!r} is not a duration or a date",
            hint="Use e.g. --since 30d, 12h, 2w or 2026-11-01.",
        ) from None
    return datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp()


@dataclass
class _Group:
    counters: dict[str, float] = field(default_factory=lambda: defaultdict(float))

    def add(self, metric: str, value: float) -> None:
        self.counters[metric] += value

    def get(self, metric: str) -> float:
        return self.counters.get(metric, 0.0)

    def prefixed(self, prefix: str) -> dict[str, int]:
        return {
            k[len(prefix) :]: int(v)
            for k, v in sorted(self.counters.items())
            if k.startswith(prefix) and v
        }

    def histogram(self, prefix: str) -> dict[int, int]:
        return {int(k): v for k, v in self.prefixed(prefix).items() if k.lstrip("-").isdigit()}


def _quantile(histogram: Mapping[int, int], q: float) -> float | None:
    """The q-quantile (seconds) of a histogram of buckets ceil(2 log2 t), geometric within one."""
    total = sum(histogram.values())
    if total <= 0:
        return None
    rank = q * total
    seen = 0.0
    for bucket in sorted(histogram):
        count = histogram[bucket]
        if seen + count >= rank:
            high = 2 ** (bucket / 2) if bucket > 0 else 1.0
            low = 2 ** ((bucket - 1) / 2) if bucket > 0 else 0.0
            share = (rank - seen) / count if count else 1.0
            if low <= 0:
                return round(high * share, 1)
            return round(float(low * (high / low) ** share), 1)
        seen += count
    return None


def _spread(histogram: Mapping[int, int]) -> dict[str, float | None]:
    return {"median": _quantile(histogram, 0.5), "p90": _quantile(histogram, 0.9)}


def _rate(part: float, whole: float) -> float | None:
    return round(part / whole, 4) if whole else None


def _money(cost: float | None, count: int) -> float | None:
    """USD per item, to a millionth of a dollar (token prices are per million tokens)."""
    return None if cost is None or not count else round(cost / count, 6)


def _band_label(band: int) -> str:
    return f"{band / BANDS:.1f}-{(band + 1) / BANDS:.1f}"


@dataclass(frozen=True)
class Suggestion:
    """A YAML change `crew report --suggest` recommends, with its evidence."""

    role: str
    file: str
    key: str
    current: float
    suggested: float
    caught: int
    changed: int
    extra_escalations: int
    escalations: int
    judged: int

    @property
    def line(self) -> str:
        n = self.extra_escalations
        if self.suggested > self.current:
            more = f"+{n} escalation{'s' if n != 1 else ''}"
            if self.escalations:
                more = f"+{round(100 * n / self.escalations)}% escalations"
            why = (
                f"would have escalated {self.caught} of {self.changed} outputs people later "
                f"changed; {more}"
            )
        else:
            why = (
                f"people kept {self.caught} of the {self.changed} outputs between "
                f"{self.suggested:g} and {self.current:g} they judged unchanged; "
                f"-{n} escalation{'s' if n != 1 else ''}"
            )
        return f"{self.file}: {self.key} {self.current:g} → {self.suggested:g} ({why})"

    def to_json(self) -> dict[str, Any]:
        return {
            "role": self.role,
            "file": self.file,
            "key": self.key,
            "current": self.current,
            "suggested": self.suggested,
            "caught": self.caught,
            "changed": self.changed,
            "judged": self.judged,
            "extra_escalations": self.extra_escalations,
            "escalations": self.escalations,
            "line": self.line,
        }


def suggest(
    role: str, bands: Sequence[Mapping[str, int]], threshold: float | None
) -> tuple[Suggestion | None, str]:
    """The threshold a role's calibration points to, and why (or why not). `bands`: per band,
    {executions, kept, changed}.

    Raise: from the current threshold up, each band whose judged outputs people mostly changed
    (at least `CHANGED_MOST` of at least `MIN_BAND` judged) joins what would be escalated; the
    suggestion is the edge above the last such band. Lower: the bands just below the threshold
    whose judged outputs people nearly all kept (at least `KEPT_MOST` of `MIN_BAND`) need no
    person. A suggestion needs `MIN_JUDGED` judged outputs for the role, `MIN_CHANGED` of them
    changed (raising) or kept (lowering)."""
    if threshold is None:
        return None, "no threshold known for this role"
    judged = sum(b["kept"] + b["changed"] for b in bands)
    changed = sum(b["changed"] for b in bands)
    if judged < MIN_JUDGED or changed < MIN_CHANGED:
        return None, (
            f"not enough evidence: {judged} judged outputs, {changed} changed "
            f"(needs {MIN_JUDGED} judged, {MIN_CHANGED} changed)"
        )
    current = min(BANDS, max(0, math.ceil(threshold * BANDS - 1e-9)))
    escalations = sum(b["executions"] for b in bands[:current])

    def share(band: Mapping[str, int], what: str) -> float | None:
        seen = band["kept"] + band["changed"]
        return band[what] / seen if seen >= MIN_BAND else None

    def offer(best: int, lo: int, hi: int, caught: str, changed: int) -> tuple[Suggestion, str]:
        """Move the threshold to band edge `best`; bands[lo:hi] are the ones it moves over."""
        return (
            Suggestion(
                role=role,
                file=f"agents/{role}.yaml",
                key="confidence.threshold",
                current=threshold,
                suggested=best / BANDS,
                caught=sum(b[caught] for b in bands[lo:hi]),
                changed=changed,
                extra_escalations=sum(b["executions"] for b in bands[lo:hi]),
                escalations=escalations,
                judged=judged,
            ),
            "",
        )

    best = current
    while best < BANDS - 1 and (share(bands[best], "changed") or 0.0) >= CHANGED_MOST:
        best += 1
    if best > current:
        return offer(best, current, best, "changed", sum(b["changed"] for b in bands[current:]))
    best = current
    while best > 1 and (share(bands[best - 1], "kept") or 0.0) >= KEPT_MOST:
        best -= 1
    if best < current:
        kept_or_changed = sum(b["kept"] + b["changed"] for b in bands[best:current])
        return offer(best, best, current, "kept", kept_or_changed)
    return None, f"threshold {threshold:g} fits what people did with its outputs"


@dataclass
class Report:
    """The report's figures (`to_json` is `crew report --json`)."""

    since: float
    until: float
    roles: list[dict[str, Any]]
    people: list[dict[str, Any]]
    playbooks: list[dict[str, Any]]
    suggestions: list[Suggestion]
    notes: list[str]
    days: int
    rolled_up_since: float | None

    @property
    def empty(self) -> bool:
        return not (self.roles or self.people or self.playbooks)

    def to_json(self) -> dict[str, Any]:
        from crew.board.cards import iso

        return {
            "since": iso(self.since),
            "until": iso(self.until),
            "days": self.days,
            "rolled_up_since": iso(self.rolled_up_since),
            "roles": self.roles,
            "people": self.people,
            "playbooks": self.playbooks,
            "suggestions": [s.to_json() for s in self.suggestions],
            "notes": self.notes,
        }


@dataclass(frozen=True)
class Rollups:
    """The roll-ups of a period: each field's change over it, and how many days had any;
    when the roll-ups began (None: never) and when the oldest run the board kept finished."""

    fields: dict[str, float]
    days: int
    began: float | None = None
    oldest_finished: float | None = None


def _numbers(flat: Mapping[str, str] | None) -> dict[str, float]:
    out: dict[str, float] = {}
    for name, raw in (flat or {}).items():
        try:
            out[name] = float(raw)
        except ValueError:
            continue
    return out


def read_rollups(board: Board, since: float, until: float) -> Rollups:
    """The roll-ups of the UTC days from `since` to `until`: the running totals at the first
    day snapshot after `until` (or now) minus those at the first snapshot from `since` on. Two
    round trips and two hashes, whatever the period or the history."""
    keys, client = board.keys, cast(Any, board.client)
    first, last = math.floor(since / DAY), math.floor(until / DAY)
    pipe = client.pipeline(transaction=False)
    pipe.zrangebyscore(keys.rollup_days(), first, "+inf", start=0, num=1)
    pipe.zrangebyscore(keys.rollup_days(), last + 1, "+inf", start=0, num=1)
    pipe.zcount(keys.rollup_days(), first, last)
    pipe.hget(keys.rollup_meta(), "since")
    pipe.zrange(keys.runs_finished(), 0, 0, withscores=True)
    starts, ends, days, meta, oldest = pipe.execute()
    began = float(meta) if meta else None
    oldest_finished = float(oldest[0][1]) if oldest else None
    if not starts:  # nothing happened since `since`
        return Rollups({}, 0, began, oldest_finished)
    pipe = client.pipeline(transaction=False)
    pipe.hgetall(keys.rollup_day(int(starts[0])))
    pipe.hgetall(keys.rollup_day(int(ends[0])) if ends else keys.rollup_total())
    start, end = (_numbers(flat) for flat in pipe.execute())
    fields = {}
    for name, value in end.items():
        change = value - start.get(name, 0.0)
        if abs(change) > 1e-9:
            fields[name] = change
    return Rollups(fields, int(days), began, oldest_finished)


def _split(field_name: str) -> tuple[str, str, str, str] | None:
    section, _, rest = field_name.partition("|")
    playbook, _, rest = rest.partition("|")
    name, _, metric = rest.rpartition("|")
    if not (section and metric) or section not in "rpb":
        return None
    return section, playbook, name, metric


def names_in(rollups: Rollups) -> dict[str, set[str]]:
    """The roles, people and playbooks the roll-ups name."""
    found: dict[str, set[str]] = {"r": set(), "p": set(), "b": set()}
    for name in rollups.fields:
        parts = _split(name)
        if parts is None:
            continue
        section, playbook, who, _ = parts
        found["b"].add(playbook)
        if section in "rp":
            found[section].add(who)
    return found


def build_report(
    board: Board,
    *,
    since: float,
    until: float | None = None,
    playbook: str | None = None,
    role: str | None = None,
    person: str | None = None,
    thresholds: Mapping[str, float] | None = None,
    rollups: Rollups | None = None,
) -> Report:
    """The report over [since, until] (whole UTC days), filtered. `thresholds`: each role's
    current confidence threshold (the project's), for the suggestions."""
    until = board.now() if until is None else until
    if rollups is None:
        rollups = read_rollups(board, since, until)
    groups: dict[tuple[str, str], _Group] = defaultdict(_Group)
    for name, value in rollups.fields.items():
        parts = _split(name)
        if parts is None:
            continue
        section, pb, who, metric = parts
        if playbook is not None and pb != playbook:
            continue
        if section == "r" and role is not None and who != role:
            continue
        if section == "p" and person is not None and who != person:
            continue
        groups[(section, pb if section == "b" else who)].add(metric, value)
    thresholds = thresholds or {}
    roles, suggestions = [], []
    for (section, name), group in sorted(groups.items()):
        if section != "r":
            continue
        entry, found = _role(name, group, thresholds.get(name))
        roles.append(entry)
        if found is not None:
            suggestions.append(found)
    people = [_person(name, g) for (s, name), g in sorted(groups.items()) if s == "p"]
    playbooks = [_playbook(name, g) for (s, name), g in sorted(groups.items()) if s == "b"]
    notes = []
    # a run that finished before the roll-ups began (a board upgraded from a crew without them)
    began, oldest = rollups.began, rollups.oldest_finished
    if began is not None and oldest is not None and oldest < began and since < began:
        from crew.board.cards import iso

        notes.append(
            f"roll-ups were kept from {iso(began)}; runs the board kept that finished "
            "before then are not counted (crew report --rebuild recomputes them from the cards)"
        )
    return Report(
        since=since,
        until=until,
        roles=roles,
        people=people,
        playbooks=playbooks,
        suggestions=suggestions,
        notes=notes,
        days=rollups.days,
        rolled_up_since=began,
    )


def _role(
    name: str, g: _Group, threshold: float | None
) -> tuple[dict[str, Any], Suggestion | None]:
    at_once = int(g.get("ok"))
    escalated_by = g.prefixed("esc:")
    escalated = sum(escalated_by.values())
    executions = at_once + escalated
    decided = g.prefixed("esc_dec:")
    accepted = at_once + decided.get("approve", 0) + decided.get("edit", 0)
    cost = g.get("cost") if "cost" in g.counters else None
    bands: list[dict[str, Any]] = []
    for band in range(BANDS):
        kept, changed = int(g.get(f"kept:{band}")), int(g.get(f"changed:{band}"))
        bands.append(
            {
                "band": _band_label(band),
                "executions": int(g.get(f"band:{band}")),
                "kept": kept,
                "changed": changed,
                "kept_rate": _rate(kept, kept + changed),
            }
        )
    found, why = suggest(name, bands, threshold)
    tokens = {
        "input": int(g.get("tok_in")),
        "output": int(g.get("tok_out")),
        "calls": int(g.get("calls")),
    }
    entry = {
        "role": name,
        "executions": executions,
        "accepted_at_once": at_once,
        "accepted_at_once_rate": _rate(at_once, executions),
        "escalated": escalated,
        "escalated_rate": _rate(escalated, executions),
        "escalated_by": escalated_by,
        "escalation_decisions": decided,
        "checkpoint_decisions": g.prefixed("cp:"),
        "accepted": accepted,
        "calibration": bands,
        "threshold": threshold,
        "suggested_threshold": None if found is None else found.suggested,
        "suggestion": None if found is None else found.line,
        "suggestion_why_not": why or None,
        "tokens": tokens,
        "tokens_per_execution": _rate(tokens["input"] + tokens["output"], executions),
        "cost": None if cost is None else round(cost, 6),
        "cost_per_execution": _money(cost, executions),
        "cost_per_accepted": _money(cost, accepted),
    }
    return entry, found


def _person(name: str, g: _Group) -> dict[str, Any]:
    decisions = g.prefixed("dec:")
    total = sum(decisions.values())
    ttd = g.histogram("ttd:")
    return {
        "person": name,
        "decisions": decisions,
        "total": total,
        "time_to_decide": {
            **_spread(ttd),
            "mean": _rate(g.get("ttd_sum"), sum(ttd.values())),
            "histogram": {str(k): v for k, v in sorted(ttd.items())},
        },
        "sla_misses": int(g.get("sla_miss")),
        "reassignments": int(g.get("reassigned")),
        "edits": decisions.get("edit", 0),
    }


def _playbook(name: str, g: _Group) -> dict[str, Any]:
    runs = g.prefixed("out:")
    total = sum(runs.values())
    lead_sum, wait_sum = g.get("lead_sum"), g.get("wait_sum")
    return {
        "playbook": name,
        "runs": runs,
        "total": total,
        "lead_time": _spread(g.histogram("lead:")),
        "waiting_on_people": _spread(g.histogram("wait:")),
        "ai_working": _spread(g.histogram("ai:")),
        "waiting_share": _rate(wait_sum, lead_sum),
        "lead_time_total": round(lead_sum, 1),
        "waiting_on_people_total": round(wait_sum, 1),
    }


def rollups_missing(board: Board, rollups: Rollups) -> int:
    """How many runs the board keeps while it has no roll-ups (a board written by a crew that
    kept none): 0 when it has roll-ups, or no finished run (every run's end is rolled up, so
    a board whose runs are all still going may have none yet). `rollups`: as read_rollups
    read them (they say both)."""
    if rollups.began is not None or rollups.oldest_finished is None:
        return 0
    return int(board.client.zcard(board.keys.runs()))


def rebuild_rollups(board: Board) -> dict[str, int]:
    """Recompute the roll-ups from the cards and run event streams the board still keeps (older
    history is gone with them): every roll-up key is deleted, then each run's events are replayed
    in order through the same rules the transition scripts apply. Returns what it read."""
    from crew.people._rebuild import replay

    return replay(board)


def known_names(values: Iterable[str]) -> str:
    names = sorted(v for v in values if v)
    return ", ".join(names) if names else "none"
