import type { Event, Headers } from "../../event.js";
import type { OutboxEvent } from "../../record.js";
import { headersFromJson } from "../../stored-headers.js";
import { storedOutboxEvent } from "../../stored-outbox-event.js";
import { isTimeMs } from "../../time-ms.js";
import { replyInteger } from "./reply.js";

/** One stream entry as XREADGROUP returns it; `fields` is null when the entry was deleted or trimmed while pending. */
export interface StreamEntry {
  id: string;
  fields: string[] | null;
}

/** The field names an event is stored under. */
const field = { foreignId: "foreign_id", type: "type", headers: "headers", createdAt: "created_at" } as const;

/** The fields of XADD for one event. */
export function eventFields(foreignId: string, type: number, headers: Headers, createdAt: Date): string[] {
  return [field.foreignId, foreignId, field.type, String(type), field.headers, JSON.stringify(headers), field.createdAt, String(createdAt.getTime())];
}

/**
 * The entries of a one-stream XREADGROUP reply, whichever shape the client gives it: RESP2
 * (`[[key, entries]]`), RESP3 with ioredis's legacy mapping (`[key, entries]`) or with its resp3
 * mapping (`{ key: entries }`). A timed-out blocking read gives null: no entries.
 */
export function readReplyEntries(reply: unknown): StreamEntry[] {
  if (reply === null || reply === undefined) return [];
  let entries: unknown;
  if (Array.isArray(reply)) {
    if (reply.length === 0) return [];
    entries = Array.isArray(reply[0]) ? (reply[0] as unknown[])[1] : reply[1];
  } else if (reply instanceof Map) {
    entries = [...reply.values()][0];
  } else if (typeof reply === "object") {
    entries = Object.values(reply)[0];
  }
  if (!Array.isArray(entries)) throw new TypeError(`redis: unexpected XREADGROUP reply ${JSON.stringify(reply)}`);
  return entries.map((entry: unknown) => {
    if (!Array.isArray(entry) || typeof entry[0] !== "string") throw new TypeError(`redis: unexpected stream entry ${JSON.stringify(entry)}`);
    const fields = entry[1];
    return { id: entry[0], fields: Array.isArray(fields) ? fields.map(String) : null };
  });
}

/**
 * The event an entry holds. Entries are written by {@link eventFields}; one written by something
 * else still decodes (missing fields read as empty, a missing or unreadable time as the entry id's), so a foreign
 * entry cannot wedge a receiver.
 */
export function toEvent(entry: StreamEntry & { fields: string[] }): Event {
  const values = fieldValues(entry.fields);
  // A stream id is "<milliseconds>-<sequence>", stamped by the server: the time when the entry's own is missing or junk.
  const written = Number(values.get(field.createdAt));
  const createdAtMs = isTimeMs(written) ? written : Number(entry.id.split("-")[0]);
  return {
    id: entry.id,
    foreignId: values.get(field.foreignId) ?? "",
    type: Number(values.get(field.type) ?? 0),
    // Not one of ours when it is not an object of strings: it keeps no headers.
    headers: headersFromJson(values.get(field.headers)) ?? {},
    createdAt: new Date(createdAtMs),
  };
}

/**
 * An outbox entry, written by {@link eventFields}, as the event the outbox process sends: strict,
 * unlike {@link toEvent}, since the event goes on to the topic its headers name. An entry written by
 * anything else is a MalformedRecordError.
 */
export function toOutboxEvent(id: string, workflowName: string, fields: readonly string[]): OutboxEvent {
  const values = fieldValues(fields);
  return storedOutboxEvent({
    id,
    workflowName,
    foreignId: values.get(field.foreignId),
    type: replyInteger(values.get(field.type)),
    headers: headersFromJson(values.get(field.headers)),
    createdAtMs: replyInteger(values.get(field.createdAt)),
  });
}

function fieldValues(fields: readonly string[]): Map<string, string> {
  const values = new Map<string, string>();
  for (let i = 0; i + 1 < fields.length; i += 2) values.set(fields[i] as string, fields[i + 1] as string);
  return values;
}

