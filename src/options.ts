import { checkBackOff, type BackOff } from "./back-off.js";
import { BuildError } from "./errors.js";
import { checkRateLimit, type RateLimit } from "./rate-limit.js";

/** Settings of one background process; durations in milliseconds. */
export interface ProcessOptions {
  /** How many shards share the work, split by run id. Default 1. */
  parallelCount?: number;
  /** How often to look for work where an adapter cannot push. Default 500. */
  pollingFrequency?: number;
  /**
   * How long to wait after an error before trying again: a number of milliseconds (the same wait
   * every time), or `{ initial, max, factor?, jitter? }` for a wait that grows with the errors in a
   * row, up to `max` (see `BackOffPolicy`). Errors count per run, so one failing run backs off alone
   * in a batch, or per process where an error is no run's (a connector, the outbox, a lost
   * connection). A success starts the count again. Default 1000.
   */
  errBackOff?: BackOff;
  /** Consume only events older than this. Applies to step consumers, and to connectors that set it themselves. Default 0. */
  lag?: number;
  /** How far behind a consumer may fall before it is reported as lagging. Default 30 minutes. */
  lagAlert?: number;
  /**
   * Pause a run after this many errors in a row for it in one process; 0 retries forever. Default
   * 10: a run that keeps failing is set aside where an operator sees it (and the paused-run retry
   * tries it again an hour later) instead of failing in a loop and holding back its process's acks.
   */
  pauseAfterErrCount?: number;
  /**
   * Step consumers only: how many events one batch takes. A batch's step functions run together and
   * its transitions are stored together (one transaction where the store has `storeMany`) and acked
   * together. 1 handles one event at a time. Default 100.
   */
  batchSize?: number;
  /** Step consumers only: how many step functions of a batch run at once, per shard. Default 100. */
  concurrency?: number;
  /**
   * Step consumers only: start at most `max` runs per `perMs` milliseconds across every process of
   * the workflow, each shard taking its share; runs over it wait their turn. Default: no limit.
   */
  rateLimit?: RateLimit;
}

/** The options a process runs with: each has a value, except `rateLimit`, which has no default. */
export type ResolvedOptions = Required<Omit<ProcessOptions, "rateLimit">> & Pick<ProcessOptions, "rateLimit">;

export const defaultProcessOptions: ResolvedOptions = {
  parallelCount: 1,
  pollingFrequency: 500,
  errBackOff: 1000,
  lag: 0,
  lagAlert: 30 * 60_000,
  pauseAfterErrCount: 10,
  batchSize: 100,
  concurrency: 100,
  rateLimit: undefined,
};

/** The options only a step consumer honours; every other process kind refuses them by name. */
export const stepOnlyOptions = ["batchSize", "concurrency", "rateLimit"] as const satisfies readonly (keyof ProcessOptions)[];

/**
 * Where a process kind takes `lag` from. Only steps wait out the workflow's default lag; a
 * connector lags only when asked in its own options; hooks, timeouts, delete and paused-run retry
 * act on what already happened and never lag.
 */
export type LagSource = "defaults" | "own" | "never";

/**
 * The options a process runs with: its own over the workflow's defaults over the library's, with
 * `undefined` values dropped and `lag` taken as `lagFrom` says.
 */
export function resolveOptions(
  workflowDefaults: ProcessOptions | undefined,
  own: ProcessOptions | undefined,
  lagFrom: LagSource,
): ResolvedOptions {
  const resolved: ResolvedOptions = { ...defaultProcessOptions };
  for (const layer of [workflowDefaults, own]) {
    if (!layer) continue;
    for (const [key, value] of Object.entries(layer)) {
      if (value !== undefined) Object.assign(resolved, { [key]: value });
    }
  }
  resolved.lag = lagFrom === "defaults" ? resolved.lag : lagFrom === "own" ? (own?.lag ?? 0) : 0;
  return resolved;
}

/**
 * Rejects option values that cannot work, and options the process kind cannot honour
 * (`unsupported`), naming the option and its owner.
 */
export function validateOptions(owner: string, options: ProcessOptions, unsupported: readonly (keyof ProcessOptions)[] = []): void {
  for (const [key, value] of Object.entries(options)) {
    if (!(key in defaultProcessOptions)) throw new BuildError(`${owner}: unknown option "${key}"`);
    if (value === undefined) continue;
    if ((unsupported as readonly string[]).includes(key)) throw new BuildError(`${owner}: does not take the option "${key}"`);
    if (key === "errBackOff") checkBackOff(owner, value);
    else if (key === "rateLimit") checkRateLimit(owner, value);
    else checkDuration(owner, key, value);
  }
  for (const key of ["parallelCount", "batchSize", "concurrency"] as const) {
    const value = options[key];
    if (value !== undefined && (!Number.isInteger(value) || value < 1)) {
      throw new BuildError(`${owner}: option "${key}" must be a whole number of at least 1`);
    }
  }
}

/** Rejects anything but a finite, non-negative number for the option named `key`. */
export function checkDuration(owner: string, key: string, value: unknown): void {
  if (typeof value !== "number" || !Number.isFinite(value) || value < 0) {
    throw new BuildError(`${owner}: option "${key}" must be a non-negative number, got ${String(value)}`);
  }
}
