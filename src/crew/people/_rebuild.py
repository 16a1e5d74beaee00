"""`crew report --rebuild`: the roll-ups recomputed from what the board still keeps.

A board written by a crew that kept no roll-ups (or whose roll-ups were lost) has only its cards
and event streams, up to retention. This replays them through the rules `scripts/_rollups.lua`
applies as the board changes, so the report reads the same keys either way. What it cannot know
exactly it approximates, and the report's README section says so: a run's time waiting on people
is the union of its cards' waits from when each card first waited (or was created waiting) to its
answer; SLA misses and reassignments come from the run's event stream (what retention kept).
"""

from __future__ import annotations

import math
from collections import defaultdict
from typing import TYPE_CHECKING, Any

from crew.exceptions import BoardError
from crew.types import CardKind, CardStatus, Decision

if TYPE_CHECKING:
    from crew.board.board import Board
    from crew.board.cards import Card
    from crew.board.events import Event

DAY = 86400
_FLOATS = ("ttd_sum", "lead_sum", "wait_sum", "cost")


def _bucket(seconds: float) -> int:
    return 0 if seconds <= 1 else math.ceil(2 * math.log2(seconds))


def _band(confidence: float | None) -> int | None:
    if confidence is None:
        return None
    return min(9, max(0, math.floor(confidence * 10)))


def _reason_kind(reason: str | None) -> str:
    """An escalation's kind from its words, for a card whose step did not say it (`reason_kind`
    is on the cards of this crew; boards of an older one have only the words)."""
    r = (reason or "").lower()
    if r.startswith("confidence "):
        return "low_confidence"
    for needle, kind in (
        ("too many tool calls", "too_many_tool_calls"),
        ("invalid", "invalid_output"),
        ("judge", "no_verdict"),
        ("may or may not have run", "uncertain_effect"),
        ("model", "model_failed"),
    ):
        if needle in r:
            return kind
    return "other"


class _Counters:
    def __init__(self) -> None:
        self.days: dict[int, dict[str, float]] = defaultdict(lambda: defaultdict(float))

    def add(
        self, at: float, section: str, playbook: str, name: str, metric: str, by: float
    ) -> None:
        self.days[math.floor(at / DAY)][f"{section}|{playbook}|{name}|{metric}"] += by


def replay(board: Board) -> dict[str, int]:
    client: Any = board.client
    keys = board.keys
    old = [int(d) for d in client.zrange(keys.rollup_days(), 0, -1)]
    client.delete(
        keys.rollup_days(),
        keys.rollup_meta(),
        keys.rollup_total(),
        *(keys.rollup_day(d) for d in old),
    )
    counters = _Counters()
    runs = client.zrange(keys.runs(), 0, -1)
    cards_read = 0
    first: float | None = None
    for run_id in runs:
        cards = board.cards_of_run(run_id)
        cards_read += len(cards)
        try:
            run = board.get_run(run_id)
        except BoardError:  # a run whose record is gone: its cards still count
            run = None
        judged: dict[str, str] = {}
        events = _events(board, run_id)
        reasons = {  # why each card was escalated (a retried card's reason says it was retried)
            e.card: str((e.detail or {}).get("reason") or "")
            for e in events
            if e.event == "escalated" and e.card
        }
        for card in sorted(cards, key=lambda c: c.updated):
            _card(counters, card, cards, judged, reasons.get(card.id))
        for event in events:
            detail: Any = event.detail or {}
            pb = run.playbook if run is not None else ""
            if event.event == "reassigned" and detail.get("from"):
                metric = "sla_miss" if event.actor == "crew" else "reassigned"
                counters.add(event.at, "p", pb, str(detail["from"]), metric, 1)
            elif event.event == "overdue" and detail.get("assignee"):
                counters.add(event.at, "p", pb, str(detail["assignee"]), "sla_miss", 1)
        if run is not None:
            first = run.created if first is None else min(first, run.created)
            if run.status.finished and run.finished is not None:
                _run(counters, run.playbook, str(run.status), run.created, run.finished, cards)
    now = board.now()
    pipe = client.pipeline(transaction=False)
    total: dict[str, float] = defaultdict(float)
    for day in sorted(counters.days):
        # the copy of the totals as the day began, then the day's changes
        if total:
            pipe.hset(keys.rollup_day(day), mapping=_stored(total))
        pipe.zadd(keys.rollup_days(), {str(day): day})
        for name, value in counters.days[day].items():
            total[name] += value
    if total:
        pipe.hset(keys.rollup_total(), mapping=_stored(total))
    pipe.hset(keys.rollup_meta(), mapping={"since": f"{first or now:.6f}", "rebuilt": f"{now:.6f}"})
    pipe.execute()
    return {"runs": len(runs), "cards": cards_read, "days": len(counters.days)}


def _events(board: Board, run: str, page: int = 1000) -> list[Event]:
    """Every event of `run` its stream still keeps (up to RUN_EVENTS_MAXLEN), oldest first."""
    events: list[Event] = []
    while True:
        read = board.events(run, after=events[-1].id if events else None, limit=page)
        events.extend(read)
        if len(read) < page:
            return events


