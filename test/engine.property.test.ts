import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { setImmediate as nextTurn } from "node:timers/promises";
import fc from "fast-check";
import { hasErrorCode, RunState, type BuildConfig, type Record, type Workflow } from "stepwise";
import { memory } from "stepwise/memory";
import { sqlite } from "stepwise/sqlite";
import { FakeClock } from "stepwise/testing";
import { quietLogger } from "./support/logger.js";
import { propertyParameters } from "./support/properties.js";
import {
  action,
  actions,
  buildShape,
  Model,
  shapes,
  timedActions,
  timedShapes,
  type Action,
  type CallAction,
  type ModelRun,
  type Shape,
  type Trail,
} from "./support/random-workflow.js";
import { modelIsFinished } from "./support/runstate-model.js";
import { until } from "./support/until.js";

/** Where each scenario's FakeClock starts; the model counts time from here. */
const startMs = Date.parse("2026-01-01T00:00:00Z");

/** The adapters a scenario runs on; `snapshots` where the store keeps every version. */
interface Backend {
  adapters: BuildConfig<Trail>;
  snapshots?: (runId: string) => Record[];
}

/** What the workflow's functions were called with: step, callback and timeout calls, and hook calls. */
interface Observed {
  calls: Map<string, number>;
  hookCalls: Map<string, number>;
}

/**
 * Plays `list` against a workflow of `shape` and against the model, one action at a time: after
 * each, waits until every run is where the model says (same status, run state and version, the
 * same calls and hook calls, the same timeouts waiting) and fails at once if the store holds a
 * version the model has no write for. A refused action must throw exactly the error the model
 * names. With `drain`, then moves the clock on until nothing waits for it. At the end checks each
 * run's stored history.
 */
async function playScenario(shape: Shape, list: readonly Action[], backend: Backend, drain = false): Promise<void> {
  const clock = new FakeClock(new Date(startMs));
  const observed: Observed = { calls: new Map(), hookCalls: new Map() };
  // Quiet: failing steps log each scheduled failure.
  const build = () => buildShape(shape, "random-workflow", { ...backend.adapters, clock, logger: quietLogger }, observed.calls, observed.hookCalls);
  const model = new Model(shape);
  const callbackStatuses = Object.entries(shape.consumers).filter(([, c]) => c.kind === "callback").map(([from]) => Number(from));
  let wf: Workflow<Trail, number> = build();
  await wf.run();
  try {
    for (const [i, action] of list.entries()) {
      const where = `action ${i} ${JSON.stringify(action)}`;
      if (action.kind === "rebuild") {
        // A restart: the stores keep everything, and a new build carries on from there.
        await wf.stop();
        wf = build();
        model.rebuild();
        await wf.run();
      } else if (action.kind === "advance") {
        clock.advance(action.ms);
        model.advance(action.ms);
      } else {
        await play(wf, model, action, callbackStatuses, shape, where);
      }
      await quiescence(model, backend, observed, where);
    }
    for (let dueInMs = model.nextDueInMs(), moves = 0; drain && dueInMs !== undefined; dueInMs = model.nextDueInMs(), moves++) {
      assert.ok(moves < 100, "the clock was moved 100 times and the runs still wait for it");
      clock.advance(dueInMs);
      model.advance(dueInMs);
      await quiescence(model, backend, observed, `draining: the clock moved by ${dueInMs} ms`);
    }
  } finally {
    await wf.stop();
  }
  for (const run of model.runs) checkRun(run, shape, observed, backend);
}

