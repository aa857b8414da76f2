import type { StandardSchemaV1 } from "@standard-schema/spec";
import type { Record } from "./record.js";
import type { TypedRecord } from "./run.js";
import { runStateName } from "./runstate.js";

/**
 * Every error stepwise throws on purpose extends StepwiseError and carries a stable `code`,
 * so callers can switch on it even where `instanceof` fails (two copies of stepwise installed).
 */
export abstract class StepwiseError extends Error {
  abstract readonly code: string;
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** No record exists for the run id (or not for the foreign id it was asked with). */
export class RecordNotFoundError extends StepwiseError {
  readonly code = "RECORD_NOT_FOUND";
  /** Set when the lookup was by foreign id (`latest`, `callback`). */
  foreignId?: string;
  constructor(
    readonly runId: string,
    options?: ErrorOptions,
    message = `no record for run "${runId}"`,
  ) {
    super(message, options);
  }

  /** No run at all for the foreign id in the workflow. */
  static forForeignId(workflowName: string, foreignId: string, options?: ErrorOptions): RecordNotFoundError {
    const err = new RecordNotFoundError("", options, `workflow "${workflowName}" has no run for foreign id "${foreignId}"`);
    err.foreignId = foreignId;
    return err;
  }
}

/** No timeout exists with that id, or it is no longer active. */
export class TimeoutNotFoundError extends StepwiseError {
  readonly code = "TIMEOUT_NOT_FOUND";
  constructor(
    readonly timeoutId: string,
    options?: ErrorOptions,
  ) {
    super(`no active timeout with id "${timeoutId}"`, options);
  }
}

/** A new run was refused because the latest run of the foreign id has not finished. */
export class WorkflowInProgressError extends StepwiseError {
  readonly code = "WORKFLOW_IN_PROGRESS";
  constructor(
    readonly workflowName: string,
    readonly foreignId: string,
    options?: ErrorOptions,
  ) {
    super(`workflow "${workflowName}" already has an unfinished run for foreign id "${foreignId}"`, options);
  }
}

/** No workflow of that name is served here (the web UI) or has runs in the store. */
export class WorkflowNotFoundError extends StepwiseError {
  readonly code = "WORKFLOW_NOT_FOUND";
  constructor(
    readonly workflowName: string,
    options?: ErrorOptions,
  ) {
    super(`no workflow named "${workflowName}"`, options);
  }
}

/** A step, callback or timeout returned a status it did not declare, or a run-state change the rules forbid. */
export class InvalidTransitionError extends StepwiseError {
  readonly code = "INVALID_TRANSITION";
  constructor(
    readonly from: string,
    readonly to: string,
    detail: string,
    options?: ErrorOptions,
  ) {
    super(`invalid transition from ${from} to ${to}: ${detail}`, options);
  }
}

/** The workflow was asked to do work that needs `run()` first, or it was stopped. */
export class WorkflowNotRunningError extends StepwiseError {
  readonly code = "WORKFLOW_NOT_RUNNING";
  constructor(
    readonly workflowName: string,
    action: string,
    detail = `call run() before ${action}`,
    options?: ErrorOptions,
  ) {
    super(`workflow "${workflowName}" is not running: ${detail}`, options);
  }
}

/**
 * The store holds runs of this workflow's name in a status its graph lacks: another workflow
 * definition shares the name and the store. Give one of them another name.
 */
export class WorkflowConflictError extends StepwiseError {
  readonly code = "WORKFLOW_CONFLICT";
  constructor(
    readonly workflowName: string,
    readonly status: number,
    readonly runId: string,
    options?: ErrorOptions,
  ) {
    super(
      `workflow "${workflowName}" has a stored run ("${runId}") in status ${status}, which its graph lacks: another workflow with this name shares the store`,
      options,
    );
  }
}

/** The outbox event to delete does not exist. */
export class OutboxRecordNotFoundError extends StepwiseError {
  readonly code = "OUTBOX_RECORD_NOT_FOUND";
  constructor(
    readonly outboxId: string,
    options?: ErrorOptions,
  ) {
    super(`no outbox event with id "${outboxId}"`, options);
  }
}

/** A store lost the compare-and-set on `meta.version`: the run changed since it was read. Nothing was written. */
export class VersionConflictError extends StepwiseError {
  readonly code = "VERSION_CONFLICT";
  constructor(
    readonly runId: string,
    readonly version: number,
    options?: ErrorOptions,
  ) {
    super(`run "${runId}" was changed by someone else: version ${version} cannot be written`, options);
  }
}

/** A status is reserved (0 or negative) or not part of the workflow's graph. */
export class InvalidStatusError extends StepwiseError {
  readonly code = "INVALID_STATUS";
  constructor(
    readonly status: number,
    detail: string,
    options?: ErrorOptions,
  ) {
    super(`invalid status ${status}: ${detail}`, options);
  }
}

/** The builder was given a workflow that cannot run; the message names the mistake. */
export class BuildError extends StepwiseError {
  readonly code = "BUILD";
}

/** A stored object could not be decoded by the workflow's codec. The stored run is left as it is. */
export class ObjectDecodeError extends StepwiseError {
  readonly code = "OBJECT_DECODE";
  constructor(
    readonly runId: string,
    options?: ErrorOptions,
  ) {
    super(`the object of run "${runId}" could not be decoded`, options);
  }
}

/** The record store read a version older than the event that pointed at it; the event is retried. */
export class StaleReadError extends StepwiseError {
  readonly code = "STALE_READ";
  constructor(
    readonly runId: string,
    readonly expectedVersion: number,
    readonly readVersion: number,
  ) {
    super(`run "${runId}" read at version ${readVersion}, older than the event's version ${expectedVersion}`);
  }
}

/**
 * The run was written by a newer version of the workflow than this process's: its object and
 * status have a shape this definition does not know. Processes retry the event (never acking,
 * pausing or counting it as the run's error) until a process of that version takes it, so a
 * rolling deploy is safe in both directions; a caller (`callback`, `get`, `await`, …) retries
 * against a newer process.
 */
export class NewerWorkflowVersionError extends StepwiseError {
  readonly code = "NEWER_WORKFLOW_VERSION";
  constructor(
    readonly runId: string,
    /** The version that wrote the run. */
    readonly workflowVersion: number,
    /** This process's version of the workflow. */
    readonly ownVersion: number,
  ) {
    super(`run "${runId}" was written by version ${workflowVersion} of its workflow, newer than this process's version ${ownVersion}`);
  }
}

/** `await` gave up after its `timeoutMs`. */
export class AwaitTimeoutError extends StepwiseError {
  readonly code = "AWAIT_TIMEOUT";
  constructor(
    readonly runId: string,
    readonly status: string,
    readonly timeoutMs: number,
  ) {
    super(`run "${runId}" did not reach ${status} within ${timeoutMs} ms`);
  }
}

/**
 * `await` was asked for a terminal status the run can no longer reach: it finished elsewhere
 * (cancelled, or completed in another terminal status). `run` is the run as it ended.
 */
export class StatusNotReachedError extends StepwiseError {
  readonly code = "STATUS_NOT_REACHED";
  constructor(
    readonly runId: string,
    readonly status: string,
    readonly run: TypedRecord<unknown, number>,
  ) {
    super(`run "${runId}" finished without reaching ${status}: it ended ${runStateName(run.runState)} in ${run.meta.statusDescription}`);
  }
}

/**
 * A step, callback, timeout or connection returned something that is neither a status nor a control
 * result made by the run (`run.skip()`, `pause`, `cancel`, `saveAndRepeat`): `undefined` from a
 * missing return, or a hand-made look-alike.
 */
export class InvalidResultError extends StepwiseError {
  readonly code = "INVALID_RESULT";
  constructor(
    readonly where: string,
    readonly result: string,
    options?: ErrorOptions,
  ) {
    super(`${where} returned ${result}: return a declared status or run.skip(), run.pause(reason), run.cancel(reason) or run.saveAndRepeat()`, options);
  }
}

/**
 * A value a store cannot keep as it is: text with a NUL or a lone surrogate (no store keeps those
 * faithfully), or longer than the store's column. Nothing was stored.
 */
export class ValueNotStorableError extends StepwiseError {
  readonly code = "VALUE_NOT_STORABLE";
  constructor(
    readonly field: string,
    detail: string,
    options?: ErrorOptions,
  ) {
    super(`${field} cannot be stored: ${detail}`, options);
  }
}

/**
 * The workflow's schema (`Builder.withSchema`) refused an object: the `initialValue` given to
 * `trigger` (then `runId` is empty: no run was made), or the object a step, callback, timeout or
 * connection left. Nothing was stored. `issues` are the schema's own.
 */
export class InvalidObjectError extends StepwiseError {
  readonly code = "INVALID_OBJECT";
  constructor(
    readonly foreignId: string,
    readonly runId: string,
    readonly issues: readonly StandardSchemaV1.Issue[],
    /** Whose object, for the message: `the initialValue of foreign id "order-1"`. */
    what: string,
    options?: ErrorOptions,
  ) {
    super(`${what} is invalid: ${describeIssues(issues)}`, options);
  }
}

/**
 * A callback's payload schema (`addCallback(from, { payload }, …)`) refused what `Workflow.callback`
 * was given. No callback ran and the run was left as it was. `issues` are the schema's own.
 */
export class InvalidPayloadError extends StepwiseError {
  readonly code = "INVALID_PAYLOAD";
  constructor(
    readonly workflowName: string,
    readonly foreignId: string,
    /** The status whose callback refused it, by name. */
    readonly status: string,
    readonly issues: readonly StandardSchemaV1.Issue[],
    options?: ErrorOptions,
  ) {
    super(`the payload of callback ${status} in workflow "${workflowName}" for foreign id "${foreignId}" is invalid: ${describeIssues(issues)}`, options);
  }
}

/** How many issues a message names; the rest are counted, and all are in the error's `issues`. */
const issuesNamed = 3;

/** `amount: Too small; items[0].sku: Required (and 2 more issues)`: the first issues, each at its path. */
function describeIssues(issues: readonly StandardSchemaV1.Issue[]): string {
  const named = issues.slice(0, issuesNamed).map((issue) => {
    const path = issuePath(issue.path ?? []);
    return path === "" ? issue.message : `${path}: ${issue.message}`;
  });
  const more = issues.length - named.length;
  if (named.length === 0) return "the schema reported no issue";
  return named.join("; ") + (more > 0 ? ` (and ${more} more issue${more === 1 ? "" : "s"})` : "");
}

function issuePath(path: ReadonlyArray<PropertyKey | StandardSchemaV1.PathSegment>): string {
  let text = "";
  for (const segment of path) {
    const key = typeof segment === "object" ? segment.key : segment;
    if (typeof key === "number") text += `[${key}]`;
    else if (typeof key === "symbol") text += `[${key.toString()}]`;
    else text += text === "" ? key : `.${key}`;
  }
  return text;
}

/** Whether `err` is a stepwise error with this code; works across copies of the package, unlike instanceof. */
export function hasErrorCode(err: unknown, code: string): boolean {
  return typeof err === "object" && err !== null && (err as { code?: unknown }).code === code;
}

/** A cron spec that cannot be parsed; the message says which field is wrong. */
export class InvalidScheduleError extends StepwiseError {
  readonly code = "INVALID_SCHEDULE";
  constructor(
    readonly spec: string,
    options?: ErrorOptions,
  ) {
    const detail = options?.cause instanceof Error ? `: ${options.cause.message}` : "";
    super(`invalid cron spec "${spec}" (expected 5 or 6 fields)${detail}`, options);
  }
}

/** The database lacks stepwise's tables (or has an older layout): run `migrate()` first. */
export class SchemaMissingError extends StepwiseError {
  readonly code = "SCHEMA_MISSING";
  constructor(
    readonly table: string,
    options?: ErrorOptions,
  ) {
    super(`table "${table}" does not exist: run migrate() for this database before using the adapter`, options);
  }
}

/** An encoded object is larger than the store accepts. Nothing was written. */
export class ObjectTooLargeError extends StepwiseError {
  readonly code = "OBJECT_TOO_LARGE";
  constructor(
    readonly runId: string,
    readonly bytes: number,
    readonly maxBytes: number,
  ) {
    super(`the object of run "${runId}" is ${bytes} bytes, more than the ${maxBytes} bytes the store accepts`);
  }
}

/** A stored row could not be read back as a record; the message names the field. */
export class MalformedRecordError extends StepwiseError {
  readonly code = "MALFORMED_RECORD";
  /**
   * What could be read of the row, when its ids, status and version could: the unreadable run state
   * as Unknown, an unreadable object as no bytes. It lets an operator cancel or delete the run.
   */
  readonly salvage?: Record;
  constructor(
    readonly runId: string,
    detail: string,
    options?: ErrorOptions & { salvage?: Record },
  ) {
    super(`the stored row of run "${runId}" is malformed: ${detail}`, options);
    if (options?.salvage) this.salvage = options.salvage;
  }
}

/** A stored row a listing could not read: its id (a run's, an outbox event's or a timeout's) and why. */
export interface MalformedRow {
  readonly id: string;
  readonly error: MalformedRecordError;
}

/**
 * A listing (of runs, outbox events or timeouts) met stored rows it could not read. Thrown in place
 * of the list, so that a part is never taken for the whole: `readable` holds the rows that were
 * read, in the listing's order, and `malformed` one entry for each row that was not. The engine goes
 * on with the readable rows and logs the others; nothing in the store is changed.
 */
export class MalformedRowsError<Row = unknown> extends StepwiseError {
  readonly code = "MALFORMED_ROWS";
  constructor(
    readonly readable: Row[],
    readonly malformed: readonly MalformedRow[],
  ) {
    const shown = malformed.slice(0, 3).map((row) => row.error.message);
    if (malformed.length > shown.length) shown.push(`and ${malformed.length - shown.length} more`);
    super(`${malformed.length} stored row(s) could not be read: ${shown.join("; ")}`);
  }
}

/**
 * An adapter's part was used after it was closed: sending on a closed sender, receiving or acking
 * on a closed receiver, awaiting a role on a closed scheduler. `what` names the part.
 */
export class ClosedError extends StepwiseError {
  readonly code = "CLOSED";
  constructor(
    readonly what: string,
    action: string,
    options?: ErrorOptions,
  ) {
    super(`${what} is closed: cannot ${action}`, options);
  }
}

/** An adapter was given an option (or a name) it cannot work with; `option` names it, the message says why. */
export class InvalidOptionError extends StepwiseError {
  readonly code = "INVALID_OPTION";
  constructor(
    readonly option: string,
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

/** A role scheduler was used after its `close()`: an await of a role, or one that was waiting then. */
export class RoleSchedulerClosedError extends StepwiseError {
  readonly code = "ROLE_SCHEDULER_CLOSED";
  constructor(
    readonly scheduler: string,
    readonly role?: string,
    options?: ErrorOptions,
  ) {
    super(role === undefined ? `the ${scheduler} was closed` : `the ${scheduler} is closed: cannot await role "${role}"`, options);
  }
}

/**
 * A lease's role was taken away: the engine's lease expired or was not renewed in time, its lock
 * went with a lost connection, or someone else removed it. The reason of the lease's signal.
 */
export class RoleLostError extends StepwiseError {
  readonly code = "ROLE_LOST";
  constructor(
    readonly role: string,
    detail: string,
    options?: ErrorOptions,
  ) {
    super(`the lease on role "${role}" was lost: ${detail}`, options);
  }
}

/**
 * A lease ended because its role now belongs to another member of the role scheduler: roles are
 * spread over the live processes, and one joined or came back. The reason of the lease's signal;
 * the process awaits the role again and gets it back if the assignment returns it.
 */
export class RoleHandedOverError extends StepwiseError {
  readonly code = "ROLE_HANDED_OVER";
  constructor(
    readonly role: string,
    /** The member the role is assigned to now. */
    readonly member: string,
    options?: ErrorOptions,
  ) {
    super(`the lease on role "${role}" was handed over: the role is assigned to member "${member}" now`, options);
  }
}

/** The reason of a lease's signal once its holder released it. */
export class RoleReleasedError extends StepwiseError {
  readonly code = "ROLE_RELEASED";
  constructor(
    readonly role: string,
    options?: ErrorOptions,
  ) {
    super(`the lease on role "${role}" was released`, options);
  }
}
