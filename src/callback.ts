import type { StandardSchemaV1 } from "@standard-schema/spec";
import type { WorkflowContext } from "./context.js";
import { hasErrorCode, InvalidPayloadError, InvalidStatusError, RecordNotFoundError } from "./errors.js";
import type { Record } from "./record.js";
import type { Control, Run, StepContext } from "./run.js";
import { isFinished, isStopped } from "./runstate.js";
import { carryTrace, recordTrace, spanStart } from "./trace-context.js";
import type { TraceContext } from "./tracer.js";
import { decodeRun, resultRecord, upgradeStored, writeUnlessSuperseded } from "./update.js";
import { checkNotNewer } from "./upgrade.js";
import { validate } from "./schema.js";

/**
 * Handles an outside signal (a webhook, a reply) for a run waiting in one status. Throw to reject
 * the payload: the caller of `Workflow.callback` gets the error and the run is left as it was.
 * `Payload` is what a payload schema outputs (`addCallback(from, { payload: schema }, fn)`);
 * without one the payload is whatever the caller passed.
 */
export type CallbackFn<T, S extends number, To extends S, Payload = unknown> = (
  run: Run<T, S>,
  payload: Payload,
  ctx: StepContext,
) => Promise<NoInfer<To> | Control>;

/** The options of a callback whose payload is validated: `addCallback(from, { payload: schema }, fn, ...to)`. */
export interface CallbackOptions<Schema extends StandardSchemaV1> {
  /** Validates what `Workflow.callback` is given; the callback is handed the schema's output. */
  payload: Schema;
}

export interface CallbackDefinition<T> {
  from: number;
  to: ReadonlySet<number>;
  /** Validates the payload before any callback of the status runs. */
  payload: StandardSchemaV1 | undefined;
  fn: (run: Run<T, number>, payload: unknown, ctx: StepContext) => Promise<number | Control>;
}

/** What `Workflow.callback` resolves with: whether a callback changed the run, and the run after the call. */
export interface CallbackResult<T, S extends number> {
  /** False when the run was not waiting in the status (or was stopped), so nothing changed. */
  handled: boolean;
  run: Run<T, S>;
}

/**
 * Runs each callback of `status` for the latest run of `foreignId`, in the order they were added,
 * each against a fresh read: once one moves the run on, the rest find it elsewhere and do nothing.
 * Payload schemas are checked before anything is read, so a refused payload leaves the run alone.
 * A run of an older version of the workflow is upgraded (and stored) first; one of a newer version
 * is refused with NewerWorkflowVersionError, untouched.
 */
export async function runCallbacks<T, S extends number>(
  ctx: WorkflowContext<T>,
  callbacks: readonly CallbackDefinition<T>[],
  foreignId: string,
  status: number,
  payload: unknown,
  signal: AbortSignal,
): Promise<CallbackResult<T, S>> {
  const matching = callbacks.filter((c) => c.from === status);
  if (matching.length === 0) {
    throw new InvalidStatusError(status, `workflow "${ctx.name}" has no callback for ${ctx.graph.statusName(status)}`);
  }
  const payloads = await checkedPayloads(ctx, matching, foreignId, status, payload);
  let handled = false;
  let latest = await latestOf(ctx, foreignId);
  for (const [i, callback] of matching.entries()) {
    const callbackPayload = payloads[i];
    // A write that loses a race with another one is redone from a fresh read: the caller has no
    // event to retry with, so dropping it would lose the payload.
    for (;;) {
      // Only this version's status numbers mean what `status` means: an older run is upgraded first.
      latest = await upgradeStored(ctx, latest);
      if (latest.status !== status || isStopped(latest.runState) || isFinished(latest.runState)) break;
      const current = latest;
      const call = (trace: TraceContext | undefined) => callOnce(ctx, callback, current, callbackPayload, signal, trace);
      // The callback continues the run's trace; the caller's own context is the parent only of a
      // run that carries none (see SpanStart.forCaller).
      const outcome = ctx.tracer === undefined ? await call(undefined) : await ctx.tracer.inSpan(spanStart(ctx, "callback", current, recordTrace(current), true), call);
      if (outcome === "skipped") break;
      if (outcome !== "superseded") {
        handled = true;
        latest = outcome;
        break;
      }
      latest = await latestOf(ctx, foreignId);
    }
  }
  return { handled, run: decodeRun<T, S>(ctx, latest) };
}

/**
 * The payload each callback is handed: its schema's output, or the payload as given where it has
 * no schema. The first refusal is an InvalidPayloadError; a schema shared by callbacks runs once.
 */
async function checkedPayloads<T>(
  ctx: WorkflowContext<T>,
  callbacks: readonly CallbackDefinition<T>[],
  foreignId: string,
  status: number,
  payload: unknown,
): Promise<unknown[]> {
  const outputs = new Map<StandardSchemaV1, unknown>();
  const refuse = (issues: readonly StandardSchemaV1.Issue[]) => new InvalidPayloadError(ctx.name, foreignId, ctx.graph.statusName(status), issues);
  const payloads: unknown[] = [];
  for (const { payload: schema } of callbacks) {
    if (schema === undefined) {
      payloads.push(payload);
      continue;
    }
    if (!outputs.has(schema)) outputs.set(schema, await validate(schema, payload, refuse));
    payloads.push(outputs.get(schema));
  }
  return payloads;
}

/** Runs one callback on the run and writes what it asks for: the record written, or why none was. */
async function callOnce<T>(
  ctx: WorkflowContext<T>,
  callback: CallbackDefinition<T>,
  current: Record,
  payload: unknown,
  signal: AbortSignal,
  trace: TraceContext | undefined,
): Promise<Record | "skipped" | "superseded"> {
  const run = decodeRun<T, number>(ctx, current);
  const result = await callback.fn(run, payload, { signal, logger: ctx.logger, clock: ctx.clock });
  const next = carryTrace(await resultRecord(ctx, current, run.object, result, callback.to, `callback ${ctx.graph.statusName(current.status)}`), trace);
  if (!next) return "skipped";
  return (await writeUnlessSuperseded(ctx, current, next)) ? next : "superseded";
}

/**
 * The latest run of the foreign id; RecordNotFoundError naming the foreign id when there is none,
 * NewerWorkflowVersionError when a newer version of the workflow wrote it.
 */
async function latestOf<T>(ctx: WorkflowContext<T>, foreignId: string): Promise<Record> {
  try {
    const latest = await ctx.recordStore.latest(ctx.name, foreignId);
    checkNotNewer(ctx, latest);
    return latest;
  } catch (err) {
    if (hasErrorCode(err, "RECORD_NOT_FOUND")) throw RecordNotFoundError.forForeignId(ctx.name, foreignId, { cause: err });
    throw err;
  }
}
