import type { StandardSchemaV1 } from "@standard-schema/spec";
import type { Clock } from "./clock.js";
import type { WorkflowContext } from "./context.js";
import type { Graph } from "./graph.js";
import { hasErrorCode, InvalidObjectError, InvalidResultError, InvalidTransitionError, ObjectDecodeError } from "./errors.js";
import { toJsonData } from "./json-data.js";
import { KeptRecord, type RecordFields } from "./kept-record.js";
import { countRunStateChange } from "./metrics.js";
import { withTrace, type Record } from "./record.js";
import { isControl, makeRun, type Run, type TypedRecord } from "./run.js";
import { canChangeRunState, isFinished, isStopped, RunState, runStateName } from "./runstate.js";
import { validate } from "./schema.js";
import { checkNotNewer, isOlderVersion, upgradedObject, upgradedStatus } from "./upgrade.js";

/**
 * Decodes a stored record into the typed form; an object the codec rejects gives ObjectDecodeError.
 * A run of an older version of the workflow is shown as this version would have it (its status and
 * object upgraded, its stored meta as it is); one of a newer version is a NewerWorkflowVersionError.
 */
export function decodeRecord<T, S extends number>(ctx: WorkflowContext<T>, record: Record): TypedRecord<T, S> {
  checkNotNewer(ctx, record);
  const typed: TypedRecord<T, S> = {
    workflowName: record.workflowName,
    foreignId: record.foreignId,
    runId: record.runId,
    runState: record.runState,
    status: record.status as S,
    object: decodeObject(ctx, record),
    createdAt: record.createdAt,
    updatedAt: record.updatedAt,
    meta: record.meta,
  };
  if (!isOlderVersion(ctx, record)) return typed;
  typed.status = upgradedStatus(ctx, record) as S;
  // A deleted run's object is what the deletion left, of no version's shape: the maps would choke on it.
  if (record.runState !== RunState.DataDeleted) typed.object = upgradedObject(ctx, record, typed.object) as T;
  typed.meta = { ...record.meta, statusDescription: ctx.graph.statusName(typed.status) };
  return typed;
}

function decodeObject<T>(ctx: WorkflowContext<T>, record: Record): T {
  // Kept data is what the JSON codec would decode; copied, since the caller may change it.
  if (ctx.keepsObjects && record instanceof KeptRecord) return toJsonData(record.data) as T;
  try {
    return ctx.codec.decode(record.object);
  } catch (err) {
    throw new ObjectDecodeError(record.runId, { cause: err });
  }
}

export function decodeRun<T, S extends number>(ctx: WorkflowContext<T>, record: Record): Run<T, S> {
  return makeRun(decodeRecord<T, S>(ctx, record));
}

/**
 * The record a step, callback, timeout or connection result asks for, or undefined for `skip`.
 * `allowed` holds the destinations the function declared; another status is an
 * InvalidTransitionError, and anything that is neither a status nor a control result an
 * InvalidResultError naming `where` (`step Created`). With a schema, the object is validated and
 * its output stored; one the schema refuses is an InvalidObjectError (a promise then, as the
 * schema may answer later).
 */
export function resultRecord<T>(
  ctx: WorkflowContext<T>,
  current: Record,
  object: T,
  result: unknown,
  allowed: ReadonlySet<number>,
  where: string,
): Record | undefined | Promise<Record> {
  let runState: RunState;
  let status: number | undefined;
  let reason: string | undefined;
  if (isControl(result)) {
    switch (result.kind) {
      case "skip":
        return undefined;
      case "pause":
      case "cancel":
        runState = result.kind === "pause" ? RunState.Paused : RunState.Cancelled;
        reason = result.reason;
        break;
      case "saveAndRepeat":
        runState = RunState.Running;
        break;
    }
  } else {
    if (typeof result !== "number") throw new InvalidResultError(where, describeResult(result));
    if (!allowed.has(result)) {
      throw new InvalidTransitionError(
        ctx.graph.statusName(current.status),
        ctx.graph.statusName(result),
        `not declared (declared: ${[...allowed].map((s) => ctx.graph.statusName(s)).join(", ")})`,
      );
    }
    runState = ctx.graph.isTerminal(result) ? RunState.Completed : RunState.Running;
    status = result;
  }
  return validRecord(ctx, current, changedFields(ctx, current, { runState, status, reason }), object, where);
}

/**
 * The record of `fields` holding `object`, or with a schema its output: what the schema refuses is
 * never stored. Without a schema the record is made at once, with no promise: validation alone may
 * answer later.
 */
function validRecord<T>(ctx: WorkflowContext<T>, current: Record, fields: RecordFields, object: T, where: string): Record | Promise<Record> {
  const { schema } = ctx;
  if (schema === undefined) return recordWith(ctx, fields, object);
  const refuse = (issues: readonly StandardSchemaV1.Issue[]) =>
    new InvalidObjectError(current.foreignId, current.runId, issues, `the object ${where} left in run "${current.runId}"`);
  return validate(schema, object, refuse).then((output) => recordWith(ctx, fields, output));
}

/**
 * The record of `fields` holding `object`: where the workflow keeps objects, a KeptRecord of a
 * copy of it as JSON data (so whoever still holds `object` cannot change what is stored); else
 * the codec's bytes.
 */
