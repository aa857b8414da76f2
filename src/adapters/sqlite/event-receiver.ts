import { throwIfAborted, untilWoken } from "../../abort.js";
import { systemClock } from "../../clock.js";
import type { Delivery, Event, EventReceiver } from "../../event.js";
import { ClosedError } from "../../errors.js";
import type { Trimmer } from "../../retention.js";
import { readEvents, writeCursor } from "./event-log.js";
import type { Notifier } from "./notifier.js";
import type { SqliteTables } from "./schema.js";
import type { Statements } from "./statements.js";

/** What a receiver shares with its {@link SqliteEventStreamer}. */
export interface ReceiverContext {
  sql: Statements;
  tables: SqliteTables;
  notifier: Notifier;
  /** Changes whenever anything was committed to the file since the last call that returned the same value. */
  changeMark(): string;
  /** Called once when the receiver closes, so the streamer forgets it. */
  closed(receiver: SqliteEventReceiver): void;
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
 * An idle receiver writes its cursor at most this often; it is always written on close. A crash
 * re-delivers at most what was acked since, which the engine's version checks make harmless.
 */
const flushIdleAfterMs = 1000;

/** Ends the poll ticker's sleep on close; an abort without a reason would build a DOMException. */
const waitOver = new Error("the receiver was closed");

/**
 * Reads one topic of a {@link SqliteEventStreamer} under a durable name. Made by `newReceiver`.
 *
 * It reads the events table in batches of ids above the last one read and hands them out one at a
 * time. When it finds none it waits: a commit on its topic by this process wakes it at once; every
 * `pollingFrequency` it also asks SQLite whether anything was committed to the file at all
 * (`PRAGMA data_version`, which counts other connections' commits, and `total_changes()`, this
 * connection's), and reads only then, so an idle receiver costs almost nothing.
 *
 * Acks move the position in memory; it is written to the cursors table every `cursorWriteEvery`
 * acks, when the receiver goes idle at least a second after the last write, and on close.
 */
export class SqliteEventReceiver implements EventReceiver {
  readonly #context: ReceiverContext;
  readonly #settings: ReceiverSettings;
  readonly #topic: string;
  readonly #name: string;
  #buffer: Event[] = [];
  #next = 0;
  /** Id of the last event read from the table. */
  #readPosition: number;
  /** Id of the last event acked (or where the receiver started), and the one stored. */
  #acked: number;
  #stored: number;
  #acksSinceWrite = 0;
  #writtenAtMs: number;
  /** Whether to read the table when the buffer is empty, rather than wait. */
  #mustRead = true;
  /** The file's change mark, taken before the first read after each poll. */
  #mark = "";
  #markBeforeRead = true;
  /** The notifier's count of the topic when the table was last read. */
  #notifiedAtRead = -1;
  #closed = false;
  /** Waiting recv calls: woken by a commit or by close, and by the poll ticker. */
  readonly #wakers = new Set<() => void>();
  readonly #pollers = new Set<() => void>();
  #ticking = false;
  /** Ends the poll ticker's sleep when the receiver closes. */
  readonly #lifetime = new AbortController();

  constructor(context: ReceiverContext, settings: ReceiverSettings, topic: string, name: string, start: number) {
    this.#context = context;
    this.#settings = settings;
    this.#topic = topic;
    this.#name = name;
    this.#readPosition = start;
    this.#acked = start;
    this.#stored = start;
    this.#writtenAtMs = systemClock.now().getTime();
  }

