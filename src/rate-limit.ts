import { BuildError } from "./errors.js";

/**
 * Step option: the step starts at most `max` runs in any `perMs` milliseconds, counted across all
 * the processes running the workflow. Each shard (`parallelCount`) takes its share of `max`, so
 * the shares add up to the limit whichever processes hold them. Runs over the limit wait, un-acked
 * and not counted as errors, and start as the window moves on; other steps are not held up.
 *
 * ```ts
 * b.addStep(Status.Created, callPartnerApi, Status.Sent).withOptions({ rateLimit: { max: 200, perMs: 1000 } });
 * ```
 */
export interface RateLimit {
  /** Runs started per window, across all shards; a whole number, at least 1 and at least `parallelCount`. */
  max: number;
  /** The window in milliseconds; more than 0. */
  perMs: number;
}

/** Rejects a `rateLimit` that cannot work, naming the option. */
export function checkRateLimit(owner: string, value: unknown): void {
  if (typeof value !== "object" || value === null) {
    throw new BuildError(`${owner}: option "rateLimit" must be { max, perMs }, got ${String(value)}`);
  }
  const limit = value as { [key: string]: unknown };
  for (const key of Object.keys(limit)) {
    if (key !== "max" && key !== "perMs") throw new BuildError(`${owner}: option "rateLimit" has an unknown field "${key}"`);
  }
  if (typeof limit.max !== "number" || !Number.isInteger(limit.max) || limit.max < 1) {
    throw new BuildError(`${owner}: option "rateLimit.max" must be a whole number of at least 1, got ${String(limit.max)}`);
  }
  if (typeof limit.perMs !== "number" || !Number.isFinite(limit.perMs) || limit.perMs <= 0) {
    throw new BuildError(`${owner}: option "rateLimit.perMs" must be a finite number above 0, got ${String(limit.perMs)}`);
  }
}

/**
 * The limiter of each shard (1-based index `k` of `count`), over its share of `limit.max`: the
 * whole part of `max / count`, plus one for the first `max % count` shards, so the shares sum to
 * `max`. A shard with no share could never start a run, so `max` below `count` is refused.
 */
export function shardLimiters(owner: string, limit: RateLimit, count: number): RateLimiter[] {
  if (limit.max < count) {
    throw new BuildError(
      `${owner}: option "rateLimit.max" (${limit.max}) must be at least parallelCount (${count}): each shard takes a share of it`,
    );
  }
  const base = Math.floor(limit.max / count);
  const remainder = limit.max % count;
  return Array.from({ length: count }, (_, i) => new RateLimiter(base + (i < remainder ? 1 : 0), limit.perMs));
}

/**
 * Counts one shard's starts in a sliding window: at most `max` in any `perMs`, however the starts
 * fall, so a measurement over any window (fixed or sliding) stays within the limit. It keeps the
 * times of the starts still in the window; when they are `max`, the oldest says when the next may come.
 */
export class RateLimiter {
  readonly max: number;
  readonly perMs: number;
  /** The start times (ms) still in the window, at most `max`, oldest at `#oldest`, as a ring. */
  readonly #startsMs: Float64Array;
  #oldest = 0;
  #count = 0;

  constructor(max: number, perMs: number) {
    this.max = max;
    this.perMs = perMs;
    this.#startsMs = new Float64Array(max);
  }

  /** How many starts may begin at `nowMs`. */
  available(nowMs: number): number {
    this.#forgetBefore(nowMs - this.perMs);
    return this.max - this.#count;
  }

  /** When the next start may begin: `nowMs` if one is available, else once the oldest start leaves the window. */
  nextStartMs(nowMs: number): number {
    return this.available(nowMs) > 0 ? nowMs : this.#at(0) + this.perMs;
  }

  /**
   * Records a start at `nowMs`. The caller sizes its work by `available` first: a start beyond it
   * would break the limit, so it is refused loudly rather than counted.
   */
  take(nowMs: number): void {
    if (this.available(nowMs) === 0) throw new Error(`rate limiter: no start available at ${nowMs}; the caller must check available() first`);
    this.#startsMs[(this.#oldest + this.#count) % this.max] = nowMs;
    this.#count++;
  }

  /** Drops the starts at or before `ms`: they have left the window. */
  #forgetBefore(ms: number): void {
    while (this.#count > 0 && this.#at(0) <= ms) {
      this.#oldest = (this.#oldest + 1) % this.max;
      this.#count--;
    }
  }

  /** The i-th oldest start kept. */
  #at(i: number): number {
    return this.#startsMs[(this.#oldest + i) % this.max] as number;
  }
}
