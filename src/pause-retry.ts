import { topicConsumers } from "./consumer.js";
import type { WorkflowContext } from "./context.js";
import { HeaderKey, type Event } from "./event.js";
import { roleName } from "./graph.js";
import { lookupInState } from "./lookup.js";
import { isSkip } from "./skip.js";
import { resolveOptions } from "./options.js";
import type { ProcessSpec } from "./process.js";
import { RunState } from "./runstate.js";
import { runStateChangeTopic } from "./topic.js";
import { changedRecord, writeUnlessSuperseded } from "./update.js";

/** How long a run stays paused before it is resumed, unless `pauseRetry` says otherwise: one hour. */
export const defaultResumeAfterMs = 60 * 60_000;

/**
 * The process that resumes paused runs once they have been paused for `resumeAfterMs` on the
 * workflow's clock. Pause events arrive in time order, so waiting for each in turn delays none.
 */
export function pauseRetryProcess<T>(ctx: WorkflowContext<T>, resumeAfterMs: number): ProcessSpec<Event>[] {
  return topicConsumers(ctx, {
    topic: runStateChangeTopic(ctx.name),
    name: "paused-records-retry-consumer",
    role: roleName(ctx.name, "paused-records-retry-consumer"),
    options: resolveOptions(ctx.defaultOptions, undefined, "never"),
    sharded: false,
    handle: async (event, signal) => {
      if (Number(event.headers[HeaderKey.runState]) !== RunState.Paused) return "filtered_out";
      const paused = await lookupInState(ctx, event, RunState.Paused);
      if (isSkip(paused)) return paused;
      // Paused again since: the later pause's event restarts the wait.
      if (String(paused.meta.version) !== event.headers[HeaderKey.recordVersion]) return "event_superseded";
      const waitMs = paused.updatedAt.getTime() + resumeAfterMs - ctx.clock.now().getTime();
      if (waitMs > 0) await ctx.clock.sleep(waitMs, signal);
      const reason = `resumed automatically after ${resumeAfterMs} ms paused`;
      await writeUnlessSuperseded(ctx, paused, changedRecord(ctx, paused, { runState: RunState.Running, reason }));
      return undefined;
    },
  });
}
