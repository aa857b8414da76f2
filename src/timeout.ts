import { topicConsumers } from "./consumer.js";
import type { WorkflowContext } from "./context.js";
import { BuildError, hasErrorCode } from "./errors.js";
import { roleName } from "./graph.js";
import { resolveOptions, type ProcessOptions } from "./options.js";
import type { ProcessSpec } from "./process.js";
import type { Record } from "./record.js";
import type { Control, Run, StepContext, TypedRecord } from "./run.js";
import { isFinished, isStopped } from "./runstate.js";
import { currentRecordFor } from "./step.js";
import { topic } from "./topic.js";
import { decodeRecord, decodeRun, resultRecord, writeUnlessSuperseded } from "./update.js";

/** A timeout as a TimeoutStore keeps it. */
export interface TimeoutRecord {
  id: string;
  workflowName: string;
  foreignId: string;
  runId: string;
  status: number;
  completed: boolean;
  expireAt: Date;
  createdAt: Date;
}

/** What {@link TimeoutStore.create} is given. */
export interface NewTimeout {
  workflowName: string;
  foreignId: string;
  runId: string;
  status: number;
  expireAt: Date;
}

/**
 * Keeps timeouts. `list` returns the active ones (neither completed nor cancelled);
 * `listValid` those of one status that have expired by `now`.
 */
export interface TimeoutStore {
  create(timeout: NewTimeout): Promise<void>;
  complete(id: string): Promise<void>;
  cancel(id: string): Promise<void>;
  list(workflowName: string): Promise<TimeoutRecord[]>;
  listValid(workflowName: string, status: number, now: Date): Promise<TimeoutRecord[]>;
}

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

/** Timeouts run one poller per status; sharding and lag do not apply to them. */
export function validateTimeoutOptions(owner: string, options: ProcessOptions): void {
  for (const key of ["parallelCount", "lag"] as const) {
    if (options[key] !== undefined) throw new BuildError(`${owner}: timeouts do not take the option "${key}"`);
  }
}

/**
 * Two processes per timeout: the auto-inserter creates a timeout as each run enters the status,
 * and the poller fires the expired ones of runs still there, cancelling those of runs that moved on.
 */
export function timeoutProcesses<T>(ctx: WorkflowContext<T>, timeout: TimeoutDefinition<T>): ProcessSpec<never>[] {
  const store = ctx.timeoutStore;
  if (!store) throw new BuildError(`workflow "${ctx.name}" has timeouts but no timeoutStore`);
  const statusName = ctx.graph.processName(timeout.from);
  const inserter = topicConsumers(ctx, {
    topic: topic(ctx.name, timeout.from),
    name: `${statusName}-timeout-auto-inserter-consumer`,
    role: roleName(ctx.name, timeout.from, "timeout-auto-inserter-consumer"),
    options: timeout.options,
    sharded: false,
    handle: async (event) => {
      const record = await currentRecordFor(ctx, event);
      if (!record || record.status !== timeout.from) return;
      const expireAt = await timeout.timer(decodeRecord(ctx, record), ctx.clock.now());
      if (!expireAt) return;
      await store.create({ workflowName: ctx.name, foreignId: record.foreignId, runId: record.runId, status: record.status, expireAt });
    },
  });
  const options = resolveOptions(ctx.defaultOptions, timeout.options);
  const poller: ProcessSpec<TimeoutRecord> = {
    name: `${statusName}-timeout-consumer`,
    role: roleName(ctx.name, timeout.from, "timeout-consumer"),
    options,
    open: async (signal) => {
      signal.throwIfAborted();
      let due: TimeoutRecord[] = [];
      let polled = false;
      return {
        recv: async (recvSignal) => {
          while (due.length === 0) {
            // Wait between polls even after a batch: a paused run's timeout stays due and would spin.
            if (polled) await ctx.clock.sleep(options.pollingFrequency, recvSignal);
            due = await store.listValid(ctx.name, timeout.from, ctx.clock.now());
            polled = true;
          }
          // Polled, not streamed: a timeout is done when it is completed or cancelled, so ack has nothing to do.
          return { event: due.shift() as TimeoutRecord, ack: async () => {} };
        },
        close: async () => {},
      };
    },
    handle: (expired, signal) => fireTimeout(ctx, store, timeout, expired, signal),
  };
  return [...(inserter as ProcessSpec<never>[]), poller as ProcessSpec<never>];
}

async function fireTimeout<T>(
  ctx: WorkflowContext<T>,
  store: TimeoutStore,
  timeout: TimeoutDefinition<T>,
  expired: TimeoutRecord,
  signal: AbortSignal,
): Promise<void> {
  let record: Record;
  try {
    record = await ctx.recordStore.lookup(expired.runId);
  } catch (err) {
    if (!hasErrorCode(err, "RECORD_NOT_FOUND")) throw err;
    return store.cancel(expired.id);
  }
  if (isFinished(record.runState) || record.status !== expired.status) return store.cancel(expired.id);
  // A paused run keeps its timeout and fires once resumed.
  if (isStopped(record.runState)) return;
  const run = decodeRun<T, number>(ctx, record);
  const now = ctx.clock.now();
  const result = await timeout.fn(run, now, { signal, logger: ctx.logger, clock: ctx.clock });
  const next = resultRecord(ctx, record, run.object, result, timeout.to);
  // Complete only once the transition is stored: a crash in between fires it again, and the
  // version check then finds the run moved on and cancels it.
  if (!next || (await writeUnlessSuperseded(ctx, next))) await store.complete(expired.id);
}
