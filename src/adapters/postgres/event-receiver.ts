import { waitOver } from "../../abort.js";
import { systemClock } from "../../clock.js";
import type { Delivery, Event, EventReceiver, Headers } from "../../event.js";
import { ClosedError } from "../../errors.js";
import type { Trimmer } from "../../retention.js";
import type { PgPool } from "./driver.js";
import { translateError } from "./errors.js";
import type { Notifier } from "./notifier.js";
import { statement, withValues, type Statement } from "./prepared.js";
import type { Tables } from "./tables.js";
import { storedHeaders } from "../../stored-headers.js";

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
/** Acks between two writes of the cursor while events keep coming. */
const flushEveryAcks = 100;
/**
 * An idle receiver writes its cursor at most this often; it is always written on close. A crash
 * re-delivers at most what was acked since, which the engine's version checks make harmless.
 */
const flushIdleAfterMs = 1000;
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
  /** Whether the position is stored for the name; false for an ephemeral receiver. */
  readonly #durable: boolean;
  readonly #trimmer: Trimmer;
  readonly #read: Statement;
  readonly #flushCursor: Statement;
  /** A snapshot (as text) whose committed events are skipped: those before a streamFromLatest start. */
  readonly #skipCommittedBy: string | null;
  /** Where the next read starts: moves on recv. */
  #position: Position;
  /** The last acked position, and the last one written to the cursors table. */
  #acked: Position;
  #flushed: Position;
  #acksSinceFlush = 0;
  /** The cursor write in flight, if any: the next one waits for it. */
  #flushing: Promise<void> = Promise.resolve();
  #flushedAtMs = 0;
  #buffer: { event: Event; position: Position }[] = [];
  #closed = false;

  constructor(options: {
    pool: PgPool;
    tables: Tables;
    notifier: Notifier;
    topic: string;
    name: string;
    position: Position;
    skipCommittedBy: string | null;
    pollingFrequencyMs: number;
    durable: boolean;
    /** Trims the events table now and then, after a durable receiver stored its position. */
    trimmer: Trimmer;
  }) {
    this.#pool = options.pool;
    this.#t = options.tables;
    this.#notifier = options.notifier;
    this.#topic = options.topic;
    this.#name = options.name;
    this.#pollingFrequencyMs = options.pollingFrequencyMs;
    this.#durable = options.durable;
    this.#trimmer = options.trimmer;
    this.#position = options.position;
    this.#skipCommittedBy = options.skipCommittedBy;
    this.#acked = options.position;
    this.#flushed = options.position;
    const events = this.#t.events;
    // Qualified columns: ordering by the text aliases would put "10" before "9". When nothing is
    // ready, one row with a null id says whether later events exist that older transactions hold back.
    this.#read = statement(`WITH ready AS (
        SELECT e.id AS id_order, e.tx AS tx_order, e.id::text AS id, e.tx::text AS tx, e.foreign_id, e.type, e.headers, e.created_at
        FROM ${events} e
        WHERE e.topic = $1 AND (e.tx, e.id) > ($2::xid8, $3::bigint) AND e.tx < pg_snapshot_xmin(pg_current_snapshot())
          AND NOT coalesce(pg_visible_in_snapshot(e.tx, $4::pg_snapshot), false)
        ORDER BY e.tx, e.id LIMIT ${batchSize}
      )
      SELECT e.tx_order, e.id_order, e.id, e.tx, e.foreign_id, e.type, e.headers, e.created_at, false AS held
      FROM ready e
      UNION ALL
      SELECT NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
        EXISTS (SELECT 1 FROM ${events} h WHERE h.topic = $1 AND (h.tx, h.id) > ($2::xid8, $3::bigint)
          AND NOT coalesce(pg_visible_in_snapshot(h.tx, $4::pg_snapshot), false))
      WHERE NOT EXISTS (SELECT 1 FROM ready)
      ORDER BY tx_order, id_order`);
    this.#flushCursor = statement(`UPDATE ${this.#t.cursors} SET tx = $3::xid8, id = $4::bigint WHERE topic = $1 AND name = $2`);
    this.#notifier.acquire();
  }

  async recv(signal: AbortSignal): Promise<Delivery<Event>> {
    for (;;) {
      if (this.#closed) throw new ClosedError(`postgres event receiver "${this.#name}" on topic "${this.#topic}"`, "recv");
      signal.throwIfAborted();
      const next = this.#buffer.shift();
      if (next) {
        this.#position = next.position;
        return { event: next.event, ack: () => this.#ack(next.position) };
      }
      const rows = await this.#query<EventRow & { held: boolean }>(this.#read, [this.#topic, this.#position.tx, this.#position.id, this.#skipCommittedBy]);
      const first = rows[0];
      if (first && first.id !== null) {
        this.#buffer = rows.map((row) => ({
          position: { tx: row.tx, id: row.id },
          // jsonb holds any JSON: a row no sender wrote may hold null, or a number for a run id.
          event: { id: row.id, foreignId: row.foreign_id, type: row.type, headers: storedHeaders(row.headers) ?? {}, createdAt: row.created_at },
        }));
        continue;
      }
      if (Date.now() - this.#flushedAtMs >= flushIdleAfterMs) await this.#flush();
      await this.#waitForWork(first?.held ?? false, signal);
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

  /**
   * Writes the acked position if it moved. Writes run one after another, so a later position is
   * never overwritten by an earlier one, and the acks of a batch arriving together share a write.
   */
  #flush(): Promise<void> {
    this.#acksSinceFlush = 0;
    const flushing = this.#flushing.then(async () => {
      const acked = this.#acked;
      if (!this.#durable || !isAfter(acked, this.#flushed)) return;
      await this.#query(this.#flushCursor, [this.#topic, this.#name, acked.tx, acked.id]);
      this.#flushed = acked;
      this.#flushedAtMs = Date.now();
      // Trimming reads the stored cursors, so it follows a write of this one.
      await this.#trimmer.afterAck(this.#topic);
    });
    this.#flushing = flushing.catch(() => {});
    return flushing;
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
      done.abort(waitOver);
    }
  }

  async #query<R>(query: Statement, values: unknown[]): Promise<R[]> {
    try {
      return (await this.#pool.query<R>(withValues(query, values))).rows;
    } catch (err) {
      throw translateError(err, this.#t, "events");
    }
  }
}

