import { closeOnce, type Adapters } from "../../adapters.js";
import type { Logger } from "../../logger.js";
import type { Retention } from "../../retention.js";
import type { PgPool } from "./driver.js";
import { PostgresEventStreamer } from "./event-streamer.js";
import { PostgresRecordStore } from "./record-store.js";
import { Notifier } from "./notifier.js";
import { PostgresRoleScheduler } from "./role-scheduler.js";
import { PostgresTimeoutStore } from "./timeout-store.js";

export type { PgClient, PgNotification, PgPool, PgQueryable, PostgresOptions } from "./driver.js";
export { PostgresEventStreamer, type PostgresEventStreamerOptions } from "./event-streamer.js";
export { PostgresRecordStore, type PostgresRecordStoreOptions } from "./record-store.js";
export { PostgresRoleScheduler, type PostgresRoleSchedulerOptions } from "./role-scheduler.js";
export { PostgresTimeoutStore } from "./timeout-store.js";
export { migrate, type MigrateOptions } from "./migrate.js";
export { schemaSql, schemaVersion } from "./schema.js";
import { tables } from "./tables.js";
export { tables };

/**
 * What {@link postgres} returns: every adapter `build()` needs, on one database, and `close()`,
 * which closes the receivers still open (so the LISTEN connection goes back to the pool). Role
 * locks go back with their leases, which `wf.stop()` releases. The pool is never ended.
 */
export interface PostgresAdapters extends Adapters {
  eventStreamer: PostgresEventStreamer;
  recordStore: PostgresRecordStore;
  timeoutStore: PostgresTimeoutStore;
  roleScheduler: PostgresRoleScheduler;
  /** Events are written with their records, so the workflow runs no outbox process. */
  outbox: false;
}

/**
 * Every adapter on one PostgreSQL database, ready for `build()`: records and their events are
 * written in one transaction, receivers wake on LISTEN/NOTIFY, roles are advisory locks.
 * Pass your own pool; stepwise never ends it. Run {@link migrate} once first.
 *
 * ```ts
 * import pg from "pg";
 * import { migrate, postgres } from "stepwise/postgres";
 * const pool = new pg.Pool({ connectionString: process.env.DATABASE_URL });
 * await migrate(pool);
 * const adapters = postgres({ pool });
 * const wf = b.build(adapters);
 * await wf.run();
 * // … and on shutdown: await wf.stop(); await adapters.close(); await pool.end();
 * ```
 */
export function postgres(options: { pool: PgPool; schema?: string; prefix?: string; logger?: Logger; maxObjectBytes?: number; retention?: Retention }): PostgresAdapters {
  const notifier = new Notifier(options.pool, tables(options).channel, options.logger);
  const eventStreamer = new PostgresEventStreamer({ ...options, notifier });
  return {
    eventStreamer,
    recordStore: new PostgresRecordStore({ ...options, events: "table", notifier }),
    timeoutStore: new PostgresTimeoutStore(options),
    roleScheduler: new PostgresRoleScheduler({ pool: options.pool }),
    outbox: false,
    close: closeOnce(() => eventStreamer.close()),
  };
}
