"""Large text stored once per run: cards, events and the run record refer to it.

What a caller may rely on: nothing changes for `Board`'s callers. Cards, events and runs read back
exactly as they were written (`Card.output`, `Card.detail["task"]`, `Run.inputs`, `Event.detail`
and every `--json` shape); only what Redis holds differs.

How. A JSON field of a card (output, detail, item, edited_output), of a run record (inputs) or of
an audit event (detail) whose JSON is at least `INLINE` characters is stored as a reference:
`MARK`, then a JSON list of pieces, each either a literal piece of the field's JSON or
`{"t": HASH}`, where HASH names a text stored once in the run's texts hash
(`crew:{B}:run:<run>:texts`, HASH -> text; HASH is the first 32 hex digits of the text's SHA-256).
The pieces joined are the field's JSON, exactly. No JSON text starts with `MARK` (a NUL), so a
field is a reference or plain JSON, never both.

Which parts become texts: the long strings of the value (at least `INLINE` characters of JSON),
except the parts of them that are texts of the run already stored. A rendered task that quotes a
run's input stores only the rest of the task and refers to the input's text; the run record, both
audit streams and every card that quotes that input hold it once between them.

Costs. A field under `INLINE` characters is written as before: no extra round trip. A write with a
long string costs one more round trip to store its new texts (HSET), plus, the first time in this
process for a run, one to learn the texts the run has (HGETALL) and, for a card this process has
not seen, one to learn its run. Reading references costs one round trip for all of them (HMGET per
run, pipelined); a text this process wrote or read before is not read again.

Lifetime. The texts hash goes with its run (`Board.purge`, purge.lua), or with the last card of a
run that has no run record.
"""

from __future__ import annotations

import bisect
import hashlib
import json
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable
from typing import Any

from crew.board.keys import BoardKeys

__all__ = ["CARD_FIELDS", "EVENT_FIELDS", "INLINE", "MARK", "RUN_FIELDS", "Texts", "text_name"]

MARK = "\x00crew:texts\x00"
"""The start of a field stored as a reference."""
INLINE = 2048
"""Fields (and strings) shorter than this many characters of JSON are stored as they are."""
CARD_FIELDS = ("output", "detail", "item", "edited_output")
RUN_FIELDS = ("inputs",)
EVENT_FIELDS = ("detail",)

# How many texts one field is compared with, and how many runs' texts a process keeps in memory:
# bounds on the work a write does and on the memory a long-lived worker holds.
_MOST_TEXTS = 64
_RUNS_KEPT = 16
_MISSING = "[text no longer on the board]"


class Texts:
    """The texts of a board's runs: encodes fields for writing, resolves them when read.

    Thread-safe; one per `Board`. `db` is a decoding Redis client."""

    def __init__(self, db: Any, keys: BoardKeys, *, inline: int = INLINE) -> None:
        self._db, self._keys, self.inline = db, keys, inline
        self._lock = threading.Lock()
        self._known: OrderedDict[str, dict[str, str]] = OrderedDict()  # run -> hash -> text
        self._loaded: set[str] = set()  # runs whose stored texts were all read
        self._runs: OrderedDict[str, str] = OrderedDict()  # card -> run, for writes by card id

    def writer(self, run: str | None = None, *, card: str | None = None) -> TextWriter:
        """Encodes the fields of one write of `run` (or of `card`'s run, looked up only if a
        field is long); call its `flush()` before the write itself."""
        return TextWriter(self, run, card)

    def note_card(self, card: str, run: str) -> None:
        """Remember the run of `card` (a card this process created or read)."""
        with self._lock:
            self._runs[card] = run
            self._runs.move_to_end(card)
            while len(self._runs) > 10_000:
                self._runs.popitem(last=False)

    # -- reads -------------------------------------------------------------------------------

    def resolve(
        self, records: Iterable[dict[str, str]], fields: tuple[str, ...], run_of: Callable[..., str]
    ) -> None:
        """Replace the references among `fields` of each record (a hash as stored) by the JSON
        they stand for, in place; `run_of(record)` names the record's run."""
        wanted: list[tuple[dict[str, str], str, str, list[Any]]] = []
        for record in records:
            for name in fields:
                value = record.get(name)
                if value and value.startswith(MARK):
                    pieces = json.loads(value[len(MARK) :])
                    wanted.append((record, name, run_of(record), pieces))
        if not wanted:
            return
        texts = self._fetch({(run, p["t"]) for _, _, run, ps in wanted for p in ps if _ref(p)})
        for record, name, run, pieces in wanted:
            joined = "".join(
                texts.get((run, p["t"]), _MISSING) if _ref(p) else str(p) for p in pieces
            )
            if _MISSING in joined and not _parses(joined):
                joined = json.dumps(_MISSING)
            record[name] = joined

    def _fetch(self, refs: set[tuple[str, str]]) -> dict[tuple[str, str], str]:
        found: dict[tuple[str, str], str] = {}
        missing: dict[str, list[str]] = {}
        with self._lock:
            for run, digest in refs:
                text = self._known.get(run, {}).get(digest)
                if text is None:
                    missing.setdefault(run, []).append(digest)
                else:
                    found[(run, digest)] = text
        if not missing:
            return found
        pipe = self._db.pipeline(transaction=False)
        for run, digests in missing.items():
            pipe.hmget(self._keys.run_texts(run), digests)
        for (run, digests), values in zip(missing.items(), pipe.execute(), strict=True):
            stored = {d: v for d, v in zip(digests, values, strict=True) if v is not None}
            self._learn(run, stored)
            found.update({(run, d): v for d, v in stored.items()})
        return found

    # -- writes ------------------------------------------------------------------------------

    def _run_of_card(self, card: str) -> str | None:
        """The run of `card`; None when there is no such card (the write will be refused)."""
        with self._lock:
            run = self._runs.get(card)
        if run is None:
            run = self._db.hget(self._keys.card(card), "run")
            if run is None:
                return None
            self.note_card(card, str(run))
        return str(run)

    def _texts_of(self, run: str) -> dict[str, str]:
        """Every text of `run` stored so far (read once per process)."""
        with self._lock:
            loaded = run in self._loaded
        if not loaded:
            stored = self._db.hgetall(self._keys.run_texts(run))
            self._learn(run, stored)
            with self._lock:
                self._loaded.add(run)
        with self._lock:
            return dict(self._known.get(run, {}))

    def _learn(self, run: str, texts: dict[str, str]) -> None:
        with self._lock:
            known = self._known.setdefault(run, {})
            known.update(texts)
            self._known.move_to_end(run)
            while len(self._known) > _RUNS_KEPT:
                dropped, _ = self._known.popitem(last=False)
                self._loaded.discard(dropped)

    def _store(self, run: str, texts: dict[str, str]) -> None:
        self._db.hset(self._keys.run_texts(run), mapping=texts)
        self._learn(run, texts)


