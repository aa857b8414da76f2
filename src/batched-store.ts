import { RecordNotFoundError } from "./errors.js";
import { copyRecord, type Record, type RecordStore } from "./record.js";
import { storeAll } from "./store-all.js";
import { Coalescer } from "./coalescer.js";

/**
 * `store` for single writes (triggers, callbacks, timeouts, run control): a write made while
 * another is in flight waits for it and goes with the others that waited, in one `storeMany`,
 * where the store has it. Two writes of one run never share a batch, so they are stored in order,
 * and a refused write fails alone (see `storeAll`).
 */
export function batchedWrite(store: RecordStore): (record: Record) => Promise<void> {
  if (!store.storeMany) return (record) => store.store(record);
  const batcher = new Coalescer<Record, void>({
    handle: (records) => storeAll(store, records),
    key: (record) => record.runId,
    maxItems: 500,
  });
  return (record) => batcher.add(record);
}

/**
 * `lookup` for single reads (awaiters): a read made while another is in flight waits for it and
 * goes with the others that waited, in one `lookupMany`, where the store has it.
 */
export function batchedLookup(store: RecordStore): (runId: string) => Promise<Record> {
  const lookupMany = store.lookupMany?.bind(store);
  if (!lookupMany) return (runId) => store.lookup(runId);
  const batcher = new Coalescer<string, Record>({
    handle: async (runIds) => {
      let found: Record[];
      try {
        found = await lookupMany(runIds);
      } catch {
        // A row no store could have written fails the whole read: read each alone, so only its reader fails.
        return Promise.allSettled(runIds.map((runId) => store.lookup(runId)));
      }
      const byRunId = new Map(found.map((record) => [record.runId, record]));
      const handed = new Set<string>();
      return runIds.map((runId): PromiseSettledResult<Record> => {
        const record = byRunId.get(runId);
        if (!record) return { status: "rejected", reason: new RecordNotFoundError(runId) };
        // Two readers of one run each get their own copy.
        const value = handed.has(runId) ? copyRecord(record) : record;
        handed.add(runId);
        return { status: "fulfilled", value };
      });
    },
    maxItems: 500,
  });
  return (runId) => batcher.add(runId);
}
