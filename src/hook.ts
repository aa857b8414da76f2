import { topicConsumers } from "./consumer.js";
import type { WorkflowContext } from "./context.js";
import { hasErrorCode } from "./errors.js";
import { HeaderKey, type Event } from "./event.js";
import { roleName, snakeCase } from "./graph.js";
import type { ProcessSpec } from "./process.js";
import type { Record } from "./record.js";
import type { StepContext, TypedRecord } from "./run.js";
import type { RunState} from "./runstate.js";
import { runStateName } from "./runstate.js";
import { runStateChangeTopic } from "./topic.js";
import { decodeRecord } from "./update.js";

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
    options: undefined,
    sharded: false,
    handle: async (event, signal) => {
      if (Number(event.headers[HeaderKey.runState]) !== runState) return;
      const record = await lookupInState(ctx, event, runState);
      if (record) await hook(decodeRecord(ctx, record), { signal, logger: ctx.logger, clock: ctx.clock });
    },
  });
}

/**
 * The record an event on the run-state-change topic speaks of, if the run is still in
 * `runState`; undefined when it is gone or has changed state again since.
 */
export async function lookupInState<T>(ctx: WorkflowContext<T>, event: Event, runState: RunState): Promise<Record | undefined> {
  try {
    const record = await ctx.recordStore.lookup(event.headers[HeaderKey.runId] ?? "");
    return record.runState === runState ? record : undefined;
  } catch (err) {
    if (hasErrorCode(err, "RECORD_NOT_FOUND")) return undefined;
    throw err;
  }
}
