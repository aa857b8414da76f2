import type { Record } from "../../record.js";

/** How long a record read beside an event may stand in for a lookup. */
const freshForMs = 1000;
/** How many records are kept at most; the oldest go first. */
const capacity = 10_000;

/**
 * Records the event streamer read together with their events, for the record store's next lookup
 * of the same run: the engine looks a run up right after receiving its event, and this saves that
 * round trip. Each record is handed out once and only while fresh.
 *
 * A record from here may be slightly older than the stored one. The engine is safe with that: it
 * runs a step only when the record's version matches the event's, and its write is a
 * compare-and-set on the version, so work done on a stale read is refused, never stored.
 */
export class RecentRecords {
  readonly #records = new Map<string, { record: Record; atMs: number }>();

  offer(record: Record, nowMs: number): void {
    this.#records.delete(record.runId);
    this.#records.set(record.runId, { record, atMs: nowMs });
    if (this.#records.size > capacity) {
      const oldest = this.#records.keys().next();
      if (!oldest.done) this.#records.delete(oldest.value);
    }
  }

  take(runId: string, nowMs: number): Record | undefined {
    const entry = this.#records.get(runId);
    if (!entry) return undefined;
    this.#records.delete(runId);
    return nowMs - entry.atMs <= freshForMs ? entry.record : undefined;
  }
}
