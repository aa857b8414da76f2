import { setImmediate as yieldToEventLoop } from "node:timers/promises";
import { throwIfAborted } from "../../clock.js";
import type { Delivery, Event, EventReceiver } from "../../event.js";
import type { TopicLog } from "./topic-log.js";

/**
 * A consumer that always finds an event ready never leaves the microtask queue, which would
 * starve timers and I/O; after this many deliveries in a row `recv` yields to the event loop once.
 */
const yieldEveryDeliveries = 512;

const acked: Promise<void> = Promise.resolve();

/** Reads one topic of a {@link MemoryEventStreamer} under a durable name. Made by `newReceiver`. */
export class MemoryEventReceiver implements EventReceiver {
  private closed = false;
  private deliveriesSinceYield = 0;
  private readonly wakers = new Set<() => void>();
  /** Resolves the wait in progress, if any. */
  private waiting: (() => void) | undefined;
  /** The signal `onAbort` is registered on. */
  private listening: AbortSignal | undefined;
  private readonly onAbort = (): void => {
    this.listening = undefined;
    this.waiting?.();
  };

  constructor(
    private readonly log: TopicLog,
    private readonly topic: string,
    private readonly name: string,
    /** Offset of the next event to hand out; moves on `recv`, unlike the name's cursor which moves on ack. */
    private position: number,
  ) {}

  /**
   * Resolves with the next event, waiting for a `send` when there is none (push, no polling).
   * Rejects with the signal's reason when it aborts, and with an Error once the receiver is closed.
   */
  async recv(signal: AbortSignal): Promise<Delivery<Event>> {
    if (++this.deliveriesSinceYield >= yieldEveryDeliveries) {
      this.deliveriesSinceYield = 0;
      await yieldToEventLoop();
    }
    for (;;) {
      this.throwIfClosed();
      throwIfAborted(signal);
      // Another receiver of the same name may have acked past us and let those events go;
      // they count as handled by the name, so continue from what is left.
      if (this.position < this.log.oldest) this.position = this.log.oldest;
      const offset = this.position;
      const event = this.log.at(offset);
      if (event !== undefined) {
        this.position = offset + 1;
        return { event, ack: () => this.ack(offset) };
      }
      this.deliveriesSinceYield = 0;
      await this.nextAppend(signal);
    }
  }

  /** Makes later (and waiting) `recv` calls reject. Acks of events already received still count. Idempotent. */
  async close(): Promise<void> {
    this.closed = true;
    this.listenTo(undefined);
    for (const wake of this.wakers) wake();
  }

  private ack(offset: number): Promise<void> {
    this.log.ack(this.name, offset);
    return acked;
  }

  /**
   * Waits for the next append, a close or an abort. The abort listener stays on the signal between
   * waits (a consumer passes the same signal to every recv), since adding and removing a listener
   * on each wait costs more than the rest of a delivery.
   */
  private async nextAppend(signal: AbortSignal): Promise<void> {
    this.listenTo(signal);
    let wake!: () => void;
    const woken = new Promise<void>((resolve) => (wake = resolve));
    this.waiting = wake;
    this.wakers.add(wake);
    this.log.wait(wake);
    try {
      await woken;
    } finally {
      this.waiting = undefined;
      this.log.unwait(wake);
      this.wakers.delete(wake);
    }
  }

  private listenTo(signal: AbortSignal | undefined): void {
    if (this.listening === signal) return;
    this.listening?.removeEventListener("abort", this.onAbort);
    signal?.addEventListener("abort", this.onAbort, { once: true });
    this.listening = signal;
  }

  private throwIfClosed(): void {
    if (this.closed) {
      throw new Error(`memory event receiver "${this.name}" on topic "${this.topic}" is closed: cannot recv`);
    }
  }
}
