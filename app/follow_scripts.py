"""Follow mode in Redis (app/follow_redis.py): where a share is kept, and the scripts
that change it. For a share with token T of session S:

    backprop:share:T    hash: sid, base_url, seq (the last event's number), bytes (of
                        the events kept), exercise (JSON), detached (when its session
                        went away), ended
    backprop:shared:S   the token of the session's share
    backprop:events:T   a Redis stream of the latest events, up to
                        BACKPROP_FOLLOW_BUFFER_BYTES: entry id "<seq>-0", fields kind,
                        data (the event's JSON), step. The entry id is the SSE id, so a
                        page that reconnects to any worker replays what it missed
                        (``Last-Event-ID``)
    backprop:frame:T    list: the events of the step on show (a follower's first view)
    backprop:records:T  sorted set: the packed numbers of the last RECORDS steps, by
                        step, for exercise checks
    backprop:watching:T hash: each worker's followers of the share, "count:until"; a
                        worker refreshes its own while it has some, so a killed
                        worker's followers stop counting after WATCH_SECONDS

One script (PUBLISH) numbers an event, adds it to the stream, trims the stream to the
byte bound and updates the step on show and the kept numbers, all at once.
"""

from __future__ import annotations

from app.follow import KEEPALIVE_SECONDS
from app.redis_store import PREFIX
from app.shares import Event

SMALLEST_EVENT = 32  # bytes: no event is shorter, so the byte bound caps the count too
WATCH_SECONDS = int(3 * KEEPALIVE_SECONDS)  # a worker's count of followers holds this long

# The followers of a share on every worker: the counts still fresh (Redis's clock).
WATCHING = """
local function watching(key)
  local now, total = tonumber(redis.call('TIME')[1]), 0
  local counts = redis.call('HGETALL', key)
  for i = 2, #counts, 2 do
    local n, fresh = string.match(counts[i], '^(%d+):(%d+)$')
    if tonumber(fresh) >= now then total = total + tonumber(n) end
  end
  return total
end
"""

#   KEYS: share, events, frame, records, shared, watching
#   ARGV: kind, body, step, frame mode (default | set | step), the step of `step`,
#         byte bound, count bound, kept step or '', its numbers, RECORDS, TTL, frame …
PUBLISH = (
    WATCHING
    + """
if redis.call('HEXISTS', KEYS[1], 'sid') == 0 or redis.call('HEXISTS', KEYS[1], 'ended') == 1
then return 0 end
local kind, body, mode = ARGV[1], ARGV[2], ARGV[4]
if mode == 'set' then
  redis.call('DEL', KEYS[3], KEYS[4])
  for i = 12, #ARGV do redis.call('RPUSH', KEYS[3], ARGV[i]) end
elseif mode == 'step' then
  redis.call('DEL', KEYS[3])
  for _, entry in ipairs(redis.call('XREVRANGE', KEYS[2], '+', '-')) do
    if entry[2][6] == ARGV[5] then redis.call('RPUSH', KEYS[3], entry[2][4]) break end
  end
  redis.call('ZREMRANGEBYSCORE', KEYS[4], '(' .. ARGV[5], '+inf')
end
if kind == 'state' then
  local exercise = redis.call('HGET', KEYS[1], 'exercise')
  local frame = table.concat(redis.call('LRANGE', KEYS[3], 0, -1), ',')
  body = body .. ',"exercise":' .. exercise .. ',"followers":' .. watching(KEYS[6])
    .. ',"frame":[' .. frame .. ']'
end
local seq = redis.call('HINCRBY', KEYS[1], 'seq', 1)
local data = '{"seq":' .. seq .. ',"kind":"' .. kind .. '",' .. body .. '}'
redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[7], seq .. '-0',
  'kind', kind, 'data', data, 'step', ARGV[3])
local bytes = redis.call('HINCRBY', KEYS[1], 'bytes', #data)
while bytes > tonumber(ARGV[6]) and redis.call('XLEN', KEYS[2]) > 1 do
  local oldest = redis.call('XRANGE', KEYS[2], '-', '+', 'COUNT', 1)[1]
  redis.call('XDEL', KEYS[2], oldest[1])
  bytes = redis.call('HINCRBY', KEYS[1], 'bytes', -#oldest[2][4])
end
if mode == 'default' and (kind == 'forward' or kind == 'step') then
  redis.call('DEL', KEYS[3])
  redis.call('RPUSH', KEYS[3], data)
elseif mode == 'default' and (kind == 'backward' or kind == 'update') then
  redis.call('RPUSH', KEYS[3], data)
end
if ARGV[8] ~= '' then
  redis.call('ZREMRANGEBYSCORE', KEYS[4], ARGV[8], '+inf')
  redis.call('ZADD', KEYS[4], ARGV[8], ARGV[9])
  redis.call('ZREMRANGEBYRANK', KEYS[4], 0, -(tonumber(ARGV[10]) + 1))
end
for i = 1, 5 do redis.call('EXPIRE', KEYS[i], ARGV[11]) end
return seq
"""
)

# A worker's count of a share's followers, fresh for WATCH_SECONDS, if the share exists.
#   KEYS: share, watching; ARGV: worker, count, WATCH_SECONDS, TTL
COUNT = """
if redis.call('HEXISTS', KEYS[1], 'sid') == 0 then return 0 end
if ARGV[2] == '0' then
  redis.call('HDEL', KEYS[2], ARGV[1])
else
  local fresh = tonumber(redis.call('TIME')[1]) + tonumber(ARGV[3])
  redis.call('HSET', KEYS[2], ARGV[1], ARGV[2] .. ':' .. fresh)
end
redis.call('EXPIRE', KEYS[2], ARGV[4])
return 1
"""


def keys_of(token: str, sid: str) -> list[str]:
    """The keys of a share, in the order PUBLISH takes them."""
    return [
        f"{PREFIX}share:{token}",
        f"{PREFIX}events:{token}",
        f"{PREFIX}frame:{token}",
        f"{PREFIX}records:{token}",
        shared_key(sid),
        f"{PREFIX}watching:{token}",
    ]


def shared_key(sid: str) -> str:
    return f"{PREFIX}shared:{sid}"


def followers_now(counts: dict[bytes, bytes], now: bytes) -> int:
    """The fresh counts of WATCHING (in Python, for a share's read)."""
    total = 0
    for value in counts.values():
        n, fresh = value.split(b":")
        total += int(n) if int(fresh) >= int(now) else 0
    return total


def event_of(entry_id: bytes, fields: dict[bytes, bytes]) -> Event:
    seq = int(entry_id.split(b"-")[0])
    return Event(seq, fields[b"kind"].decode(), fields[b"data"].decode(), int(fields[b"step"]))
