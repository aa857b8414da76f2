/** Calls waiting for the same batch, with their callers. */
interface Batch<Item, Result> {
  readonly items: Item[];
  readonly keys: Set<string>;
  readonly settle: ((outcome: PromiseSettledResult<Result>) => void)[];
}

/** How a {@link Coalescer} hands a gathering on. */
export interface CoalescerOptions<Item, Result> {
  /** Does the work for a batch, with one outcome per item, in order. */
  handle(items: readonly Item[]): Promise<PromiseSettledResult<Result>[]>;
  /** Items of one key never share a batch: the later one goes in the next, after the first is done. */
  key?(item: Item): string;
  /** At most this many items per batch. */
  maxItems: number;
}

/**
 * Group commit: a call made while no batch is in flight starts one at once; calls made while one is
 * in flight gather and go together when it is done. So a call alone waits for nothing, and under
 * load many calls share one round trip or commit. Batches run one after another, oldest first.
 */
export class Coalescer<Item, Result> {
  readonly #options: CoalescerOptions<Item, Result>;
  /** Batches not yet handed on, oldest first. */
  #waiting: Batch<Item, Result>[] = [];
  /** Whether a batch is in flight; calls made meanwhile wait for the next. */
  #flushing = false;

  constructor(options: CoalescerOptions<Item, Result>) {
    this.#options = options;
  }

  add(item: Item): Promise<Result> {
    return new Promise((resolve, reject) => {
      const key = this.#options.key?.(item);
      let batch = this.#waiting[this.#waiting.length - 1];
      if (!batch || (key !== undefined && batch.keys.has(key)) || batch.items.length >= this.#options.maxItems) {
        batch = { items: [], keys: new Set(), settle: [] };
        this.#waiting.push(batch);
      }
      batch.items.push(item);
      if (key !== undefined) batch.keys.add(key);
      batch.settle.push((outcome) => (outcome.status === "fulfilled" ? resolve(outcome.value) : reject(outcome.reason)));
      if (!this.#flushing) void this.#flush();
    });
  }

  async #flush(): Promise<void> {
    this.#flushing = true;
    try {
      for (let batch = this.#waiting.shift(); batch; batch = this.#waiting.shift()) {
        let outcomes: PromiseSettledResult<Result>[];
        try {
          outcomes = await this.#options.handle(batch.items);
        } catch (reason) {
          outcomes = batch.items.map(() => ({ status: "rejected", reason }));
        }
        for (const [i, settle] of batch.settle.entries()) settle(outcomes[i] as PromiseSettledResult<Result>);
      }
    } finally {
      this.#flushing = false;
    }
  }
}
