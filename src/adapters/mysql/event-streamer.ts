import { systemClock, type Clock } from "../../clock.js";
import type { EventReceiver, EventSender, EventStreamer, Headers, ReceiverOptions } from "../../event.js";
import { ClosedError, InvalidOptionError } from "../../errors.js";
import { Trimmer, type Retention } from "../../retention.js";
import { inTransaction, type MysqlPool } from "./driver.js";
import { appendEvents, latestEventId, readCursor, trimEvents } from "./event-log.js";
import { MysqlEventReceiver, type ReceiverContext } from "./event-receiver.js";
import { Notifier } from "./notifier.js";
import { defaultPrefix, mysqlTables, type MysqlTables } from "./schema.js";

/** Options of {@link MysqlEventStreamer}. */
export interface MysqlEventStreamerOptions {
  /** The user's mysql2 promise pool; never ended by stepwise. */
  pool: MysqlPool;
  /** Prefix of every table name, as given to `migrate`. Default `"stepwise_"`. */
  prefix?: string;
  /** Stamps `Event.createdAt`. Default: the system clock. */
  clock?: Clock;
  /** How many events a receiver reads per query. Default 100. */
  batchSize?: number;
  /**
   * A receiver writes its position after this many acks, besides before it waits idle and on
   * close. Default 100; 1 writes on every ack. After a crash, up to this many acked events may be
   * delivered again.
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
 * An {@link EventStreamer} over two tables: `<prefix>events`, one log of every topic's events by
 * id, and `<prefix>cursors`, each receiver name's position per topic. A receiver's name is its
 * durable position; `streamFromLatest` applies only to a name with no stored position.
 *
 * MySQL cannot push, so receivers poll: every `pollingFrequency` (default 500 ms) while idle, at
 * once again while they find events, and at once when this process commits an event on their
 * topic (through a sender of this streamer, or a record store given {@link MysqlEventStreamer.notify}
 * as `onEventCommitted`, as the `mysql()` bundle does).
 *
 * Events are never skipped, even when concurrent writers commit out of id order: every writer
 * takes one lock row before inserting, so events commit in id order (see `event-log.ts`).
 * Receivers batch their position writes (see `cursorWriteEvery`).
 *
 * The table is trimmed by `retention` (on by default): events every receiver name of a topic has
 * passed, and events older than 7 days, are deleted by the receivers as they ack.
 *
 * Senders and receivers borrow pool connections per query and hold none. `close()` closes the
 * receivers this streamer opened, storing their positions; call it after `wf.stop()`.
 *
 * @example
 * ```ts
 * const streamer = new MysqlEventStreamer({ pool });
 * const receiver = await streamer.newReceiver("orders-1", "shipper");
 * await (await streamer.newSender("orders-1")).send("order-1", 1, {});
 * const { event, ack } = await receiver.recv(AbortSignal.timeout(5_000));
 * await ack();
 * await streamer.close();
 * ```
 */
export class MysqlEventStreamer implements EventStreamer {
  private readonly pool: MysqlPool;
  private readonly tables: MysqlTables;
  private readonly clock: Clock;
  private readonly notifier = new Notifier();
  private readonly batchSize: number;
  private readonly cursorWriteEvery: number;
  private readonly receivers = new Set<MysqlEventReceiver>();
  private readonly context: ReceiverContext;

  constructor(options: MysqlEventStreamerOptions) {
    this.pool = options.pool;
    this.tables = mysqlTables(options.prefix ?? defaultPrefix);
    this.clock = options.clock ?? systemClock;
    this.batchSize = positiveWhole(options.batchSize ?? 100, "batchSize");
    this.cursorWriteEvery = positiveWhole(options.cursorWriteEvery ?? 100, "cursorWriteEvery");
    this.context = {
      db: this.pool,
      tables: this.tables,
      notifier: this.notifier,
      clock: this.clock,
      closed: (receiver) => this.receivers.delete(receiver),
      trimmer: new Trimmer(options.retention, (topic, cutoffs) => trimEvents(this.pool, this.tables, topic, cutoffs), () => this.clock.now().getTime()),
    };
  }

  /** A sender for `topic`. */
  async newSender(topic: string): Promise<EventSender> {
    return new MysqlEventSender(this.pool, this.tables, this.notifier, this.clock, topic);
  }

  /**
   * A receiver for `topic` under the durable name `name`: it resumes after the last event that
   * name acked; a name without a stored position starts at the oldest event, or with
   * `streamFromLatest` after the newest one. `pollingFrequency` (ms, default 500) is how long an
   * idle receiver waits between reads. An `ephemeral` receiver keeps its position in memory only:
   * it writes no cursor row, so nothing of it is left once it closes or its process dies.
   */
  async newReceiver(topic: string, name: string, options: ReceiverOptions = {}): Promise<EventReceiver> {
    const pollingFrequencyMs = options.pollingFrequency ?? defaultPollingFrequencyMs;
    const durable = options.ephemeral !== true;
    const stored = durable ? await readCursor(this.pool, this.tables, topic, name) : undefined;
    const start = stored ?? (options.streamFromLatest ? await latestEventId(this.pool, this.tables, topic) : 0n);
    const settings = { pollingFrequencyMs, batchSize: this.batchSize, cursorWriteEvery: this.cursorWriteEvery, durable };
    const receiver = new MysqlEventReceiver(this.context, settings, topic, name, start, stored);
    this.receivers.add(receiver);
    return receiver;
  }

  /**
   * Wakes this streamer's receivers of `topic` to read now: an event was committed on it by this
   * process outside the streamer's own senders. Pass it to a record store as `onEventCommitted`.
   */
  readonly notify = (topic: string): void => {
    this.notifier.notify(topic);
  };

  /** Closes every receiver this streamer opened, storing their positions. Holds no connections. Idempotent. */
  async close(): Promise<void> {
    await Promise.all([...this.receivers].map((receiver) => receiver.close()));
  }
}

function positiveWhole(value: number, what: string): number {
  if (!Number.isSafeInteger(value) || value < 1) throw new InvalidOptionError(what, `MysqlEventStreamer: ${what} must be a whole number of at least 1, got ${String(value)}`);
  return value;
}

/** Publishes on one topic of a {@link MysqlEventStreamer}. Made by `newSender`. */
export class MysqlEventSender implements EventSender {
  private closed = false;

  constructor(
    private readonly pool: MysqlPool,
    private readonly tables: MysqlTables,
    private readonly notifier: Notifier,
    private readonly clock: Clock,
    private readonly topic: string,
  ) {}

  /**
   * Appends the event to the events table in a transaction of its own (holding the events lock
   * for its INSERT and COMMIT, see `event-log.ts`). Rejects once the sender is closed.
   */
  async send(foreignId: string, type: number, headers: Headers): Promise<void> {
    if (this.closed) throw new ClosedError(`mysql event sender for topic "${this.topic}"`, "send");
    const event = { topic: this.topic, foreignId, type, headers, createdAt: this.clock.now() };
    await inTransaction(this.pool, (connection) => appendEvents(connection, this.tables, [event]));
    this.notifier.notify(this.topic);
  }

  /** Refuses later sends. Holds no connection between sends, so there is nothing else to release. Idempotent. */
  async close(): Promise<void> {
    this.closed = true;
  }
}
