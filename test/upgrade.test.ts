// Versioned workflows on the memory backend: runs left in flight by version 1 finish under version
// 2 in the new shape, each step once; a process never handles a run of a newer version.
import assert from "node:assert/strict";
import { test } from "node:test";
import { Builder, RunState, type BuildConfig, type RoleScheduler, type TriggerOptions, type Workflow } from "stepwise";
import { memory } from "stepwise/memory";
import { waitFor } from "stepwise/testing";
import { z } from "zod";
import { memoryEffects } from "./support/effects.js";
import { errorsTo } from "./support/logger.js";
import { until } from "./support/until.js";
import { ParcelStatus, parcelWorkflowV1, parcelWorkflowV2, V1Status, type Parcel, type V1Parcel } from "./support/parcel-workflow.js";

/** Fast retries for held runs, and no pausing: a held run must stay in flight. */
const stepOptions = { errBackOff: 5, pauseAfterErrCount: 0 };

test("runs left by version 1 in every status, a removed one and a paused one included, finish under version 2 in its shape, each step once", async () => {
  const adapters = memory();
  const effects = memoryEffects();
  const v1 = parcelWorkflowV1(adapters as BuildConfig<V1Parcel>, { name: "parcels", effects, stepOptions, config: { logger: errorsTo([]) } });
  let v2: ReturnType<typeof parcelWorkflowV2> | undefined;
  try {
    await v1.run();
    const holds = [V1Status.Received, V1Status.Weighed, V1Status.Inspected, V1Status.Labelled];
    for (const holdAt of holds) await v1.trigger(`held-${holdAt}`, { initialValue: { id: `held-${holdAt}`, grams: 0, marks: [], holdAt } });
    await v1.trigger("paused", { initialValue: { id: "paused", grams: 0, marks: [], holdAt: V1Status.Labelled } });
    await v1.trigger("finished", { initialValue: { id: "finished", grams: 0, marks: [] } });
    for (const holdAt of holds) await waitFor(v1, `held-${holdAt}`, (run) => run.status === holdAt);
    const paused = await waitFor(v1, "paused", (run) => run.status === V1Status.Labelled);
    await v1.pause(paused.runId, "waiting for the deploy");
    await waitFor(v1, "finished", (run) => run.runState === RunState.Completed);
    await v1.stop();

    const upgraded = parcelWorkflowV2(adapters as BuildConfig<Parcel>, { name: "parcels", effects, stepOptions });
    v2 = upgraded;
    await upgraded.run();
    // Labelled (5) is in no status of version 2, so its old topic gets a consumer of its own.
    assert.ok("labelled-upgrade-consumer-1-of-1" in upgraded.states());
    assert.ok(!("received-upgrade-consumer-1-of-1" in upgraded.states()), "a status with a step is upgraded by that step's consumer");
    await upgraded.resume(paused.runId);
    const ids = [...holds.map((holdAt) => `held-${holdAt}`), "paused"];
    for (const id of ids) {
      const run = await waitFor(upgraded, id, (r) => r.status === ParcelStatus.Delivered);
      assert.equal(run.runState, RunState.Completed);
      assert.equal(run.meta.workflowVersion, 2, `${id} is stored as version 2`);
      assert.equal(run.object.tracking, `T-${id}`);
      assert.ok(run.object.marks.includes("upgraded"), `${id} went through the upgrade's object map`);
      assert.ok(!("grams" in run.object), `${id} has version 2's shape`);
    }
    // Weighed once (by version 1 before its hold, else by version 2), shipped and delivered once by version 2.
    const applied = await effects.all();
    assert.deepEqual(applied.filter((e) => e.duplicates > 0), [], "no handler ran twice for one run");
    const byForeignId = new Map<string, string[]>();
    for (const id of [...ids, "finished"]) {
      const { runId } = await upgraded.latest(id);
      byForeignId.set(id, applied.filter((e) => e.runId === runId).map((e) => e.handler).sort());
    }
    assert.deepEqual(byForeignId.get(`held-${V1Status.Received}`), ["deliver", "ship", "weigh"]);
    assert.deepEqual(byForeignId.get(`held-${V1Status.Weighed}`), ["deliver", "ship", "weigh"]);
    assert.deepEqual(byForeignId.get(`held-${V1Status.Inspected}`), ["deliver", "inspect", "ship", "weigh"]);
    assert.deepEqual(byForeignId.get(`held-${V1Status.Labelled}`), ["deliver", "inspect", "label", "ship", "weigh"]);
    assert.deepEqual(byForeignId.get("paused"), ["deliver", "inspect", "label", "ship", "weigh"]);

    // A run version 1 finished is not rewritten, but version 2 reads it in its own terms.
    const finished = await upgraded.latest("finished");
    assert.equal(finished.meta.workflowVersion, 1);
    assert.equal(finished.status, ParcelStatus.Shipped, "version 1's Shipped (4) is version 2's Shipped (3), not Delivered (4)");
    assert.equal(finished.object.kg, 0.8);
    const listed = await upgraded.list({ status: ParcelStatus.Delivered });
    assert.deepEqual(listed.runs.map((r) => r.foreignId).sort(), [...ids].sort(), "a version-1 run stored in status 4 is not listed as Delivered");
  } finally {
    await v1.stop();
    await v2?.stop();
    await adapters.close();
  }
});

