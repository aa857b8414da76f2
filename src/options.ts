import { BuildError } from "./errors.js";

/** Settings of one background process; durations in milliseconds. */
export interface ProcessOptions {
  /** How many shards share the work, split by run id. Default 1. */
  parallelCount?: number;
  /** How often to look for work where an adapter cannot push. Default 500. */
  pollingFrequency?: number;
  /** How long to wait after an error before trying again. Default 1000. */
  errBackOff?: number;
  /** Consume only events older than this. Default 0. */
  lag?: number;
  /** How far behind a consumer may fall before it is reported as lagging. Default 30 minutes. */
  lagAlert?: number;
  /** Pause a run after this many errors in a row for it in one process; 0 retries forever. Default 0. */
  pauseAfterErrCount?: number;
}

export type ResolvedOptions = Required<ProcessOptions>;

export const defaultProcessOptions: ResolvedOptions = {
  parallelCount: 1,
  pollingFrequency: 500,
  errBackOff: 1000,
  lag: 0,
  lagAlert: 30 * 60_000,
  pauseAfterErrCount: 0,
};

/** Later layers win; an `undefined` value never overrides. */
export function resolveOptions(...layers: (ProcessOptions | undefined)[]): ResolvedOptions {
  const resolved: ResolvedOptions = { ...defaultProcessOptions };
  for (const layer of layers) {
    if (!layer) continue;
    for (const [key, value] of Object.entries(layer) as [keyof ProcessOptions, number | undefined][]) {
      if (value !== undefined) resolved[key] = value;
    }
  }
  return resolved;
}

/** Rejects option values that cannot work, naming the option. */
export function validateOptions(owner: string, options: ProcessOptions): void {
  for (const [key, value] of Object.entries(options)) {
    if (!(key in defaultProcessOptions)) throw new BuildError(`${owner}: unknown option "${key}"`);
    if (value === undefined) continue;
    if (typeof value !== "number" || !Number.isFinite(value) || value < 0) {
      throw new BuildError(`${owner}: option "${key}" must be a non-negative number, got ${String(value)}`);
    }
  }
  if (options.parallelCount !== undefined && (!Number.isInteger(options.parallelCount) || options.parallelCount < 1)) {
    throw new BuildError(`${owner}: option "parallelCount" must be a whole number of at least 1`);
  }
}
