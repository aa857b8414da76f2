import type { Record, RecordStore } from "./record.js";

/**
 * Stores records of different runs together, with one outcome per record, in order. With
 * `storeMany` the batch is one transaction; when it refuses the batch (one record at fault, or the
 * database failing) each record is stored alone, so only the ones at fault fail. Without it, one
 * `store` call per record, all at once.
 */
export async function storeAll(store: RecordStore, records: readonly Record[]): Promise<PromiseSettledResult<void>[]> {
  if (store.storeMany && records.length > 1) {
    try {
      await store.storeMany(records);
      return records.map(() => stored);
    } catch {
      // The stores below say which record it was, or fail each with the database's error.
    }
  }
  return Promise.allSettled(records.map((record) => store.store(record)));
}

const stored: PromiseFulfilledResult<void> = { status: "fulfilled", value: undefined };
