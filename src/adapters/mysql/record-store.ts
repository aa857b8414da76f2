import { checkTextBytes } from "../../storable-text.js";
import { systemClock, type Clock } from "../../clock.js";
import { InvalidOptionError, ObjectTooLargeError, OutboxRecordNotFoundError, RecordNotFoundError, VersionConflictError, WorkflowInProgressError } from "../../errors.js";
import { HeaderKey } from "../../event.js";
import { decodeRows } from "../../readable-rows.js";
import { storedOutboxEvent } from "../../stored-outbox-event.js";
import { storedRecord } from "../../stored-record.js";
import { headersFromJson } from "../../stored-headers.js";
import { outboxEventData } from "../../outbox-event.js";
import type { ListQuery, OutboxEvent, Record, RecordStore } from "../../record.js";
import { datetimeBound, fromDatetime, toBuffer, toDatetime, toText } from "./columns.js";
import { duplicateKeyName, inTransaction, select, write, type MysqlPool, type MysqlQueryable, type MysqlValue, type Row } from "./driver.js";
import { appendEvents, type NewEvent } from "./event-log.js";
import { defaultPrefix, mysqlTables, type MysqlTables } from "./schema.js";

/**
 * The default {@link MysqlRecordStoreOptions.maxObjectBytes}: 16 MiB less 64 KiB. A record is
 * written in one packet, and 16 MiB is MariaDB's default `max_allowed_packet`; the 64 KiB leave
 * room for the statement and the record's other columns.
 */
export const defaultMaxObjectBytes = 16 * 1024 * 1024 - 64 * 1024;

/** Options of {@link MysqlRecordStore}. */
export interface MysqlRecordStoreOptions {
  /** The user's mysql2 promise pool; never ended by stepwise. */
  pool: MysqlPool;
  /** Prefix of every table name, as given to `migrate`. Default `"stepwise_"`. */
  prefix?: string;
  /**
   * Where the event of each store goes, in the record's own transaction:
   * - `"outbox"` (default): a row in the outbox table, which the workflow's outbox process moves
   *   to whatever EventStreamer it uses and then deletes;
   * - `"table"`: straight into the events table that {@link MysqlEventStreamer} reads, with no
   *   outbox row. Build the workflow with `outbox: false` then (the `mysql()` bundle does both).
   */
  events?: "outbox" | "table";
  /**
   * Largest encoded object `store` accepts, in bytes; a larger one is refused with
   * ObjectTooLargeError before anything is written. Default {@link defaultMaxObjectBytes}
   * (16 MiB less 64 KiB). Raise it together with the server's `max_allowed_packet`.
   */
  maxObjectBytes?: number;
  /** Stamps the creation time of outbox rows and events. Default: the system clock. */
  clock?: Clock;
  /**
   * Called with the event's topic after a store committed an event to the events table
   * (`events: "table"`), so receivers in this process can read it at once instead of at their
   * next poll. The `mysql()` bundle passes `MysqlEventStreamer.notify`.
   */
  onEventCommitted?: (topic: string) => void;
}

/** The event a record write leaves for the end of its transaction, with the workflow an outbox row names. */
interface RecordEvent extends NewEvent {
  workflowName: string;
}

// Aliases that shadow a column (created_at, id) are only ever selected: ORDER BY and WHERE name
// columns through the table's alias (r.created_at), since MySQL resolves a bare ORDER BY name to
// the select alias, which would sort the text instead of using the index.
const recordColumns = `run_id, workflow_name, foreign_id, run_state, status, object,
  CAST(created_at AS CHAR) AS created_at, CAST(updated_at AS CHAR) AS updated_at,
  version, run_state_reason, status_description, trace_origin, trace_parent, trace_state, workflow_version`;

