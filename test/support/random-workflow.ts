import fc from "fast-check";
import { Builder, durationTimer, RunState, type BuildConfig, type Workflow } from "stepwise";
import { modelAllows, modelIsFinished, modelIsStopped } from "./runstate-model.js";

/**
 * How a non-terminal status is consumed. `step` moves on at once; `pauseFirst` pauses the run on
 * its first visit (a resume runs the step again, which then moves on); `repeatFirst` saves and
 * repeats once before moving on; `callback` waits for `wf.callback`; `failing` is a step that
 * throws on its first {@link failuresOf} calls for a run, then moves on; `timeout` moves on once
 * the run has been in the status for `timeoutMs` on the workflow's clock.
 */
export type ConsumerKind = "step" | "pauseFirst" | "repeatFirst" | "callback" | "failing" | "timeout";

/**
 * A random workflow on statuses 1..n: status 1 is the start; every destination is a higher status,
 * so each run ends; a status without a consumer is terminal.
 */
export interface Shape {
  size: number;
  consumers: { [from: number]: { kind: ConsumerKind; to: number[]; timeoutMs?: number } };
  /** The failing steps' `pauseAfterErrCount`: 0 (the default) retries forever. */
  pauseAfterErrCount?: number;
  /** Paused runs are resumed after this long (`pauseRetry.resumeAfter`); undefined turns pause retry off. */
  resumeAfterMs?: number;
}

/** Shapes whose consumers are of the kinds `kinds` gives. */
function shapesOf(kinds: fc.Arbitrary<ConsumerKind>): fc.Arbitrary<Shape> {
  return fc.integer({ min: 2, max: 6 }).chain((size) => {
    const consumer = (from: number) =>
      fc
        .record({
          kind: kinds,
          to: fc.uniqueArray(fc.integer({ min: from + 1, max: size }), { minLength: 1, maxLength: 3 }),
          // Often longer than a move of the clock, so runs wait in the status across actions.
          timeoutMs: fc.integer({ min: 1, max: 100 }),
        })
        .map(({ timeoutMs, ...c }) => (c.kind === "timeout" ? { ...c, timeoutMs } : c));
    const froms = Array.from({ length: size - 1 }, (_, i) => i + 1);
    // The start always has a consumer; the others have one or are terminal.
    return fc
      .tuple(...froms.map((from) => (from === 1 ? consumer(from) : fc.option(consumer(from), { nil: undefined }))))
      .map((list) => {
        const consumers: Shape["consumers"] = {};
        for (const [i, c] of list.entries()) if (c) consumers[i + 1] = c;
        return { size, consumers };
      });
  });
}

export const shapes: fc.Arbitrary<Shape> = shapesOf(fc.constantFrom<ConsumerKind>("step", "pauseFirst", "repeatFirst", "callback"));

/**
 * Shapes with failing steps and timeouts too, a small `pauseAfterErrCount`, and pause retry in
 * those without timeouts. Not both: a paused run whose timeout is due and whose automatic resume
 * is due at the same clock advance is resumed and fired in either order, which no model can tell.
 */
export const timedShapes: fc.Arbitrary<Shape> = shapesOf(
  // Mostly the kinds that wait for the clock, so that most scenarios have runs waiting on it.
  fc.oneof(
    { weight: 1, arbitrary: fc.constantFrom<ConsumerKind>("step", "pauseFirst", "repeatFirst", "callback") },
    { weight: 2, arbitrary: fc.constantFrom<ConsumerKind>("failing", "timeout") },
  ),
).chain((shape) => {
  const hasTimeouts = Object.values(shape.consumers).some((c) => c.kind === "timeout");
  return fc
    .record({
      pauseAfterErrCount: fc.integer({ min: 0, max: 3 }),
      resumeAfterMs: hasTimeouts ? fc.constant(undefined) : fc.option(fc.integer({ min: 5, max: 60 }), { nil: undefined }),
    })
    .map((timing) => ({ ...shape, ...timing }));
});

/** How long a failing step backs off after an error. */
export const errBackOffMs = 10;

/** How many times a failing step throws for a run before it moves on: 0 to 3, by the run's seed. */
export function failuresOf(seed: number, from: number): number {
  return (seed + 3 * from) % 4;
}

/** The run-state hooks {@link buildShape} adds, each counting its calls per run, run state and version. */
export const hookedRunStates = [RunState.Paused, RunState.Cancelled, RunState.Completed] as const;

/** The key a hook call is counted under. */
export function hookKey(runId: string, runState: RunState, version: number): string {
  return `${runId}:${RunState[runState]}:v${version}`;
}

