import { closeOnce, type Adapters } from "../../adapters.js";
import type { Retention } from "../../retention.js";
import type { RedisClient } from "./driver.js";
import { RedisEventStreamer } from "./event-streamer.js";
import { RedisRecordStore } from "./record-store.js";
import { RedisRoleScheduler } from "./role-scheduler.js";
import { RedisTimeoutStore } from "./timeout-store.js";

export type { RedisClient, RedisConnection, RedisDuplicateOptions } from "./driver.js";
export { RedisCommandError } from "./errors.js";
export { RedisEventReceiver, consumerName, type RedisEventReceiverOptions } from "./event-receiver.js";
export { RedisEventStreamer, type RedisEventStreamerOptions } from "./event-streamer.js";
export { RedisRoleScheduler, type RedisRoleSchedulerOptions } from "./role-scheduler.js";
export { RedisRecordStore, defaultMaxObjectBytes, type RedisRecordStoreOptions } from "./record-store.js";
export { RedisTimeoutStore, type RedisTimeoutStoreOptions } from "./timeout-store.js";

/** Options of {@link redis}. */
export interface RedisAdapterOptions {
  /** The user's ioredis client; stepwise never quits it. */
  client: RedisClient;
  /** Put before every key and channel. Default "stepwise:". */
  prefix?: string;
  /** Trims each stream to about this many entries; see {@link RedisEventStreamerOptions.maxLen}. Default: no trim. */
  maxLen?: number;
  /** How each stream is trimmed; see {@link RedisEventStreamerOptions.retention}. Default: on, 7 days. */
  retention?: Retention;
  /** Lease length of the role scheduler, in ms; see {@link RedisRoleSchedulerOptions.ttlMs}. Default 5000. */
  ttlMs?: number;
}

/**
 * What {@link redis} returns: every adapter `build()` needs, on one Redis; `outbox: false` for
 * `build()`; and `close()`, which closes the receivers the streamer opened (and the connections
 * they duplicated), never the user's client.
 */
export interface RedisAdapters extends Adapters {
  eventStreamer: RedisEventStreamer;
  recordStore: RedisRecordStore;
  timeoutStore: RedisTimeoutStore;
  roleScheduler: RedisRoleScheduler;
  /**
   * The record store appends each event to its topic's stream in the script that writes the
   * record: no outbox hop. With a record store from elsewhere, set `outbox: true` (see {@link redis}).
   */
  outbox: false;
}

/**
 * A whole backend on one Redis server, for workflows spread over many processes: records and
 * timeouts (hashes and sorted sets), events (Redis Streams) and roles (leases). Each store is one
 * Lua script that checks the record's version and appends its event to the topic's stream
 * together, so the workflow runs without an outbox process (`outbox: false`). Pass your own
 * ioredis client; stepwise never quits it.
 *
 * Redis keeps what it acknowledged only as well as its persistence settings say: run it with the
 * append-only file on (`appendonly yes`). A crash of the Redis process alone loses nothing it
 * acknowledged; a crash of the machine loses about the last second of writes with `appendfsync
 * everysec`, none with `always` (see docs/adapters.md).
 *
 * ```ts
 * import { Redis } from "ioredis";
 * import { redis } from "stepwise/redis";
 *
 * const client = new Redis(process.env.REDIS_URL ?? "redis://127.0.0.1:6379");
 * const adapters = redis({ client });
 * const wf = b.build(adapters);
 * await wf.run();
 * // … and on shutdown: await wf.stop(); await adapters.close(); client.disconnect();
 * ```
 *
 * Records elsewhere, events and roles on Redis: put your record store (in its outbox mode) after
 * the bundle and turn the outbox back on, so the outbox process moves each event to Redis. Do not
 * spread `postgres({ pool })` here: its record store writes events to its own events table.
 *
 * ```ts
 * import { migrate, PostgresRecordStore, PostgresTimeoutStore } from "stepwise/postgres";
 * await migrate(pool);
 * const events = redis({ client });
 * const wf = b.build({
 *   ...events,
 *   recordStore: new PostgresRecordStore({ pool }), // outbox mode, the default
 *   timeoutStore: new PostgresTimeoutStore({ pool }),
 *   outbox: true, // the bundle says false: its own record store needs no outbox
 * });
 * ```
 */
export function redis(options: RedisAdapterOptions): RedisAdapters {
  const { client, prefix, maxLen, ttlMs } = options;
  const eventStreamer = new RedisEventStreamer({ client, prefix, maxLen });
  return {
    eventStreamer,
    recordStore: new RedisRecordStore({ client, prefix, maxLen, events: "stream" }),
    timeoutStore: new RedisTimeoutStore({ client, prefix }),
    roleScheduler: new RedisRoleScheduler({ client, prefix, ttlMs }),
    outbox: false,
    close: closeOnce(() => eventStreamer.close()),
  };
}