/**
 * A {@link RecordStore} on MySQL or MariaDB through a mysql2 promise pool. Run `migrate(pool)`
 * first; a missing table is reported as SchemaMissingError.
 *
 * `store` is one transaction: a compare-and-set on `meta.version` (an INSERT for version 1, an
 * UPDATE of version n-1 otherwise) plus the record's event, either an outbox row or, with
 * `events: "table"`, a row of the events table {@link MysqlEventStreamer} reads. A unique index
 * over the unfinished runs' foreign ids refuses a second unfinished run of a foreign id within
 * that same INSERT, so concurrent triggers yield exactly one run. Times are stored in UTC with
 * millisecond precision.
 *
 * @example
 * ```ts
 * import { createPool } from "mysql2/promise";
 * import { migrate, MysqlRecordStore } from "stepwise/mysql";
 * const pool = createPool({ host: "127.0.0.1", user: "app", database: "app" });
 * await migrate(pool);
 * const recordStore = new MysqlRecordStore({ pool }); // events go to the outbox table
 * const wf = b.build({ recordStore, eventStreamer, roleScheduler });
 * ```
 */
export class MysqlRecordStore implements RecordStore {
  private readonly pool: MysqlPool;
  private readonly tables: MysqlTables;
  private readonly events: "outbox" | "table";
  private readonly maxObjectBytes: number;
  private readonly clock: Clock;
  private readonly onEventCommitted: ((topic: string) => void) | undefined;

  constructor(options: MysqlRecordStoreOptions) {
    this.pool = options.pool;
    this.tables = mysqlTables(options.prefix ?? defaultPrefix);
    this.events = options.events ?? "outbox";
    this.maxObjectBytes = options.maxObjectBytes ?? defaultMaxObjectBytes;
    if (!Number.isSafeInteger(this.maxObjectBytes) || this.maxObjectBytes < 0) {
      throw new InvalidOptionError("maxObjectBytes", `MysqlRecordStore: maxObjectBytes must be a whole number of bytes, got ${String(options.maxObjectBytes)}`);
    }
    this.clock = options.clock ?? systemClock;
    this.onEventCommitted = options.onEventCommitted;
  }

  /**
   * Writes the record and its event in one transaction, if `record.meta.version` is one more than
   * the stored version (or 1 for a new run); otherwise VersionConflictError, and nothing is
   * written. A new run is refused with WorkflowInProgressError while another run of its workflow
   * and foreign id is unfinished; an object over `maxObjectBytes` with ObjectTooLargeError.
   */
  async store(record: Record): Promise<void> {
    this.checkStorable(record);
    const event = await inTransaction(this.pool, async (connection) => {
      const written = await this.writeRecord(connection, record);
      await this.writeEvents(connection, [written]);
      return written;
    });
    if (this.events === "table") this.onEventCommitted?.(event.topic);
  }

  /**
   * Writes the records and their events in one transaction, each with the version check of
   * `store`, all of them or none: the first refused record's error is thrown and the transaction
   * rolled back.
   */
  async storeMany(records: readonly Record[]): Promise<void> {
    for (const record of records) this.checkStorable(record);
    const events = await inTransaction(this.pool, async (connection) => {
      const written: RecordEvent[] = [];
      for (const record of records) written.push(await this.writeRecord(connection, record));
      // After every record: the events lock is held from here to the commit.
      await this.writeEvents(connection, written);
      return written;
    });
    if (this.events === "table") for (const topic of new Set(events.map((event) => event.topic))) this.onEventCommitted?.(topic);
  }

  /** The latest version of each run found, in one read. */
  async lookupMany(runIds: readonly string[]): Promise<Record[]> {
    if (runIds.length === 0) return [];
    const rows = await select(
      this.pool,
      `SELECT ${recordColumns} FROM \`${this.tables.records}\` WHERE run_id IN (${runIds.map(() => "?").join(", ")})`,
      [...runIds],
      this.tables.records,
    );
    return rows.map((row) => this.toRecord(row));
  }

