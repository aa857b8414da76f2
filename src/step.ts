import { topicConsumers } from "./consumer.js";
import type { WorkflowContext } from "./context.js";
import { ErrorCount } from "./error-count.js";
import { HeaderKey, type Event } from "./event.js";
import { roleName } from "./graph.js";
import { currentRecordFor } from "./lookup.js";
import { resolveOptions, type ProcessOptions } from "./options.js";
import type { ProcessSpec } from "./process.js";
import type { Record } from "./record.js";
import type { Control, Run, StepContext } from "./run.js";
import { isSkip, type SkipReason } from "./skip.js";
import { topic } from "./topic.js";
import { decodeRun, resultRecord, writeUnlessSuperseded } from "./update.js";

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
  const options = resolveOptions(ctx.defaultOptions, step.options, "defaults");
  const errors = new ErrorCount(ctx, options.pauseAfterErrCount, `step ${ctx.graph.statusName(step.from)}`);
  return topicConsumers(ctx, {
    topic: topic(ctx.name, step.from),
    name: `${ctx.graph.processName(step.from)}-consumer`,
    role: roleName(ctx.name, step.from, "consumer"),
    options,
    sharded: true,
    handle: (event, signal) => handleStepEvent(ctx, step, event, signal, errors),
  });
}

async function handleStepEvent<T>(
  ctx: WorkflowContext<T>,
  step: StepDefinition<T>,
  event: Event,
  signal: AbortSignal,
  errors: ErrorCount<T>,
): Promise<SkipReason | undefined> {
  const record = await currentRecordFor(ctx, event);
  if (isSkip(record) || record.status !== step.from) {
    // A run that moved on (or was paused or cancelled by hand) no longer fails here.
    errors.reset(event.headers[HeaderKey.runId] ?? "");
    return isSkip(record) ? record : "status_mismatch";
  }
  let next: Record | undefined;
  try {
    const run = decodeRun<T, number>(ctx, record);
    const result = await step.fn(run, { signal, logger: ctx.logger, clock: ctx.clock });
    next = resultRecord(ctx, record, run.object, result, step.to, `step ${ctx.graph.statusName(step.from)}`);
  } catch (err) {
    if (signal.aborted) throw err;
    await errors.failed(record, err);
    return undefined;
  }
  errors.reset(record.runId);
  if (!next) return "step_skipped";
  await writeUnlessSuperseded(ctx, next);
  return undefined;
}
