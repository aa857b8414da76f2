import { adoptClock, FollowingClock, type Clock, type ClockAdopter } from "../../clock.js";
import { OutboxRecordNotFoundError, RecordNotFoundError, VersionConflictError, WorkflowInProgressError } from "../../errors.js";
import { HeaderKey } from "../../event.js";
import { encodeJsonData } from "../../json-data.js";
import { KeptRecord, keptRecords, type KeptRecordAccess, type KeepsRecords, type RecordFields } from "../../kept-record.js";
import { eventHeaders } from "../../outbox-event.js";
import { withTrace, type ListQuery, type OutboxEvent, type Record, type RecordStore } from "../../record.js";
import { isFinished, type RunState } from "../../runstate.js";
import type { MemoryEventStreamer } from "./event-streamer.js";

/** Options of {@link MemoryRecordStore}. */
export interface MemoryRecordStoreOptions {
  /** Stamps `OutboxEvent.createdAt`. Default: the system clock. */
  clock?: Clock;
  /**
   * Where the event of each store goes. Without it, to this store's outbox (`listOutboxEvents`),
   * which the workflow's outbox process moves to whatever EventStreamer the workflow uses. With
   * it, straight onto this streamer's topic as part of the store, and the outbox stays empty:
   * build the workflow with `outbox: false` then (the `memory()` bundle does both).
   */
  eventStreamer?: MemoryEventStreamer;
}

/**
 * One stored version of a run: its fields, its times in milliseconds, and its object as bytes or,
 * when a workflow stored a KeptRecord, as that record's data (encoded only if someone reads the
 * bytes). Never changed once stored, but for the bytes cached on first read.
 */
interface StoredVersion {
  readonly workflowName: string;
  readonly foreignId: string;
  readonly runId: string;
  readonly runState: RunState;
  readonly status: number;
  readonly createdMs: number;
  readonly updatedMs: number;
  readonly runStateReason: string;
  readonly statusDescription: string;
  readonly version: number;
  readonly workflowVersion: number;
  readonly traceOrigin: string;
  readonly traceParent: string | undefined;
  readonly traceState: string | undefined;
  /** Undefined until first read when the version holds `data`. */
  bytes: Uint8Array | undefined;
  /** The kept data, or undefined when the version was stored as bytes. */
  readonly data: unknown;
  /** The version before, for `snapshots`; undefined for version 1. */
  readonly previous: StoredVersion | undefined;
}

/**
 * An in-process {@link RecordStore}. Records go in and come out as copies, so neither side can
 * change the other's. Besides the latest version of each run it keeps every version ever stored
 * ({@link MemoryRecordStore.snapshots}), which testing helpers use to check the path a run took;
 * that history grows with every write, so this store suits tests and short-lived processes.
 *
 * A workflow on the default JSON codec hands this store its objects as JSON data rather than bytes
 * and reads them back the same way, so its steps cost no encoding or decoding; `lookup` and the
 * other reads still return the bytes the codec would have made.
 *
 * @example
 * ```ts
 * const store = new MemoryRecordStore();
 * const wf = b.build({ recordStore: store, eventStreamer, roleScheduler });
 * // … after the run:
 * store.snapshots(runId).map((r) => r.status); // [Created, Paid, Shipped]
 * ```
 */
export class MemoryRecordStore implements RecordStore, KeepsRecords, ClockAdopter {
  private readonly clock: Clock;
  private readonly events: MemoryEventStreamer | undefined;
  /**
   * Run id → latest version, which links to the ones before. One map for both: with many runs,
   * each lookup in a large map costs more than the rest of a store. Map order is creation order,
   * the tie-break of `list`.
   */
  private readonly records = new Map<string, StoredVersion>();
  /** Workflow name → foreign id → run id of the newest run. */
  private readonly latestRuns = new Map<string, Map<string, string>>();
  /** Outbox event id → event, for deletes. */
  private readonly outbox = new Map<string, OutboxEvent>();
  /** Workflow name → its outbox events in insertion order, so listing never scans other workflows. */
  private readonly outboxByWorkflow = new Map<string, Map<string, OutboxEvent>>();
  private nextOutboxId = 1;

  constructor(options: MemoryRecordStoreOptions = {}) {
    this.clock = options.clock ?? new FollowingClock();
    this.events = options.eventStreamer;
  }
  /** Stamps times with the workflow's clock when this store was given none. */
  [adoptClock](clock: Clock): void {
    if (this.clock instanceof FollowingClock) this.clock.adopt(clock);
  }

  /**
   * Writes the record and its event, if `record.meta.version` is one more than the stored version
   * (or 1 for a new run); otherwise throws VersionConflictError and writes nothing. A new run
   * throws WorkflowInProgressError while the latest run of its workflow and foreign id has not
   * finished.
   */
  async store(record: Record): Promise<void> {
    const existing = this.check(record, undefined);
    this.write(record, existing);
  }

