import { setImmediate as yieldToEventLoop } from "node:timers/promises";
import { throwIfAborted } from "../../clock.js";
import type { ConnectorConstructor, ConnectorConsumer, ConnectorEvent } from "../../connector.js";
import type { Delivery } from "../../event.js";

/**
 * A consumer that always finds an event ready never leaves the microtask queue, which would
 * starve timers and I/O; after this many deliveries in a row `recv` yields to the event loop once.
 */
const yieldEveryDeliveries = 512;

const acked: Promise<void> = Promise.resolve();

/**
 * An in-process {@link ConnectorConstructor} over a list of events held in memory: the external
 * stream a workflow's `addConnector` reads, for tests, examples and fixtures. Events given to the
 * constructor or to {@link MemoryConnector.add} are handed out in that order; a waiting consumer is
 * woken by `add` directly, without polling.
 *
 * Each consumer name is a durable position for the life of this object: a consumer made later
 * with the same name resumes after the last event that name acked, so an event received but not
 * acked is delivered again. A new name starts at the first event. Every event is kept for the life
 * of the connector, because any name, old or new, may still ask for it (a workflow's shards use one
 * name each and may open at different times).
 *
 * Events are copied on the way in and on the way out, so neither the caller nor a consumer can
 * change what the connector holds.
 *
 * @example
 * ```ts
 * import { MemoryConnector, memory } from "stepwise/memory";
 * const payments = new MemoryConnector([
 *   { id: "evt-1", foreignId: "order-1", type: "payment.settled", headers: {}, createdAt: new Date() },
 * ]);
 * b.addConnector("payments", payments, async (api, event) => {
 *   await api.trigger(event.foreignId, { initialValue: { id: event.foreignId, amount: 10 } });
 * });
 * const wf = b.build(memory());
 * await wf.run();
 * payments.add({ id: "evt-2", foreignId: "order-2", type: "payment.settled", headers: {}, createdAt: new Date() });
 * ```
 */
export class MemoryConnector implements ConnectorConstructor {
  private readonly events: ConnectorEvent[] = [];
  /** Consumer name → index of the first event that name has not acked. */
  private readonly cursors = new Map<string, number>();
  private readonly waiting = new Set<() => void>();
  /** What consumers may do to this connector; kept off its public surface. */
  private readonly stream: ConnectorStream = {
    at: (index) => {
      const event = this.events[index];
      return event === undefined ? undefined : copyEvent(event);
    },
    ack: (name, index) => {
      // An ack can arrive late or out of order (a re-delivered event acked twice); never move back.
      if ((this.cursors.get(name) ?? 0) > index) return;
      this.cursors.set(name, index + 1);
    },
    wait: (wake) => {
      this.waiting.add(wake);
    },
    unwait: (wake) => {
      this.waiting.delete(wake);
    },
  };

  /** Starts the stream with `events` (copied), in order. */
  constructor(events: readonly ConnectorEvent[] = []) {
    this.add(...events);
  }

  /** Appends `events` (copied) to the stream, in order, and wakes every consumer waiting for one. */
  add(...events: ConnectorEvent[]): void {
    for (const event of events) this.events.push(copyEvent(event));
    if (events.length === 0 || this.waiting.size === 0) return;
    const wakers = [...this.waiting];
    this.waiting.clear();
    for (const wake of wakers) wake();
  }

  /**
   * A consumer under the durable name `consumerName`: it starts after the last event that name
   * acked, or at the first event for a name not seen before.
   */
  async make(consumerName: string): Promise<ConnectorConsumer> {
    return new MemoryConnectorConsumer(this.stream, consumerName, this.cursors.get(consumerName) ?? 0);
  }
}

/** The part of a {@link MemoryConnector} its consumers use. */
interface ConnectorStream {
  /** A copy of the event at `index`, or undefined when none has been added there yet. */
  at(index: number): ConnectorEvent | undefined;
  /** Records the event at `index` as handled by the consumer name `name`. */
  ack(name: string, index: number): void;
  /** Calls `wake` once, on the next `add` of at least one event. */
  wait(wake: () => void): void;
  /** Forgets a `wake` that is no longer needed (its consumer stopped waiting). */
  unwait(wake: () => void): void;
}

/**
 * Reads a {@link MemoryConnector} under a durable name. Made by `make`; kept in this file because
 * it is the connector's other half and is never constructed on its own.
 */
class MemoryConnectorConsumer implements ConnectorConsumer {
  private closed = false;
  private deliveriesSinceYield = 0;
  private readonly wakers = new Set<() => void>();

  constructor(
    private readonly stream: ConnectorStream,
    private readonly name: string,
    /** Index of the next event to hand out; moves on `recv`, unlike the name's cursor which moves on ack. */
    private position: number,
  ) {}

  /**
   * Resolves with (a copy of) the next event, waiting for an `add` when there is none. Rejects with
   * the signal's reason when it aborts, and with an Error once the consumer is closed.
   */
  async recv(signal: AbortSignal): Promise<Delivery<ConnectorEvent>> {
    if (++this.deliveriesSinceYield >= yieldEveryDeliveries) {
      this.deliveriesSinceYield = 0;
      await yieldToEventLoop();
    }
    for (;;) {
      this.throwIfClosed();
      throwIfAborted(signal);
      const index = this.position;
      const event = this.stream.at(index);
      if (event !== undefined) {
        this.position = index + 1;
        return { event, ack: () => this.ack(index) };
      }
      this.deliveriesSinceYield = 0;
      await this.nextAdd(signal);
    }
  }

  /** Makes later (and waiting) `recv` calls reject. Acks of events already received still count. Idempotent. */
  async close(): Promise<void> {
    this.closed = true;
    for (const wake of this.wakers) wake();
  }

  private ack(index: number): Promise<void> {
    this.stream.ack(this.name, index);
    return acked;
  }

  private async nextAdd(signal: AbortSignal): Promise<void> {
    let wake!: () => void;
    let onAbort!: () => void;
    const woken = new Promise<void>((resolve, reject) => {
      wake = resolve;
      onAbort = () => reject(signal.reason);
    });
    this.wakers.add(wake);
    this.stream.wait(wake);
    signal.addEventListener("abort", onAbort, { once: true });
    try {
      await woken;
    } finally {
      signal.removeEventListener("abort", onAbort);
      this.stream.unwait(wake);
      this.wakers.delete(wake);
    }
  }

  private throwIfClosed(): void {
    if (this.closed) throw new Error(`memory connector consumer "${this.name}" is closed: cannot recv`);
  }
}

function copyEvent(event: ConnectorEvent): ConnectorEvent {
  return {
    id: event.id,
    foreignId: event.foreignId,
    type: event.type,
    headers: { ...event.headers },
    createdAt: new Date(event.createdAt.getTime()),
  };
}
