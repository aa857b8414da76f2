import type { WorkflowContext } from "./context.js";
import { InvalidStatusError } from "./errors.js";
import type { Control, Run, StepContext } from "./run.js";
import { isFinished, isStopped } from "./runstate.js";
import { decodeRun, resultRecord, writeUnlessSuperseded } from "./update.js";

/**
 * Handles an outside signal (a webhook, a reply) for a run waiting in one status. Throw to reject
 * the payload: the caller of `Workflow.callback` gets the error and the run is left as it was.
 */
export type CallbackFn<T, S extends number, To extends S> = (
  run: Run<T, S>,
  payload: unknown,
  ctx: StepContext,
) => Promise<NoInfer<To> | Control>;

export interface CallbackDefinition<T> {
  from: number;
  to: ReadonlySet<number>;
  fn: (run: Run<T, number>, payload: unknown, ctx: StepContext) => Promise<number | Control>;
}

/**
 * Runs each callback of `status` for the latest run of `foreignId`, in the order they were added,
 * each against a fresh read: once one moves the run on, the rest find it elsewhere and do nothing.
 */
export async function runCallbacks<T>(
  ctx: WorkflowContext<T>,
  callbacks: readonly CallbackDefinition<T>[],
  foreignId: string,
  status: number,
  payload: unknown,
  signal: AbortSignal,
): Promise<void> {
  const matching = callbacks.filter((c) => c.from === status);
  if (matching.length === 0) {
    throw new InvalidStatusError(status, `workflow "${ctx.name}" has no callback for ${ctx.graph.statusName(status)}`);
  }
  for (const callback of matching) {
    // A write that loses a race with another one is redone from a fresh read: the caller has no
    // event to retry with, so dropping it would lose the payload.
    for (;;) {
      const record = await ctx.recordStore.latest(ctx.name, foreignId);
      if (record.status !== status || isStopped(record.runState) || isFinished(record.runState)) return;
      const run = decodeRun<T, number>(ctx, record);
      const result = await callback.fn(run, payload, { signal, logger: ctx.logger, clock: ctx.clock });
      const next = resultRecord(ctx, record, run.object, result, callback.to);
      if (!next || (await writeUnlessSuperseded(ctx, next))) break;
    }
  }
}
