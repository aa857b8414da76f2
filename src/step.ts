import type { WorkflowContext } from "./context.js";
import { hasErrorCode, StaleReadError } from "./errors.js";
import { HeaderKey, type Event } from "./event.js";
import { roleName } from "./graph.js";
import { resolveOptions, type ProcessOptions } from "./options.js";
import type { ProcessSpec } from "./process.js";
import { topicConsumers } from "./consumer.js";
import type { Record } from "./record.js";
import type { Control, Run, StepContext } from "./run.js";
import { isFinished, isStopped, RunState } from "./runstate.js";
import { topic } from "./topic.js";
import { changedRecord, decodeRun, resultRecord, writeUnlessSuperseded } from "./update.js";

/** A step: consumes runs entering `from` and moves them to one of the declared destinations. */
export type StepFn<T, S extends number, To extends S> = (run: Run<T, S>, ctx: StepContext) => Promise<NoInfer<To> | Control>;

export interface StepDefinition<T> {
  from: number;
  to: ReadonlySet<number>;
  fn: (run: Run<T, number>, ctx: StepContext) => Promise<number | Control>;
  options: ProcessOptions;
}

/** One process per shard of the step, each with its own role and receiver. */
export function stepProcesses<T>(ctx: WorkflowContext<T>, step: StepDefinition<T>): ProcessSpec<Event>[] {
  const errors = { errorCounts: new Map<string, number>(), pauseAfterErrCount: resolveOptions(ctx.defaultOptions, step.options).pauseAfterErrCount };
  return topicConsumers(ctx, {
    topic: topic(ctx.name, step.from),
    name: `${ctx.graph.processName(step.from)}-consumer`,
    role: roleName(ctx.name, step.from, "consumer"),
    options: step.options,
    sharded: true,
    handle: (event, signal) => handleStepEvent(ctx, step, event, signal, errors),
  });
}

/**
 * Looks the run up and decides whether this event is still its latest word: a missing run, a newer
 * stored version (already handled) or a stopped or finished run is skipped; an older stored version
 * is a stale read and is retried.
 */
export async function currentRecordFor<T>(ctx: WorkflowContext<T>, event: Event): Promise<Record | undefined> {
  const runId = event.headers[HeaderKey.runId] ?? "";
  const version = Number(event.headers[HeaderKey.recordVersion]);
  let record: Record;
  try {
    record = await ctx.recordStore.lookup(runId);
  } catch (err) {
    if (hasErrorCode(err, "RECORD_NOT_FOUND")) return undefined;
    throw err;
  }
  if (record.meta.version > version) return undefined;
  if (record.meta.version < version) throw new StaleReadError(runId, version, record.meta.version);
  if (isStopped(record.runState) || isFinished(record.runState)) return undefined;
  return record;
}

async function handleStepEvent<T>(
  ctx: WorkflowContext<T>,
  step: StepDefinition<T>,
  event: Event,
  signal: AbortSignal,
  errors: { errorCounts: Map<string, number>; pauseAfterErrCount: number },
): Promise<void> {
  const record = await currentRecordFor(ctx, event);
  if (!record || record.status !== step.from) {
    errors.errorCounts.delete(event.headers[HeaderKey.runId] ?? "");
    return;
  }
  let next: Record | undefined;
  try {
    const run = decodeRun<T, number>(ctx, record);
    const result = await step.fn(run, { signal, logger: ctx.logger, clock: ctx.clock });
    next = resultRecord(ctx, record, run.object, result, step.to);
  } catch (err) {
    if (signal.aborted) throw err;
    const count = (errors.errorCounts.get(record.runId) ?? 0) + 1;
    if (errors.pauseAfterErrCount <= 0 || count < errors.pauseAfterErrCount) {
      errors.errorCounts.set(record.runId, count);
      throw err;
    }
    errors.errorCounts.delete(record.runId);
    ctx.logger.error(err, { runId: record.runId, pausedAfterErrors: count });
    const reason = `paused after ${count} errors in ${ctx.graph.statusName(step.from)}: ${err instanceof Error ? err.message : String(err)}`;
    await writeUnlessSuperseded(ctx, changedRecord(ctx, record, { runState: RunState.Paused, reason }));
    return;
  }
  errors.errorCounts.delete(record.runId);
  if (next) await writeUnlessSuperseded(ctx, next);
}
