import { deepStrictEqual } from "node:assert/strict";
import { hasSnapshots } from "../snapshots.js";
import { decodeRecord } from "../update.js";
import { currentStatus } from "../upgrade.js";
import { workflowContext, type Workflow } from "../workflow.js";
import { defaultWaitMs, pollUntil } from "./poll.js";
import { waitFor } from "./wait-for.js";

/**
 * Waits until the latest run of `foreignId` reaches `status` and checks its object there deeply
 * equals `expectedObject`. With a record store that keeps snapshots (the memory store) it also
 * sees a status the run has already passed through.
 */
export async function requireStatus<T, S extends number>(
  wf: Workflow<T, S>,
  foreignId: string,
  status: S,
  expectedObject: T,
  options: { timeoutMs?: number } = {},
): Promise<void> {
  const ctx = workflowContext(wf as Workflow<T, number>);
  const store = ctx.recordStore;
  const statusName = ctx.graph.statusName(status);
  const latest = await waitFor(wf, foreignId, () => true, options);
  const reached = await pollUntil(
    `run "${latest.runId}" of "${foreignId}" to reach ${statusName}`,
    async () => {
      const history = hasSnapshots(store) ? store.snapshots(latest.runId) : [await store.lookup(latest.runId)];
      // Versions written by a newer definition are not this one's to read.
      return history.find((r) => r.meta.workflowVersion <= ctx.version && currentStatus(ctx, r) === status);
    },
    options.timeoutMs ?? defaultWaitMs,
  );
  const actual = decodeRecord<T, S>(ctx, reached).object;
  deepStrictEqual(actual, expectedObject, `the object of "${foreignId}" at ${statusName} differs from the expected one`);
}
