import { randomUUID } from "node:crypto";
import { setMaxListeners } from "node:events";
import type { StandardSchemaV1 } from "@standard-schema/spec";
import { RunWatcher, type AwaitOptions } from "./await.js";
import type { BuildConfig } from "./build-config.js";
import { shareClock, systemClock } from "./clock.js";
import { isJsonCodec, jsonCodec } from "./codec.js";
import type { WorkflowContext } from "./context.js";
import {
  hasErrorCode,
  InvalidObjectError,
  InvalidScheduleError,
  InvalidStatusError,
  RecordNotFoundError,
  WorkflowConflictError,
  WorkflowNotRunningError,
} from "./errors.js";
import type { Graph } from "./graph.js";
import { errorText, workflowLogger, type Logger } from "./logger.js";
import { outboxProcess, Wake } from "./outbox.js";
import { ProcessState } from "./process-state.js";
import { runProcess, type ProcessSpec } from "./process.js";
import { makeRun, type Run } from "./run.js";
import { RunState, runStateName } from "./runstate.js";
import { stepProcesses, type StepDefinition } from "./step.js";
import { storeAll } from "./store-all.js";
import { RecentWrites } from "./recent-writes.js";
import { batchedLookup, batchedWrite } from "./batched-store.js";
import type { Record as RunRecord } from "./record.js";
import { keptRecordReader, type RecordFields } from "./kept-record.js";
import { runCallbacks, type CallbackDefinition, type CallbackResult } from "./callback.js";
import { listRuns, type ListOptions, type RunPage } from "./list.js";
import { readableRows } from "./readable-rows.js";
import { runControl, type RunControl } from "./run-control.js";
import { connectionProcesses, type ConnectionDefinition } from "./connect.js";
import { connectorProcesses, type ConnectorDefinition } from "./connector.js";
import { deleteProcess } from "./delete.js";
import { mermaid, type MermaidDirection } from "./diagram.js";
import { hookProcess, type HookedRunState, type RunStateHook } from "./hook.js";
import { defaultResumeAfterMs, pauseRetryProcess } from "./pause-retry.js";
import { scheduleProcess, type ScheduleOptions } from "./schedule.js";
import { timeoutProcesses, type TimeoutDefinition } from "./timeout.js";
import { decodeRun, recordWith } from "./update.js";
import { checkStorableText } from "./storable-text.js";
import { validate } from "./schema.js";
import type { UpgradeDefinition } from "./upgrade.js";
import { upgradeProcesses } from "./upgrade-consumer.js";
import { carryTrace, spanStart } from "./trace-context.js";

/** Options of `Workflow.trigger`. */
export interface TriggerOptions<T, S extends number> {
  /** The run's object at the start. Required unless an empty object is a valid `T`; default `{}`. */
  initialValue?: T;
  /** Start here instead of the first status added to the builder. */
  startAt?: S;
}

/**
 * The arguments after the foreign id: the options may be left out only when an empty object is a
 * `T`, so a step is never handed `{}` typed as an object it is not.
 */
export type TriggerArgs<T, S extends number> = object extends T
  ? [options?: TriggerOptions<T, S>]
  : [options: TriggerOptions<T, S> & { initialValue: T }];

interface WorkflowDefinition<T> {
  name: string;
  graph: Graph;
  schema: StandardSchemaV1<unknown, T> | undefined;
  config: BuildConfig<T>;
  steps: StepDefinition<T>[];
  callbacks: CallbackDefinition<T>[];
  timeouts: TimeoutDefinition<T>[];
  connectors: ConnectorDefinition<Workflow<T, number>>[];
  connections: ConnectionDefinition<T>[];
  hooks: Map<HookedRunState, RunStateHook<T, number>>;
  version: number;
  upgrades: Map<number, UpgradeDefinition>;
}

const internals = new WeakMap<object, WorkflowContext<unknown>>();

/** The shared parts of a built workflow, for `stepwise/testing`. Not part of the public API. */
export function workflowContext<T>(wf: Workflow<T, number>): WorkflowContext<T> {
  const ctx = internals.get(wf);
  if (!ctx) throw new TypeError("not a workflow built by stepwise");
  return ctx as WorkflowContext<T>;
}