test("a process never handles a run of a newer version: the event waits un-acked, uncounted and unpaused, for a process of that version", async () => {
  const adapters = memory();
  const effects = memoryEffects();
  const errors: unknown[] = [];
  // Pausing after the first error: a newer run's refusal must not count as one.
  const strict = { errBackOff: 5, pauseAfterErrCount: 1 };
  const v1 = parcelWorkflowV1(adapters as BuildConfig<V1Parcel>, { name: "parcels", effects, stepOptions: strict, config: { logger: errorsTo(errors) } });
  let next: ReturnType<typeof parcelWorkflowV2> | undefined;
  try {
    await v1.run();
    // A version-2 process (one of a rolling deploy's first) starts a run.
    const [runId = ""] = await triggerOnly(parcelWorkflowV2({ ...adapters, roleScheduler: neverGranted } as BuildConfig<Parcel>, { name: "parcels", effects }), [
      ["newer", { id: "newer", kg: 1, marks: [] }],
    ]);
    await until("version 1 to refuse the newer run twice", () => errors.filter((e) => hasCode(e, "NEWER_WORKFLOW_VERSION")).length >= 2);
    const stored = await adapters.recordStore.lookup(runId);
    assert.equal(stored.runState, RunState.Initiated, "not paused, not handled");
    assert.equal(stored.meta.version, 1);
    assert.deepEqual(await effects.all(), []);
    await assert.rejects(v1.get(runId), (err: Error & { code?: string }) => err.code === "NEWER_WORKFLOW_VERSION");
    await assert.rejects(v1.latest("newer"), (err: Error & { code?: string }) => err.code === "NEWER_WORKFLOW_VERSION");
    // Run-state control touches no object or status, so any version may pause and resume.
    await v1.pause(runId, "looking");
    await v1.resume(runId);
    assert.equal((await adapters.recordStore.lookup(runId)).meta.workflowVersion, 2);
    await v1.stop();

    next = parcelWorkflowV2(adapters as BuildConfig<Parcel>, { name: "parcels", effects, stepOptions: strict });
    await next.run();
    const done = await waitFor(next, "newer", (run) => run.status === ParcelStatus.Delivered);
    assert.equal(done.object.tracking, "T-newer");
  } finally {
    await v1.stop();
    await next?.stop();
    await adapters.close();
  }
});

