import type { Event, Headers } from "../../event.js";
import { headersFromJson } from "../../stored-headers.js";
import { isTimeMs } from "../../time-ms.js";
import type { TrimCutoffs } from "../../retention.js";
import type { SqliteTables } from "./schema.js";
import { integer, type Row, type Statements } from "./statements.js";

// The events table is one log for every topic, read by id: a receiver asks for the events of its
// topic with an id above the last one it read.
//
// Why no event is ever skipped: SQLite lets one write transaction into a database file at a time
// (across every connection and process), and an AUTOINCREMENT id is handed out inside that
// transaction. So events become visible in id order: once a reader sees id 8, every lower id that
// will ever exist is already committed (or was rolled back and never comes). Unlike PostgreSQL
// (transaction ids) or MySQL (a lock row), nothing has to hold readers back from a gap.

/** Appends an event; its id is the next in the log. */
export function appendEvent(sql: Statements, t: SqliteTables, topic: string, foreignId: string, type: number, headers: Headers, createdAtMs: number): void {
  sql.run(`INSERT INTO ${t.events} (topic, foreign_id, type, headers, created_at) VALUES (?, ?, ?, ?, ?)`, topic, foreignId, type, JSON.stringify(headers), createdAtMs);
}

/** Up to `limit` events of `topic` with an id above `after`, in id order. */
export function readEvents(sql: Statements, t: SqliteTables, topic: string, after: number, limit: number): Event[] {
  const rows = sql.all(`SELECT id, foreign_id, type, headers, created_at FROM ${t.events} WHERE topic = ? AND id > ? ORDER BY id LIMIT ?`, topic, after, limit);
  return rows.map(toEvent);
}

/**
 * A row as an event. A row no sender wrote (hand-edited, or by another program) still decodes, its
 * unreadable parts as empty: had it thrown, the receiver would read it again forever and every later
 * event of its topic would wait behind it. Without a run id the engine lets it go as a missing run.
 */
function toEvent(row: Row): Event {
  const createdAtMs = integer(row.created_at);
  return {
    id: String(row.id),
    foreignId: typeof row.foreign_id === "string" ? row.foreign_id : "",
    type: integer(row.type) ?? 0,
    headers: headersFromJson(row.headers) ?? {},
    createdAt: new Date(isTimeMs(createdAtMs) ? createdAtMs : 0),
  };
}

/**
 * Opens receiver `name`'s position on `topic` and returns it: the stored one, or for a name never
 * seen, 0 (the start) or with `fromLatest` the newest event id. Storing it at once means
 * `streamFromLatest` decides only the first time a name is used.
 */
export function openCursor(sql: Statements, t: SqliteTables, topic: string, name: string, fromLatest: boolean, nowMs: number): number {
  const start = fromLatest ? newestEventId(t) : "0";
  sql.run(
    `INSERT INTO ${t.cursors} (topic, name, event_id, updated_at) VALUES (?, ?, ${start}, ?) ON CONFLICT (topic, name) DO NOTHING`,
    topic,
    name,
    nowMs,
  );
  const row = sql.get(`SELECT event_id FROM ${t.cursors} WHERE topic = ? AND name = ?`, topic, name);
  return integer(row?.event_id) ?? 0;
}

/** Where an ephemeral receiver starts, stored nowhere: 0 (the start), or with `fromLatest` the newest event id. */
export function ephemeralStart(sql: Statements, t: SqliteTables, fromLatest: boolean): number {
  return fromLatest ? (integer(sql.get(`SELECT ${newestEventId(t)} AS id`)?.id) ?? 0) : 0;
}

function newestEventId(t: SqliteTables): string {
  return `(SELECT COALESCE(MAX(id), 0) FROM ${t.events})`;
}

/** Stores `position` for receiver `name` on `topic`; a position never moves back. */
export function writeCursor(sql: Statements, t: SqliteTables, topic: string, name: string, position: number, nowMs: number): void {
  sql.run(
    `INSERT INTO ${t.cursors} (topic, name, event_id, updated_at) VALUES (?, ?, ?, ?)
     ON CONFLICT (topic, name) DO UPDATE SET event_id = max(event_id, excluded.event_id), updated_at = excluded.updated_at`,
    topic,
    name,
    position,
    nowMs,
  );
}

/**
 * Deletes the events of `topic` created before `olderThanMs`, and those every stored cursor of the
 * topic has passed that were created before `passedOlderThanMs`. A topic without cursors loses
 * only what is too old. Ephemeral receivers store no cursor, so they hold nothing back.
 */
export function trimEvents(sql: Statements, t: SqliteTables, topic: string, cutoffs: TrimCutoffs): void {
  sql.run(
    `DELETE FROM ${t.events} WHERE topic = ? AND (created_at < ?
       OR (created_at < ? AND id <= (SELECT MIN(event_id) FROM ${t.cursors} WHERE topic = ?)))`,
    topic,
    cutoffs.olderThanMs,
    cutoffs.passedOlderThanMs,
    topic,
  );
}
