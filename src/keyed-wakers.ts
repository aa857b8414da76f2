import { untilWoken } from "./abort.js";
import { systemClock } from "./clock.js";

/**
 * Waits on a name (a role, say) until a notice about it comes, written once for the role
 * schedulers that hear of releases: a notice wakes every wait on its name.
 */
export class KeyedWakers {
  readonly #waiting = new Map<string, Set<() => void>>();

  /** Wakes every wait on `key`. */
  wake(key: string): void {
    for (const wake of this.#waiting.get(key) ?? []) wake();
  }

  /**
   * Resolves on the next notice about `key`, or after `ms` of wall-clock time, whichever comes
   * first; rejects with the signal's reason if it aborts first. Leaves nothing registered after.
   */
  async wait(key: string, ms: number, signal: AbortSignal): Promise<void> {
    const timer = new AbortController();
    try {
      await untilWoken((wake) => {
        systemClock.sleep(ms, timer.signal).then(wake, () => undefined);
        return this.#add(key, wake);
      }, signal);
    } finally {
      timer.abort();
    }
  }

  #add(key: string, wake: () => void): () => void {
    let waiting = this.#waiting.get(key);
    if (waiting === undefined) {
      waiting = new Set();
      this.#waiting.set(key, waiting);
    }
    const registered = waiting;
    registered.add(wake);
    return () => {
      registered.delete(wake);
      if (registered.size === 0 && this.#waiting.get(key) === registered) this.#waiting.delete(key);
    };
  }
}