  /**
   * Resolves with the next event, waiting for one when none is there. Rejects with the signal's
   * reason when it aborts, and with an Error once the receiver is closed.
   */
  async recv(signal: AbortSignal): Promise<Delivery<Event>> {
    for (;;) {
      this.#throwIfClosed();
      throwIfAborted(signal);
      const event = this.#buffer[this.#next];
      if (event !== undefined) {
        this.#next++;
        return { event, ack: () => this.#ack(event.id) };
      }
      if (this.#mustRead || this.#context.notifier.count(this.#topic) !== this.#notifiedAtRead) {
        this.#read();
        if (this.#buffer.length > 0) continue;
      }
      // Going idle: store the position if it has waited a while, so a receiver of this name
      // elsewhere (after a restart) starts from it.
      if (systemClock.now().getTime() - this.#writtenAtMs >= flushIdleAfterMs) this.#writeCursor();
      if (await this.#idle(signal)) {
        this.#mustRead = true;
      } else {
        // Polled: read only if something was committed to the file since the mark was taken, and
        // take a fresh mark before that read. Woken by this process's commits, the receiver keeps
        // its older mark: that can only cost an extra read at the next poll, never a missed event,
        // since the mark was taken before every read it stands for.
        this.#mustRead = this.#context.changeMark() !== this.#mark;
        this.#markBeforeRead = true;
      }
    }
  }

  /**
   * Stores the position of the last acked event and makes later (and waiting) `recv` calls reject.
   * Acks of events already received still count. Idempotent. The work is done before it returns.
   */
  close(): Promise<void> {
    if (this.#closed) return Promise.resolve();
    this.#closed = true;
    this.#context.closed(this);
    this.#lifetime.abort(waitOver);
    for (const wake of [...this.#wakers]) wake();
    try {
      this.#writeCursor();
      return Promise.resolve();
    } catch (err) {
      return Promise.reject(err);
    }
  }

  async #ack(id: string): Promise<void> {
    const position = Number(id);
    // An ack can arrive late or twice (a re-delivered event): never move back.
    if (position > this.#acked) this.#acked = position;
    if (this.#closed || ++this.#acksSinceWrite >= this.#settings.cursorWriteEvery) this.#writeCursor();
    if (this.#settings.durable) await this.#context.trimmer.afterAck(this.#topic);
  }

  #read(): void {
    const { sql, tables, notifier } = this.#context;
    if (this.#markBeforeRead) {
      // Taken before reading: a commit landing between the two is seen as a change at the next
      // poll, never lost.
      this.#mark = this.#context.changeMark();
      this.#markBeforeRead = false;
    }
    this.#notifiedAtRead = notifier.count(this.#topic);
    const events = readEvents(sql, tables, this.#topic, this.#readPosition, this.#settings.batchSize);
    this.#buffer = events;
    this.#next = 0;
    const last = events[events.length - 1];
    if (last !== undefined) this.#readPosition = Number(last.id);
    // A full batch may have more behind it. Otherwise this process's own commits since this read
    // show in the notifier's count, and other processes' at the next poll.
    this.#mustRead = events.length === this.#settings.batchSize;
  }

  #writeCursor(): void {
    this.#acksSinceWrite = 0;
    const nowMs = systemClock.now().getTime();
    this.#writtenAtMs = nowMs;
    const position = this.#acked;
    if (!this.#settings.durable || position <= this.#stored) return;
    writeCursor(this.#context.sql, this.#context.tables, this.#topic, this.#name, position, nowMs);
    this.#stored = position;
  }

  /**
   * Waits for a commit on the topic by this process (resolving true), for the next poll (false),
   * or for the receiver to close (true: the loop then rejects); rejects when the signal aborts.
   */
  async #idle(signal: AbortSignal): Promise<boolean> {
    let notified = false;
    await untilWoken((wakeUp) => {
      const wake = () => {
        notified = true;
        wakeUp();
      };
      const stopWaiting = this.#context.notifier.wait(this.#topic, wake);
      this.#wakers.add(wake);
      this.#pollers.add(wakeUp);
      if (!this.#ticking) void this.#tick();
      return () => {
        stopWaiting();
        this.#wakers.delete(wake);
        this.#pollers.delete(wakeUp);
      };
    }, signal);
    return notified;
  }

  /**
   * Calls the waiting `recv` to poll every `pollingFrequency`. One timer per period rather than one
   * per wait: a busy receiver waits (briefly) once per event. It stops when a period passes with
   * nobody waiting, and the next wait starts it again.
   */
  async #tick(): Promise<void> {
    this.#ticking = true;
    try {
      while (!this.#closed) {
        await systemClock.sleep(this.#settings.pollingFrequencyMs, this.#lifetime.signal);
        if (this.#pollers.size === 0) return;
        for (const poll of [...this.#pollers]) poll();
      }
    } catch {
      // Closed: the sleep was cut short.
    } finally {
      this.#ticking = false;
    }
  }

  #throwIfClosed(): void {
    if (this.#closed) throw new ClosedError(`sqlite event receiver "${this.#name}" on topic "${this.#topic}"`, "recv");
  }
}
