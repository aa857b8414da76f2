import type { Event, Headers } from "../../event.js";

/**
 * Dropped slots are cut off the front of the array only once this many have built up and they
 * make up at least half of it, so the cost of shifting the array is O(1) per event amortised.
 */
const compactAfterSlots = 1024;

/**
 * One topic of a {@link MemoryEventStreamer}: an append-only log addressed by offset, the durable
 * cursors of the receiver names reading it, and the receivers waiting for the next event.
 *
 * Internal to the memory adapter; receivers and senders share one instance per topic.
 */
export class TopicLog {
  /** `slots[i]` holds the event at offset `base + i`; slots before `head` were dropped. */
  private slots: (Event | undefined)[] = [];
  private base = 0;
  private head = 0;
  /** Receiver name → offset of the next event that name has not acked. */
  private readonly cursors = new Map<string, number>();
  private readonly waiting = new Set<() => void>();

  constructor(private readonly retainWithoutReceivers: number) {}

  /** Offset of the oldest event still held. */
  get oldest(): number {
    return this.base + this.head;
  }

  /** Offset the next appended event gets. */
  get end(): number {
    return this.base + this.slots.length;
  }

  /** How many events the log holds. */
  get retained(): number {
    return this.slots.length - this.head;
  }

  /** Appends an event and wakes every waiting receiver. */
  append(foreignId: string, type: number, headers: Headers, createdAt: Date): void {
    this.slots.push({ id: String(this.end), foreignId, type, headers, createdAt });
    // With no cursor nobody can ever ask for an old event except a future receiver, so keep a
    // bounded tail for it instead of the whole history.
    if (this.cursors.size === 0 && this.retained > this.retainWithoutReceivers) {
      this.dropBefore(this.end - this.retainWithoutReceivers);
    }
    if (this.waiting.size > 0) {
      for (const wake of this.waiting) wake();
      this.waiting.clear();
    }
  }

  /** The event at `offset`, or undefined when it was dropped or not sent yet. */
  at(offset: number): Event | undefined {
    if (offset < this.oldest || offset >= this.end) return undefined;
    return this.slots[offset - this.base];
  }

  /**
   * Registers `name` (if new) and returns where it reads from. The cursor exists from now on, so
   * events sent before the first ack are kept for it.
   */
  open(name: string, streamFromLatest: boolean): number {
    let cursor = this.cursors.get(name);
    if (cursor === undefined) {
      cursor = streamFromLatest ? this.end : this.oldest;
      this.cursors.set(name, cursor);
    }
    return cursor;
  }

  /** Records the event at `offset` as handled by `name`, then drops what every cursor has passed. */
  ack(name: string, offset: number): void {
    const cursor = this.cursors.get(name);
    // An ack can arrive late or out of order (a re-delivered event acked twice); never move back.
    if (cursor !== undefined && cursor > offset) return;
    this.cursors.set(name, offset + 1);
    this.dropBefore(this.slowestCursor());
  }

  /** Calls `wake` once, on the next append. */
  wait(wake: () => void): void {
    this.waiting.add(wake);
  }

  /** Forgets a `wake` that is no longer needed (its receiver stopped waiting). */
  unwait(wake: () => void): void {
    this.waiting.delete(wake);
  }

  private slowestCursor(): number {
    let slowest = Infinity;
    for (const cursor of this.cursors.values()) if (cursor < slowest) slowest = cursor;
    return slowest;
  }

  private dropBefore(offset: number): void {
    const until = Math.min(offset, this.end) - this.base;
    if (until <= this.head) return;
    // Clearing a slot lets the event be collected at once; the array itself shrinks in chunks.
    for (let i = this.head; i < until; i++) this.slots[i] = undefined;
    this.head = until;
    if (this.head >= compactAfterSlots && this.head * 2 >= this.slots.length) {
      this.slots.splice(0, this.head);
      this.base += this.head;
      this.head = 0;
    }
  }
}
