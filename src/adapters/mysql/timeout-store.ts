import { systemClock, type Clock } from "../../clock.js";
import { TimeoutNotFoundError } from "../../errors.js";
import { decodeRows } from "../../readable-rows.js";
import { storedTimeout } from "../../stored-timeout.js";
import type { NewTimeout, TimeoutPage, TimeoutRecord, TimeoutStore } from "../../timeout-store.js";
import { datetimeBound, fromDatetime, toDatetime, toText } from "./columns.js";
import { select, write, type MysqlPool, type Row } from "./driver.js";
import { defaultPrefix, mysqlTables, type MysqlTables } from "./schema.js";

/** Options of {@link MysqlTimeoutStore}. */
export interface MysqlTimeoutStoreOptions {
  /** The user's mysql2 promise pool; never ended by stepwise. */
  pool: MysqlPool;
  /** Prefix of every table name, as given to `migrate`. Default `"stepwise_"`. */
  prefix?: string;
  /** Stamps `TimeoutRecord.createdAt`. Default: the system clock. */
  clock?: Clock;
}

const timeoutColumns = `CAST(id AS CHAR) AS id, workflow_name, foreign_id, run_id, status, timeout_index,
  CAST(expire_at AS CHAR) AS expire_at, CAST(created_at AS CHAR) AS created_at`;

/**
 * A {@link TimeoutStore} on MySQL or MariaDB. Only active timeouts are kept: completing or
 * cancelling one deletes its row, so the table follows the number of live timeouts.
 *
 * @example
 * ```ts
 * const timeoutStore = new MysqlTimeoutStore({ pool });
 * const wf = b.build({ recordStore, eventStreamer, roleScheduler, timeoutStore });
 * ```
 */
export class MysqlTimeoutStore implements TimeoutStore {
  private readonly pool: MysqlPool;
  private readonly tables: MysqlTables;
  private readonly clock: Clock;

  constructor(options: MysqlTimeoutStoreOptions) {
    this.pool = options.pool;
    this.tables = mysqlTables(options.prefix ?? defaultPrefix);
    this.clock = options.clock ?? systemClock;
  }

  /** Adds an active timeout with a new id (increasing decimal strings). */
  async create(timeout: NewTimeout): Promise<void> {
    await write(
      this.pool,
      `INSERT INTO \`${this.tables.timeouts}\` (workflow_name, foreign_id, run_id, status, timeout_index, expire_at, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)`,
      [
        timeout.workflowName,
        timeout.foreignId,
        timeout.runId,
        timeout.status,
        timeout.index ?? 0,
        toDatetime(timeout.expireAt, "the timeout's expireAt"),
        toDatetime(this.clock.now(), "the timeout's createdAt"),
      ],
      this.tables.timeouts,
    );
  }

  /** Marks the timeout as fired (deletes it); TimeoutNotFoundError when it is unknown or no longer active. */
  async complete(id: string): Promise<void> {
    await this.remove(id);
  }

  /** Withdraws the timeout; TimeoutNotFoundError when it is unknown or no longer active. */
  async cancel(id: string): Promise<void> {
    await this.remove(id);
  }

  /** The workflow's active timeouts, soonest expiry first (ties in creation order). */
  async list(workflowName: string): Promise<TimeoutRecord[]> {
    const rows = await select(
      this.pool,
      `SELECT ${timeoutColumns} FROM \`${this.tables.timeouts}\` t WHERE t.workflow_name = ? ORDER BY t.expire_at, t.id`,
      [workflowName],
      this.tables.timeouts,
    );
    return decodeRows(rows, toTimeout, (row) => String(row.id));
  }

  /** The workflow's active timeouts for `status` that expire at or before `now`, soonest first. */
  async listValid(workflowName: string, status: number, now: Date, page?: TimeoutPage): Promise<TimeoutRecord[]> {
    const after = page?.after;
    const rows = await select(
      this.pool,
      `SELECT ${timeoutColumns} FROM \`${this.tables.timeouts}\` t
         WHERE t.workflow_name = ? AND t.status = ? AND t.expire_at <= ?${after ? " AND (t.expire_at, t.id) > (?, CAST(? AS UNSIGNED))" : ""}
         ORDER BY t.expire_at, t.id${page ? " LIMIT ?" : ""}`,
      [workflowName, status, datetimeBound(now), ...(after ? [datetimeBound(after.expireAt), after.id] : []), ...(page ? [page.limit] : [])],
      this.tables.timeouts,
    );
    return decodeRows(rows, toTimeout, (row) => String(row.id));
  }

  private async remove(id: string): Promise<void> {
    if (!/^\d{1,20}$/.test(id)) throw new TimeoutNotFoundError(id);
    const { affectedRows } = await write(
      this.pool,
      `DELETE FROM \`${this.tables.timeouts}\` WHERE id = CAST(? AS UNSIGNED)`,
      [id],
      this.tables.timeouts,
    );
    if (affectedRows === 0) throw new TimeoutNotFoundError(id);
  }
}

/** A timeouts row as a TimeoutRecord; MalformedRecordError for one no store writes. */
function toTimeout(row: Row): TimeoutRecord {
  return storedTimeout({
    id: String(row.id),
    workflowName: toText(row.workflow_name),
    foreignId: toText(row.foreign_id),
    runId: toText(row.run_id),
    status: typeof row.status === "number" ? row.status : undefined,
    index: typeof row.timeout_index === "number" ? row.timeout_index : undefined,
    completed: false,
    expireAtMs: fromDatetime(row.expire_at)?.getTime(),
    createdAtMs: fromDatetime(row.created_at)?.getTime(),
  });
}
