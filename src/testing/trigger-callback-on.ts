import type { Workflow } from "../workflow.js";
import { waitFor } from "./wait-for.js";

/** Waits until the run is in `status`, then calls back with `payload`, as a webhook would. */
export async function triggerCallbackOn<T, S extends number>(
  wf: Workflow<T, S>,
  foreignId: string,
  runId: string,
  status: S,
  payload: unknown,
  options: { timeoutMs?: number } = {},
): Promise<void> {
  await waitFor(wf, foreignId, (run) => run.runId === runId && run.status === status, options);
  await wf.callback(foreignId, status, payload);
}
