import { readableRows } from "./readable-rows.js";
import type { ListQuery, Record, RecordStore } from "./record.js";

/** How many of a store's newest runs are read, page by page, where it cannot answer a question at once. */
export const maxScannedRuns = 10_000;
const pageSize = 500;

/**
 * The store's runs matching `query`, newest first, a page at a time, ending at the last run or
 * after {@link maxScannedRuns}; `truncated` is set once runs were left unread.
 */
export async function* storedPages(
  recordStore: Pick<RecordStore, "list">,
  query: Omit<ListQuery, "offset" | "limit" | "order">,
): AsyncGenerator<Record[], { truncated: boolean }> {
  for (let offset = 0; offset < maxScannedRuns; offset += pageSize) {
    // A run the store cannot read is left out: a count or a name less, where a list of runs names it.
    const page = await readableRows(recordStore.list({ ...query, order: "desc", offset, limit: pageSize }));
    yield page.rows;
    if (page.rows.length + page.malformed.length < pageSize) return { truncated: false };
  }
  return { truncated: true };
}
