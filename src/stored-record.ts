import { MalformedRecordError } from "./errors.js";
import { withTrace, type Record } from "./record.js";
import { RunState } from "./runstate.js";
import { isTimeMs } from "./time-ms.js";

/**
 * A records row's values as its store read them; undefined where a value was unreadable. The
 * numbers that decide whether the row is a run also come as read (`read`), so a refusal can show
 * what was there.
 */
export interface RecordRowValues {
  runId: string;
  workflowName: string | undefined;
  foreignId: string | undefined;
  runState: number | undefined;
  status: number | undefined;
  object: Uint8Array | undefined;
  createdAtMs: number | undefined;
  updatedAtMs: number | undefined;
  version: number | undefined;
  workflowVersion: number | undefined;
  runStateReason: string | undefined;
  statusDescription: string | undefined;
  traceOrigin: string | undefined;
  traceParent: string | undefined;
  traceState: string | undefined;
  read: { runState: unknown; status: unknown; version: unknown; workflowVersion: unknown };
  /** Where the row is kept, added to a refusal when the store's name for it helps ("table x_records"). */
  where?: string;
}

/**
 * A records row as a Record, or MalformedRecordError for a row no store writes. A row whose ids,
 * status, version and times read but whose run state, workflow version or object does not is
 * refused with a salvage, so an operator can still cancel or delete the run.
 */
export function storedRecord(row: RecordRowValues): Record {
  const { runId, workflowName, foreignId, runState, status, version, workflowVersion, createdAtMs, updatedAtMs, object, read } = row;
  const malformed = (detail: string, salvage?: Record) =>
    new MalformedRecordError(runId, row.where === undefined ? detail : `${detail} (${row.where})`, { salvage });
  if (!Number.isSafeInteger(status)) throw malformed(`status ${String(read.status)} is not an integer`);
  if (version === undefined || !Number.isSafeInteger(version) || version < 1) throw malformed(`version ${String(read.version)} is not a positive integer`);
  if (!isTimeMs(createdAtMs) || !isTimeMs(updatedAtMs)) throw malformed("created_at or updated_at is not a time");
  if (workflowName === undefined || foreignId === undefined) throw malformed("workflow_name or foreign_id is not text");
  const readable = runState !== undefined && RunState[runState] !== undefined && runState !== RunState.Unknown;
  const record: Record = {
    workflowName,
    foreignId,
    runId,
    runState: readable ? (runState as RunState) : RunState.Unknown,
    status: status as number,
    // A plain copy: records look alike across stores, and nobody shares the driver's Buffer.
    object: object === undefined ? new Uint8Array() : new Uint8Array(object),
    createdAt: new Date(createdAtMs),
    updatedAt: new Date(updatedAtMs),
    meta: withTrace(
      {
        runStateReason: row.runStateReason ?? "",
        statusDescription: row.statusDescription ?? "",
        version,
        workflowVersion: workflowVersion ?? 1,
        traceOrigin: row.traceOrigin ?? "",
      },
      row.traceParent,
      row.traceState,
    ),
  };
  if (!readable) throw malformed(`run_state ${String(read.runState)} is not a run state`, record);
  if (workflowVersion === undefined || !Number.isSafeInteger(workflowVersion) || workflowVersion < 1) {
    throw malformed(`workflow_version ${String(read.workflowVersion)} is not a positive integer`, record);
  }
  if (object === undefined) throw malformed("object is missing or not bytes", record);
  return record;
}
