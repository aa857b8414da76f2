import { adoptClock, type Clock, type ClockAdopter } from "../clock.js";
import type { NewTimeout, TimeoutPage, TimeoutRecord, TimeoutStore } from "../timeout-store.js";
import { ChaosSchedule, type ChaosOptions, type ChaosStats, type Chaotic, type TimeoutStoreMethod } from "./chaos-schedule.js";

const timeoutStoreMethods: readonly TimeoutStoreMethod[] = ["create", "complete", "cancel", "list", "listValid"];

/**
 * Wraps a timeout store so its calls fail, fail after taking effect, or wait, on a seeded schedule
 * (see {@link ChaosOptions}).
 *
 * @example
 * ```ts
 * const timeoutStore = chaosTimeoutStore(adapters.timeoutStore, { seed: 7, failRate: 0.1, only: ["create", "complete"] });
 * ```
 */
export function chaosTimeoutStore(store: TimeoutStore, options: ChaosOptions<TimeoutStoreMethod>): TimeoutStore & Chaotic {
  return new ChaosTimeoutStore(store, options);
}

class ChaosTimeoutStore implements TimeoutStore, Chaotic, ClockAdopter {
  readonly #inner: TimeoutStore;
  readonly #schedule: ChaosSchedule;

  constructor(inner: TimeoutStore, options: ChaosOptions<TimeoutStoreMethod>) {
    this.#inner = inner;
    this.#schedule = new ChaosSchedule("timeoutStore", timeoutStoreMethods, options);
  }

  create(timeout: NewTimeout): Promise<void> {
    return this.#schedule.call("create", () => this.#inner.create(timeout));
  }

  complete(id: string): Promise<void> {
    return this.#schedule.call("complete", () => this.#inner.complete(id));
  }

  cancel(id: string): Promise<void> {
    return this.#schedule.call("cancel", () => this.#inner.cancel(id));
  }

  list(workflowName: string): Promise<TimeoutRecord[]> {
    return this.#schedule.call("list", () => this.#inner.list(workflowName));
  }

  listValid(workflowName: string, status: number, now: Date, page?: TimeoutPage): Promise<TimeoutRecord[]> {
    return this.#schedule.call("listValid", () => this.#inner.listValid(workflowName, status, now, page));
  }

  stats(): ChaosStats {
    return this.#schedule.stats();
  }

  /** A store that stamps times with the workflow's clock keeps doing so when wrapped. */
  [adoptClock](clock: Clock): void {
    (this.#inner as Partial<ClockAdopter>)[adoptClock]?.(clock);
  }
}