/** Plays one action other than a rebuild on the workflow and on the model. */
async function play(
  wf: Workflow<Trail, number>,
  model: Model,
  action: CallAction,
  callbackStatuses: readonly number[],
  shape: Shape,
  where: string,
): Promise<void> {
  switch (action.kind) {
    case "trigger": {
      const foreignId = `f${action.foreignId}`;
      const initialValue: Trail = { seed: action.seed, visits: {}, effects: [] };
      if (model.refusesTrigger(foreignId)) {
        await assert.rejects(wf.trigger(foreignId, { initialValue }), errorCoded("WORKFLOW_IN_PROGRESS"), where);
        return;
      }
      model.trigger(foreignId, await wf.trigger(foreignId, { initialValue }), action.seed);
      return;
    }
    case "callback": {
      const foreignId = `f${action.foreignId}`;
      const statuses = callbackStatuses.length > 0 ? callbackStatuses : Array.from({ length: shape.size }, (_, i) => i + 1);
      const status = statuses[action.status % statuses.length] as number;
      if (!callbackStatuses.includes(status)) {
        await assert.rejects(wf.callback(foreignId, status, action.payload), errorCoded("INVALID_STATUS"), where);
        return;
      }
      const handled = model.callback(foreignId, status, action.payload);
      if (handled === undefined) {
        await assert.rejects(wf.callback(foreignId, status, action.payload), errorCoded("RECORD_NOT_FOUND"), where);
        return;
      }
      assert.equal((await wf.callback(foreignId, status, action.payload)).handled, handled, where);
      return;
    }
    default: {
      const run = model.runs[action.run % Math.max(1, model.runs.length)];
      if (!run) return;
      const to = { pause: RunState.Paused, resume: RunState.Running, cancel: RunState.Cancelled, deleteData: RunState.RequestedDataDeleted }[action.kind];
      const control = () => {
        if (action.kind === "pause") return wf.pause(run.runId, "by hand");
        if (action.kind === "resume") return wf.resume(run.runId);
        if (action.kind === "cancel") return wf.cancel(run.runId, "by hand");
        return wf.deleteData(run.runId, "by hand");
      };
      const before = RunState[run.runState];
      if (model.control(run, to)) await control();
      else await assert.rejects(control(), errorCoded("INVALID_TRANSITION"), `${where}: ${before} → ${RunState[to]} must be refused`);
    }
  }
}

function errorCoded(code: string): (err: unknown) => boolean {
  return (err) => {
    if (!hasErrorCode(err, code)) throw new assert.AssertionError({ message: `expected an error coded ${code}, got ${String(err)}` });
    return true;
  };
}

/**
 * Waits until every run is where the model says it settles, twice in a row two turns of the event
 * loop apart (a call counted may not have had its back-off set, nor a hook's event its ack, yet); a
 * version the model never wrote fails at once.
 */
async function quiescence(model: Model, backend: Backend, observed: Observed, where: string): Promise<void> {
  const { recordStore: store, timeoutStore } = backend.adapters;
  let differs = "";
  const matches = async (): Promise<boolean> => {
    const timeouts = (await timeoutStore?.list("random-workflow")) ?? [];
    for (const run of model.runs) {
      const record = await store.lookup(run.runId);
      if (record.meta.version > run.writes) {
        throw new assert.AssertionError({ message: `${where}: run ${run.runId} was written ${record.meta.version} times; the model has ${run.writes} writes (${describe(record)})` });
      }
      const label = `run ${run.foreignId}/${run.runId}`;
      if (record.meta.version !== run.writes || record.status !== run.status || record.runState !== run.runState) {
        differs = `${label} is ${describe(record)}, the model says status ${run.status} ${RunState[run.runState]} v${run.writes}`;
        return false;
      }
      const calls = [...run.calls].map(([status, n]) => `${status}:${n}`).join(" ");
      const seen = [...run.calls.keys()].map((status) => `${status}:${observed.calls.get(`${run.runId}:${status}`) ?? 0}`).join(" ");
      if (calls !== seen || callsOf(observed.calls, run.runId) !== run.calls.size) {
        differs = `${label} had calls ${seen}, the model says ${calls}`;
        return false;
      }
      const hooks = [...observed.hookCalls].filter(([key]) => key.startsWith(`${run.runId}:`)).map(([key, n]) => `${key}×${n}`);
      if (hooks.sort().join(" ") !== run.hooks.map((key) => `${key}×1`).sort().join(" ")) {
        differs = `${label} had hook calls [${hooks.join(" ")}], the model says [${run.hooks.join(" ")}] once each`;
        return false;
      }
      if (!isFinished(run) && shapeTimeout(model.shape, run.status)) {
        const waiting = timeouts.filter((t) => t.runId === run.runId && t.status === run.status).map((t) => t.expireAt.getTime() - startMs);
        if (waiting.join(",") !== [...run.timeouts].sort((a, b) => a - b).join(",")) {
          differs = `${label} has timeouts at [${waiting.join(",")}] ms, the model says [${run.timeouts.join(",")}]`;
          return false;
        }
      }
    }
    return true;
  };
  try {
    await until(
      `runs to settle after ${where}`,
      async () => {
        if (!(await matches())) return false;
        // Two turns of the event loop: the process that made the last call has set its back-off and acked by then.
        await nextTurn();
        await nextTurn();
        return matches();
      },
      3_000,
    );
  } catch (err) {
    if (err instanceof assert.AssertionError) throw err;
    throw new assert.AssertionError({ message: `${where}: ${differs}` });
  }
}

