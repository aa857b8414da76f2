import type { Clock } from "./clock.js";
import type { Codec } from "./codec.js";
import type { EventStreamer } from "./event.js";
import type { Logger } from "./logger.js";
import type { Metrics } from "./metrics.js";
import type { ProcessOptions } from "./options.js";
import type { RecordStore } from "./record.js";
import type { RoleScheduler } from "./rolescheduler.js";
import type { TimeoutStore } from "./timeout-store.js";
import type { Tracer } from "./tracer.js";

/** Automatic resumption of paused runs. */
export interface PauseRetryOptions {
  /** How long a run stays paused before it is resumed. Default one hour. */
  resumeAfter?: number;
}

/** What `build()` takes: the adapters (e.g. `memory()`) and workflow-wide settings. */
export interface BuildConfig<T> {
  eventStreamer: EventStreamer;
  recordStore: RecordStore;
  roleScheduler: RoleScheduler;
  timeoutStore?: TimeoutStore;
  clock?: Clock;
  /**
   * Numbers in [0, 1) for the jitter of `errBackOff` policies. Default `Math.random`; tests pass
   * `seededRandom(seed, name)` from `stepwise/testing` to get the same waits every time.
   */
  random?: () => number;
  logger?: Logger;
  /** Traces triggers, steps, callbacks, timeouts and hooks, e.g. `otel()` from `stepwise/otel`. Default: none, at no cost. */
  tracer?: Tracer;
  /** Reports process and run-state metrics, e.g. `prometheus()` from `stepwise/prometheus`. Default: none, at no cost. */
  metrics?: Metrics;
  /**
   * Debugging: processes send debug lines to the logger (the console unless a logger is given),
   * and each run records the file and line that triggered it in `meta.traceOrigin`, which costs
   * a stack capture per trigger.
   */
  debug?: boolean;
  /** Options for every process, below each process's own. */
  defaultOptions?: ProcessOptions;
  /** Run the outbox process; turn off for stores that publish their events themselves. Default true. */
  outbox?: boolean;
  /** Resume paused runs after a while; `false` turns it off. */
  pauseRetry?: false | PauseRetryOptions;
  /** How the object is stored. Default JSON. */
  codec?: Codec<T>;
  /** What a run's object becomes when its data is deleted. Default: the bytes of `{"result":"deleted"}`. */
  customDelete?: (object: T) => T;
}
