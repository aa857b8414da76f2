/**
 * Dropped slots are cut off the front of the array only once this many have built up and they
 * make up at least half of it, so the cost of shifting the array is O(1) per event amortised.
 */
const compactAfterSlots = 1024;

/**
 * Which events a {@link TopicLog} may drop. `"all"` keeps every event for the life of the log.
 * `{ retainWithoutReceivers }` drops an event once every known name has acked past it, and keeps
 * only the newest `retainWithoutReceivers` events while no name is known. An open ephemeral
 * reader keeps what it has not read only while some name is known: on its own it keeps nothing.
 */
export type Retention = "all" | { readonly retainWithoutReceivers: number };

/**
 * Who holds a cursor: a durable reader name, or an ephemeral reader's own key (a symbol, so it
 * never meets a name and two ephemeral readers never share a cursor).
 */
export type CursorKey = string | symbol;

/**
 * An append-only log of events addressed by offset, the durable cursors of the names reading it,
 * and the readers waiting for the next event. One topic of a {@link MemoryEventStreamer} is one
 * log; so is the stream of a {@link MemoryConnector}.
 *
 * Internal to the memory adapter; readers and writers share one instance per topic or connector.
 */
export class TopicLog<E extends object> {
  /** `slots[i]` holds the event at offset `base + i`; slots before `head` were dropped. */
  private slots: (E | undefined)[] = [];
  private base = 0;
  private head = 0;
  /** Reader name → offset of the next event that name has not acked. */
  private readonly cursors = new Map<CursorKey, number>();
  /** How many of the cursors belong to names, not to ephemeral readers. */
  private durableCursors = 0;
  private readonly waiting = new Set<() => void>();
  /** Whether an event every cursor has passed is dropped. */
  private readonly dropsAcked: boolean;
  /** How many of the newest events are kept while no cursor exists; Infinity keeps them all. */
  private readonly retainWithoutReceivers: number;

  constructor(retention: Retention) {
    this.dropsAcked = retention !== "all";
    this.retainWithoutReceivers = retention === "all" ? Infinity : retention.retainWithoutReceivers;
  }

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

  /** Appends `event` (kept as given) at offset {@link end} and wakes every waiting reader. */
  append(event: E): void {
    this.slots.push(event);
    // With no cursor nobody can ever ask for an old event except a future reader, so keep a
    // bounded tail for it instead of the whole history.
    if (this.durableCursors === 0 && this.retained > this.retainWithoutReceivers) {
      this.dropBefore(this.end - this.retainWithoutReceivers);
    }
    if (this.waiting.size > 0) {
      for (const wake of this.waiting) wake();
      this.waiting.clear();
    }
  }

  /** The event at `offset`, or undefined when it was dropped or not appended yet. */
  at(offset: number): E | undefined {
    if (offset < this.oldest || offset >= this.end) return undefined;
    return this.slots[offset - this.base];
  }

  /**
   * Registers `name` (if new) and returns where it reads from. The cursor exists from now on, so
   * events appended before the first ack are kept for it.
   */
  open(name: CursorKey, streamFromLatest: boolean): number {
    let cursor = this.cursors.get(name);
    if (cursor === undefined) {
      cursor = streamFromLatest ? this.end : this.oldest;
      this.cursors.set(name, cursor);
      if (typeof name === "string") this.durableCursors++;
    }
    return cursor;
  }

  /**
   * Records the event at `offset` as handled by `name`, then (unless the retention is `"all"`)
   * drops what every cursor has passed.
   */
  ack(name: CursorKey, offset: number): void {
    const cursor = this.cursors.get(name);
    // An ack can arrive late or out of order (a re-delivered event acked twice); never move back.
    if (cursor !== undefined && cursor > offset) return;
    this.cursors.set(name, offset + 1);
    if (this.dropsAcked) this.dropBefore(this.dropPoint());
  }

  /**
   * Forgets the cursor of an ephemeral reader that closed, then drops what the remaining cursors
   * have passed: a closed ephemeral reader holds nothing back.
   */
  forget(key: symbol): void {
    if (this.cursors.delete(key) && this.dropsAcked) this.dropBefore(this.dropPoint());
  }

  /** Calls `wake` once, on the next append. */
  wait(wake: () => void): void {
    this.waiting.add(wake);
  }

  /** Forgets a `wake` that is no longer needed (its reader stopped waiting). */
  unwait(wake: () => void): void {
    this.waiting.delete(wake);
  }

  /** Where events may be dropped up to: the slowest cursor, or with no name known the bounded tail. */
  private dropPoint(): number {
    return this.durableCursors === 0 ? this.end - this.retainWithoutReceivers : this.slowestCursor();
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
