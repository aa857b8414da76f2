import type { RecordStore } from "./record.js";
import { storedPages } from "./stored-pages.js";

/**
 * The names of the workflows with runs in the store, sorted: the store's own answer where it has
 * one, else gathered from its `maxScannedRuns` (10,000) newest runs.
 */
export async function storedWorkflowNames(recordStore: Pick<RecordStore, "list" | "workflowNames">): Promise<string[]> {
  if (recordStore.workflowNames) return recordStore.workflowNames();
  const names = new Set<string>();
  for await (const page of storedPages(recordStore, {})) for (const record of page) names.add(record.workflowName);
  return [...names].sort();
}
