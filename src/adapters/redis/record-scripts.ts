import { RedisScript } from "./script.js";

// The scripts of RedisRecordStore. Each runs atomically on the server: no other client acts
// between a script's checks and its writes.
//
// A run is a hash at "<prefix>run:<runId>", with one short field per part of the record (see
// `recordFields` in record-hash.ts). Its index entries are members "<16-digit sequence>:<runId>"
// scored by createdAt in ms: members of one score sort by their text, that is by sequence, so
// ties come in insertion order.

/**
 * The hash fields a record is kept under, in the order the scripts read them; "p" and "q" hold
 * the trace context (traceparent, tracestate) and "x" the workflow version, each missing in hashes
 * an older stepwise wrote (a missing "x" reads as version 1).
 */
export const recordFields = ["w", "f", "s", "t", "o", "c", "u", "v", "r", "d", "g", "p", "q", "x"] as const;

/** What the store script answers. */
export const StoreOutcome = { written: 0, versionConflict: 1, inProgress: 2 } as const;

/** Reads one run's fields, given its index member; the run id leads. */
const fetchRun = `
local function fetchRun(prefix, member)
  local runId = string.sub(member, 18)
  local values = redis.call('HMGET', prefix .. 'run:' .. runId, ${recordFields.map((f) => `'${f}'`).join(", ")})
  table.insert(values, 1, runId)
  return values
end
`;

/** Keys the store script takes per record. */
export const keysPerRecord = 7;

/**
 * The compare-and-set of records of different runs and their events' appends, in one step: every
 * record is checked first, and all are written only if none is refused.
 *
 * KEYS, 7 per record: 1 the run's hash, 2 the key naming the unfinished run of its workflow and
 * foreign id, 3 the workflow's index, 4 the index of every run, 5 the foreign id's index, 6 the
 * sequence, 7 the stream the event goes to.
 * ARGV, per record: how many arguments follow for it, then 1 version, 2 "1" when the record's run
 * state is finished, 3 run id, 4 createdAt ms, 5 workflow name, 6 foreign id, then from 7 the
 * values of the hash fields s t o u v r d g p q x, and from 18 the arguments of XADD after the key
 * (trim, "*", the event's fields).
 * Answers `{ outcome, index }`: the first refused record's outcome and 1-based index, or `{ 0, 0 }`.
 *
 * The key of an unfinished run does what a partial unique index does in SQL: it exists while its
 * run is unfinished, and a second unfinished run of the foreign id is refused while it does.
 */
export const storeScript = new RedisScript(`
local records = {}
local at = 1
for i = 1, #KEYS / ${keysPerRecord} do
  records[i] = { k = (i - 1) * ${keysPerRecord}, a = at + 1, n = tonumber(ARGV[at]) }
  at = at + 1 + records[i].n
end
-- The holder of each unfinished-run key as the records before this one leave it (false: none).
local holders = {}
local function holder(key)
  if holders[key] == nil then holders[key] = redis.call('GET', key) or false end
  return holders[key]
end
for i, r in ipairs(records) do
  local k, a = r.k, r.a
  local version, finished, runId = tonumber(ARGV[a]), ARGV[a + 1] == '1', ARGV[a + 2]
  local unfinished = KEYS[k + 2]
  if version == 1 then
    if redis.call('EXISTS', KEYS[k + 1]) == 1 then return { ${StoreOutcome.versionConflict}, i } end
    if not finished then
      if holder(unfinished) then return { ${StoreOutcome.inProgress}, i } end
      holders[unfinished] = runId
    end
  else
    local stored = redis.call('HMGET', KEYS[k + 1], 'v', 'w', 'f')
    if not stored[1] or tonumber(stored[1]) ~= version - 1 or stored[2] ~= ARGV[a + 4] or stored[3] ~= ARGV[a + 5] then
      return { ${StoreOutcome.versionConflict}, i }
    end
    local h = holder(unfinished)
    if finished then
      if h == runId then holders[unfinished] = false end
    elseif not h then
      holders[unfinished] = runId
    elseif h ~= runId then
      return { ${StoreOutcome.inProgress}, i }
    end
  end
end
for _, r in ipairs(records) do
  local k, a = r.k, r.a
  local version, finished, runId = tonumber(ARGV[a]), ARGV[a + 1] == '1', ARGV[a + 2]
  if version == 1 then
    local member = string.format('%016d', redis.call('INCR', KEYS[k + 6])) .. ':' .. runId
    redis.call('ZADD', KEYS[k + 3], ARGV[a + 3], member)
    redis.call('ZADD', KEYS[k + 4], ARGV[a + 3], member)
    redis.call('ZADD', KEYS[k + 5], ARGV[a + 3], member)
    redis.call('HSET', KEYS[k + 1], 'w', ARGV[a + 4], 'f', ARGV[a + 5], 'c', ARGV[a + 3])
  end
  if finished then
    if redis.call('GET', KEYS[k + 2]) == runId then redis.call('DEL', KEYS[k + 2]) end
  else
    redis.call('SET', KEYS[k + 2], runId)
  end
  redis.call('HSET', KEYS[k + 1], 's', ARGV[a + 6], 't', ARGV[a + 7], 'o', ARGV[a + 8], 'u', ARGV[a + 9], 'v', ARGV[a + 10],
    'r', ARGV[a + 11], 'd', ARGV[a + 12], 'g', ARGV[a + 13], 'p', ARGV[a + 14], 'q', ARGV[a + 15], 'x', ARGV[a + 16])
  redis.call('XADD', KEYS[k + 7], unpack(ARGV, a + 17, a + r.n - 1))
end
return { ${StoreOutcome.written}, 0 }
`);

