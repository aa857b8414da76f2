import { hasErrorCode } from "../errors.js";
import type { TypedRecord } from "../run.js";
import { decodeRecord } from "../update.js";
import { workflowContext, type Workflow } from "../workflow.js";
import { defaultWaitMs, pollUntil } from "./poll.js";

/** Waits until the latest run of `foreignId` satisfies `predicate`, and returns it. */
export async function waitFor<T, S extends number>(
  wf: Workflow<T, S>,
  foreignId: string,
  predicate: (run: TypedRecord<T, S>) => boolean,
  options: { timeoutMs?: number } = {},
): Promise<TypedRecord<T, S>> {
  const ctx = workflowContext(wf as Workflow<T, number>);
  return pollUntil(
    `the latest run of "${foreignId}" in workflow "${wf.name}" to match the predicate`,
    async () => {
      try {
        const run = decodeRecord<T, S>(ctx, await ctx.recordStore.latest(wf.name, foreignId));
        return predicate(run) ? run : undefined;
      } catch (err) {
        if (hasErrorCode(err, "RECORD_NOT_FOUND")) return undefined;
        throw err;
      }
    },
    options.timeoutMs ?? defaultWaitMs,
  );
}