def _stored(fields: dict[str, float]) -> dict[str, str]:
    return {
        name: (f"{value:.6f}" if name.endswith(_FLOATS) else str(round(value)))
        for name, value in fields.items()
    }


def _card(
    counters: _Counters,
    card: Card,
    cards: list[Card],
    judged: dict[str, str],
    reason: str | None = None,
) -> None:
    pb, role = card.playbook, card.role or ""
    answer = card.decision
    if role and card.kind in (CardKind.AGENT, CardKind.ESCALATION):
        escalated = card.kind is CardKind.ESCALATION
        if card.status is CardStatus.DONE or escalated:
            at = card.waiting_since if escalated and card.waiting_since else card.updated
            if not escalated:
                at = card.finished or card.updated
            if escalated:
                kind = card.reason_kind or _reason_kind(reason or card.reason)
                counters.add(at, "r", pb, role, "esc:" + kind, 1)
            else:
                counters.add(at, "r", pb, role, "ok", 1)
            band = _band(card.confidence)
            if band is not None:
                counters.add(at, "r", pb, role, f"band:{band}", 1)
            if card.usage is not None:
                counters.add(at, "r", pb, role, "tok_in", card.usage.input_tokens)
                counters.add(at, "r", pb, role, "tok_out", card.usage.output_tokens)
                counters.add(at, "r", pb, role, "calls", card.usage.calls)
                if card.usage.cost is not None:
                    counters.add(at, "r", pb, role, "cost", card.usage.cost)
    if answer is None:
        return
    at, decision = answer.at, str(answer.decision)
    counters.add(at, "p", pb, answer.by, "dec:" + decision, 1)
    if card.waiting_since is not None:
        took = max(0.0, at - card.waiting_since)
        counters.add(at, "p", pb, answer.by, f"ttd:{_bucket(took)}", 1)
        counters.add(at, "p", pb, answer.by, "ttd_sum", took)
    if card.kind is CardKind.ESCALATION and role:
        counters.add(at, "r", pb, role, "esc_dec:" + decision, 1)
        verdict = "kept" if answer.decision is Decision.APPROVE else "changed"
        _judge(counters, at, card, verdict, judged)
    elif card.kind is CardKind.CHECKPOINT:
        show = card.detail.get("show") if isinstance(card.detail, dict) else None
        if not isinstance(show, list) or not show:
            return
        latest: dict[str, int] = {}
        shown = [
            c
            for c in cards
            if c.step in show
            and c.role
            and c.status is CardStatus.DONE
            and c.kind in (CardKind.AGENT, CardKind.ESCALATION)
        ]
        for c in shown:
            latest[c.step] = max(latest.get(c.step, c.revision), c.revision)
        counted: set[tuple[str, str]] = set()
        for c in shown:
            if c.revision != latest[c.step] or c.role is None:
                continue
            said = "approve" if decision == "edit" and c.step != show[0] else decision
            if (c.role, said) not in counted:
                counted.add((c.role, said))
                counters.add(at, "r", pb, c.role, "cp:" + said, 1)
            _judge(counters, at, c, "kept" if said == "approve" else "changed", judged)


def _judge(
    counters: _Counters, at: float, card: Card, verdict: str, judged: dict[str, str]
) -> None:
    band = _band(card.confidence)
    if band is None or card.role is None:
        return
    was = judged.get(card.id)
    if was == verdict or was == "changed":
        return
    if was == "kept":
        counters.add(at, "r", card.playbook, card.role, f"kept:{band}", -1)
    counters.add(at, "r", card.playbook, card.role, f"{verdict}:{band}", 1)
    judged[card.id] = verdict


def _run(
    counters: _Counters, pb: str, status: str, created: float, finished: float, cards: list[Card]
) -> None:
    spans = []
    for card in cards:
        if card.kind is CardKind.AGENT or card.waiting_since is None:
            continue
        start = card.created if card.kind is not CardKind.ESCALATION else card.waiting_since
        end = card.decision.at if card.decision is not None else (card.finished or finished)
        spans.append((min(start, card.waiting_since), end))
    waited, reach = 0.0, None
    for start, end in sorted(spans):
        if reach is None or start > reach:
            waited += max(0.0, end - start)
            reach = end
        elif end > reach:
            waited += end - reach
            reach = end
    lead = max(0.0, finished - created)
    waited = min(waited, lead)
    counters.add(finished, "b", pb, "-", f"out:{status}", 1)
    counters.add(finished, "b", pb, "-", f"lead:{_bucket(lead)}", 1)
    counters.add(finished, "b", pb, "-", f"wait:{_bucket(waited)}", 1)
    counters.add(finished, "b", pb, "-", f"ai:{_bucket(lead - waited)}", 1)
    counters.add(finished, "b", pb, "-", "lead_sum", lead)
    counters.add(finished, "b", pb, "-", "wait_sum", waited)
