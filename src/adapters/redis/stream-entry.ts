import type { Event, Headers } from "../../event.js";
import { storedHeaders } from "../../stored-headers.js";

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
 * else still decodes (missing fields read as empty, a missing time as the entry id's), so a foreign
 * entry cannot wedge a receiver.
 */
export function toEvent(entry: StreamEntry & { fields: string[] }): Event {
  const values = new Map<string, string>();
  for (let i = 0; i + 1 < entry.fields.length; i += 2) values.set(entry.fields[i] as string, entry.fields[i + 1] as string);
  const rawHeaders = values.get(field.headers);
  let headers: Headers = {};
  try {
    const parsed: unknown = rawHeaders === undefined ? {} : JSON.parse(rawHeaders);
    headers = storedHeaders(parsed) ?? {};
  } catch {
    // Not JSON: not one of ours; it keeps no headers.
  }
  // A stream id is "<milliseconds>-<sequence>", stamped by the server.
  const createdAtMs = Number(values.get(field.createdAt) ?? entry.id.split("-")[0]);
  return {
    id: entry.id,
    foreignId: values.get(field.foreignId) ?? "",
    type: Number(values.get(field.type) ?? 0),
    headers,
    createdAt: new Date(createdAtMs),
  };
}
