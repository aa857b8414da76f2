import { RunState } from "stepwise";

/**
 * SPEC §3's run-state table written out as the spec words it, independently of src/runstate.ts,
 * for properties to check the engine against.
 */
export const allowedChanges: ReadonlySet<string> = new Set([
  "Initiated>Running",
  "Initiated>Paused",
  "Initiated>Cancelled",
  "Running>Completed",
  "Running>Paused",
  "Running>Cancelled",
  "Paused>Running",
  "Paused>Cancelled",
  "Completed>RequestedDataDeleted",
  "Cancelled>RequestedDataDeleted",
  "RequestedDataDeleted>DataDeleted",
  "DataDeleted>RequestedDataDeleted",
]);

export const finishedStates: ReadonlySet<string> = new Set(["Completed", "Cancelled", "RequestedDataDeleted", "DataDeleted"]);
export const stoppedStates: ReadonlySet<string> = new Set(["Paused", "Cancelled", "RequestedDataDeleted", "DataDeleted"]);

/** Whether SPEC §3 lets a run in `from` change to `to`. */
export function modelAllows(from: RunState, to: RunState): boolean {
  return allowedChanges.has(`${RunState[from]}>${RunState[to]}`);
}

export function modelIsFinished(state: RunState): boolean {
  return finishedStates.has(RunState[state]);
}

export function modelIsStopped(state: RunState): boolean {
  return stoppedStates.has(RunState[state]);
}
