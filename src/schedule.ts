import { encodedName } from "./topic.js";
import { Cron } from "croner";
import type { WorkflowContext } from "./context.js";
import { hasErrorCode, InvalidScheduleError } from "./errors.js";
import { roleName } from "./graph.js";
import { resolveOptions } from "./options.js";
import type { ProcessSpec } from "./process.js";
import { isFinished } from "./runstate.js";

/** Options of `Workflow.schedule`. */
export interface ScheduleOptions<T> {
  /** The object each scheduled run starts with. */
  initialValue?: T;
  /** Return false to skip a slot. */
  filter?: (slot: Date) => boolean | Promise<boolean>;
}

/** Parses a 5-field (minute first) or 6-field (second first) cron spec; InvalidScheduleError otherwise. */
export function parseCron(spec: string): Cron {
  const fields = spec.trim().split(/\s+/).length;
  if (fields !== 5 && fields !== 6) throw new InvalidScheduleError(spec);
  try {
    return new Cron(spec, { paused: true });
  } catch (err) {
    throw new InvalidScheduleError(spec, { cause: err });
  }
}

/**
 * The process that triggers a run of `foreignId` at every slot of `spec`. The first slot follows
 * the latest run's creation (or now, when there is none); a slot is skipped while a run is in
 * progress or when the filter says no. After a stop, at most one missed slot is caught up.
 */
export function scheduleProcess<T>(
  ctx: WorkflowContext<T>,
  foreignId: string,
  spec: string,
  options: ScheduleOptions<T>,
  trigger: (foreignId: string, initialValue: T | undefined) => Promise<unknown>,
): ProcessSpec<Date> {
  const cron = parseCron(spec);
  const resolved = resolveOptions(ctx.defaultOptions, undefined, "never");
  const latestRun = async () => {
    try {
      return await ctx.recordStore.latest(ctx.name, foreignId);
    } catch (err) {
      if (hasErrorCode(err, "RECORD_NOT_FOUND")) return undefined;
      throw err;
    }
  };
  const after = (from: Date): Date => {
    const next = cron.nextRun(from);
    if (!next) throw new InvalidScheduleError(spec, { cause: new Error("the spec has no future slot") });
    return next;
  };
  return {
    name: `${foreignId}-scheduler-${spec}`,
    role: roleName(ctx.name, encodedName(foreignId), "scheduler", encodedName(spec)),
    options: resolved,
    open: async (signal) => {
      signal.throwIfAborted();
      let next = after((await latestRun())?.createdAt ?? ctx.clock.now());
      return {
        recv: async (recvSignal) => {
          const waitMs = next.getTime() - ctx.clock.now().getTime();
          if (waitMs > 0) await ctx.clock.sleep(waitMs, recvSignal);
          const slot = next;
          // From the slot or now, whichever is later: a long stop catches up one slot, not all of them.
          const now = ctx.clock.now();
          next = after(now > slot ? now : slot);
          return { event: slot, ack: async () => {} };
        },
        close: async () => {},
      };
    },
    handle: async (slot) => {
      const latest = await latestRun();
      if (latest && !isFinished(latest.runState)) return;
      if (options.filter && !(await options.filter(slot))) return;
      try {
        await trigger(foreignId, options.initialValue);
      } catch (err) {
        // A run started elsewhere since we looked: this slot is taken.
        if (!hasErrorCode(err, "WORKFLOW_IN_PROGRESS")) throw err;
      }
    },
  };
}
