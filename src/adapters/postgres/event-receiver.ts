import { systemClock } from "../../clock.js";
import type { Delivery, Event, EventReceiver, Headers } from "../../event.js";
import type { PgPool } from "./driver.js";
import { translateError } from "./errors.js";
import type { Notifier } from "./notifier.js";
import type { Tables } from "./tables.js";

/** A place in a topic: the writing transaction and the event id, compared in that order. */
export interface Position {
  tx: string;
  id: string;
}

interface EventRow {
  id: string;
  tx: string;
  foreign_id: string;
  type: number;
  headers: Headers;
  created_at: Date;
}

/** How many events one read takes. */
const batchSize = 200;
/** Acks between two writes of the cursor while events keep coming; it is also written before waiting and on close. */
const flushEveryAcks = 100;
/** How soon to look again when older transactions hold events back and no notification came. */
const heldBackRetryMs = 5;

function isAfter(a: Position, b: Position): boolean {
  const atx = BigInt(a.tx);
  const btx = BigInt(b.tx);
  return atx > btx || (atx === btx && BigInt(a.id) > BigInt(b.id));
}

/** Reads one topic of a {@link PostgresEventStreamer} under a durable name. Made by `newReceiver`. */
export class PostgresEventReceiver implements EventReceiver {
  readonly #pool: PgPool;
  readonly #t: Tables;
  readonly #notifier: Notifier;
  readonly #topic: string;
  readonly #name: string;
  readonly #pollingFrequencyMs: number;
  readonly #readSql: string;
  readonly #heldBackSql: string;
  /** Where the next read starts: moves on recv. */
  #read: Position;
  /** The last acked position, and the last one written to the cursors table. */
  #acked: Position;
  #flushed: Position;
  #acksSinceFlush = 0;
  #buffer: { event: Event; position: Position }[] = [];
  #closed = false;

  constructor(options: {
    pool: PgPool;
    tables: Tables;
    notifier: Notifier;
    topic: string;
    name: string;
    position: Position;
    pollingFrequencyMs: number;
  }) {
    this.#pool = options.pool;
    this.#t = options.tables;
    this.#notifier = options.notifier;
    this.#topic = options.topic;
    this.#name = options.name;
    this.#pollingFrequencyMs = options.pollingFrequencyMs;
    this.#read = options.position;
    this.#acked = options.position;
    this.#flushed = options.position;
    const events = this.#t.events;
    // Qualified columns: ordering by the text aliases would put "10" before "9".
    this.#readSql = `SELECT e.id::text AS id, e.tx::text AS tx, e.foreign_id, e.type, e.headers, e.created_at FROM ${events} e
      WHERE e.topic = $1 AND (e.tx, e.id) > ($2::xid8, $3::bigint) AND e.tx < pg_snapshot_xmin(pg_current_snapshot())
      ORDER BY e.tx, e.id LIMIT ${batchSize}`;
    this.#heldBackSql = `SELECT EXISTS (SELECT 1 FROM ${events} WHERE topic = $1 AND (tx, id) > ($2::xid8, $3::bigint)) AS held`;
    this.#notifier.acquire();
  }

  async recv(signal: AbortSignal): Promise<Delivery<Event>> {
    for (;;) {
      if (this.#closed) throw new Error(`postgres event receiver "${this.#name}" on topic "${this.#topic}" is closed: cannot recv`);
      signal.throwIfAborted();
      const next = this.#buffer.shift();
      if (next) {
        this.#read = next.position;
        return { event: next.event, ack: () => this.#ack(next.position) };
      }
      const rows = await this.#query<EventRow>(this.#readSql, [this.#topic, this.#read.tx, this.#read.id]);
      if (rows.length > 0) {
        this.#buffer = rows.map((row) => ({
          position: { tx: row.tx, id: row.id },
          event: { id: row.id, foreignId: row.foreign_id, type: row.type, headers: row.headers, createdAt: row.created_at },
        }));
        continue;
      }
      // Nothing to read: record our place before waiting, so a restart resumes here.
      await this.#flush();
      const heldBack = await this.#query<{ held: boolean }>(this.#heldBackSql, [this.#topic, this.#read.tx, this.#read.id]);
      await this.#waitForWork(heldBack[0]?.held ?? false, signal);
    }
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    try {
      await this.#flush();
    } finally {
      await this.#notifier.release();
    }
  }

  async #ack(position: Position): Promise<void> {
    // An ack can come late or twice (a re-delivered event): never move back.
    if (!isAfter(position, this.#acked)) return;
    this.#acked = position;
    if (++this.#acksSinceFlush >= flushEveryAcks) await this.#flush();
  }

  async #flush(): Promise<void> {
    const acked = this.#acked;
    if (!isAfter(acked, this.#flushed)) return;
    await this.#query(`UPDATE ${this.#t.cursors} SET tx = $3::xid8, id = $4::bigint WHERE topic = $1 AND name = $2`, [
      this.#topic,
      this.#name,
      acked.tx,
      acked.id,
    ]);
    this.#flushed = acked;
    this.#acksSinceFlush = 0;
  }

  /**
   * Waits for a notification on the topic, or on any topic while older transactions hold events
   * back (they may write elsewhere), or for the polling interval, or for the abort.
   */
  async #waitForWork(heldBack: boolean, signal: AbortSignal): Promise<void> {
    const done = new AbortController();
    let cancel: (() => void) | undefined;
    try {
      await Promise.race([
        new Promise<void>((resolve) => (cancel = this.#notifier.onNext(this.#topic, heldBack, resolve))),
        systemClock.sleep(heldBack ? heldBackRetryMs : this.#pollingFrequencyMs, AbortSignal.any([signal, done.signal])).catch(() => {}),
      ]);
    } finally {
      cancel?.();
      done.abort(stopWaiting);
    }
  }

  async #query<R>(sql: string, values: unknown[]): Promise<R[]> {
    try {
      return (await this.#pool.query<R>(sql, values)).rows;
    } catch (err) {
      throw translateError(err, this.#t, "events");
    }
  }
}

const stopWaiting = new Error("the wait is over");
