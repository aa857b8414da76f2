import { topicConsumers } from "./consumer.js";
import type { WorkflowContext } from "./context.js";
import { BuildError, hasErrorCode, ValueNotStorableError } from "./errors.js";
import { roleName } from "./graph.js";
import { resolveOptions, stepOnlyOptions, type ProcessOptions } from "./options.js";
import type { ProcessSpec } from "./process.js";
import type { Record } from "./record.js";
import type { Control, Run, StepContext, TypedRecord } from "./run.js";
import { isFinished, isStopped } from "./runstate.js";
import { ErrorCount } from "./error-count.js";
import { currentRecordFor, lookupOrSkip } from "./lookup.js";
import { readableRows } from "./readable-rows.js";
import { SetAsideRows } from "./set-aside.js";
import { isSkip, type SkipReason } from "./skip.js";
import { isTimeMs } from "./time-ms.js";
import type { TimeoutRecord, TimeoutStore } from "./timeout-store.js";
import { topic } from "./topic.js";
import { carryTrace, recordTrace, spanStart } from "./trace-context.js";
import type { TraceContext } from "./tracer.js";
import { decodeRecord, decodeRun, resultRecord, writeUnlessSuperseded } from "./update.js";
import { checkNotNewer, isOlderVersion } from "./upgrade.js";

/** Decides when a run entering the status times out; null means no timeout for this run. */
export type TimerFn<T, S extends number> = (run: TypedRecord<T, S>, now: Date) => Date | null | Promise<Date | null>;

/** Runs once a run's timeout has expired, while the run is still in the status. */
export type TimeoutFn<T, S extends number, To extends S> = (run: Run<T, S>, now: Date, ctx: StepContext) => Promise<NoInfer<To> | Control>;

/** A timer that expires `ms` after the run entered the status. */
export function durationTimer(ms: number): TimerFn<unknown, number> {
  if (!Number.isFinite(ms) || ms < 0) throw new RangeError(`durationTimer: ms must be a non-negative number, got ${ms}`);
  return (_run, now) => new Date(now.getTime() + ms);
}

/** A timer that expires at a fixed time. */
export function timeTimer(at: Date): TimerFn<unknown, number> {
  if (Number.isNaN(at.getTime())) throw new RangeError("timeTimer: the date is invalid");
  return () => at;
}

export interface TimeoutDefinition<T> {
  from: number;
  to: ReadonlySet<number>;
  timer: TimerFn<T, number>;
  fn: (run: Run<T, number>, now: Date, ctx: StepContext) => Promise<number | Control>;
  options: ProcessOptions;
}

/** How many due timeouts the poller lists at most at once: a burst of them is read a page at a time. */
export const timeoutPageSize = 1000;

/** Timeouts run one auto-inserter and one poller per status: sharding, lag and batching do not apply to them. */
export const unsupportedTimeoutOptions = ["parallelCount", "lag", ...stepOnlyOptions] as const;

/**
 * Two processes per status with timeouts: the auto-inserter creates a timeout for each of the
 * status's timers as a run enters it, and the poller fires the expired ones of runs still there,
 * cancelling those of runs that moved on. A status may have several timeouts (a reminder and an
 * expiry); each stored timeout carries the index of the one that made it. A stored timeout the
 * store cannot read is logged and set aside ({@link SetAsideRows}), left in the store, while the
 * others fire.
 */
