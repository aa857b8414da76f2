import type { WorkflowContext } from "./context.js";
import type { Record } from "./record.js";
import { RunState } from "./runstate.js";
import { changedRecord, writeUnlessSuperseded } from "./update.js";

/**
 * Counts one process's errors in a row per run and applies `pauseAfterErrCount`: below the limit
 * an error is rethrown (the process backs off and the event comes again); at the limit the run is
 * paused with the error as its reason and the process moves on. A run's count ends with its first
 * success or skip, so the map holds only runs that are failing now.
 */
export class ErrorCount<T> {
  readonly #counts = new Map<string, number>();
  readonly #ctx: WorkflowContext<T>;
  readonly #pauseAfterErrCount: number;
  /** Names the process in the pause reason: `step Created`, `timeout Created`. */
  readonly #where: string;

  constructor(ctx: WorkflowContext<T>, pauseAfterErrCount: number, where: string) {
    this.#ctx = ctx;
    this.#pauseAfterErrCount = pauseAfterErrCount;
    this.#where = where;
  }

  /** The run was handled without an error. */
  reset(runId: string): void {
    this.#counts.delete(runId);
  }

  /** Rethrows `err` until the run has failed `pauseAfterErrCount` times in a row, then pauses it. */
  async failed(record: Record, err: unknown): Promise<void> {
    const count = (this.#counts.get(record.runId) ?? 0) + 1;
    if (this.#pauseAfterErrCount <= 0 || count < this.#pauseAfterErrCount) {
      this.#counts.set(record.runId, count);
      throw err;
    }
    this.#counts.delete(record.runId);
    const message = err instanceof Error ? err.message : String(err);
    const reason = `paused after ${count} errors in ${this.#where}: ${message}`;
    this.#ctx.logger.warn(`run ${record.runId} ${reason}`, { runId: record.runId, pausedAfterErrors: count, err });
    await writeUnlessSuperseded(this.#ctx, record, changedRecord(this.#ctx, record, { runState: RunState.Paused, reason }));
  }
}
