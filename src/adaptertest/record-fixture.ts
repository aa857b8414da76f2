import { randomUUID } from "node:crypto";
import type { Record, RecordMeta } from "../record.js";
import { RunState } from "../runstate.js";

/** What {@link makeRecord} may be told; `meta` may be given in part. */
export type RecordOverrides = Partial<Omit<Record, "meta">> & { meta?: Partial<RecordMeta> };

/**
 * A valid Record for tests: a fresh run of a fresh workflow and foreign id, Initiated in status 1
 * at version 1 (of workflow version 1), created 2026-01-01T00:00:00Z, with a small JSON object. Override what a case needs.
 *
 * @example
 * ```ts
 * const first = makeRecord({ workflowName: "orders" });
 * await store.store(first);
 * await store.store(makeRecord({ ...first, runState: RunState.Running, meta: { ...first.meta, version: 2 } }));
 * ```
 */
export function makeRecord(overrides: RecordOverrides = {}): Record {
  const createdAt = new Date("2026-01-01T00:00:00.000Z");
  const { meta, ...fields } = overrides;
  return {
    workflowName: `workflow-${randomUUID()}`,
    foreignId: `foreign-${randomUUID()}`,
    runId: randomUUID(),
    runState: RunState.Initiated,
    status: 1,
    object: new TextEncoder().encode(JSON.stringify({ amount: 10 })),
    createdAt,
    updatedAt: createdAt,
    ...fields,
    meta: { runStateReason: "", statusDescription: "", version: 1, workflowVersion: 1, traceOrigin: "", ...meta },
  };
}
