import { MalformedRecordError } from "../../errors.js";
import { withTrace, type Record } from "../../record.js";
import { RunState } from "../../runstate.js";

/** A records row as pg hands it out. */
export interface RecordRow {
  run_id: string;
  workflow_name: string;
  foreign_id: string;
  run_state: number;
  status: number;
  object: Uint8Array | null;
  created_at: Date;
  updated_at: Date;
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

/**
 * A row as a Record, refusing one that could not have been written by a store. A row whose ids,
 * status and version read but whose run state or object does not is refused with a salvage, so an
 * operator can still cancel or delete the run.
 */
export function toRecord(row: RecordRow): Record {
  const runId = String(row.run_id);
  if (!Number.isInteger(row.version) || row.version < 1) throw new MalformedRecordError(runId, `version ${String(row.version)} is not positive`);
  // pg reads the timestamps 'infinity' and '-infinity' as numbers, not Dates.
  if (!isTime(row.created_at) || !isTime(row.updated_at)) throw new MalformedRecordError(runId, `created_at ${String(row.created_at)} or updated_at ${String(row.updated_at)} is not a time`);
  const readable = Number.isInteger(row.run_state) && RunState[row.run_state] !== undefined && row.run_state !== RunState.Unknown;
  const record: Record = {
    workflowName: row.workflow_name,
    foreignId: row.foreign_id,
    runId,
    runState: readable ? (row.run_state as RunState) : RunState.Unknown,
    status: row.status,
    // pg hands out Buffers; a plain Uint8Array copy keeps records alike across stores.
    object: row.object instanceof Uint8Array ? new Uint8Array(row.object) : new Uint8Array(),
    createdAt: row.created_at,
    updatedAt: row.updated_at,
    meta: withTrace(
      {
        runStateReason: row.run_state_reason,
        statusDescription: row.status_description,
        version: row.version,
        workflowVersion: row.workflow_version,
        traceOrigin: row.trace_origin,
      },
      row.trace_parent,
      row.trace_state,
    ),
  };
  if (!readable) throw new MalformedRecordError(runId, `run_state ${String(row.run_state)} is not a run state`, { salvage: record });
  if (!Number.isInteger(row.workflow_version) || row.workflow_version < 1) {
    throw new MalformedRecordError(runId, `workflow_version ${String(row.workflow_version)} is not positive`, { salvage: record });
  }
  if (!(row.object instanceof Uint8Array)) throw new MalformedRecordError(runId, "object is missing", { salvage: record });
  return record;
}

function isTime(value: unknown): value is Date {
  return value instanceof Date && !Number.isNaN(value.getTime());
}

/** A timestamp column's milliseconds: pg reads 'infinity' and '-infinity' as numbers, not Dates, and those are no time. */
export function timeMs(value: Date | number): number | undefined {
  return value instanceof Date ? value.getTime() : undefined;
}
