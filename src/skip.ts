/**
 * Why a process let an event go without acting on it: the `reason` of its debug line (and the
 * label of the skipped-events metric).
 */
export type SkipReason =
  /** The event's run is not in the record store. */
  | "record_not_found"
  /** The run was written again since the event: a later event speaks for it. */
  | "event_superseded"
  /** The stored row cannot be read (logged as an error): cancel or delete the run to clear it. */
  | "record_malformed"
  /** The run is paused, cancelled, finished or its data deleted. */
  | "record_stopped"
  /** The run is no longer in the status (or run state) the process acts on. */
  | "status_mismatch"
  /** The record belongs to another workflow that shares the topic's name. */
  | "other_workflow"
  /** The event is not meant for this process (another run state on a shared topic, a filter said no). */
  | "filtered_out"
  /**
   * The run was written by an older version of the workflow: the consumer of its status upgrades it
   * first, and the upgraded run's event brings it back.
   */
  | "older_workflow_version"
  /** The step, callback or timeout returned `run.skip()`. */
  | "step_skipped";

/** Tells a skip reason from a record or other result. */
export function isSkip(value: unknown): value is SkipReason {
  return typeof value === "string";
}