test("a callback upgrades a run of an older version before it runs, and refuses one of a newer version", async () => {
  enum V1Ticket {
    Unknown = 0,
    Open = 1,
    Answered = 2,
  }
  enum Ticket {
    Unknown = 0,
    Waiting = 1,
    Open = 2,
    Closed = 3,
  }
  type V1Body = { text: string };
  type Body = { lines: string[]; answer?: string };
  const adapters = memory();
  const b1 = new Builder<V1Body, V1Ticket>("tickets", V1Ticket);
  b1.addCallback(V1Ticket.Open, async () => V1Ticket.Answered, V1Ticket.Answered);
  const v1 = b1.build(adapters as BuildConfig<V1Body>);
  // Version 2 waits in Open (2, which version 1 used for Answered) and keeps the text as lines.
  const b2 = new Builder<Body, Ticket>("tickets", Ticket, { version: 2 });
  b2.upgrade(1, V1Ticket, { object: (old: V1Body) => ({ lines: old.text.split("\n") }), status: { Open: Ticket.Open, Answered: Ticket.Closed } });
  b2.addStep(Ticket.Waiting, async () => Ticket.Open, Ticket.Open);
  b2.addCallback(
    Ticket.Open,
    async (run, payload) => {
      run.object.answer = String(payload);
      return Ticket.Closed;
    },
    Ticket.Closed,
  );
  const v2 = b2.build(adapters as BuildConfig<Body>);
  try {
    await v1.run();
    await v1.trigger("t-1", { initialValue: { text: "a\nb" } });
    await v1.stop();
    // Not run: no consumer upgrades the run first, the callback does.
    const { handled, run } = await v2.callback("t-1", Ticket.Open, "yes");
    assert.equal(handled, true);
    assert.equal(run.status, Ticket.Closed);
    assert.deepEqual(run.object, { lines: ["a", "b"], answer: "yes" });
    const history = adapters.recordStore.snapshots(run.runId).map((r) => [r.meta.version, r.meta.workflowVersion, r.status]);
    assert.deepEqual(history, [[1, 1, V1Ticket.Open], [2, 2, Ticket.Open], [3, 2, Ticket.Closed]], "upgraded (a write of its own), then the callback's transition");

    const v1Again = b1.build(adapters as BuildConfig<V1Body>);
    await v2.run();
    await v2.trigger("t-2", { initialValue: { lines: [] } });
    await waitFor(v2, "t-2", (r) => r.status === Ticket.Open);
    await assert.rejects(v1Again.callback("t-2", V1Ticket.Open, "no"), (err: Error & { code?: string }) => err.code === "NEWER_WORKFLOW_VERSION");
    assert.equal((await v2.latest("t-2")).status, Ticket.Open, "left untouched");
  } finally {
    await v1.stop();
    await v2.stop();
    await adapters.close();
  }
});

test("upgrades chain: a run of version 1 goes through both maps on a version-3 workflow, in one write", async () => {
  enum V1 {
    Unknown = 0,
    Todo = 1,
    Done = 2,
  }
  enum V2 {
    Unknown = 0,
    Todo = 1,
    Doing = 2,
    Done = 3,
  }
  enum V3 {
    Unknown = 0,
    Doing = 1,
    Done = 2,
  }
  const adapters = memory();
  const b1 = new Builder<{ n: number }, V1>("chores", V1);
  b1.addStep(V1.Todo, async () => V1.Done, V1.Done);
  const v1 = b1.build({ ...adapters, roleScheduler: neverGranted } as BuildConfig<{ n: number }>);
  const b3 = new Builder<{ count: string; seen: string[] }, V3>("chores", V3, { version: 3 });
  b3.upgrade<{ n: number }, typeof V1, { n: number; seen: string[] }, V2>(1, V1, {
    object: (old) => ({ ...old, seen: ["v1→v2"] }),
    status: { Todo: V2.Doing, Done: V2.Done },
  });
  b3.upgrade(2, V2, {
    object: (old: { n: number; seen: string[] }) => ({ count: String(old.n), seen: [...old.seen, "v2→v3"] }),
    status: { Todo: V3.Doing, Doing: V3.Doing, Done: V3.Done },
  });
  b3.addStep(V3.Doing, async () => V3.Done, V3.Done);
  const v3 = b3.build(adapters as BuildConfig<{ count: string; seen: string[] }>);
  try {
    const [runId = ""] = await triggerOnly(v1, [["c-1", { n: 7 }]]);
    await v3.run();
    const done = await waitFor(v3, "c-1", (run) => run.status === V3.Done);
    assert.deepEqual(done.object, { count: "7", seen: ["v1→v2", "v2→v3"] });
    const history = adapters.recordStore.snapshots(runId).map((r) => [r.meta.workflowVersion, r.status]);
    assert.deepEqual(history, [[1, V1.Todo], [3, V3.Doing], [3, V3.Done]]);
  } finally {
    await v1.stop();
    await v3.stop();
    await adapters.close();
  }
});