  /** Refuses what no write can take, before anything is written. */
  private checkStorable(record: Record): void {
    const { runId } = record;
    const version = record.meta.version;
    const bytes = record.object.byteLength;
    if (bytes > this.maxObjectBytes) throw new ObjectTooLargeError(runId, bytes, this.maxObjectBytes);
    // The columns' sizes (sql/mysql.sql), checked here rather than met as ER_DATA_TOO_LONG.
    checkTextBytes("the workflow name", record.workflowName, 255);
    checkTextBytes("the foreign id", record.foreignId, 512);
    if (!Number.isSafeInteger(version) || version < 1) throw new VersionConflictError(runId, version);
  }

  /** Writes the record inside the caller's transaction; returns its event, for {@link writeEvents}. */
  private async writeRecord(connection: MysqlQueryable, record: Record): Promise<RecordEvent> {
    const { runId } = record;
    const version = record.meta.version;
    const t = this.tables;
    const event = outboxEventData(record);
    const topic = event.headers[HeaderKey.topic] ?? "";
    const fields: MysqlValue[] = [
      record.workflowName,
      record.foreignId,
      record.runState,
      record.status,
      toBuffer(record.object),
      toDatetime(record.createdAt, "the record's createdAt"),
      toDatetime(record.updatedAt, "the record's updatedAt"),
      version,
      record.meta.runStateReason,
      record.meta.statusDescription,
      record.meta.traceOrigin,
      record.meta.traceParent ?? "",
      record.meta.traceState ?? "",
      record.meta.workflowVersion,
    ];
    if (version === 1) {
      await this.insertRecord(connection, record, fields);
    } else {
      // Prepared, so the object travels as binary rather than as twice as many hex digits.
      const { affectedRows } = await write(
        connection,
        `UPDATE \`${t.records}\` SET workflow_name = ?, foreign_id = ?, run_state = ?, status = ?, object = ?,
           created_at = ?, updated_at = ?, version = ?, run_state_reason = ?, status_description = ?, trace_origin = ?,
           trace_parent = ?, trace_state = ?, workflow_version = ?
         WHERE run_id = ? AND version = ?`,
        [...fields, runId, version - 1],
        t.records,
        true,
      ).catch((err: unknown) => {
        throw this.duplicateError(err, record);
      });
      if (affectedRows !== 1) throw new VersionConflictError(runId, version);
    }
    return { workflowName: record.workflowName, topic, foreignId: event.foreignId, type: event.type, headers: event.headers, createdAt: this.clock.now() };
  }

  /** Writes the events of the records written, in their order, inside the caller's transaction, as its last statements. */
  private async writeEvents(connection: MysqlQueryable, events: readonly RecordEvent[]): Promise<void> {
    if (events.length === 0) return;
    if (this.events === "table") {
      await appendEvents(connection, this.tables, events);
      return;
    }
    await write(
      connection,
      `INSERT INTO \`${this.tables.outbox}\` (workflow_name, foreign_id, type, headers, created_at) VALUES ${events.map(() => "(?, ?, ?, ?, ?)").join(", ")}`,
      events.flatMap((event) => [event.workflowName, event.foreignId, event.type, JSON.stringify(event.headers), toDatetime(event.createdAt, "the outbox event's createdAt")]),
      this.tables.outbox,
    );
  }

  /** The latest version of the run; RecordNotFoundError when there is none. */
  async lookup(runId: string): Promise<Record> {
    const [row] = await select(this.pool, `SELECT ${recordColumns} FROM \`${this.tables.records}\` WHERE run_id = ?`, [runId], this.tables.records);
    if (row === undefined) throw new RecordNotFoundError(runId);
    return this.toRecord(row);
  }

