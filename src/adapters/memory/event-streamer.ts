import { adoptClock, FollowingClock, type Clock, type ClockAdopter } from "../../clock.js";
import type { Event, EventReceiver, EventSender, EventStreamer, Headers, ReceiverOptions } from "../../event.js";
import { ClosedError, InvalidOptionError } from "../../errors.js";
import { OpenParts } from "../../open-parts.js";
import { LogReader } from "./event-receiver.js";
import { TopicLog } from "./topic-log.js";

/** Options of {@link MemoryEventStreamer}. */
export interface MemoryEventStreamerOptions {
  /** Stamps `Event.createdAt`. Default: the system clock. */
  clock?: Clock;
  /**
   * How many of the newest events a topic keeps while no receiver name has ever read it, for a
   * receiver that starts later from the oldest event. Default 10 000.
   */
  retainWithoutReceivers?: number;
}

/**
 * An in-process {@link EventStreamer}: each topic is a log in memory, each receiver name a durable
 * cursor (for the life of this object). Receivers are woken by `send` directly, without polling.
 *
 * Memory stays bounded: once every receiver name known on a topic has acked past an event, the
 * event is dropped. A name is known from its first `newReceiver` on, and stays known after its
 * receiver closes (a new receiver of that name resumes where it left off), so a name that stops
 * acking holds every later event of its topic. A topic no name has opened keeps only the newest
 * `retainWithoutReceivers` events.
 *
 * Event ids are the offsets in the topic as decimal strings ("0", "1", …), in send order.
 *
 * @example
 * ```ts
 * const streamer = new MemoryEventStreamer();
 * const receiver = await streamer.newReceiver("orders-1", "shipper");
 * await (await streamer.newSender("orders-1")).send("order-1", 1, {});
 * const { event, ack } = await receiver.recv(AbortSignal.timeout(1000));
 * await ack();
 * ```
 */
export class MemoryEventStreamer implements EventStreamer, ClockAdopter {
  private readonly topics = new Map<string, TopicLog<Event>>();
  private readonly clock: Clock;
  private readonly retainWithoutReceivers: number;
  private readonly open = new OpenParts();

  constructor(options: MemoryEventStreamerOptions = {}) {
    this.clock = options.clock ?? new FollowingClock();
    this.retainWithoutReceivers = options.retainWithoutReceivers ?? 10_000;
    if (!Number.isInteger(this.retainWithoutReceivers) || this.retainWithoutReceivers < 0) {
      throw new InvalidOptionError(
        "retainWithoutReceivers",
        `MemoryEventStreamer: retainWithoutReceivers must be a whole number of at least 0, got ${String(options.retainWithoutReceivers)}`,
      );
    }
  }
  /** Stamps times with the workflow's clock when this store was given none. */
  [adoptClock](clock: Clock): void {
    if (this.clock instanceof FollowingClock) this.clock.adopt(clock);
  }


  /** A sender for `topic`. */
  async newSender(topic: string): Promise<EventSender> {
    return new MemoryEventSender(this.log(topic), topic, this.clock);
  }

  /**
   * A receiver for `topic` under the durable name `name`: it resumes after the last event that
   * name acked; a new name starts at the oldest event held, or with `streamFromLatest` at the next
   * event sent. `pollingFrequency` is ignored: receivers are pushed to. An `ephemeral` receiver
   * has a cursor of its own, which holds events for it while it is open and is forgotten on close.
   */
  async newReceiver(topic: string, name: string, options: ReceiverOptions = {}): Promise<EventReceiver> {
    const log = this.log(topic);
    const ephemeral = options.ephemeral === true;
    const key = ephemeral ? Symbol(name) : name;
    return this.open.receiver(
      new LogReader(log, key, log.open(key, options.streamFromLatest ?? false), {
        label: `memory event receiver "${name}" on topic "${topic}"`,
        keepAbortListener: true,
        forgetOnClose: ephemeral,
      }),
    );
  }

  /**
   * Appends an event to `topic` at once, as a sender's `send` does: for a {@link MemoryRecordStore}
   * given this streamer, which publishes each record's event as part of storing the record. The
   * headers object is kept as given and shared by every receiver, so treat it as read-only.
   */
  publish(topic: string, foreignId: string, type: number, headers: Headers): void {
    appendEvent(this.log(topic), foreignId, type, headers, this.clock);
  }

  /** Closes every receiver this streamer opened that is still open. Idempotent. */
  close(): Promise<void> {
    return this.open.close();
  }

  /** How many events `topic` holds in memory right now; for tests and monitoring. */
  retainedEvents(topic: string): number {
    return this.topics.get(topic)?.retained ?? 0;
  }

  private log(topic: string): TopicLog<Event> {
    let log = this.topics.get(topic);
    if (log === undefined) {
      log = new TopicLog<Event>({ retainWithoutReceivers: this.retainWithoutReceivers });
      this.topics.set(topic, log);
    }
    return log;
  }
}

/** Publishes on one topic of a {@link MemoryEventStreamer}. Made by `newSender`. */
export class MemoryEventSender implements EventSender {
  private closed = false;

  constructor(
    private readonly log: TopicLog<Event>,
    private readonly topic: string,
    private readonly clock: Clock,
  ) {}

  /**
   * Appends the event to the topic. The headers object is kept as given and shared by every
   * receiver, so treat it as read-only after sending. Rejects once the sender is closed.
   */
  async send(foreignId: string, type: number, headers: Headers): Promise<void> {
    if (this.closed) throw new ClosedError(`memory event sender for topic "${this.topic}"`, "send");
    appendEvent(this.log, foreignId, type, headers, this.clock);
  }

  /** Refuses later sends. Idempotent. */
  async close(): Promise<void> {
    this.closed = true;
  }
}

function appendEvent(log: TopicLog<Event>, foreignId: string, type: number, headers: Headers, clock: Clock): void {
  // The id is the event's offset in the topic (see MemoryEventStreamer).
  log.append({ id: String(log.end), foreignId, type, headers, createdAt: clock.now() });
}
