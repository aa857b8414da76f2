import { StepwiseError } from "../errors.js";

/**
 * A call to a chaos-wrapped adapter failed on purpose (see `chaosRecordStore` and its siblings).
 * `when` says whether the real call was made: `"before"` means nothing happened, `"after"` means
 * the call took effect (a record stored, an event sent) and the caller was told it failed.
 */
export class InjectedFaultError extends StepwiseError {
  readonly code = "INJECTED_FAULT";
  constructor(
    /** The wrapped part: `recordStore`, `eventStreamer`, `timeoutStore` or `roleScheduler`. */
    readonly adapter: string,
    readonly method: string,
    readonly when: "before" | "after",
    /** Which call of the method this was (1-based), for matching a failure to a seed's schedule. */
    readonly call: number,
  ) {
    super(
      when === "before"
        ? `injected fault: ${adapter}.${method} call ${call} failed before the real call (nothing happened)`
        : `injected fault: ${adapter}.${method} call ${call} failed after the real call (it took effect)`,
    );
  }
}
