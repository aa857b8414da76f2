import { systemClock, type Clock } from "../../clock.js";
import { InvalidOptionError, ObjectTooLargeError, OutboxRecordNotFoundError, RecordNotFoundError, VersionConflictError, WorkflowInProgressError } from "../../errors.js";
import { outboxEventData, outboxTopic } from "../../outbox-event.js";
import { copyRecord, type ListQuery, type OutboxEvent, type Record, type RecordStore } from "../../record.js";
import type { SqliteDatabase, SqliteTransaction, SqliteValue } from "./driver.js";
import { isUniqueViolation } from "./errors.js";
import { appendEvent } from "./event-log.js";
import { defaultPrefix, sqliteTables, type SqliteTables } from "./schema.js";
import { integer, Statements, type Row } from "./statements.js";
import { decodeRows } from "../../readable-rows.js";
import { storedOutboxEvent } from "../../stored-outbox-event.js";
import { storedRecord } from "../../stored-record.js";
import { headersFromJson } from "../../stored-headers.js";

/** The default {@link SqliteRecordStoreOptions.maxObjectBytes}: 16 MiB. */
export const defaultMaxObjectBytes = 16 * 1024 * 1024;

/** Options of {@link SqliteRecordStore}. */
export interface SqliteRecordStoreOptions {
  /** The better-sqlite3 database; never closed by the store. Run `migrate(db)` first. */
  db: SqliteDatabase;
  /** Prefix of every table name, as given to `migrate`. Default `"stepwise_"`. */
  prefix?: string;
  /**
   * Where the event of each store goes, in the record's own transaction:
   * - `"outbox"` (default): a row in the outbox table, which the workflow's outbox process moves
   *   to whatever EventStreamer it uses and then deletes;
   * - `"table"`: straight into the events table that {@link SqliteEventStreamer} reads, with no
   *   outbox row. Build the workflow with `outbox: false` then (the `sqlite()` bundle does both).
   */
  events?: "outbox" | "table";
  /** Largest encoded object `store` accepts, in bytes; a larger one is refused with ObjectTooLargeError. Default 16 MiB. */
  maxObjectBytes?: number;
  /** Stamps the creation time of outbox rows and events. Default: the system clock. */
  clock?: Clock;
  /**
   * Called with the topic after a store committed an event to the events table (`events: "table"`),
   * so receivers in this process read it at once. Pass {@link SqliteEventStreamer.notify}; the
   * `sqlite()` bundle does.
   */
  onEventCommitted?: (topic: string) => void;
}

const recordColumns =
  "run_id, workflow_name, foreign_id, run_state, status, object, created_at, updated_at, version, run_state_reason, status_description, trace_origin, trace_parent, trace_state, workflow_version";

/**
 * A {@link RecordStore} in a SQLite file, through better-sqlite3. Run `migrate(db)` first (or use
 * `sqlite(pathOrDb)`); a missing table is reported as SchemaMissingError.
 *
 * `store` is one BEGIN IMMEDIATE transaction: a compare-and-set on `meta.version` (an INSERT for
 * version 1, an UPDATE of version n-1 otherwise) plus the record's event, either an outbox row or,
 * with `events: "table"`, a row of the events table {@link SqliteEventStreamer} reads. A partial
 * unique index over the unfinished runs refuses a second unfinished run of a foreign id within that
 * INSERT.
 *
 * Stores made in the same turn of the event loop (by several steps, shards or triggers at once) are
 * committed in one transaction, up to 500 at a time. A store the version check or a unique index
 * refuses writes nothing and fails alone; each promise resolves once the shared commit is done. Commits,
 * not statements, are what cost in SQLite, so this multiplies throughput under load and adds no
 * more than one event-loop turn of latency. better-sqlite3 is synchronous: every call is one short
 * statement or transaction, and the methods still return promises, as the interface asks.
 *
 * @example
 * ```ts
 * import Database from "better-sqlite3";
 * import { migrate, SqliteRecordStore } from "stepwise/sqlite";
 * const db = new Database("app.db");
 * migrate(db);
 * const recordStore = new SqliteRecordStore({ db }); // events go to the outbox table
 * const wf = b.build({ recordStore, eventStreamer, roleScheduler });
 * ```
 */