/**
 * What a run carries: `seed` picks each step's destination; `visits` counts the step calls per
 * status that were stored; `effects` lists, in order, the statuses a step or callback moved the run
 * out of. A transition applied twice shows as a repeat in `effects`.
 */
export type Trail = { seed: number; visits: { [status: string]: number }; effects: number[] };

/** Which destination a step or callback picks: the same in the engine and in the model. */
export function pick(to: readonly number[], seed: number, from: number): number {
  return to[(seed + from) % to.length] as number;
}

/**
 * Builds the shape; `calls` counts step, callback and timeout calls per `runId:status` (a failing
 * call too), and `hookCalls`, where given, the hooks' calls by {@link hookKey}.
 */
export function buildShape(
  shape: Shape,
  name: string,
  // The shape says whether paused runs are retried.
  config: Omit<BuildConfig<Trail>, "pauseRetry">,
  calls: Map<string, number>,
  hookCalls?: Map<string, number>,
): Workflow<Trail, number> {
  const b = new Builder<Trail, number>(name);
  const count = (runId: string, status: number) => bump(calls, `${runId}:${status}`);
  for (const [key, { kind, to, timeoutMs = 0 }] of Object.entries(shape.consumers)) {
    const from = Number(key);
    const destinations = to as [number, ...number[]];
    if (kind === "timeout") {
      b.addTimeout(
        from,
        durationTimer(timeoutMs),
        async (run) => {
          count(run.runId, from);
          run.object.effects.push(from);
          return pick(to, run.object.seed, from);
        },
        ...destinations,
      ).withOptions({ pollingFrequency: 1 });
      continue;
    }
    if (kind === "failing") {
      b.addStep(
        from,
        async (run) => {
          const call = count(run.runId, from);
          if (call <= failuresOf(run.object.seed, from)) throw new Error(`scheduled failure ${call} of run ${run.runId} in ${from}`);
          run.object.effects.push(from);
          return pick(to, run.object.seed, from);
        },
        ...destinations,
      ).withOptions({ errBackOff: errBackOffMs, pauseAfterErrCount: shape.pauseAfterErrCount ?? 0 });
      continue;
    }
    if (kind === "callback") {
      b.addCallback(
        from,
        async (run, payload) => {
          count(run.runId, from);
          run.object.effects.push(from);
          return pick(to, Number(payload), from);
        },
        ...destinations,
      );
      continue;
    }
    b.addStep(
      from,
      async (run) => {
        count(run.runId, from);
        const visits = (run.object.visits[from] ?? 0) + 1;
        run.object.visits[from] = visits;
        if (kind === "pauseFirst" && visits === 1) return run.pause("first visit");
        if (kind === "repeatFirst" && visits === 1) return run.saveAndRepeat();
        run.object.effects.push(from);
        return pick(to, run.object.seed, from);
      },
      ...destinations,
    );
  }
  if (hookCalls) {
    const counting = async (record: { runId: string; runState: RunState; meta: { version: number } }) =>
      void bump(hookCalls, hookKey(record.runId, record.runState, record.meta.version));
    b.onPause(counting);
    b.onCancel(counting);
    b.onComplete(counting);
  }
  const pauseRetry = shape.resumeAfterMs === undefined ? false : { resumeAfter: shape.resumeAfterMs };
  return b.build({ ...config, pauseRetry });
}

/** One generated action; runs and foreign ids are picked by index, modulo what exists. */
export type Action =
  | { kind: "trigger"; foreignId: number; seed: number }
  | { kind: "callback"; foreignId: number; status: number; payload: number }
  | { kind: "pause" | "resume" | "cancel" | "deleteData"; run: number }
  | { kind: "rebuild" }
  | { kind: "advance"; ms: number };

/** An action that calls the workflow: neither a restart nor a move of the clock. */
export type CallAction = Exclude<Action, { kind: "rebuild" | "advance" }>;

/** One action other than a restart. */
export const action: fc.Arbitrary<CallAction> = fc.oneof(
  { weight: 3, arbitrary: fc.record({ kind: fc.constant("trigger" as const), foreignId: fc.nat(2), seed: fc.nat(11) }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant("callback" as const), foreignId: fc.nat(2), status: fc.nat(5), payload: fc.nat(11) }) },
  { weight: 4, arbitrary: fc.record({ kind: fc.constantFrom("pause" as const, "resume" as const, "cancel" as const, "deleteData" as const), run: fc.nat(8) }) },
);

