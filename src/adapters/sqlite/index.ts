import { closeOnce, type Adapters } from "../../adapters.js";
import type { Clock } from "../../clock.js";
import type { Retention } from "../../retention.js";
import type { SqliteDatabase } from "./driver.js";
import { translateError } from "./errors.js";
import { SqliteEventStreamer } from "./event-streamer.js";
import { checkPrefixSpelling, checkSchemaVersion, migrate } from "./migrate.js";
import { openDatabase } from "./open.js";
import { SqliteRecordStore } from "./record-store.js";
import { SqliteRoleScheduler } from "./role-scheduler.js";
import { defaultPrefix, sqliteTables } from "./schema.js";
import { SqliteTimeoutStore } from "./timeout-store.js";

export type { SqliteDatabase, SqliteRunResult, SqliteStatement, SqliteTransaction, SqliteValue } from "./driver.js";
export { migrate, type SqliteMigrateOptions } from "./migrate.js";
export { schemaSql, schemaVersion } from "./schema.js";
export { SqliteRecordStore, defaultMaxObjectBytes, type SqliteRecordStoreOptions } from "./record-store.js";
export { SqliteTimeoutStore, type SqliteTimeoutStoreOptions } from "./timeout-store.js";
export { SqliteEventStreamer, type SqliteEventStreamerOptions } from "./event-streamer.js";
export { SqliteRoleScheduler, type SqliteRoleSchedulerOptions } from "./role-scheduler.js";

/** Options of {@link sqlite}. */
export interface SqliteOptions {
  /** Prefix of every table name; letters, digits and underscores. Default `"stepwise_"`. */
  prefix?: string;
  /** Largest encoded object the record store accepts, in bytes. Default 16 MiB. */
  maxObjectBytes?: number;
  /** Stamps event, outbox and timeout creation times. Default: the system clock. */
  clock?: Clock;
  /** How long a role lease lasts unless renewed, in ms; see {@link SqliteRoleSchedulerOptions.leaseTtl}. Default 5000. */
  leaseTtl?: number;
  /** How often a role held by another process is tried again, in ms. Default 500. */
  rolePollingFrequency?: number;
  /**
   * When `sqlite()` opens the file: how long a write waits for another process's write to finish
   * before failing with SQLITE_BUSY, in ms. Default 5000. A Database you pass keeps its own setting.
   */
  busyTimeout?: number;
  /** How the events table is trimmed; see {@link SqliteEventStreamerOptions.retention}. Default: on, 7 days. */
  retention?: Retention;
}

/**
 * What {@link sqlite} returns: every adapter `build()` needs, on one SQLite file, typed as the
 * SQLite classes; `outbox: false` for `build()`; the database; and `close()`.
 */
export interface SqliteAdapters extends Adapters {
  eventStreamer: SqliteEventStreamer;
  recordStore: SqliteRecordStore;
  timeoutStore: SqliteTimeoutStore;
  roleScheduler: SqliteRoleScheduler;
  /** The record store writes each event into the events table in the record's transaction: no outbox hop. */
  outbox: false;
  /** The database the adapters use: the one passed in, or the one `sqlite(path)` opened. */
  db: SqliteDatabase;
  /**
   * Gives up every role lease and stores every receiver's position, then closes the database if
   * `sqlite(path)` opened it (a Database you passed in is never closed). Call it after `wf.stop()`.
   * The work is done before it returns; the promise reports a failed cursor write. Idempotent.
   */
  close(): Promise<void>;
}

/**
 * Every adapter a workflow needs, durable in one SQLite file, with no server: records, events,
 * receiver positions, timeouts and role leases. Give it a path, and it opens the file with
 * better-sqlite3 (install `better-sqlite3@12`), in WAL mode with `synchronous = NORMAL` and a 5 s busy
 * timeout, and creates the tables; or give it your own better-sqlite3 Database, which it migrates
 * but otherwise leaves as configured (use WAL for several processes on one file).
 *
 * A record and its event are written in one transaction, so the workflow runs without an outbox
 * process. Receivers in this process wake at once on each write; several processes may share the
 * file, each seeing the others' events within the receivers' `pollingFrequency`, and the role
 * scheduler hands each role to one process at a time through leases that run out `leaseTtl` after
 * a process dies.
 *
 * Throws a clear error, changing nothing, for a path in a missing directory, a file that is not a
 * SQLite database, or one whose stepwise tables come from a newer version of stepwise.
 *
 * @example
 * ```ts
 * import { sqlite } from "stepwise/sqlite";
 *
 * const adapters = sqlite("orders.db");
 * const wf = b.build(adapters);
 * await wf.run();
 * // …
 * await wf.stop();
 * await adapters.close();
 * ```
 *
 * @example With your own database:
 * ```ts
 * import Database from "better-sqlite3";
 * const db = new Database("app.db");
 * db.pragma("journal_mode = WAL");
 * const wf = b.build(sqlite(db, { prefix: "wf_" }));
 * ```
 */
export function sqlite(pathOrDb: string | SqliteDatabase, options: SqliteOptions = {}): SqliteAdapters {
  const prefix = options.prefix ?? defaultPrefix;
  const tables = sqliteTables(prefix);
  const opened = typeof pathOrDb === "string";
  const db = opened ? openDatabase(pathOrDb, options.busyTimeout ?? 5_000) : pathOrDb;
  try {
    if (opened) {
      // Checked before anything is set: switching a file to WAL rewrites its header, and a file we
      // refuse must be left exactly as it was.
      checkSchemaVersion(db, tables);
      checkPrefixSpelling(db, tables);
      db.pragma("journal_mode = WAL");
      // In WAL mode a commit survives a process crash without an fsync; only a power loss may undo
      // the last commits, never corrupt the file.
      db.pragma("synchronous = NORMAL");
    }
    migrate(db, { prefix });
  } catch (err) {
    if (opened) db.close();
    throw translateError(err, db.name);
  }
  const { clock, maxObjectBytes } = options;
  const eventStreamer = new SqliteEventStreamer({ db, prefix, clock, retention: options.retention });
  const roleScheduler = new SqliteRoleScheduler({ db, prefix, leaseTtl: options.leaseTtl, pollingFrequency: options.rolePollingFrequency });
  return {
    eventStreamer,
    recordStore: new SqliteRecordStore({ db, prefix, maxObjectBytes, clock, events: "table", onEventCommitted: eventStreamer.notify }),
    timeoutStore: new SqliteTimeoutStore({ db, prefix, clock }),
    roleScheduler,
    outbox: false,
    db,
    close: closeOnce(() => {
      const done = Promise.all([roleScheduler.close(), eventStreamer.close()]);
      // Both closes do their work before they return (SQLite is synchronous), so the file can go now.
      if (opened && db.open) db.close();
      return done;
    }),
  };
}
