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
    const page = await recordStore.list({ ...query, order: "desc", offset, limit: pageSize });
    yield page;
    if (page.length < pageSize) return { truncated: false };
  }
  return { truncated: true };
}
