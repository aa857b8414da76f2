import type { WorkflowContext } from "./context.js";
import { errorText } from "./logger.js";
import { hasErrorCode, StaleReadError } from "./errors.js";
import { HeaderKey, type Event } from "./event.js";
import type { Record, RecordStore } from "./record.js";
import { isFinished, isStopped, type RunState } from "./runstate.js";
import { isSkip, type SkipReason } from "./skip.js";
import { checkNotNewer } from "./upgrade.js";

/**
 * The record an event on a status topic speaks of, if the event is still the run's latest word:
 * a missing run, a run of another workflow, a newer stored version (already handled) or a stopped
 * or finished run give the reason to skip; an older stored version is a stale read and throws, to
 * be retried, as does a run written by a newer version of the workflow (NewerWorkflowVersionError).
 */
export async function currentRecordFor<T>(ctx: WorkflowContext<T>, event: Event): Promise<Record | SkipReason> {
  return currentOrSkip(ctx, event, await lookupOrSkip(ctx, runIdOf(event)));
}

/**
 * {@link currentRecordFor} for the events of a batch, one outcome per event, in order: the runs
 * are read with one `lookupMany` where the store has it. A stale read fails its event alone.
 */
export async function currentRecordsFor<T>(ctx: WorkflowContext<T>, events: readonly Event[]): Promise<PromiseSettledResult<Record | SkipReason>[]> {
  const { readKept } = ctx;
  // A store that keeps records answers at once: no promise or map per run.
  if (readKept) return events.map((event) => settledCurrent(ctx, event, readKept(runIdOf(event)) ?? "record_not_found"));
  const runIds = events.map(runIdOf);
  const found = ctx.recordStore.lookupMany && events.length > 1 ? await lookupManyOrSkip(ctx, runIds) : await lookupEachOrSkip(ctx, runIds);
  return events.map((event) => settledCurrent(ctx, event, found.get(runIdOf(event)) ?? "record_not_found"));
}

function settledCurrent<T>(ctx: WorkflowContext<T>, event: Event, record: Record | SkipReason): PromiseSettledResult<Record | SkipReason> {
  try {
    return { status: "fulfilled", value: currentOrSkip(ctx, event, record) };
  } catch (reason) {
    return { status: "rejected", reason };
  }
}

function currentOrSkip<T>(ctx: WorkflowContext<T>, event: Event, record: Record | SkipReason): Record | SkipReason {
  if (isSkip(record)) return record;
  const version = Number(event.headers[HeaderKey.recordVersion]);
  if (record.workflowName !== ctx.name) return "other_workflow";
  if (record.meta.version > version) return "event_superseded";
  if (record.meta.version < version) throw new StaleReadError(record.runId, version, record.meta.version);
  if (isStopped(record.runState) || isFinished(record.runState)) return "record_stopped";
  // Thrown, not skipped: the event stays un-acked until a process of the run's version takes it.
  checkNotNewer(ctx, record);
  return record;
}

/**
 * The runs of `runIds` in one read. A store that cannot read one of the rows fails the whole read,
 * so then each run is read alone, and only the malformed one is skipped.
 */
async function lookupManyOrSkip<T>(ctx: WorkflowContext<T>, runIds: readonly string[]): Promise<Map<string, Record | SkipReason>> {
  let records: Record[];
  try {
    records = await (ctx.recordStore.lookupMany as NonNullable<RecordStore["lookupMany"]>)(runIds);
  } catch (err) {
    if (!hasErrorCode(err, "MALFORMED_RECORD")) throw err;
    return lookupEachOrSkip(ctx, runIds);
  }
  return new Map(records.map((record) => [record.runId, record]));
}

async function lookupEachOrSkip<T>(ctx: WorkflowContext<T>, runIds: readonly string[]): Promise<Map<string, Record | SkipReason>> {
  const records = await Promise.all(runIds.map((runId) => lookupOrSkip(ctx, runId)));
  return new Map(runIds.map((runId, i) => [runId, records[i] as Record | SkipReason]));
}

function runIdOf(event: Event): string {
  return event.headers[HeaderKey.runId] ?? "";
}

/**
 * The record an event on the run-state-change or delete topic speaks of, if the run is still in
 * `runState`; the reason to skip when it is gone or has changed state again since.
 */
export async function lookupInState<T>(ctx: WorkflowContext<T>, event: Event, runState: RunState): Promise<Record | SkipReason> {
  const record = await lookupOrSkip(ctx, event.headers[HeaderKey.runId] ?? "");
  if (isSkip(record)) return record;
  if (record.workflowName !== ctx.name) return "other_workflow";
  return record.runState === runState ? record : "status_mismatch";
}

/**
 * The run, or why to let its event go: a missing run, or a stored row that cannot be read. Retrying
 * a malformed row would never succeed and would hold its process's acks back for good, so it is
 * logged as an error of the run and skipped; an operator cancels or deletes it (`wf.cancel`).
 */
export async function lookupOrSkip<T>(ctx: WorkflowContext<T>, runId: string): Promise<Record | SkipReason> {
  if (ctx.readKept) return ctx.readKept(runId) ?? "record_not_found";
  try {
    return await ctx.recordStore.lookup(runId);
  } catch (err) {
    if (hasErrorCode(err, "RECORD_NOT_FOUND")) return "record_not_found";
    if (hasErrorCode(err, "MALFORMED_RECORD")) {
      ctx.logger.error(`run ${runId} is malformed and was skipped: ${errorText(err)}`, { runId, skipped: "record_malformed", err });
      return "record_malformed";
    }
    throw err;
  }
}
