import { closeOnce, type Adapters } from "../../adapters.js";
import type { Clock } from "../../clock.js";
import type { Retention } from "../../retention.js";
import type { MysqlPool } from "./driver.js";
import { MysqlEventStreamer } from "./event-streamer.js";
import { MysqlRecordStore } from "./record-store.js";
import { MysqlRoleScheduler } from "./role-scheduler.js";
import { MysqlTimeoutStore } from "./timeout-store.js";

export type { MysqlPool, MysqlPoolConnection, MysqlQueryable, MysqlValue } from "./driver.js";
export { migrate, type MysqlMigrateOptions } from "./migrate.js";
export { schemaSql, schemaVersion } from "./schema.js";
export { MysqlRecordStore, defaultMaxObjectBytes, type MysqlRecordStoreOptions } from "./record-store.js";
export { MysqlTimeoutStore, type MysqlTimeoutStoreOptions } from "./timeout-store.js";
export { MysqlEventStreamer, type MysqlEventStreamerOptions } from "./event-streamer.js";
export { MysqlRoleScheduler, type MysqlRoleSchedulerOptions } from "./role-scheduler.js";

/** Options of {@link mysql}. */
export interface MysqlOptions {
  /** The user's mysql2 promise pool (`mysql2/promise`); never ended by stepwise. */
  pool: MysqlPool;
  /** Prefix of every table name, as given to `migrate`. Default `"stepwise_"`. */
  prefix?: string;
  /** Largest encoded object the record store accepts. Default 16 MiB less 64 KiB; see {@link MysqlRecordStoreOptions.maxObjectBytes}. */
  maxObjectBytes?: number;
  /** Stamps event and timeout creation times. Default: the system clock. */
  clock?: Clock;
  /** How the events table is trimmed; see {@link MysqlEventStreamerOptions.retention}. Default: on, 7 days. */
  retention?: Retention;
}

/**
 * The adapters {@link mysql} returns, typed as the MySQL classes so their extras stay in reach,
 * plus `outbox: false` for `build()` and `close()`.
 */
export interface MysqlAdapters extends Adapters {
  eventStreamer: MysqlEventStreamer;
  recordStore: MysqlRecordStore;
  timeoutStore: MysqlTimeoutStore;
  roleScheduler: MysqlRoleScheduler;
  /** The record store writes each event into the events table in the record's transaction: no outbox hop. */
  outbox: false;
  /**
   * Ends every role lease and gives the role scheduler's connection back to the pool, and closes
   * every receiver still open, storing its position. The pool is never ended. Idempotent.
   */
  close(): Promise<void>;
}

/**
 * Every adapter a workflow needs, on one MySQL or MariaDB database through the user's mysql2
 * promise pool. The record store writes each run's event straight into the events table the
 * streamer reads, in the same transaction as the record, so the workflow runs without an outbox
 * process (`outbox: false` is part of the result); receivers in this process are woken by those
 * commits, and poll for the others.
 *
 * Run `migrate(pool)` once first (or apply `sql/mysql.sql`). The role scheduler keeps one pool
 * connection for its locks: after `wf.stop()`, call `close()`, which gives it back. The pool
 * itself is yours to end.
 *
 * @example
 * ```ts
 * import { createPool } from "mysql2/promise";
 * import { migrate, mysql } from "stepwise/mysql";
 *
 * const pool = createPool({ host: "127.0.0.1", user: "app", password: "…", database: "app" });
 * await migrate(pool);
 * const adapters = mysql({ pool });
 * const wf = b.build(adapters);
 * await wf.run();
 * // …
 * await wf.stop();
 * await adapters.close();
 * await pool.end();
 * ```
 */
export function mysql(options: MysqlOptions): MysqlAdapters {
  const { pool, prefix, maxObjectBytes, clock } = options;
  const eventStreamer = new MysqlEventStreamer({ pool, prefix, clock, retention: options.retention });
  const roleScheduler = new MysqlRoleScheduler({ pool, prefix });
  return {
    eventStreamer,
    recordStore: new MysqlRecordStore({ pool, prefix, maxObjectBytes, clock, events: "table", onEventCommitted: eventStreamer.notify }),
    timeoutStore: new MysqlTimeoutStore({ pool, prefix, clock }),
    roleScheduler,
    outbox: false,
    close: closeOnce(() => Promise.all([roleScheduler.close(), eventStreamer.close()])),
  };
}
