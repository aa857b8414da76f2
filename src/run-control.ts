import { systemClock, type Clock } from "./clock.js";
import { hasErrorCode, InvalidTransitionError, RecordNotFoundError } from "./errors.js";
import { countRunStateChange, type Metrics } from "./metrics.js";
import type { Record, RecordStore } from "./record.js";
import { canChangeRunState, RunState, runStateName } from "./runstate.js";
import { changedRecord } from "./update.js";

/** Pause, resume, cancel or delete runs of one workflow, with the run-state rules of a built workflow. */
export interface RunControl {
  /** Pauses a run: its steps, callbacks and timeouts leave it alone until it is resumed. */
  pause(runId: string, reason: string): Promise<Record>;
  /** Resumes a paused run where it stopped. */
  resume(runId: string): Promise<Record>;
  /** Cancels a run that has not finished; a run whose stored row is malformed can be cancelled too. */
  cancel(runId: string, reason: string): Promise<Record>;
  /** Asks for a finished (or malformed) run's object to be deleted; the workflow's delete process does it. */
  deleteData(runId: string, reason: string): Promise<Record>;
}

/** Options of {@link runControl}. */
export interface RunControlOptions {
  /** Stamps `updatedAt`. Default: the system clock. */
  clock?: Clock;
  /** Counts each change made in `workflow_run_state_changes` (see `stepwise/prometheus`). Default: none. */
  metrics?: Pick<Metrics, "runStateChanged">;
}

/**
 * Controls runs without a built workflow (the web UI, the CLI, an operator's script), writing the
 * same records and events a built workflow writes. Each change resolves with the record written.
 *
 * ```ts
 * const control = runControl(postgres({ pool }).recordStore, "order-processing");
 * await control.cancel(runId, "duplicate order");
 * ```
 */
export function runControl(recordStore: Pick<RecordStore, "lookup" | "store">, workflowName: string, options: RunControlOptions = {}): RunControl {
  const changer = { clock: options.clock ?? systemClock };
  const change = async (runId: string, to: RunState, reason: string): Promise<Record> => {
    for (;;) {
      const { record, malformed } = await lookupForControl(recordStore, runId);
      if (record.workflowName !== workflowName) throw new RecordNotFoundError(runId);
      let next: Record;
      if (malformed) {
        // Nothing can be read of the run's state, so only the ways out are offered: cancel or delete.
        if (to !== RunState.Cancelled && to !== RunState.RequestedDataDeleted) throw malformed;
        next = { ...record, runState: to, updatedAt: changer.clock.now(), meta: { ...record.meta, version: record.meta.version + 1, runStateReason: reason } };
      } else {
        if (!canChangeRunState(record.runState, to)) {
          throw new InvalidTransitionError(runStateName(record.runState), runStateName(to), `run "${runId}" cannot make this run-state change`);
        }
        next = changedRecord(changer, record, { runState: to, reason });
      }
      try {
        await recordStore.store(next);
        countRunStateChange(options.metrics, workflowName, record.runState, to);
        return next;
      } catch (err) {
        // Someone changed the run meanwhile: decide again on its new state.
        if (!hasErrorCode(err, "VERSION_CONFLICT")) throw err;
      }
    }
  };
  return {
    pause: (runId, reason) => change(runId, RunState.Paused, reason),
    resume: (runId) => change(runId, RunState.Running, "resumed"),
    cancel: (runId, reason) => change(runId, RunState.Cancelled, reason),
    deleteData: (runId, reason) => change(runId, RunState.RequestedDataDeleted, reason),
  };
}

/** The record, or what a store could salvage of a malformed row together with its error. */
async function lookupForControl(
  recordStore: Pick<RecordStore, "lookup">,
  runId: string,
): Promise<{ record: Record; malformed?: Error }> {
  try {
    return { record: await recordStore.lookup(runId) };
  } catch (err) {
    const salvage = hasErrorCode(err, "MALFORMED_RECORD") ? (err as { salvage?: Record }).salvage : undefined;
    if (!salvage) throw err;
    return { record: salvage, malformed: err as Error };
  }
}
