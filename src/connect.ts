import { topicConsumers } from "./consumer.js";
import type { WorkflowContext } from "./context.js";
import { hasErrorCode } from "./errors.js";
import { HeaderKey, type Event, type EventStreamer } from "./event.js";
import { roleName, snakeCase } from "./graph.js";
import { resolveOptions, type ProcessOptions } from "./options.js";
import type { ProcessSpec } from "./process.js";
import type { Record } from "./record.js";
import { ErrorCount } from "./error-count.js";
import type { Run } from "./run.js";
import type { SkipReason } from "./skip.js";
import { isFinished, isStopped, RunState } from "./runstate.js";
import { encodedName, runStateChangeTopic, topic } from "./topic.js";
import { decodeRun, resultRecord, upgradeStored, writeUnlessSuperseded } from "./update.js";
import { checkNotNewer } from "./upgrade.js";

/**
 * How a run of this workflow waits in `from` for a run of another workflow to reach `status`.
 * `OtherS` is the other workflow's status type, named by the caller
 * (`b.connectWorkflow<PaymentStatus>({ … })`) so that `status` is checked against it.
 */
export interface ConnectWorkflowConfig<T, S extends number, OtherS extends number> {
  /** The other workflow's name. */
  workflowName: string;
  /** The other workflow's status to wait for. */
  status: NoInfer<OtherS>;
  /** The event streamer the other workflow publishes on. */
  streamer: EventStreamer;
  from: S;
  to: S;
  /** Maps the other workflow's event to this workflow's foreign id; an empty string skips it. */
  filter: (event: Event) => string | Promise<string>;
  /** Returns true to move the run from `from` to `to`. */
  consumer: (run: Run<T, S>, event: Event) => Promise<boolean>;
}

export interface ConnectionDefinition<T> {
  config: ConnectWorkflowConfig<T, number, number>;
  options: ProcessOptions;
}

/**
 * Consumers of the other workflow's events for `status`. A run reaching a terminal status is
 * announced on the run-state-change topic rather than the status topic, so both are read.
 */
export function connectionProcesses<T>(ctx: WorkflowContext<T>, connection: ConnectionDefinition<T>): ProcessSpec<Event>[] {
  const { config } = connection;
  const options = resolveOptions(ctx.defaultOptions, connection.options, "own");
  const errors = new ErrorCount(ctx, options.pauseAfterErrCount, `connection to ${config.workflowName}`);
  const other = snakeCase(config.workflowName);
  const workflow = ctx.name.toLowerCase().replaceAll(" ", "_");
  const consumer = (source: "status" | "completed") =>
    topicConsumers(ctx, {
      topic: source === "status" ? topic(config.workflowName, config.status) : runStateChangeTopic(config.workflowName),
      name: `${other}-${config.status}${source === "completed" ? "-completed" : ""}-connector-to-${workflow}-consumer`,
      role: roleName(ctx.name, "connection", encodedName(config.workflowName), config.status, source, "consumer"),
      options,
      sharded: true,
      streamer: config.streamer,
      handle: async (event) => {
        if (event.type !== config.status) return "filtered_out";
        if (source === "completed" && Number(event.headers[HeaderKey.runState]) !== RunState.Completed) return "filtered_out";
        return handleConnectedEvent(ctx, config, event, errors);
      },
    });
  return [...consumer("status"), ...consumer("completed")];
}

async function handleConnectedEvent<T>(
  ctx: WorkflowContext<T>,
  config: ConnectWorkflowConfig<T, number, number>,
  event: Event,
  errors: ErrorCount<T>,
): Promise<SkipReason | undefined> {
  const foreignId = await config.filter(event);
  if (!foreignId) return "filtered_out";
  let record: Record;
  try {
    record = await ctx.recordStore.latest(ctx.name, foreignId);
  } catch (err) {
    if (hasErrorCode(err, "RECORD_NOT_FOUND")) return "record_not_found";
    throw err;
  }
  // Thrown for a run of a newer version, so the event comes again for a process of that version.
  checkNotNewer(ctx, record);
  // The other workflow's event comes once: a run of an older version is upgraded now, not later.
  record = await upgradeStored(ctx, record);
  if (isStopped(record.runState) || isFinished(record.runState)) return "record_stopped";
  if (record.status !== config.from) return "status_mismatch";
  let next: Record | undefined;
  const run = decodeRun<T, number>(ctx, record);
  try {
    const moves = await config.consumer(run, event);
    // Inside the try: an object the consumer left invalid is its error, counted like a throw.
    if (moves) next = await resultRecord(ctx, record, run.object, config.to, new Set([config.to]), `connection to ${config.workflowName}`);
  } catch (err) {
    await errors.failed(record, err);
    return undefined;
  }
  errors.reset(record.runId);
  if (!next) return "step_skipped";
  await writeUnlessSuperseded(ctx, record, next);
  return undefined;
}
