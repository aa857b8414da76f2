import { MalformedRecordError } from "./errors.js";
import { isTimeMs } from "./time-ms.js";
import type { TimeoutRecord } from "./timeout-store.js";

/** A timeout row's values as its store read them; undefined where a value was unreadable. */
export interface TimeoutRowValues {
  id: string;
  workflowName: string | undefined;
  foreignId: string | undefined;
  runId: string | undefined;
  status: number | undefined;
  index: number | undefined;
  completed: boolean;
  expireAtMs: number | undefined;
  createdAtMs: number | undefined;
}

/**
 * A timeout row as a TimeoutRecord, or MalformedRecordError for a row no store writes: ids that are
 * not text, a status or index that is no integer, an expiry or creation time no Date holds (junk,
 * an infinity, a number past a Date's range). Such a timeout could never fire at the right time.
 */
export function storedTimeout(row: TimeoutRowValues): TimeoutRecord {
  const malformed = (detail: string) => new MalformedRecordError(row.runId ?? `timeout ${row.id}`, `timeout ${row.id} ${detail}`);
  const { workflowName, foreignId, runId, status, index, expireAtMs, createdAtMs } = row;
  if (workflowName === undefined || foreignId === undefined || runId === undefined) throw malformed("has a workflow name, foreign id or run id that is not text");
  if (status === undefined || !Number.isSafeInteger(status) || index === undefined || !Number.isSafeInteger(index)) {
    throw malformed(`has status ${String(status)} or index ${String(index)}, not an integer`);
  }
  if (!isTimeMs(expireAtMs)) throw malformed("has an expire_at that is not a time");
  if (!isTimeMs(createdAtMs)) throw malformed("has a created_at that is not a time");
  return { id: row.id, workflowName, foreignId, runId, status, index, completed: row.completed, expireAt: new Date(expireAtMs), createdAt: new Date(createdAtMs) };
}
