import { topicConsumers } from "./consumer.js";
import type { WorkflowContext } from "./context.js";
import { HeaderKey, type Event } from "./event.js";
import { roleName, snakeCase } from "./graph.js";
import { resolveOptions } from "./options.js";
import type { ProcessSpec } from "./process.js";
import type { StepContext, TypedRecord } from "./run.js";
import { runStateName, type RunState } from "./runstate.js";
import { runStateChangeTopic } from "./topic.js";
import { decodeRecord } from "./update.js";
import { lookupInState } from "./lookup.js";
import { isSkip } from "./skip.js";
import { eventTrace, spanStart } from "./trace-context.js";

/** Called once a run has paused, been cancelled or completed. A throw retries it after errBackOff. */
export type RunStateHook<T, S extends number> = (record: TypedRecord<T, S>, ctx: StepContext) => Promise<void>;

/** The run-state changes a hook can follow. */
export type HookedRunState = RunState.Paused | RunState.Cancelled | RunState.Completed;

/** The process that calls `hook` for each run entering `runState`, read from the run-state-change topic. */
export function hookProcess<T>(ctx: WorkflowContext<T>, runState: HookedRunState, hook: RunStateHook<T, number>): ProcessSpec<Event>[] {
  const name = `${snakeCase(runStateName(runState))}-run-state-change-hook-consumer`;
  return topicConsumers(ctx, {
    topic: runStateChangeTopic(ctx.name),
    name,
    role: roleName(ctx.name, name),
    options: resolveOptions(ctx.defaultOptions, undefined, "never"),
    sharded: false,
    handle: async (event, signal) => {
      if (Number(event.headers[HeaderKey.runState]) !== runState) return "filtered_out";
      const record = await lookupInState(ctx, event, runState);
      if (isSkip(record)) return record;
      const call = () => hook(decodeRecord(ctx, record), { signal, logger: ctx.logger, clock: ctx.clock });
      await (ctx.tracer === undefined ? call() : ctx.tracer.inSpan(spanStart(ctx, "hook", record, eventTrace(event.headers)), call));
      return undefined;
    },
  });
}