export const actions: fc.Arbitrary<Action[]> = fc.array(
  fc.oneof({ weight: 10, arbitrary: action }, { weight: 1, arbitrary: fc.constant({ kind: "rebuild" as const }) }),
  { minLength: 1, maxLength: 14 },
);

/** {@link actions} with moves of the workflow's clock by random amounts among them. */
export const timedActions: fc.Arbitrary<Action[]> = fc.array(
  fc.oneof(
    { weight: 10, arbitrary: action },
    { weight: 1, arbitrary: fc.constant({ kind: "rebuild" as const }) },
    { weight: 6, arbitrary: fc.record({ kind: fc.constant("advance" as const), ms: fc.integer({ min: 1, max: 40 }) }) },
  ),
  { minLength: 1, maxLength: 20 },
);

/** The model's view of one run. */
export interface ModelRun {
  runId: string;
  foreignId: string;
  status: number;
  runState: RunState;
  /** How many versions the store must hold: one per write. */
  writes: number;
  visits: Map<number, number>;
  /** Step, callback and timeout calls per status, failed ones included. */
  calls: Map<number, number>;
  seed: number;
  /** A failing step's errors in a row in the running process. */
  errors: number;
  /** When a failing step that threw is tried again, and the run's writes when it threw. */
  retry?: { atMs: number; writes: number };
  /** When the timeouts made for the run in its status expire. */
  timeouts: number[];
  /** When the run was last paused. */
  pausedAtMs: number;
  /** The hook calls the run's writes call for, by {@link hookKey}. */
  hooks: string[];
}

/** What the model expects of an action: the change it makes, or the error the call throws. */
export type Expected = { error?: "WORKFLOW_IN_PROGRESS" | "INVALID_TRANSITION" | "RECORD_NOT_FOUND"; handled?: boolean };

/**
 * SPEC §2–§4 for the shape: what each action does to the runs, with every step run to quiescence.
 * Time is the workflow's clock, moved only by {@link Model.advance}: a process that sleeps on it
 * (a step backing off, the timeout poller, pause retry) wakes at the first advance past its time,
 * and then acts at the clock's new time.
 */
export class Model {
  readonly runs: ModelRun[] = [];
  /** The clock, in ms since the scenario started. */
  nowMs = 0;
  constructor(readonly shape: Shape) {}

  latest(foreignId: string): ModelRun | undefined {
    return this.runs.findLast((r) => r.foreignId === foreignId);
  }

  trigger(foreignId: string, runId: string, seed: number): void {
    const run: ModelRun = {
      runId,
      foreignId,
      status: 1,
      runState: RunState.Initiated,
      writes: 1,
      visits: new Map(),
      calls: new Map(),
      seed,
      errors: 0,
      timeouts: [],
      pausedAtMs: 0,
      hooks: [],
    };
    this.runs.push(run);
    this.#entered(run);
    this.settle(run);
  }

  /** Whether trigger must refuse: the foreign id's latest run has not finished. */
  refusesTrigger(foreignId: string): boolean {
    const latest = this.latest(foreignId);
    return latest !== undefined && !modelIsFinished(latest.runState);
  }

  /** Whether `wf.callback` changes the latest run; undefined when the foreign id has no run. */
  callback(foreignId: string, status: number, payload: number): boolean | undefined {
    const run = this.latest(foreignId);
    if (!run) return undefined;
    if (run.status !== status || modelIsStopped(run.runState) || modelIsFinished(run.runState)) return false;
    const to = this.shape.consumers[status]?.to ?? [];
    bump(run.calls, status);
    this.move(run, pick(to, payload, status));
    this.settle(run);
    return true;
  }

  /** Whether the control is allowed; if so the run changes as the engine must change it. */
  control(run: ModelRun, to: RunState): boolean {
    if (!modelAllows(run.runState, to)) return false;
    this.#write(run, to);
    // A resume is written in the status: its event comes to the status's consumers again.
    if (to === RunState.Running) this.#entered(run);
    this.settle(run);
    return true;
  }

  /**
   * Moves the clock: a failing step whose back-off is over is tried again (after a skip that
   * clears its error count when the run was written meanwhile), a paused run is resumed once
   * paused for `resumeAfterMs`, and a running run's due timeout fires.
   */
  advance(ms: number): void {
    this.nowMs += ms;
    for (const run of this.runs) {
      if (run.retry && run.retry.atMs <= this.nowMs) {
        if (run.retry.writes !== run.writes) run.errors = 0;
        run.retry = undefined;
        this.settle(run);
      }
      const { resumeAfterMs } = this.shape;
      if (resumeAfterMs !== undefined && run.runState === RunState.Paused && run.pausedAtMs + resumeAfterMs <= this.nowMs) {
        this.control(run, RunState.Running);
      }
      this.#fireDueTimeouts(run);
    }
  }

