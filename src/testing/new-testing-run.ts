import { randomUUID } from "node:crypto";
import { makeRun, type Run, type RunControlHooks, type TypedRecord } from "../run.js";
import { RunState } from "../runstate.js";

/**
 * A Run for unit-testing a step function alone. Unset fields get plausible defaults; the hooks
 * see each control the step uses.
 *
 * ```ts
 * let paused = "";
 * const run = newTestingRun({ status: OrderStatus.Created }, order, { onPause: (r) => (paused = r) });
 * await chargeStep(run, ctx);
 * ```
 */
export function newTestingRun<T, S extends number>(
  record: Partial<Omit<TypedRecord<T, S>, "object">> & { status: S },
  object: T,
  hooks: RunControlHooks = {},
): Run<T, S> {
  const now = new Date();
  return makeRun<T, S>(
    {
      workflowName: "testing",
      foreignId: "testing",
      runId: randomUUID(),
      runState: RunState.Running,
      createdAt: now,
      updatedAt: now,
      ...record,
      meta: { runStateReason: "", statusDescription: String(record.status), version: 1, workflowVersion: 1, traceOrigin: "", ...record.meta },
      object,
    },
    hooks,
  );
}
