import { throwIfAborted, untilAborted, untilWoken, waitOver } from "../../abort.js";
import { systemClock, type Clock } from "../../clock.js";
import type { Delivery, Event, EventReceiver } from "../../event.js";
import { ClosedError } from "../../errors.js";
import type { Trimmer } from "../../retention.js";
import type { MysqlQueryable } from "./driver.js";
import { readEvents, writeCursor } from "./event-log.js";
import type { Notifier } from "./notifier.js";
import type { MysqlTables } from "./schema.js";

/** What a receiver shares with its {@link MysqlEventStreamer}. */
export interface ReceiverContext {
  db: MysqlQueryable;
  tables: MysqlTables;
  notifier: Notifier;
  clock: Clock;
  /** Called once when the receiver closes, so the streamer forgets it. */
  closed(receiver: MysqlEventReceiver): void;
  /** Trims the events table now and then, after durable receivers' acks. */
  trimmer: Trimmer;
}

/** How a receiver reads and stores its position. */
export interface ReceiverSettings {
  pollingFrequencyMs: number;
  batchSize: number;
  cursorWriteEvery: number;
  /** Whether the position is stored for the name; false for an ephemeral receiver. */
  durable: boolean;
}

/**
 * Reads one topic of a {@link MysqlEventStreamer} under a durable name. Made by `newReceiver`.
 *
 * It reads the events table in batches of ids above the last one read, hands them out one at a
 * time, and reads again at once while it finds events; when a read finds none it waits for
 * `pollingFrequency`, or less when this process commits an event on the topic.
 *
 * Acks move the name's position in memory; the position is written to the cursors table every
 * `cursorWriteEvery` acks, before the receiver waits idle, and on close. A new receiver of the
 * same name therefore resumes right after the last acked event once the previous one closed;
 * after a crash it may get up to `cursorWriteEvery` acked events again, which the engine's
 * version checks make harmless.
 */
export class MysqlEventReceiver implements EventReceiver {
  private closing: Promise<void> | undefined;
  private readonly buffer: Event[] = [];
  /** Id of the last event read from the table. */
  private readPosition: bigint;
  /** Id of the last event acked (or where the receiver started). */
  private ackedPosition: bigint;
  /** Position stored in the cursors table; -1 while the name has none. */
  private storedPosition: bigint;
  private acksSinceWrite = 0;
  private reading: Promise<number> | undefined;
  /** The cursor write in progress (or the last one), so writes never overtake each other. */
  private writing: Promise<void> = Promise.resolve();
  private readonly wakers = new Set<() => void>();

  constructor(
    private readonly context: ReceiverContext,
    private readonly settings: ReceiverSettings,
    private readonly topic: string,
    private readonly name: string,
    start: bigint,
    stored: bigint | undefined,
  ) {
    this.readPosition = start;
    this.ackedPosition = start;
    this.storedPosition = stored ?? -1n;
  }

  /**
   * Resolves with the next event, reading the table when none is buffered and polling while it
   * finds none. Rejects with the signal's reason when it aborts, and with an Error once the
   * receiver is closed.
   */
  async recv(signal: AbortSignal): Promise<Delivery<Event>> {
    for (;;) {
      this.throwIfClosed();
      throwIfAborted(signal);
      const event = this.buffer.shift();
      if (event !== undefined) return { event, ack: () => this.ack(event.id) };
      // Taken before reading: a commit notified while the read runs must not be slept through.
      const notified = this.context.notifier.count(this.topic);
      if ((await untilAborted(this.read(), signal)) > 0) continue;
      // Going idle: store the position now, so a receiver of this name elsewhere starts from it.
      await untilAborted(this.writeCursor(), signal);
      this.throwIfClosed();
      if (this.context.notifier.count(this.topic) === notified) await this.idle(signal);
    }
  }

  /**
   * Stores the position of the last acked event and makes later (and waiting) `recv` calls reject.
   * Acks of events already received still count. Idempotent.
   */
  close(): Promise<void> {
    if (this.closing === undefined) {
      this.closing = this.writeCursor();
      this.context.closed(this);
      for (const wake of this.wakers) wake();
    }
    return this.closing;
  }

  private async ack(id: string): Promise<void> {
    const position = BigInt(id);
    // An ack can arrive late or out of order (a re-delivered event acked twice); never move back.
    if (position > this.ackedPosition) this.ackedPosition = position;
    if (this.closing !== undefined || ++this.acksSinceWrite >= this.settings.cursorWriteEvery) await this.writeCursor();
    if (this.settings.durable) await this.context.trimmer.afterAck(this.topic);
  }

  /** Reads the next batch into the buffer; one read at a time, shared by callers. Resolves with how many it found. */
  private read(): Promise<number> {
    this.reading ??= (async () => {
      try {
        const events = await readEvents(this.context.db, this.context.tables, this.topic, this.readPosition, this.settings.batchSize);
        const last = events[events.length - 1];
        if (last !== undefined) this.readPosition = BigInt(last.id);
        this.buffer.push(...events);
        return events.length;
      } finally {
        this.reading = undefined;
      }
    })();
    return this.reading;
  }

  /** Writes the acked position if it moved; writes run one after another. */
  private writeCursor(): Promise<void> {
    this.acksSinceWrite = 0;
    const write = async () => {
      const position = this.ackedPosition;
      if (!this.settings.durable || position <= this.storedPosition) return;
      const { db, tables, clock } = this.context;
      await writeCursor(db, tables, this.topic, this.name, position, clock.now());
      if (position > this.storedPosition) this.storedPosition = position;
    };
    const next = this.writing.then(write, write);
    this.writing = next.catch(() => undefined); // a failed write is retried by the next one
    return next;
  }

  /** Waits `pollingFrequency`, or until this process commits on the topic, the receiver closes or the signal aborts. */
  private idle(signal: AbortSignal): Promise<void> {
    return untilWoken((wake) => {
      const timer = new AbortController();
      this.context.notifier.wait(this.topic, wake);
      this.wakers.add(wake);
      systemClock.sleep(this.settings.pollingFrequencyMs, timer.signal).then(wake, () => undefined);
      return () => {
        timer.abort(waitOver);
        this.context.notifier.unwait(this.topic, wake);
        this.wakers.delete(wake);
      };
    }, signal);
  }

  private throwIfClosed(): void {
    if (this.closing !== undefined) {
      throw new ClosedError(`mysql event receiver "${this.name}" on topic "${this.topic}"`, "recv");
    }
  }
}