  /**
   * A restart: error counts are forgotten, a step backing off is tried again at once (its event
   * was never acked), and the new timeout poller fires what is due at once.
   */
  rebuild(): void {
    for (const run of this.runs) {
      run.errors = 0;
      if (run.retry) {
        run.retry = undefined;
        this.settle(run);
      }
      this.#fireDueTimeouts(run);
    }
  }

  /** How long until the next thing the clock would set off; undefined when nothing waits for it. */
  nextDueInMs(): number | undefined {
    let dueMs = Infinity;
    for (const run of this.runs) {
      if (run.retry) dueMs = Math.min(dueMs, run.retry.atMs);
      if (this.shape.resumeAfterMs !== undefined && run.runState === RunState.Paused) dueMs = Math.min(dueMs, run.pausedAtMs + this.shape.resumeAfterMs);
      if (this.#waitsForTimeout(run)) dueMs = Math.min(dueMs, ...run.timeouts);
    }
    return dueMs === Infinity ? undefined : Math.max(1, dueMs - this.nowMs);
  }

  #isTerminal(status: number): boolean {
    return this.shape.consumers[status] === undefined;
  }

  move(run: ModelRun, to: number): void {
    run.status = to;
    run.timeouts = [];
    this.#write(run, this.#isTerminal(to) ? RunState.Completed : RunState.Running);
    this.#entered(run);
  }

  /** Runs steps until the run waits: for a callback, a timeout or a back-off, paused, or finished; a delete request is carried out. */
  settle(run: ModelRun): void {
    for (;;) {
      if (run.runState === RunState.RequestedDataDeleted) {
        this.#write(run, RunState.DataDeleted);
        return;
      }
      const consumer = this.shape.consumers[run.status];
      if (!consumer || consumer.kind === "callback" || consumer.kind === "timeout" || modelIsStopped(run.runState) || modelIsFinished(run.runState)) return;
      // Its event waits behind the one backing off.
      if (run.retry) return;
      const calls = bump(run.calls, run.status);
      if (consumer.kind === "failing" && calls <= failuresOf(run.seed, run.status)) {
        run.errors++;
        const limit = this.shape.pauseAfterErrCount ?? 0;
        if (limit > 0 && run.errors >= limit) {
          run.errors = 0;
          this.#write(run, RunState.Paused);
        } else {
          run.retry = { atMs: this.nowMs + errBackOffMs, writes: run.writes };
        }
        return;
      }
      run.errors = 0;
      const visits = bump(run.visits, run.status);
      if (consumer.kind === "pauseFirst" && visits === 1) {
        this.#write(run, RunState.Paused);
        return;
      }
      if (consumer.kind === "repeatFirst" && visits === 1) {
        this.#write(run, RunState.Running);
        continue;
      }
      this.move(run, pick(consumer.to, run.seed, run.status));
    }
  }

  /** Stores a new version of the run in `runState`, and expects its hook if one follows it. */
  #write(run: ModelRun, runState: RunState): void {
    run.runState = runState;
    run.writes++;
    if (runState === RunState.Paused) run.pausedAtMs = this.nowMs;
    if ((hookedRunStates as readonly RunState[]).includes(runState)) run.hooks.push(hookKey(run.runId, runState, run.writes));
  }

  /** The run's status event: the auto-inserter makes the status's timeout unless the run is stopped by then. */
  #entered(run: ModelRun): void {
    if (this.#waitsForTimeout(run)) run.timeouts.push(this.nowMs + (this.shape.consumers[run.status]?.timeoutMs ?? 0));
  }

  #waitsForTimeout(run: ModelRun): boolean {
    return this.shape.consumers[run.status]?.kind === "timeout" && !modelIsStopped(run.runState) && !modelIsFinished(run.runState);
  }

  #fireDueTimeouts(run: ModelRun): void {
    if (!this.#waitsForTimeout(run) || !run.timeouts.some((atMs) => atMs <= this.nowMs)) return;
    const consumer = this.shape.consumers[run.status]!;
    bump(run.calls, run.status);
    this.move(run, pick(consumer.to, run.seed, run.status));
    this.settle(run);
  }
}

function bump<K>(counts: Map<K, number>, key: K): number {
  const n = (counts.get(key) ?? 0) + 1;
  counts.set(key, n);
  return n;
}
