import type { Clock } from "../../clock.js";
import type { Event, EventSender, Headers } from "../../event.js";
import type { TopicLog } from "./topic-log.js";

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
    if (this.closed) throw new Error(`memory event sender for topic "${this.topic}" is closed: cannot send`);
    // The id is the event's offset in the topic (see MemoryEventStreamer).
    this.log.append({ id: String(this.log.end), foreignId, type, headers, createdAt: this.clock.now() });
  }

  /** Refuses later sends. Idempotent. */
  async close(): Promise<void> {
    this.closed = true;
  }
}
