import { BuildError } from "./errors.js";

/**
 * Exponential back-off, in milliseconds: the n-th error in a row waits
 * `min(max, initial × factor^(n−1))`, or, with `jitter`, a uniformly random time between 0 and
 * that ("full jitter"), so runs that failed together do not all retry together. Waits are
 * rounded to whole milliseconds.
 *
 * ```ts
 * b.addStep(Status.Created, charge, Status.Paid)
 *   .withOptions({ errBackOff: { initial: 100, max: 60_000 } }); // up to 100, 200, 400 … ms, never over 1 min
 * ```
 */
export interface BackOffPolicy {
  /** The wait after the first error; more than 0. */
  initial: number;
  /** The longest wait; at least `initial`. */
  max: number;
  /** How much each error in a row multiplies the wait; at least 1. Default 2. */
  factor?: number;
  /** Wait a random time up to the computed one. Default true. */
  jitter?: boolean;
}

/** `errBackOff`: a constant wait in milliseconds, or a policy that grows with the errors in a row. */
export type BackOff = number | BackOffPolicy;

/**
 * How long to wait after the `errorsInARow`-th error in a row (1 for the first). `random` returns
 * numbers in [0, 1), as `Math.random` does; it is only called for a jittered policy.
 */
export function backOffMs(backOff: BackOff, errorsInARow: number, random: () => number): number {
  if (typeof backOff === "number") return backOff;
  const { initial, max, factor = 2, jitter = true } = backOff;
  // Past the cap the power would only overflow to Infinity; min() keeps the cap either way.
  const ceilingMs = Math.min(max, initial * factor ** Math.max(0, errorsInARow - 1));
  // Whole milliseconds: a fraction added to a clock reading in ms would be lost to rounding anyway.
  return Math.round(jitter ? random() * ceilingMs : ceilingMs);
}

/** Rejects an `errBackOff` that is neither a non-negative number nor a workable policy, naming the option. */
export function checkBackOff(owner: string, value: unknown): void {
  if (typeof value === "number") {
    if (Number.isFinite(value) && value >= 0) return;
    throw new BuildError(`${owner}: option "errBackOff" must be a non-negative number, got ${String(value)}, or a policy { initial, max, factor?, jitter? }`);
  }
  if (typeof value !== "object" || value === null) {
    throw new BuildError(`${owner}: option "errBackOff" must be a non-negative number or { initial, max, factor?, jitter? }, got ${String(value)}`);
  }
  const policy = value as { [key: string]: unknown };
  for (const key of Object.keys(policy)) {
    if (!policyKeys.includes(key)) throw new BuildError(`${owner}: option "errBackOff" has an unknown field "${key}"`);
  }
  const { initial, max, factor, jitter } = policy;
  if (!isFiniteNumber(initial) || initial <= 0) {
    throw new BuildError(`${owner}: option "errBackOff.initial" must be a finite number above 0, got ${String(initial)}`);
  }
  if (!isFiniteNumber(max) || max < initial) {
    throw new BuildError(`${owner}: option "errBackOff.max" must be a finite number of at least initial (${initial}), got ${String(max)}`);
  }
  if (factor !== undefined && (!isFiniteNumber(factor) || factor < 1)) {
    throw new BuildError(`${owner}: option "errBackOff.factor" must be a finite number of at least 1, got ${String(factor)}`);
  }
  if (jitter !== undefined && typeof jitter !== "boolean") {
    throw new BuildError(`${owner}: option "errBackOff.jitter" must be true or false, got ${String(jitter)}`);
  }
}

const policyKeys: readonly string[] = ["initial", "max", "factor", "jitter"] satisfies (keyof BackOffPolicy)[];

function isFiniteNumber(value: unknown): value is number {
  return typeof value === "number" && Number.isFinite(value);
}