  /**
   * Writes the records and their events together, each with the version check of `store`, all of
   * them or none: the first refused record's error is thrown and nothing is written.
   */
  async storeMany(records: readonly Record[]): Promise<void> {
    // New runs of the batch count as the latest of their foreign ids for the records after them.
    const created = new Map<string, Record>();
    const existing = records.map((record) => {
      const found = this.check(record, created);
      if (found === undefined) created.set(foreignIdKey(record.workflowName, record.foreignId), record);
      return found;
    });
    for (const [i, record] of records.entries()) this.write(record, existing[i]);
  }

  /**
   * The stored version a write of `record` replaces (undefined for a new run), or the error that
   * refuses it. `created` holds the new runs written before it in the same batch.
   */
  private check(record: Record, created: ReadonlyMap<string, Record> | undefined): StoredVersion | undefined {
    const { runId, workflowName, foreignId } = record;
    const version = record.meta.version;
    const existing = this.records.get(runId);
    if (existing === undefined) {
      if (version !== 1) throw new VersionConflictError(runId, version);
      const latestRunId = this.latestRuns.get(workflowName)?.get(foreignId);
      const latest = created?.get(foreignIdKey(workflowName, foreignId)) ?? (latestRunId === undefined ? undefined : this.records.get(latestRunId));
      if (latest !== undefined && !isFinished(latest.runState)) throw new WorkflowInProgressError(workflowName, foreignId);
    } else if (existing.version !== version - 1) {
      throw new VersionConflictError(runId, version);
    }
    return existing;
  }

  /** Writes a checked record and its event; nothing here throws, so a write is all or nothing. */
  private write(record: Record, existing: StoredVersion | undefined): void {
    const { runId, workflowName, foreignId } = record;
    const stored = storedVersion(record, existing);
    this.records.set(runId, stored);
    if (existing === undefined) {
      let foreignIds = this.latestRuns.get(workflowName);
      if (foreignIds === undefined) {
        foreignIds = new Map();
        this.latestRuns.set(workflowName, foreignIds);
      }
      foreignIds.set(foreignId, runId);
    }
    // Headers are built fresh for each event and never mutated, so receivers and listings may share them.
    const headers = eventHeaders(record);
    if (this.events) this.events.publish(headers[HeaderKey.topic] ?? "", foreignId, record.status, headers);
    else this.appendOutboxEvent(workflowName, foreignId, record.status, headers);
  }

  /** The latest version of each run found. */
  async lookupMany(runIds: readonly string[]): Promise<Record[]> {
    const records: Record[] = [];
    for (const runId of runIds) {
      const stored = this.records.get(runId);
      if (stored !== undefined) records.push(plainRecord(stored));
    }
    return records;
  }

  /** The latest version of the run; RecordNotFoundError when there is none. */
  async lookup(runId: string): Promise<Record> {
    const stored = this.records.get(runId);
    if (stored === undefined) throw new RecordNotFoundError(runId);
    return plainRecord(stored);
  }

  /** For the engine: reads that share the kept data rather than encoding it (see KeptRecordAccess). */
  readonly [keptRecords]: KeptRecordAccess = {
    methods: MemoryRecordStore.prototype,
    read: (runId) => {
      const stored = this.records.get(runId);
      if (stored === undefined) return undefined;
      return stored.data === undefined ? plainRecord(stored) : new KeptRecord(recordFields(stored), stored.data);
    },
  };

  /**
   * The newest run of the workflow for `foreignId`; RecordNotFoundError (carrying the foreign id
   * in place of a run id) when there is none.
   */
  async latest(workflowName: string, foreignId: string): Promise<Record> {
    const runId = this.latestRuns.get(workflowName)?.get(foreignId);
    const stored = runId === undefined ? undefined : this.records.get(runId);
    if (stored === undefined) throw new RecordNotFoundError(foreignId);
    return plainRecord(stored);
  }

  /**
   * A page of runs ordered by `createdAt` (ties in creation order), ascending unless
   * `order: "desc"`. Each filter given narrows the result; an empty array filters nothing.
   * `createdAfter` and `createdBefore` are exclusive.
   */
  async list(query: ListQuery): Promise<Record[]> {
    const { workflowName, filter = {} } = query;
    const foreignIds = nonEmptySet(filter.foreignId);
    const statuses = nonEmptySet(filter.status);
    const runStates = nonEmptySet(filter.runState);
    const after = filter.createdAfter?.getTime();
    const before = filter.createdBefore?.getTime();

    const matches: StoredVersion[] = [];
    for (const r of this.records.values()) {
      if (workflowName !== undefined && r.workflowName !== workflowName) continue;
      if (foreignIds !== undefined && !foreignIds.has(r.foreignId)) continue;
      if (statuses !== undefined && !statuses.has(r.status)) continue;
      if (runStates !== undefined && !runStates.has(r.runState)) continue;
      if (after !== undefined && r.createdMs <= after) continue;
      if (before !== undefined && r.createdMs >= before) continue;
      matches.push(r);
    }
    // Array.prototype.sort is stable, so equal timestamps keep the creation order of the map.
    matches.sort((a, b) => a.createdMs - b.createdMs);
    if (query.order === "desc") matches.reverse();
    const offset = query.offset ?? 0;
    return matches.slice(offset, offset + query.limit).map(plainRecord);
  }

