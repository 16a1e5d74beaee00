"""`RedisCheckpointSaver`: the LangGraph checkpointer API over the layout in `_layout`."""

from __future__ import annotations

import asyncio
import random
import weakref
from collections.abc import AsyncIterator, Generator, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

import redis
import redis.asyncio as aredis
from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import (
    WRITES_IDX_MAP,
    BaseCheckpointSaver,
    ChannelVersions,
    Checkpoint,
    CheckpointMetadata,
    CheckpointTuple,
    PendingWrite,
    get_checkpoint_id,
    get_checkpoint_metadata,
)
from langgraph.checkpoint.serde.base import SerializerProtocol

from crew.connection import cluster_client, driver_info, is_cluster_url, safe_url
from crew.exceptions import ConfigError
from crew.loading import LoadingRetry
from crew.persistence._layout import (
    DELETE_THREAD,
    LATEST_CHECKPOINT,
    PRUNE_NAMESPACE,
    PUT_CHECKPOINT,
    PUT_WRITES,
    Keys,
    Script,
    blob_field,
    pack,
    unpack,
)

__all__ = ["RedisCheckpointSaver"]

_T = TypeVar("_T")
_SCRIPT = "script"  # a `_Batch` command: (Script, number of keys, *keys, *args)
_PAGE = 100  # checkpoints fetched per round trip while listing
_PRUNE_RETRIES = 10


def _config(thread_id: Any, ns: str, checkpoint_id: str) -> RunnableConfig:
    configurable = {"thread_id": thread_id, "checkpoint_ns": ns, "checkpoint_id": checkpoint_id}
    return {"configurable": configurable}


@dataclass
class _Batch:
    """Commands sent in one round trip; `transaction` wraps them in MULTI/EXEC.

    A batch of one command is sent as that command, without a pipeline (cheaper in redis-py);
    a script is always a batch of its own.
    """

    commands: list[tuple[str, tuple[Any, ...]]] = field(default_factory=list)
    transaction: bool = False

    def add(self, name: str, *args: Any) -> _Batch:
        self.commands.append((name, args))
        return self

    @classmethod
    def script(cls, script: Script, keys: Sequence[Any], args: Sequence[Any] = ()) -> _Batch:
        return cls().add(_SCRIPT, script, len(keys), *keys, *args)


# An operation is written once, as a generator that yields the batches it needs and receives
# their replies; `_run`/`_arun` drive it over the sync or the async client. List operations also
# yield the CheckpointTuples they produce (and receive None back).
# (`list` is a method name inside the saver class, hence these aliases.)
_Replies = list[Any]
_Op = Generator[_Batch, _Replies, _T]
_ListOp = Generator["_Batch | CheckpointTuple", "_Replies | None", None]
_Pairs = list[tuple[str, str]]
_Tuples = list[CheckpointTuple]
_Names = list[str]
_NameLists = list[list[str]]
_PendingWrites = list[PendingWrite]


@dataclass
class _Stored:
    """A checkpoint record as read back, before its channel values and writes are loaded."""

    thread_id: Any
    ns: str
    checkpoint_id: str
    checkpoint: Checkpoint
    metadata: CheckpointMetadata
    parent_id: str | None


