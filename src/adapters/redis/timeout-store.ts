import { systemClock, type Clock } from "../../clock.js";
import { TimeoutNotFoundError } from "../../errors.js";
import { decodeRows } from "../../readable-rows.js";
import { storedTimeout } from "../../stored-timeout.js";
import { encodedName } from "../../topic.js";
import type { NewTimeout, TimeoutPage, TimeoutRecord, TimeoutStore } from "../../timeout-store.js";
import type { RedisClient } from "./driver.js";
import { replyInteger, replyText } from "./reply.js";
import { RedisScript } from "./script.js";

/** Options of {@link RedisTimeoutStore}. */
export interface RedisTimeoutStoreOptions {
  /** The user's ioredis client; the store sends commands on it and never quits it. */
  client: RedisClient;
  /** Put before every key. Default "stepwise:". */
  prefix?: string;
  /** Stamps `TimeoutRecord.createdAt`. Default: the system clock. */
  clock?: Clock;
}

// A timeout is a hash at "<prefix>timeout:<id>", with fields w f r t i e c (workflow name, foreign
// id, run id, status, index, expireAt ms, createdAt ms) and the two index keys it is listed in:
// a sorted set per workflow and one per workflow and status, scored by expireAt. Ids are a
// sequence written with 16 digits, so index members of one expiry sort in creation order.

const fields = ["w", "f", "r", "t", "i", "e", "c"] as const;

/** Reads the listed timeouts' fields, each led by its id. */
const fetchTimeouts = `
local function fetchTimeouts(prefix, ids)
  local out = {}
  for _, id in ipairs(ids) do
    local values = redis.call('HMGET', prefix .. 'timeout:' .. id, ${fields.map((f) => `'${f}'`).join(", ")})
    table.insert(values, 1, id)
    table.insert(out, values)
  end
  return out
end
`;

/**
 * KEYS: 1 the sequence, 2 the workflow's index, 3 the workflow and status's index.
 * ARGV: 1 prefix, then the values of w f r t i e c.
 */
const createScript = new RedisScript(`
local id = string.format('%016d', redis.call('INCR', KEYS[1]))
redis.call('HSET', ARGV[1] .. 'timeout:' .. id, 'w', ARGV[2], 'f', ARGV[3], 'r', ARGV[4], 't', ARGV[5], 'i', ARGV[6], 'e', ARGV[7], 'c', ARGV[8], 'a', KEYS[2], 'b', KEYS[3])
redis.call('ZADD', KEYS[2], ARGV[7], id)
redis.call('ZADD', KEYS[3], ARGV[7], id)
return id
`);

/** Deletes the timeout KEYS[1] (id ARGV[1]) and its index entries; 0 when there is none. */
const removeScript = new RedisScript(`
local indexes = redis.call('HMGET', KEYS[1], 'a', 'b')
if not indexes[1] then return 0 end
redis.call('DEL', KEYS[1])
redis.call('ZREM', indexes[1], ARGV[1])
redis.call('ZREM', indexes[2], ARGV[1])
return 1
`);

/** The timeouts of index KEYS[1] expiring at or before ARGV[2] ("+inf" for all), soonest first; ARGV[1] the prefix. */
const listScript = new RedisScript(`${fetchTimeouts}
return fetchTimeouts(ARGV[1], redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[2]))
`);

/**
 * A page of {@link listScript}: up to ARGV[5] timeouts ordered after the one of expiry ARGV[3] and
 * id ARGV[4], which may be gone. Members of one expiry sort by id, so a binary search among them by
 * rank finds where the page starts without walking the ones before it.
 */
const listPageScript = new RedisScript(`${fetchTimeouts}
local key, expireAt, after = KEYS[1], ARGV[3], ARGV[4]
local lo = redis.call('ZCOUNT', key, '-inf', '(' .. expireAt)
local hi = lo + redis.call('ZCOUNT', key, expireAt, expireAt)
while lo < hi do
  local mid = math.floor((lo + hi) / 2)
  if redis.call('ZRANGE', key, mid, mid)[1] <= after then lo = mid + 1 else hi = mid end
end
local ids = {}
local listed = redis.call('ZRANGE', key, lo, lo + tonumber(ARGV[5]) - 1, 'WITHSCORES')
for i = 1, #listed, 2 do
  if tonumber(listed[i + 1]) > tonumber(ARGV[2]) then break end
  table.insert(ids, listed[i])
end
return fetchTimeouts(ARGV[1], ids)
`);