  /**
   * The newest run (the last created) of the workflow for `foreignId`; RecordNotFoundError
   * (carrying the foreign id in place of a run id) when there is none.
   */
  async latest(workflowName: string, foreignId: string): Promise<Record> {
    const [row] = await select(
      this.pool,
      `SELECT ${recordColumns} FROM \`${this.tables.records}\` r WHERE r.workflow_name = ? AND r.foreign_id = ? ORDER BY r.seq DESC LIMIT 1`,
      [workflowName, foreignId],
      this.tables.records,
    );
    if (row === undefined) throw new RecordNotFoundError(foreignId);
    return this.toRecord(row);
  }

  /**
   * A page of runs ordered by `createdAt` (ties in insertion order), ascending unless
   * `order: "desc"`. Each filter given narrows the result; an empty array filters nothing.
   * `createdAfter` and `createdBefore` are exclusive.
   */
  async list(query: ListQuery): Promise<Record[]> {
    const limit = wholeNumber(query.limit, "list: limit");
    const offset = wholeNumber(query.offset ?? 0, "list: offset");
    const { workflowName, filter = {} } = query;
    const where: string[] = [];
    const values: MysqlValue[] = [];
    const add = (condition: string, value: MysqlValue) => {
      where.push(condition);
      values.push(value);
    };
    if (workflowName !== undefined) add("r.workflow_name = ?", workflowName);
    if (filter.foreignId?.length) add("r.foreign_id IN (?)", [...filter.foreignId]);
    if (filter.status?.length) add("r.status IN (?)", [...filter.status]);
    if (filter.runState?.length) add("r.run_state IN (?)", [...filter.runState]);
    if (filter.createdAfter !== undefined) add("r.created_at > ?", datetimeBound(filter.createdAfter));
    if (filter.createdBefore !== undefined) add("r.created_at < ?", datetimeBound(filter.createdBefore));
    const direction = query.order === "desc" ? "DESC" : "ASC";
    const rows = await select(
      this.pool,
      `SELECT ${recordColumns} FROM \`${this.tables.records}\` r
         ${where.length > 0 ? `WHERE ${where.join(" AND ")}` : ""}
         ORDER BY r.created_at ${direction}, r.seq ${direction} LIMIT ${limit} OFFSET ${offset}`,
      values,
      this.tables.records,
    );
    return decodeRows(rows, (row) => this.toRecord(row), (row) => toText(row.run_id) ?? "");
  }

  /** Up to `limit` outbox events of the workflow, oldest first; none in `events: "table"` mode. Unreadable rows: MalformedRowsError. */
  async listOutboxEvents(workflowName: string, limit: number): Promise<OutboxEvent[]> {
    const t = this.tables;
    const rows = await select(
      this.pool,
      `SELECT CAST(id AS CHAR) AS id, workflow_name, foreign_id, type, headers, CAST(created_at AS CHAR) AS created_at
         FROM \`${t.outbox}\` o WHERE o.workflow_name = ? ORDER BY o.id LIMIT ${wholeNumber(limit, "listOutboxEvents: limit")}`,
      [workflowName],
      t.outbox,
    );
    return decodeRows(
      rows,
      (row) =>
        storedOutboxEvent({
          id: String(row.id),
          workflowName: toText(row.workflow_name),
          foreignId: toText(row.foreign_id),
          type: typeof row.type === "number" ? row.type : undefined,
          headers: headersFromJson(toText(row.headers)),
          createdAtMs: fromDatetime(row.created_at)?.getTime(),
        }),
      (row) => String(row.id),
    );
  }

  /** Deletes a sent outbox event; OutboxRecordNotFoundError when there is none with that id. */
  async deleteOutboxEvent(id: string): Promise<void> {
    if (!/^\d{1,20}$/.test(id)) throw new OutboxRecordNotFoundError(id);
    const { affectedRows } = await write(
      this.pool,
      `DELETE FROM \`${this.tables.outbox}\` WHERE id = CAST(? AS UNSIGNED)`,
      [id],
      this.tables.outbox,
    );
    if (affectedRows === 0) throw new OutboxRecordNotFoundError(id);
  }
  /** How many runs of the workflow each status holds, in one query over the indexes that start with the workflow name. */
  async countByStatus(workflowName: string): Promise<Map<number, number>> {
    const rows = await select(
      this.pool,
      `SELECT status, COUNT(*) AS runs FROM \`${this.tables.records}\` WHERE workflow_name = ? GROUP BY status`,
      [workflowName],
      this.tables.records,
    );
    return new Map(rows.map((row) => [Number(row.status), Number(row.runs)]));
  }