export class SqliteRecordStore implements RecordStore {
  readonly #sql: Statements;
  readonly #t: SqliteTables;
  readonly #events: "outbox" | "table";
  readonly #maxObjectBytes: number;
  readonly #clock: Clock;
  readonly #onEventCommitted: ((topic: string) => void) | undefined;
  /** Writes records and their events in one transaction; returns what refused each (undefined: written). */
  readonly #writeBatch: SqliteTransaction<[PendingWrite[]], (Error | undefined)[]>;
  /** Writes records and their events in one transaction, all or none. */
  readonly #writeAll: SqliteTransaction<[{ record: Record; topic: string }[]], void>;
  /** Stores waiting for the next commit. */
  #pending: PendingWrite[] = [];
  readonly #insertSql: string;
  readonly #updateSql: string;

  constructor(options: SqliteRecordStoreOptions) {
    this.#sql = new Statements(options.db);
    this.#t = sqliteTables(options.prefix ?? defaultPrefix);
    this.#events = options.events ?? "outbox";
    this.#maxObjectBytes = options.maxObjectBytes ?? defaultMaxObjectBytes;
    if (!Number.isSafeInteger(this.#maxObjectBytes) || this.#maxObjectBytes < 0) {
      throw new InvalidOptionError("maxObjectBytes", `SqliteRecordStore: maxObjectBytes must be a whole number of bytes, got ${String(options.maxObjectBytes)}`);
    }
    this.#clock = options.clock ?? systemClock;
    this.#onEventCommitted = options.onEventCommitted;
    const t = this.#t;
    this.#insertSql = `INSERT INTO ${t.records} (${recordColumns}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`;
    // created_at and the ids never change, and leaving them out of SET spares their indexes.
    this.#updateSql = `UPDATE ${t.records} SET run_state = ?, status = ?, object = ?, updated_at = ?, version = ?,
        run_state_reason = ?, status_description = ?, trace_origin = ?, trace_parent = ?, trace_state = ?, workflow_version = ?
      WHERE run_id = ? AND version = ? AND workflow_name = ? AND foreign_id = ?`;
    this.#writeBatch = options.db.transaction((batch: PendingWrite[]) => batch.map((write) => this.#writeRecord(write.record, write.topic)));
    this.#writeAll = options.db.transaction((writes: { record: Record; topic: string }[]) => {
      for (const write of writes) {
        const refused = this.#writeRecord(write.record, write.topic);
        // Thrown, so the transaction rolls back the records written before it.
        if (refused) throw refused;
      }
    });
  }

  /**
   * Writes the record and its event in one transaction, if `record.meta.version` is one more than
   * the stored version (or 1 for a new run); otherwise VersionConflictError, and nothing is
   * written. A new run is refused with WorkflowInProgressError while another run of its workflow
   * and foreign id is unfinished; an object over `maxObjectBytes` with ObjectTooLargeError.
   *
   * Stores made in the same turn of the event loop are committed together (see the class notes);
   * each resolves once its commit is done.
   */
  store(record: Record): Promise<void> {
    try {
      checkStorable(record, this.#maxObjectBytes);
    } catch (err) {
      return Promise.reject(err);
    }
    const topic = outboxTopic(record);
    return new Promise<void>((resolve, reject) => {
      // A copy: the caller may change its record before the write runs.
      this.#pending.push({ record: copyRecord(record), topic, resolve, reject });
      if (this.#pending.length === 1) setImmediate(this.#commitPending);
    });
  }

  /**
   * Writes the records and their events in one transaction, each with the version check of
   * `store`, all of them or none: the first refused record's error is thrown and nothing is written.
   */
  async storeMany(records: readonly Record[]): Promise<void> {
    for (const record of records) checkStorable(record, this.#maxObjectBytes);
    const writes = records.map((record) => ({ record: copyRecord(record), topic: outboxTopic(record) }));
    this.#writeAll.immediate(writes);
    if (this.#events === "table" && this.#onEventCommitted) for (const topic of new Set(writes.map((w) => w.topic))) this.#onEventCommitted(topic);
  }

  /** The latest version of each run found, in one read. */
  async lookupMany(runIds: readonly string[]): Promise<Record[]> {
    const rows = this.#sql.all(`SELECT ${recordColumns} FROM ${this.#t.records} WHERE run_id IN (SELECT value FROM json_each(?))`, JSON.stringify(runIds));
    return rows.map(toRecord);
  }

  /** The latest version of the run; RecordNotFoundError when there is none. */
  async lookup(runId: string): Promise<Record> {
    const row = this.#sql.get(`SELECT ${recordColumns} FROM ${this.#t.records} WHERE run_id = ?`, runId);
    if (row === undefined) throw new RecordNotFoundError(runId);
    return toRecord(row);
  }

  /**
   * The newest run (the last created) of the workflow for `foreignId`; RecordNotFoundError
   * (carrying the foreign id in place of a run id) when there is none.
   */
  async latest(workflowName: string, foreignId: string): Promise<Record> {
    const row = this.#sql.get(
      `SELECT ${recordColumns} FROM ${this.#t.records} WHERE workflow_name = ? AND foreign_id = ? ORDER BY created_at DESC, seq DESC LIMIT 1`,
      workflowName,
      foreignId,
    );
    if (row === undefined) throw new RecordNotFoundError(foreignId);
    return toRecord(row);
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
    const values: SqliteValue[] = [];
    const add = (column: string, operator: string, value: SqliteValue) => {
      where.push(`${column} ${operator} ?`);
      values.push(value);
    };
    const anyOf = (column: string, list: readonly SqliteValue[]) => {
      where.push(`${column} IN (${list.map(() => "?").join(", ")})`);
      values.push(...list);
    };
    if (workflowName !== undefined) add("workflow_name", "=", workflowName);
    if (filter.foreignId?.length) anyOf("foreign_id", filter.foreignId);
    if (filter.status?.length) anyOf("status", filter.status);
    if (filter.runState?.length) anyOf("run_state", filter.runState);
    if (filter.createdAfter !== undefined) add("created_at", ">", filter.createdAfter.getTime());
    if (filter.createdBefore !== undefined) add("created_at", "<", filter.createdBefore.getTime());
    const direction = query.order === "desc" ? "DESC" : "ASC";
    const rows = this.#sql.all(
      `SELECT ${recordColumns} FROM ${this.#t.records} ${where.length > 0 ? `WHERE ${where.join(" AND ")}` : ""}
       ORDER BY created_at ${direction}, seq ${direction} LIMIT ? OFFSET ?`,
      ...values,
      limit,
      offset,
    );
    return decodeRows(rows, toRecord, (row) => String(row.run_id));
  }

