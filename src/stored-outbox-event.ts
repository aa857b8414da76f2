import { MalformedRecordError } from "./errors.js";
import { HeaderKey, type Headers } from "./event.js";
import type { OutboxEvent } from "./record.js";
import { isTimeMs } from "./time-ms.js";

/**
 * An outbox row's values as its store read them, undefined where a value was unreadable; `headers`
 * as `storedHeaders` or `headersFromJson` read them.
 */
export interface OutboxRowValues {
  id: string;
  workflowName: string | undefined;
  foreignId: string | undefined;
  type: number | undefined;
  headers: Headers | undefined;
  createdAtMs: number | undefined;
}

/**
 * An outbox row as the event the outbox process sends, or MalformedRecordError for a row no store
 * writes: headers that are not an object of strings or name no topic (the event would have nowhere
 * to go), a type that is no integer, a time no Date holds, ids that are not text.
 */
export function storedOutboxEvent(row: OutboxRowValues): OutboxEvent {
  const { headers } = row;
  const malformed = (detail: string) => new MalformedRecordError(headers?.[HeaderKey.runId] ?? `outbox event ${row.id}`, `outbox event ${row.id} ${detail}`);
  if (headers === undefined) throw malformed("has headers that are not a JSON object of strings");
  if (!headers[HeaderKey.topic]) throw malformed("names no topic in its headers");
  if (row.type === undefined || !Number.isSafeInteger(row.type)) throw malformed(`has type ${String(row.type)}, not an integer`);
  if (!isTimeMs(row.createdAtMs)) throw malformed("has a created_at that is not a time");
  if (row.workflowName === undefined || row.foreignId === undefined) throw malformed("has a workflow name or foreign id that is not text");
  return { id: row.id, workflowName: row.workflowName, foreignId: row.foreignId, type: row.type, headers, createdAt: new Date(row.createdAtMs) };
}
