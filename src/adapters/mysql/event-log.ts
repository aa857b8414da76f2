import { SchemaMissingError } from "../../errors.js";
import type { Event, Headers } from "../../event.js";
import type { TrimCutoffs } from "../../retention.js";
import { datetimeBound, fromDatetime, toDatetime, toText } from "./columns.js";
import { headersFromJson } from "../../stored-headers.js";
import { select, write, type MysqlQueryable } from "./driver.js";
import type { MysqlTables } from "./schema.js";

// The events table is one log for every topic, read by id: a receiver asks for the events of its
// topic with an id above the last one it read.
//
// THE GAP GUARANTEE. An AUTO_INCREMENT id is handed out when a row is inserted, but the row becomes
// visible only when its transaction commits. Two writers can therefore commit out of id order: a
// reader could read id 8, move its position to 8, and only then see id 7 commit, which it would
// skip for ever.
//
// We make that impossible rather than detect it: every transaction that writes an event first
// locks the single row of `<prefix>events_lock` (SELECT … FOR UPDATE) and only then inserts. The
// row lock is held until the transaction ends, so at most one event-writing transaction is
// between "id allocated" and "committed or rolled back" at any time, and the next writer gets its
// id only after the previous one has finished. Commit order is id order. A reader whose snapshot
// shows id 8 therefore sees every lower id that will ever exist: each was committed (visible in
// the same snapshot) or rolled back (a hole that never fills) before 8 was even allocated. So a
// reader needs no gap tracking; it reads `id > position ORDER BY id`.
//
// The price is that event writes are serialised per events table: the lock is taken last in a
// transaction (after every record of a batch is written) and held only for one INSERT of the
// transaction's events and the COMMIT.
// The alternative, letting writers run free and making readers stop before a gap until every
// transaction that was open when the gap was seen has ended (information_schema.innodb_trx), needs
// the PROCESS privilege and a time-based wait for holes left by rollbacks; we chose the lock.
// Multi-primary clusters (Galera, group replication) do not honour the lock across nodes; write
// events through one primary.

/** An event to append: what a sender sends, or what a record store writes beside a record. */
export interface NewEvent {
  topic: string;
  foreignId: string;
  type: number;
  headers: Headers;
  createdAt: Date;
}

/**
 * Appends `events`, in order, inside the caller's open transaction on `connection`, after taking
 * the events lock: one lock and one INSERT however many there are. The caller commits; the lock is
 * released then. Must be the last thing the transaction does, so that the lock is held as briefly
 * as possible: every event writer of the table waits for it.
 */
export async function appendEvents(connection: MysqlQueryable, tables: MysqlTables, events: readonly NewEvent[]): Promise<void> {
  if (events.length === 0) return;
  const locked = await select(connection, `SELECT id FROM \`${tables.eventsLock}\` WHERE id = 1 FOR UPDATE`, [], tables.eventsLock);
  // Without the row there is nothing to lock, and writers would no longer commit in id order.
  if (locked.length === 0) throw new SchemaMissingError(tables.eventsLock);
  // One statement's rows get their ids in the order they are listed.
  await write(
    connection,
    `INSERT INTO \`${tables.events}\` (topic, foreign_id, type, headers, created_at) VALUES ${events.map(() => "(?, ?, ?, ?, ?)").join(", ")}`,
    events.flatMap((event) => [event.topic, event.foreignId, event.type, JSON.stringify(event.headers), toDatetime(event.createdAt, "the event's createdAt")]),
    tables.events,
  );
}

/** Up to `limit` events of `topic` with an id above `after`, in id order. */
export async function readEvents(db: MysqlQueryable, tables: MysqlTables, topic: string, after: bigint, limit: number): Promise<Event[]> {
  const rows = await select(
    db,
    `SELECT CAST(id AS CHAR) AS id, foreign_id, type, headers, CAST(created_at AS CHAR) AS created_at
       FROM \`${tables.events}\` e WHERE e.topic = ? AND e.id > CAST(? AS UNSIGNED) ORDER BY e.id LIMIT ${limit}`,
    [topic, after.toString()],
    tables.events,
  );
  // A row no sender wrote still decodes, its unreadable parts as empty: had it thrown, the receiver
  // would read it again forever and every later event of its topic would wait behind it. Without a
  // run id the engine lets it go as a missing run.
  return rows.map((row) => ({
    id: String(row.id),
    foreignId: toText(row.foreign_id) ?? "",
    type: typeof row.type === "number" ? row.type : 0,
    headers: headersFromJson(toText(row.headers)) ?? {},
    createdAt: fromDatetime(row.created_at) ?? new Date(0),
  }));
}

/** The id of the newest event of `topic` (0 when it has none): where streaming from latest starts. */
export async function latestEventId(db: MysqlQueryable, tables: MysqlTables, topic: string): Promise<bigint> {
  const [row] = await select(
    db,
    `SELECT CAST(COALESCE(MAX(id), 0) AS CHAR) AS id FROM \`${tables.events}\` WHERE topic = ?`,
    [topic],
    tables.events,
  );
  return BigInt(String(row?.id ?? "0"));
}

/** The stored position of receiver `name` on `topic`, or undefined when the name has none. */
export async function readCursor(db: MysqlQueryable, tables: MysqlTables, topic: string, name: string): Promise<bigint | undefined> {
  const [row] = await select(
    db,
    `SELECT CAST(position AS CHAR) AS position FROM \`${tables.cursors}\` WHERE topic = ? AND name = ?`,
    [topic, name],
    tables.cursors,
  );
  return row === undefined ? undefined : BigInt(String(row.position));
}

/** Stores `position` for receiver `name` on `topic`; a position never moves back. */
export async function writeCursor(db: MysqlQueryable, tables: MysqlTables, topic: string, name: string, position: bigint, now: Date): Promise<void> {
  const at = toDatetime(now, "the cursor's updated_at");
  const value = position.toString();
  await write(
    db,
    `INSERT INTO \`${tables.cursors}\` (topic, name, position, updated_at) VALUES (?, ?, CAST(? AS UNSIGNED), ?)
       ON DUPLICATE KEY UPDATE position = GREATEST(position, CAST(? AS UNSIGNED)), updated_at = ?`,
    [topic, name, value, at, value, at],
    tables.cursors,
  );
}

/**
 * Deletes the events of `topic` created before `olderThanMs`, and those every stored cursor of the
 * topic has passed that were created before `passedOlderThanMs`. A topic without cursors loses
 * only what is too old. Ephemeral receivers store no cursor, so they hold nothing back.
 */
export async function trimEvents(db: MysqlQueryable, tables: MysqlTables, topic: string, cutoffs: TrimCutoffs): Promise<void> {
  await write(
    db,
    `DELETE FROM \`${tables.events}\` WHERE topic = ? AND (created_at < ?
       OR (created_at < ? AND id <= (SELECT MIN(position) FROM \`${tables.cursors}\` WHERE topic = ?)))`,
    [topic, datetimeBound(new Date(cutoffs.olderThanMs)), datetimeBound(new Date(cutoffs.passedOlderThanMs)), topic],
    tables.events,
  );
}