/** A built workflow: start its processes with `run()`, then trigger, await and control runs. */
export class Workflow<T, S extends number> {
  readonly name: string;
  readonly #ctx: WorkflowContext<T>;
  readonly #processes: ProcessSpec<never>[];
  readonly #states = new Map<string, ProcessState>();
  readonly #stop = new AbortController();
  readonly #watcher: RunWatcher<T>;
  readonly #callbacks: readonly CallbackDefinition<T>[];
  readonly #control: RunControl;
  readonly #random: () => number;
  #loops: Promise<void>[] | undefined;
  #started: Promise<void> | undefined;
  #stopped: Promise<void> | undefined;
  /** Takes the workflow out of the metrics collected at scrape time. */
  readonly #untrack: (() => void) | undefined;

  /** Use `Builder.build()`. */
  constructor(definition: WorkflowDefinition<T>) {
    const { config } = definition;
    const wake = new Wake();
    if (config.clock) shareClock(config.clock, [config.eventStreamer, config.recordStore, config.timeoutStore]);
    const debug = config.debug === true;
    const logger = workflowLogger(config.logger, debug);
    const recentWrites = new RecentWrites();
    const writeOne = batchedWrite(config.recordStore);
    const codec = config.codec ?? jsonCodec<T>();
    const store = config.recordStore;
    const readKept = keptRecordReader(store);
    // A store that keeps records in this process reads as fast as the recent writes would.
    const remembers = readKept === undefined;
    const ctx: WorkflowContext<T> = {
      name: definition.name,
      graph: definition.graph,
      version: definition.version,
      upgrades: definition.upgrades,
      codec,
      schema: definition.schema,
      clock: config.clock ?? systemClock,
      logger,
      tracer: config.tracer,
      metrics: config.metrics,
      debug,
      readKept,
      keepsObjects: readKept !== undefined && isJsonCodec(codec),
      eventStreamer: config.eventStreamer,
      recordStore: store,
      roleScheduler: config.roleScheduler,
      timeoutStore: config.timeoutStore,
      defaultOptions: config.defaultOptions,
      recentWrites,
      lookup: readKept ? keptLookup(readKept) : batchedLookup(store),
      write: async (record) => {
        await writeOne(record);
        if (remembers) recentWrites.remember(record);
        wake.notify();
        if (debug) logWritten(logger, definition.graph, record);
      },
      writeAll: async (records) => {
        const outcomes = await storeAll(store, records);
        wake.notify();
        if (!remembers && !debug) return outcomes;
        for (const [i, record] of records.entries()) {
          if (outcomes[i]?.status !== "fulfilled") continue;
          if (remembers) recentWrites.remember(record);
          if (debug) logWritten(logger, definition.graph, record);
        }
        return outcomes;
      },
    };
    this.name = definition.name;
    this.#ctx = ctx;
    // Every process listens for the stop; Node would warn past ten listeners.
    setMaxListeners(0, this.#stop.signal);
    this.#watcher = new RunWatcher(ctx, this.#stop.signal);
    this.#callbacks = definition.callbacks;
    this.#random = config.random ?? Math.random;
    // Through write(), so this process's outbox hears of the change at once.
    this.#control = runControl({ lookup: (runId) => config.recordStore.lookup(runId), store: ctx.write }, definition.name, {
      clock: ctx.clock,
      metrics: config.metrics,
    });
    const api = this as unknown as Workflow<T, number>;
    const processes: ProcessSpec<never>[] = [
      ...definition.steps.flatMap((step) => stepProcesses(ctx, step)),
      ...upgradeProcesses(ctx, new Set(definition.steps.map((step) => step.from))),
      ...timeoutsByStatus(definition.timeouts).flatMap(([from, timeouts]) => timeoutProcesses(ctx, from, timeouts)),
      ...definition.connectors.flatMap((connector) => connectorProcesses(ctx, connector, api)),
      ...definition.connections.flatMap((connection) => connectionProcesses(ctx, connection)),
      ...[...definition.hooks].flatMap(([runState, hook]) => hookProcess(ctx, runState, hook)),
      ...deleteProcess(ctx, config.customDelete),
    ] as ProcessSpec<never>[];
    if (config.outbox !== false) processes.push(outboxProcess(ctx, wake, undefined) as ProcessSpec<never>);
    if (config.pauseRetry !== false) {
      processes.push(...(pauseRetryProcess(ctx, config.pauseRetry?.resumeAfter ?? defaultResumeAfterMs) as ProcessSpec<never>[]));
    }
    this.#processes = processes;
    for (const p of processes) this.#states.set(p.name, ProcessState.Unknown);
    this.#untrack = config.metrics?.track?.({
      name: definition.name,
      recordStore: store,
      clock: ctx.clock,
      outbox: config.outbox !== false,
      statusName: (status) => definition.graph.statusName(status),
    });
    internals.set(this, ctx as WorkflowContext<unknown>);
  }

  /**
   * Starts every background process; later calls do nothing. Refuses with WorkflowConflictError
   * when the store holds runs of this workflow's name in statuses its graph lacks (another workflow
   * shares the name), and with WorkflowNotRunningError after `stop()`: build the workflow again.
   */
  async run(): Promise<void> {
    if (this.#stop.signal.aborted) throw new WorkflowNotRunningError(this.name, "run", "it was stopped; build it again to run it");
    if (this.#loops) return;
    this.#started ??= this.#checkStoredRuns().catch((err: unknown) => {
      // A failed check (a dropped connection) must not stick: the next run() checks again.
      this.#started = undefined;
      throw err;
    });
    await this.#started;
    this.#loops ??= this.#processes.map((p) => this.#launch(p));
  }

  /**
   * Stored runs in a status this graph lacks were written by another definition under the same
   * name. Runs of an older version are checked against the enum of their upgrade; runs of a newer
   * one are not this definition's to judge.
   */
  async #checkStoredRuns(): Promise<void> {
    const { graph, recordStore, version, upgrades } = this.#ctx;
    // One hand-edited row must not keep the workflow from starting: its own events are skipped one
    // by one, and this check is only a safety net, made with the runs that can be read.
    let recent: RunRecord[];
    try {
      const listed = await readableRows(recordStore.list({ workflowName: this.name, order: "desc", limit: 100 }));
      recent = listed.rows;
      for (const { id, error } of listed.malformed) {
        this.#ctx.logger.error(`run ${id} is malformed and was left out of the check for another workflow sharing the name "${this.name}": ${errorText(error)}`, { runId: id, err: error });
      }
    } catch (err) {
      // A store that fails the whole listing for one row.
      if (!hasErrorCode(err, "MALFORMED_RECORD")) throw err;
      this.#ctx.logger.error(`the check for another workflow sharing the name "${this.name}" was skipped: ${errorText(err)}`, { err });
      return;
    }
    const isForeign = (r: RunRecord): boolean => {
      const written = r.meta.workflowVersion;
      if (written === version) return !graph.has(r.status);
      return written < version && upgrades.get(written)?.names.has(r.status) !== true;
    };
    const foreign = recent.find(isForeign);
    if (foreign) throw new WorkflowConflictError(this.name, foreign.status, foreign.runId);
  }

  #launch<Item>(process: ProcessSpec<Item>): Promise<void> {
    const metrics = this.#ctx.metrics?.process(this.name, process.name);
    const deps = {
      roleScheduler: this.#ctx.roleScheduler,
      clock: this.#ctx.clock,
      random: this.#random,
      logger: this.#ctx.logger,
      debug: this.#ctx.debug,
      setState: (name: string, state: ProcessState) => {
        this.#states.set(name, state);
        metrics?.state(state);
      },
      metrics,
    };
    return runProcess(process, deps, this.#stop.signal);
  }

  /** Stops every process and resolves once all have ended; the event in hand finishes or stays un-acked. */
  stop(): Promise<void> {
    this.#stopped ??= (async () => {
      this.#stop.abort();
      await Promise.allSettled(this.#loops ?? []);
      this.#untrack?.();
    })();
    return this.#stopped;
  }

  /**
   * Starts a run for `foreignId` and returns its run id. A workflow built with a schema
   * (`Builder.withSchema`) validates `initialValue` first and stores the schema's output; a value
   * it refuses is an InvalidObjectError carrying the schema's issues, and no run is made.
   */
  trigger(foreignId: string, ...[options]: TriggerArgs<T, S>): Promise<string> {
    return this.#trigger(foreignId, options ?? {}, true);
  }

  /** `forCaller`: the trigger's span continues the caller's active context (see SpanStart.forCaller). */
  async #trigger(foreignId: string, options: TriggerOptions<T, S>, forCaller: boolean): Promise<string> {
    if (!this.#loops || this.#stop.signal.aborted) throw new WorkflowNotRunningError(this.name, "trigger");
    checkStorableText("foreign id", foreignId);
    const { graph, clock, debug, tracer, schema } = this.#ctx;
    // A call site costs a stack capture, several times the rest of a trigger: taken only when
    // debugging, and before the first await, after which the caller is no longer on the stack.
    const traceOrigin = debug ? callerOf(this.trigger) : "";
    const startAt = options.startAt ?? (graph.start as number);
    if (!graph.has(startAt)) throw new InvalidStatusError(startAt, `workflow "${this.name}" has no such status to start at`);
    // A run started in a terminal status would never complete and would block its foreign id.
    if (graph.isTerminal(startAt)) throw new InvalidStatusError(startAt, `${graph.statusName(startAt)} is terminal: a run cannot start there`);
    const initialValue = options.initialValue ?? ({} as T);
    const object =
      schema === undefined
        ? initialValue
        : await validate(schema, initialValue, (issues) => new InvalidObjectError(foreignId, "", issues, `the initialValue of foreign id "${foreignId}"`));
    const now = clock.now();
    const runId = randomUUID();
    const fields: RecordFields = {
      workflowName: this.name,
      foreignId,
      runId,
      runState: RunState.Initiated,
      status: startAt,
      createdAt: now,
      updatedAt: now,
      meta: { runStateReason: "", statusDescription: graph.statusName(startAt), version: 1, workflowVersion: this.#ctx.version, traceOrigin },
    };
    const record = recordWith(this.#ctx, fields, object);
    if (tracer === undefined) await this.#ctx.write(record);
    else await tracer.inSpan(spanStart(this.#ctx, "trigger", record, undefined, forCaller), (trace) => this.#ctx.write(carryTrace(record, trace)));
    return runId;
  }

  /**
   * Resolves with the run once it reaches `status`, including when it got there before the call.
   * Rejects with StatusNotReachedError when `status` is terminal and the run finished without
   * reaching it (cancelled, or completed in another terminal status), RecordNotFoundError for an
   * unknown run, AwaitTimeoutError after `timeoutMs` (wall-clock time), or the signal's reason when
   * it aborts.
   */
  async await(foreignId: string, runId: string, status: S, options?: AwaitOptions): Promise<Run<T, S>> {
    if (this.#stop.signal.aborted) throw new WorkflowNotRunningError(this.name, "await");
    return makeRun(await this.#watcher.await(foreignId, runId, status, options));
  }

  /**
   * Runs the callbacks of `status` for the latest run of `foreignId` if it is waiting there, and
   * resolves with `{ handled, run }`: `handled` is false (nothing changed) when the run was not in
   * `status`; `run` is the run after the call. A callback's error, such as a rejected payload, is
   * thrown here; a foreign id without runs is a RecordNotFoundError naming it. A run of an older
   * version of the workflow is upgraded (and stored) first; one a newer version wrote is refused,
   * untouched, with NewerWorkflowVersionError: call a process of that version.
   */
  callback(foreignId: string, status: S, payload: unknown): Promise<CallbackResult<T, S>> {
    return runCallbacks<T, S>(this.#ctx, this.#callbacks, foreignId, status, payload, this.#stop.signal);
  }

  /**
   * The run, decoded with the workflow's codec; RecordNotFoundError when there is none of this
   * workflow. A run of an older version reads in this version's shape (it is not rewritten); one of
   * a newer version is a NewerWorkflowVersionError. `latest`, `list` and `await` read runs alike.
   */
  async get(runId: string): Promise<Run<T, S>> {
    const record = await this.#ctx.recordStore.lookup(runId);
    if (record.workflowName !== this.name) throw new RecordNotFoundError(runId);
    return decodeRun<T, S>(this.#ctx, record);
  }

  /** The latest run of the foreign id; RecordNotFoundError naming it when there is none. */
  async latest(foreignId: string): Promise<Run<T, S>> {
    try {
      return decodeRun<T, S>(this.#ctx, await this.#ctx.recordStore.latest(this.name, foreignId));
    } catch (err) {
      if (hasErrorCode(err, "RECORD_NOT_FOUND")) throw RecordNotFoundError.forForeignId(this.name, foreignId, { cause: err });
      throw err;
    }
  }

  /** A page of this workflow's runs, newest first, with the filters given; pass `nextCursor` back for the next page. */
  list(options: ListOptions<S> = {}): Promise<RunPage<T, S>> {
    return listRuns<T, S>(this.#ctx, options);
  }

  /**
   * Triggers a run of `foreignId` at every slot of a cron spec (5 fields, or 6 with seconds first),
   * skipping a slot while a run is in progress or when `filter` says no. Resolves once registered;
   * the schedule runs until `stop()`. A malformed spec throws InvalidScheduleError.
   */
  async schedule(foreignId: string, spec: string, options: ScheduleOptions<T> = {}): Promise<void> {
    if (this.#stop.signal.aborted) throw new WorkflowNotRunningError(this.name, "schedule");
    const process = scheduleProcess(this.#ctx, foreignId, spec, options, (id, initialValue) => this.#trigger(id, { initialValue }, false));
    if (this.#states.has(process.name)) throw new InvalidScheduleError(spec, { cause: new Error(`"${foreignId}" is already scheduled on it`) });
    this.#states.set(process.name, ProcessState.Unknown);
    this.#processes.push(process as ProcessSpec<never>);
    this.#loops?.push(this.#launch(process));
  }

  /** The graph as Mermaid `stateDiagram-v2` text. */
  diagram(direction?: MermaidDirection): string {
    return mermaid(this.#ctx.graph, direction);
  }

  /**
   * Pauses a run: its steps, callbacks and timeouts leave it alone until it is resumed. Pausing,
   * resuming, cancelling and deleting change only the run state, so they work on runs of any
   * version of the workflow, as `runControl` without a workflow does.
   */
  async pause(runId: string, reason: string): Promise<void> {
    await this.#control.pause(runId, reason);
  }

  /** Resumes a paused run where it stopped. */
  async resume(runId: string): Promise<void> {
    await this.#control.resume(runId);
  }

  /** Cancels a run that has not finished (also one whose stored row is malformed). */
  async cancel(runId: string, reason: string): Promise<void> {
    await this.#control.cancel(runId, reason);
  }

  /** Asks for a finished run's object to be deleted; the delete process does it. */
  async deleteData(runId: string, reason: string): Promise<void> {
    await this.#control.deleteData(runId, reason);
  }

  /** The state of every process, by process name. */
  states(): { [processName: string]: ProcessState } {
    return Object.fromEntries(this.#states);
  }

}

/** Where the run was triggered from: the file, line and function of whoever called `fn`. */
function callerOf(fn: (...args: never[]) => unknown): string {
  const holder: { stack?: unknown } = {};
  const { prepareStackTrace, stackTraceLimit } = Error;
  // Ask V8 for the raw call site: formatting a whole stack (through source maps, when enabled)
  // would cost more than the rest of a trigger.
  Error.prepareStackTrace = (_, callSites) => callSites;
  Error.stackTraceLimit = 1;
  try {
    Error.captureStackTrace(holder, fn);
    const [site] = holder.stack as NodeJS.CallSite[];
    if (!site) return "";
    const where = `${site.getFileName() ?? "<anonymous>"}:${site.getLineNumber() ?? 0}:${site.getColumnNumber() ?? 0}`;
    const name = site.getFunctionName();
    return name ? `${name} (${where})` : where;
  } finally {
    Error.prepareStackTrace = prepareStackTrace;
    Error.stackTraceLimit = stackTraceLimit;
  }
}

/** `lookup` for a store that keeps records: the stored data shared, no bytes made. */
function keptLookup(readKept: (runId: string) => RunRecord | undefined): (runId: string) => Promise<RunRecord> {
  return async (runId) => {
    const record = readKept(runId);
    if (record === undefined) throw new RecordNotFoundError(runId);
    return record;
  };
}

/** Timeouts grouped by the status they watch, in the order added: each status gets one inserter and one poller. */
function timeoutsByStatus<T>(timeouts: readonly TimeoutDefinition<T>[]): [number, TimeoutDefinition<T>[]][] {
  const byStatus = new Map<number, TimeoutDefinition<T>[]>();
  for (const timeout of timeouts) byStatus.set(timeout.from, [...(byStatus.get(timeout.from) ?? []), timeout]);
  return [...byStatus];
}

function logWritten(logger: Logger, graph: Graph, record: RunRecord): void {
  logger.debug("run written", {
    runId: record.runId,
    status: graph.statusName(record.status),
    runState: runStateName(record.runState),
    version: record.meta.version,
  });
}