/** How many statuses the run had calls in. */
function callsOf(calls: ReadonlyMap<string, number>, runId: string): number {
  let statuses = 0;
  for (const key of calls.keys()) if (key.startsWith(`${runId}:`)) statuses++;
  return statuses;
}

function isFinished(run: ModelRun): boolean {
  return modelIsFinished(run.runState);
}

function shapeTimeout(shape: Shape, status: number): boolean {
  return shape.consumers[status]?.kind === "timeout";
}

function describe(record: Record): string {
  return `status ${record.status} ${RunState[record.runState]} v${record.meta.version}`;
}

/**
 * What the model counted for one run: the step and callback calls per status (each led to a stored
 * write), where the run waits, and, where the store keeps every version, one version per write.
 */
function checkRun(run: ModelRun, shape: Shape, { calls }: Observed, backend: Backend): void {
  const label = `run ${run.foreignId}/${run.runId}`;
  for (const [status, n] of run.calls) assert.equal(calls.get(`${run.runId}:${status}`) ?? 0, n, `${label}: calls in status ${status}`);
  for (const [key, n] of calls) {
    const [runId, status] = key.split(":");
    if (runId === run.runId) assert.equal(n, run.calls.get(Number(status)) ?? 0, `${label}: calls in status ${status}`);
  }
  assert.ok(isSettled(shape, run), `${label} ends ${RunState[run.runState]} in ${run.status}`);
  if (!backend.snapshots) return;
  const history = backend.snapshots(run.runId);
  assert.equal(history.length, run.writes, `${label}: one version per write`);
  checkHistory(label, history);
}

/**
 * A run waits only where nothing more happens by itself: finished, paused (for good only without
 * pause retry), or Initiated/Running for a callback.
 */
function isSettled(shape: Shape, run: Pick<Record, "status" | "runState">): boolean {
  if (run.runState === RunState.RequestedDataDeleted) return false;
  if (run.runState === RunState.Paused && shape.resumeAfterMs !== undefined) return false;
  const waitsForCallback = shape.consumers[run.status]?.kind === "callback" && (run.runState === RunState.Running || run.runState === RunState.Initiated);
  return modelIsFinished(run.runState) || run.runState === RunState.Paused || waitsForCallback;
}

/**
 * The invariants of one run's stored history: versions go up by one per write; a finished run never
 * changes status again; each status the run left was left by one stored step or callback call.
 */
