import { systemClock, type Clock } from "../../clock.js";
import { TimeoutNotFoundError } from "../../errors.js";
import { decodeRows } from "../../readable-rows.js";
import { storedTimeout } from "../../stored-timeout.js";
import type { NewTimeout, TimeoutPage, TimeoutRecord, TimeoutStore } from "../../timeout-store.js";
import type { SqliteDatabase } from "./driver.js";
import { defaultPrefix, sqliteTables, type SqliteTables } from "./schema.js";
import { integer, Statements, type Row } from "./statements.js";

/** Options of {@link SqliteTimeoutStore}. */
export interface SqliteTimeoutStoreOptions {
  /** The better-sqlite3 database; never closed by the store. Run `migrate(db)` first. */
  db: SqliteDatabase;
  /** Prefix of every table name, as given to `migrate`. Default `"stepwise_"`. */
  prefix?: string;
  /** Stamps `TimeoutRecord.createdAt`. Default: the system clock. */
  clock?: Clock;
}

const columns = "id, workflow_name, foreign_id, run_id, status, timeout_index, expire_at, created_at";

/**
 * A {@link TimeoutStore} in a SQLite file. Only active timeouts are kept: completing or cancelling
 * one deletes its row, so the table follows the number of live timeouts. Ids are increasing
 * decimal strings that are never reused.
 *
 * @example
 * ```ts
 * const timeoutStore = new SqliteTimeoutStore({ db });
 * const wf = b.build({ recordStore, eventStreamer, roleScheduler, timeoutStore });
 * ```
 */
export class SqliteTimeoutStore implements TimeoutStore {
  readonly #sql: Statements;
  readonly #t: SqliteTables;
  readonly #clock: Clock;

  constructor(options: SqliteTimeoutStoreOptions) {
    this.#sql = new Statements(options.db);
    this.#t = sqliteTables(options.prefix ?? defaultPrefix);
    this.#clock = options.clock ?? systemClock;
  }

  /** Adds an active timeout. */
  async create(timeout: NewTimeout): Promise<void> {
    this.#sql.run(
      `INSERT INTO ${this.#t.timeouts} (workflow_name, foreign_id, run_id, status, timeout_index, expire_at, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)`,
      timeout.workflowName,
      timeout.foreignId,
      timeout.runId,
      timeout.status,
      timeout.index ?? 0,
      timeout.expireAt.getTime(),
      this.#clock.now().getTime(),
    );
  }

  /** Marks the timeout as fired (deletes it); TimeoutNotFoundError when it is unknown or no longer active. */
  async complete(id: string): Promise<void> {
    this.#remove(id);
  }

  /** Withdraws the timeout; TimeoutNotFoundError when it is unknown or no longer active. */
  async cancel(id: string): Promise<void> {
    this.#remove(id);
  }

  /** The workflow's active timeouts, soonest expiry first (ties in creation order). */
  async list(workflowName: string): Promise<TimeoutRecord[]> {
    const rows = this.#sql.all(`SELECT ${columns} FROM ${this.#t.timeouts} WHERE workflow_name = ? ORDER BY expire_at, id`, workflowName);
    return decodeRows(rows, toTimeout, (row) => String(row.id));
  }

  /** The workflow's active timeouts for `status` that expire at or before `now`, soonest first. */
  async listValid(workflowName: string, status: number, now: Date, page?: TimeoutPage): Promise<TimeoutRecord[]> {
    const after = page?.after;
    const rows = this.#sql.all(
      `SELECT ${columns} FROM ${this.#t.timeouts} WHERE workflow_name = ? AND status = ? AND expire_at <= ?
         AND (expire_at, id) > (?, ?) ORDER BY expire_at, id LIMIT ?`,
      workflowName,
      status,
      now.getTime(),
      after ? after.expireAt.getTime() : -Infinity,
      after ? Number(after.id) : -1,
      page ? page.limit : -1,
    );
    return decodeRows(rows, toTimeout, (row) => String(row.id));
  }

  #remove(id: string): void {
    if (!/^\d{1,15}$/.test(id)) throw new TimeoutNotFoundError(id);
    const { changes } = this.#sql.run(`DELETE FROM ${this.#t.timeouts} WHERE id = ?`, Number(id));
    if (changes === 0) throw new TimeoutNotFoundError(id);
  }
}

/** A timeouts row as a TimeoutRecord; MalformedRecordError for one no store writes. */
function toTimeout(row: Row): TimeoutRecord {
  return storedTimeout({
    id: String(row.id),
    workflowName: typeof row.workflow_name === "string" ? row.workflow_name : undefined,
    foreignId: typeof row.foreign_id === "string" ? row.foreign_id : undefined,
    runId: typeof row.run_id === "string" ? row.run_id : undefined,
    status: integer(row.status),
    index: integer(row.timeout_index),
    completed: false,
    expireAtMs: integer(row.expire_at),
    createdAtMs: integer(row.created_at),
  });
}
