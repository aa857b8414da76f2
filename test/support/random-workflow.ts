import fc from "fast-check";
import { Builder, RunState, type BuildConfig, type Workflow } from "stepwise";
import { modelAllows, modelIsFinished, modelIsStopped } from "./runstate-model.js";

/**
 * How a non-terminal status is consumed. `step` moves on at once; `pauseFirst` pauses the run on
 * its first visit (a resume runs the step again, which then moves on); `repeatFirst` saves and
 * repeats once before moving on; `callback` waits for `wf.callback`.
 */
export type ConsumerKind = "step" | "pauseFirst" | "repeatFirst" | "callback";

/**
 * A random workflow on statuses 1..n: status 1 is the start; every destination is a higher status,
 * so each run ends; a status without a consumer is terminal.
 */
export interface Shape {
  size: number;
  consumers: { [from: number]: { kind: ConsumerKind; to: number[] } };
}

export const shapes: fc.Arbitrary<Shape> = fc.integer({ min: 2, max: 6 }).chain((size) => {
  const consumer = (from: number) =>
    fc.record({
      kind: fc.constantFrom<ConsumerKind>("step", "pauseFirst", "repeatFirst", "callback"),
      to: fc.uniqueArray(fc.integer({ min: from + 1, max: size }), { minLength: 1, maxLength: 3 }),
    });
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

/** Builds the shape; `calls` counts step and callback calls per `runId:status`. */
export function buildShape(shape: Shape, name: string, config: BuildConfig<Trail>, calls: Map<string, number>): Workflow<Trail, number> {
  const b = new Builder<Trail, number>(name);
  const count = (runId: string, status: number) => calls.set(`${runId}:${status}`, (calls.get(`${runId}:${status}`) ?? 0) + 1);
  for (const [key, { kind, to }] of Object.entries(shape.consumers)) {
    const from = Number(key);
    const destinations = to as [number, ...number[]];
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
  return b.build(config);
}

/** One generated action; runs and foreign ids are picked by index, modulo what exists. */
export type Action =
  | { kind: "trigger"; foreignId: number; seed: number }
  | { kind: "callback"; foreignId: number; status: number; payload: number }
  | { kind: "pause" | "resume" | "cancel" | "deleteData"; run: number }
  | { kind: "rebuild" };

/** One action other than a restart. */
export const action: fc.Arbitrary<Exclude<Action, { kind: "rebuild" }>> = fc.oneof(
  { weight: 3, arbitrary: fc.record({ kind: fc.constant("trigger" as const), foreignId: fc.nat(2), seed: fc.nat(11) }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant("callback" as const), foreignId: fc.nat(2), status: fc.nat(5), payload: fc.nat(11) }) },
  { weight: 4, arbitrary: fc.record({ kind: fc.constantFrom("pause" as const, "resume" as const, "cancel" as const, "deleteData" as const), run: fc.nat(8) }) },
);

export const actions: fc.Arbitrary<Action[]> = fc.array(
  fc.oneof({ weight: 10, arbitrary: action }, { weight: 1, arbitrary: fc.constant({ kind: "rebuild" as const }) }),
  { minLength: 1, maxLength: 14 },
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
  /** Step and callback calls per status. */
  calls: Map<number, number>;
  seed: number;
}

/** What the model expects of an action: the change it makes, or the error the call throws. */
export type Expected = { error?: "WORKFLOW_IN_PROGRESS" | "INVALID_TRANSITION" | "RECORD_NOT_FOUND"; handled?: boolean };

/** SPEC §2–§4 for the shape: what each action does to the runs, with every step run to quiescence. */
export class Model {
  readonly runs: ModelRun[] = [];
  constructor(readonly shape: Shape) {}

  latest(foreignId: string): ModelRun | undefined {
    return this.runs.findLast((r) => r.foreignId === foreignId);
  }

  trigger(foreignId: string, runId: string, seed: number): void {
    const run: ModelRun = { runId, foreignId, status: 1, runState: RunState.Initiated, writes: 1, visits: new Map(), calls: new Map(), seed };
    this.runs.push(run);
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
    run.runState = to;
    run.writes++;
    this.settle(run);
    return true;
  }

  #isTerminal(status: number): boolean {
    return this.shape.consumers[status] === undefined;
  }

  move(run: ModelRun, to: number): void {
    run.status = to;
    run.runState = this.#isTerminal(to) ? RunState.Completed : RunState.Running;
    run.writes++;
  }

  /** Runs steps until the run waits: for a callback, paused, or finished; a delete request is carried out. */
  settle(run: ModelRun): void {
    for (;;) {
      if (run.runState === RunState.RequestedDataDeleted) {
        run.runState = RunState.DataDeleted;
        run.writes++;
        return;
      }
      const consumer = this.shape.consumers[run.status];
      if (!consumer || consumer.kind === "callback" || modelIsStopped(run.runState) || modelIsFinished(run.runState)) return;
      bump(run.calls, run.status);
      const visits = bump(run.visits, run.status);
      if (consumer.kind === "pauseFirst" && visits === 1) {
        run.runState = RunState.Paused;
        run.writes++;
        return;
      }
      if (consumer.kind === "repeatFirst" && visits === 1) {
        run.runState = RunState.Running;
        run.writes++;
        continue;
      }
      this.move(run, pick(consumer.to, run.seed, run.status));
    }
  }
}

function bump(counts: Map<number, number>, key: number): number {
  const n = (counts.get(key) ?? 0) + 1;
  counts.set(key, n);
  return n;
}
