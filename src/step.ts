import { topicConsumers } from "./consumer.js";
import type { WorkflowContext } from "./context.js";
import { ErrorCount } from "./error-count.js";
import { HeaderKey, type Event } from "./event.js";
import { roleName } from "./graph.js";
import { currentRecordsFor } from "./lookup.js";
import { resolveOptions, type ProcessOptions } from "./options.js";
import type { BatchOutcome, ProcessSpec } from "./process.js";
import { shardLimiters, type RateLimiter } from "./rate-limit.js";
import { settleAll } from "./settle-all.js";
import { hasErrorCode } from "./errors.js";
import { countRunStateChange } from "./metrics.js";
import type { Record } from "./record.js";
import type { Control, Run, StepContext } from "./run.js";
import { isSkip, type SkipReason } from "./skip.js";
import { topic } from "./topic.js";
import { carryTrace, eventTrace, spanStart } from "./trace-context.js";
import type { TraceContext } from "./tracer.js";
import { decodeRun, resultRecord } from "./update.js";
import { upgradeOrFail } from "./upgrade-consumer.js";
import { isOlderVersion } from "./upgrade.js";

/** A step: consumes runs entering `from` and moves them to one of the declared destinations. */
export type StepFn<T, S extends number, To extends S> = (run: Run<T, S>, ctx: StepContext) => Promise<NoInfer<To> | Control>;

export interface StepDefinition<T> {
  from: number;
  to: ReadonlySet<number>;
  fn: (run: Run<T, number>, ctx: StepContext) => Promise<number | Control>;
  options: ProcessOptions;
}

/**
 * One process per shard of the step, each with its own role and receiver, handling events in
 * batches, and with its own share of the step's `rateLimit`.
 */
export function stepProcesses<T>(ctx: WorkflowContext<T>, step: StepDefinition<T>): ProcessSpec<Event>[] {
  const options = resolveOptions(ctx.defaultOptions, step.options, "defaults");
  const owner = `step ${ctx.graph.statusName(step.from)}`;
  const errors = new ErrorCount(ctx, options.pauseAfterErrCount, owner);
  const limiters = options.rateLimit ? shardLimiters(owner, options.rateLimit, options.parallelCount) : [];
  const unlimited = shardHandlers(ctx, step, { concurrency: options.concurrency, errors, limiter: undefined });
  const consumers = topicConsumers(ctx, {
    topic: topic(ctx.name, step.from),
    name: `${ctx.graph.processName(step.from)}-consumer`,
    role: roleName(ctx.name, step.from, "consumer"),
    options,
    sharded: true,
    handle: unlimited.handle,
  });
  return consumers.map((consumer, i): ProcessSpec<Event> => {
    const limiter = limiters[i];
    const handlers = limiter ? shardHandlers(ctx, step, { concurrency: options.concurrency, errors, limiter }) : unlimited;
    const shard = limiter ? { ...consumer, limiter, handle: handlers.handle } : consumer;
    return options.batchSize === 1 ? shard : { ...shard, batch: { size: options.batchSize, handle: handlers.handleBatch } };
  });
}

/** A shard's handlers of one event and of a batch. */
function shardHandlers<T>(ctx: WorkflowContext<T>, step: StepDefinition<T>, shard: StepShard<T>) {
  const handleBatch = (events: readonly Event[], signal: AbortSignal) => handleStepBatch(ctx, step, shard, events, signal);
  const handle = async (event: Event, signal: AbortSignal) => outcomeOf(await handleBatch([event], signal));
  return { handle, handleBatch };
}

/** What one shard of a step hands each batch besides its events. */
interface StepShard<T> {
  /** How many step functions run at once. */
  concurrency: number;
  errors: ErrorCount<T>;
  /** The shard's share of the step's `rateLimit`: each step function waits for a start of it. */
  limiter: RateLimiter | undefined;
}

/**
 * Handles a batch of events of distinct runs: reads their runs together, runs the step function of
 * each run still in `from` (at most `concurrency` at once), then stores every transition together.
 * One outcome per event: a run whose step failed, or whose write failed, fails alone.
 */
