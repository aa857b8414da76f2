import { systemClock, type Clock } from "../../clock.js";
import type { EventReceiver, EventSender, EventStreamer, Headers, ReceiverOptions } from "../../event.js";
import { ClosedError, InvalidOptionError } from "../../errors.js";
import type { SqliteDatabase } from "./driver.js";
import { Trimmer, type Retention } from "../../retention.js";
import { appendEvent, ephemeralStart, openCursor, trimEvents } from "./event-log.js";
import { SqliteEventReceiver, type ReceiverContext } from "./event-receiver.js";
import { Notifier } from "./notifier.js";
import { defaultPrefix, sqliteTables, type SqliteTables } from "./schema.js";
import { Statements } from "./statements.js";

/** Options of {@link SqliteEventStreamer}. */
export interface SqliteEventStreamerOptions {
  /** The better-sqlite3 database; never closed by the streamer. Run `migrate(db)` first. */
  db: SqliteDatabase;
  /** Prefix of every table name, as given to `migrate`. Default `"stepwise_"`. */
  prefix?: string;
  /** Stamps `Event.createdAt` of sent events. Default: the system clock. */
  clock?: Clock;
  /** How many events a receiver reads per query. Default 200. */
  batchSize?: number;
  /**
   * A receiver writes its position after this many acks, besides when it goes idle (at most once a
   * second) and on close. Default 100; 1 writes on every ack. After a crash, up to this many acked
   * events may be delivered again, which the engine's version checks make harmless.
   */
  cursorWriteEvery?: number;
  /**
   * How the events table is trimmed: after an ack, at most once a minute per topic, a receiver
   * deletes the topic's events every receiver name has passed and those older than 7 days (see
   * `RetentionOptions` in "stepwise"). `false` keeps every event. Default `{}`, the defaults.
   */
  retention?: Retention;
}

/** The default `pollingFrequency` of receivers, in ms. */
const defaultPollingFrequencyMs = 500;

/**
 * An {@link EventStreamer} over two tables of a SQLite file: `<prefix>events`, one log of every
 * topic's events by id, and `<prefix>cursors`, each receiver name's position per topic. A receiver's
 * name is its durable position; `streamFromLatest` applies only to a name with no stored position.
 *
 * Delivery is pushed within the process: a send through this streamer, or a store by a record
 * store given {@link SqliteEventStreamer.notify} as `onEventCommitted` (the `sqlite()` bundle wires
 * that), wakes the topic's waiting receivers at once. Only events written by other processes on the
 * same file are found by polling, every `pollingFrequency` (default 500 ms), and a poll that finds
 * the file unchanged costs one `PRAGMA data_version`.
 *
 * SQLite admits one writer at a time, so events commit in id order and no reader ever skips one.
 * The table is trimmed by `retention` (on by default): events every receiver name of a topic has
 * passed, and events older than 7 days, are deleted by the receivers as they ack.
 *
 * @example
 * ```ts
 * const streamer = new SqliteEventStreamer({ db });
 * const receiver = await streamer.newReceiver("orders-1", "shipper");
 * await (await streamer.newSender("orders-1")).send("order-1", 1, {});
 * const { event, ack } = await receiver.recv(AbortSignal.timeout(5_000));
 * await ack();
 * await streamer.close();
 * ```
 */
export class SqliteEventStreamer implements EventStreamer {
  readonly #sql: Statements;
  readonly #t: SqliteTables;
  readonly #clock: Clock;
  readonly #notifier = new Notifier();
  readonly #batchSize: number;
  readonly #cursorWriteEvery: number;
  readonly #receivers = new Set<SqliteEventReceiver>();
  readonly #context: ReceiverContext;

