import { closeOnce, type Adapters } from "../../adapters.js";
import type { Retention } from "../../retention.js";
import type { RedisClient } from "./driver.js";
import { RedisEventStreamer } from "./event-streamer.js";
import { RedisRoleScheduler } from "./role-scheduler.js";

export type { RedisClient, RedisConnection, RedisDuplicateOptions } from "./driver.js";
export { RedisCommandError } from "./errors.js";
export { RedisEventReceiver, consumerName, type RedisEventReceiverOptions } from "./event-receiver.js";
export { RedisEventStreamer, type RedisEventStreamerOptions } from "./event-streamer.js";
export { RedisRoleScheduler, type RedisRoleSchedulerOptions } from "./role-scheduler.js";

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
 * What {@link redis} returns: events and roles on Redis, to combine with a record store, and
 * `close()`, which closes the receivers the streamer opened (and the connections they duplicated),
 * never the user's client.
 */
export interface RedisAdapters extends Adapters {
  eventStreamer: RedisEventStreamer;
  roleScheduler: RedisRoleScheduler;
}

/**
 * Events (Redis Streams) and roles (leases) on one Redis server, for workflows spread over many
 * processes. Redis keeps no records: add a record store (and a timeout store if the workflow has
 * timeouts) whose writes go to the outbox, which the workflow's outbox process moves to Redis.
 * Pass your own ioredis client; stepwise never quits it.
 *
 * With PostgreSQL, build the stores yourself: `PostgresRecordStore` writes to its outbox by
 * default. Do not spread `postgres({ pool })` here: its record store writes events to its own
 * events table and turns the outbox off, so nothing would reach Redis (and `outbox: true` would
 * not help: that store's outbox stays empty).
 *
 * ```ts
 * import { Redis } from "ioredis";
 * import pg from "pg";
 * import { migrate, PostgresRecordStore, PostgresTimeoutStore } from "stepwise/postgres";
 * import { redis } from "stepwise/redis";
 *
 * const pool = new pg.Pool({ connectionString: process.env.DATABASE_URL });
 * const client = new Redis(process.env.REDIS_URL ?? "redis://127.0.0.1:6379");
 * await migrate(pool);
 * const events = redis({ client });
 * const wf = b.build({
 *   recordStore: new PostgresRecordStore({ pool }), // outbox mode, the default
 *   timeoutStore: new PostgresTimeoutStore({ pool }),
 *   ...events,
 * });
 * // … and on shutdown: await wf.stop(); await events.close(); client.disconnect(); await pool.end();
 * ```
 */
export function redis(options: RedisAdapterOptions): RedisAdapters {
  const { client, prefix, maxLen, ttlMs } = options;
  const eventStreamer = new RedisEventStreamer({ client, prefix, maxLen });
  return {
    eventStreamer,
    roleScheduler: new RedisRoleScheduler({ client, prefix, ttlMs }),
    close: closeOnce(() => eventStreamer.close()),
  };
}
