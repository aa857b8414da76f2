import { adoptClock, type Clock, type ClockAdopter } from "../clock.js";
import type { ListQuery, OutboxEvent, Record, RecordStore } from "../record.js";
import { ChaosSchedule, type ChaosOptions, type ChaosStats, type Chaotic, type RecordStoreMethod } from "./chaos-schedule.js";

const recordStoreMethods: readonly RecordStoreMethod[] = [
  "store",
  "storeMany",
  "lookup",
  "lookupMany",
  "latest",
  "list",
  "listOutboxEvents",
  "deleteOutboxEvent",
  "deleteOutboxEvents",
  "countByStatus",
  "workflowNames",
];

/**
 * Wraps a record store so its calls fail, fail after taking effect, or wait, on a seeded schedule
 * (see {@link ChaosOptions}). The optional methods (`storeMany`, `lookupMany`, `deleteOutboxEvents`,
 * `countByStatus`, `workflowNames`) exist on the wrapper only when the store has them.
 *
 * @example
 * ```ts
 * const adapters = memory();
 * const recordStore = chaosRecordStore(adapters.recordStore, { seed: 7, failRate: 0.05, failAfterRate: 0.05 });
 * const wf = b.build({ ...adapters, recordStore });
 * // …
 * assert.ok(recordStore.stats().failedAfter > 0);
 * ```
 */
export function chaosRecordStore(store: RecordStore, options: ChaosOptions<RecordStoreMethod>): RecordStore & Chaotic {
  return new ChaosRecordStore(store, options);
}

class ChaosRecordStore implements RecordStore, Chaotic, ClockAdopter {
  readonly #inner: RecordStore;
  readonly #schedule: ChaosSchedule;
  declare storeMany?: (records: readonly Record[]) => Promise<void>;
  declare lookupMany?: (runIds: readonly string[]) => Promise<Record[]>;
  declare deleteOutboxEvents?: (ids: readonly string[]) => Promise<void>;
  declare countByStatus?: (workflowName: string) => Promise<Map<number, number>>;
  declare workflowNames?: () => Promise<string[]>;

  constructor(inner: RecordStore, options: ChaosOptions<RecordStoreMethod>) {
    this.#inner = inner;
    this.#schedule = new ChaosSchedule("recordStore", recordStoreMethods, options);
    const schedule = this.#schedule;
    // Only what the store has: the engine takes a present method as the capability to use it.
    const { storeMany, lookupMany, deleteOutboxEvents, countByStatus, workflowNames } = inner;
    if (storeMany) this.storeMany = (records) => schedule.call("storeMany", () => storeMany.call(inner, records));
    if (lookupMany) this.lookupMany = (runIds) => schedule.call("lookupMany", () => lookupMany.call(inner, runIds));
    if (deleteOutboxEvents) this.deleteOutboxEvents = (ids) => schedule.call("deleteOutboxEvents", () => deleteOutboxEvents.call(inner, ids));
    if (countByStatus) this.countByStatus = (workflowName) => schedule.call("countByStatus", () => countByStatus.call(inner, workflowName));
    if (workflowNames) this.workflowNames = () => schedule.call("workflowNames", () => workflowNames.call(inner));
  }

  store(record: Record): Promise<void> {
    return this.#schedule.call("store", () => this.#inner.store(record));
  }

  lookup(runId: string): Promise<Record> {
    return this.#schedule.call("lookup", () => this.#inner.lookup(runId));
  }

  latest(workflowName: string, foreignId: string): Promise<Record> {
    return this.#schedule.call("latest", () => this.#inner.latest(workflowName, foreignId));
  }

  list(query: ListQuery): Promise<Record[]> {
    return this.#schedule.call("list", () => this.#inner.list(query));
  }

  listOutboxEvents(workflowName: string, limit: number): Promise<OutboxEvent[]> {
    return this.#schedule.call("listOutboxEvents", () => this.#inner.listOutboxEvents(workflowName, limit));
  }

  deleteOutboxEvent(id: string): Promise<void> {
    return this.#schedule.call("deleteOutboxEvent", () => this.#inner.deleteOutboxEvent(id));
  }

  stats(): ChaosStats {
    return this.#schedule.stats();
  }

  /** A store that stamps times with the workflow's clock keeps doing so when wrapped. */
  [adoptClock](clock: Clock): void {
    (this.#inner as Partial<ClockAdopter>)[adoptClock]?.(clock);
  }
}