export function recordWith<T>(ctx: WorkflowContext<T>, fields: RecordFields, object: T): Record {
  const data = ctx.keepsObjects ? toJsonData(object) : undefined;
  // A value with no JSON text at all (undefined) still goes through the codec, as it always did.
  return data === undefined ? { ...fields, object: ctx.codec.encode(object) } : new KeptRecord(fields, data);
}

/** What changing a record needs: a clock, and the graph to name a new status (absent where the status never changes). */
export interface RecordChanger {
  readonly clock: Clock;
  readonly graph?: Pick<Graph, "statusName">;
}

/**
 * The next version of a record. The engine moves an Initiated run through Running on its first
 * change, so a first step may complete, pause or cancel it in one write.
 */
export function changedRecord(
  ctx: RecordChanger,
  current: Record,
  change: { runState: RunState; status?: number; object?: Uint8Array; reason?: string | undefined },
): Record {
  const fields = changedFields(ctx, current, change);
  if (change.object !== undefined) return { ...fields, object: change.object };
  // Kept data stays kept: nobody changes it, so the next version may share it.
  return current instanceof KeptRecord ? new KeptRecord(fields, current.data) : { ...fields, object: current.object };
}

/** Every field of the next version of `current` but its object. */
function changedFields(
  ctx: RecordChanger,
  current: Record,
  change: { runState: RunState; status?: number | undefined; reason?: string | undefined },
): RecordFields {
  const from = current.runState === RunState.Initiated && change.runState !== RunState.Paused ? RunState.Running : current.runState;
  if (from !== change.runState && !canChangeRunState(from, change.runState)) {
    throw new InvalidTransitionError(runStateName(current.runState), runStateName(change.runState), "the run-state rules forbid it");
  }
  const status = change.status ?? current.status;
  const meta = current.meta;
  // Spelled out rather than spread: this runs once per transition, and fixed literals cost less.
  return {
    workflowName: current.workflowName,
    foreignId: current.foreignId,
    runId: current.runId,
    runState: change.runState,
    status,
    createdAt: current.createdAt,
    updatedAt: ctx.clock.now(),
    // The run's trace goes on through versions written outside any span (pause, resume, delete).
    meta: withTrace(
      {
        runStateReason: change.reason ?? (change.runState === current.runState ? meta.runStateReason : ""),
        statusDescription: change.status === undefined || !ctx.graph ? meta.statusDescription : ctx.graph.statusName(status),
        version: meta.version + 1,
        workflowVersion: meta.workflowVersion,
        traceOrigin: meta.traceOrigin,
      },
      meta.traceParent,
      meta.traceState,
    ),
  };
}

/**
 * The next version of a run of an older version of the workflow: its status and object upgraded to
 * this version's, written as this version. An Initiated run becomes Running, and one whose new
 * status is terminal Completed, as a step's transition would make it. With a schema, the upgraded
 * object is validated like a step's (a promise then).
 */
export function upgradedRecord<T>(ctx: WorkflowContext<T>, current: Record): Record | Promise<Record> {
  const status = upgradedStatus(ctx, current);
  const object = upgradedObject(ctx, current, decodeObject(ctx, current)) as T;
  const fields = changedFields(ctx, current, { runState: ctx.graph.isTerminal(status) ? RunState.Completed : RunState.Running, status });
  fields.meta.workflowVersion = ctx.version;
  return validRecord(ctx, current, fields, object, `the upgrade from version ${current.meta.workflowVersion}`);
}

/**
 * The run upgraded to this version and stored, for code that acts on it at once (a callback, a
 * connection): `current` itself when it needs no upgrade (or is stopped, which upgrades wait out).
 * When another process wrote the run first, the run as it stands now, upgraded in turn.
 */
export async function upgradeStored<T>(ctx: WorkflowContext<T>, current: Record): Promise<Record> {
  let record = current;
  while (isOlderVersion(ctx, record) && !isStopped(record.runState) && !isFinished(record.runState)) {
    const next = await upgradedRecord(ctx, record);
    if (await writeUnlessSuperseded(ctx, record, next)) return next;
    record = await ctx.recordStore.lookup(record.runId);
    checkNotNewer(ctx, record);
  }
  return record;
}

/**
 * Writes the change of `current` to `next`, unless someone else changed the run first: then their
 * write (and its event) supersedes ours, so losing the race is not an error.
 */
export async function writeUnlessSuperseded<T>(ctx: WorkflowContext<T>, current: Record, next: Record): Promise<boolean> {
  try {
    await ctx.write(next);
    countRunStateChange(ctx.metrics, ctx.name, current.runState, next.runState);
    return true;
  } catch (err) {
    if (hasErrorCode(err, "VERSION_CONFLICT")) {
      ctx.logger.debug("run changed meanwhile; dropping this write", { runId: next.runId, version: next.meta.version });
      return false;
    }
    throw err;
  }
}

/** A short, safe rendering of what a function returned instead of a status or control. */
function describeResult(result: unknown): string {
  if (result === undefined || result === null || typeof result !== "object") return String(result);
  try {
    return JSON.stringify(result).slice(0, 80);
  } catch {
    return Object.prototype.toString.call(result);
  }
}
