import { systemClock } from "../clock.js";
import { InvalidOptionError } from "../errors.js";
import { InjectedFaultError } from "./injected-fault-error.js";
import { seededRandom } from "./seeded-random.js";

/** The RecordStore methods a chaos wrapper can fail or delay (the optional ones only where the store has them). */
export type RecordStoreMethod =
  | "store"
  | "storeMany"
  | "lookup"
  | "lookupMany"
  | "latest"
  | "list"
  | "listOutboxEvents"
  | "deleteOutboxEvent"
  | "deleteOutboxEvents"
  | "countByStatus"
  | "workflowNames";

/** The EventStreamer methods, and those of its senders and receivers, a chaos wrapper can fail or delay. */
export type EventStreamerMethod = "newSender" | "newReceiver" | "send" | "recv" | "ack";

/** The TimeoutStore methods a chaos wrapper can fail or delay. */
export type TimeoutStoreMethod = "create" | "complete" | "cancel" | "list" | "listValid";

/** The RoleScheduler method a chaos wrapper can fail or delay. */
export type RoleSchedulerMethod = "await";

/** Every method a chaos wrapper can fail or delay. */
export type ChaosMethod = RecordStoreMethod | EventStreamerMethod | TimeoutStoreMethod | RoleSchedulerMethod;

/**
 * What a chaos wrapper does to the calls it passes on. Each rate is a probability per call, from 0
 * (the default: never) to 1. The same seed gives the same faults: each method draws from its own
 * seeded stream, so the n-th call of a method always meets the same fate. Which call is the n-th
 * depends on the order calls arrive in, which concurrent work may change from run to run.
 *
 * `close()` of senders and receivers and `release()` of leases are never failed nor delayed: a
 * real adapter frees those resources anyway (a lease expires, a socket closes), and a fault there
 * would only leak them.
 */
export interface ChaosOptions<M extends string = ChaosMethod> {
  /** Fixes the schedule of faults: a safe integer. */
  seed: number;
  /** Calls that throw {@link InjectedFaultError} without making the real call. */
  failRate?: number;
  /**
   * Calls that make the real call and then throw {@link InjectedFaultError}: a write that happened
   * but whose caller sees an error, the nastiest case. An `await` failed this way releases the
   * lease it got first. `failRate + failAfterRate` is at most 1.
   */
  failAfterRate?: number;
  /**
   * How long a delayed call waits before the real call: a fixed number of milliseconds or a
   * `[min, max]` range, drawn per call. Delays use real timers, not the workflow's clock: they
   * stand for slow I/O, which makes calls overlap differently, and a FakeClock does not move by
   * itself. Default 0 (no delay, no timer).
   */
  delayMs?: number | readonly [min: number, max: number];
  /** The share of calls that are delayed by `delayMs`. Default 1: every call. */
  delayRate?: number;
  /**
   * Receivers only: an event handed out is handed out once more on the next `recv` (at-least-once
   * delivery). The receiver acks the event underneath once every copy of it was acked.
   */
  duplicateRate?: number;
  /**
   * Receivers only: an event is swapped with the next one, when the receiver already holds the next
   * one and it belongs to another run (events of one run keep their order). The receiver still
   * acks underneath in the order it received, so a reordered event is never acked past an earlier
   * one that is not done.
   */
  reorderRate?: number;
  /** Only these methods are failed, delayed, duplicated or reordered; the others pass straight through. Default: all. */
  only?: readonly M[];
}

/** What a chaos wrapper did, in total or for one method. */
export interface ChaosCounts {
  /** Calls that passed through the wrapper's schedule (a method left out by `only` counts none). */
  calls: number;
  /** Calls failed before the real call. */
  failedBefore: number;
  /** Calls failed after the real call took effect. */
  failedAfter: number;
  /** Calls delayed, and for how long in total. */
  delayed: number;
  delayedMs: number;
  /** Events handed out twice (`recv`). */
  duplicated: number;
  /** Events handed out before an earlier one (`recv`). */
  reordered: number;
}

/** {@link ChaosCounts} in total and per method (`recv`, `store`, …). */
export interface ChaosStats extends ChaosCounts {
  readonly byMethod: { readonly [method: string]: ChaosCounts };
}

/** A chaos-wrapped adapter: it counts what it injected, so a test can assert that faults happened. */
export interface Chaotic {
  stats(): ChaosStats;
}

const rates = ["failRate", "failAfterRate", "delayRate", "duplicateRate", "reorderRate"] as const;

/** Counts of nothing done yet. */
export function noCounts(): ChaosCounts {
  return { calls: 0, failedBefore: 0, failedAfter: 0, delayed: 0, delayedMs: 0, duplicated: 0, reordered: 0 };
}

/** Adds `counts` into `total`. */
export function addCounts(total: ChaosCounts, counts: ChaosCounts): void {
  for (const key of Object.keys(total) as (keyof ChaosCounts)[]) total[key] += counts[key];
}

/** The fate of one call: whether it fails, and how long it waits first. */
interface Fate {
  fail: "before" | "after" | undefined;
  delayMs: number;
  call: number;
}

/**
 * The seeded schedule of one wrapped adapter: draws each call's fate, makes the call accordingly
 * and counts what it injected. `scope` separates the streams of parts made at run time (each
 * receiver draws its own), so reopening a receiver does not replay the fates of the one before.
 */