class TextWriter:
    """The fields of one write: `encode` each, then `flush` before sending them."""

    def __init__(self, texts: Texts, run: str | None, card: str | None) -> None:
        self._texts, self._run, self._card = texts, run, card
        self._new: dict[str, str] = {}

    def encode(self, dumped: str) -> str:
        """What to store for a field whose JSON is `dumped` ('' stays '')."""
        inline = self._texts.inline
        if len(dumped) < inline:
            return dumped
        leaves = _long_strings(json.loads(dumped), inline)
        if not leaves:
            return dumped
        run = self._run_id()
        if run is None:  # no such card: the write is refused, nothing to store
            return dumped
        known = {**self._texts._texts_of(run), **self._new}
        pieces, new = _split(dumped, known, leaves, inline)
        if not any(_ref(p) for p in pieces):
            return dumped
        self._new.update(new)
        return MARK + json.dumps(pieces, separators=(",", ":"), ensure_ascii=False)

    def flush(self) -> None:
        """Store the texts the encoded fields refer to that the run does not have yet."""
        if not self._new:
            return
        run = self._run_id()
        if run is not None:
            self._texts._store(run, self._new)
        self._new = {}

    def _run_id(self) -> str | None:
        if self._run is None and self._card is not None:
            self._run = self._texts._run_of_card(self._card)
        return self._run


def _ref(piece: Any) -> bool:
    return isinstance(piece, dict)


def _parses(text: str) -> bool:
    try:
        json.loads(text)
    except ValueError:
        return False
    return True


def text_name(text: str) -> str:
    """The name `text` is stored under in its run's texts hash (HASH in the module docstring)."""
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:32]


def _escaped(text: str) -> str:
    """`text` as it appears inside a JSON string (what `dumped` holds)."""
    return json.dumps(text, ensure_ascii=False)[1:-1]


def _long_strings(value: Any, inline: int) -> list[str]:
    """The strings (keys too) of `value` of at least `inline` characters as JSON, escaped,
    longest first (at most `_MOST_TEXTS`)."""
    found: set[str] = set()
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if len(item) >= inline // 2:  # escaping at most doubles a typical string
                escaped = _escaped(item)
                if len(escaped) >= inline:
                    found.add(escaped)
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list | tuple):
            stack.extend(item)
    return sorted(found, key=len, reverse=True)[:_MOST_TEXTS]


def _split(
    dumped: str, known: dict[str, str], leaves: list[str], inline: int
) -> tuple[list[Any], dict[str, str]]:
    """`dumped` as pieces (literal text, or {"t": hash} of a text) and the new texts made: the
    known texts found in it first (longest first), then what is left of each long string."""
    covered: list[tuple[int, int, str]] = []  # (start, end, hash), sorted, not overlapping

    def clash(start: int, end: int) -> int | None:
        """The end of a covered span overlapping [start, end), if any."""
        at = bisect.bisect_right(covered, (start, float("inf"), ""))
        if at and covered[at - 1][1] > start:
            return covered[at - 1][1]
        if at < len(covered) and covered[at][0] < end:
            return covered[at][1]
        return None

    candidates = sorted(
        ((d, t) for d, t in known.items() if inline <= len(t) <= len(dumped)),
        key=lambda item: len(item[1]),
        reverse=True,
    )[:_MOST_TEXTS]
    for digest, text in candidates:
        at = dumped.find(text)
        while at != -1:
            blocked = clash(at, at + len(text))
            if blocked is None:
                bisect.insort(covered, (at, at + len(text), digest))
                blocked = at + len(text)
            at = dumped.find(text, max(blocked, at + 1))
    new: dict[str, str] = {}
    for leaf in leaves:
        at = dumped.find(leaf)
        while at != -1:
            end = at + len(leaf)
            gaps, position = [], at
            first = max(0, bisect.bisect_left(covered, (at, -1, "")) - 1)
            for start, stop, _ in covered[first:]:
                if start >= end:
                    break
                if stop <= position:
                    continue
                if start > position:
                    gaps.append((position, start))
                position = max(position, stop)
            if position < end:
                gaps.append((position, end))
            for start, stop in gaps:
                if stop - start >= inline:
                    text = dumped[start:stop]
                    digest = text_name(text)
                    new[digest] = text
                    bisect.insort(covered, (start, stop, digest))
            at = dumped.find(leaf, end)
    pieces: list[Any] = []
    position = 0
    for start, stop, digest in covered:
        if start > position:
            pieces.append(dumped[position:start])
        pieces.append({"t": digest})
        position = stop
    if position < len(dumped):
        pieces.append(dumped[position:])
    return pieces, new
