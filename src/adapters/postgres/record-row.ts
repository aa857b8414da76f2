import type { Record } from "../../record.js";
import { storedRecord } from "../../stored-record.js";

/** A records row as pg hands it out. */
export interface RecordRow {
  run_id: string;
  workflow_name: string;
  foreign_id: string;
  run_state: number;
  status: number;
  object: Uint8Array | null;
  /** pg reads the timestamps 'infinity' and '-infinity' as numbers, not Dates. */
  created_at: Date | number;
  updated_at: Date | number;
  version: number;
  run_state_reason: string;
  status_description: string;
  trace_origin: string;
  trace_parent: string;
  trace_state: string;
  workflow_version: number;
}

/** The records columns, in the order the statements write them. */
export const columns =
  "run_id, workflow_name, foreign_id, run_state, status, object, created_at, updated_at, version, run_state_reason, status_description, trace_origin, trace_parent, trace_state, workflow_version";

/** A row as a Record, refusing one that could not have been written by a store (see {@link storedRecord}). */
export function toRecord(row: RecordRow): Record {
  return storedRecord({
    runId: String(row.run_id),
    workflowName: typeof row.workflow_name === "string" ? row.workflow_name : undefined,
    foreignId: typeof row.foreign_id === "string" ? row.foreign_id : undefined,
    runState: row.run_state,
    status: row.status,
    object: row.object instanceof Uint8Array ? row.object : undefined,
    createdAtMs: timeMs(row.created_at),
    updatedAtMs: timeMs(row.updated_at),
    version: row.version,
    workflowVersion: row.workflow_version,
    runStateReason: row.run_state_reason,
    statusDescription: row.status_description,
    traceOrigin: row.trace_origin,
    traceParent: row.trace_parent,
    traceState: row.trace_state,
    read: { runState: row.run_state, status: row.status, version: row.version, workflowVersion: row.workflow_version },
  });
}

/** A timestamp column's milliseconds: pg reads 'infinity' and '-infinity' as numbers, not Dates, and those are no time. */
export function timeMs(value: Date | number): number | undefined {
  return value instanceof Date ? value.getTime() : undefined;
}
