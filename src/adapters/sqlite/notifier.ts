/**
 * Wakes this process's receivers when an event of their topic was committed here, by a sender of
 * the same streamer or by a record store wired to it, so they read at once instead of at their next
 * poll. Commits by other processes on the same file are found by polling (see the receiver).
 *
 * Internal to the SQLite adapter; one per {@link SqliteEventStreamer}.
 */
export class Notifier {
  /** Topic → how many commits it has had; lets a busy receiver see one that came while it was not waiting. */
  readonly #counts = new Map<string, number>();
  /** Topic → receivers waiting for the next commit on it. */
  readonly #waiting = new Map<string, Set<() => void>>();

  /** How many commits on `topic` were notified so far. */
  count(topic: string): number {
    return this.#counts.get(topic) ?? 0;
  }

  /** An event was committed on `topic`: count it and wake every receiver waiting on it. */
  notify(topic: string): void {
    this.#counts.set(topic, this.count(topic) + 1);
    const wakers = this.#waiting.get(topic);
    if (wakers === undefined) return;
    this.#waiting.delete(topic);
    for (const wake of wakers) wake();
  }

  /** Calls `wake` once, on the next commit on `topic`. Returns the function that cancels it. */
  wait(topic: string, wake: () => void): () => void {
    let wakers = this.#waiting.get(topic);
    if (wakers === undefined) {
      wakers = new Set();
      this.#waiting.set(topic, wakers);
    }
    const set = wakers;
    set.add(wake);
    return () => {
      set.delete(wake);
      if (set.size === 0 && this.#waiting.get(topic) === set) this.#waiting.delete(topic);
    };
  }
}