class RedisCheckpointSaver(BaseCheckpointSaver[str]):
    """A LangGraph checkpointer on plain Redis; sync and async; safe to share across threads.

    Build it with `RedisCheckpointSaver.from_url(url, namespace=...)` (any redis://, rediss:// or
    unix:// URL) or from clients you own. Every key it writes starts with `f"{namespace}:"`;
    two savers with the same URL and namespace see the same runs, so a run interrupted in one
    process resumes in another.
    """

    def __init__(
        self,
        client: redis.Redis,
        aclient: aredis.Redis | None = None,
        *,
        namespace: str = "crew",
        serde: SerializerProtocol | None = None,
    ) -> None:
        """`client` (and `aclient`) must return bytes (`decode_responses=False`).

        Without `aclient`, the async methods run the sync client in a worker thread.
        """
        super().__init__(serde=serde)
        for name, candidate in (("client", client), ("aclient", aclient)):
            if candidate is not None and _decodes_responses(candidate):
                raise ConfigError(
                    f"RedisCheckpointSaver needs a binary-safe Redis {name}, "
                    "but this one was made with decode_responses=True",
                    hint="Create it with decode_responses=False, or use "
                    "RedisCheckpointSaver.from_url(url, namespace=...).",
                )
        if not namespace:
            raise ConfigError(
                "RedisCheckpointSaver needs a non-empty namespace",
                hint='Pass namespace="crew" or a board-specific prefix like "crew:{board}:lg".',
            )
        self.client = client
        self.namespace = namespace
        self._keys = Keys(namespace)
        self._aclient = aclient
        self._url: str | None = None
        # redis.asyncio connections belong to the event loop that opened them, so a saver built
        # from a URL keeps one async client per loop (asyncio.run twice must keep working).
        self._loop_clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, aredis.Redis]
        self._loop_clients = weakref.WeakKeyDictionary()

    @classmethod
    def from_url(
        cls, url: str, *, namespace: str = "crew", serde: SerializerProtocol | None = None
    ) -> RedisCheckpointSaver:
        """A saver with its own sync and async clients for `url` (connections open lazily).

        A `redis+cluster://` URL (`crew.connection`) works when `namespace` carries a hash tag
        (`crew:{board}:lg`): every key of the saver then lands in one slot, so its scripts and
        transactions stay atomic."""
        if is_cluster_url(url):
            if not _has_hash_tag(namespace):
                raise ConfigError(
                    f"on a Redis Cluster the saver's namespace needs a hash tag, not {namespace!r}",
                    hint='Use e.g. namespace="crew:{board}:lg": every key then shares one slot.',
                )
            saver = cls(cluster_client(url, decode=False), namespace=namespace, serde=serde)
            saver._url = url
            return saver
        try:
            # RESP2: a new connection (a run's first saves open two or three) is then two round
            # trips fewer than redis-py 8's RESP3 handshake (HELLO, maintenance notifications).
            # LoadingRetry: a run's saves wait for a restarted Redis that is loading its data.
            client = redis.Redis.from_url(
                url,
                decode_responses=False,
                protocol=2,
                driver_info=driver_info(),
                retry=LoadingRetry(safe_url(url)),
            )
        except ValueError as exc:
            raise ConfigError(
                f"invalid Redis URL {url!r}: {exc}",
                hint="Use redis://host:6379/0, rediss://... or unix:///path/to/redis.sock.",
            ) from None
        saver = cls(client, namespace=namespace, serde=serde)
        saver._url = url
        return saver

    def close(self) -> None:
        """Close the connections `from_url` opened; clients passed to the constructor are yours."""
        if self._url is not None:
            self.client.close()

    async def aclose(self) -> None:
        """Close the async connections `from_url` opened for the running event loop."""
        loop_client = self._loop_clients.pop(asyncio.get_running_loop(), None)
        if loop_client is not None:
            await loop_client.aclose()

    def get_next_version(self, current: str | None, channel: None) -> str:
        """Zero-padded counter plus a random suffix, so forks of a thread never reuse a version."""
        if current is None:
            current_v = 0
        elif isinstance(current, int):
            current_v = current
        else:
            current_v = int(current.split(".")[0])
        return f"{current_v + 1:032}.{random.random():016}"

    # -- sync API ---------------------------------------------------------------------------

    def get_tuple(self, config: RunnableConfig) -> CheckpointTuple | None:
        """The checkpoint named by `config`, or the thread's latest one; None if absent."""
        return self._run(self._get_tuple_op(config))

    def list(
        self,
        config: RunnableConfig | None,
        *,
        filter: dict[str, Any] | None = None,
        before: RunnableConfig | None = None,
        limit: int | None = None,
    ) -> Iterator[CheckpointTuple]:
        """Checkpoints, newest first (by id) within a thread.

        `config` names the thread (None: every thread of the namespace, one after another); its
        `checkpoint_ns` and `checkpoint_id`, when present, narrow the listing to that checkpoint
        namespace and checkpoint. `filter` keeps checkpoints whose metadata has those exact
        values; `before` keeps ids older than its checkpoint's; `limit` caps the count.
        """
        op = self._list_op(config, filter, before, limit)
        reply: _Replies | None = None
        while True:
            try:
                step = op.send(reply)
            except StopIteration:
                return
            if isinstance(step, _Batch):
                reply = self._execute(step)
            else:
                reply = None
                yield step

    def put(
        self,
        config: RunnableConfig,
        checkpoint: Checkpoint,
        metadata: CheckpointMetadata,
        new_versions: ChannelVersions,
    ) -> RunnableConfig:
        """Store a checkpoint and its new channel values atomically, in one round trip."""
        return self._run(self._put_op(config, checkpoint, metadata, new_versions))

    def put_writes(
        self,
        config: RunnableConfig,
        writes: Sequence[tuple[str, Any]],
        task_id: str,
        task_path: str = "",
    ) -> None:
        """Store a task's writes for a checkpoint (idempotent; special channels overwrite)."""
        self._run(self._put_writes_op(config, writes, task_id, task_path))

    def delete_thread(self, thread_id: str) -> None:
        """Delete every key of the thread, in all its checkpoint namespaces, atomically."""
        self._run(self._delete_thread_op(thread_id))

    def copy_thread(self, source_thread_id: str, target_thread_id: str) -> None:
        """Copy every checkpoint and pending write of a thread to another thread, server side.

        The target's checkpoints with the same ids (in the same checkpoint namespace) are
        replaced; its others stay.
        """
        self._run(self._copy_thread_op(source_thread_id, target_thread_id))

    def prune(
        self,
        thread_ids: Sequence[str],
        *,
        strategy: str = "keep_latest",
        keep_last: int = 1,
    ) -> None:
        """Shrink threads: `"keep_latest"` keeps the `keep_last` newest checkpoints of each
        checkpoint namespace, with their pending writes and the channel values they refer to,
        and deletes the rest; `"delete"` deletes the threads.

        Not `DeltaChannel`-aware: don't prune threads of graphs that use `DeltaChannel`.
        """
        self._run(self._prune_op(thread_ids, strategy, keep_last))

    # -- async API --------------------------------------------------------------------------

    async def aget_tuple(self, config: RunnableConfig) -> CheckpointTuple | None:
        """Async `get_tuple`."""
        return await self._arun(self._get_tuple_op(config))

    async def alist(
        self,
        config: RunnableConfig | None,
        *,
        filter: dict[str, Any] | None = None,
        before: RunnableConfig | None = None,
        limit: int | None = None,
    ) -> AsyncIterator[CheckpointTuple]:
        """Async `list`."""
        op = self._list_op(config, filter, before, limit)
        reply: _Replies | None = None
        while True:
            try:
                step = op.send(reply)
            except StopIteration:
                return
            if isinstance(step, _Batch):
                reply = await self._aexecute(step)
            else:
                reply = None
                yield step

    async def aput(
        self,
        config: RunnableConfig,
        checkpoint: Checkpoint,
        metadata: CheckpointMetadata,
        new_versions: ChannelVersions,
    ) -> RunnableConfig:
        """Async `put`."""
        return await self._arun(self._put_op(config, checkpoint, metadata, new_versions))

    async def aput_writes(
        self,
        config: RunnableConfig,
        writes: Sequence[tuple[str, Any]],
        task_id: str,
        task_path: str = "",
    ) -> None:
        """Async `put_writes`."""
        await self._arun(self._put_writes_op(config, writes, task_id, task_path))

    async def adelete_thread(self, thread_id: str) -> None:
        """Async `delete_thread`."""
        await self._arun(self._delete_thread_op(thread_id))

    async def acopy_thread(self, source_thread_id: str, target_thread_id: str) -> None:
        """Async `copy_thread`."""
        await self._arun(self._copy_thread_op(source_thread_id, target_thread_id))

    async def aprune(
        self,
        thread_ids: Sequence[str],
        *,
        strategy: str = "keep_latest",
        keep_last: int = 1,
    ) -> None:
        """Async `prune`."""
        await self._arun(self._prune_op(thread_ids, strategy, keep_last))

    # -- operations (written once, driven by the sync or the async client) -------------------

    def _get_tuple_op(self, config: RunnableConfig) -> _Op[CheckpointTuple | None]:
        configurable = config["configurable"]
        thread_id = configurable["thread_id"]
        ns: str = configurable.get("checkpoint_ns", "") or ""
        checkpoint_id = get_checkpoint_id(config)
        checkpoints_key = self._keys.checkpoints(thread_id, ns)
        if not checkpoint_id:
            (found,) = yield _Batch.script(
                LATEST_CHECKPOINT, [self._keys.ids(thread_id, ns), checkpoints_key]
            )
            if not found or found[1] is None:
                return None
            stored = self._decode_record(thread_id, ns, found[0].decode(), found[1])
            (loaded,) = yield from self._load_op([stored])
            return loaded
        record, writes = (
            yield _Batch()
            .add("hget", checkpoints_key, checkpoint_id)
            .add("hgetall", self._keys.writes(thread_id, ns, checkpoint_id))
        )
        if record is None:
            return None
        stored = self._decode_record(thread_id, ns, checkpoint_id, record)
        (loaded,) = yield from self._load_op([stored], writes=[writes])
        return loaded

    def _list_op(
        self,
        config: RunnableConfig | None,
        filter: dict[str, Any] | None,
        before: RunnableConfig | None,
        limit: int | None,
    ) -> _ListOp:
        if limit is not None and limit <= 0:
            return
        remaining = limit
        if config is not None:
            thread_ids: _Names = [config["configurable"]["thread_id"]]
        else:
            thread_ids = yield from self._scan_threads_op()
        before_id = get_checkpoint_id(before) if before else None
        for thread_id in thread_ids:
            candidates = yield from self._candidates_op(thread_id, config, before_id, filter, limit)
            for start in range(0, len(candidates), _PAGE):
                page = candidates[start : start + _PAGE]
                batch = _Batch()
                for ns, checkpoint_id in page:
                    batch.add("hget", self._keys.checkpoints(thread_id, ns), checkpoint_id)
                records = yield batch
                assert records is not None
                matches = []
                for (ns, checkpoint_id), record in zip(page, records, strict=True):
                    if record is None:  # deleted while we were listing
                        continue
                    stored = self._decode_record(thread_id, ns, checkpoint_id, record)
                    if filter and not all(
                        stored.metadata.get(key) == value
                        for key, value in filter.items()
                    ):
                        continue
                    matches.append(stored)
                    if remaining is not None:
                        remaining -= 1
                        if remaining == 0:
                            break
                if matches:
                    loaded = yield from self._load_op(matches)
                    yield from loaded
                if remaining == 0:
                    return

    def _scan_threads_op(self) -> Generator[_Batch, Any, _Names]:
        thread_ids: _Names = []
        cursor = 0
        while True:
            ((cursor, keys),) = yield _Batch().add(
                "scan", cursor, self._keys.thread_pattern(), 1000
            )
            for key in keys:
                thread_id = self._keys.thread_id_of(key)
                if thread_id is not None:
                    thread_ids.append(thread_id)
            if int(cursor) == 0:
                return sorted(set(thread_ids))

    def _candidates_op(
        self,
        thread_id: Any,
        config: RunnableConfig | None,
        before_id: str | None,
        filter: dict[str, Any] | None,
        limit: int | None,
    ) -> Generator[_Batch, Any, _Pairs]:
        """(namespace, checkpoint id) pairs to consider, newest first."""
        configurable = config["configurable"] if config else {}
        ns_given = configurable.get("checkpoint_ns")
        if ns_given is not None:
            namespaces = [str(ns_given)]
        else:
            (values,) = yield _Batch().add("hvals", self._keys.thread(thread_id))
            namespaces = sorted({value.decode() for value in values})
        wanted_id = get_checkpoint_id(config) if config else None
        top = f"({before_id}" if before_id else "+"
        # Without a metadata filter, the newest `limit` ids of each namespace are enough.
        count = limit if limit is not None and not filter and not wanted_id else None
        batch = _Batch()
        for ns in namespaces:
            ids_key = self._keys.ids(thread_id, ns)
            if wanted_id:
                batch.add("zscore", ids_key, wanted_id)
            elif count is not None:
                batch.add("zrevrangebylex", ids_key, top, "-", 0, count)
            else:
                batch.add("zrevrangebylex", ids_key, top, "-")
        if not namespaces:
            return []
        replies = yield batch
        pairs: _Pairs = []
        for ns, reply in zip(namespaces, replies, strict=True):
            if wanted_id:
                if reply is not None and (before_id is None or wanted_id < before_id):
                    pairs.append((ns, wanted_id))
            else:
                pairs.extend((ns, raw.decode()) for raw in reply)
        pairs.sort(key=lambda pair: pair[1], reverse=True)
        return pairs

    def _load_op(
        self, stored: Sequence[_Stored], writes: Sequence[dict[bytes, bytes]] | None = None
    ) -> _Op[_Tuples]:
        """Fetch the channel values (and, unless given, the pending writes) of `stored`, in at
        most one round trip."""
        batch = _Batch()
        fields: _NameLists = []
        for item in stored:
            versions = item.checkpoint["channel_versions"]
            names = [blob_field(channel, version) for channel, version in versions.items()]
            fields.append(names)
            if names:
                batch.add("hmget", self._keys.blobs(item.thread_id, item.ns), names)
            if writes is None:
                batch.add("hgetall", self._keys.writes(item.thread_id, item.ns, item.checkpoint_id))
        replies = iter((yield batch) if batch.commands else [])
        known_writes = iter(writes or [])
        tuples: _Tuples = []
        for item, names in zip(stored, fields, strict=True):
            blobs = next(replies) if names else []
            item_writes = next(replies) if writes is None else next(known_writes)
            tuples.append(self._build_tuple(item, names, blobs, item_writes))
        return tuples

    def _put_op(
        self,
        config: RunnableConfig,
        checkpoint: Checkpoint,
        metadata: CheckpointMetadata,
        new_versions: ChannelVersions,
    ) -> _Op[RunnableConfig]:
        configurable = config["configurable"]
        thread_id = configurable["thread_id"]
        ns: str = configurable.get("checkpoint_ns", "") or ""
        parent_id: str = configurable.get("checkpoint_id") or ""
        body: dict[str, Any] = dict(checkpoint)
        values: dict[str, Any] = body.pop("channel_values", {})
        blobs: list[Any] = []
        for channel, version in new_versions.items():
            blobs.append(blob_field(channel, version))
            blobs.append(
                pack(*_typed(self.serde.dumps_typed(values[channel])))
                if channel in values
                else pack(b"empty", b"")
            )
        record = pack(
            *_typed(self.serde.dumps_typed(body)),
            *_typed(self.serde.dumps_typed(get_checkpoint_metadata(config, metadata))),
            parent_id.encode(),
        )
        keys = self._keys
        script_keys = [
            keys.thread(thread_id),
            keys.ids(thread_id, ns),
            keys.checkpoints(thread_id, ns),
            keys.blobs(thread_id, ns),
        ]
        yield _Batch.script(PUT_CHECKPOINT, script_keys, [ns, checkpoint["id"], record, *blobs])
        return _config(thread_id, ns, checkpoint["id"])

    def _put_writes_op(
        self,
        config: RunnableConfig,
        writes: Sequence[tuple[str, Any]],
        task_id: str,
        task_path: str,
    ) -> _Op[None]:
        configurable = config["configurable"]
        thread_id = configurable["thread_id"]
        ns: str = configurable.get("checkpoint_ns", "") or ""
        checkpoint_id: str = configurable["checkpoint_id"]
        writes_key = self._keys.writes(thread_id, ns, checkpoint_id)
        args: list[Any] = [ns]
        for position, (channel, value) in enumerate(writes):
            idx = WRITES_IDX_MAP.get(channel, position)
            entry = pack(
                task_id.encode(),
                channel.encode(),
                *_typed(self.serde.dumps_typed(value)),
                task_path.encode(),
                str(idx).encode(),
            )
            # Special channels (errors, interrupts, resumes) replace the task's earlier value;
            # ordinary writes are kept as first written, so a retried task can't change them.
            overwrite = "1" if channel in WRITES_IDX_MAP else "0"
            args += [overwrite, f"{task_id}\0{idx}", entry]
        if len(args) == 1:
            return None
        yield _Batch.script(PUT_WRITES, [self._keys.thread(thread_id), writes_key], args)
        return None

    def _delete_thread_op(self, thread_id: object) -> _Op[None]:
        yield _Batch.script(DELETE_THREAD, [self._keys.thread(thread_id)])
        return None

    def _copy_thread_op(self, source: object, target: object) -> _Op[None]:
        keys = self._keys
        if str(source) == str(target):
            return None
        (index,) = yield _Batch().add("hgetall", keys.thread(source))
        if not index:
            return None
        batch = _Batch(transaction=True)
        target_index: dict[str, bytes] = {}
        for raw_key, ns in index.items():
            copy = keys.for_thread(raw_key.decode(), target)
            batch.add("copy", raw_key, copy, None, True)
            target_index[copy] = ns
        batch.add("hset", keys.thread(target), None, None, target_index)
        yield batch
        return None

    def _prune_op(self, thread_ids: Sequence[str], strategy: str, keep_last: int) -> _Op[None]:
        if strategy not in ("keep_latest", "delete"):
            raise ConfigError(
                f"unknown prune strategy {strategy!r}", hint="Use 'keep_latest' or 'delete'."
            )
        if keep_last < 1:
            raise ConfigError(
                f"prune keep_last must be at least 1, got {keep_last}",
                hint="Use strategy='delete' to remove whole threads.",
            )
        for thread_id in thread_ids:
            if strategy == "delete":
                yield from self._delete_thread_op(thread_id)
                continue
            (values,) = yield _Batch().add("hvals", self._keys.thread(thread_id))
            for ns in sorted({value.decode() for value in values}):
                for _ in range(_PRUNE_RETRIES):
                    if (yield from self._prune_namespace_op(thread_id, ns, keep_last)):
                        break

    def _prune_namespace_op(self, thread_id: str, ns: str, keep_last: int) -> _Op[bool]:
        """Try once; False when a concurrent put changed the namespace first."""
        keys = self._keys
        ids_key = keys.ids(thread_id, ns)
        checkpoints_key = keys.checkpoints(thread_id, ns)
        blobs_key = keys.blobs(thread_id, ns)
        raw_ids, blob_fields = (
            yield _Batch().add("zrevrangebylex", ids_key, "+", "-").add("hkeys", blobs_key)
        )
        ids = [raw.decode() for raw in raw_ids]
        if len(ids) <= keep_last:
            return True
        kept, dropped = ids[:keep_last], ids[keep_last:]
        records = yield _Batch().add("hmget", checkpoints_key, kept)
        referenced: set[bytes] = set()
        for checkpoint_id, record in zip(kept, records[0], strict=True):
            if record is None:
                continue
            stored = self._decode_record(thread_id, ns, checkpoint_id, record)
            referenced.update(
                blob_field(channel, version).encode()
                for channel, version in stored.checkpoint["channel_versions"].items()
            )
        stale = [name for name in blob_fields if name not in referenced]
        script_keys = [
            keys.thread(thread_id),
            ids_key,
            checkpoints_key,
            blobs_key,
            *(keys.writes(thread_id, ns, checkpoint_id) for checkpoint_id in dropped),
        ]
        args = [len(ids), ids[0], len(dropped), *dropped, *stale]
        (done,) = yield _Batch.script(PRUNE_NAMESPACE, script_keys, args)
        return bool(done)

    # -- decoding ---------------------------------------------------------------------------

    def _decode_record(self, thread_id: Any, ns: str, checkpoint_id: str, record: bytes) -> _Stored:
        ctype, cbody, mtype, mbody, parent = unpack(record)
        return _Stored(
            thread_id=thread_id,
            ns=ns,
            checkpoint_id=checkpoint_id,
            checkpoint=self.serde.loads_typed((ctype.decode(), cbody)),
            metadata=self.serde.loads_typed((mtype.decode(), mbody)),
            parent_id=parent.decode() or None,
        )

    def _build_tuple(
        self,
        stored: _Stored,
        blob_names: Sequence[str],
        blobs: Sequence[bytes | None],
        writes: dict[bytes, bytes],
    ) -> CheckpointTuple:
        values: dict[str, Any] = {}
        for name, blob in zip(blob_names, blobs, strict=True):
            if blob is None:
                continue
            vtype, vbody = unpack(blob)
            if vtype == b"empty":
                continue
            values[name.split("\0", 1)[0]] = self.serde.loads_typed((vtype.decode(), vbody))
        entries = []
        for entry in writes.values():
            task_id, channel, vtype, vbody, task_path, idx = unpack(entry)
            # writes_sort_key order: the order live execution applies a superstep's writes in.
            sort_key = (task_path.decode(), task_id.decode(), int(idx))
            entries.append((sort_key, task_id.decode(), channel.decode(), vtype.decode(), vbody))
        entries.sort(key=lambda item: item[0])
        pending: _PendingWrites = [
            (task_id, channel, self.serde.loads_typed((vtype, vbody)))
            for _, task_id, channel, vtype, vbody in entries
        ]
        parent_config = (
            _config(stored.thread_id, stored.ns, stored.parent_id) if stored.parent_id else None
        )
        return CheckpointTuple(
            config=_config(stored.thread_id, stored.ns, stored.checkpoint_id),
            checkpoint={**stored.checkpoint, "channel_values": values},
            metadata=stored.metadata,
            parent_config=parent_config,
            pending_writes=pending,
        )

    # -- drivers ----------------------------------------------------------------------------

    def _run(self, op: _Op[_T]) -> _T:
        try:
            batch = next(op)
            while True:
                batch = op.send(self._execute(batch))
        except StopIteration as stop:
            result: _T = stop.value
            return result

    async def _arun(self, op: _Op[_T]) -> _T:
        try:
            batch = next(op)
            while True:
                batch = op.send(await self._aexecute(batch))
        except StopIteration as stop:
            result: _T = stop.value
            return result

    def _execute(self, batch: _Batch) -> _Replies:
        if len(batch.commands) == 1 and not batch.transaction:
            name, args = batch.commands[0]
            if name != _SCRIPT:
                return [getattr(self.client, name)(*args, **self._routing(self.client, name))]
            script, *rest = args
            try:
                return [self.client.evalsha(script.sha, *rest)]
            except redis.exceptions.NoScriptError:  # a new or restarted server: EVAL caches it
                return [self.client.eval(script.lua, *rest)]
        pipe = self.client.pipeline(transaction=batch.transaction)
        for name, args in batch.commands:
            getattr(pipe, name)(*args)
        return pipe.execute()

    async def _aexecute(self, batch: _Batch) -> _Replies:
        client = self._async_client()
        if client is None:
            return await asyncio.to_thread(self._execute, batch)
        if len(batch.commands) == 1 and not batch.transaction:
            name, args = batch.commands[0]
            if name != _SCRIPT:
                return [await getattr(client, name)(*args, **self._routing(client, name))]
            script, *rest = args
            try:
                return [await client.evalsha(script.sha, *rest)]
            except redis.exceptions.NoScriptError:
                return [await client.eval(script.lua, *rest)]
        async with client.pipeline(transaction=batch.transaction) as pipe:
            for name, args in batch.commands:
                getattr(pipe, name)(*args)
            return await pipe.execute()

    def _routing(self, client: Any, name: str) -> dict[str, Any]:
        """On a Redis Cluster, SCAN goes to the node of the namespace's slot (every key of the
        saver is there, by its hash tag); other commands route by their keys."""
        if name != "scan" or not hasattr(client, "get_node_from_key"):
            return {}
        return {"target_nodes": client.get_node_from_key(self.namespace)}

    def _async_client(self) -> aredis.Redis | None:
        if self._aclient is not None:
            return self._aclient
        if self._url is None:
            return None
        loop = asyncio.get_running_loop()
        client = self._loop_clients.get(loop)
        if client is None:
            if is_cluster_url(self._url):
                client = cluster_client(self._url, decode=False, asynchronous=True)
            else:
                client = aredis.Redis.from_url(self._url, decode_responses=False)
            self._loop_clients[loop] = client
        return client


def _has_hash_tag(namespace: str) -> bool:
    """Whether keys under `namespace` carry a (non-empty) Redis Cluster hash tag."""
    start = namespace.find("{")
    return start >= 0 and namespace.find("}", start + 2) > start


def _typed(value: tuple[str, bytes]) -> tuple[bytes, bytes]:
    return value[0].encode(), value[1]


def _decodes_responses(client: redis.Redis | aredis.Redis) -> bool:
    kwargs = client.get_connection_kwargs()  # a Redis or a RedisCluster
    return bool(kwargs.get("decode_responses", False))