export function timeoutProcesses<T>(ctx: WorkflowContext<T>, from: number, timeouts: readonly TimeoutDefinition<T>[]): ProcessSpec<never>[] {
  const store = ctx.timeoutStore;
  if (!store) throw new BuildError(`workflow "${ctx.name}" has timeouts but no timeoutStore`);
  const statusName = ctx.graph.processName(from);
  const options = resolveOptions(ctx.defaultOptions, Object.assign({}, ...timeouts.map((t) => t.options)) as ProcessOptions, "never");
  const errors = new ErrorCount(ctx, options.pauseAfterErrCount, `timeout ${ctx.graph.statusName(from)}`);
  const inserter = topicConsumers(ctx, {
    topic: topic(ctx.name, from),
    name: `${statusName}-timeout-auto-inserter-consumer`,
    role: roleName(ctx.name, from, "timeout-auto-inserter-consumer"),
    options,
    sharded: false,
    handle: async (event) => {
      const record = await currentRecordFor(ctx, event);
      if (isSkip(record)) return record;
      if (isOlderVersion(ctx, record)) return "older_workflow_version";
      if (record.status !== from) return "status_mismatch";
      const typed = decodeRecord(ctx, record);
      for (const [index, timeout] of timeouts.entries()) {
        const expireAt = await timeout.timer(typed, ctx.clock.now());
        if (!expireAt) continue;
        // An Invalid Date (a timer's sum with undefined) would be kept as junk, or refused by the store's driver.
        if (!(expireAt instanceof Date) || !isTimeMs(expireAt.getTime())) {
          throw new ValueNotStorableError(`the expiry of timeout ${index} of ${ctx.graph.statusName(from)}`, `its timer returned ${String(expireAt)}, not a valid Date`);
        }
        await store.create({ workflowName: ctx.name, foreignId: record.foreignId, runId: record.runId, status: record.status, index, expireAt });
      }
      return undefined;
    },
  });
  const poller: ProcessSpec<TimeoutRecord> = {
    name: `${statusName}-timeout-consumer`,
    role: roleName(ctx.name, from, "timeout-consumer"),
    options,
    open: async (signal) => {
      signal.throwIfAborted();
      let due: TimeoutRecord[] = [];
      /** The last timeout listed while a sweep through the due ones goes on; undefined between sweeps. */
      let after: TimeoutRecord | undefined;
      /** The ids of the page `after` ends. */
      let lastPage = new Set<string>();
      let polled = false;
      const setAside = new SetAsideRows(ctx.logger, "timeout");
      return {
        recv: async (recvSignal) => {
          while (due.length === 0) {
            // Wait between sweeps even after one that found timeouts: a paused run's timeout stays due and would spin.
            if (polled && after === undefined) await ctx.clock.sleep(options.pollingFrequency, recvSignal);
            const listed = await readableRows(store.listValid(ctx.name, from, ctx.clock.now(), { after, limit: timeoutPageSize }));
            setAside.note(listed.malformed);
            polled = true;
            // A store that keeps no pages lists from the soonest again: nothing new, the sweep is over.
            const repeated = after !== undefined && listed.rows.some((t) => lastPage.has(t.id));
            due = repeated ? [] : listed.rows;
            // A full page may have more behind it, read next without a wait. One with no readable
            // timeout cannot say where the sweep is, and a store that lists more than a page keeps
            // no pages: both end the sweep.
            const full = !repeated && listed.rows.length + listed.malformed.length === timeoutPageSize;
            after = full ? listed.rows.at(-1) : undefined;
            lastPage = full ? new Set(listed.rows.map((t) => t.id)) : new Set();
          }
          // Polled, not streamed: a timeout is done when it is completed or cancelled, so ack has nothing to do.
          return { event: due.shift() as TimeoutRecord, ack: async () => {} };
        },
        close: async () => {},
      };
    },
    // A timeout is due once it expires: how late it fires is this process's lag.
    createdAt: (expired) => expired.expireAt,
    handle: (expired, signal) => fireTimeout(ctx, store, timeouts, expired, signal, errors),
    key: (expired) => expired.runId,
    identity: (expired) => expired.id,
    describe: (expired) => ({ timeoutId: expired.id, runId: expired.runId, status: expired.status, index: expired.index ?? 0 }),
  };
  return [...(inserter as ProcessSpec<never>[]), poller as ProcessSpec<never>];
}

async function fireTimeout<T>(
  ctx: WorkflowContext<T>,
  store: TimeoutStore,
  timeouts: readonly TimeoutDefinition<T>[],
  expired: TimeoutRecord,
  signal: AbortSignal,
  errors: ErrorCount<T>,
): Promise<SkipReason | undefined> {
  const timeout = timeouts[expired.index ?? 0];
  const record = await lookupOrSkip(ctx, expired.runId);
  if (record === "record_not_found") await finish(store.cancel(expired.id));
  if (isSkip(record)) return record;
  // Thrown, so the timeout stays due for a process of the run's version.
  checkNotNewer(ctx, record);
  const older = isOlderVersion(ctx, record);
  // A timeout whose definition is gone (a deploy removed it) or whose run moved on is no longer wanted.
  if (!timeout || isFinished(record.runState) || (!older && record.status !== expired.status)) {
    await finish(store.cancel(expired.id));
    return "status_mismatch";
  }
  // The consumer of its status upgrades the run; then the timeout fires, or is cancelled if the
  // upgrade moved the run to another status.
  if (older) return "older_workflow_version";
  // A paused run keeps its timeout and fires once resumed.
  if (isStopped(record.runState)) return "record_stopped";
  let next: Record | undefined;
  const { tracer } = ctx;
  try {
    next =
      tracer === undefined
        ? await timeoutResult(ctx, timeout, record, signal, undefined)
        : // No event brought the timeout: it continues the trace its run's record carries.
          await tracer.inSpan(spanStart(ctx, "timeout", record, recordTrace(record)), (trace) => timeoutResult(ctx, timeout, record, signal, trace));
  } catch (err) {
    if (signal.aborted) throw err;
    await errors.failed(record, err);
    return undefined;
  }
  errors.reset(record.runId);
  // Complete only once the transition is stored: a crash in between fires it again, and the
  // version check then finds the run moved on and cancels it.
  if (!next || (await writeUnlessSuperseded(ctx, record, next))) await finish(store.complete(expired.id));
  return next ? undefined : "step_skipped";
}

/**
 * Completing or cancelling a timeout that is no longer active is done already: an earlier try
 * whose reply was lost finished it (the store changed, the caller saw an error), or another
 * poller did. Retrying would fail with TIMEOUT_NOT_FOUND forever.
 */
async function finish(ending: Promise<void>): Promise<void> {
  try {
    await ending;
  } catch (err) {
    if (!hasErrorCode(err, "TIMEOUT_NOT_FOUND")) throw err;
  }
}

/** The record the timeout function asks for, carrying the timeout's trace context; undefined for `skip`. */
async function timeoutResult<T>(
  ctx: WorkflowContext<T>,
  timeout: TimeoutDefinition<T>,
  record: Record,
  signal: AbortSignal,
  trace: TraceContext | undefined,
): Promise<Record | undefined> {
  const run = decodeRun<T, number>(ctx, record);
  const result = await timeout.fn(run, ctx.clock.now(), { signal, logger: ctx.logger, clock: ctx.clock });
  return carryTrace(await resultRecord(ctx, record, run.object, result, timeout.to, `timeout ${ctx.graph.statusName(timeout.from)}`), trace);
}
