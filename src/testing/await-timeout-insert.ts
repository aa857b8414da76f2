import type { TimeoutRecord } from "../timeout-store.js";
import { workflowContext, type Workflow } from "../workflow.js";
import { defaultWaitMs, pollUntil } from "./poll.js";

/** Waits until a timeout exists for the run in `status`, and returns it. */
export async function awaitTimeoutInsert<T, S extends number>(
  wf: Workflow<T, S>,
  foreignId: string,
  runId: string,
  status: S,
  options: { timeoutMs?: number } = {},
): Promise<TimeoutRecord> {
  const ctx = workflowContext(wf as Workflow<T, number>);
  const store = ctx.timeoutStore;
  if (!store) throw new TypeError(`workflow "${wf.name}" was built without a timeoutStore`);
  return pollUntil(
    `a timeout for run "${runId}" of "${foreignId}" in ${ctx.graph.statusName(status)}`,
    async () => (await store.list(wf.name)).find((t) => t.runId === runId && t.status === status),
    options.timeoutMs ?? defaultWaitMs,
  );
}
