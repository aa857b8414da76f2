/**
 * Tells this process's receivers that an event of their topic was committed here, by a sender of
 * the same streamer or by a record store wired to it, so they read at once instead of at their
 * next poll. Events committed by other processes are still found by polling: MySQL cannot push.
 *
 * Internal to the MySQL adapter; one per {@link MysqlEventStreamer}.
 */
export class Notifier {
  /** Topic → how many notifications it has had; lets a receiver see one that came while it was reading. */
  private readonly counts = new Map<string, number>();
  /** Topic → receivers waiting for the next notification. */
  private readonly waiting = new Map<string, Set<() => void>>();

  /** How many notifications `topic` has had so far. */
  count(topic: string): number {
    return this.counts.get(topic) ?? 0;
  }

  /** Records a commit on `topic` and wakes every receiver waiting on it. */
  notify(topic: string): void {
    this.counts.set(topic, this.count(topic) + 1);
    const wakers = this.waiting.get(topic);
    if (wakers === undefined) return;
    this.waiting.delete(topic);
    for (const wake of wakers) wake();
  }

  /** Calls `wake` once, on the next notification of `topic`. */
  wait(topic: string, wake: () => void): void {
    let wakers = this.waiting.get(topic);
    if (wakers === undefined) {
      wakers = new Set();
      this.waiting.set(topic, wakers);
    }
    wakers.add(wake);
  }

  /** Forgets a `wake` that is no longer needed. */
  unwait(topic: string, wake: () => void): void {
    const wakers = this.waiting.get(topic);
    wakers?.delete(wake);
    if (wakers?.size === 0) this.waiting.delete(topic);
  }
}
