import { RecordNotFoundError } from "../errors.js";
import type { Record, RecordMeta } from "../record.js";
import { runStateName, type RunState } from "../runstate.js";
import { hasSnapshots } from "../snapshots.js";
import { runSummary, type RunSummary } from "./run-summary.js";
import type { ServedObject } from "./served-object.js";
import type { ServedWorkflow } from "./source.js";

/** One version a run went through, as the run's timeline shows it. */
export interface TimelineEntry {
  version: number;
  status: number;
  statusName: string;
  runState: RunState;
  runStateName: string;
  runStateReason: string;
  updatedAt: string;
}

/**
 * A run as `GET /api/runs/:workflow/:runId` answers it: the summary, the object and the meta, and
 * `timeline` (every version, oldest first) where the store keeps history (the memory store).
 */
export interface RunDetail extends RunSummary, ServedObject {
  meta: RecordMeta;
  timeline?: TimelineEntry[];
}

/** The detail of a stored run. */
export function runDetail(workflow: ServedWorkflow, record: Record): RunDetail {
  const detail: RunDetail = { ...runSummary(workflow, record), ...workflow.object(record), meta: { ...record.meta } };
  const store = workflow.recordStore;
  if (hasSnapshots(store)) detail.timeline = store.snapshots(record.runId).map((version) => timelineEntry(workflow, version));
  return detail;
}

function timelineEntry(workflow: ServedWorkflow, record: Record): TimelineEntry {
  return {
    version: record.meta.version,
    status: record.status,
    statusName: workflow.statusName(record),
    runState: record.runState,
    runStateName: runStateName(record.runState),
    runStateReason: record.meta.runStateReason,
    updatedAt: record.updatedAt.toISOString(),
  };
}

/** The run, if it belongs to the workflow: a run id of another workflow is as unknown here as a made-up one. */
export async function workflowRun(workflow: ServedWorkflow, runId: string): Promise<Record> {
  const record = await workflow.recordStore.lookup(runId);
  if (record.workflowName !== workflow.name) throw new RecordNotFoundError(runId);
  return record;
}
