/** Calls waiting for the same batch, with their callers. */
interface Batch<Item, Result> {
  readonly items: Item[];
  readonly keys: Set<string>;
  readonly settle: ((outcome: PromiseSettledResult<Result>) => void)[];
}

/** How a {@link TurnBatcher} hands a gathering on. */
export interface TurnBatcherOptions<Item, Result> {
  /** Does the work for a batch, with one outcome per item, in order. */
  handle(items: readonly Item[]): Promise<PromiseSettledResult<Result>[]>;
  /** Items of one key never share a batch: the later one goes in the next, after the first is done. */
  key?(item: Item): string;
  /** At most this many items per batch. */
  maxItems: number;
}

/**
 * Gathers the calls made in one turn of the event loop and does their work in one go: under load
 * many calls share one round trip or commit, and a call alone waits one turn. Batches run one after
 * another, oldest first.
 */
export class TurnBatcher<Item, Result> {
  readonly #options: TurnBatcherOptions<Item, Result>;
  /** Batches not yet handed on, oldest first. */
  #waiting: Batch<Item, Result>[] = [];

  constructor(options: TurnBatcherOptions<Item, Result>) {
    this.#options = options;
  }

  add(item: Item): Promise<Result> {
    return new Promise((resolve, reject) => {
      const key = this.#options.key?.(item);
      let batch = this.#waiting[this.#waiting.length - 1];
      if (!batch || (key !== undefined && batch.keys.has(key)) || batch.items.length >= this.#options.maxItems) {
        batch = { items: [], keys: new Set(), settle: [] };
        this.#waiting.push(batch);
        if (this.#waiting.length === 1) setImmediate(this.#flush);
      }
      batch.items.push(item);
      if (key !== undefined) batch.keys.add(key);
      batch.settle.push((outcome) => (outcome.status === "fulfilled" ? resolve(outcome.value) : reject(outcome.reason)));
    });
  }

  readonly #flush = async (): Promise<void> => {
    const batches = this.#waiting;
    this.#waiting = [];
    for (const batch of batches) {
      let outcomes: PromiseSettledResult<Result>[];
      try {
        outcomes = await this.#options.handle(batch.items);
      } catch (reason) {
        outcomes = batch.items.map(() => ({ status: "rejected", reason }));
      }
      for (const [i, settle] of batch.settle.entries()) settle(outcomes[i] as PromiseSettledResult<Result>);
    }
  };
}
