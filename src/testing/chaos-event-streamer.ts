import { adoptClock, type Clock, type ClockAdopter } from "../clock.js";
import type { EventReceiver, EventSender, EventStreamer, Headers, ReceiverOptions } from "../event.js";
import { ChaosEventReceiver } from "./chaos-event-receiver.js";
import { ChaosSchedule, type ChaosOptions, type ChaosStats, type Chaotic, type EventStreamerMethod } from "./chaos-schedule.js";

const eventStreamerMethods: readonly EventStreamerMethod[] = ["newSender", "newReceiver", "send", "recv", "ack"];

/**
 * Wraps an event streamer, and the senders and receivers it makes, so their calls fail, fail after
 * taking effect, or wait, and receivers hand events out twice or out of order, on a seeded
 * schedule (see {@link ChaosOptions}). Every part counts into the streamer's `stats()`.
 *
 * @example
 * ```ts
 * const eventStreamer = chaosEventStreamer(adapters.eventStreamer, { seed: 7, duplicateRate: 0.2, reorderRate: 0.2 });
 * const wf = b.build({ ...adapters, eventStreamer });
 * ```
 */
export function chaosEventStreamer(streamer: EventStreamer, options: ChaosOptions<EventStreamerMethod>): EventStreamer & Chaotic {
  return new ChaosEventStreamer(streamer, options);
}

class ChaosEventStreamer implements EventStreamer, Chaotic, ClockAdopter {
  readonly #inner: EventStreamer;
  readonly #schedule: ChaosSchedule;
  /** Receivers opened per topic and name, so a reopened receiver draws fates of its own. */
  readonly #opened = new Map<string, number>();

  constructor(inner: EventStreamer, options: ChaosOptions<EventStreamerMethod>) {
    this.#inner = inner;
    this.#schedule = new ChaosSchedule("eventStreamer", eventStreamerMethods, options);
  }

  async newSender(topic: string): Promise<EventSender> {
    const sender = await this.#schedule.call("newSender", () => this.#inner.newSender(topic), { undo: (made) => made.close() });
    const schedule = this.#schedule;
    return {
      send: (foreignId: string, type: number, headers: Headers) => schedule.call("send", () => sender.send(foreignId, type, headers)),
      close: () => sender.close(),
    };
  }

  async newReceiver(topic: string, name: string, opts?: ReceiverOptions): Promise<EventReceiver> {
    const receiver = await this.#schedule.call("newReceiver", () => this.#inner.newReceiver(topic, name, opts), { undo: (made) => made.close() });
    const key = `${topic}\u0000${name}`;
    const instance = (this.#opened.get(key) ?? 0) + 1;
    this.#opened.set(key, instance);
    return new ChaosEventReceiver(receiver, this.#schedule, `${key}\u0000${instance}`);
  }

  stats(): ChaosStats {
    return this.#schedule.stats();
  }

  /** A streamer that stamps times with the workflow's clock keeps doing so when wrapped. */
  [adoptClock](clock: Clock): void {
    (this.#inner as Partial<ClockAdopter>)[adoptClock]?.(clock);
  }
}
