import type { Clock } from "../clock.js";

interface Timer {
  at: number;
  seq: number;
  resolve(): void;
}

/**
 * A clock that only moves when told to. `advance(ms)` fires every sleep due by then, in order.
 *
 * ```ts
 * const clock = new FakeClock(new Date("2026-01-01T00:00:00Z"));
 * const wf = b.build({ ...memory({ clock }), clock });
 * clock.advance(60 * 60_000);
 * ```
 */
export class FakeClock implements Clock {
  #nowMs: number;
  #seq = 0;
  #timers: Timer[] = [];
  #sleepersChanged: (() => void)[] = [];

  constructor(start: Date) {
    this.#nowMs = start.getTime();
  }

  now(): Date {
    return new Date(this.#nowMs);
  }

  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    if (signal?.aborted) return Promise.reject(signal.reason);
    if (ms <= 0) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      const timer: Timer = {
        at: this.#nowMs + ms,
        seq: this.#seq++,
        resolve: () => {
          signal?.removeEventListener("abort", onAbort);
          resolve();
        },
      };
      const onAbort = () => {
        this.#timers = this.#timers.filter((t) => t !== timer);
        reject(signal?.reason);
      };
      signal?.addEventListener("abort", onAbort, { once: true });
      this.#timers.push(timer);
      this.#notifySleepers();
    });
  }

  /** Moves time forward, firing the sleeps due by then in the order they are due. */
  advance(ms: number): void {
    const target = this.#nowMs + ms;
    for (;;) {
      const due = this.#timers.filter((t) => t.at <= target).sort((a, b) => a.at - b.at || a.seq - b.seq)[0];
      if (!due) break;
      this.#timers = this.#timers.filter((t) => t !== due);
      this.#nowMs = Math.max(this.#nowMs, due.at);
      due.resolve();
    }
    this.#nowMs = Math.max(this.#nowMs, target);
  }

  /** How many sleeps are waiting for time to move. */
  get sleepers(): number {
    return this.#timers.length;
  }

  /** Resolves once at least `count` sleeps are waiting, so a test advances only when something waits. */
  async blockUntil(count: number): Promise<void> {
    while (this.#timers.length < count) {
      await new Promise<void>((resolve) => this.#sleepersChanged.push(resolve));
    }
  }

  #notifySleepers(): void {
    const waiting = this.#sleepersChanged;
    this.#sleepersChanged = [];
    for (const wake of waiting) wake();
  }
}