async function handleStepBatch<T>(
  ctx: WorkflowContext<T>,
  step: StepDefinition<T>,
  shard: StepShard<T>,
  events: readonly Event[],
  signal: AbortSignal,
): Promise<BatchOutcome[]> {
  const records = await currentRecordsFor(ctx, events);
  const prepared = await settleAll(events, shard.concurrency, async (event, i) => {
    const found = records[i] as PromiseSettledResult<Record | SkipReason>;
    if (found.status === "rejected") throw found.reason;
    return runStep(ctx, step, event, found.value, signal, shard);
  });
  const writes: Record[] = [];
  for (const outcome of prepared) {
    if (outcome.status === "fulfilled" && isWrite(outcome.value)) writes.push(outcome.value);
  }
  const written = writes.length > 0 ? await ctx.writeAll(writes) : [];
  let w = 0;
  return prepared.map((outcome, i): BatchOutcome => {
    if (outcome.status === "rejected" || !isWrite(outcome.value)) return outcome as BatchOutcome;
    const write = written[w++] as PromiseSettledResult<void>;
    // Someone else changed the run first: their write (and its event) supersedes this one.
    if (write.status === "rejected" && hasErrorCode(write.reason, "VERSION_CONFLICT")) {
      ctx.logger.debug("run changed meanwhile; dropping this write", { runId: outcome.value.runId, version: outcome.value.meta.version });
      return { status: "fulfilled", value: undefined };
    }
    // A write's run was read (so found) before its step ran: the state it changes is that read's.
    if (write.status === "fulfilled" && ctx.metrics) {
      countRunStateChange(ctx.metrics, ctx.name, (records[i] as PromiseFulfilledResult<Record>).value.runState, outcome.value.runState);
    }
    return write;
  });
}

/** The transition the step asks for, to be stored, or why the event is let go without one. */
async function runStep<T>(
  ctx: WorkflowContext<T>,
  step: StepDefinition<T>,
  event: Event,
  record: Record | SkipReason,
  signal: AbortSignal,
  { errors, limiter }: StepShard<T>,
): Promise<Record | SkipReason | undefined> {
  // A run of an older version is upgraded first, in this batch's write; the upgraded run's event
  // then brings it to the step of the status it maps to (its old status number may mean another).
  if (!isSkip(record) && isOlderVersion(ctx, record)) return upgradeOrFail(ctx, record, signal, errors);
  if (isSkip(record) || record.status !== step.from) {
    // A run that moved on (or was paused or cancelled by hand) no longer fails here.
    errors.reset(event.headers[HeaderKey.runId] ?? "");
    return isSkip(record) ? record : "status_mismatch";
  }
  // Only a step function that runs counts against the limit: a skipped event calls nobody. The
  // start is counted right before the call, with nothing awaited in between.
  while (limiter && !limiter.tryStart(ctx.clock.now().getTime())) await limiter.whenFree(ctx.clock, signal);
  let next: Record | undefined;
  const { tracer } = ctx;
  try {
    if (tracer === undefined) {
      // Spelled out rather than through stepResult: an untraced step pays for no extra async call.
      const run = decodeRun<T, number>(ctx, record);
      const result = await step.fn(run, { signal, logger: ctx.logger, clock: ctx.clock });
      next = await resultRecord(ctx, record, run.object, result, step.to, `step ${ctx.graph.statusName(step.from)}`);
    } else {
      next = await tracer.inSpan(spanStart(ctx, "step", record, eventTrace(event.headers)), (trace) => stepResult(ctx, step, record, signal, trace));
    }
  } catch (err) {
    if (signal.aborted) throw err;
    await errors.failed(record, err);
    return undefined;
  }
  errors.reset(record.runId);
  return next ?? "step_skipped";
}

/** The record the step function asks for, carrying the step span's trace context; undefined for `skip`. */
async function stepResult<T>(
  ctx: WorkflowContext<T>,
  step: StepDefinition<T>,
  record: Record,
  signal: AbortSignal,
  trace: TraceContext | undefined,
): Promise<Record | undefined> {
  const run = decodeRun<T, number>(ctx, record);
  const result = await step.fn(run, { signal, logger: ctx.logger, clock: ctx.clock });
  return carryTrace(await resultRecord(ctx, record, run.object, result, step.to, `step ${ctx.graph.statusName(step.from)}`), trace);
}

function isWrite(value: Record | SkipReason | undefined): value is Record {
  return typeof value === "object";
}

function outcomeOf(outcomes: BatchOutcome[]): SkipReason | undefined {
  const outcome = outcomes[0] as BatchOutcome;
  if (outcome.status === "rejected") throw outcome.reason;
  return outcome.value ?? undefined;
}
