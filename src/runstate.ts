/** The lifecycle state of a run. The numbers are part of the wire format. */
export enum RunState {
  Unknown = 0,
  Initiated = 1,
  Running = 2,
  Paused = 3,
  Cancelled = 4,
  Completed = 5,
  DataDeleted = 6,
  RequestedDataDeleted = 7,
}

const allowedChanges: ReadonlyMap<RunState, readonly RunState[]> = new Map([
  // The Go original refuses Initiated → Cancelled; a run that never started can still be called off.
  [RunState.Initiated, [RunState.Running, RunState.Paused, RunState.Cancelled]],
  [RunState.Running, [RunState.Completed, RunState.Paused, RunState.Cancelled]],
  [RunState.Paused, [RunState.Running, RunState.Cancelled]],
  [RunState.Completed, [RunState.RequestedDataDeleted]],
  [RunState.Cancelled, [RunState.RequestedDataDeleted]],
  [RunState.RequestedDataDeleted, [RunState.DataDeleted]],
  [RunState.DataDeleted, [RunState.RequestedDataDeleted]],
]);

/** Whether the rules allow a run in `from` to move to `to`. */
export function canChangeRunState(from: RunState, to: RunState): boolean {
  return allowedChanges.get(from)?.includes(to) ?? false;
}

/** Finished runs never change status again; a new run may start for their foreign id. */
export function isFinished(state: RunState): boolean {
  return (
    state === RunState.Completed ||
    state === RunState.Cancelled ||
    state === RunState.RequestedDataDeleted ||
    state === RunState.DataDeleted
  );
}

/** Consumers, callbacks and timeouts leave stopped runs alone. */
export function isStopped(state: RunState): boolean {
  return (
    state === RunState.Paused ||
    state === RunState.Cancelled ||
    state === RunState.RequestedDataDeleted ||
    state === RunState.DataDeleted
  );
}

/** The enum member's name, e.g. `"Completed"`. */
export function runStateName(state: RunState): string {
  return RunState[state] ?? String(state);
}
