import { setImmediate as yieldToEventLoop } from "node:timers/promises";
import { throwIfAborted } from "../../abort.js";
import type { Delivery } from "../../event.js";
import { ClosedError } from "../../errors.js";
import type { CursorKey, TopicLog } from "./topic-log.js";

/**
 * A reader that always finds an event ready never leaves the microtask queue, which would
 * starve timers and I/O; after this many deliveries in a row `recv` yields to the event loop once.
 */
const yieldEveryDeliveries = 512;

const acked: Promise<void> = Promise.resolve();

/** Options of {@link LogReader}. */
export interface LogReaderOptions<E> {
  /** Names the reader in the error a closed reader's `recv` rejects with, e.g. `memory connector consumer "x"`. */
  label: string;
  /** Applied to every event handed out, e.g. to copy it. Default: the event as the log holds it. */
  copy?: (event: E) => E;
  /**
   * Keep the abort listener on the signal after a wait ends, for the next wait on the same signal
   * (a consumer passes the same signal to every recv): adding and removing a listener on each wait
   * costs more than the rest of a delivery. Default false: `recv` leaves no listener on its signal
   * once it settles and no other wait is in progress.
   */
  keepAbortListener?: boolean;
  /** Forget the cursor when the reader closes: set for an ephemeral reader, whose key is its own symbol. */
  forgetOnClose?: boolean;
}

/**
 * Reads a {@link TopicLog} under a durable name: the {@link EventReceiver} a
 * {@link MemoryEventStreamer} makes in `newReceiver`, and the {@link ConnectorConsumer} a
 * {@link MemoryConnector} makes in `make`.
 */
export class LogReader<E extends object> {
  private closed = false;
  private deliveriesSinceYield = 0;
  /** Ends each wait in progress. */
  private readonly wakers = new Set<() => void>();
  /** The signal `onAbort` is registered on. */
  private listening: AbortSignal | undefined;
  private readonly onAbort = (): void => {
    this.listening = undefined;
    // Waits on other signals wake too, find their signal not aborted and wait again.
    for (const wake of this.wakers) wake();
  };
  private readonly label: string;
  private readonly copy: ((event: E) => E) | undefined;
  private readonly keepAbortListener: boolean;
  private readonly forgetOnClose: boolean;

  constructor(
    private readonly log: TopicLog<E>,
    private readonly name: CursorKey,
    /** Offset of the next event to hand out; moves on `recv`, unlike the name's cursor which moves on ack. */
    private position: number,
    options: LogReaderOptions<E>,
  ) {
    this.label = options.label;
    this.copy = options.copy;
    this.keepAbortListener = options.keepAbortListener ?? false;
    this.forgetOnClose = options.forgetOnClose ?? false;
  }

  /**
   * Resolves with the next event, waiting for an append when there is none (push, no polling).
   * Rejects with the signal's reason when it aborts, and with an Error once the reader is closed.
   */
  async recv(signal: AbortSignal): Promise<Delivery<E>> {
    if (++this.deliveriesSinceYield >= yieldEveryDeliveries) {
      this.deliveriesSinceYield = 0;
      await yieldToEventLoop();
    }
    for (;;) {
      this.throwIfClosed();
      throwIfAborted(signal);
      // Another reader of the same name may have acked past us and let those events go;
      // they count as handled by the name, so continue from what is left.
      if (this.position < this.log.oldest) this.position = this.log.oldest;
      const offset = this.position;
      const event = this.log.at(offset);
      if (event !== undefined) {
        this.position = offset + 1;
        return { event: this.copy === undefined ? event : this.copy(event), ack: () => this.ack(offset) };
      }
      this.deliveriesSinceYield = 0;
      await this.nextAppend(signal);
    }
  }

  /** Makes later (and waiting) `recv` calls reject. Acks of events already received still count. Idempotent. */
  async close(): Promise<void> {
    this.closed = true;
    if (this.forgetOnClose && typeof this.name === "symbol") this.log.forget(this.name);
    this.listenTo(undefined);
    for (const wake of this.wakers) wake();
  }

  private ack(offset: number): Promise<void> {
    this.log.ack(this.name, offset);
    return acked;
  }

  /**
   * Waits for the next append, a close or an abort. One abort listener, `onAbort`, serves every
   * wait on the signal it is registered on; a wait on another signal while that one is in use
   * (concurrent `recv` calls with different signals) listens on its own.
   */
  private async nextAppend(signal: AbortSignal): Promise<void> {
    let wake!: () => void;
    const woken = new Promise<void>((resolve) => (wake = resolve));
    const ownListener = this.wakers.size > 0 && this.listening !== signal;
    if (ownListener) signal.addEventListener("abort", wake, { once: true });
    else this.listenTo(signal);
    this.wakers.add(wake);
    this.log.wait(wake);
    try {
      await woken;
    } finally {
      this.log.unwait(wake);
      this.wakers.delete(wake);
      if (ownListener) signal.removeEventListener("abort", wake);
      if (!this.keepAbortListener && this.wakers.size === 0) this.listenTo(undefined);
    }
  }

  private listenTo(signal: AbortSignal | undefined): void {
    if (this.listening === signal) return;
    this.listening?.removeEventListener("abort", this.onAbort);
    signal?.addEventListener("abort", this.onAbort, { once: true });
    this.listening = signal;
  }

  private throwIfClosed(): void {
    if (this.closed) throw new ClosedError(this.label, "recv");
  }
}
