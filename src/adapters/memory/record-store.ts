import { adoptClock, FollowingClock, type Clock, type ClockAdopter } from "../../clock.js";
import { OutboxRecordNotFoundError, RecordNotFoundError, VersionConflictError, WorkflowInProgressError } from "../../errors.js";
import { HeaderKey } from "../../event.js";
import { eventHeaders } from "../../outbox-event.js";
import { copyRecord, type ListQuery, type OutboxEvent, type Record, type RecordStore } from "../../record.js";
import { isFinished } from "../../runstate.js";
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
 * An in-process {@link RecordStore}. Records go in and come out as copies, so neither side can
 * change the other's. Besides the latest version of each run it keeps every version ever stored
 * ({@link MemoryRecordStore.snapshots}), which testing helpers use to check the path a run took;
 * that history grows with every write, so this store suits tests and short-lived processes.
 *
 * @example
 * ```ts
 * const store = new MemoryRecordStore();
 * const wf = b.build({ recordStore: store, eventStreamer, roleScheduler });
 * // … after the run:
 * store.snapshots(runId).map((r) => r.status); // [Created, Paid, Shipped]
 * ```
 */
export class MemoryRecordStore implements RecordStore, ClockAdopter {
  private readonly clock: Clock;
  private readonly events: MemoryEventStreamer | undefined;
  /** Run id → latest version. Map order is creation order, the tie-break of `list`. */
  private readonly records = new Map<string, Record>();
  /** Run id → every stored version, oldest first. Shares objects with `records`; never mutated. */
  private readonly versions = new Map<string, Record[]>();
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
   * Writes the record and its event, if `record.meta.version` is one more than the stored
   * version (or 1 for a new run); otherwise throws VersionConflictError and writes nothing.
   * A new run throws WorkflowInProgressError while the latest run of its workflow and foreign id
   * has not finished.
   */
  async store(record: Record): Promise<void> {
    const { runId, workflowName, foreignId } = record;
    const version = record.meta.version;
    const existing = this.records.get(runId);
    if (existing === undefined) {
      if (version !== 1) throw new VersionConflictError(runId, version);
      const latestRunId = this.latestRuns.get(workflowName)?.get(foreignId);
      const latest = latestRunId === undefined ? undefined : this.records.get(latestRunId);
      if (latest !== undefined && !isFinished(latest.runState)) throw new WorkflowInProgressError(workflowName, foreignId);
    } else if (existing.meta.version !== version - 1) {
      throw new VersionConflictError(runId, version);
    }

    // Every check has passed; from here on nothing throws, so the write is all or nothing.
    const stored = copyRecord(record);
    this.records.set(runId, stored);
    if (existing === undefined) {
      this.versions.set(runId, [stored]);
      let runs = this.latestRuns.get(workflowName);
      if (runs === undefined) {
        runs = new Map();
        this.latestRuns.set(workflowName, runs);
      }
      runs.set(foreignId, runId);
    } else {
      this.versions.get(runId)?.push(stored);
    }
    // Headers are built fresh for each event and never mutated, so receivers and listings may share them.
    const headers = eventHeaders(record);
    if (this.events) this.events.publish(headers[HeaderKey.topic] ?? "", foreignId, record.status, headers);
    else this.appendOutboxEvent(workflowName, foreignId, record.status, headers);
  }

  /** The latest version of the run; RecordNotFoundError when there is none. */
  async lookup(runId: string): Promise<Record> {
    const record = this.records.get(runId);
    if (record === undefined) throw new RecordNotFoundError(runId);
    return copyRecord(record);
  }

  /**
   * The newest run of the workflow for `foreignId`; RecordNotFoundError (carrying the foreign id
   * in place of a run id) when there is none.
   */
  async latest(workflowName: string, foreignId: string): Promise<Record> {
    const runId = this.latestRuns.get(workflowName)?.get(foreignId);
    const record = runId === undefined ? undefined : this.records.get(runId);
    if (record === undefined) throw new RecordNotFoundError(foreignId);
    return copyRecord(record);
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

    const matches: Record[] = [];
    for (const r of this.records.values()) {
      if (workflowName !== undefined && r.workflowName !== workflowName) continue;
      if (foreignIds !== undefined && !foreignIds.has(r.foreignId)) continue;
      if (statuses !== undefined && !statuses.has(r.status)) continue;
      if (runStates !== undefined && !runStates.has(r.runState)) continue;
      const createdMs = r.createdAt.getTime();
      if (after !== undefined && createdMs <= after) continue;
      if (before !== undefined && createdMs >= before) continue;
      matches.push(r);
    }
    // Array.prototype.sort is stable, so equal timestamps keep the creation order of the map.
    matches.sort((a, b) => a.createdAt.getTime() - b.createdAt.getTime());
    if (query.order === "desc") matches.reverse();
    const offset = query.offset ?? 0;
    return matches.slice(offset, offset + query.limit).map(copyRecord);
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

  /** Copies of every version stored for the run, oldest first; empty for an unknown run. */
  snapshots(runId: string): Record[] {
    return (this.versions.get(runId) ?? []).map(copyRecord);
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

function nonEmptySet<V>(values: readonly V[] | undefined): Set<V> | undefined {
  return values === undefined || values.length === 0 ? undefined : new Set(values);
}