export class ChaosSchedule {
  readonly #adapter: string;
  readonly #seed: number;
  readonly #failRate: number;
  readonly #failAfterRate: number;
  readonly #delayRate: number;
  readonly #duplicateRate: number;
  readonly #reorderRate: number;
  readonly #delayMs: readonly [number, number];
  readonly #only: ReadonlySet<string> | undefined;
  readonly #streams = new Map<string, () => number>();
  readonly #counts = new Map<string, ChaosCounts>();

  constructor(adapter: string, methods: readonly string[], options: ChaosOptions<string>) {
    this.#adapter = adapter;
    const { seed, delayMs = 0, only } = options;
    if (!Number.isSafeInteger(seed)) throw new InvalidOptionError("seed", `chaos seed must be a safe integer, got ${String(seed)}`);
    for (const rate of rates) {
      const value = options[rate];
      if (value !== undefined && !(value >= 0 && value <= 1)) throw new InvalidOptionError(rate, `chaos ${rate} must be between 0 and 1, got ${String(value)}`);
    }
    this.#seed = seed;
    this.#failRate = options.failRate ?? 0;
    this.#failAfterRate = options.failAfterRate ?? 0;
    if (this.#failRate + this.#failAfterRate > 1) {
      throw new InvalidOptionError("failAfterRate", `chaos failRate + failAfterRate must be at most 1, got ${this.#failRate + this.#failAfterRate}`);
    }
    this.#delayRate = options.delayRate ?? 1;
    this.#duplicateRate = options.duplicateRate ?? 0;
    this.#reorderRate = options.reorderRate ?? 0;
    const [minMs, maxMs] = typeof delayMs === "number" ? [delayMs, delayMs] : delayMs;
    if (!(Number.isFinite(minMs) && Number.isFinite(maxMs) && minMs >= 0 && minMs <= maxMs)) {
      throw new InvalidOptionError("delayMs", `chaos delayMs must be a number of milliseconds or a [min, max] range with 0 <= min <= max, got ${JSON.stringify(delayMs)}`);
    }
    this.#delayMs = [minMs, maxMs];
    if (only !== undefined) {
      const unknown = only.filter((method) => !methods.includes(method));
      if (unknown.length > 0) throw new InvalidOptionError("only", `chaos only names methods the ${adapter} lacks: ${unknown.join(", ")}`);
      this.#only = new Set(only);
    }
  }

  /** Whether `method` goes through the schedule (else it passes straight through). */
  isChaotic(method: string): boolean {
    return this.#only === undefined || this.#only.has(method);
  }

  /**
   * Makes `real` as the call's fate says: maybe after a delay, maybe not at all (a fault before),
   * maybe followed by a fault (after `undo` gave back what the call took, such as a lease).
   */
  async call<V>(method: string, real: () => Promise<V>, how: { scope?: string; signal?: AbortSignal; undo?: (value: V) => Promise<void> } = {}): Promise<V> {
    if (!this.isChaotic(method)) return real();
    const fate = this.#fate(method, how.scope ?? "");
    if (fate.delayMs > 0) await systemClock.sleep(fate.delayMs, how.signal);
    if (fate.fail === "before") throw new InjectedFaultError(this.#adapter, method, "before", fate.call);
    const value = await real();
    if (fate.fail === "after") {
      await how.undo?.(value);
      throw new InjectedFaultError(this.#adapter, method, "after", fate.call);
    }
    return value;
  }

  /** Whether this delivery of a receiver is duplicated (or reordered); counts it when it is. */
  chance(kind: "duplicated" | "reordered", scope: string): boolean {
    const rate = kind === "duplicated" ? this.#duplicateRate : this.#reorderRate;
    if (rate === 0 || !this.isChaotic("recv")) return false;
    return this.#draw(`${scope}:recv:${kind}`) < rate;
  }

  /** Counts a fault decided by {@link chance} once it took place. */
  count(method: string, kind: "duplicated" | "reordered"): void {
    this.#countsOf(method)[kind]++;
  }

  stats(): ChaosStats {
    const total = noCounts();
    const byMethod: { [method: string]: ChaosCounts } = {};
    for (const [method, counts] of this.#counts) {
      byMethod[method] = { ...counts };
      addCounts(total, counts);
    }
    return { ...total, byMethod };
  }

  #fate(method: string, scope: string): Fate {
    const counts = this.#countsOf(method);
    const call = ++counts.calls;
    // Three draws per call whatever the options, so a call's fate depends only on its number.
    const stream = `${scope}:${method}`;
    const failDraw = this.#draw(stream);
    const delayDraw = this.#draw(stream);
    const lengthDraw = this.#draw(stream);
    const fail = failDraw < this.#failRate ? "before" : failDraw < this.#failRate + this.#failAfterRate ? "after" : undefined;
    const [minMs, maxMs] = this.#delayMs;
    const delayMs = maxMs > 0 && delayDraw < this.#delayRate ? minMs + Math.floor(lengthDraw * (maxMs - minMs + 1)) : 0;
    if (fail === "before") counts.failedBefore++;
    if (fail === "after") counts.failedAfter++;
    if (delayMs > 0) {
      counts.delayed++;
      counts.delayedMs += delayMs;
    }
    return { fail, delayMs, call };
  }

  #draw(stream: string): number {
    let next = this.#streams.get(stream);
    if (next === undefined) {
      next = seededRandom(this.#seed, `${this.#adapter}:${stream}`);
      this.#streams.set(stream, next);
    }
    return next();
  }

  #countsOf(method: string): ChaosCounts {
    let counts = this.#counts.get(method);
    if (counts === undefined) {
      counts = noCounts();
      this.#counts.set(method, counts);
    }
    return counts;
  }
}
