import { TimeoutNotFoundError } from "../../errors.js";
import { decodeRows } from "../../readable-rows.js";
import { storedTimeout } from "../../stored-timeout.js";
import type { NewTimeout, TimeoutPage, TimeoutRecord, TimeoutStore } from "../../timeout-store.js";
import type { PgPool, PostgresOptions } from "./driver.js";
import { translateError } from "./errors.js";
import { timeMs } from "./record-row.js";
import { tables, type Tables } from "./tables.js";

interface TimeoutRow {
  id: string;
  workflow_name: string;
  foreign_id: string;
  run_id: string;
  status: number;
  timeout_index: number;
  completed: boolean;
  expire_at: Date | number;
  created_at: Date | number;
}

// Qualified: an ORDER BY on "id" would otherwise sort by the text alias, putting 10 before 9.
const columns = "t.id::text AS id, t.workflow_name, t.foreign_id, t.run_id, t.status, t.timeout_index, t.completed, t.expire_at, t.created_at";

/** A {@link TimeoutStore} on PostgreSQL. Completed and cancelled timeouts are kept, marked, for inspection. */
export class PostgresTimeoutStore implements TimeoutStore {
  readonly #pool: PgPool;
  readonly #t: Tables;

  constructor(options: PostgresOptions) {
    this.#pool = options.pool;
    this.#t = tables(options);
  }

  async create(timeout: NewTimeout): Promise<void> {
    await this.#query(
      `INSERT INTO ${this.#t.timeouts} (workflow_name, foreign_id, run_id, status, timeout_index, expire_at) VALUES ($1, $2, $3, $4, $5, $6)`,
      [timeout.workflowName, timeout.foreignId, timeout.runId, timeout.status, timeout.index ?? 0, timeout.expireAt],
    );
  }

  complete(id: string): Promise<void> {
    return this.#finish(id, "completed");
  }

  cancel(id: string): Promise<void> {
    return this.#finish(id, "cancelled");
  }

  async list(workflowName: string): Promise<TimeoutRecord[]> {
    const rows = await this.#query<TimeoutRow>(
      `SELECT ${columns} FROM ${this.#t.timeouts} t WHERE t.workflow_name = $1 AND NOT t.completed AND NOT t.cancelled ORDER BY t.expire_at, t.id`,
      [workflowName],
    );
    return decodeRows(rows, toTimeout, (row) => row.id);
  }

  async listValid(workflowName: string, status: number, now: Date, page?: TimeoutPage): Promise<TimeoutRecord[]> {
    const after = page?.after;
    const rows = await this.#query<TimeoutRow>(
      `SELECT ${columns} FROM ${this.#t.timeouts} t
       WHERE t.workflow_name = $1 AND t.status = $2 AND t.expire_at <= $3 AND NOT t.completed AND NOT t.cancelled
         AND ($4::timestamptz IS NULL OR (t.expire_at, t.id) > ($4::timestamptz, $5::bigint))
       ORDER BY t.expire_at, t.id LIMIT $6`,
      [workflowName, status, now, after?.expireAt ?? null, after?.id ?? null, page?.limit ?? null],
    );
    return decodeRows(rows, toTimeout, (row) => row.id);
  }

  async #finish(id: string, column: "completed" | "cancelled"): Promise<void> {
    if (!/^\d{1,18}$/.test(id)) throw new TimeoutNotFoundError(id);
    const rows = await this.#query(
      `UPDATE ${this.#t.timeouts} SET ${column} = true WHERE id = $1 AND NOT completed AND NOT cancelled RETURNING id`,
      [id],
    );
    if (rows.length === 0) throw new TimeoutNotFoundError(id);
  }

  async #query<R>(sql: string, values: unknown[]): Promise<R[]> {
    try {
      return (await this.#pool.query<R>(sql, values)).rows;
    } catch (err) {
      throw translateError(err, this.#t, "timeouts");
    }
  }
}

/** A timeouts row as a TimeoutRecord; MalformedRecordError for one no store writes. */
function toTimeout(row: TimeoutRow): TimeoutRecord {
  return storedTimeout({
    id: row.id,
    workflowName: row.workflow_name,
    foreignId: row.foreign_id,
    runId: row.run_id,
    status: row.status,
    index: row.timeout_index,
    completed: row.completed,
    expireAtMs: timeMs(row.expire_at),
    createdAtMs: timeMs(row.created_at),
  });
}
