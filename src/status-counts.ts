import type { RecordStore } from "./record.js";
import { storedPages } from "./stored-pages.js";

/**
 * How many runs of the workflow each status holds: the store's own count where it has one, else
 * counted from its `maxScannedRuns` (10,000) newest runs (`partial` then says whether runs were left out).
 */
export async function statusCounts(
  recordStore: Pick<RecordStore, "list" | "countByStatus">,
  workflowName: string,
): Promise<{ counts: Map<number, number>; partial: boolean }> {
  if (recordStore.countByStatus) return { counts: await recordStore.countByStatus(workflowName), partial: false };
  const counts = new Map<number, number>();
  const pages = storedPages(recordStore, { workflowName });
  for (;;) {
    const next = await pages.next();
    if (next.done) return { counts, partial: next.value.truncated };
    for (const record of next.value) counts.set(record.status, (counts.get(record.status) ?? 0) + 1);
  }
}
