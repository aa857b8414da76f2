import type { Clock } from "./clock.js";
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
 * One shard's starts, counted in a sliding window: at most `max` in any `perMs`, however they fall,
 * so a count over any window (fixed or sliding) stays within the limit. It keeps the times of the
 * starts still in the window; when they are `max`, the oldest says when the next may come.
 *
 * A start is counted when the step function is about to run, after its batch read the runs: a run
 * counted earlier could start later than its slot says and crowd the next window. So that those
 * reads do not add to every window's wait, a shard forms its next batch the time they last took
 * (its lead) before starts free up, and each run waits for its own (`tryStart`, `whenFree`).
 */
export class RateLimiter {
  readonly max: number;
  readonly perMs: number;
  /** The start times (ms) still in the window, at most `max`, oldest at `#oldest`, as a ring. */
  readonly #startsMs: Float64Array;
  #oldest = 0;
  #count = 0;
  /** How long a batch took from being formed to its first start, last time; at most `perMs`. */
  #leadMs = 0;
  /** When the batch whose first start is still to come was formed. */
  #formedAtMs: number | undefined;
  /** The wait for the oldest start to leave the window, shared by the runs waiting for it. */
  #wait: { freeAtMs: number; signal: AbortSignal; freed: Promise<void> } | undefined;

  constructor(max: number, perMs: number) {
    this.max = max;
    this.perMs = perMs;
    this.#startsMs = new Float64Array(max);
  }

  /**
   * How many starts may begin at `atMs`. Asking about a later time (a batch's lead) forgets
   * nothing: a start may yet come before then.
   */
  available(atMs: number): number {
    let expired = 0;
    while (expired < this.#count && this.#at(expired) <= atMs - this.perMs) expired++;
    return this.max - this.#count + expired;
  }

  /** How many runs a batch formed at `nowMs` may take: the starts free by the time its reads are done. */
  room(nowMs: number): number {
    return this.available(nowMs + this.#leadMs);
  }

  /** When a batch is next worth forming: its lead before the next start frees up. */
  nextBatchMs(nowMs: number): number {
    const leadNowMs = nowMs + this.#leadMs;
    return this.available(leadNowMs) > 0 ? nowMs : this.#at(0) + this.perMs - this.#leadMs;
  }

  /** A batch was formed at `nowMs`; its first `tryStart` measures the lead. */
  batchFormed(nowMs: number): void {
    this.#formedAtMs = nowMs;
  }

  /**
   * Counts a start at `nowMs` if one is free, and says whether it did. The caller calls the step
   * function at once, so the window holds the times the step functions really started.
   */
  tryStart(nowMs: number): boolean {
    if (this.#formedAtMs !== undefined) {
      this.#leadMs = Math.min(this.perMs, Math.max(0, nowMs - this.#formedAtMs));
      this.#formedAtMs = undefined;
    }
    this.#forgetBefore(nowMs - this.perMs);
    if (this.#count === this.max) return false;
    this.#startsMs[(this.#oldest + this.#count) % this.max] = nowMs;
    this.#count++;
    return true;
  }

  /**
   * After `tryStart` found no start free: resolves once the oldest start leaves the window, on
   * `clock`, or rejects with the signal's reason on abort. The runs of a batch waiting together
   * share one timer (and one abort listener).
   */
  whenFree(clock: Clock, signal: AbortSignal): Promise<void> {
    const freeAtMs = this.#at(0) + this.perMs;
    if (this.#wait?.freeAtMs !== freeAtMs || this.#wait.signal !== signal) {
      this.#wait = { freeAtMs, signal, freed: clock.sleep(freeAtMs - clock.now().getTime(), signal) };
    }
    return this.#wait.freed;
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