function checkHistory(label: string, history: readonly Record[]): void {
  assert.deepEqual(history.map((r) => r.meta.version), Array.from({ length: history.length }, (_, i) => i + 1), `${label}: versions`);
  const left: number[] = [];
  let deleted = false;
  for (const [i, record] of history.entries()) {
    const previous = history[i - 1];
    if (previous && modelIsFinished(previous.runState)) {
      assert.equal(record.status, previous.status, `${label}: a finished run changed status at v${record.meta.version}`);
      assert.ok(modelIsFinished(record.runState), `${label}: a finished run became ${RunState[record.runState]} at v${record.meta.version}`);
    }
    if (previous && previous.status !== record.status) left.push(previous.status);
    // The delete process replaced the object; a later delete request keeps the replacement.
    deleted ||= record.runState === RunState.DataDeleted;
    if (deleted) continue;
    const trail = JSON.parse(new TextDecoder().decode(record.object)) as Trail;
    assert.deepEqual(trail.effects, left, `${label}: the effects stored at v${record.meta.version} are one per status left`);
  }
}

/** Plays on fresh memory adapters, whose store keeps every version of a run. */
async function onMemory(play: (backend: Backend) => Promise<void>): Promise<void> {
  const adapters = memory();
  try {
    await play({ adapters, snapshots: (runId) => adapters.recordStore.snapshots(runId) });
  } finally {
    await adapters.close();
  }
}