  /** Up to `limit` outbox events of the workflow, oldest first; none in `events: "table"` mode. Unreadable rows: MalformedRowsError. */
  async listOutboxEvents(workflowName: string, limit: number): Promise<OutboxEvent[]> {
    const rows = this.#sql.all(
      `SELECT id, workflow_name, foreign_id, type, headers, created_at FROM ${this.#t.outbox} WHERE workflow_name = ? ORDER BY id LIMIT ?`,
      workflowName,
      wholeNumber(limit, "listOutboxEvents: limit"),
    );
    return decodeRows(
      rows,
      (row) =>
        storedOutboxEvent({
          id: String(row.id),
          workflowName: typeof row.workflow_name === "string" ? row.workflow_name : undefined,
          foreignId: typeof row.foreign_id === "string" ? row.foreign_id : undefined,
          type: integer(row.type),
          headers: headersFromJson(row.headers),
          createdAtMs: integer(row.created_at),
        }),
      (row) => String(row.id),
    );
  }

  /** Deletes a sent outbox event; OutboxRecordNotFoundError when there is none with that id. */
  async deleteOutboxEvent(id: string): Promise<void> {
    if (!/^\d{1,15}$/.test(id)) throw new OutboxRecordNotFoundError(id);
    const { changes } = this.#sql.run(`DELETE FROM ${this.#t.outbox} WHERE id = ?`, Number(id));
    if (changes === 0) throw new OutboxRecordNotFoundError(id);
  }

  /** How many runs of the workflow each status holds, in one read of the workflow's index. */
  async countByStatus(workflowName: string): Promise<Map<number, number>> {
    const rows = this.#sql.all(`SELECT status, COUNT(*) AS runs FROM ${this.#t.records} WHERE workflow_name = ? GROUP BY status`, workflowName);
    return new Map(rows.map((row) => [integer(row.status) ?? 0, integer(row.runs) ?? 0]));
  }

  /** The names of the workflows with runs in the file, sorted. */
  async workflowNames(): Promise<string[]> {
    const rows = this.#sql.all(`SELECT DISTINCT workflow_name FROM ${this.#t.records}`);
    // Sorted here, as every store sorts them, rather than in the column's collation.
    return rows.map((row) => textOf(row.workflow_name) ?? "").sort();
  }

  async deleteOutboxEvents(ids: readonly string[]): Promise<void> {
    const valid = ids.filter((id) => /^\d{1,15}$/.test(id)).map(Number);
    if (valid.length === 0) return;
    this.#sql.run(`DELETE FROM ${this.#t.outbox} WHERE id IN (SELECT value FROM json_each(?))`, JSON.stringify(valid));
  }

  /**
   * Commits the waiting stores, up to {@link maxBatch} per transaction, then settles each: the
   * ones refused (version conflict, run in progress) with their error, all of them with the
   * driver's error if the transaction as a whole fails.
   */
  readonly #commitPending = (): void => {
    while (this.#pending.length > 0) {
      const batch = this.#pending.length <= maxBatch ? this.#pending : this.#pending.slice(0, maxBatch);
      this.#pending = this.#pending.length <= maxBatch ? [] : this.#pending.slice(maxBatch);
      let outcomes: (Error | undefined)[];
      try {
        outcomes = this.#writeBatch.immediate(batch);
      } catch (err) {
        for (const write of batch) write.reject(err);
        continue;
      }
      const topics = new Set<string>();
      for (const [i, write] of batch.entries()) {
        const refused = outcomes[i];
        if (refused === undefined) {
          topics.add(write.topic);
          write.resolve();
        } else {
          write.reject(refused);
        }
      }
      if (this.#events === "table" && this.#onEventCommitted) for (const topic of topics) this.#onEventCommitted(topic);
    }
  };

  /**
   * Writes one record and its event inside the batch's transaction. A write the version check or
   * a unique index refuses changes nothing (SQLite undoes a failed statement, and the event is
   * written only after the record), so it is returned and the batch goes on; any other failure is
   * thrown and rolls the whole batch back.
   */
  #writeRecord(record: Record, topic: string): Error | undefined {
    const { meta } = record;
    try {
      if (meta.version === 1) {
        this.#sql.run(
          this.#insertSql,
          record.runId,
          record.workflowName,
          record.foreignId,
          record.runState,
          record.status,
          record.object,
          record.createdAt.getTime(),
          record.updatedAt.getTime(),
          meta.version,
          meta.runStateReason,
          meta.statusDescription,
          meta.traceOrigin,
          meta.traceParent ?? "",
          meta.traceState ?? "",
          meta.workflowVersion,
        );
      } else {
        const { changes } = this.#sql.run(
          this.#updateSql,
          record.runState,
          record.status,
          record.object,
          record.updatedAt.getTime(),
          meta.version,
          meta.runStateReason,
          meta.statusDescription,
          meta.traceOrigin,
          meta.traceParent ?? "",
          meta.traceState ?? "",
          meta.workflowVersion,
          record.runId,
          meta.version - 1,
          record.workflowName,
          record.foreignId,
        );
        if (changes !== 1) return new VersionConflictError(record.runId, meta.version);
      }
    } catch (err) {
      if (!isUniqueViolation(err)) throw err;
      // The run id exists already (version 1 of this run was written before; SQLite may name the
      // unfinished-runs index first when both refuse the row), or another run of the foreign id
      // is unfinished.
      if (this.#sql.get(`SELECT 1 AS found FROM ${this.#t.records} WHERE run_id = ?`, record.runId) !== undefined) {
        return new VersionConflictError(record.runId, meta.version, { cause: err });
      }
      return new WorkflowInProgressError(record.workflowName, record.foreignId, { cause: err });
    }
    const event = outboxEventData(record);
    const createdAtMs = this.#clock.now().getTime();
    if (this.#events === "table") {
      appendEvent(this.#sql, this.#t, topic, event.foreignId, event.type, event.headers, createdAtMs);
    } else {
      this.#sql.run(
        `INSERT INTO ${this.#t.outbox} (workflow_name, foreign_id, type, headers, created_at) VALUES (?, ?, ?, ?, ?)`,
        record.workflowName,
        event.foreignId,
        event.type,
        JSON.stringify(event.headers),
        createdAtMs,
      );
    }
    return undefined;
  }
}