  constructor(options: SqliteEventStreamerOptions) {
    this.#sql = new Statements(options.db);
    this.#t = sqliteTables(options.prefix ?? defaultPrefix);
    this.#clock = options.clock ?? systemClock;
    this.#batchSize = positiveWhole(options.batchSize ?? 200, "batchSize");
    this.#cursorWriteEvery = positiveWhole(options.cursorWriteEvery ?? 100, "cursorWriteEvery");
    const sql = this.#sql;
    this.#context = {
      sql,
      tables: this.#t,
      notifier: this.#notifier,
      changeMark: () => {
        // data_version moves when another connection (another process, or another Database on the
        // same file here) commits; total_changes() counts this connection's own writes.
        const row = sql.get("SELECT data_version AS v, total_changes() AS c FROM pragma_data_version");
        return `${String(row?.v)}:${String(row?.c)}`;
      },
      closed: (receiver) => this.#receivers.delete(receiver),
      trimmer: new Trimmer(options.retention, (topic, cutoffs) => trimEvents(sql, this.#t, topic, cutoffs), () => this.#clock.now().getTime()),
    };
  }

  /** A sender for `topic`: each send appends one event and wakes this process's receivers of the topic. */
  async newSender(topic: string): Promise<EventSender> {
    let closed = false;
    return {
      send: async (foreignId: string, type: number, headers: Headers) => {
        if (closed) throw new ClosedError(`sqlite event sender for topic "${topic}"`, "send");
        appendEvent(this.#sql, this.#t, topic, foreignId, type, headers, this.#clock.now().getTime());
        this.#notifier.notify(topic);
      },
      close: async () => {
        closed = true;
      },
    };
  }

  /**
   * A receiver for `topic` under the durable name `name`: it resumes after the last event that
   * name acked; a name without a stored position starts at the oldest event, or with
   * `streamFromLatest` after the newest one. `pollingFrequency` (ms, default 500) is how often an
   * idle receiver checks for events written by other processes. An `ephemeral` receiver keeps its
   * position in memory only: it writes no cursor row, so nothing of it is left once it closes or its
   * process dies.
   */
  async newReceiver(topic: string, name: string, options: ReceiverOptions = {}): Promise<EventReceiver> {
    const pollingFrequencyMs = options.pollingFrequency ?? defaultPollingFrequencyMs;
    if (!Number.isFinite(pollingFrequencyMs) || pollingFrequencyMs <= 0) {
      throw new InvalidOptionError("pollingFrequency", `SqliteEventStreamer: pollingFrequency must be a positive number of ms, got ${String(options.pollingFrequency)}`);
    }
    const fromLatest = options.streamFromLatest === true;
    const durable = options.ephemeral !== true;
    const start = durable ? openCursor(this.#sql, this.#t, topic, name, fromLatest, systemClock.now().getTime()) : ephemeralStart(this.#sql, this.#t, fromLatest);
    const settings = { pollingFrequencyMs, batchSize: this.#batchSize, cursorWriteEvery: this.#cursorWriteEvery, durable };
    const receiver = new SqliteEventReceiver(this.#context, settings, topic, name, start);
    this.#receivers.add(receiver);
    return receiver;
  }

  /**
   * Wakes this streamer's receivers of `topic` to read now: an event was committed on it by this
   * process outside the streamer's own senders. Pass it to {@link SqliteRecordStore} as
   * `onEventCommitted`; the `sqlite()` bundle does.
   */
  readonly notify = (topic: string): void => {
    this.#notifier.notify(topic);
  };

  /**
   * Closes every receiver this streamer opened, storing their positions. The work is done before
   * it returns (SQLite is synchronous); the promise reports a failed write. Idempotent.
   */
  close(): Promise<void> {
    return Promise.all([...this.#receivers].map((receiver) => receiver.close())).then(() => undefined);
  }
}

function positiveWhole(value: number, what: string): number {
  if (!Number.isSafeInteger(value) || value < 1) throw new InvalidOptionError(what, `SqliteEventStreamer: ${what} must be a whole number of at least 1, got ${String(value)}`);
  return value;
}
