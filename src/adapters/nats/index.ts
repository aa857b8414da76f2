import { closeOnce, type Adapters } from "../../adapters.js";
import type { NatsConnection } from "./driver.js";
import { NatsEventStreamer, type NatsEventStreamerOptions } from "./event-streamer.js";
import { NatsRoleScheduler, type NatsRoleSchedulerOptions } from "./role-scheduler.js";

export { JetStreamUnavailableError, type NatsConnection } from "./driver.js";
export { NatsEventStreamer, type NatsEventStreamerOptions } from "./event-streamer.js";
export { NatsRoleScheduler, type NatsRoleSchedulerOptions, type RoleHolder } from "./role-scheduler.js";
export type { TopicAddress } from "./names.js";

/** Options of {@link nats}: the streamer's and the scheduler's, on one connection. */
export interface NatsOptions {
  /** The user's connection; stepwise never closes or drains it. */
  connection: NatsConnection;
  /** Starts every subject and stream name. Default "stepwise". */
  prefix?: string;
  /** The streamer's other options. */
  events?: Omit<NatsEventStreamerOptions, "connection" | "prefix">;
  /** The role scheduler's options; the bucket defaults to `<prefix>_roles`. */
  roles?: Omit<NatsRoleSchedulerOptions, "connection">;
}

/**
 * What {@link nats} returns: the adapters NATS provides, and `close()`, which closes the receivers
 * the streamer opened, never the user's connection. Records and timeouts come from another store.
 */
export interface NatsAdapters extends Adapters {
  eventStreamer: NatsEventStreamer;
  roleScheduler: NatsRoleScheduler;
}

/**
 * Events on NATS JetStream and roles on its key-value store, to combine with a record store and
 * a timeout store. Pass your own connection (give it `maxReconnectAttempts: -1` so it outlives a
 * server restart, and `waitOnFirstConnect: true` so that a process started while the server is
 * down waits for it instead of failing); stepwise never closes it.
 *
 * Records kept in PostgreSQL in outbox mode (the default of `PostgresRecordStore` from `stepwise/postgres`, without
 * `events: "table"`) reach NATS through the workflow's outbox process: each write stores the
 * record and its event in one transaction, and the outbox publishes the event and then deletes it.
 *
 * @example
 * ```ts
 * import pg from "pg";
 * import { connect } from "@nats-io/transport-node";
 * import { migrate, PostgresRecordStore, PostgresTimeoutStore } from "stepwise/postgres";
 * import { nats } from "stepwise/nats";
 *
 * const pool = new pg.Pool({ connectionString: process.env.DATABASE_URL });
 * await migrate(pool);
 * const connection = await connect({ servers: "127.0.0.1:4222", maxReconnectAttempts: -1, waitOnFirstConnect: true });
 * const events = nats({ connection });
 * const wf = b.build({
 *   ...events,
 *   recordStore: new PostgresRecordStore({ pool }),
 *   timeoutStore: new PostgresTimeoutStore({ pool }),
 * });
 * await wf.run();
 * // … and on shutdown: await wf.stop(); await events.close(); await connection.drain(); await pool.end();
 * ```
 */
export function nats(options: NatsOptions): NatsAdapters {
  const prefix = options.prefix ?? "stepwise";
  const eventStreamer = new NatsEventStreamer({ ...options.events, connection: options.connection, prefix });
  return {
    eventStreamer,
    roleScheduler: new NatsRoleScheduler({ bucket: `${prefix}_roles`, ...options.roles, connection: options.connection }),
    close: closeOnce(() => eventStreamer.close()),
  };
}