/** A role scheduler that never grants a role: a workflow built on it triggers runs but handles none. */
const neverGranted: RoleScheduler = {
  await: (_role, signal) =>
    new Promise((_, reject) => {
      signal.addEventListener("abort", () => reject(signal.reason as Error), { once: true });
    }),
};

/** Triggers runs of `wf` (built on `neverGranted`), then stops it: the runs wait for other processes. */
async function triggerOnly<T>(wf: Workflow<T, number>, runs: [foreignId: string, initialValue: T][]): Promise<string[]> {
  await wf.run();
  try {
    const runIds: string[] = [];
    for (const [foreignId, initialValue] of runs) runIds.push(await wf.trigger(foreignId, { initialValue } as TriggerOptions<T, number> & { initialValue: T }));
    return runIds;
  } finally {
    await wf.stop();
  }
}

function hasCode(err: unknown, code: string): boolean {
  return typeof err === "object" && err !== null && "code" in err && err.code === code;
}

test("with a schema, an upgraded object the schema refuses is never stored: it is the run's error, and pauses it at the limit", async () => {
  enum V1 {
    Unknown = 0,
    Open = 1,
    Done = 2,
  }
  enum Status {
    Unknown = 0,
    Open = 1,
    Done = 2,
  }
  const adapters = memory();
  const b1 = new Builder<{ grams: number }, V1>("weights", V1);
  b1.addStep(V1.Open, async () => V1.Done, V1.Done);
  const v1 = b1.build({ ...adapters, roleScheduler: neverGranted } as BuildConfig<{ grams: number }>);
  const b2 = Builder.withSchema("weights", Status, z.object({ kg: z.number().positive() }), { version: 2 });
  b2.upgrade(1, V1, { object: (old: { grams: number }) => ({ kg: old.grams / 1000 }), status: { Open: Status.Open, Done: Status.Done } });
  b2.addStep(Status.Open, async () => Status.Done, Status.Done);
  const v2 = b2.build({ ...adapters, defaultOptions: { errBackOff: 1, pauseAfterErrCount: 2 }, logger: errorsTo([]) } as BuildConfig<{ kg: number }>);
  try {
    const [, empty = ""] = await triggerOnly(v1, [
      ["heavy", { grams: 1500 }],
      ["empty", { grams: 0 }],
    ]);
    await v2.run();
    assert.deepEqual((await waitFor(v2, "heavy", (run) => run.status === Status.Done)).object, { kg: 1.5 });
    const paused = await waitFor(v2, "empty", (run) => run.runState === RunState.Paused);
    assert.match(paused.meta.runStateReason, /paused after 2 errors in step Open: the object the upgrade from version 1 left .* is invalid: kg/);
    assert.deepEqual(adapters.recordStore.snapshots(empty).map((r) => r.meta.workflowVersion), [1, 1], "never stored as version 2");
  } finally {
    await v2.stop();
    await adapters.close();
  }
});
