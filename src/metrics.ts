import type { Clock } from "./clock.js";
import type { ProcessState } from "./process-state.js";
import type { RecordStore } from "./record.js";
import type { RunState } from "./runstate.js";
import type { SkipReason } from "./skip.js";

/**
 * Where a built workflow reports how its processes and runs are doing; `stepwise/prometheus`
 * implements it on prom-client. A workflow built without one reports nothing and pays nothing.
 *
 * @example
 * ```ts
 * import { prometheus } from "stepwise/prometheus";
 * const wf = b.build({ ...memory(), metrics: prometheus() });
 * ```
 */
export interface Metrics {
  /**
   * The instruments of one process, asked for once each time the process is launched, so an
   * implementation resolves its labels here and not on every event.
   */
  process(workflowName: string, processName: string): ProcessMetrics;
  /** A run's state changed from `previous` to `current`, and the change is stored. */
  runStateChanged(workflowName: string, previous: RunState, current: RunState): void;
  /**
   * Offers a built workflow's store for what is read at collection time (runs per status, the
   * outbox's backlog). Returns what takes it back: the workflow calls it on `stop()`.
   */
  track?(workflow: TrackedWorkflow): () => void;
}

/** What one process reports, through instruments bound to its workflow and process names. */
export interface ProcessMetrics {
  /** The process's state changed (the number of `states()`). */
  state(state: ProcessState): void;
  /**
   * How far behind the process is: now minus the creation time of the event it took (the oldest
   * of a batch), and whether that is beyond its `lagAlert` option.
   */
  lag(lagSeconds: number, alerting: boolean): void;
  /**
   * Events were handled in `seconds`: one event, or `count` events handled together in one batch,
   * each of which took the batch's time.
   */
  handled(seconds: number, count: number): void;
  /** An event failed (it backs off and comes again), or the process itself failed and backs off. */
  error(): void;
  /** An event was let go without acting on it, for `reason`. */
  skipped(reason: SkipReason): void;
}

/** A built workflow as {@link Metrics.track} sees it. */
export interface TrackedWorkflow {
  readonly name: string;
  readonly recordStore: Pick<RecordStore, "list" | "countByStatus" | "listOutboxEvents">;
  readonly clock: Clock;
  /** Whether the workflow runs an outbox process (`build({ outbox: false })` turns it off). */
  readonly outbox: boolean;
  /** The status's name, as the builder's enum names it. */
  statusName(status: number): string;
}

/** Counts a stored run-state change, if the workflow has metrics and the state did change. */
export function countRunStateChange(
  metrics: Pick<Metrics, "runStateChanged"> | undefined,
  workflowName: string,
  previous: RunState,
  current: RunState,
): void {
  if (metrics !== undefined && previous !== current) metrics.runStateChanged(workflowName, previous, current);
}