/** Runs `property` with a temporary directory for its SQLite files, removed after. */
async function inTempDir(property: (dir: string) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), "stepwise-property-"));
  try {
    await property(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** Plays on a new SQLite file in `dir`. */
async function onSqliteFile(dir: string, play: (backend: Backend) => Promise<void>): Promise<void> {
  const adapters = sqlite(join(dir, `${randomUUID()}.db`));
  try {
    await play({ adapters });
  } finally {
    await adapters.close();
  }
}

test("random workflows under random triggers, callbacks, controls and restarts keep the invariants (memory)", async () => {
  await fc.assert(
    fc.asyncProperty(shapes, actions, (shape, list) => onMemory((backend) => playScenario(shape, list, backend))),
    propertyParameters(300),
  );
});

test("random workflows under random triggers, callbacks, controls and restarts keep the invariants (SQLite file)", async () => {
  await inTempDir((dir) =>
    fc.assert(
      fc.asyncProperty(shapes, actions, (shape, list) => onSqliteFile(dir, (backend) => playScenario(shape, list, backend))),
      propertyParameters(40),
    ),
  );
});

test("random workflows with timeouts, failing steps, pause retry and hooks, under random moves of the clock, keep the invariants (memory)", async () => {
  await fc.assert(
    fc.asyncProperty(timedShapes, timedActions, (shape, list) => onMemory((backend) => playScenario(shape, list, backend, true))),
    propertyParameters(100),
  );
});

/**
 * Bursts of actions started together, without waiting for one another or for the runs to settle,
 * each burst possibly after a restart that stops the workflow in the middle of its work.
 */
const bursts = fc.array(fc.record({ restartFirst: fc.boolean(), actions: fc.array(action, { minLength: 1, maxLength: 5 }) }), {
  minLength: 1,
  maxLength: 5,
});

/** The errors a call may end with when it races others: each is a refusal the rules allow. */
const refusals: { [kind in CallAction["kind"]]: string[] } = {
  trigger: ["WORKFLOW_IN_PROGRESS"],
  callback: ["RECORD_NOT_FOUND", "INVALID_STATUS"],
  pause: ["INVALID_TRANSITION"],
  resume: ["INVALID_TRANSITION"],
  cancel: ["INVALID_TRANSITION"],
  deleteData: ["INVALID_TRANSITION"],
};

/**
 * Plays bursts of concurrent actions, where no model can say which of two racing calls wins, and
 * checks what must hold whatever the order: calls fail only with the refusals of the rules, every
 * run settles (finished, paused, or waiting for a callback), each history keeps the invariants, and
 * a foreign id never has two unfinished runs.
 */
async function playBursts(
  shape: Shape,
  list: readonly { restartFirst: boolean; actions: CallAction[] }[],
  backend: Backend,
): Promise<void> {
  const { adapters } = backend;
  const clock = new FakeClock(new Date("2026-01-01T00:00:00Z"));
  const build = () => buildShape(shape, "random-workflow", { ...adapters, clock }, new Map());
  const callbackStatuses = Object.entries(shape.consumers).filter(([, c]) => c.kind === "callback").map(([from]) => Number(from));
  const statuses = callbackStatuses.length > 0 ? callbackStatuses : Array.from({ length: shape.size }, (_, i) => i + 1);
  const runIds: string[] = [];
  let wf = build();
  await wf.run();
  try {
    for (const burst of list) {
      if (burst.restartFirst) {
        await wf.stop();
        wf = build();
        await wf.run();
      }
      const known = [...runIds];
      const current = wf;
      await Promise.all(
        burst.actions.map(async (a) => {
          const call = async () => {
            if (a.kind === "trigger") {
              runIds.push(await current.trigger(`f${a.foreignId}`, { initialValue: { seed: a.seed, visits: {}, effects: [] } }));
            } else if (a.kind === "callback") {
              await current.callback(`f${a.foreignId}`, statuses[a.status % statuses.length] as number, a.payload);
            } else {
              const runId = known[a.run % Math.max(1, known.length)];
              if (runId === undefined) return;
              if (a.kind === "pause") await current.pause(runId, "by hand");
              else if (a.kind === "resume") await current.resume(runId);
              else if (a.kind === "cancel") await current.cancel(runId, "by hand");
              else await current.deleteData(runId, "by hand");
            }
          };
          await call().catch((err: unknown) => {
            if (!refusals[a.kind].some((code) => hasErrorCode(err, code))) throw err;
          });
        }),
      );
    }
    await until("every run to settle", async () => {
      for (const runId of runIds) if (!isSettled(shape, await adapters.recordStore.lookup(runId))) return false;
      return true;
    }, 3_000);
  } finally {
    await wf.stop();
  }
  const unfinished = new Map<string, string>();
  for (const runId of runIds) {
    const last = await adapters.recordStore.lookup(runId);
    if (backend.snapshots) checkHistory(`run ${last.foreignId}/${runId}`, backend.snapshots(runId));
    if (modelIsFinished(last.runState)) continue;
    assert.equal(unfinished.get(last.foreignId), undefined, `${last.foreignId} has two unfinished runs`);
    unfinished.set(last.foreignId, runId);
  }
}

test("random workflows under bursts of concurrent actions and restarts mid-work keep the invariants (memory)", async () => {
  await fc.assert(
    fc.asyncProperty(shapes, bursts, (shape, list) => onMemory((backend) => playBursts(shape, list, backend))),
    propertyParameters(300),
  );
});

test("random workflows under bursts of concurrent actions and restarts mid-work settle (SQLite file)", async () => {
  await inTempDir((dir) =>
    fc.assert(
      fc.asyncProperty(shapes, bursts, (shape, list) => onSqliteFile(dir, (backend) => playBursts(shape, list, backend))),
      propertyParameters(40),
    ),
  );
});

// Counterexamples the properties found, kept as named cases.

test("a run whose data was deleted can have its deletion asked for again, and it ends DataDeleted with one version per write", async () => {
  await onMemory((backend) =>
    playScenario(
      { size: 2, consumers: { 1: { kind: "step", to: [2] } } },
      [
        { kind: "trigger", foreignId: 0, seed: 0 },
        { kind: "deleteData", run: 0 },
        { kind: "deleteData", run: 0 },
        { kind: "callback", foreignId: 0, status: 0, payload: 0 },
      ],
      backend,
    ),
  );
});

test("two pauses racing a run's step and a callback: at most one pause wins and no version is written twice", async () => {
  // Found while checking that the burst property catches a store that lets a version be written twice.
  await onMemory((backend) =>
    playBursts(
      { size: 2, consumers: { 1: { kind: "step", to: [2] } } },
      [
        { restartFirst: false, actions: [{ kind: "trigger", foreignId: 0, seed: 0 }] },
        {
          restartFirst: false,
          actions: [
            { kind: "pause", run: 0 },
            { kind: "pause", run: 0 },
            { kind: "callback", foreignId: 0, status: 0, payload: 0 },
          ],
        },
      ],
      backend,
    ),
  );
});
