import { listRecords, type ListOptions } from "../list.js";
import type { Record } from "../record.js";
import { runStateName, type RunState } from "../runstate.js";
import type { ServedWorkflow } from "./source.js";

/** A run as the runs table lists it; times in ISO 8601 (UTC). */
export interface RunSummary {
  workflowName: string;
  foreignId: string;
  runId: string;
  status: number;
  statusName: string;
  runState: RunState;
  runStateName: string;
  version: number;
  createdAt: string;
  updatedAt: string;
}

/** A run of the page the store could not read, left out of `runs`: its id, and the error that says what is wrong. */
export interface MalformedRunSummary {
  runId: string;
  error: { code: string; message: string };
}

/**
 * A page of `GET /api/runs`, newest first; pass `nextCursor` back as `cursor` for the next, null on
 * the last. `malformed` lists the page's runs that could not be read (usually none).
 */
export interface RunList {
  runs: RunSummary[];
  nextCursor: string | null;
  malformed: MalformedRunSummary[];
}

/** The summary of a stored run; no object data, so a list never carries more than it shows. */
export function runSummary(workflow: ServedWorkflow, record: Record): RunSummary {
  return {
    workflowName: record.workflowName,
    foreignId: record.foreignId,
    runId: record.runId,
    status: record.status,
    statusName: workflow.statusName(record),
    runState: record.runState,
    runStateName: runStateName(record.runState),
    version: record.meta.version,
    createdAt: record.createdAt.toISOString(),
    updatedAt: record.updatedAt.toISOString(),
  };
}

/** A page of the workflow's runs, newest first, as `GET /api/runs` (and `stepwise runs list`) answers it. */
export async function runList(workflow: ServedWorkflow, options: ListOptions<number>): Promise<RunList> {
  const { records, nextCursor, malformed } = await listRecords(workflow.recordStore, workflow.name, options);
  return {
    runs: records.map((record) => runSummary(workflow, record)),
    nextCursor,
    malformed: malformed.map(({ id, error }) => ({ runId: id, error: { code: error.code, message: error.message } })),
  };
}