  /** The names of the workflows with runs in the store, sorted; the server hops from name to name along an index that starts with it. */
  async workflowNames(): Promise<string[]> {
    const rows = await select(this.pool, `SELECT DISTINCT workflow_name FROM \`${this.tables.records}\``, [], this.tables.records);
    // Sorted here, as every store sorts them, rather than in the column's byte order.
    return rows.map((row) => toText(row.workflow_name) ?? "").sort();
  }

  async deleteOutboxEvents(ids: readonly string[]): Promise<void> {
    const valid = ids.filter((id) => /^\d{1,20}$/.test(id));
    if (valid.length === 0) return;
    await write(
      this.pool,
      `DELETE FROM \`${this.tables.outbox}\` WHERE id IN (${valid.map(() => "CAST(? AS UNSIGNED)").join(", ")})`,
      valid,
      this.tables.outbox,
    );
  }


  private async insertRecord(connection: MysqlQueryable, record: Record, fields: MysqlValue[]): Promise<void> {
    try {
      await write(
        connection,
        `INSERT INTO \`${this.tables.records}\` (workflow_name, foreign_id, run_state, status, object, created_at, updated_at,
           version, run_state_reason, status_description, trace_origin, trace_parent, trace_state, workflow_version, run_id)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
        [...fields, record.runId],
        this.tables.records,
        true,
      );
    } catch (err) {
      throw this.duplicateError(err, record);
    }
  }

  /** A duplicate-entry error as the stepwise error it means; any other error unchanged. */
  private duplicateError(err: unknown, record: Record): unknown {
    const key = duplicateKeyName(err);
    // The run id exists already: version 1 of it was written before.
    if (key === "PRIMARY") return new VersionConflictError(record.runId, record.meta.version, { cause: err });
    if (key === "unfinished_foreign_id") return new WorkflowInProgressError(record.workflowName, record.foreignId, { cause: err });
    return err;
  }

  /** A row as a Record, refusing one that no store could have written (see {@link storedRecord}). */
  private toRecord(row: Row): Record {
    const numberOf = (value: unknown) => (typeof value === "number" ? value : undefined);
    return storedRecord({
      runId: toText(row.run_id) ?? "",
      workflowName: toText(row.workflow_name),
      foreignId: toText(row.foreign_id),
      runState: numberOf(row.run_state),
      status: numberOf(row.status),
      object: Buffer.isBuffer(row.object) ? row.object : undefined,
      createdAtMs: fromDatetime(row.created_at)?.getTime(),
      updatedAtMs: fromDatetime(row.updated_at)?.getTime(),
      version: numberOf(row.version),
      workflowVersion: numberOf(row.workflow_version),
      runStateReason: toText(row.run_state_reason),
      statusDescription: toText(row.status_description),
      traceOrigin: toText(row.trace_origin),
      traceParent: toText(row.trace_parent),
      traceState: toText(row.trace_state),
      read: { runState: row.run_state, status: row.status, version: row.version, workflowVersion: row.workflow_version },
      where: `table ${this.tables.records}`,
    });
  }
}

/** Checks a page size or offset before it is written into SQL. */
function wholeNumber(value: number, what: string): number {
  if (!Number.isSafeInteger(value) || value < 0) throw new InvalidOptionError(what, `MysqlRecordStore.${what} must be a whole number of at least 0, got ${String(value)}`);
  return value;
}