  /** Up to `limit` outbox events of the workflow, oldest first; none when events go to a streamer. */
  async listOutboxEvents(workflowName: string, limit: number): Promise<OutboxEvent[]> {
    const events: OutboxEvent[] = [];
    const pending = this.outboxByWorkflow.get(workflowName);
    if (pending === undefined) return events;
    for (const event of pending.values()) {
      if (events.length >= limit) break;
      events.push({ ...event, createdAt: new Date(event.createdAt.getTime()) });
    }
    return events;
  }

  /** Deletes a sent outbox event; OutboxRecordNotFoundError when there is none with that id. */
  async deleteOutboxEvent(id: string): Promise<void> {
    const event = this.outbox.get(id);
    if (event === undefined) throw new OutboxRecordNotFoundError(id);
    this.outbox.delete(id);
    const pending = this.outboxByWorkflow.get(event.workflowName);
    pending?.delete(id);
    if (pending?.size === 0) this.outboxByWorkflow.delete(event.workflowName);
  }

  /** Deletes sent outbox events; ids not in the outbox are left alone. */
  async deleteOutboxEvents(ids: readonly string[]): Promise<void> {
    for (const id of ids) if (this.outbox.has(id)) await this.deleteOutboxEvent(id);
  }

  /** How many runs of the workflow each status holds; statuses without runs are left out. */
  async countByStatus(workflowName: string): Promise<Map<number, number>> {
    const counts = new Map<number, number>();
    const foreignIds = this.latestRuns.get(workflowName);
    if (foreignIds === undefined) return counts;
    // Every run counts, not only each foreign id's latest, so the count walks the runs themselves.
    for (const r of this.records.values()) if (r.workflowName === workflowName) counts.set(r.status, (counts.get(r.status) ?? 0) + 1);
    return counts;
  }

  /** The names of the workflows with runs in the store, sorted. */
  async workflowNames(): Promise<string[]> {
    // Every run is the latest of its foreign id when it is made, so each workflow with a run has a key here.
    return [...this.latestRuns.keys()].sort();
  }

  /** Copies of every version stored for the run, oldest first; empty for an unknown run. */
  snapshots(runId: string): Record[] {
    const versions: Record[] = [];
    for (let stored = this.records.get(runId); stored !== undefined; stored = stored.previous) versions.push(plainRecord(stored));
    return versions.reverse();
  }

  private appendOutboxEvent(workflowName: string, foreignId: string, type: number, headers: OutboxEvent["headers"]): void {
    const id = String(this.nextOutboxId++);
    const event: OutboxEvent = { id, workflowName, foreignId, type, headers, createdAt: this.clock.now() };
    this.outbox.set(id, event);
    let pending = this.outboxByWorkflow.get(workflowName);
    if (pending === undefined) {
      pending = new Map();
      this.outboxByWorkflow.set(workflowName, pending);
    }
    pending.set(id, event);
  }
}

/** One key per workflow and foreign id, split by a NUL, which workflows refuse in names. */
function foreignIdKey(workflowName: string, foreignId: string): string {
  return `${workflowName}\u0000${foreignId}`;
}

/** The store's own copy of `record`: a KeptRecord's data is shared, since nobody changes it. */
function storedVersion(record: Record, previous: StoredVersion | undefined): StoredVersion {
  const meta = record.meta;
  const kept = record instanceof KeptRecord;
  return {
    workflowName: record.workflowName,
    foreignId: record.foreignId,
    runId: record.runId,
    runState: record.runState,
    status: record.status,
    createdMs: record.createdAt.getTime(),
    updatedMs: record.updatedAt.getTime(),
    runStateReason: meta.runStateReason,
    statusDescription: meta.statusDescription,
    version: meta.version,
    workflowVersion: meta.workflowVersion,
    traceOrigin: meta.traceOrigin,
    traceParent: meta.traceParent,
    traceState: meta.traceState,
    bytes: kept ? undefined : record.object.slice(),
    data: kept ? record.data : undefined,
    previous,
  };
}

/** Fresh fields of a stored version, with dates and meta of their own. */
function recordFields(stored: StoredVersion): RecordFields {
  return {
    workflowName: stored.workflowName,
    foreignId: stored.foreignId,
    runId: stored.runId,
    runState: stored.runState,
    status: stored.status,
    createdAt: new Date(stored.createdMs),
    updatedAt: new Date(stored.updatedMs),
    meta: withTrace(
      {
        runStateReason: stored.runStateReason,
        statusDescription: stored.statusDescription,
        version: stored.version,
        workflowVersion: stored.workflowVersion,
        traceOrigin: stored.traceOrigin,
      },
      stored.traceParent,
      stored.traceState,
    ),
  };
}

/** A copy of a stored version as a plain record, its object as bytes. */
function plainRecord(stored: StoredVersion): Record {
  stored.bytes ??= encodeJsonData(stored.data);
  return { ...recordFields(stored), object: stored.bytes.slice() };
}

function nonEmptySet<V>(values: readonly V[] | undefined): Set<V> | undefined {
  return values === undefined || values.length === 0 ? undefined : new Set(values);
}