/** The fields of each run hash in KEYS, in the order of `recordFields`: one read for many runs. */
export const lookupManyScript = new RedisScript(`
local runs = {}
for i, key in ipairs(KEYS) do
  runs[i] = redis.call('HMGET', key, ${recordFields.map((f) => `'${f}'`).join(", ")})
end
return runs
`);

/** The newest run of a foreign id (KEYS[1], its index; ARGV[1] the prefix), or nil. */
export const latestScript = new RedisScript(`${fetchRun}
local newest = redis.call('ZREVRANGE', KEYS[1], 0, 0)[1]
if not newest then return nil end
return fetchRun(ARGV[1], newest)
`);

/**
 * One bounded step of a listing: reads at most ARGV[8] index entries of KEYS[1], in order, and
 * returns `{ done, last member read, offset left, runs… }` for the runs that pass the filters.
 * The caller goes on after the last member until it has enough runs or `done` is 1, so no single
 * call holds the server for long on a big index.
 *
 * ARGV: 1 prefix, 2 "desc" or "asc", 3 createdAfter ms or "", 4 createdBefore ms or "" (both
 * exclusive), 5 the member to go on after or "", 6 how many matching runs to skip, 7 how many to
 * return, 8 how many entries to read, 9–11 foreign ids, statuses and run states as JSON arrays,
 * or "" for no filter.
 */
export const listScript = new RedisScript(`${fetchRun}
local prefix, desc = ARGV[1], ARGV[2] == 'desc'
local after, before = tonumber(ARGV[3]), tonumber(ARGV[4])
local skip, need, chunk = tonumber(ARGV[6]), tonumber(ARGV[7]), tonumber(ARGV[8])
local function set(json)
  if json == '' then return nil end
  local s = {}
  for _, v in ipairs(cjson.decode(json)) do s[tostring(v)] = true end
  return s
end
local foreignIds, statuses, runStates = set(ARGV[9]), set(ARGV[10]), set(ARGV[11])
local filtered = foreignIds or statuses or runStates
local start
if ARGV[5] ~= '' then
  start = (desc and redis.call('ZREVRANK', KEYS[1], ARGV[5]) or redis.call('ZRANK', KEYS[1], ARGV[5])) + 1
elseif desc then
  start = before and redis.call('ZCOUNT', KEYS[1], before, '+inf') or 0
else
  start = after and redis.call('ZCOUNT', KEYS[1], '-inf', after) or 0
end
if not filtered then
  -- Every entry in the time window matches: skip the offset by rank.
  start = start + skip
  skip = 0
end
local entries = redis.call(desc and 'ZREVRANGE' or 'ZRANGE', KEYS[1], start, start + chunk - 1, 'WITHSCORES')
local out = { 0, '', skip }
local last = ''
for i = 1, #entries, 2 do
  local member, score = entries[i], tonumber(entries[i + 1])
  if (desc and after and score <= after) or (not desc and before and score >= before) then
    out[1] = 1
    break
  end
  last = member
  local matches = true
  if filtered then
    local v = redis.call('HMGET', prefix .. 'run:' .. string.sub(member, 18), 'f', 't', 's')
    matches = (not foreignIds or foreignIds[v[1]]) and (not statuses or statuses[v[2]]) and (not runStates or runStates[v[3]])
  end
  if matches then
    if skip > 0 then
      skip = skip - 1
    else
      table.insert(out, fetchRun(prefix, member))
      need = need - 1
      if need == 0 then break end
    end
  end
end
if #entries < 2 * chunk then out[1] = 1 end
out[2] = last
out[3] = skip
return out
`);


/**
 * The runs of the foreign-id indexes KEYS created after ARGV[2] and before ARGV[3] (exclusive,
 * "-inf" and "+inf" for none), each as `{ score, member, run… }`, for a listing by foreign id
 * that need not walk the workflow's index. ARGV[1] is the prefix.
 */
export const listForeignScript = new RedisScript(`${fetchRun}
local out = {}
for _, key in ipairs(KEYS) do
  local entries = redis.call('ZRANGEBYSCORE', key, ARGV[2], ARGV[3], 'WITHSCORES')
  for i = 1, #entries, 2 do
    table.insert(out, { entries[i + 1], entries[i], fetchRun(ARGV[1], entries[i]) })
  end
end
return out
`);
