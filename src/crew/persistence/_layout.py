"""How the saver lays its state out in Redis: key names, record formats and Lua scripts.

Key layout (`NS` is the namespace verbatim; `T` the thread id, `C` the checkpoint namespace and
`I` a checkpoint id, each percent-encoded so they never contain `:`, `{` or `}`):

    NS:thread:T              hash  key name -> C: every other key of the thread (the index that
                                   makes `delete_thread` exact without SCAN)
    NS:ids:T:C               zset  checkpoint ids, all scored 0, so lexical order is time order
                                   (ids are uuid6): the latest is the greatest
    NS:checkpoints:T:C       hash  I -> record(checkpoint type, checkpoint without channel values,
                                   metadata type, metadata, parent id or "")
    NS:blobs:T:C             hash  "channel\\0version" -> record(type, value): a channel value,
                                   stored once per version, shared by the checkpoints that have it
    NS:writes:T:C:I          hash  "task_id\\0idx" -> record(task_id, channel, type, value,
                                   task_path, idx): the pending writes of checkpoint I

A record is length-prefixed byte strings (`pack`/`unpack`). Values are the saver serde's
`dumps_typed` output.

Writes (`put`, `put_writes`) are Lua scripts rather than MULTI/EXEC pipelines: equally atomic,
but one command and one small reply per call, which is most of their cost on the client side.
"""

from __future__ import annotations

import hashlib
import struct
from dataclasses import dataclass, field
from urllib.parse import quote, unquote


@dataclass(frozen=True)
class Script:
    """A Lua script the saver calls by EVALSHA (EVAL when the server does not have it yet)."""

    lua: str
    sha: str = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "sha", hashlib.sha1(self.lua.encode()).hexdigest())


# KEYS: index, ids, checkpoints, blobs. ARGV: checkpoint namespace, checkpoint id, record, then
# blob field, value pairs. Stores a checkpoint and its new channel values, and indexes the keys.
PUT_CHECKPOINT = Script("""
redis.call('HSET', KEYS[3], ARGV[2], ARGV[3])
redis.call('ZADD', KEYS[2], 0, ARGV[2])
for i = 4, #ARGV, 1000 do
  redis.call('HSET', KEYS[4], unpack(ARGV, i, math.min(i + 999, #ARGV)))
end
redis.call('HSET', KEYS[1], KEYS[2], ARGV[1], KEYS[3], ARGV[1], KEYS[4], ARGV[1])
return 1
""")

# KEYS: index, the checkpoint's writes hash. ARGV: checkpoint namespace, then triples of
# ('1' to overwrite | '0' to keep a value already there, field, record).
PUT_WRITES = Script("""
for i = 2, #ARGV, 3 do
  if ARGV[i] == '1' then
    redis.call('HSET', KEYS[2], ARGV[i + 1], ARGV[i + 2])
  else
    redis.call('HSETNX', KEYS[2], ARGV[i + 1], ARGV[i + 2])
  end
end
redis.call('HSET', KEYS[1], KEYS[2], ARGV[1])
return 1
""")

# KEYS[1]: a thread's index hash. Deletes every key the index lists, then the index.
DELETE_THREAD = Script("""
local keys = redis.call('HKEYS', KEYS[1])
for i = 1, #keys, 500 do
  redis.call('DEL', unpack(keys, i, math.min(i + 499, #keys)))
end
redis.call('DEL', KEYS[1])
return #keys
""")

# KEYS[1]: ids, KEYS[2]: checkpoints. Returns {id, record} of the latest checkpoint, or nil:
# resolving "latest" and reading it in one round trip.
LATEST_CHECKPOINT = Script("""
local id = redis.call('ZREVRANGEBYLEX', KEYS[1], '+', '-', 'LIMIT', 0, 1)[1]
if not id then
  return false
end
return {id, redis.call('HGET', KEYS[2], id)}
""")

# KEYS: index, ids, checkpoints, blobs, then the writes keys of the dropped checkpoints.
# ARGV: expected ZCARD of ids, expected greatest id, number of dropped ids, the dropped ids,
#       then the blob fields no kept checkpoint refers to.
# Returns 0 (and changes nothing) when a checkpoint was added since the caller read the ids:
# the caller's choice of what to keep is stale, so it reads again.
PRUNE_NAMESPACE = Script("""
local latest = redis.call('ZREVRANGEBYLEX', KEYS[2], '+', '-', 'LIMIT', 0, 1)[1] or ''
if redis.call('ZCARD', KEYS[2]) ~= tonumber(ARGV[1]) or latest ~= ARGV[2] then
  return 0
end
local n = tonumber(ARGV[3])
for i = 4, 3 + n do
  redis.call('ZREM', KEYS[2], ARGV[i])
  redis.call('HDEL', KEYS[3], ARGV[i])
end
for i = 4 + n, #ARGV do
  redis.call('HDEL', KEYS[4], ARGV[i])
end
for i = 5, #KEYS do
  redis.call('DEL', KEYS[i])
  redis.call('HDEL', KEYS[1], KEYS[i])
end
return 1
""")


def encode(value: object) -> str:
    """A key component that can't contain `:`, `{` or `}`, and decodes back with `unquote`."""
    return quote(str(value), safe="")


class Keys:
    """Every Redis key the saver touches, built in this one place."""

    def __init__(self, namespace: str) -> None:
        self.namespace = namespace

    def thread(self, thread_id: object) -> str:
        return f"{self.namespace}:thread:{encode(thread_id)}"

    def ids(self, thread_id: object, ns: str) -> str:
        return f"{self.namespace}:ids:{encode(thread_id)}:{encode(ns)}"

    def checkpoints(self, thread_id: object, ns: str) -> str:
        return f"{self.namespace}:checkpoints:{encode(thread_id)}:{encode(ns)}"

    def blobs(self, thread_id: object, ns: str) -> str:
        return f"{self.namespace}:blobs:{encode(thread_id)}:{encode(ns)}"

    def writes(self, thread_id: object, ns: str, checkpoint_id: str) -> str:
        return f"{self.namespace}:writes:{encode(thread_id)}:{encode(ns)}:{encode(checkpoint_id)}"

    def for_thread(self, key: str, thread_id: object) -> str:
        """`key` (any key of some thread, as built above) renamed for another thread."""
        kind, _, rest = key[len(self.namespace) + 1 :].partition(":")
        _, sep, tail = rest.partition(":")
        return f"{self.namespace}:{kind}:{encode(thread_id)}{sep}{tail}"

    def thread_pattern(self) -> str:
        """A SCAN pattern matching the index keys of every thread in this namespace."""
        escaped = "".join("\\" + ch if ch in "*?[]\\" else ch for ch in self.namespace)
        return f"{escaped}:thread:*"

    def thread_id_of(self, key: bytes) -> str | None:
        """The thread id of a thread index key, or None if `key` isn't one of ours."""
        prefix = f"{self.namespace}:thread:"
        name = key.decode()
        if not name.startswith(prefix) or ":" in name[len(prefix) :]:
            return None
        return unquote(name[len(prefix) :])


def pack(*parts: bytes) -> bytes:
    """Length-prefixed concatenation: binary safe and cheaper than a second serializer."""
    return b"".join(struct.pack(">I", len(part)) + part for part in parts)


def unpack(data: bytes) -> list[bytes]:
    parts: list[bytes] = []
    pos = 0
    while pos < len(data):
        (size,) = struct.unpack_from(">I", data, pos)
        pos += 4
        parts.append(data[pos : pos + size])
        pos += size
    return parts


def blob_field(channel: str, version: object) -> str:
    return f"{channel}\0{version}"