/** Refuses a record no write can take: an object over the limit, a version below 1. */
function checkStorable(record: Record, maxObjectBytes: number): void {
  const { runId } = record;
  const version = record.meta.version;
  const bytes = record.object.byteLength;
  if (bytes > maxObjectBytes) throw new ObjectTooLargeError(runId, bytes, maxObjectBytes);
  if (!Number.isSafeInteger(version) || version < 1) throw new VersionConflictError(runId, version);
}

/** A store waiting for its commit. */
interface PendingWrite {
  record: Record;
  topic: string;
  resolve(): void;
  reject(err: unknown): void;
}

/** At most this many stores share one transaction, keeping each short. */
const maxBatch = 500;

/** A records row as a Record, refusing one that no store could have written (see {@link storedRecord}). */
function toRecord(row: Row): Record {
  return storedRecord({
    runId: typeof row.run_id === "string" ? row.run_id : String(row.run_id),
    workflowName: textOf(row.workflow_name),
    foreignId: textOf(row.foreign_id),
    runState: integer(row.run_state),
    status: integer(row.status),
    object: row.object instanceof Uint8Array ? row.object : undefined,
    createdAtMs: integer(row.created_at),
    updatedAtMs: integer(row.updated_at),
    version: integer(row.version),
    workflowVersion: integer(row.workflow_version),
    runStateReason: textOf(row.run_state_reason),
    statusDescription: textOf(row.status_description),
    traceOrigin: textOf(row.trace_origin),
    traceParent: textOf(row.trace_parent),
    traceState: textOf(row.trace_state),
    read: { runState: row.run_state, status: row.status, version: row.version, workflowVersion: row.workflow_version },
  });
}

/** A TEXT column's value; undefined when it holds something else. */
function textOf(value: unknown): string | undefined {
  return typeof value === "string" ? value : undefined;
}

/** Checks a page size or offset. */
function wholeNumber(value: number, what: string): number {
  if (!Number.isSafeInteger(value) || value < 0) throw new InvalidOptionError(what, `SqliteRecordStore.${what} must be a whole number of at least 0, got ${String(value)}`);
  return value;
}
