import { copyRecord, type Record } from "./record.js";

/** How many runs, and how many object bytes in all, are remembered at most. */
const maxRuns = 4096;
const maxObjectBytes = 16 * 1024 * 1024;

/**
 * The last version this process wrote of each of its most recently written runs. An awaiter told
 * by an event that a run reached a status reads the record of that very version here instead of
 * from the store, when this process wrote it. Bounded by runs and by object bytes: the oldest
 * entries go first.
 */
export class RecentWrites {
  /** Run id → record, least recently written first. */
  readonly #records = new Map<string, Record>();
  #objectBytes = 0;

  remember(record: Record): void {
    this.forget(record.runId);
    if (record.object.byteLength > maxObjectBytes / 64) return;
    this.#records.set(record.runId, record);
    this.#objectBytes += record.object.byteLength;
    if (this.#records.size > maxRuns || this.#objectBytes > maxObjectBytes) this.#evict();
  }

  /**
   * Forgets the oldest entries until a quarter of each bound is free again. In chunks, because
   * each new iterator of a map steps over every entry deleted at its front: taking the oldest
   * one write at a time cost more than the rest of a write once the map was full.
   */
  #evict(): void {
    for (const runId of this.#records.keys()) {
      if (this.#records.size <= (maxRuns * 3) / 4 && this.#objectBytes <= (maxObjectBytes * 3) / 4) break;
      this.forget(runId);
    }
  }

  /** The record of `runId` at `version`, if that is the last one this process wrote. */
  get(runId: string, version: number): Record | undefined {
    const record = this.#records.get(runId);
    // A copy: the caller's run must not share its dates or meta with the next caller's.
    return record?.meta.version === version ? copyRecord(record) : undefined;
  }

  forget(runId: string): void {
    const record = this.#records.get(runId);
    if (!record) return;
    this.#records.delete(runId);
    this.#objectBytes -= record.object.byteLength;
  }
}
