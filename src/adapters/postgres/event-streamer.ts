import type { EventReceiver, EventSender, EventStreamer, Headers, ReceiverOptions } from "../../event.js";
import type { Logger } from "../../logger.js";
import { OpenParts } from "../../open-parts.js";
import { ClosedError } from "../../errors.js";
import { Trimmer, type Retention, type TrimCutoffs } from "../../retention.js";
import { systemClock } from "../../clock.js";
import type { PgPool, PostgresOptions } from "./driver.js";
import { translateError } from "./errors.js";
import { PostgresEventReceiver, type Position } from "./event-receiver.js";
import { Notifier } from "./notifier.js";
import { tables, type Tables } from "./tables.js";

/** Where a new receiver starts, and the snapshot whose committed events it skips, if any. */
interface Start {
  position: Position;
  skipCommittedBy: string | null;
}

const fromOldest: Start = { position: { tx: "0", id: "0" }, skipCommittedBy: null };

/** Options of {@link PostgresEventStreamer}. */
export interface PostgresEventStreamerOptions extends PostgresOptions {
  /** Where a broken LISTEN connection is reported. */
  logger?: Logger;
  /** Wakes receivers; `postgres()` shares one with the record store. */
  notifier?: Notifier;
  /**
   * How the events table is trimmed: after an ack, at most once a minute per topic, a receiver
   * deletes the topic's events every receiver name has passed and those older than 7 days (see
   * `RetentionOptions` in "stepwise"; ages compare this process's clock with the server's
   * `created_at`). `false` keeps every event. Default `{}`, the defaults.
   */
  retention?: Retention;
}

/**
 * An {@link EventStreamer} on a PostgreSQL table: events are rows, a receiver's name is a durable
 * cursor, and receivers wake on LISTEN/NOTIFY, polling only as a fallback. Readers take events
 * in (transaction id, id) order and only from transactions older than every one still in flight,
 * so an event committed out of id order by a concurrent writer is never skipped.
 *
 * With {@link PostgresRecordStore} in `events: "table"` mode, a record and its event are written
 * in one transaction and no outbox process is needed; `postgres({ pool })` sets that up.
 *
 * The table is trimmed by `retention` (on by default): events every receiver name of a topic has
 * passed, and events older than 7 days, are deleted by the receivers as they ack. An `ephemeral`
 * receiver stores no cursor, so it holds nothing back.
 */
export class PostgresEventStreamer implements EventStreamer {
  readonly #pool: PgPool;
  readonly #t: Tables;
  readonly #notifier: Notifier;
  readonly #sendSql: string;
  readonly #open = new OpenParts();
  readonly #trimmer: Trimmer;

  constructor(options: PostgresEventStreamerOptions) {
    this.#pool = options.pool;
    this.#t = tables(options);
    this.#notifier = options.notifier ?? new Notifier(options.pool, this.#t.channel, options.logger);
    this.#trimmer = new Trimmer(options.retention, (topic, cutoffs) => this.#trim(topic, cutoffs), () => systemClock.now().getTime());
    this.#sendSql = `INSERT INTO ${this.#t.events} (topic, foreign_id, type, headers) VALUES ($1, $2, $3, $4::jsonb)`;
  }

