import { untilAborted } from "../abort.js";
import { HeaderKey, type Delivery, type Event, type EventReceiver } from "../event.js";
import type { ChaosSchedule } from "./chaos-schedule.js";

/** An event the receiver underneath handed out, waiting until every copy handed on is acked. */
interface Slot {
  delivery: Delivery<Event>;
  copies: number;
  acked: number;
}

/** One copy of a slot's event, to be handed on. */
interface Copy {
  event: Event;
  slot: Slot;
}

/** Turns of the microtask queue the receiver underneath gets to hand out an event it already holds. */
const readyWithinTurns = 16;

const notReady: unique symbol = Symbol("not ready");

/**
 * A receiver that fails, delays, duplicates and reorders what the receiver underneath hands out.
 * Acks reach the receiver underneath in the order it handed events out, each once every copy of it
 * was acked: duplicating or reordering never acks an event past one that is not done, which a
 * broker that redelivers or reorders would not do either.
 */
export class ChaosEventReceiver implements EventReceiver {
  readonly #inner: EventReceiver;
  readonly #schedule: ChaosSchedule;
  readonly #scope: string;
  /** Events handed out underneath and not yet acked there, in the order they came. */
  readonly #line: Slot[] = [];
  /** Copies due before the next event from underneath: a duplicate, an event swapped back. */
  readonly #held: Copy[] = [];
  /** A receive underneath started to look ahead for a swap, still in flight. */
  #ahead: { promise: Promise<Delivery<Event>>; signal: AbortSignal } | undefined;

  constructor(inner: EventReceiver, schedule: ChaosSchedule, scope: string) {
    this.#inner = inner;
    this.#schedule = schedule;
    this.#scope = scope;
  }

  recv(signal: AbortSignal): Promise<Delivery<Event>> {
    return this.#schedule.call("recv", () => this.#next(signal), { scope: this.#scope, signal });
  }

  close(): Promise<void> {
    this.#held.length = 0;
    return this.#inner.close();
  }

  async #next(signal: AbortSignal): Promise<Delivery<Event>> {
    const held = this.#held.shift();
    if (held) return this.#handOut(held);
    let copy = await this.#pull(signal);
    if (this.#schedule.chance("reordered", this.#scope)) {
      const later = await this.#pullReady(signal);
      if (later && runOf(later.event) !== runOf(copy.event)) {
        this.#held.push(copy);
        copy = later;
        this.#schedule.count("recv", "reordered");
      } else if (later) {
        // One run's events keep their order: the engine relies on it as a broker's partition gives it.
        this.#held.push(later);
      }
    }
    if (this.#schedule.chance("duplicated", this.#scope)) {
      copy.slot.copies++;
      this.#held.unshift({ event: copy.event, slot: copy.slot });
      this.#schedule.count("recv", "duplicated");
    }
    return this.#handOut(copy);
  }

  /** The next event from underneath, from the look-ahead receive if one is in flight. */
  async #pull(signal: AbortSignal): Promise<Copy> {
    const ahead = this.#ahead;
    this.#ahead = undefined;
    let delivery: Delivery<Event>;
    if (ahead === undefined) {
      delivery = await this.#inner.recv(signal);
    } else {
      try {
        delivery = await untilAborted(ahead.promise, signal);
      } catch (err) {
        // Kept for the next recv: the event it brings must not be dropped.
        if (signal.aborted) this.#ahead = ahead;
        if (signal.aborted || !ahead.signal.aborted) throw err;
        // The look-ahead ended with the signal of an earlier recv; this one receives afresh.
        delivery = await this.#inner.recv(signal);
      }
    }
    return this.#register(delivery);
  }

  /** The next event from underneath if it is at hand now; else the receive stays in flight for later. */
  async #pullReady(signal: AbortSignal): Promise<Copy | undefined> {
    const ahead = this.#ahead ?? { promise: this.#inner.recv(signal), signal };
    this.#ahead = ahead;
    // Its failure is seen by the next recv, which awaits it.
    const settled = ahead.promise.catch((): typeof notReady => notReady);
    const first = await Promise.race([settled, microtaskTurns(readyWithinTurns)]);
    if (first === notReady || first === undefined) return undefined;
    this.#ahead = undefined;
    return this.#register(first);
  }

  #register(delivery: Delivery<Event>): Copy {
    const slot: Slot = { delivery, copies: 1, acked: 0 };
    this.#line.push(slot);
    return { event: delivery.event, slot };
  }

  #handOut(copy: Copy): Delivery<Event> {
    let acked = false;
    const event = copy.slot.copies > 1 ? copyEvent(copy.event) : copy.event;
    return {
      event,
      ack: () =>
        this.#schedule.call(
          "ack",
          async () => {
            if (acked) return;
            acked = true;
            copy.slot.acked++;
            await this.#ackDone();
          },
          { scope: this.#scope },
        ),
    };
  }

  /** Acks underneath, in order, every event at the head of the line whose copies are all acked. */
  async #ackDone(): Promise<void> {
    const acks: Promise<void>[] = [];
    while (this.#line.length > 0 && (this.#line[0] as Slot).acked >= (this.#line[0] as Slot).copies) {
      acks.push((this.#line.shift() as Slot).delivery.ack());
    }
    await Promise.all(acks);
  }
}

function runOf(event: Event): string {
  return event.headers[HeaderKey.runId] ?? event.foreignId;
}

/** A duplicate is a separate object, as a redelivery over the wire would be. */
function copyEvent(event: Event): Event {
  return { ...event, headers: { ...event.headers }, createdAt: new Date(event.createdAt.getTime()) };
}

async function microtaskTurns(turns: number): Promise<undefined> {
  for (let i = 0; i < turns; i++) await undefined;
  return undefined;
}