/**
 * A {@link TimeoutStore} on Redis. Only active timeouts are kept: completing or cancelling one
 * deletes it, so memory follows the number of live timeouts. `listValid` reads a sorted set per
 * workflow and status, scored by expiry, so it costs what it returns. Ids are increasing decimal
 * strings of 16 digits that are never reused.
 *
 * @example
 * ```ts
 * const timeoutStore = new RedisTimeoutStore({ client });
 * ```
 */
export class RedisTimeoutStore implements TimeoutStore {
  readonly #client: RedisClient;
  readonly #prefix: string;
  readonly #clock: Clock;

  constructor(options: RedisTimeoutStoreOptions) {
    this.#client = options.client;
    this.#prefix = options.prefix ?? "stepwise:";
    this.#clock = options.clock ?? systemClock;
  }

  /** Adds an active timeout. */
  async create(timeout: NewTimeout): Promise<void> {
    const index = this.#index(timeout.workflowName);
    await createScript.run(
      this.#client,
      [`${this.#prefix}seq:timeouts`, index, `${index}:${timeout.status}`],
      [
        this.#prefix,
        timeout.workflowName,
        timeout.foreignId,
        timeout.runId,
        timeout.status,
        timeout.index ?? 0,
        timeout.expireAt.getTime(),
        this.#clock.now().getTime(),
      ],
    );
  }

  /** Marks the timeout as fired (deletes it); TimeoutNotFoundError when it is unknown or no longer active. */
  async complete(id: string): Promise<void> {
    await this.#remove(id);
  }

  /** Withdraws the timeout; TimeoutNotFoundError when it is unknown or no longer active. */
  async cancel(id: string): Promise<void> {
    await this.#remove(id);
  }

  /** The workflow's active timeouts, soonest expiry first (ties in creation order). */
  async list(workflowName: string): Promise<TimeoutRecord[]> {
    return this.#list(this.#index(workflowName), "+inf");
  }

  /** The workflow's active timeouts for `status` that expire at or before `now`, soonest first. */
  async listValid(workflowName: string, status: number, now: Date, page?: TimeoutPage): Promise<TimeoutRecord[]> {
    const index = `${this.#index(workflowName)}:${status}`;
    if (!page) return this.#list(index, now.getTime());
    // Before every expiry and id: the first page.
    const after = page.after ?? { expireAt: new Date(-8.64e15), id: "" };
    const reply = await listPageScript.run(this.#client, [index], [this.#prefix, now.getTime(), after.expireAt.getTime(), after.id, page.limit]);
    return this.#decode(reply);
  }

  #index(workflowName: string): string {
    return `${this.#prefix}index:timeouts:${encodedName(workflowName)}`;
  }

  async #list(index: string, maxExpireAt: number | "+inf"): Promise<TimeoutRecord[]> {
    return this.#decode(await listScript.run(this.#client, [index], [this.#prefix, maxExpireAt]));
  }

  #decode(reply: unknown): TimeoutRecord[] {
    return Array.isArray(reply) ? decodeRows(reply as unknown[][], toTimeout, (values) => replyText(values[0])) : [];
  }

  async #remove(id: string): Promise<void> {
    if (!/^\d{16}$/.test(id)) throw new TimeoutNotFoundError(id);
    const removed = await removeScript.run(this.#client, [`${this.#prefix}timeout:${id}`], [id]);
    if (Number(removed) !== 1) throw new TimeoutNotFoundError(id);
  }
}

/** A timeout's hash fields, after its id, as a TimeoutRecord; MalformedRecordError for one no store writes, or one that is gone. */
function toTimeout(values: readonly unknown[]): TimeoutRecord {
  const [idValue, w, f, r, t, i, e, c] = values;
  const text = (value: unknown) => (Buffer.isBuffer(value) ? replyText(value) : undefined);
  return storedTimeout({
    id: replyText(idValue),
    workflowName: text(w),
    foreignId: text(f),
    runId: text(r),
    status: replyInteger(t),
    index: replyInteger(i),
    completed: false,
    expireAtMs: replyInteger(e),
    createdAtMs: replyInteger(c),
  });
}