  async newSender(topic: string): Promise<EventSender> {
    let closed = false;
    return {
      send: async (foreignId: string, type: number, headers: Headers) => {
        if (closed) throw new ClosedError(`postgres event sender for topic "${topic}"`, "send");
        await this.#pool.query(this.#sendSql, [topic, foreignId, type, JSON.stringify(headers)]).catch((err: unknown) => {
          throw translateError(err, this.#t, "events");
        });
        this.#notifier.publish(topic);
      },
      close: async () => {
        closed = true;
      },
    };
  }

  /**
   * A receiver for `topic` under the durable name `name`, or with `ephemeral` one whose position
   * lives in memory only: it writes no cursor row, so nothing of it is left once it closes or its
   * process dies.
   */
  async newReceiver(topic: string, name: string, options: ReceiverOptions = {}): Promise<EventReceiver> {
    const t = this.#t;
    const fromLatest = options.streamFromLatest === true;
    const durable = options.ephemeral !== true;
    const { position, skipCommittedBy } = durable ? await this.#openCursor(topic, name, fromLatest) : await this.#start(fromLatest);
    return this.#open.receiver(new PostgresEventReceiver({
      pool: this.#pool,
      tables: t,
      notifier: this.#notifier,
      topic,
      name,
      position,
      skipCommittedBy,
      pollingFrequencyMs: options.pollingFrequency ?? 500,
      durable,
      trimmer: this.#trimmer,
    }));
  }

  /** Closes every receiver this streamer opened that is still open. Never closes the user's pool. Idempotent. */
  close(): Promise<void> {
    return this.#open.close();
  }

  /** Deletes what `cutoffs` allow on `topic`: see {@link Trimmer}. A topic without cursors loses only what is too old. */
  async #trim(topic: string, cutoffs: TrimCutoffs): Promise<void> {
    const t = this.#t;
    await this.#pool
      .query(
        `DELETE FROM ${t.events} e WHERE e.topic = $1 AND (e.created_at < to_timestamp($2::float8 / 1000)
           OR (e.created_at < to_timestamp($3::float8 / 1000)
               AND EXISTS (SELECT 1 FROM ${t.cursors} c WHERE c.topic = $1)
               AND NOT EXISTS (SELECT 1 FROM ${t.cursors} c WHERE c.topic = $1 AND (e.tx, e.id) > (c.tx, c.id))))`,
        [topic, cutoffs.olderThanMs, cutoffs.passedOlderThanMs],
      )
      .catch((err: unknown) => {
        throw translateError(err, t, "events");
      });
  }

  async #start(fromLatest: boolean): Promise<Start> {
    if (!fromLatest) return fromOldest;
    const result = await this.#pool
      .query<{ tx: string; snapshot: string }>(
        `SELECT pg_snapshot_xmin(s)::text AS tx, s::text AS snapshot FROM (SELECT pg_current_snapshot() AS s) now`,
      )
      .catch((err: unknown) => {
        throw translateError(err, this.#t, "events");
      });
    const row = result.rows[0];
    return row ? { position: { tx: row.tx, id: "0" }, skipCommittedBy: row.snapshot } : fromOldest;
  }

  /**
   * The name's stored position, stored at once when new, so streamFromLatest decides only for a
   * name never seen. A new name streaming from latest starts at the oldest transaction then in
   * flight and skips the events already committed, so one committed just after is never missed.
   * The skipping is this receiver's alone: a receiver of the name opened before it acked anything
   * starts at that transaction and may see those earlier events.
   */
  async #openCursor(topic: string, name: string, fromLatest: boolean): Promise<Start> {
    const t = this.#t;
    const snapshot = fromLatest ? "pg_current_snapshot()" : "NULL::pg_snapshot";
    const start = fromLatest ? "pg_snapshot_xmin(now.s)" : "'0'::xid8";
    const result = await this.#pool
      .query<{ tx: string; id: string; snapshot: string | null }>(
        `WITH now AS (SELECT ${snapshot} AS s),
         created AS (
           INSERT INTO ${t.cursors} (topic, name, tx, id) SELECT $1, $2, ${start}, 0 FROM now
           ON CONFLICT (topic, name) DO NOTHING RETURNING tx::text, id::text
         )
         SELECT tx, id, (SELECT s::text FROM now) AS snapshot FROM created
         UNION ALL SELECT tx::text, id::text, NULL FROM ${t.cursors} WHERE topic = $1 AND name = $2`,
        [topic, name],
      )
      .catch((err: unknown) => {
        throw translateError(err, t, "cursors");
      });
    const row = result.rows[0];
    return row ? { position: { tx: row.tx, id: row.id }, skipCommittedBy: row.snapshot } : fromOldest;
  }
}
