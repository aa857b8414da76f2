import type { Clock } from "./clock.js";
import type { WorkflowContext } from "./context.js";
import type { Graph } from "./graph.js";
import { hasErrorCode, InvalidResultError, InvalidTransitionError, ObjectDecodeError } from "./errors.js";
import type { Record } from "./record.js";
import { isControl, makeRun, type Run, type TypedRecord } from "./run.js";
import { canChangeRunState, RunState, runStateName } from "./runstate.js";

/** Decodes a stored record into the typed form; an object the codec rejects gives ObjectDecodeError. */
export function decodeRecord<T, S extends number>(ctx: WorkflowContext<T>, record: Record): TypedRecord<T, S> {
  let object: T;
  try {
    object = ctx.codec.decode(record.object);
  } catch (err) {
    throw new ObjectDecodeError(record.runId, { cause: err });
  }
  return { ...record, status: record.status as S, object };
}

export function decodeRun<T, S extends number>(ctx: WorkflowContext<T>, record: Record): Run<T, S> {
  return makeRun(decodeRecord<T, S>(ctx, record));
}

/**
 * The record a step, callback or timeout result asks for, or undefined for `skip`. `allowed` holds
 * the destinations the function declared; another status is an InvalidTransitionError, and anything
 * that is neither a status nor a control result an InvalidResultError naming `where` (`step Created`).
 */
export function resultRecord<T>(
  ctx: WorkflowContext<T>,
  current: Record,
  object: T,
  result: unknown,
  allowed: ReadonlySet<number>,
  where: string,
): Record | undefined {
  if (isControl(result)) {
    switch (result.kind) {
      case "skip":
        return undefined;
      case "pause":
        return changedRecord(ctx, current, { runState: RunState.Paused, reason: result.reason, object: ctx.codec.encode(object) });
      case "cancel":
        return changedRecord(ctx, current, { runState: RunState.Cancelled, reason: result.reason, object: ctx.codec.encode(object) });
      case "saveAndRepeat":
        return changedRecord(ctx, current, { runState: RunState.Running, object: ctx.codec.encode(object) });
    }
  }
  if (typeof result !== "number") throw new InvalidResultError(where, describeResult(result));
  if (!allowed.has(result)) {
    throw new InvalidTransitionError(
      ctx.graph.statusName(current.status),
      ctx.graph.statusName(result),
      `not declared (declared: ${[...allowed].map((s) => ctx.graph.statusName(s)).join(", ")})`,
    );
  }
  const runState = ctx.graph.isTerminal(result) ? RunState.Completed : RunState.Running;
  return changedRecord(ctx, current, { runState, status: result, object: ctx.codec.encode(object) });
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
  const from = current.runState === RunState.Initiated && change.runState !== RunState.Paused ? RunState.Running : current.runState;
  if (from !== change.runState && !canChangeRunState(from, change.runState)) {
    throw new InvalidTransitionError(runStateName(current.runState), runStateName(change.runState), "the run-state rules forbid it");
  }
  const status = change.status ?? current.status;
  return {
    ...current,
    status,
    runState: change.runState,
    object: change.object ?? current.object,
    updatedAt: ctx.clock.now(),
    meta: {
      ...current.meta,
      version: current.meta.version + 1,
      statusDescription: change.status === undefined || !ctx.graph ? current.meta.statusDescription : ctx.graph.statusName(status),
      runStateReason: change.reason ?? (change.runState === current.runState ? current.meta.runStateReason : ""),
    },
  };
}

/**
 * Writes the change, unless someone else changed the run first: then their write (and its event)
 * supersedes ours, so losing the race is not an error.
 */
export async function writeUnlessSuperseded<T>(ctx: WorkflowContext<T>, next: Record): Promise<boolean> {
  try {
    await ctx.write(next);
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
